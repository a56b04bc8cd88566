#!/bin/bash
# Assemble a bootable, partitioned raw disk from a root tree and boot files,
# the way a distribution's cloud image is laid out (see build.sh):
#
#   make-disk.sh ROOTDIR VMLINUZ INITRD ROOT_LABEL ROOT_SIZE WORKDIR OUT.raw
#
# MBR with two partitions:
#   1  VSBOOT, FAT16, 64 MiB, active, type EF: the boot partition and the EFI
#      system partition at once. The kernel and initramfs; GRUB for UEFI as
#      EFI/BOOT/BOOTX64.EFI; and /boot/grub/grub.cfg, which GRUB (BIOS and
#      UEFI) and Xen's pygrub all read. GRUB for BIOS sits where grub-install
#      puts it: boot.img's code in sector 0, core.img in the gap before
#      partition 1, with every module it needs built in.
#   2  ROOT_LABEL, ext4 of ROOT_SIZE: the root file system, from ROOTDIR.
# No loop mounts and no grub-install: each file system is made in a file
# (`mkfs.ext4 -d`, `mkfs.vfat` and mtools), then written into the disk at its
# offset, and GRUB's images are made with grub-mkimage/grub-mkstandalone.
set -euo pipefail

[ $# -eq 7 ] || { echo "usage: $0 ROOTDIR VMLINUZ INITRD ROOT_LABEL ROOT_SIZE WORKDIR OUT.raw" >&2; exit 2; }
ROOTDIR=$1 VMLINUZ=$2 INITRD=$3 LABEL=$4 ROOT_SIZE=$5 WORK=$6 OUT=$7

BOOT_LABEL=VSBOOT
BOOT_MIB=64
# What the disk's own boot loaders pass to the kernel. virtsmoke appends
# `console=hvc0` for Xen PV guests (pygrub's --args), so it wins there.
BOOT_ARGS="root=LABEL=$LABEL rw net.ifnames=0 console=tty0 console=ttyS0,115200"

log() { echo "make-disk.sh: $(date +%T) $*" >&2; }

cat >"$WORK/grub.cfg" <<EOF
set default=0
set timeout=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
menuentry 'Debian GNU/Linux 12' {
    echo 'Loading Linux ...'
    linux /vmlinuz $BOOT_ARGS
    echo 'Loading initial ramdisk ...'
    initrd /initrd.img
}
EOF
# GRUB's own configuration, built into both of its images: find the boot
# partition by label, then read the grub.cfg pygrub reads too. Every module
# is built in, so none is looked for on the disk.
cat >"$WORK/grub-embedded.cfg" <<EOF
search --no-floppy --set=root --label $BOOT_LABEL
configfile (\$root)/boot/grub/grub.cfg
EOF
GRUB_MODULES="part_msdos fat search search_label normal configfile linux echo serial terminal test"

log "GRUB for UEFI (BOOTX64.EFI) and for BIOS (boot.img, core.img)"
grub-mkstandalone -O x86_64-efi --locales= --fonts= --themes= \
    --install-modules="$GRUB_MODULES" --modules="$GRUB_MODULES" \
    -o "$WORK/BOOTX64.EFI" "boot/grub/grub.cfg=$WORK/grub-embedded.cfg"
# shellcheck disable=SC2086
grub-mkimage -O i386-pc -o "$WORK/core.img" -p /boot/grub -c "$WORK/grub-embedded.cfg" \
    biosdisk $GRUB_MODULES
CORE_SECTORS=$(( ($(stat -c %s "$WORK/core.img") + 511) / 512 ))
[ "$CORE_SECTORS" -lt 2047 ] || { echo "make-disk.sh: core.img ($CORE_SECTORS sectors) does not fit before partition 1" >&2; exit 1; }

BOOT_FAT="$WORK/boot.fat"
rm -f "$BOOT_FAT"
truncate -s "${BOOT_MIB}M" "$BOOT_FAT"
# -h 2048: the partition's first sector, as a partitioning tool would record it.
mkfs.vfat -F 16 -h 2048 -n "$BOOT_LABEL" "$BOOT_FAT" >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$BOOT_FAT" ::/boot ::/boot/grub ::/EFI ::/EFI/BOOT
mcopy -i "$BOOT_FAT" "$VMLINUZ" ::/vmlinuz
mcopy -i "$BOOT_FAT" "$INITRD" ::/initrd.img
mcopy -i "$BOOT_FAT" "$WORK/grub.cfg" ::/boot/grub/grub.cfg
mcopy -i "$BOOT_FAT" "$WORK/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI

log "root file system: ext4 $ROOT_SIZE, $(du -sh "$ROOTDIR" | cut -f1) used"
ROOT_FS="$WORK/root.ext4"
rm -f "$ROOT_FS"
mkfs.ext4 -q -F -L "$LABEL" -d "$ROOTDIR" "$ROOT_FS" "$ROOT_SIZE"

log "partition table and GRUB's boot code"
ROOT_START=$(( (1 + BOOT_MIB) * 2048 ))
ROOT_SECTORS=$(( $(stat -c %s "$ROOT_FS") / 512 ))
rm -f "$OUT"
truncate -s $(( (ROOT_START + ROOT_SECTORS) * 512 )) "$OUT"
sfdisk -q "$OUT" <<EOF
label: dos
start=2048, size=$(( BOOT_MIB * 2048 )), type=ef, bootable
start=$ROOT_START, size=$ROOT_SECTORS, type=83
EOF
dd if="$BOOT_FAT" of="$OUT" bs=1M seek=1 conv=notrunc status=none
dd if="$ROOT_FS" of="$OUT" bs=1M seek=$(( 1 + BOOT_MIB )) conv=notrunc,sparse status=none
# boot.img fills bytes 0-439 only, so the partition table stays. As built it
# loads core.img from sector 1, and core.img's first sector (diskboot.img)
# the rest from sector 2 on: where they are put here, so no grub-bios-setup
# (which wants a block device) has to patch either.
dd if=/usr/lib/grub/i386-pc/boot.img of="$OUT" bs=440 count=1 conv=notrunc status=none
dd if="$WORK/core.img" of="$OUT" bs=512 seek=1 conv=notrunc status=none
rm -f "$BOOT_FAT" "$ROOT_FS" "$WORK/core.img" "$WORK/BOOTX64.EFI"
