#!/bin/bash
# Build the virtsmoke test guest (kernel + initramfs) from Debian packages.
#
#   images/test-image/build.sh OUTDIR
#
# Writes OUTDIR/vmlinuz, OUTDIR/initrd.img, OUTDIR/manifest.json.
# Must run as root on Debian (apt-get download, dpkg-deb, cpio, gzip, ldd).
# See README.md for the guest contract.
#
# Environment knobs:
#   VIRTSMOKE_WITH_PING=0   do not include iputils ping and dash (default 1)
set -euo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$SRC_DIR/recipe.sh" ]; then
    . "$SRC_DIR/recipe.sh"
else
    . "$SRC_DIR/../common/recipe.sh"
fi
RECIPE=test-image
WITH_PING=${VIRTSMOKE_WITH_PING:-1}

# Modules to put in the initramfs and load at boot (plus their dependencies).
# virtio_pci is the PCI transport for virtio devices; it is a module in the
# Debian kernel (CONFIG_VIRTIO_PCI=m), built-in ones are skipped.
REQUIRED_MODULES=(virtio_pci virtio_net virtio_blk virtio_console virtio_rng xen-netfront xen-blkfront e1000)
# button and evdev: the ACPI power button reaches acpid (clean shutdown requests).
OPTIONAL_MODULES=(8139cp button evdev)

recipe_start "$@"
for t in apt-get apt-cache dpkg-deb cpio gzip ldd find sort; do
    command -v "$t" >/dev/null || die "missing tool: $t"
done

# ---------------------------------------------------------------------------
# 1. Download packages
# ---------------------------------------------------------------------------
resolve_kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null \
        | awk '$1 ~ /Depends:$/ && $2 ~ /^linux-image-[0-9].*-amd64$/ {print $2; exit}'
}

DEBS="$WORK/debs"
mkdir -p "$DEBS"
chmod 0755 "$WORK"
# Let apt's sandbox user write there (avoids the "unsandboxed" warning).
if id _apt >/dev/null 2>&1; then chown _apt "$DEBS"; fi

download() {
    (cd "$DEBS" && apt-get download "$@") >&2
}

KPKG=$(resolve_kernel_pkg || true)
PKGS=(busybox-static dropbear-bin)
# busybox-static is built with FEATURE_SH_STANDALONE: its sh runs its own
# applets before searching PATH, so "ping" typed in busybox sh would never
# reach iputils ping. dash (libc only, 125 KB) therefore becomes /bin/sh
# whenever iputils ping is included; /init itself runs on busybox sh.
[ "$WITH_PING" = 1 ] && PKGS+=(iputils-ping dash)

log "downloading ${KPKG:-<kernel unresolved>} ${PKGS[*]}"
if [ -z "$KPKG" ] || ! download "$KPKG" "${PKGS[@]}"; then
    log "download failed or package lists missing; running apt-get update"
    apt-get update >&2
    KPKG=$(resolve_kernel_pkg || true)
    [ -n "$KPKG" ] || die "cannot resolve the dependency of linux-image-amd64"
    download "$KPKG" "${PKGS[@]}"
fi
case "$KPKG" in
    *cloud*|*rt-*) die "resolved kernel $KPKG is not the generic kernel" ;;
esac

deb_of() {
    local f
    f=$(find "$DEBS" -maxdepth 1 -name "$1_*.deb" | head -n1)
    [ -n "$f" ] || die "no .deb for $1"
    echo "$f"
}

X="$WORK/x"
for p in "$KPKG" "${PKGS[@]}"; do
    d=$(deb_of "$p")
    VERSION[$p]=$(dpkg-deb -f "$d" Version)
    log "extracting $p ${VERSION[$p]}"
    mkdir -p "$X/$p"
    dpkg-deb -x "$d" "$X/$p"
done

# ---------------------------------------------------------------------------
# 2. Kernel
# ---------------------------------------------------------------------------
KROOT="$X/$KPKG"
KVER=$(ls "$KROOT/lib/modules")
[ "$(echo "$KVER" | wc -l)" -eq 1 ] || die "expected one module dir, got: $KVER"
[ -f "$KROOT/boot/vmlinuz-$KVER" ] || die "no vmlinuz-$KVER in $KPKG"
KCONFIG="$KROOT/boot/config-$KVER"
MODROOT="$KROOT/lib/modules/$KVER"
log "kernel $KVER"

