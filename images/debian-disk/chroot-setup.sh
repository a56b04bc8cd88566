#!/bin/bash
# Runs inside the guest chroot once its packages are in (see build.sh and
# ../common/recipe.sh): the guest's configuration and units. Reads LABEL
# from the environment.
set -euo pipefail

configure() {
    # Network: DHCP on the first NIC (eth0 with net.ifnames=0). cloud-init's
    # own network configuration, when it writes one, sorts first and wins.
    mkdir -p /etc/systemd/network
    cat >/etc/systemd/network/80-virtsmoke-dhcp.network <<'EOF'
[Match]
Name=eth0 en*

[Network]
DHCP=yes
EOF
    systemctl enable systemd-networkd.service
    # A guest with no network must not wait two minutes for it.
    mkdir -p /etc/systemd/system/systemd-networkd-wait-online.service.d
    cat >/etc/systemd/system/systemd-networkd-wait-online.service.d/virtsmoke.conf <<'EOF'
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=30
EOF

    # cloud-init: NoCloud only (a `cidata` seed); without one it stays disabled.
    cat >/etc/cloud/cloud.cfg.d/90_dpkg.cfg <<'EOF'
datasource_list: [ NoCloud, None ]
EOF
    # The image has no en_US locale (the default would fail and degrade the
    # boot), no GRUB package (its loaders are put on the disk from outside,
    # by make-disk.sh), and no use for slow RSA/DSA host keys.
    cat >/etc/cloud/cloud.cfg.d/91_virtsmoke.cfg <<'EOF'
locale: C.UTF-8
grub_dpkg:
  enabled: false
ssh_genkeytypes: [ed25519, ecdsa]
EOF

    # sshd: keys only. Host keys are made per guest at first boot (by cloud-init,
    # or by the unit below when cloud-init is disabled): none ship in the image.
    mkdir -p /etc/ssh/sshd_config.d
    cat >/etc/ssh/sshd_config.d/virtsmoke.conf <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
EOF
    rm -f /etc/ssh/ssh_host_*
    cat >/etc/systemd/system/virtsmoke-ssh-keygen.service <<'EOF'
[Unit]
Description=virtsmoke: SSH host keys when cloud-init made none
After=cloud-init.service
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=ssh.service
EOF
    systemctl enable virtsmoke-ssh-keygen.service
    systemctl enable ssh.service

    # Every guest gets its own machine-id at first boot.
    : >/etc/machine-id
    rm -f /var/lib/dbus/machine-id
    echo debian >/etc/hostname
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >/etc/hosts
    echo "LABEL=$LABEL / ext4 rw,noatime,errors=remount-ro 0 0" >/etc/fstab

    mkdir -p /etc/systemd/journald.conf.d
    printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n' >/etc/systemd/journald.conf.d/virtsmoke.conf
    # As a Xen HVM guest under the nested lab, udev takes minutes to announce
    # ttyS0: with systemd's 90 s the serial getty failed ("Dependency failed
    # for Serial Getty on ttyS0") and no login prompt ever came.
    mkdir -p /etc/systemd/system.conf.d
    printf '[Manager]\nDefaultDeviceTimeoutSec=15min\n' >/etc/systemd/system.conf.d/virtsmoke.conf

    # Nothing periodic, and no getty on a VGA console nobody reads.
    local unit
    for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
        fstrim.timer dpkg-db-backup.timer getty@tty1.service; do
        systemctl mask "$unit" >/dev/null 2>&1 || true
    done
}

configure
