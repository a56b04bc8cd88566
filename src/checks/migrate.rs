//! The migrate check: moves a guest between hosts, `rounds` times (there and
//! back), and proves after every move that it is the same, still running guest.
//! Downtime is measured three ways: a 100 Hz probe's largest gap, the
//! hypervisor's own figure, and the migration's total time.

use std::time::{Duration, Instant};

use super::env::{CaseEnv, GuestUnderTest, HostRef, StepFailure, SubResult};
use super::probe::ProbeFigures;
use super::probe_remote::{DowntimeProbe, ProbeFrom};
use crate::backend::Host;
use crate::backend::RunState;
use crate::backend::host_shell::HostShell;
use crate::backend::migrate::MigrateOptions;
use crate::events::Outcome;
use crate::guest::ssh::{self, SshSession};
use crate::plan::{MigrateCheck, SshContinuity};

/// Both ends of the ping-pong.
pub struct Endpoints<'a> {
    pub home: &'a Host,
    pub away: &'a Host,
    /// The hosts' own shells and families, for the hypervisor's logs of a
    /// failed move.
    pub shells: [HostLogs; 2],
    /// Where the host-side probe runs from: the home host's namespace in the
    /// KVM lab, or the home host's own shell behind a `jump` (a dom0).
    pub probe_from: ProbeFrom<'a>,
}

/// Where a host's hypervisor logs of a failed migration are read.
pub struct HostLogs {
    pub shell: HostShell,
    pub platform: &'static dyn crate::hypervisor::Platform,
}

impl HostLogs {
    fn of(spec: &crate::plan::HostSpec) -> HostLogs {
        HostLogs { shell: crate::hostaccess::shell_for(spec), platform: crate::hypervisor::for_host(spec.hypervisor) }
    }

    /// The hypervisor's error lines about `domain` on host `host` since
    /// `since` (a minute's slack for the host's clock), joined for a
    /// message; empty when there are none or they cannot be read.
    async fn errors_since(&self, host: &str, domain: &str, since: std::time::SystemTime) -> String {
        let Some(command) = self.platform.migration_log_command(domain) else { return String::new() };
        let Ok(out) = self.shell.run_within(&command, SHORT).await else { return String::new() };
        let lines = log_lines_since(&out, since - Duration::from_secs(60));
        if lines.is_empty() { String::new() } else { format!("; {host}'s hypervisor log: {}", lines.join(" | ")) }
    }
}

/// The lines of `out` stamped (`YYYY-MM-DD HH:MM:SS`, UTC) at or after
/// `since`, stamps and trailing noise dropped; the last five.
pub fn log_lines_since(out: &str, since: std::time::SystemTime) -> Vec<String> {
    let from = humantime::format_rfc3339_seconds(since).to_string().replace('T', " ");
    let from = &from[..from.len().min(19)];
    let mut picked: Vec<String> = out
        .lines()
        .filter(|l| l.len() > 19 && l.is_char_boundary(19) && &l[..19] >= from)
        .map(|l| l.split_once(": ").map_or(l, |(_, rest)| rest).trim().to_string())
        .collect();
    picked.dedup();
    let skip = picked.len().saturating_sub(5);
    picked.split_off(skip)
}

/// The probe runs on the home host through its `jump` when it has one (the
/// guests' bridge is reached only from there), else from this machine.
pub fn probe_from<'a>(env: &'a CaseEnv<'_>) -> ProbeFrom<'a> {
    if env.home.spec.jump.is_some() {
        ProbeFrom::Host { shell: crate::hostaccess::shell_for(env.home.spec), dir: &env.run_dir_on_host }
    } else {
        ProbeFrom::Here { netns: env.home.spec.netns.as_deref() }
    }
}

fn options(spec: &MigrateCheck) -> MigrateOptions {
    MigrateOptions {
        live: spec.live,
        peer_to_peer: spec.peer_to_peer,
        tunnelled: spec.tunnelled,
        persistent: spec.persistent,
        undefine_source: spec.undefine_source,
        copy_storage: spec.copy_storage,
        bandwidth_mib_s: spec.bandwidth_mib_s,
        max_downtime_ms: spec.allowed_downtime_ms,
    }
}

const SHORT: Duration = Duration::from_secs(20);

