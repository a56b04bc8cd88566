#!/bin/bash
# Build a small Debian 12 cloud guest disk from Debian packages: systemd,
# OpenSSH, cloud-init (NoCloud), the cloud kernel, DHCP on the first NIC.
#
#   images/debian-disk/build.sh OUTDIR
#
# Writes OUTDIR/disk.qcow2 (ext4 root file system straight on the disk, no
# partition table, label `vs-debian`), OUTDIR/vmlinuz and OUTDIR/initrd.img
# (for direct kernel boot: the disk has no boot loader), OUTDIR/cmdline (the
# kernel parameters the disk needs, without `console=`) and
# OUTDIR/manifest.json, manifest.json last.
# Must run as root on Debian 12 with access to a Debian mirror. No loop
# mounts: the file system is made with `mkfs.ext4 -d`. The chroot's mounts
# live in a private mount namespace, so nothing outlives the build.
# See README.md for what the guest does at boot.
#
# Environment knobs:
#   VIRTSMOKE_DEBIAN_MIRROR   default http://deb.debian.org/debian
#   VIRTSMOKE_SECURITY_MIRROR default http://deb.debian.org/debian-security
set -euo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MIRROR=${VIRTSMOKE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${VIRTSMOKE_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=bookworm
LABEL=vs-debian
# Virtual size of the root file system (the qcow2 stores only what is used).
ROOTFS_SIZE=2G

# The cloud kernel: small, boots as a KVM/QEMU guest and as a Xen PV/PVH/HVM guest.
PACKAGES=(
    linux-image-cloud-amd64 initramfs-tools systemd systemd-sysv udev dbus
    libnss-myhostname openssh-server cloud-init sudo iproute2 iputils-ping
    procps kmod netbase
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

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/virtsmoke-debian-disk.XXXXXX")
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
export ROOT MIRROR SECURITY_MIRROR SUITE SRC_DIR LABEL
export PACKAGES_LIST="${PACKAGES[*]}"
unshare --mount --propagation private -- bash -euo pipefail -c '
    log() { echo "build.sh: $(date +%T) $*" >&2; }
    in_chroot() {
        chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
            MIRROR="$MIRROR" SECURITY_MIRROR="$SECURITY_MIRROR" SUITE="$SUITE" LABEL="$LABEL" \
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
    log "configuring the guest"
    in_chroot configure
    rm -f "$ROOT/tmp/chroot-setup.sh"
'
log "root file system ready ($(( $(date +%s) - T0 ))s)"

# ---------------------------------------------------------------------------
# 2. Boot files and versions
# ---------------------------------------------------------------------------
KVER=$(ls "$ROOT/lib/modules")
[ "$(echo "$KVER" | wc -l)" -eq 1 ] || die "expected one kernel in the guest, got: $KVER"
for f in "vmlinuz-$KVER" "initrd.img-$KVER"; do
    [ -f "$ROOT/boot/$f" ] || die "missing $ROOT/boot/$f"
done

version() { chroot "$ROOT" dpkg-query -W -f '${Version}' "$1"; }
declare -A VERSION
for p in "linux-image-$KVER" systemd openssh-server cloud-init; do
    VERSION[$p]=$(version "$p") || die "package $p is not installed in the guest"
done

rm -rf "$OUTTMP"
mkdir -p "$OUTTMP"
cp "$ROOT/boot/vmlinuz-$KVER" "$OUTTMP/vmlinuz"
cp "$ROOT/boot/initrd.img-$KVER" "$OUTTMP/initrd.img"
# Boot files live outside the disk (direct kernel boot); the disk need not carry them.
rm -f "$ROOT"/boot/initrd.img-* "$ROOT"/boot/vmlinuz-* "$ROOT"/boot/System.map-*
# net.ifnames=0: the first NIC is eth0 whatever the bus, as in the test image.
echo "root=LABEL=$LABEL rw net.ifnames=0" >"$OUTTMP/cmdline"

# ---------------------------------------------------------------------------
# 3. Disk: ext4 made from the tree, compressed into a qcow2
# ---------------------------------------------------------------------------
USED=$(du -sh "$ROOT" | cut -f1)
log "making the ext4 file system ($ROOTFS_SIZE, $USED used)"
mkfs.ext4 -q -F -L "$LABEL" -d "$ROOT" "$WORK/root.ext4" "$ROOTFS_SIZE"
rm -rf "$ROOT"
log "compressing into disk.qcow2"
# zlib, qcow2's default compression: every QEMU reads it. Debian 12's Xen
# device model (qemu-system-xen 7.2, the qdisk backend of PV disks) cannot
# read zstd-compressed clusters ("unknown compression type: 1"), nor can the
# QEMUs of older EL hosts.
qemu-img convert -W -m 4 -c -O qcow2 -o cluster_size=65536 \
    "$WORK/root.ext4" "$OUTTMP/disk.qcow2"
rm -f "$WORK/root.ext4"

{
    echo "{"
    echo "  \"kernel_version\": \"$KVER\","
    echo "  \"rootfs_used\": \"$USED\","
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
for f in vmlinuz initrd.img cmdline disk.qcow2 manifest.json; do
    mv -f "$OUTTMP/$f" "$OUTDIR/$f"
done
log "done in $(( $(date +%s) - T0 ))s: $OUTDIR (kernel $KVER, $USED used, disk.qcow2 $(du -h "$OUTDIR/disk.qcow2" | cut -f1))"
