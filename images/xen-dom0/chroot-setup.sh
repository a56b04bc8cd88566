#!/bin/bash
# Runs inside the dom0 chroot once its packages are in (see build.sh and
# ../common/recipe.sh): the dom0's configuration and units.
set -euo pipefail

die() { echo "chroot-setup.sh: error: $*" >&2; exit 1; }

configure() {
    install -m 0755 /tmp/virtsmoke-recipe/virtsmoke-dom0-params /usr/local/sbin/virtsmoke-dom0-params

    # libvirt's xen driver needs a CPU model the host CPU matches; under TCG
    # there is no `vme`, which every model needs (or `sep`). Dropping it from
    # the 486 model lets the driver start (host CPU model: 486). Lab only.
    local cpu_map=/usr/share/libvirt/cpu_map/x86_486.xml
    [ -f "$cpu_map" ] || die "missing $cpu_map"
    sed -i '/<feature name=.vme.\/>/d' "$cpu_map"
    ! grep -q "'vme'" "$cpu_map" || die "vme still in $cpu_map"

    # libvirtd stays up (its default is to exit after 120 s idle) and starts
    # after the Xen daemons (xen.service comes from /etc/init.d/xen).
    cat >/etc/default/libvirtd <<'EOF'
# virtsmoke lab: no idle timeout.
LIBVIRTD_ARGS=""
EOF
    mkdir -p /etc/systemd/system/libvirtd.service.d
    cat >/etc/systemd/system/libvirtd.service.d/virtsmoke.conf <<'EOF'
[Unit]
Wants=xen.service
After=xen.service
EOF

    # Guest consoles are logged under /var/log/xen/console only with this.
    [ -f /etc/default/xen ] || cp /usr/share/xen-utils-common/default.xen /etc/default/xen
    sed -i '/^XENCONSOLED_ARGS=/d' /etc/default/xen
    echo 'XENCONSOLED_ARGS="--log=guest"' >>/etc/default/xen
    mkdir -p /var/log/xen/console
    systemctl enable xen.service 2>/dev/null || update-rc.d xen defaults

    # Network: eth0 is QEMU's user-mode network (static, no DHCP wait;
    # QEMU forwards 127.0.0.1:PORT to 10.0.2.15:22). xenbr0 is the guests'
    # bridge; its netdev and network are written at boot by
    # virtsmoke-dom0-params (per-host MAC and address from the kernel command
    # line). eth1 and eth2, when the lab links hosts, are ports of xenbr0.
    mkdir -p /etc/systemd/network
    cat >/etc/systemd/network/10-eth0.network <<'EOF'
[Match]
Name=eth0

[Network]
Address=10.0.2.15/24
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF
    cat >/etc/systemd/network/30-lab-links.network <<'EOF'
[Match]
Name=eth1 eth2

[Network]
Bridge=xenbr0
LinkLocalAddressing=no
IPv6AcceptRA=no

[Link]
RequiredForOnline=no
EOF
    systemctl enable systemd-networkd.service
    systemctl mask systemd-networkd-wait-online.service

    cat >/etc/systemd/system/virtsmoke-dom0-params.service <<'EOF'
[Unit]
Description=virtsmoke: SSH key and bridge MAC from the kernel command line
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target systemd-networkd.service ssh.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/virtsmoke-dom0-params
StandardOutput=journal+console

[Install]
WantedBy=sysinit.target
EOF
    systemctl enable virtsmoke-dom0-params.service

    # DHCP for the guests (no DNS: --port=0); leases stay in memory. Not
    # authoritative: linked hosts' servers share the segment, each with its
    # own range (from virtsmoke-dom0-params).
    cat >/etc/systemd/system/virtsmoke-dnsmasq.service <<'EOF'
[Unit]
Description=virtsmoke: DHCP for guests on xenbr0
Wants=systemd-networkd.service
After=systemd-networkd.service virtsmoke-dom0-params.service

[Service]
EnvironmentFile=/run/virtsmoke/dnsmasq.env
ExecStart=/usr/sbin/dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 \
    --user=nobody --group=nogroup --bind-dynamic --interface=xenbr0 \
    --dhcp-range=${VIRTSMOKE_DHCP_RANGE},255.255.0.0,1h \
    --dhcp-option=option:router,${VIRTSMOKE_ROUTER} --leasefile-ro --log-dhcp
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
EOF
    systemctl enable virtsmoke-dnsmasq.service

    # sshd: root by key only. No PAM: a PAM session (logind, a user
    # manager) makes every login, hence every xen+ssh connection, take
    # about 3 s longer under emulation.
    mkdir -p /etc/ssh/sshd_config.d
    cat >/etc/ssh/sshd_config.d/virtsmoke.conf <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
AllowTcpForwarding yes
EOF
    systemctl enable ssh.service

    # Every host gets its own machine-id at first boot (and so its own
    # libvirt host UUID and default MACs).
    : >/etc/machine-id
    rm -f /var/lib/dbus/machine-id
    echo xen-dom0 >/etc/hostname
    # (virtsmoke-dom0-params rewrites it at boot with the lab's host names.)
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >/etc/hosts
    echo '/dev/vda / ext4 rw,noatime,errors=remount-ro 0 0' >/etc/fstab

    mkdir -p /etc/systemd/journald.conf.d
    printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=64M\n' >/etc/systemd/journald.conf.d/virtsmoke.conf

    # Nothing that saves or restores guests, nothing periodic, nothing the
    # libxl driver does not use (machined serves libvirt's QEMU driver), no
    # wireless stack (udev loads cfg80211 for a platform device otherwise).
    echo 'blacklist cfg80211' >/etc/modprobe.d/virtsmoke-blacklist.conf
    local unit
    for unit in xendomains.service libvirt-guests.service apt-daily.timer \
        apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
        dpkg-db-backup.timer getty@tty1.service systemd-machined.service; do
        systemctl mask "$unit" >/dev/null 2>&1 || true
    done
}

configure