/// Whether `name` (with `spec`) is a host a migration with the `named` target goes to.
fn is_target(name: &str, spec: &crate::plan::HostSpec, named: Option<&str>) -> bool {
    match named {
        Some(n) => name == n,
        None => spec.roles.iter().any(|r| r == "migration-target"),
    }
}

/// The hosts of the run a migrate check may move guests to.
pub fn hosts_needed<'a>(
    spec: &MigrateCheck,
    hosts: &'a std::collections::BTreeMap<String, crate::plan::HostSpec>,
) -> Vec<&'a String> {
    hosts.iter().filter(|(name, h)| is_target(name, h, spec.target.as_deref())).map(|(name, _)| name).collect()
}

/// The host a migration moves guests to: the named one, or the first other
/// usable host with the role `migration-target`.
pub fn target<'a>(others: &[HostRef<'a>], named: Option<&str>) -> Option<HostRef<'a>> {
    others.iter().copied().find(|h| is_target(&h.spec.name, h.spec, named))
}

/// The migrate check: every guest in turn, until one fails.
pub async fn check(env: &CaseEnv<'_>, spec: &MigrateCheck, guests: &mut [GuestUnderTest]) -> Vec<SubResult> {
    let t = Instant::now();
    let Some(away) = target(&env.others, spec.target.as_deref()) else {
        let why = match &spec.target {
            Some(t) => format!("migration target host `{t}` is not usable in this run"),
            None => "no other usable host has the role `migration-target`".to_string(),
        };
        return vec![SubResult {
            name: "migrate".into(),
            duration: t.elapsed(),
            result: Err(StepFailure::error(why)),
            properties: vec![],
        }];
    };
    let shells = [HostLogs::of(env.home.spec), HostLogs::of(away.spec)];
    let ends = Endpoints { home: env.home.host, away: away.host, shells, probe_from: probe_from(env) };
    let builds = builds_differ(&env.home, &away, spec.rounds);
    let mut out = Vec::new();
    for g in guests.iter_mut() {
        let console = env.case_dir.join(format!("{}.console.log", g.name));
        let mut results = run(g, &ends, spec, &console).await;
        if let Some(note) = &builds {
            warn_of_builds(&mut results, spec.name(), note);
        }
        let failed = results.iter().any(|r| r.result.is_err());
        out.extend(results);
        if failed {
            break;
        }
    }
    out
}

/// The hypervisor build a host runs: Xen's version from dom0, else libvirt's
/// figure for the hypervisor.
fn build_of<'a>(h: &HostRef<'a>) -> &'a str {
    h.facts.extra.get("xen_version").unwrap_or(&h.facts.hypervisor_version)
}

/// When a ping-pong (`rounds` > 1) goes between hosts of different
/// hypervisor builds, what to expect: known only at run time, from the hosts.
fn builds_differ(home: &HostRef<'_>, away: &HostRef<'_>, rounds: u32) -> Option<String> {
    let (a, b) = (build_of(home), build_of(away));
    (rounds > 1 && a != b).then(|| {
        format!(
            "{} runs {} {a} and {} runs {b}: a hypervisor restores only a stream from its own or an older \
             build, so moves to the older one are expected to be refused; `rounds: 1` from the older host \
             tests the upgrade path",
            home.spec.name, home.facts.hypervisor, away.spec.name
        )
    })
}

/// Records `note` with the check's first round and adds it to a failed round's message.
fn warn_of_builds(results: &mut [SubResult], label: &str, note: &str) {
    if let Some(first) = results.first_mut() {
        first.properties.push((format!("{label}.builds_differ"), note.to_string()));
    }
    for r in results.iter_mut() {
        if let Err(f) = &mut r.result {
            f.message.push_str(&format!(" (note: {note})"));
        }
    }
}

