//! The `network` check: addressing, reachability (ICMP and TCP), the gateway,
//! DNS, the MTU and throughput, between the host side and every guest and
//! between the guests of a case.
//!
//! Every measurement is its own testcase, named for what it measured
//! (`network.ping: host -> a`, `network.ping: a -> b`, `network.mtu: a`), with
//! its figures as properties (`network.ping.host->a.rtt_avg_ms`). Host-side
//! probes run inside the host's network namespace when it has one (the lab's),
//! on this machine otherwise; guest-side probes run over SSH with the guest's
//! own tools. A tool the guest lacks makes its sub-check `skipped` with the
//! reason, not failed.

mod host;
mod jump_tcp;
mod parse;
mod remote;
mod script;
mod subject;
mod throughput;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::env::{CheckEnv, StepFailure, SubResult};
use crate::plan::{GuestNetwork, GuestSpec, NetworkCheck, NetworkSubCheck};

use subject::{Cx, Figures, Subject, blocking, skipped};
pub use subject::{property, testcase};

/// Runs one measurement, `$f(ARGS.., &mut Figures)`, as a testcase pushed to `$out`.
macro_rules! measure {
    ($out:ident, $kind:literal, $path:expr, $f:ident $(:: $g:ident)?($($arg:expr),*)) => {{
        let mut fig = Figures::new($kind, $path);
        let started = Instant::now();
        let result = $f $(:: $g)?($($arg,)* &mut fig).await;
        $out.push(fig.finish(started, result));
    }};
}

/// One TCP connection attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs the sub-checks `spec` chooses on the guests of the case. `specs` are the
/// case's guest definitions (for each guest's addressing mode).
pub async fn run(env: &CheckEnv<'_>, spec: &NetworkCheck, specs: &[GuestSpec]) -> Vec<SubResult> {
    let cx = Cx::new(env, spec);
    let mut subjects = Vec::new();
    for g in env.guests {
        let network = specs.iter().find(|s| s.name == g.name).map(|s| &s.network);
        subjects.push(Subject::new(&cx, g, network).await);
    }
    let mut out = Vec::new();
    for sub in &spec.checks {
        match sub {
            NetworkSubCheck::Address => {
                for g in &subjects {
                    measure!(out, "address", &g.name, address(&cx, g));
                }
            }
            NetworkSubCheck::Ping => {
                for g in &subjects {
                    measure!(out, "ping", format!("host -> {}", g.name), ping_from_host(&cx, g));
                    measure!(out, "ping", format!("{} -> host", g.name), ping_to_host(&cx, g));
                }
            }
            NetworkSubCheck::Tcp => {
                for g in &subjects {
                    measure!(out, "tcp", format!("host -> {}", g.name), tcp_from_host(&cx, g));
                    measure!(out, "tcp", format!("{} -> host", g.name), tcp_to_host(&cx, g));
                }
            }
            NetworkSubCheck::Gateway => {
                for g in &subjects {
                    measure!(out, "gateway", &g.name, gateway(&cx, g));
                }
            }
            NetworkSubCheck::Dns => {
                for g in &subjects {
                    measure!(out, "dns", &g.name, dns(&cx, g));
                }
            }
            NetworkSubCheck::Peers => {
                if subjects.len() < 2 {
                    out.push(SubResult {
                        name: "network.peers".into(),
                        duration: Duration::ZERO,
                        result: Err(skipped(
                            "the case has one guest: `peers` needs two or more (`cluster:` or `count:`)",
                        )),
                        properties: Vec::new(),
                    });
                }
                for (a, b) in ordered_pairs(&subjects) {
                    measure!(out, "ping", format!("{} -> {}", a.name, b.name), ping_peer(&cx, a, b));
                }
            }
            NetworkSubCheck::Mtu => {
                for g in &subjects {
                    measure!(out, "mtu", &g.name, mtu(&cx, g));
                }
            }
            NetworkSubCheck::Throughput => {
                for g in &subjects {
                    let path = format!("host -> {}", g.name);
                    measure!(out, "throughput", path, throughput::from_host(&cx, g));
                }
                for pair in subjects.windows(2) {
                    let (a, b) = (&pair[0], &pair[1]);
                    let path = format!("{} -> {}", a.name, b.name);
                    measure!(out, "throughput", path, throughput::between(&cx, a, b));
                }
            }
        }
    }
    out
}

