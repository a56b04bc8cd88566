#!/bin/bash
# Build the virtsmoke Xen lab host: Xen 4.17 plus a Debian 12 PV dom0 with
# libvirt's libxl driver, all from Debian packages.
#
#   images/xen-dom0/build.sh OUTDIR
#
# Writes OUTDIR/xen.elf (the hypervisor, a multiboot ELF QEMU can load with
# -kernel), OUTDIR/vmlinuz and OUTDIR/initrd.img (dom0's kernel and
# initramfs, multiboot modules), OUTDIR/dom0.qcow2 (dom0's root file system,
# ext4 in a compressed qcow2, used as the backing file of one overlay per
# host) and OUTDIR/manifest.json (package versions), manifest.json last.
# Must run as root on Debian 12 with access to a Debian mirror. No loop
# mounts: the file system is made with `mkfs.ext4 -d`. The chroot's mounts
# live in a private mount namespace, so nothing outlives the build.
# See README.md for what the dom0 does at boot.
#
# Environment knobs:
#   VIRTSMOKE_DEBIAN_MIRROR   default http://deb.debian.org/debian
#   VIRTSMOKE_SECURITY_MIRROR default http://deb.debian.org/debian-security
set -euo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MIRROR=${VIRTSMOKE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${VIRTSMOKE_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=bookworm
# Virtual size of the root file system (the qcow2 stores only what is used).
ROOTFS_SIZE=4G

# What the dom0 runs. The generic kernel (not the cloud one, which lacks
# CONFIG_XEN_DOM0); qemu-system-xen is the device model of HVM guests.
PACKAGES=(
    xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common qemu-system-xen
    libvirt-daemon-system libvirt-daemon-driver-xen libvirt-clients
    linux-image-amd64 initramfs-tools systemd systemd-sysv udev libnss-myhostname
    openssh-server iproute2 dnsmasq-base kmod procps iputils-ping qemu-utils
)

log() { echo "build.sh: $(date +%T) $*" >&2; }
die() { echo "build.sh: error: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
[ "$(id -u)" -eq 0 ] || die "must run as root"

# Build tools, installed from Debian when missing.
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v unshare >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
    log "installing build tools: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2 || {
        apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
    }
fi

OUTDIR=${1%/}
[ -n "$OUTDIR" ] || die "bad OUTDIR"
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
OUTTMP="$OUTDIR.tmp.$$"

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/virtsmoke-xen-dom0.XXXXXX")
cleanup() { rm -rf "$WORK" "$OUTTMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ROOT="$WORK/root"
T0=$(date +%s)

# ---------------------------------------------------------------------------
# 1. Root file system: debootstrap, the packages, then the configuration, in
#    a private mount namespace (/proc, /sys, /dev, /run of the chroot vanish
#    with it, whatever happens).
# ---------------------------------------------------------------------------
export ROOT MIRROR SECURITY_MIRROR SUITE SRC_DIR
export PACKAGES_LIST="${PACKAGES[*]}"
unshare --mount --propagation private -- bash -euo pipefail -c '
    log() { echo "build.sh: $(date +%T) $*" >&2; }
    in_chroot() {
        chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
            MIRROR="$MIRROR" SECURITY_MIRROR="$SECURITY_MIRROR" SUITE="$SUITE" \
            PACKAGES_LIST="$PACKAGES_LIST" /tmp/chroot-setup.sh "$@" >&2
    }
    log "debootstrap $SUITE (minbase) from $MIRROR"
    debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >&2
    for fs in proc sys dev run; do umount -R "$ROOT/$fs" 2>/dev/null || true; done
    mount -t proc proc "$ROOT/proc"
    mount -t sysfs sysfs "$ROOT/sys"
    mount --rbind /dev "$ROOT/dev"
    mount -t tmpfs tmpfs "$ROOT/run"
    install -m 0755 "$SRC_DIR/chroot-setup.sh" "$ROOT/tmp/chroot-setup.sh"
    log "installing packages in the chroot"
    in_chroot packages
    log "configuring the dom0"
    install -m 0755 "$SRC_DIR/virtsmoke-dom0-params" "$ROOT/usr/local/sbin/virtsmoke-dom0-params"
    in_chroot configure
    rm -f "$ROOT/tmp/chroot-setup.sh"
'
log "root file system ready ($(( $(date +%s) - T0 ))s)"

# ---------------------------------------------------------------------------
# 2. Boot files and versions
# ---------------------------------------------------------------------------
KVER=$(ls "$ROOT/lib/modules")
[ "$(echo "$KVER" | wc -l)" -eq 1 ] || die "expected one kernel in the dom0, got: $KVER"
XENGZ=$(ls "$ROOT"/boot/xen-4.17-amd64.gz 2>/dev/null || true)
[ -n "$XENGZ" ] || XENGZ=$(ls "$ROOT"/boot/xen-*.gz | head -n1)
[ -f "$XENGZ" ] || die "no Xen hypervisor under $ROOT/boot"
for f in "vmlinuz-$KVER" "initrd.img-$KVER"; do
    [ -f "$ROOT/boot/$f" ] || die "missing $ROOT/boot/$f"
done

version() { chroot "$ROOT" dpkg-query -W -f '${Version}' "$1"; }
KPKG="linux-image-$KVER"
declare -A VERSION
for p in xen-hypervisor-4.17-amd64 xen-utils-4.17 libvirt-daemon libvirt-daemon-driver-xen \
    qemu-system-xen "$KPKG" openssh-server systemd; do
    VERSION[$p]=$(version "$p") || die "package $p is not installed in the dom0"
done

rm -rf "$OUTTMP"
mkdir -p "$OUTTMP"
zcat "$XENGZ" >"$OUTTMP/xen.elf"
cp "$ROOT/boot/vmlinuz-$KVER" "$OUTTMP/vmlinuz"
cp "$ROOT/boot/initrd.img-$KVER" "$OUTTMP/initrd.img"
# The boot files live outside the disk; the disk need not carry them.
rm -f "$ROOT"/boot/initrd.img-* "$ROOT"/boot/vmlinuz-* "$ROOT"/boot/xen-*.gz "$ROOT"/boot/xen-*.efi

# ---------------------------------------------------------------------------
# 3. Disk: ext4 made from the tree, compressed into a qcow2
# ---------------------------------------------------------------------------
log "making the ext4 file system ($ROOTFS_SIZE, $(du -sh "$ROOT" | cut -f1) used)"
mkfs.ext4 -q -F -L dom0 -d "$ROOT" "$WORK/dom0.ext4" "$ROOTFS_SIZE"
rm -rf "$ROOT"
log "compressing into dom0.qcow2"
qemu-img convert -W -m 4 -c -O qcow2 -o compression_type=zstd,cluster_size=65536 \
    "$WORK/dom0.ext4" "$OUTTMP/dom0.qcow2"
rm -f "$WORK/dom0.ext4"

{
    echo "{"
    echo "  \"kernel_version\": \"$KVER\","
    echo "  \"xen_version\": \"${VERSION[xen-hypervisor-4.17-amd64]}\","
    echo "  \"libvirt_version\": \"${VERSION[libvirt-daemon]}\","
    echo "  \"qemu_version\": \"${VERSION[qemu-system-xen]}\","
    echo "  \"packages\": {"
    n=${#VERSION[@]}; i=0
    for p in $(printf '%s\n' "${!VERSION[@]}" | sort); do
        i=$((i + 1)); sep=,; [ $i -eq $n ] && sep=
        echo "    \"$p\": \"${VERSION[$p]}\"$sep"
    done
    echo "  },"
    echo "  \"built_at\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\""
    echo "}"
} >"$OUTTMP/manifest.json"

# Each file is renamed into place atomically; manifest.json last, so its
# presence means a complete image.
for f in xen.elf vmlinuz initrd.img dom0.qcow2 manifest.json; do
    mv -f "$OUTTMP/$f" "$OUTDIR/$f"
done
log "done in $(( $(date +%s) - T0 ))s: $OUTDIR (kernel $KVER, dom0.qcow2 $(du -h "$OUTDIR/dom0.qcow2" | cut -f1))"