/// Runs every round for one guest; each round is one testcase.
pub async fn run(
    guest: &mut GuestUnderTest,
    ends: &Endpoints<'_>,
    spec: &MigrateCheck,
    console: &std::path::Path,
) -> Vec<SubResult> {
    let mut out = Vec::new();
    let mut worst_gap: Option<f64> = None;
    let mut worst_hv: Option<u64> = None;
    let mut worst_total: u128 = 0;
    let label = spec.name();
    for round in 1..=spec.rounds {
        let (from, to) = if round % 2 == 1 { (ends.home, ends.away) } else { (ends.away, ends.home) };
        let logs = &ends.shells[(round as usize + 1) % 2];
        let to_logs = &ends.shells[round as usize % 2];
        let name = format!("{label}.round-{round}: {} -> {}", from.name, to.name);
        let t = Instant::now();
        let r = one_round(guest, (from, logs), (to, to_logs), &ends.probe_from, spec, console).await;
        let mut props = Vec::new();
        let result = match r {
            Ok(fig) => {
                let prefix = format!("{}.{label}.round-{round}", guest.name);
                props.push((format!("{prefix}.migration_ms"), fig.migration.as_millis().to_string()));
                worst_total = worst_total.max(fig.migration.as_millis());
                if let Some(total) = fig.hypervisor_total_ms {
                    props.push((format!("{prefix}.hypervisor_migration_ms"), total.to_string()));
                }
                if let Some(hv) = fig.hypervisor_downtime_ms {
                    props.push((format!("{prefix}.hypervisor_downtime_ms"), hv.to_string()));
                    worst_hv = Some(worst_hv.unwrap_or(0).max(hv));
                }
                match &fig.probe {
                    Ok(p) => {
                        props.push((format!("{prefix}.downtime_ms"), format!("{:.0}", p.largest_gap_ms)));
                        props.push((format!("{prefix}.probe_lost"), p.lost.to_string()));
                        props.push((format!("{prefix}.probe_sent"), p.sent.to_string()));
                        if p.open_at_end {
                            props.push((format!("{prefix}.downtime_open"), "true".into()));
                        }
                        worst_gap = Some(worst_gap.unwrap_or(0.0).max(p.largest_gap_ms));
                    }
                    Err(why) => props.push((format!("{prefix}.probe"), format!("could not measure: {why}"))),
                }
                downtime_verdict(spec.max_downtime_ms, &fig.probe)
            }
            Err(f) => Err(f),
        };
        let failed = result.is_err();
        out.push(SubResult { name, duration: t.elapsed(), result, properties: props });
        if failed {
            break;
        }
    }
    if let Some(last) = out.last_mut() {
        // The case's worst round; a non-live check's figures are apart (`offline_...`).
        let pre = if spec.live { "" } else { "offline_" };
        if let Some(g) = worst_gap {
            last.properties.push((format!("{pre}downtime_ms"), format!("{g:.0}")));
        }
        if let Some(h) = worst_hv {
            last.properties.push((format!("{pre}hypervisor_downtime_ms"), h.to_string()));
        }
        if worst_total > 0 {
            last.properties.push((format!("{pre}migration_ms"), worst_total.to_string()));
        }
    }
    out
}

/// How long the probe waits, after the migration call returned, for the
/// guest's first answer.
const PROBE_CAP: Duration = Duration::from_secs(30);

/// The round's verdict on downtime: a limit with no measurement is an error,
/// never a pass.
fn downtime_verdict(max: Option<u64>, probe: &Result<ProbeFigures, String>) -> Result<(), StepFailure> {
    match (max, probe) {
        (None, _) => Ok(()),
        (Some(max), Err(why)) => Err(StepFailure::error(format!(
            "max_downtime_ms {max} cannot be applied: the downtime probe could not measure ({why})"
        ))),
        (Some(max), Ok(p)) if p.largest_gap_ms > max as f64 => {
            let open = if p.open_at_end { " (and had not answered again when the probe ended)" } else { "" };
            Err(StepFailure::failed(format!(
                "the guest was unreachable for {:.0} ms{open}, more than max_downtime_ms {max}",
                p.largest_gap_ms
            )))
        }
        (Some(_), Ok(_)) => Ok(()),
    }
}

struct RoundFigures {
    migration: Duration,
    hypervisor_downtime_ms: Option<u64>,
    hypervisor_total_ms: Option<u64>,
    /// The probe's figures, or why it could not measure.
    probe: Result<ProbeFigures, String>,
}

/// What must survive a move, taken before it: uptime, a background process,
/// an open connection (with `ssh: keep`).
struct Before {
    target: ssh::SshTarget,
    addr: std::net::IpAddr,
    uptime: f64,
    marker_pid: String,
    session: Option<SshSession>,
}

