#!/bin/bash
# Build a small Debian 12 cloud guest disk from Debian packages: systemd,
# OpenSSH, cloud-init (NoCloud), the cloud kernel, DHCP on the first NIC.
#
#   images/debian-disk/build.sh OUTDIR
#
# Writes OUTDIR/disk.qcow2 (MBR and GRUB for BIOS; a FAT boot/EFI partition
# with GRUB for UEFI and the grub.cfg pygrub reads too; the ext4 root
# `vs-debian`: see make-disk.sh), OUTDIR/vmlinuz and OUTDIR/initrd.img (the same kernel,
# for direct kernel boot), OUTDIR/cmdline (the kernel parameters the disk
# needs, without `console=`) and OUTDIR/manifest.json, manifest.json last.
# Must run as root on Debian 12 with access to a Debian mirror. No loop
# mounts: the file systems are made in files (`mkfs.ext4 -d`, mtools). The
# chroot's mounts live in a private mount namespace, so nothing outlives the
# build. The steps it shares with xen-dom0 are in ../common/recipe.sh
# (mirrors: VIRTSMOKE_DEBIAN_MIRROR, VIRTSMOKE_SECURITY_MIRROR).
# See README.md for what the guest does at boot.
set -euo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$SRC_DIR/recipe.sh" ]; then
    . "$SRC_DIR/recipe.sh"
else
    . "$SRC_DIR/../common/recipe.sh"
fi

RECIPE=debian-disk
LABEL=vs-debian
CHROOT_ENV="LABEL=$LABEL"
# Virtual size of the root file system (the qcow2 stores only what is used).
ROOTFS_SIZE=2G
# The cloud kernel: small, boots as a KVM/QEMU guest and as a Xen PV/PVH/HVM guest.
PACKAGES=(
    linux-image-cloud-amd64 initramfs-tools systemd systemd-sysv udev dbus
    libnss-myhostname openssh-server cloud-init sudo iproute2 iputils-ping
    procps kmod netbase
)
# The block drivers of every guest kind: virtio, Xen PV, emulated IDE.
INITRAMFS_MODULES=(virtio_pci virtio_blk xen_blkfront ata_piix ata_generic sd_mod ext4)

recipe_start "$@"
ensure_tools sfdisk:fdisk mkfs.vfat:dosfstools mcopy:mtools grub-mkimage:grub-common \
    /usr/lib/grub/i386-pc/boot.img:grub-pc-bin /usr/lib/grub/x86_64-efi:grub-efi-amd64-bin

# 1. Root file system
build_root

# 2. Boot files and versions
KVER=$(ls "$ROOT/lib/modules")
[ "$(echo "$KVER" | wc -l)" -eq 1 ] || die "expected one kernel in the guest, got: $KVER"
for f in "vmlinuz-$KVER" "initrd.img-$KVER"; do
    [ -f "$ROOT/boot/$f" ] || die "missing $ROOT/boot/$f"
done
package_versions "linux-image-$KVER" systemd openssh-server cloud-init
cp "$ROOT/boot/vmlinuz-$KVER" "$OUTTMP/vmlinuz"
cp "$ROOT/boot/initrd.img-$KVER" "$OUTTMP/initrd.img"
# The boot files live in the disk's boot partition (and beside the disk, for
# direct kernel boot), not in the root file system.
rm -f "$ROOT"/boot/initrd.img-* "$ROOT"/boot/vmlinuz-* "$ROOT"/boot/System.map-*
# net.ifnames=0: the first NIC is eth0 whatever the bus, as in the test image.
echo "root=LABEL=$LABEL rw net.ifnames=0" >"$OUTTMP/cmdline"

# 3. Disk: partitioned and bootable on its own (make-disk.sh), compressed into a qcow2
USED=$(du -sh "$ROOT" | cut -f1)
bash "$SRC_DIR/make-disk.sh" "$ROOT" "$OUTTMP/vmlinuz" "$OUTTMP/initrd.img" "$LABEL" "$ROOTFS_SIZE" \
    "$WORK" "$WORK/disk.raw"
rm -rf "$ROOT"
log "compressing into disk.qcow2"
# zlib, qcow2's default compression: every QEMU reads it. Debian 12's Xen
# device model (qemu-system-xen 7.2, the qdisk backend of PV disks) cannot
# read zstd-compressed clusters ("unknown compression type: 1"), nor can the
# QEMUs of older EL hosts.
qemu-img convert -W -m 4 -c -O qcow2 -o cluster_size=65536 "$WORK/disk.raw" "$OUTTMP/disk.qcow2"
rm -f "$WORK/disk.raw"

write_manifest "kernel_version=$KVER" "rootfs_used=$USED"
publish vmlinuz initrd.img cmdline disk.qcow2
log "done in $(( $(date +%s) - T0 ))s: $OUTDIR (kernel $KVER, $USED used, disk.qcow2 $(du -h "$OUTDIR/disk.qcow2" | cut -f1))"