/// Every (from, to) pair of distinct items, in order.
fn ordered_pairs<T>(items: &[T]) -> Vec<(&T, &T)> {
    let mut out = Vec::new();
    for (i, a) in items.iter().enumerate() {
        for (j, b) in items.iter().enumerate() {
            if i != j {
                out.push((a, b));
            }
        }
    }
    out
}

/// Judges a ping's output: every echo answered (or no more loss than allowed).
fn judge_ping(cx: &Cx<'_>, fig: &mut Figures, output: &str, target: &str) -> Result<(), StepFailure> {
    let Some(stats) = parse::ping_stats(output) else {
        return Err(StepFailure::failed(format!(
            "ping to {target} printed no statistics: {}",
            parse::ping_evidence(output)
        ))
        .with_detail(output.to_string()));
    };
    fig.ping(&stats);
    let evidence = || output.to_string();
    if stats.received == 0 {
        return Err(StepFailure::failed(format!(
            "no reply from {target}: {} sent, 0 received (100% loss)",
            stats.sent
        ))
        .with_detail(evidence()));
    }
    if !cx.loss_allowed(stats.loss_pct()) {
        return Err(StepFailure::failed(format!(
            "{:.0}% loss to {target} ({} sent, {} received), more than the allowed {}%",
            stats.loss_pct(),
            stats.sent,
            stats.received,
            cx.spec.max_loss_pct
        ))
        .with_detail(evidence()));
    }
    Ok(())
}

/// Judges a series of TCP attempts: connected ones with their times, failures with their reasons.
fn judge_tcp(
    cx: &Cx<'_>,
    fig: &mut Figures,
    attempts: u32,
    results: &[Result<Duration, String>],
    what: &str,
) -> Result<(), StepFailure> {
    let times: Vec<Duration> = results.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
    let connected = times.len() as u32;
    let loss = parse::loss_pct(attempts, connected);
    fig.add("attempts", attempts);
    fig.add("connected", connected);
    fig.add("loss_pct", format!("{loss:.1}"));
    if let Some(r) = parse::rtt_of(&times) {
        fig.rtt("rtt", r);
    }
    let last_error =
        results.iter().rev().find_map(|r| r.as_ref().err()).map(|e| format!(" (last error: {e})")).unwrap_or_default();
    if connected == 0 {
        return Err(StepFailure::failed(format!("{what}: none of {attempts} attempts connected{last_error}")));
    }
    if !cx.loss_allowed(loss) {
        return Err(StepFailure::failed(format!(
            "{what}: {connected} of {attempts} attempts connected ({loss:.0}% loss, more than the allowed {}%){last_error}",
            cx.spec.max_loss_pct
        )));
    }
    Ok(())
}

