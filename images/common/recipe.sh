# shellcheck shell=bash
# What virtsmoke's image recipes share; their build.sh sources it. virtsmoke
# copies this directory's files beside the recipe's own (and into its content
# hash) for every recipe whose build.sh names ../common/; run from the source
# tree, build.sh finds them in images/common/.
#
# A recipe sets RECIPE (its name), then calls:
#   recipe_start OUTDIR            root check, OUTTMP, WORK, ROOT, a cleanup trap
#   ensure_tools SPEC...           installs missing build tools; SPEC is
#                                  COMMAND:PACKAGE or /PATH:PACKAGE
#   write_manifest KEY=VALUE...    OUTTMP/manifest.json: the pairs, then VERSION
#   publish FILE...                renamed from OUTTMP into OUTDIR, manifest.json last
# and, to make a Debian root file system from packages (debian-disk, xen-dom0),
# with PACKAGES and INITRAMFS_MODULES (arrays) and CHROOT_ENV (NAME=VALUE
# words its chroot-setup.sh reads) set, and LOCAL_DEBS (a directory of .deb
# files to install over the suite's packages; empty: none):
#   build_root                     debootstrap, chroot-packages.sh, then the
#                                  recipe's chroot-setup.sh, in the chroot
#   package_versions PACKAGE...    VERSION[PACKAGE] from the root's dpkg database
#   local_package_versions         LOCAL_VERSION[PACKAGE] of each LOCAL_DEBS
#                                  package, checked against the installed one
#                                  (write_manifest lists them: local_packages)
#
# Environment knobs:
#   VIRTSMOKE_DEBIAN_MIRROR   default http://deb.debian.org/debian
#   VIRTSMOKE_SECURITY_MIRROR default http://deb.debian.org/debian-security

