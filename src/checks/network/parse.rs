//! Reading what the network tools printed, and the figures made from it. Pure.

use std::net::IpAddr;
use std::time::Duration;

/// The summary of one `ping` run (iputils or busybox).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PingStats {
    pub sent: u32,
    pub received: u32,
    /// Absent when nothing came back.
    pub rtt: Option<Rtt>,
}

/// Round-trip times in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rtt {
    pub min_ms: f64,
    pub avg_ms: f64,
    pub max_ms: f64,
}

impl PingStats {
    pub fn loss_pct(&self) -> f64 {
        loss_pct(self.sent, self.received)
    }
}

/// Lost share of `sent`, in percent (0 when nothing was sent).
pub fn loss_pct(sent: u32, received: u32) -> f64 {
    if sent == 0 {
        return 0.0;
    }
    f64::from(sent.saturating_sub(received)) * 100.0 / f64::from(sent)
}

/// Reads the statistics lines of `ping`:
///
/// ```text
/// 3 packets transmitted, 3 received, 0% packet loss, time 403ms        (iputils)
/// rtt min/avg/max/mdev = 0.588/2.487/6.225/2.643 ms
/// 3 packets transmitted, 3 packets received, 0% packet loss            (busybox)
/// round-trip min/avg/max = 0.858/4.226/7.194 ms
/// ```
pub fn ping_stats(output: &str) -> Option<PingStats> {
    let mut counts = None;
    let mut rtt = None;
    for line in output.lines() {
        let line = line.trim();
        if line.contains("packets transmitted") {
            let mut parts = line.split(',');
            let sent = leading_number(parts.next()?)?;
            let received = parts.find(|p| p.contains("received")).and_then(leading_number)?;
            counts = Some((sent, received));
        } else if line.contains("min/avg/max")
            && let Some((_, values)) = line.split_once('=')
        {
            let nums: Vec<f64> =
                values.trim().trim_end_matches("ms").trim().split('/').map_while(|v| v.trim().parse().ok()).collect();
            if nums.len() >= 3 {
                rtt = Some(Rtt { min_ms: nums[0], avg_ms: nums[1], max_ms: nums[2] });
            }
        }
    }
    let (sent, received) = counts?;
    Some(PingStats { sent, received, rtt: if received > 0 { rtt } else { None } })
}

fn leading_number(s: &str) -> Option<u32> {
    s.split_whitespace().next()?.parse().ok()
}

/// The lines of `ping`'s output worth showing in a message: errors and the summary.
pub fn ping_evidence(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("PING ") && !l.contains(" bytes from ") && !l.starts_with("---"))
        .collect();
    lines.join("; ")
}

/// Min/avg/max of measured durations, in milliseconds.
pub fn rtt_of(samples: &[Duration]) -> Option<Rtt> {
    if samples.is_empty() {
        return None;
    }
    let ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    let min_ms = ms.iter().copied().fold(f64::INFINITY, f64::min);
    let max_ms = ms.iter().copied().fold(0.0, f64::max);
    let avg_ms = ms.iter().sum::<f64>() / ms.len() as f64;
    Some(Rtt { min_ms, avg_ms, max_ms })
}

/// An address configured on a guest interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    pub iface: String,
    pub addr: IpAddr,
    pub prefix: u8,
}

impl std::fmt::Display for IfAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} on {}", self.addr, self.prefix, self.iface)
    }
}

/// What the guest said about itself (the probe script's output).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestFacts {
    /// Tools found on the guest's `PATH`; `ping-df` when `ping` is iputils (has `-M do`).
    pub tools: Vec<String>,
    /// Addresses outside loopback and IPv6 link-local, from `ip -o addr`.
    pub addrs: Vec<IfAddr>,
    /// From `ip route show default`.
    pub gateway: Option<IpAddr>,
    /// (interface, MTU) from `/sys/class/net`.
    pub mtus: Vec<(String, u32)>,
}

impl GuestFacts {
    pub fn has(&self, tool: &str) -> bool {
        self.tools.iter().any(|t| t == tool)
    }

