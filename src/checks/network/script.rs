//! The shell commands the network check runs inside guests (POSIX sh; busybox
//! applets or iputils `ping`). Every value put in them is an address, a number
//! or a DNS name already checked to hold no shell characters.

use std::net::IpAddr;
use std::time::Duration;

/// Which tools the guest has, its addresses, default route and MTUs
/// (read by [`super::parse::guest_facts`]).
pub const PROBE: &str = r#"for t in ping nc nslookup ip timeout wc mkfifo; do command -v $t >/dev/null 2>&1 && echo "tool $t"; done
ping -V 2>&1 | grep -q iputils && echo "tool ping-df"
ip -o addr show 2>/dev/null
ip route show default 2>/dev/null
for i in /sys/class/net/*; do [ -r "$i/mtu" ] && echo "mtu ${i##*/} $(cat "$i/mtu")"; done
true"#;

/// Seconds between echo requests.
pub const PING_INTERVAL: &str = "0.2";

/// Seconds ping waits for a reply once it has sent everything (iputils: for any
/// reply at all; busybox: after the last request). Not `-w`: with a deadline
/// both keep sending past `-c` while replies are missing, which would distort
/// the loss figures.
pub const PING_WAIT: &str = "2";

/// How long a ping of `count` echoes may take at most: the interval for each,
/// the wait for the last reply, and some slack.
pub fn ping_budget(count: u32) -> std::time::Duration {
    std::time::Duration::from_secs(u64::from((count * 2).div_ceil(10)) + 2 + 3)
}

/// `count` echo requests to `target`; with `df_payload`, do-not-fragment
/// packets of that many payload bytes (iputils `ping -M do -s N`).
pub fn ping(target: IpAddr, count: u32, df_payload: Option<u32>) -> String {
    let df = df_payload.map(|s| format!(" -M do -s {s}")).unwrap_or_default();
    format!("ping -c {count} -i {PING_INTERVAL} -W {PING_WAIT}{df} {target} 2>&1")
}

/// `count` TCP connections to `host:port`; each runs `cat` on the socket, so
/// the host side can time an echo through it.
pub fn connect_back(host: IpAddr, port: u16, count: u32) -> String {
    format!(
        "i=0; while [ $i -lt {count} ]; do i=$((i+1)); nc -w 3 {host} {port} -e cat; echo \"nc-exit $?\"; done 2>&1"
    )
}

/// Resolves `name` with the guest's resolver configuration.
pub fn nslookup(name: &str) -> String {
    format!("nslookup {name} 2>&1; echo \"--- /etc/resolv.conf\"; cat /etc/resolv.conf 2>&1")
}

/// Receives one TCP connection on `port`, discards the data and prints how many
/// bytes came (`wc -c`). Standard input is a FIFO nobody writes to, so `nc` never
/// sees end-of-file there and never closes its side early. Gives up after `limit`.
pub fn receiver(port: u16, limit: Duration) -> String {
    let fifo = format!("/tmp/virtsmoke-nc-{port}");
    format!(
        "rm -f {fifo}; mkfifo {fifo} || exit 1; timeout {} nc -l -p {port} 0<>{fifo} | wc -c; rm -f {fifo}",
        limit.as_secs().max(1)
    )
}

/// Sends zeros to `peer:port` for `seconds`, retrying while the receiver is not
/// listening yet; prints `sent rc=EXIT t0=UPTIME t1=UPTIME` (exit 143: stopped by
/// `timeout` after sending the whole time).
pub fn sender(peer: IpAddr, port: u16, seconds: u64) -> String {
    format!(
        "n=0; while :; do t0=$(cut -d' ' -f1 /proc/uptime); timeout {seconds} nc {peer} {port} </dev/zero; rc=$?; \
         t1=$(cut -d' ' -f1 /proc/uptime); [ $rc -eq 143 ] && break; n=$((n+1)); [ $n -ge 40 ] && break; sleep 0.25; done 2>&1; \
         echo \"sent rc=$rc t0=$t0 t1=$t1\""
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_commands() {
        let a: IpAddr = "10.77.0.1".parse().unwrap();
        assert_eq!(ping(a, 3, None), "ping -c 3 -i 0.2 -W 2 10.77.0.1 2>&1");
        assert_eq!(ping(a, 10, Some(1472)), "ping -c 10 -i 0.2 -W 2 -M do -s 1472 10.77.0.1 2>&1");
        assert_eq!(ping_budget(1), Duration::from_secs(6));
    }

    #[test]
    fn transfer_commands() {
        assert_eq!(
            receiver(5201, Duration::from_secs(23)),
            "rm -f /tmp/virtsmoke-nc-5201; mkfifo /tmp/virtsmoke-nc-5201 || exit 1; \
             timeout 23 nc -l -p 5201 0<>/tmp/virtsmoke-nc-5201 | wc -c; rm -f /tmp/virtsmoke-nc-5201"
        );
        let s = sender("10.77.0.9".parse().unwrap(), 5201, 3);
        assert!(s.contains("timeout 3 nc 10.77.0.9 5201 </dev/zero"), "{s}");
        assert!(s.ends_with("echo \"sent rc=$rc t0=$t0 t1=$t1\""), "{s}");
        assert_eq!(
            connect_back("10.77.0.1".parse().unwrap(), 40000, 2),
            "i=0; while [ $i -lt 2 ]; do i=$((i+1)); nc -w 3 10.77.0.1 40000 -e cat; echo \"nc-exit $?\"; done 2>&1"
        );
    }
}