COMMON_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MIRROR=${VIRTSMOKE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${VIRTSMOKE_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=bookworm
CHROOT_ENV=${CHROOT_ENV:-}
LOCAL_DEBS=
declare -A VERSION=() LOCAL_VERSION=()

log() { echo "build.sh: $(date +%T) $*" >&2; }
die() { echo "build.sh: error: $*" >&2; exit 1; }

recipe_start() {
    [ $# -eq 1 ] || die "usage: build.sh OUTDIR"
    [ "$(id -u)" -eq 0 ] || die "must run as root"
    OUTDIR=${1%/}
    [ -n "$OUTDIR" ] || die "bad OUTDIR"
    mkdir -p "$OUTDIR"
    OUTDIR=$(cd "$OUTDIR" && pwd)
    OUTTMP="$OUTDIR.tmp.$$"
    rm -rf "$OUTTMP"
    mkdir -p "$OUTTMP"
    WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/virtsmoke-$RECIPE.XXXXXX")
    trap 'rm -rf "$WORK" "$OUTTMP"' EXIT
    trap 'exit 130' INT TERM
    ROOT="$WORK/root"
    T0=$(date +%s)
}

ensure_tools() {
    local spec what need=()
    for spec in "$@"; do
        what=${spec%%:*}
        case "$what" in
            /*) [ -e "$what" ] || need+=("${spec#*:}") ;;
            *) command -v "$what" >/dev/null || need+=("${spec#*:}") ;;
        esac
    done
    [ ${#need[@]} -gt 0 ] || return 0
    log "installing build tools: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2 || {
        apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
    }
}

# The root file system: debootstrap, the packages, then the recipe's
# configuration, in a private mount namespace (/proc, /sys, /dev, /run of the
# chroot vanish with it, whatever happens). The recipe's files are in the
# chroot under /tmp/virtsmoke-recipe while it runs.
build_root() {
    ensure_tools debootstrap:debootstrap mkfs.ext4:e2fsprogs qemu-img:qemu-utils unshare:util-linux
    export ROOT MIRROR SECURITY_MIRROR SUITE SRC_DIR COMMON_DIR CHROOT_ENV LOCAL_DEBS
    export PACKAGES_LIST="${PACKAGES[*]}" INITRAMFS_MODULES_LIST="${INITRAMFS_MODULES[*]}"
    unshare --mount --propagation private -- bash -euo pipefail -c '
        log() { echo "build.sh: $(date +%T) $*" >&2; }
        in_chroot() {
            # shellcheck disable=SC2086
            chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
                MIRROR="$MIRROR" SECURITY_MIRROR="$SECURITY_MIRROR" SUITE="$SUITE" \
                PACKAGES_LIST="$PACKAGES_LIST" INITRAMFS_MODULES_LIST="$INITRAMFS_MODULES_LIST" \
                LOCAL_DEBS_DIR="${LOCAL_DEBS:+/tmp/virtsmoke-debs}" $CHROOT_ENV bash "/tmp/virtsmoke-recipe/$1" >&2
        }
        log "debootstrap $SUITE (minbase) from $MIRROR"
        debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >&2
        for fs in proc sys dev run; do umount -R "$ROOT/$fs" 2>/dev/null || true; done
        mount -t proc proc "$ROOT/proc"
        mount -t sysfs sysfs "$ROOT/sys"
        mount --rbind /dev "$ROOT/dev"
        mount -t tmpfs tmpfs "$ROOT/run"
        mkdir -p "$ROOT/tmp/virtsmoke-recipe"
        cp "$SRC_DIR"/* "$ROOT/tmp/virtsmoke-recipe/"
        [ "$COMMON_DIR" = "$SRC_DIR" ] || cp "$COMMON_DIR"/* "$ROOT/tmp/virtsmoke-recipe/"
        if [ -n "$LOCAL_DEBS" ]; then
            mkdir -p -m 0755 "$ROOT/tmp/virtsmoke-debs"
            cp "$LOCAL_DEBS"/*.deb "$ROOT/tmp/virtsmoke-debs/"
            chmod 0644 "$ROOT"/tmp/virtsmoke-debs/*.deb
        fi
        log "installing packages in the chroot"
        in_chroot chroot-packages.sh
        log "configuring the root file system"
        in_chroot chroot-setup.sh
        rm -rf "$ROOT/tmp/virtsmoke-recipe" "$ROOT/tmp/virtsmoke-debs" "$ROOT/usr/sbin/policy-rc.d"
    '
    log "root file system ready ($(( $(date +%s) - T0 ))s)"
}

package_versions() {
    local p
    for p in "$@"; do
        VERSION[$p]=$(chroot "$ROOT" dpkg-query -W -f '${Version}' "$p") || die "package $p is not installed"
    done
}

local_package_versions() {
    local deb p v installed
    [ -n "$LOCAL_DEBS" ] || return 0
    for deb in "$LOCAL_DEBS"/*.deb; do
        p=$(dpkg-deb -f "$deb" Package)
        v=$(dpkg-deb -f "$deb" Version)
        installed=$(chroot "$ROOT" dpkg-query -W -f '${Version}' "$p") || die "local package $p is not installed"
        [ "$installed" = "$v" ] || die "local package $p: $v wanted, $installed installed"
        LOCAL_VERSION[$p]=$v
        VERSION[$p]=$v
    done
}

write_manifest() {
    local pair p n=${#VERSION[@]} i=0 sep
    {
        echo "{"
        for pair in "$@"; do
            echo "  \"${pair%%=*}\": \"${pair#*=}\","
        done
        echo "  \"packages\": {"
        for p in $(printf '%s\n' "${!VERSION[@]}" | sort); do
            i=$((i + 1)); sep=,; [ $i -eq "$n" ] && sep=
            echo "    \"$p\": \"${VERSION[$p]}\"$sep"
        done
        echo "  },"
        echo "  \"local_packages\": {"
        n=${#LOCAL_VERSION[@]} i=0
        for p in $(printf '%s\n' "${!LOCAL_VERSION[@]}" | sort); do
            i=$((i + 1)); sep=,; [ $i -eq "$n" ] && sep=
            echo "    \"$p\": \"${LOCAL_VERSION[$p]}\"$sep"
        done
        echo "  },"
        echo "  \"built_at\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\""
        echo "}"
    } >"$OUTTMP/manifest.json"
}

# Each file is renamed into place atomically; manifest.json last, so its
# presence means a complete image.
publish() {
    local f
    for f in "$@" manifest.json; do
        mv -f "$OUTTMP/$f" "$OUTDIR/$f"
    done
}