BB="$X/busybox-static/bin/busybox"
[ -x "$BB" ] || die "busybox binary missing from busybox-static"

if [ ! -f "$MODROOT/modules.dep" ]; then
    # The .deb does not ship modules.dep (its postinst runs depmod).
    if command -v depmod >/dev/null; then
        log "generating modules.dep with depmod"
        depmod -b "$KROOT" "$KVER"
    else
        log "generating modules.dep with busybox depmod"
        "$BB" depmod -b "$KROOT" "$KVER"
    fi
fi

# modules.dep: "rel/path/mod.ko[.xz]: dep1 dep2 ..." -> maps keyed by path.
declare -A DEPS MODPATH
while IFS= read -r line; do
    path=${line%%:*}
    DEPS[$path]=${line#*:}
    name=${path##*/}; name=${name%%.ko*}; name=${name//-/_}
    MODPATH[$name]=$path
done <"$MODROOT/modules.dep"

is_builtin() {
    local n=${1//-/_}
    [ -f "$MODROOT/modules.builtin" ] || return 1
    sed -e 's,.*/,,' -e 's,\.ko$,,' -e 's,-,_,g' "$MODROOT/modules.builtin" | grep -qx "$n"
}

ORDER=()
declare -A SEEN
visit() {
    local path=$1 dep
    [ -n "${SEEN[$path]:-}" ] && return 0
    SEEN[$path]=1
    for dep in ${DEPS[$path]:-}; do
        visit "$dep"
    done
    ORDER+=("$path")
}

want_module() {
    local m=$1 required=$2 n=${1//-/_}
    if [ -n "${MODPATH[$n]:-}" ]; then
        visit "${MODPATH[$n]}"
    elif is_builtin "$m"; then
        log "module $m is built into the kernel"
    elif [ "$required" = 1 ]; then
        die "module $m neither in modules.dep nor built-in"
    else
        log "optional module $m not present, skipped"
    fi
}
for m in "${REQUIRED_MODULES[@]}"; do want_module "$m" 1; done
for m in "${OPTIONAL_MODULES[@]}"; do want_module "$m" 0; done

# ---------------------------------------------------------------------------
# 3. Root filesystem
# ---------------------------------------------------------------------------
ROOT="$WORK/root"
log "assembling initramfs tree"
mkdir -p "$ROOT"
(cd "$ROOT" && mkdir -p bin sbin usr/bin usr/sbin lib lib64 etc/dropbear \
    proc sys dev run tmp root var/log usr/share/udhcpc "lib/modules/$KVER")
ln -s ../run "$ROOT/var/run"
chmod 0700 "$ROOT/root"
chmod 1777 "$ROOT/tmp"

# busybox + applet links
install -m 0755 "$BB" "$ROOT/bin/busybox"
"$BB" --list-full | while read -r applet; do
    case "$applet" in bin/busybox|linuxrc|"") continue ;; esac
    mkdir -p "$ROOT/$(dirname "$applet")"
    ln -sf /bin/busybox "$ROOT/$applet"
done

# copy_libs BINARY REQUIRED: copy the shared libraries and the dynamic loader
# reported by ldd to the same paths in the image.
copy_libs() {
    local bin=$1 required=$2 out lib
    out=$(ldd "$bin" 2>&1) || { [ "$required" = 1 ] && die "ldd $bin failed: $out"; return 1; }
    if echo "$out" | grep -q 'not found'; then
        [ "$required" = 1 ] && die "missing libraries for $bin: $out"
        log "missing libraries for $bin, skipping it"
        return 1
    fi
    for lib in $(echo "$out" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
        [ -e "$ROOT$lib" ] && continue
        mkdir -p "$ROOT$(dirname "$lib")"
        cp -L "$lib" "$ROOT$lib"
    done
}

DB="$X/dropbear-bin"
copy_libs "$DB/usr/sbin/dropbear" 1
install -m 0755 "$DB/usr/sbin/dropbear" "$ROOT/usr/sbin/dropbear"
install -m 0755 "$DB/usr/bin/dropbearkey" "$ROOT/usr/bin/dropbearkey"

INCLUDED=("$KPKG" busybox-static dropbear-bin)
if [ "$WITH_PING" = 1 ]; then
    PING="$X/iputils-ping/bin/ping"
    [ -x "$PING" ] || PING="$X/iputils-ping/usr/bin/ping"
    DASH="$X/dash/bin/dash"
    [ -x "$DASH" ] || DASH="$X/dash/usr/bin/dash"
    if [ -x "$PING" ] && [ -x "$DASH" ] && copy_libs "$PING" 0 && copy_libs "$DASH" 0; then
        rm -f "$ROOT/bin/ping" "$ROOT/bin/sh"
        install -m 0755 "$PING" "$ROOT/bin/ping"
        install -m 0755 "$DASH" "$ROOT/bin/dash"
        ln -s dash "$ROOT/bin/sh"
        INCLUDED+=(iputils-ping dash)
        log "included iputils ping as /bin/ping and dash as /bin/sh"
    else
        log "iputils ping not included"
    fi
fi

# kernel modules, decompressed, in load order
: >"$ROOT/lib/modules/$KVER/load-order"
for path in "${ORDER[@]}"; do
    src="$MODROOT/$path"
    rel=${path%.ko*}.ko
    dst="$ROOT/lib/modules/$KVER/$rel"
    mkdir -p "$(dirname "$dst")"
    case "$path" in
        *.ko)     cp "$src" "$dst" ;;
        *.ko.xz)  xz -dc "$src" >"$dst" ;;
        *.ko.zst) zstd -qdc "$src" >"$dst" ;;
        *.ko.gz)  gzip -dc "$src" >"$dst" ;;
        *) die "unknown module format: $path" ;;
    esac
    echo "$rel" >>"$ROOT/lib/modules/$KVER/load-order"