/// The guest has the address the host side knows for it.
async fn address(cx: &Cx<'_>, g: &Subject<'_>, fig: &mut Figures) -> Result<(), StepFailure> {
    let r = g.with_tools(&["ip"])?;
    let own: Vec<String> = r.facts.addrs.iter().map(ToString::to_string).collect();
    fig.add("guest", own.join(", "));
    if own.is_empty() {
        return Err(StepFailure::failed(format!("`{}` has no address besides loopback (`ip -o addr`)", g.name)));
    }
    let mut views: Vec<(String, IpAddr)> = Vec::new();
    match g.network {
        Some(GuestNetwork::Static { address, .. }) => {
            let a = address
                .split('/')
                .next()
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| StepFailure::error(format!("cannot read the static address `{address}`")))?;
            fig.add("static", address);
            views.push(("the scenario's static address".into(), a));
        }
        _ => {
            if let Some(file) = &cx.spec.lease_file {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| StepFailure::error(format!("cannot read the lease file {}: {e}", file.display())))?;
                let lease = parse::lease_for(&text, &g.guest.mac).ok_or_else(|| {
                    StepFailure::failed(format!(
                        "no DHCP lease for `{}` (MAC {}) in {}",
                        g.name,
                        g.guest.mac,
                        file.display()
                    ))
                })?;
                fig.add("lease", lease);
                views.push((format!("its DHCP lease in {}", file.display()), lease));
            }
        }
    }
    if let Some(a) = super::boot::announced_address(&g.guest.console.text()) {
        fig.add("console", a);
        views.push(("its console announcement".into(), a));
    }
    if let Ok(pairs) = g.guest.domain.arp_addresses().await
        && let Some(a) = pairs
            .iter()
            .filter(|(m, _)| m.eq_ignore_ascii_case(&g.guest.mac))
            .find_map(|(_, a)| a.parse::<IpAddr>().ok())
    {
        fig.add("arp", a);
        views.push(("libvirt's ARP view".into(), a));
    }
    if views.is_empty() {
        views.push(("the address SSH reached".into(), r.addr));
    }
    let wrong: Vec<String> = views
        .iter()
        .filter(|(_, a)| !r.facts.addrs.iter().any(|x| x.addr == *a))
        .map(|(what, a)| format!("{what} says {a}"))
        .collect();
    if !wrong.is_empty() {
        return Err(StepFailure::failed(format!(
            "the host side and `{}` disagree: {}, but the guest has {}",
            g.name,
            wrong.join("; "),
            own.join(", ")
        )));
    }
    Ok(())
}

async fn ping_from_host(cx: &Cx<'_>, g: &Subject<'_>, fig: &mut Figures) -> Result<(), StepFailure> {
    let r = g.ready()?;
    if let Some(shell) = &cx.jump_shell {
        fig.add("from", "jump host");
        let output = remote::ping(shell, r.addr, cx.spec.count, cx.command_timeout()).await?;
        return judge_ping(cx, fig, &output, &format!("`{}` ({})", g.name, r.addr));
    }
    let side = cx.side()?.clone();
    let tool = cx
        .ping_tool
        .clone()
        .ok_or_else(|| skipped("this machine has neither `ping` nor `busybox` to send ICMP echo requests"))?;
    let (addr, count) = (r.addr, cx.spec.count);
    let output = blocking(move || host::ping(&side, &tool, addr, count))
        .await
        .map_err(|e| StepFailure::error(format!("cannot ping from the host side: {e}")))?;
    judge_ping(cx, fig, &output, &format!("`{}` ({addr})", g.name))
}

async fn ping_to_host(cx: &Cx<'_>, g: &Subject<'_>, fig: &mut Figures) -> Result<(), StepFailure> {
    let r = g.with_tools(&["ping"])?;
    let host = r.host_addr.clone()?;
    fig.add("target", host);
    let out = g.exec(&script::ping(host, cx.spec.count, None), cx.command_timeout()).await?;
    judge_ping(cx, fig, &out.stdout, &format!("the host side ({host})"))
}

async fn tcp_from_host(cx: &Cx<'_>, g: &Subject<'_>, fig: &mut Figures) -> Result<(), StepFailure> {
    let r = g.ready()?;
    let target = SocketAddr::new(r.addr, cx.spec.tcp_port);
    let count = cx.spec.count;
    fig.add("port", target.port());
    if let Some(shell) = &cx.jump_shell {
        fig.add("from", "jump host");
        // Timed inside one Python process; without Python, with bash (whose
        // figure includes starting a process for each attempt).
        let results = match jump_tcp::connect_times(shell, target, count, cx.command_timeout()).await {
            Err(f) if f.outcome == crate::events::Outcome::Skipped => {
                fig.add("timer", "bash");
                remote::connect_times(shell, target, count, cx.command_timeout()).await?
            }
            r => r?,
        };
        return judge_tcp(cx, fig, count, &results, &format!("TCP to `{}` at {target}", g.name));
    }
    let side = cx.side()?.clone();
    let results = blocking(move || host::connect_times(&side, target, count, CONNECT_TIMEOUT))
        .await
        .map_err(|e| StepFailure::error(format!("cannot open TCP connections from the host side: {e}")))?;
    judge_tcp(cx, fig, count, &results, &format!("TCP to `{}` at {target}", g.name))
}

