//! The migrate check: moves a guest between hosts, `rounds` times (there and
//! back), and proves after every move that it is the same, still running guest.
//! Downtime is measured three ways: a 100 Hz probe's largest gap, the
//! hypervisor's own figure, and the migration's total time.

use std::time::{Duration, Instant};

use super::probe::{Probe, ProbeFigures};
use super::{GuestUnderTest, StepFailure, SubResult};
use crate::backend::Host;
use crate::backend::RunState;
use crate::backend::migrate::MigrateOptions;
use crate::events::Outcome;
use crate::guest::ssh::{self, SshSession};
use crate::plan::{MigrateCheck, SshContinuity};

/// Both ends of the ping-pong.
pub struct Endpoints<'a> {
    pub home: &'a Host,
    pub away: &'a Host,
    /// Where the host-side probe runs from (the home host's namespace in the lab).
    pub probe_netns: Option<&'a str>,
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
    for round in 1..=spec.rounds {
        let (from, to) = if round % 2 == 1 { (ends.home, ends.away) } else { (ends.away, ends.home) };
        let name = format!("migrate.round-{round}: {} -> {}", from.name, to.name);
        let t = Instant::now();
        let r = one_round(guest, from, to, ends.probe_netns, spec, console).await;
        let mut props = Vec::new();
        let result = match r {
            Ok(fig) => {
                let prefix = format!("{}.migrate.round-{round}", guest.name);
                props.push((format!("{prefix}.migration_ms"), fig.migration.as_millis().to_string()));
                worst_total = worst_total.max(fig.migration.as_millis());
                if let Some(total) = fig.hypervisor_total_ms {
                    props.push((format!("{prefix}.hypervisor_migration_ms"), total.to_string()));
                }
                if let Some(hv) = fig.hypervisor_downtime_ms {
                    props.push((format!("{prefix}.hypervisor_downtime_ms"), hv.to_string()));
                    worst_hv = Some(worst_hv.unwrap_or(0).max(hv));
                }
                if let Some(p) = fig.probe {
                    props.push((format!("{prefix}.downtime_ms"), format!("{:.0}", p.largest_gap_ms)));
                    props.push((format!("{prefix}.probe_lost"), p.lost.to_string()));
                    props.push((format!("{prefix}.probe_sent"), p.sent.to_string()));
                    worst_gap = Some(worst_gap.unwrap_or(0.0).max(p.largest_gap_ms));
                }
                match (spec.max_downtime_ms, fig.probe) {
                    (Some(max), Some(p)) if p.largest_gap_ms > max as f64 => Err(StepFailure::failed(format!(
                        "the guest was unreachable for {:.0} ms, more than max_downtime_ms {max}",
                        p.largest_gap_ms
                    ))),
                    _ => Ok(()),
                }
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
        if let Some(g) = worst_gap {
            last.properties.push(("downtime_ms".into(), format!("{g:.0}")));
        }
        if let Some(h) = worst_hv {
            last.properties.push(("hypervisor_downtime_ms".into(), h.to_string()));
        }
        if worst_total > 0 {
            last.properties.push(("migration_ms".into(), worst_total.to_string()));
        }
    }
    out
}

struct RoundFigures {
    migration: Duration,
    hypervisor_downtime_ms: Option<u64>,
    hypervisor_total_ms: Option<u64>,
    probe: Option<ProbeFigures>,
}

async fn one_round(
    guest: &mut GuestUnderTest,
    from: &Host,
    to: &Host,
    probe_netns: Option<&str>,
    spec: &MigrateCheck,
    console: &std::path::Path,
) -> Result<RoundFigures, StepFailure> {
    let setup = |what: &str, e: &dyn std::error::Error| {
        StepFailure::error(format!("before migrating, {what}: {}", crate::error_chain(e)))
    };
    let target = guest.ssh.clone().ok_or_else(|| StepFailure::error("the guest has no SSH access"))?;
    let addr = guest.address.ok_or_else(|| StepFailure::error("the guest has no known address"))?;

    // What must survive the move: uptime, a background process, an open connection.
    let before =
        ssh::exec(&target, "cat /proc/uptime; setsid sleep 1000000 </dev/null >/dev/null 2>&1 & echo $!", SHORT)
            .await
            .map_err(|e| setup("the guest did not answer", &e))?;
    let mut lines = before.stdout.lines();
    let uptime_before: f64 =
        lines.next().and_then(|l| l.split_whitespace().next()).and_then(|u| u.parse().ok()).unwrap_or(0.0);
    let marker_pid = lines.next().unwrap_or("").trim().to_string();
    let session = match spec.ssh {
        SshContinuity::Keep => Some(
            SshSession::open(&target, SHORT).await.map_err(|e| setup("cannot open the SSH connection to keep", &e))?,
        ),
        SshContinuity::Reconnect => None,
    };
    let probe = Probe::start(probe_netns, addr).ok();

    let moved = guest.domain.migrate(to, options(spec)).await;
    let probe = match probe {
        // Let the probe see the guest answer again after the switch-over.
        Some(p) => {
            tokio::time::sleep(Duration::from_millis(500)).await;
            p.finish().await.ok()
        }
        None => None,
    };
    let moved = match moved {
        Ok(m) => m,
        Err(e) => {
            let msg = crate::error_chain(&e);
            let where_ = settle_after_failure(&guest.domain.name, from, to).await;
            return Err(StepFailure::failed(format!(
                "migration from {} to {} failed: {msg}{where_}",
                from.name, to.name
            )));
        }
    };

    // Continuity: on the target, gone from the source, same boot, same process, same connection.
    let mut lost = Vec::new();
    match moved.domain.state().await {
        Ok(RunState::Running) => {}
        Ok(s) => lost.push(format!("the guest is {s:?} on {}", to.name)),
        Err(e) => lost.push(format!("cannot read the guest's state on {}: {}", to.name, crate::error_chain(&e))),
    }
    match from.domain_state(&guest.domain.name).await {
        Ok(RunState::Gone) | Ok(RunState::ShutOff) => {}
        Ok(s) => lost.push(format!("the guest is still {s:?} on {}", from.name)),
        Err(e) => lost.push(format!("cannot check the source {}: {}", from.name, crate::error_chain(&e))),
    }
    let old_console = std::mem::replace(
        &mut guest.console,
        match moved.domain.reopen_console(console.to_path_buf()).await {
            Ok(c) => c,
            Err(e) => {
                return Err(StepFailure::error(format!(
                    "cannot attach to the console on {}: {}",
                    to.name,
                    crate::error_chain(&e)
                )));
            }
        },
    );
    old_console.stop();
    guest.domain = moved.domain;

    let check = format!("cat /proc/uptime; kill -0 {marker_pid} && echo alive");
    let after = match &session {
        Some(s) => s
            .exec(&check, SHORT)
            .await
            .map_err(|e| format!("the SSH connection opened before the migration broke: {}", crate::error_chain(&e))),
        None => ssh::exec(&target, &check, SHORT)
            .await
            .map_err(|e| format!("cannot reconnect over SSH after the migration: {}", crate::error_chain(&e))),
    };
    match after {
        Ok(out) => {
            let uptime_after: f64 = out.stdout.split_whitespace().next().and_then(|u| u.parse().ok()).unwrap_or(0.0);
            if uptime_after < uptime_before {
                lost.push(format!("the guest rebooted: uptime went from {uptime_before:.1}s to {uptime_after:.1}s"));
            }
            if !out.stdout.contains("alive") {
                lost.push(format!("the background process {marker_pid} started before the migration is gone"));
            }
        }
        Err(m) => lost.push(m),
    }
    if let Some(p) = &probe
        && p.replies == 0
    {
        lost.push("the probe never got an answer".into());
    }
    if !lost.is_empty() {
        return Err(StepFailure {
            outcome: Outcome::Failed,
            message: format!("continuity lost: {}", lost.join("; ")),
            detail: None,
        });
    }
    Ok(RoundFigures {
        migration: moved.elapsed,
        hypervisor_downtime_ms: moved.hypervisor_downtime_ms,
        hypervisor_total_ms: moved.hypervisor_total_ms,
        probe,
    })
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