    pub fn mtu_of(&self, iface: &str) -> Option<u32> {
        self.mtus.iter().find(|(i, _)| i == iface).map(|(_, m)| *m)
    }

    /// The interface carrying `addr`.
    pub fn iface_of(&self, addr: IpAddr) -> Option<&str> {
        self.addrs.iter().find(|a| a.addr == addr).map(|a| a.iface.as_str())
    }
}

/// Reads the output of [`super::script::PROBE`].
pub fn guest_facts(output: &str) -> GuestFacts {
    let mut facts = GuestFacts::default();
    for line in output.lines() {
        let line = line.trim_end();
        if let Some(tool) = line.strip_prefix("tool ") {
            facts.tools.push(tool.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("mtu ") {
            let mut it = rest.split_whitespace();
            if let (Some(i), Some(Ok(m))) = (it.next(), it.next().map(str::parse)) {
                facts.mtus.push((i.to_string(), m));
            }
        } else if line.starts_with("default ") {
            if facts.gateway.is_none() {
                facts.gateway = default_gateway(line);
            }
        } else if let Some(a) = ip_addr_line(line) {
            facts.addrs.push(a);
        }
    }
    facts
}

/// `default via 10.77.0.1 dev eth0` → `10.77.0.1`.
pub fn default_gateway(line: &str) -> Option<IpAddr> {
    let mut it = line.split_whitespace();
    while let Some(w) = it.next() {
        if w == "via" {
            return it.next()?.parse().ok();
        }
    }
    None
}

/// One line of `ip -o addr`: `2: eth0    inet 10.77.0.184/24 brd 10.77.0.255 scope global eth0\ ...`.
/// Loopback and IPv6 link-local addresses are left out.
pub fn ip_addr_line(line: &str) -> Option<IfAddr> {
    let mut words = line.split_whitespace();
    let index = words.next()?;
    if !index.ends_with(':') || !index[..index.len() - 1].chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let iface = words.next()?.split('@').next()?.to_string();
    let family = words.next()?;
    if family != "inet" && family != "inet6" {
        return None;
    }
    let (addr, prefix) = words.next()?.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let link_local = matches!(addr, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
    if iface == "lo" || addr.is_loopback() || link_local {
        return None;
    }
    Some(IfAddr { iface, addr, prefix })
}

/// The addresses `nslookup` gave for the name asked (busybox or bind format);
/// the server's own `Address:` lines, before `Name:`, are not answers.
pub fn nslookup_addresses(output: &str) -> Vec<IpAddr> {
    let mut answers = Vec::new();
    let mut in_answer = false;
    for line in output.lines() {
        let line = line.trim();
        if line.starts_with("Name:") {
            in_answer = true;
            continue;
        }
        if !in_answer {
            continue;
        }
        let Some(rest) = line.strip_prefix("Address") else { continue };
        let Some((_, value)) = rest.split_once(':') else { continue };
        if let Some(Ok(a)) = value.split_whitespace().next().map(str::parse::<IpAddr>)
            && !answers.contains(&a)
        {
            answers.push(a);
        }
    }
    answers
}

/// The address dnsmasq leased to `mac` (`EXPIRY MAC IP HOSTNAME CLIENT-ID` lines).
pub fn lease_for(leases: &str, mac: &str) -> Option<IpAddr> {
    leases.lines().rev().find_map(|l| {
        let mut w = l.split_whitespace();
        let (_expiry, m, ip) = (w.next()?, w.next()?, w.next()?);
        m.eq_ignore_ascii_case(mac).then(|| ip.parse().ok()).flatten()
    })
}

/// Mbit/s for `bytes` moved in `elapsed`.
pub fn mbps(bytes: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    bytes as f64 * 8.0 / secs / 1_000_000.0
}

/// The byte count `wc -c` printed, ignoring anything else on other lines.
pub fn byte_count(output: &str) -> Option<u64> {
    output.lines().rev().find_map(|l| l.trim().parse().ok())
}

/// The sender's report in a guest-to-guest measurement:
/// `sent rc=143 t0=27.10 t1=30.11` (times from `/proc/uptime`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SenderReport {
    pub exit: i32,
    pub elapsed: Duration,
}

pub fn sender_report(output: &str) -> Option<SenderReport> {
    let line = output.lines().rev().find(|l| l.starts_with("sent "))?;
    let field = |k: &str| -> Option<&str> {
        line.split_whitespace().find_map(|w| w.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
    };
    let exit = field("rc")?.parse().ok()?;
    let t0: f64 = field("t0")?.parse().ok()?;
    let t1: f64 = field("t1")?.parse().ok()?;
    (t1 >= t0).then(|| SenderReport { exit, elapsed: Duration::from_secs_f64(t1 - t0) })
}

/// Milliseconds with three decimals, for properties.
pub fn ms(v: f64) -> String {
    format!("{v:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPUTILS_OK: &str = "PING 10.77.0.1 (10.77.0.1) 56(84) bytes of data.
64 bytes from 10.77.0.1: icmp_seq=1 ttl=64 time=6.23 ms
64 bytes from 10.77.0.1: icmp_seq=2 ttl=64 time=0.588 ms
64 bytes from 10.77.0.1: icmp_seq=3 ttl=64 time=0.649 ms

--- 10.77.0.1 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 403ms
rtt min/avg/max/mdev = 0.588/2.487/6.225/2.643 ms
";

    #[test]
    fn iputils_ping() {
        let s = ping_stats(IPUTILS_OK).unwrap();
        assert_eq!((s.sent, s.received), (3, 3));
        assert_eq!(s.loss_pct(), 0.0);
        assert_eq!(s.rtt, Some(Rtt { min_ms: 0.588, avg_ms: 2.487, max_ms: 6.225 }));
    }

    #[test]
    fn busybox_ping() {
        let out = "PING 10.77.0.184 (10.77.0.184): 56 data bytes
64 bytes from 10.77.0.184: seq=0 ttl=64 time=7.194 ms

--- 10.77.0.184 ping statistics ---
3 packets transmitted, 2 packets received, 33% packet loss
round-trip min/avg/max = 0.858/4.226/7.194 ms
";
        let s = ping_stats(out).unwrap();
        assert_eq!((s.sent, s.received), (3, 2));
        assert!((s.loss_pct() - 33.333).abs() < 0.01);
        assert_eq!(s.rtt.unwrap().max_ms, 7.194);
    }

    #[test]
    fn total_loss_and_errors() {
        let out = "PING 10.77.0.9 (10.77.0.9) 56(84) bytes of data.
From 10.77.0.5 icmp_seq=1 Destination Host Unreachable

--- 10.77.0.9 ping statistics ---
3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 2036ms
";
        let s = ping_stats(out).unwrap();
        assert_eq!((s.sent, s.received, s.rtt), (3, 0, None));
        assert_eq!(s.loss_pct(), 100.0);
        assert_eq!(
            ping_evidence(out),
            "From 10.77.0.5 icmp_seq=1 Destination Host Unreachable; \
             3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 2036ms"
        );
        assert_eq!(ping_stats("ping: sendmsg: Message too long\n"), None);
        assert_eq!(ping_stats(""), None);
    }

    #[test]
    fn fragmentation_needed_is_evidence() {
        let out = "PING 10.77.0.1 (10.77.0.1) 1472(1500) bytes of data.
ping: local error: message too long, mtu=1400

--- 10.77.0.1 ping statistics ---
2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 1001ms
";
        assert!(ping_evidence(out).starts_with("ping: local error: message too long, mtu=1400; "));
    }

    #[test]
    fn rtt_of_samples() {
        let r = rtt_of(&[Duration::from_micros(500), Duration::from_micros(1500)]).unwrap();
        assert_eq!((r.min_ms, r.avg_ms, r.max_ms), (0.5, 1.0, 1.5));
        assert_eq!(rtt_of(&[]), None);
        assert_eq!(loss_pct(4, 3), 25.0);
        assert_eq!(loss_pct(0, 0), 0.0);
    }

    #[test]
    fn probe_output() {
        let out = "tool ping
tool nc
tool ip
tool ping-df
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 10.77.0.184/24 brd 10.77.0.255 scope global eth0\\       valid_lft forever preferred_lft forever
2: eth0    inet6 fe80::5054:ff:fe5c:2a84/64 scope link \\       valid_lft forever preferred_lft forever
3: eth1@if7    inet6 fd00::5/64 scope global \\       valid_lft forever preferred_lft forever
default via 10.77.0.1 dev eth0 
mtu eth0 1500
mtu lo 65536
";
        let f = guest_facts(out);
        assert_eq!(f.tools, ["ping", "nc", "ip", "ping-df"]);
        assert!(f.has("ping-df") && !f.has("nslookup"));
        assert_eq!(
            f.addrs,
            [
                IfAddr { iface: "eth0".into(), addr: "10.77.0.184".parse().unwrap(), prefix: 24 },
                IfAddr { iface: "eth1".into(), addr: "fd00::5".parse().unwrap(), prefix: 64 },
            ]
        );
        assert_eq!(f.gateway, Some("10.77.0.1".parse().unwrap()));
        assert_eq!(f.mtu_of("eth0"), Some(1500));
        assert_eq!(f.iface_of("10.77.0.184".parse().unwrap()), Some("eth0"));
        assert_eq!(f.addrs[0].to_string(), "10.77.0.184/24 on eth0");
        assert_eq!(guest_facts(""), GuestFacts::default());
    }

    #[test]
    fn gateways() {
        assert_eq!(default_gateway("default via 10.0.0.1 dev eth0 metric 5"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(default_gateway("default dev ppp0 scope link"), None);
    }

    #[test]
    fn nslookup_busybox_and_bind() {
        let busybox = "Server:\t\t10.77.0.1
Address:\t10.77.0.1:53

Name:\tgateway.lab.virtsmoke.test
Address: 10.77.0.1

** server can't find gateway.lab.virtsmoke.test: REFUSED
";
        assert_eq!(nslookup_addresses(busybox), ["10.77.0.1".parse::<IpAddr>().unwrap()]);
        let old_busybox = "Server:    10.0.0.1\nAddress 1: 10.0.0.1\n\nName:      db\nAddress 1: 10.0.0.7 db.lan\nAddress 2: fd00::7\n";
        assert_eq!(nslookup_addresses(old_busybox).len(), 2);
        let failed = "Server:\t\t10.77.0.1\nAddress:\t10.77.0.1:53\n\n** server can't find nope: NXDOMAIN\n";
        assert!(nslookup_addresses(failed).is_empty());
    }

    #[test]
    fn leases() {
        let file = "1795322725 52:54:00:4c:a3:65 10.77.0.152 * 01:52:54:00:4c:a3:65
1795322724 52:54:00:5c:2a:84 10.77.0.184 * 01:52:54:00:5c:2a:84
";
        assert_eq!(lease_for(file, "52:54:00:5C:2A:84"), Some("10.77.0.184".parse().unwrap()));
        assert_eq!(lease_for(file, "52:54:00:00:00:00"), None);
        assert_eq!(lease_for("garbage\n\n", "x"), None);
    }

    #[test]
    fn throughput_math() {
        assert_eq!(mbps(125_000_000, Duration::from_secs(1)), 1000.0);
        assert_eq!(mbps(3_750_000, Duration::from_secs(3)), 10.0);
        assert_eq!(mbps(1, Duration::ZERO), 0.0);
        assert_eq!(byte_count("  172855807\n"), Some(172_855_807));
        assert_eq!(byte_count("Terminated\n5120\n"), Some(5120));
        assert_eq!(byte_count("nc: bind: Address in use\n"), None);
    }

    #[test]
    fn sender_reports() {
        let r = sender_report("Terminated\nsent rc=143 t0=27.10 t1=30.12\n").unwrap();
        assert_eq!(r.exit, 143);
        assert!((r.elapsed.as_secs_f64() - 3.02).abs() < 1e-9);
        assert_eq!(sender_report("sent rc=1 t0=5 t1=4"), None);
        assert_eq!(sender_report("nothing"), None);
    }
}