async fn tcp_to_host(cx: &Cx<'_>, g: &Subject<'_>, fig: &mut Figures) -> Result<(), StepFailure> {
    let r = g.with_tools(&["nc"])?;
    if let Some(shell) = &cx.jump_shell {
        return tcp_to_jump_host(cx, g, shell, fig).await;
    }
    let side = cx.side()?.clone();
    let host = r.host_addr.clone()?;
    let listener = blocking(move || host::listen(&side, host))
        .await
        .map_err(|e| StepFailure::error(format!("cannot listen on {host} on the host side: {e}")))?;
    let port = listener.local_addr().map(|a| a.port()).map_err(|e| StepFailure::error(e.to_string()))?;
    fig.add("target", SocketAddr::new(host, port));
    let count = cx.spec.count;
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + cx.command_timeout();
    let server = {
        let stop = stop.clone();
        tokio::task::spawn_blocking(move || host::serve_echoes(listener, count, deadline, stop))
    };
    let out = g.exec(&script::connect_back(host, port, count), cx.command_timeout()).await;
    stop.store(true, Ordering::SeqCst);
    let results = server.await.map_err(|e| StepFailure::error(format!("the listening thread died: {e}")))?;
    let out = out?;
    judge_tcp(cx, fig, count, &results, &format!("TCP from `{}` to the host side at {host}:{port}", g.name))
        .map_err(|f| f.with_detail(format!("in the guest:\n{}{}", out.stdout, out.stderr)))
}

/// `tcp_to_host` when the host side is a jump host: its listener runs there.
async fn tcp_to_jump_host(
    cx: &Cx<'_>,
    g: &Subject<'_>,
    shell: &crate::backend::host_shell::HostShell,
    fig: &mut Figures,
) -> Result<(), StepFailure> {
    let r = g.ready()?;
    let host = r.host_addr.clone()?;
    let count = cx.spec.count;
    let limit = cx.command_timeout() + Duration::from_secs(10);
    let server = jump_tcp::EchoServer::start(shell, cx.env.run_dir_on_host, host, count, limit).await?;
    let port = server.port;
    fig.add("from", "jump host");
    fig.add("target", SocketAddr::new(host, port));
    let out = g.exec(&script::connect_back(host, port, count), cx.command_timeout()).await;
    let results = server.finish().await?;
    let out = out?;
    judge_tcp(cx, fig, count, &results, &format!("TCP from `{}` to the jump host at {host}:{port}", g.name))
        .map_err(|f| f.with_detail(format!("in the guest:\n{}{}", out.stdout, out.stderr)))
}

async fn gateway(cx: &Cx<'_>, g: &Subject<'_>, fig: &mut Figures) -> Result<(), StepFailure> {
    let r = g.with_tools(&["ping"])?;
    let Some(gw) = r.facts.gateway else {
        if let Some(GuestNetwork::Static { gateway: None, .. }) = g.network {
            return Err(skipped(format!("`{}` has a static address without a gateway", g.name)));
        }
        return Err(StepFailure::failed(format!(
            "`{}` has no default route (`ip route show default` is empty)",
            g.name
        )));
    };
    fig.add("target", gw);
    let out = g.exec(&script::ping(gw, cx.spec.count, None), cx.command_timeout()).await?;
    judge_ping(cx, fig, &out.stdout, &format!("the gateway {gw}"))
}

