#!/usr/bin/env python3
"""Gives a destroyed guest's DHCP lease back to the lab's dnsmasq (like dnsmasq's
`dhcp_release`, which the lab machine may not have installed).

    ip netns exec vs-lab-h1 python3 dhcp_release.py IFACE SERVER_IP IP MAC [IP MAC ...]

Every guest virtsmoke boots gets a fresh MAC, so each one holds one of the
lab's 100 addresses for the lease time (1 h); a benchmark boots dozens. Run
inside the lab host's namespace: the packet is sent to dnsmasq's own address,
bound to the bridge so dnsmasq takes it as coming from that interface.
Best effort: prints what it sent, never fails the caller.
"""
import os
import socket
import struct
import sys


def packet(ip: str, mac: str, server: str) -> bytes:
    hw = bytes.fromhex(mac.replace(":", ""))
    head = struct.pack(
        "!BBBBIHH4s4s4s4s16s64s128s",
        1, 1, 6, 0,                      # BOOTREQUEST, ethernet, hlen, hops
        int.from_bytes(os.urandom(4), "big"), 0, 0,
        socket.inet_aton(ip), bytes(4), bytes(4), bytes(4),
        hw.ljust(16, b"\0"), bytes(64), bytes(128),
    )
    opts = b"\x63\x82\x53\x63"                           # magic cookie
    opts += bytes([53, 1, 7])                             # DHCPRELEASE
    opts += bytes([54, 4]) + socket.inet_aton(server)     # server identifier
    opts += bytes([61, 7, 1]) + hw                        # client id 01:MAC (as the guests send)
    opts += b"\xff"
    return head + opts


def main() -> int:
    if len(sys.argv) < 5 or len(sys.argv) % 2 == 0:
        print(__doc__, file=sys.stderr)
        return 2
    iface, server, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, 25, iface.encode() + b"\0")  # SO_BINDTODEVICE
        for ip, mac in zip(pairs[0::2], pairs[1::2]):
            s.sendto(packet(ip, mac, server), (server, 67))
            print(f"released {ip} {mac}")
    except OSError as e:
        print(f"dhcp_release: {e}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