async fn before_move(guest: &GuestUnderTest, spec: &MigrateCheck) -> Result<Before, StepFailure> {
    let setup = |what: &str, e: &dyn std::error::Error| {
        StepFailure::error(format!("before migrating, {what}: {}", crate::error_chain(e)))
    };
    let target = guest.ssh.clone().ok_or_else(|| StepFailure::error("the guest has no SSH access"))?;
    let addr = guest.address.ok_or_else(|| StepFailure::error("the guest has no known address"))?;
    let before =
        ssh::exec(&target, "cat /proc/uptime; setsid sleep 1000000 </dev/null >/dev/null 2>&1 & echo $!", SHORT)
            .await
            .map_err(|e| setup("the guest did not answer", &e))?;
    let mut lines = before.stdout.lines();
    let uptime: f64 =
        lines.next().and_then(|l| l.split_whitespace().next()).and_then(|u| u.parse().ok()).unwrap_or(0.0);
    let marker_pid = lines.next().unwrap_or("").trim().to_string();
    let session = match spec.ssh {
        SshContinuity::Keep => Some(
            SshSession::open(&target, SHORT).await.map_err(|e| setup("cannot open the SSH connection to keep", &e))?,
        ),
        SshContinuity::Reconnect => None,
    };
    Ok(Before { target, addr, uptime, marker_pid, session })
}

async fn one_round(
    guest: &mut GuestUnderTest,
    (from, logs): (&Host, &HostLogs),
    (to, to_logs): (&Host, &HostLogs),
    probe_from: &ProbeFrom<'_>,
    spec: &MigrateCheck,
    console: &std::path::Path,
) -> Result<RoundFigures, StepFailure> {
    let before = before_move(guest, spec).await?;
    let probe = DowntimeProbe::start(probe_from, before.addr).await;
    let started = std::time::SystemTime::now();
    let moved = guest.domain.migrate(to, options(spec), spec.timeout).await;
    let moved_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    // The gap lasts until the guest's first answer after the move (or the
    // probe's end, reported as such).
    let probe = match probe {
        Ok(p) => p.finish_after(moved_at, PROBE_CAP).await.map_err(|e| crate::error_chain(&e)),
        Err(e) => Err(crate::error_chain(&e)),
    };
    let moved = match moved {
        Ok(m) => m,
        Err(e) => {
            let msg = crate::error_chain(&e);
            // The sender's reason (a save that failed), then the receiver's
            // (a stream it could not restore: a newer build's, say).
            let why = logs.errors_since(&from.name, &guest.domain.name, started).await
                + &to_logs.errors_since(&to.name, &guest.domain.name, started).await;
            let where_ = settle_after_failure(&guest.domain.name, from, to).await;
            return Err(StepFailure::failed(format!(
                "migration from {} to {} failed: {msg}{why}{where_}",
                from.name, to.name
            )));
        }
    };
    let mut lost = where_now(&moved.domain, &guest.domain.name, from, to).await;
    let console = match moved.domain.reopen_console(console.to_path_buf()).await {
        Ok(c) => c,
        Err(e) => {
            return Err(StepFailure::error(format!(
                "cannot attach to the console on {}: {}",
                to.name,
                crate::error_chain(&e)
            )));
        }
    };
    std::mem::replace(&mut guest.console, console).stop();
    let figures = RoundFigures {
        migration: moved.elapsed,
        hypervisor_downtime_ms: moved.hypervisor_downtime_ms,
        hypervisor_total_ms: moved.hypervisor_total_ms,
        probe,
    };
    guest.domain = moved.domain;
    lost.extend(same_guest(&before).await);
    if !lost.is_empty() {
        return Err(StepFailure {
            outcome: Outcome::Failed,
            message: format!("continuity lost: {}", lost.join("; ")),
            detail: None,
        });
    }
    Ok(figures)
}