async fn dns(cx: &Cx<'_>, g: &Subject<'_>, fig: &mut Figures) -> Result<(), StepFailure> {
    let name = cx.spec.dns_name.as_deref().ok_or_else(|| skipped("no `dns_name` is set for the network check"))?;
    g.with_tools(&["nslookup"])?;
    fig.add("name", name);
    let out = g.exec(&script::nslookup(name), cx.command_timeout()).await?;
    let answer = out.stdout.split("--- /etc/resolv.conf").next().unwrap_or_default();
    let addrs = parse::nslookup_addresses(answer);
    if addrs.is_empty() {
        return Err(StepFailure::failed(format!("`{}` cannot resolve `{name}`", g.name)).with_detail(out.stdout));
    }
    fig.add("addresses", addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "));
    Ok(())
}

async fn ping_peer(cx: &Cx<'_>, a: &Subject<'_>, b: &Subject<'_>, fig: &mut Figures) -> Result<(), StepFailure> {
    a.with_tools(&["ping"])?;
    let to = b.ready()?.addr;
    fig.add("target", to);
    let out = a.exec(&script::ping(to, cx.spec.count, None), cx.command_timeout()).await?;
    judge_ping(cx, fig, &out.stdout, &format!("`{}` ({to})", b.name))
}

async fn mtu(cx: &Cx<'_>, g: &Subject<'_>, fig: &mut Figures) -> Result<(), StepFailure> {
    let r = g.with_tools(&["ping"])?;
    if !r.facts.has("ping-df") {
        return Err(skipped(format!(
            "the `ping` of `{}` cannot forbid fragmentation (`-M do`): it is not iputils ping",
            g.name
        )));
    }
    let iface = r
        .facts
        .iface_of(r.addr)
        .or_else(|| r.facts.addrs.first().map(|a| a.iface.as_str()))
        .ok_or_else(|| StepFailure::failed(format!("`{}` has no address besides loopback", g.name)))?;
    let mtu = r
        .facts
        .mtu_of(iface)
        .ok_or_else(|| skipped(format!("cannot read the MTU of {iface} in `{}` (/sys/class/net)", g.name)))?;
    let target = match (&r.host_addr, r.facts.gateway) {
        (Ok(h), _) => *h,
        (Err(_), Some(gw)) => gw,
        (Err(f), None) => return Err(f.clone()),
    };
    let overhead = if target.is_ipv4() { 28 } else { 48 };
    let payload = mtu.checked_sub(overhead).filter(|p| *p > 0).ok_or_else(|| {
        StepFailure::failed(format!("the MTU of {iface} in `{}` is {mtu}, too small for a ping", g.name))
    })?;
    fig.add("iface", iface);
    fig.add("mtu", mtu);
    fig.add("payload", payload);
    fig.add("target", target);
    let out = g.exec(&script::ping(target, cx.spec.count, Some(payload)), cx.command_timeout()).await?;
    judge_ping(cx, fig, &out.stdout, &format!("{target}")).map_err(|mut f| {
        f.message = format!("{mtu}-byte packets (the MTU of {iface}) with do-not-fragment set: {}", f.message);
        f
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_readable() {
        assert_eq!(testcase("ping", "host -> a"), "network.ping: host -> a");
        assert_eq!(testcase("mtu", "tiny-2"), "network.mtu: tiny-2");
        assert_eq!(property("ping", "a -> tiny-2", "rtt_avg_ms"), "network.ping.a->tiny-2.rtt_avg_ms");
        assert_eq!(property("dns", "a", "addresses"), "network.dns.a.addresses");
    }

    #[test]
    fn pairs_go_both_ways() {
        let names = ["a", "b", "c"];
        let pairs: Vec<String> = ordered_pairs(&names).into_iter().map(|(x, y)| format!("{x}{y}")).collect();
        assert_eq!(pairs, ["ab", "ac", "ba", "bc", "ca", "cb"]);
        assert!(ordered_pairs(&["a"]).is_empty());
    }
}
