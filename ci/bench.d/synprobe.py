#!/usr/bin/env python3
"""When does a guest's SSH port start accepting, and what did the harness do
about it? Run in the lab host's namespace:

    ip netns exec vs-lab-h1 python3 synprobe.py MAC-OR-GLOB LEASES [TIMEOUT_S [BRIDGE]]

MAC-OR-GLOB is the guest's MAC, or a glob for the domain XML that will name it
(virtsmoke writes CASE/GUEST.domain.xml before creating the domain). The address
comes from dnsmasq's lease file once the guest's lease appears (or is renewed).

* Accepting: a SYN to ADDR:22 every 10 ms from a raw socket (source ports
  20000-28999, below the ephemeral range). The guest's kernel answers RST while
  nothing listens and SYN-ACK once dropbear listens; our kernel has no socket for
  the probe and resets the half-open connection, so dropbear never sees it.
  Probing stops at the first SYN-ACK.
* Watching: an AF_PACKET socket on the bridge (kernel timestamps) records every
  other TCP connection to ADDR:22 -- the harness's or the shell loop's attempts:
  SYN sent, the guest's answer (RST or SYN-ACK), the first payload from the
  guest (the SSH banner: the server is really serving), the guest's FIN.

Prints `key value` lines, wall-clock epoch seconds: mac, addr, t_addr,
t_first_rst, t_last_rst, t_accept, probes (as soon as accepting is seen), then on
SIGTERM or at the timeout one line `conns JSON` (list of [sport, t_syn, reply,
t_reply, t_banner, t_fin]).
"""
import glob
import json
import os
import random
import re
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def syn(src, dst, sport, seq):
    hdr = struct.pack("!HHIIBBHHH", sport, 22, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(hdr))
    return hdr[:16] + struct.pack("!H", csum(pseudo + hdr)) + hdr[18:]


def lease_for(leases, mac):
    try:
        for line in open(leases):
            f = line.split()
            if len(f) >= 3 and f[1].lower() == mac:
                return line
    except OSError:
        pass
    return None


stop = False


def on_term(*_):
    global stop
    stop = True


def main():
    signal.signal(signal.SIGTERM, on_term)
    target, leases = sys.argv[1], sys.argv[2]
    deadline = time.time() + float(sys.argv[3] if len(sys.argv) > 3 else 600)
    bridge = sys.argv[4] if len(sys.argv) > 4 else "vsbr0"
    mac = target.lower() if re.fullmatch(r"[0-9a-fA-F:]{17}", target) else None
    stale = lease_for(leases, mac) if mac else None
    while mac is None and time.time() < deadline and not stop:
        for x in glob.glob(target):
            m = re.search(r"<mac address='([0-9a-f:]+)'", open(x).read())
            if m:
                mac = m.group(1).lower()
                stale = lease_for(leases, mac)
        time.sleep(0.02)
    if mac is None:
        print("timeout")
        return 1
    print(f"mac {mac}", flush=True)
    addr = None
    while time.time() < deadline and not stop:
        line = lease_for(leases, mac)
        if line and line != stale:
            addr = line.split()[2]
            break
        time.sleep(0.02)
    if addr is None:
        print("timeout")
        return 1
    print(f"addr {addr}\nt_addr {time.time():.6f}", flush=True)
    a = socket.inet_aton(addr)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.connect((addr, 9))
    src = u.getsockname()[0]
    u.close()
    tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    tx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    rx.bind((bridge, 0))
    rx.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    rx.setblocking(False)
    base = random.randrange(20000, 28000)
    mine = range(base, base + 900)
    n = 0
    first_rst = last_rst = accepted = None
    conns = {}   # sport -> [t_syn, reply, t_reply, t_banner, t_fin]
    next_send = 0.0
    while not stop and time.time() < deadline:
        now = time.time()
        if accepted is None and now >= next_send:
            tx.sendto(syn(src, addr, base + n % 900, random.getrandbits(32)), (addr, 0))
            n += 1
            next_send = now + 0.01
        wait = max(0.0, next_send - time.time()) if accepted is None else 0.2
        try:
            r, _, _ = select.select([rx], [], [], wait)
        except InterruptedError:
            continue
        if not r:
            continue
        while True:
            try:
                pkt, anc, _, info = rx.recvmsg(2048, 64)
            except BlockingIOError:
                break
            t = time.time()
            for lvl, typ, data in anc:
                if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(data) >= 16:
                    sec, nsec = struct.unpack("qq", data[:16])
                    t = sec + nsec / 1e9
            if len(pkt) < 34 or pkt[12:14] != b"\x08\x00" or pkt[23] != 6:
                continue
            ip = pkt[14:]
            ihl = (ip[0] & 0xF) * 4
            tot = struct.unpack("!H", ip[2:4])[0]
            tcp = ip[ihl:]
            if len(tcp) < 14:
                continue
            sport, dport = struct.unpack("!HH", tcp[:4])
            flags = tcp[13]
            payload = tot - ihl - (tcp[12] >> 4) * 4
            if ip[12:16] == a and sport == 22:           # from the guest's SSH port
                if dport in mine:
                    if flags & 0x12 == 0x12 and accepted is None:
                        accepted = t
                        print(f"t_first_rst {first_rst or 0:.6f}\nt_last_rst {last_rst or 0:.6f}\n"
                              f"t_accept {t:.6f}\nprobes {n}", flush=True)
                    elif flags & 0x04:
                        first_rst = first_rst or t
                        last_rst = t
                elif dport in conns:
                    c = conns[dport]
                    if c[1] is None and flags & 0x04:
                        c[1], c[2] = "rst", t
                    elif c[1] is None and flags & 0x12 == 0x12:
                        c[1], c[2] = "synack", t
                    elif payload > 0 and c[3] is None:
                        c[3] = t
                    if flags & 0x01 and c[4] is None:
                        c[4] = t
            elif ip[16:20] == a and dport == 22 and sport not in mine and flags & 0x02 and not flags & 0x10:
                conns.setdefault(sport, [t, None, None, None, None])   # a SYN from someone else
    rows = [[p] + c for p, c in sorted(conns.items(), key=lambda kv: kv[1][0])]
    print("conns " + json.dumps(rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