/// On the target, gone from the source: what is wrong with where the guest is.
async fn where_now(moved: &crate::backend::GuestDomain, name: &str, from: &Host, to: &Host) -> Vec<String> {
    let mut lost = Vec::new();
    match moved.state().await {
        Ok(RunState::Running) => {}
        Ok(s) => lost.push(format!("the guest is {s:?} on {}", to.name)),
        Err(e) => lost.push(format!("cannot read the guest's state on {}: {}", to.name, crate::error_chain(&e))),
    }
    match from.domain_state(name).await {
        Ok(RunState::Gone) | Ok(RunState::ShutOff) => {}
        Ok(s) => lost.push(format!("the guest is still {s:?} on {}", from.name)),
        Err(e) => lost.push(format!("cannot check the source {}: {}", from.name, crate::error_chain(&e))),
    }
    lost
}

/// Same boot, same process, same (or a new) connection: what is wrong.
async fn same_guest(before: &Before) -> Vec<String> {
    let mut lost = Vec::new();
    let check = format!("cat /proc/uptime; kill -0 {} && echo alive", before.marker_pid);
    let after = match &before.session {
        Some(s) => s
            .exec(&check, SHORT)
            .await
            .map_err(|e| format!("the SSH connection opened before the migration broke: {}", crate::error_chain(&e))),
        None => ssh::exec(&before.target, &check, SHORT)
            .await
            .map_err(|e| format!("cannot reconnect over SSH after the migration: {}", crate::error_chain(&e))),
    };
    match after {
        Ok(out) => {
            let uptime_after: f64 = out.stdout.split_whitespace().next().and_then(|u| u.parse().ok()).unwrap_or(0.0);
            if uptime_after < before.uptime {
                lost.push(format!("the guest rebooted: uptime went from {:.1}s to {uptime_after:.1}s", before.uptime));
            }
            if !out.stdout.contains("alive") {
                lost.push(format!("the background process {} started before the migration is gone", before.marker_pid));
            }
        }
        Err(m) => lost.push(m),
    }
    lost
}

