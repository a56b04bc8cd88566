#!/bin/bash
# Runs inside a recipe's chroot (see recipe.sh, build_root): apt sources,
# dpkg and initramfs settings, then the recipe's packages.
#
# Reads MIRROR, SECURITY_MIRROR, SUITE, PACKAGES_LIST,
# INITRAMFS_MODULES_LIST and LOCAL_DEBS_DIR (a directory of .deb files
# installed over the suite's packages, their dependencies from the suite;
# empty: none) from the environment.
set -euo pipefail

cat >/etc/apt/sources.list <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
SOURCES
# No documentation in the image, and no fsync per file while unpacking.
cat >/etc/dpkg/dpkg.cfg.d/virtsmoke <<'DPKG'
force-unsafe-io
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/lintian/*
DPKG
cat >/etc/apt/apt.conf.d/90virtsmoke <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
APT
# Nothing may start in the chroot (build_root removes this at the end).
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d

# The kernel finds its root through a small initramfs: the modules the recipe
# names, not every storage driver.
mkdir -p /etc/initramfs-tools/conf.d /usr/share/initramfs-tools/modules.d
printf 'MODULES=list\nCOMPRESS=gzip\n' >/etc/initramfs-tools/conf.d/virtsmoke
# shellcheck disable=SC2086
printf '%s\n' $INITRAMFS_MODULES_LIST >/usr/share/initramfs-tools/modules.d/virtsmoke

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q -o Dpkg::Options::=--force-confold $PACKAGES_LIST
if [ -n "${LOCAL_DEBS_DIR:-}" ]; then
    echo "chroot-packages.sh: local packages: $(cd "$LOCAL_DEBS_DIR" && echo *.deb)"
    # ./FILE: apt installs the file, whatever the suite's version (older too:
    # --allow-downgrades), and takes its dependencies from the suite.
    (cd "$LOCAL_DEBS_DIR" && apt-get install -y -q --allow-downgrades \
        -o Dpkg::Options::=--force-confold ./*.deb)
fi
apt-get clean
rm -rf /var/lib/apt/lists/*
