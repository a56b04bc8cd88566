#!/bin/bash
# Build the virtsmoke Xen lab host: Xen plus a Debian PV dom0 with libvirt's
# libxl driver, all from one Debian suite's packages (VIRTSMOKE_DOM0_SUITE:
# bookworm, the default, is Xen 4.17 and libvirt 9.0; trixie 4.20 and 11.3;
# bullseye 4.14 and 7.0). virtsmoke passes the suite and keys its cache on it.
#
#   VIRTSMOKE_DOM0_SUITE=SUITE images/xen-dom0/build.sh OUTDIR
#
# VIRTSMOKE_IMAGE_FILES, when set, is a directory of .deb packages (a
# developer's own Xen or libvirt build: `lab up --debs DIR`) installed over
# the suite's packages; virtsmoke copies them there and keys its cache on
# their names and contents. manifest.json lists them (local_packages).
#
# Writes OUTDIR/xen.elf (the hypervisor, a multiboot ELF QEMU can load with
# -kernel), OUTDIR/vmlinuz and OUTDIR/initrd.img (dom0's kernel and
# initramfs, multiboot modules), OUTDIR/dom0.qcow2 (dom0's root file system,
# ext4 in a compressed qcow2, used as the backing file of one overlay per
# host) and OUTDIR/manifest.json (package versions), manifest.json last.
# Must run as root on Debian 12 with access to a Debian mirror. No loop
# mounts: the file system is made with `mkfs.ext4 -d`. The chroot's mounts
# live in a private mount namespace, so nothing outlives the build. The steps
# it shares with debian-disk are in ../common/recipe.sh (mirrors:
# VIRTSMOKE_DEBIAN_MIRROR, VIRTSMOKE_SECURITY_MIRROR).
# See README.md for what the dom0 does at boot.
set -euo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$SRC_DIR/recipe.sh" ]; then
    . "$SRC_DIR/recipe.sh"
else
    . "$SRC_DIR/../common/recipe.sh"
fi

RECIPE=xen-dom0
SUITE=${VIRTSMOKE_DOM0_SUITE:-bookworm}
LOCAL_DEBS=${VIRTSMOKE_IMAGE_FILES:-}
if [ -n "$LOCAL_DEBS" ]; then
    compgen -G "$LOCAL_DEBS/*.deb" >/dev/null || die "VIRTSMOKE_IMAGE_FILES: no .deb in $LOCAL_DEBS"
fi
# The device model of HVM guests: its own package (qemu-system-xen) from
# bookworm on; bullseye's Xen 4.14 runs qemu-system-i386 from qemu-system-x86.
case "$SUITE" in
    bullseye) DM=qemu-system-x86 ;;
    bookworm | trixie) DM=qemu-system-xen ;;
    *) die "VIRTSMOKE_DOM0_SUITE: no dom0 recipe for suite '$SUITE' (bullseye, bookworm, trixie)" ;;
esac
# Virtual size of the root file system (the qcow2 stores only what is used).
ROOTFS_SIZE=4G
# What the dom0 runs. The generic kernel (not the cloud one, which lacks
# CONFIG_XEN_DOM0); $DM (above) is the device model of HVM guests.
# xen-system-amd64 names the suite's Xen (xen-hypervisor-X.Y-amd64 and
# xen-utils-X.Y): no Xen version here.
PACKAGES=(
    xen-system-amd64 xen-utils-common "$DM"
    libvirt-daemon-system libvirt-daemon-driver-xen libvirt-clients
    linux-image-amd64 initramfs-tools systemd systemd-sysv udev libnss-myhostname
    openssh-server iproute2 dnsmasq-base kmod procps iputils-ping qemu-utils
)
# dom0 boots from a virtio disk.
INITRAMFS_MODULES=(virtio_pci virtio_blk ext4 crc32c_generic)

recipe_start "$@"

# 1. Root file system
build_root

# 2. Boot files and versions
KVER=$(ls "$ROOT/lib/modules")
[ "$(echo "$KVER" | wc -l)" -eq 1 ] || die "expected one kernel in the dom0, got: $KVER"
installed() { chroot "$ROOT" dpkg-query -W -f '${db:Status-Status} ${Package}\n' "$1" 2>/dev/null | awk '$1 == "installed" { print $2; exit }'; }
XEN_HV=$(installed 'xen-hypervisor-[0-9]*-amd64')
XEN_UTILS=$(installed 'xen-utils-[0-9]*')
[ -n "$XEN_HV" ] && [ -n "$XEN_UTILS" ] || die "no xen-hypervisor-*-amd64 or xen-utils-* package in the dom0"
XENGZ=$(ls "$ROOT"/boot/xen-*-amd64.gz 2>/dev/null | head -n1 || true)
[ -n "$XENGZ" ] || XENGZ=$(ls "$ROOT"/boot/xen-*.gz | head -n1)
[ -f "$XENGZ" ] || die "no Xen hypervisor under $ROOT/boot"
for f in "vmlinuz-$KVER" "initrd.img-$KVER"; do
    [ -f "$ROOT/boot/$f" ] || die "missing $ROOT/boot/$f"
done
package_versions "$XEN_HV" "$XEN_UTILS" libvirt-daemon libvirt-daemon-driver-xen \
    "$DM" "linux-image-$KVER" openssh-server systemd
local_package_versions
zcat "$XENGZ" >"$OUTTMP/xen.elf"
cp "$ROOT/boot/vmlinuz-$KVER" "$OUTTMP/vmlinuz"
cp "$ROOT/boot/initrd.img-$KVER" "$OUTTMP/initrd.img"
# The boot files live outside the disk; the disk need not carry them.
rm -f "$ROOT"/boot/initrd.img-* "$ROOT"/boot/vmlinuz-* "$ROOT"/boot/xen-*.gz "$ROOT"/boot/xen-*.efi

# 3. Disk: ext4 made from the tree, compressed into a qcow2
log "making the ext4 file system ($ROOTFS_SIZE, $(du -sh "$ROOT" | cut -f1) used)"
mkfs.ext4 -q -F -L dom0 -d "$ROOT" "$WORK/dom0.ext4" "$ROOTFS_SIZE"
rm -rf "$ROOT"
log "compressing into dom0.qcow2"
qemu-img convert -W -m 4 -c -O qcow2 -o compression_type=zstd,cluster_size=65536 \
    "$WORK/dom0.ext4" "$OUTTMP/dom0.qcow2"
rm -f "$WORK/dom0.ext4"

write_manifest "suite=$SUITE" "kernel_version=$KVER" "xen_version=${VERSION[$XEN_HV]}" \
    "libvirt_version=${VERSION[libvirt-daemon]}" "qemu_version=${VERSION[$DM]}"
publish xen.elf vmlinuz initrd.img dom0.qcow2
log "done in $(( $(date +%s) - T0 ))s: $OUTDIR (kernel $KVER, dom0.qcow2 $(du -h "$OUTDIR/dom0.qcow2" | cut -f1))"