/// After a failed migration the guest must be on exactly one host. A copy on the
/// target beside a running source is removed; the outcome is described.
async fn settle_after_failure(name: &str, from: &Host, to: &Host) -> String {
    let present =
        |r: &Result<RunState, crate::backend::BackendError>| matches!(r, Ok(RunState::Running) | Ok(RunState::Paused));
    let src = from.domain_state(name).await;
    let dst = if to.uri == from.uri { Ok(RunState::Gone) } else { to.domain_state(name).await };
    if let Err(e) = src.as_ref().and(dst.as_ref()) {
        return format!(" (cannot tell where the guest is now: {})", crate::error_chain(e));
    }
    match (present(&src), present(&dst)) {
        (true, true) => {
            let _ = to.remove_domain(name).await;
            format!(" (a copy left on {} was removed; the guest stays on {})", to.name, from.name)
        }
        (true, false) => format!(" (the guest stays on {})", from.name),
        (false, true) => format!(" (the guest ended up on {} anyway)", to.name),
        (false, false) => " (the guest is on neither host any more)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probed(gap: f64, open: bool) -> Result<ProbeFigures, String> {
        Ok(ProbeFigures { replies: 90, sent: 100, lost: 10, largest_gap_ms: gap, open_at_end: open })
    }

    #[test]
    fn hypervisor_log_lines_of_the_round_only() {
        let out = "2026-12-02 01:10:00.100+0000: old: error before the round\n\
                   2026-12-02 01:17:17.284+0000: xc: Failed to enable logdirty: 95,22,0 (22 = Invalid argument): Internal error\n\
                   2026-12-02 01:17:17.289+0000: xc: Save failed (22 = Invalid argument): Internal error\n\
                   no stamp: error\n";
        let since = humantime::parse_rfc3339("2026-12-02T01:17:00Z").unwrap();
        assert_eq!(
            log_lines_since(out, since),
            [
                "xc: Failed to enable logdirty: 95,22,0 (22 = Invalid argument): Internal error",
                "xc: Save failed (22 = Invalid argument): Internal error"
            ]
        );
        assert!(log_lines_since("", since).is_empty());
    }

    #[test]
    fn a_downtime_limit_without_a_measurement_is_an_error_not_a_pass() {
        let err = downtime_verdict(Some(500), &Err("cannot start ping".into())).unwrap_err();
        assert_eq!(err.outcome, Outcome::Error);
        assert!(err.message.contains("cannot be applied") && err.message.contains("cannot start ping"), "{err:?}");
        // No limit: nothing to apply, the reason is recorded as a property instead.
        downtime_verdict(None, &Err("x".into())).unwrap();
    }

    #[test]
    fn a_gap_over_the_limit_fails_and_says_when_it_was_still_open() {
        downtime_verdict(Some(500), &probed(120.0, false)).unwrap();
        let f = downtime_verdict(Some(500), &probed(2000.0, false)).unwrap_err();
        assert_eq!(f.outcome, Outcome::Failed);
        assert!(!f.message.contains("answered again"), "{f:?}");
        let f = downtime_verdict(Some(500), &probed(30000.0, true)).unwrap_err();
        assert!(f.message.contains("had not answered again"), "{f:?}");
    }
    use crate::plan::{AccelPreference, Capacity, HostSpec, Hypervisor};

    fn host(name: &str, roles: &[&str]) -> (String, HostSpec) {
        let spec = HostSpec {
            name: name.into(),
            uri: "test:///default".into(),
            hypervisor: Hypervisor::Kvm,
            accel: AccelPreference::Auto,
            netns: None,
            bridge: "br0".into(),
            capacity: Capacity { guests: 1, memory_mib: 1024, when_full: crate::plan::WhenFull::DEFAULT },
            roles: roles.iter().map(|r| r.to_string()).collect(),
            labels: Default::default(),
            jump: None,
        };
        (name.to_string(), spec)
    }

    fn spec(target: Option<&str>) -> MigrateCheck {
        MigrateCheck {
            target: target.map(str::to_string),
            rounds: 2,
            live: true,
            peer_to_peer: false,
            tunnelled: false,
            persistent: false,
            undefine_source: false,
            copy_storage: false,
            bandwidth_mib_s: None,
            allowed_downtime_ms: None,
            max_downtime_ms: None,
            ssh: SshContinuity::Reconnect,
            timeout: Duration::from_secs(600),
        }
    }

    #[test]
    fn the_hosts_a_migration_needs_are_the_named_one_or_those_with_the_role() {
        let hosts =
            [host("a", &[]), host("b", &["migration-target"]), host("c", &["migration-target"])].into_iter().collect();
        assert_eq!(hosts_needed(&spec(Some("a")), &hosts), ["a"]);
        assert_eq!(hosts_needed(&spec(None), &hosts), ["b", "c"]);
        assert!(hosts_needed(&spec(Some("zz")), &hosts).is_empty());
        let (_, b) = host("b", &["migration-target"]);
        assert!(is_target("b", &b, None));
        assert!(!is_target("b", &b, Some("c")));
    }

    #[tokio::test]
    async fn a_ping_pong_between_two_builds_says_what_to_expect() {
        let conn = Host::connect("x", "test:///default").await.unwrap();
        let (_, a) = host("xen1", &[]);
        let (_, b) = host("xen2", &[]);
        let facts = |v: &str| crate::events::HostFacts {
            hypervisor: "Xen".into(),
            extra: [("xen_version".to_string(), v.to_string())].into_iter().collect(),
            ..Default::default()
        };
        let (old, new) = (facts("4.17.7"), facts("4.20.4"));
        let dt = crate::backend::domain_xml::DomainType::Xen;
        let r = |spec, facts| HostRef { spec, host: &conn, domain_type: dt, facts };
        let note = builds_differ(&r(&a, &old), &r(&b, &new), 2).unwrap();
        assert!(note.starts_with("xen1 runs Xen 4.17.7 and xen2 runs 4.20.4: "), "{note}");
        assert_eq!(builds_differ(&r(&a, &old), &r(&b, &new), 1), None, "one way: the upgrade path");
        assert_eq!(builds_differ(&r(&a, &old), &r(&b, &old), 2), None, "the same build");
        let mut results = vec![SubResult {
            name: "migrate.round-2: xen2 -> xen1".into(),
            duration: Duration::ZERO,
            result: Err(StepFailure::failed("migration from xen2 to xen1 failed")),
            properties: vec![],
        }];
        warn_of_builds(&mut results, "migrate", &note);
        assert_eq!(results[0].properties[0].0, "migrate.builds_differ");
        assert!(results[0].result.as_ref().unwrap_err().message.ends_with(&format!(" (note: {note})")));
    }
}
