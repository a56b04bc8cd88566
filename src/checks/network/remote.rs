//! The host side of the measurements when the guests' network is reached only
//! through the host's `jump` (a Xen dom0): the probes run on that host, over
//! its SSH, with the tools it has (`ip`, `ping`, `bash`). What a host lacks is
//! named in the skip. The guest-side half is the same as everywhere.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::backend::host_shell::{HostShell, ShellError};
use crate::checks::env::StepFailure;
use crate::events::Outcome;

/// Pause between two TCP attempts, as on this machine.
const BETWEEN: &str = "0.05";

fn failed(what: &str, e: &ShellError) -> StepFailure {
    StepFailure::error(format!("{what} on the jump host: {}", crate::error_chain(e)))
}

/// Runs `script` there; a missing tool (exit 127 from `need`) is a skip naming it.
async fn run(shell: &HostShell, script: &str, timeout: Duration, what: &str) -> Result<String, StepFailure> {
    run_needing(shell, script, timeout, what, &needs(script)).await
}

/// Runs `script` there; exit 127 is a skip saying the host lacks `tools`.
pub(super) async fn run_needing(
    shell: &HostShell,
    script: &str,
    timeout: Duration,
    what: &str,
    tools: &str,
) -> Result<String, StepFailure> {
    match shell.run_within(script, timeout).await {
        Ok(out) => Ok(out),
        Err(ShellError::Failed { status, .. }) if status.rsplit([' ', ':']).next() == Some("127") => {
            let message = format!("{what}: the jump host lacks a tool it needs ({tools})");
            Err(StepFailure { outcome: Outcome::Skipped, message, detail: None })
        }
        Err(e) => Err(failed(what, &e)),
    }
}

/// The tools a script checks for with `need`.
fn needs(script: &str) -> String {
    script
        .split("need ")
        .skip(1)
        .filter_map(|rest| rest.split([';', ' ']).next())
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

const NEED: &str = "need() { command -v \"$1\" >/dev/null 2>&1 || exit 127; }; ";

/// The host's own address on the way to `guest` (`ip route get`).
pub async fn address_towards(shell: &HostShell, guest: IpAddr, timeout: Duration) -> Result<IpAddr, StepFailure> {
    let script = format!("{NEED}need ip; ip -o route get {guest}");
    let out = run(shell, &script, timeout, "finding the host side's address").await?;
    route_source(&out).ok_or_else(|| {
        StepFailure::error(format!("the jump host has no route to {guest} with a source address: {}", out.trim()))
    })
}

/// `10.88.1.20 dev xenbr0 src 10.88.0.1 uid 0 \    cache` → 10.88.0.1.
pub fn route_source(out: &str) -> Option<IpAddr> {
    let mut words = out.split_whitespace();
    words.find(|w| *w == "src")?;
    words.next()?.parse().ok()
}

/// `count` echo requests from the host to `target`; what ping printed (it
/// may have exited non-zero: the output is judged, not the status).
pub async fn ping(shell: &HostShell, target: IpAddr, count: u32, timeout: Duration) -> Result<String, StepFailure> {
    let script = format!("{NEED}need ping; ping -n -c {count} -i 0.2 -W 2 {target} 2>&1; true");
    run(shell, &script, timeout, "ping from the host side").await
}

/// `count` TCP connections from the host to `addr`, each timed (bash's
/// `/dev/tcp`, `date +%s%N`); one result per attempt.
pub async fn connect_times(
    shell: &HostShell,
    addr: SocketAddr,
    count: u32,
    timeout: Duration,
) -> Result<Vec<Result<Duration, String>>, StepFailure> {
    let (ip, port) = (addr.ip(), addr.port());
    let inner = format!(
        "for i in $(seq {count}); do s=$(date +%s%N); \
         if timeout 5 bash -c 'exec 3<>/dev/tcp/{ip}/{port}' 2>/dev/null; then echo ok $(( $(date +%s%N) - s )); \
         else echo fail $?; fi; sleep {BETWEEN}; done"
    );
    let script = format!("{NEED}need bash; need timeout; need seq; bash -c {}", crate::shell::quote(&inner));
    let out = run(shell, &script, timeout, "TCP connections from the host side").await?;
    Ok(parse_connects(&out))
}

/// `ok NANOS` / `fail STATUS` lines → per-attempt results.
pub fn parse_connects(out: &str) -> Vec<Result<Duration, String>> {
    out.lines()
        .filter_map(|l| match l.split_once(' ') {
            Some(("ok", n)) => n.trim().parse().ok().map(|n| Ok(Duration::from_nanos(n))),
            Some(("fail", s)) => Some(Err(match s.trim() {
                "124" => "timed out after 5 s".to_string(),
                other => format!("refused or unreachable (bash exit {other})"),
            })),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_names_the_source_address() {
        let out = "10.88.1.20 dev xenbr0 src 10.88.0.1 uid 0 \\    cache \n";
        assert_eq!(route_source(out), Some("10.88.0.1".parse().unwrap()));
        assert_eq!(route_source("unreachable"), None);
    }

    #[test]
    fn connect_lines_become_results() {
        let r = parse_connects("ok 1200000\nfail 124\nfail 1\nnoise\n");
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], Ok(Duration::from_micros(1200)));
        assert_eq!(r[1], Err("timed out after 5 s".to_string()));
        assert!(r[2].as_ref().unwrap_err().contains("refused"));
    }

    #[test]
    fn a_missing_tool_is_named() {
        assert_eq!(needs(&format!("{NEED}need bash; need timeout; x")), "`bash`, `timeout`");
    }

    #[tokio::test]
    async fn measures_through_this_machines_shell() {
        let shell = HostShell::Local;
        let t = Duration::from_secs(30);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(address_towards(&shell, lo, t).await.unwrap(), lo);
        let out = ping(&shell, lo, 2, t).await.unwrap();
        assert!(out.contains("2 received"), "{out}");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let r = connect_times(&shell, addr, 2, t).await.unwrap();
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|x| x.is_ok()), "{r:?}");
        drop(listener);
        let r = connect_times(&shell, addr, 1, t).await.unwrap();
        assert!(r[0].is_err(), "{r:?}");
    }
}