done
cp "$MODROOT/modules.builtin" "$MODROOT/modules.order" "$ROOT/lib/modules/$KVER/" 2>/dev/null || true
# modules.dep for the subset, so modprobe works in the guest too
"$BB" depmod -b "$ROOT" "$KVER"
log "modules (load order): $(sed 's,.*/,,;s,\.ko$,,' "$ROOT/lib/modules/$KVER/load-order" | tr '\n' ' ')"

# init and configuration
install -m 0755 "$SRC_DIR/init" "$ROOT/init"
install -m 0755 "$SRC_DIR/udhcpc.script" "$ROOT/usr/share/udhcpc/default.script"
cat >"$ROOT/etc/passwd" <<'EOF'
root:*:0:0:root:/root:/bin/sh
nobody:*:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$ROOT/etc/shadow" <<'EOF'
root:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
EOF
chmod 0600 "$ROOT/etc/shadow"
cat >"$ROOT/etc/group" <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
EOF
printf '/bin/sh\n/bin/ash\n/bin/dash\n' >"$ROOT/etc/shells"
cat >"$ROOT/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
shadow: files
hosts: files dns
EOF
: >"$ROOT/etc/resolv.conf"
echo virtsmoke-guest >"$ROOT/etc/hostname"
echo "$KVER" >"$ROOT/etc/virtsmoke-kernel"

# The kernel opens /dev/console for init before /dev is mounted.
mknod -m 0600 "$ROOT/dev/console" c 5 1 || log "warning: cannot create dev/console node"
mknod -m 0666 "$ROOT/dev/null" c 1 3 || log "warning: cannot create dev/null node"

# ---------------------------------------------------------------------------
# 4. Outputs
# ---------------------------------------------------------------------------
log "writing initrd.img"
(cd "$ROOT" && find . -mindepth 1 -print0 | LC_ALL=C sort -z \
    | cpio --null -o -H newc -R 0:0 --quiet) | gzip -9 -n >"$OUTTMP/initrd.img"
cp "$KROOT/boot/vmlinuz-$KVER" "$OUTTMP/vmlinuz"
# The manifest lists what went into the image.
for p in "${!VERSION[@]}"; do
    [[ " ${INCLUDED[*]} " == *" $p "* ]] || unset "VERSION[$p]"
done
write_manifest "kernel_version=$KVER"
publish vmlinuz initrd.img
log "done: $OUTDIR (kernel $KVER, vmlinuz $(stat -c %s "$OUTDIR/vmlinuz") bytes, initrd.img $(stat -c %s "$OUTDIR/initrd.img") bytes)"
