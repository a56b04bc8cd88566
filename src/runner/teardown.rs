//! A case's end: evidence of a case that did not pass (unless a second signal
//! hurries), then every guest destroyed (or kept for a human), proven gone, and
//! the case's scratch files removed.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use super::context::{HostState, ReadyHost, RunContext};
use super::evidence::{self, Piece};
use super::known_hosts;
use super::recorder::Recorder;
use crate::backend::RunState;
use crate::checks::{GuestUnderTest, StepFailure};
use crate::events::KeptGuest;
use crate::guest::console_scan;

/// The evidence of a case that did not pass, gathered from its host: the
/// files written, and the lines of its Xen logs that matter for its domains
/// since `started` (quoted in the case's cause).
pub async fn evidence_of(
    ctx: &RunContext,
    host: &ReadyHost,
    guests: &[GuestUnderTest],
    case_dir: &Path,
    started: SystemTime,
) -> (Vec<PathBuf>, Vec<String>) {
    let mut xen = Vec::new();
    let gather = async {
        let mut found = Vec::new();
        for g in guests {
            let pieces = evidence::gather(host, g).await;
            xen.extend(evidence::xen_lines(&pieces, &g.name, &g.domain.name, started));
            found.extend(pieces);
        }
        found
    };
    let files = unless_hurried(&ctx.hurry, gather, case_dir).await;
    (files, xen)
}

/// Runs `gather` and writes what it found into `dir`, unless `hurry` fires
/// first: a second signal wants the guests gone now, so a gathering under way
/// is abandoned at once, and evidence gathered by then is not written.
pub async fn unless_hurried(
    hurry: &CancellationToken,
    gather: impl Future<Output = Vec<Piece>>,
    dir: &Path,
) -> Vec<PathBuf> {
    let pieces = tokio::select! {
        biased;
        _ = hurry.cancelled() => return Vec::new(),
        pieces = gather => pieces,
    };
    if hurry.is_cancelled() {
        return Vec::new();
    }
    evidence::write(pieces, dir)
}

/// What teardown could not prove: domains that outlived it are failures; a host
/// that can no longer be asked is an infrastructure error (nothing is proven either way).
#[derive(Default)]
struct Proof {
    problems: Vec<String>,
    unreachable: Vec<String>,
}

impl Proof {
    fn verdict(self) -> Result<(), StepFailure> {
        if !self.problems.is_empty() {
            Err(StepFailure::failed(format!("teardown left resources behind: {}", self.problems.join("; "))))
        } else if !self.unreachable.is_empty() {
            Err(StepFailure::error(format!("teardown could not be proven: {}", self.unreachable.join("; "))))
        } else {
            Ok(())
        }
    }
}

/// Consoles (guest, last lines) and the guests kept for a human.
pub type Leftovers = (Vec<(String, String)>, Vec<KeptGuest>);

/// Destroys every guest (unless kept), proves each is gone, and records it.
pub async fn teardown(
    ctx: &RunContext,
    index: usize,
    guests: Vec<GuestUnderTest>,
    keep: bool,
    rec: &mut Recorder<'_>,
) -> Leftovers {
    let t = Instant::now();
    let mut consoles = Vec::new();
    let mut kept = Vec::new();
    let mut proof = Proof::default();
    for g in guests {
        let text = if keep {
            kept.push(kept_guest(ctx, &g).await);
            record_kept(rec, &g.name, &g.domain).await;
            g.console.text()
        } else {
            // The console first: its stream ended by a destroy still in
            // flight on the same connection hung libvirtd's libxl driver
            // (libvirt 9.0, seen in the Xen lab: no call answered again).
            let text = g.console.stop();
            destroy(&g.domain, &mut proof).await;
            text
        };
        record_findings(rec, &g.name, &text);
        consoles.push((g.name.clone(), console_scan::tail(&text, 60)));
    }
    if !keep {
        let prefix = format!("vs-{}-{index}-", ctx.run_id);
        sweep_unhandled(ctx, &prefix, &mut proof).await;
        // The case's overlays and seeds (named after its domains) go with the domains.
        proof.unreachable.extend(crate::image::overlay::remove_scratch(&ctx.run_dir, &prefix));
        proof.unreachable.extend(super::staging::remove_case_files(ctx, &prefix).await);
    }
    rec.record(None, "teardown", t, proof.verdict());
    (consoles, kept)
}

/// How long teardown keeps destroying a domain that is not gone yet: one
/// that libxl is rebuilding (a Xen guest that rebooted) is shut off, cannot
/// be destroyed, and runs again moments later.
const DESTROY_PATIENCE: Duration = Duration::from_secs(90);

/// Destroys the guest's domain and proves it gone, destroying again while a
/// domain being rebuilt comes back.
async fn destroy(domain: &crate::backend::GuestDomain, proof: &mut Proof) {
    let deadline = Instant::now() + DESTROY_PATIENCE;
    loop {
        if let Err(e) = domain.destroy().await {
            proof.unreachable.push(format!("{}: {}", domain.name, e.described()));
            return;
        }
        match domain.state().await {
            Ok(RunState::Gone) => return,
            Ok(_) if Instant::now() < deadline => tokio::time::sleep(crate::checks::POLL * 4).await,
            Ok(s) => return proof.problems.push(format!("{} survived teardown ({s:?})", domain.name)),
            Err(e) => return proof.unreachable.push(format!("{}: {}", domain.name, e.described())),
        }
    }
}

/// A case cancelled mid-provisioning may have a domain it never got a handle
/// for: every host of the run is asked (a migrated guest may sit on another
/// host than the case's), and such domains are removed.
async fn sweep_unhandled(ctx: &RunContext, prefix: &str, proof: &mut Proof) {
    for host in ctx.hosts.values().filter_map(|h| if let HostState::Ready(h) = h { Some(h) } else { None }) {
        // A host already found unreachable is not asked again (its case says so once).
        if ctx.lost_host(&host.spec.name).is_some() {
            continue;
        }
        match host.host.owned_domains().await {
            Ok(doms) => {
                for d in doms.into_iter().filter(|d| d.run_id == ctx.run_id && d.name.starts_with(prefix)) {
                    proof.problems.push(format!("{} was left without a handle and is now removed", d.name));
                    let _ = host.host.remove_domain(&d.name).await;
                }
            }
            Err(e) => {
                proof.unreachable.push(format!("cannot list domains to prove teardown: {}", e.described()));
            }
        }
    }
}

/// A guest left running for a human (`--keep`, `--keep-on-failure`), with the commands
/// to reach and remove it; its host key goes to a known_hosts file in the
/// run's directory (kept with it).
async fn kept_guest(ctx: &RunContext, g: &GuestUnderTest) -> KeptGuest {
    let (ssh, ssh_argv) = match &g.ssh {
        Some(target) => {
            let file = ctx.run_dir.join(format!("{}.known_hosts", g.domain.name));
            let known = tokio::select! {
                biased;
                _ = ctx.hurry.cancelled() => known_hosts::HostKeyFile::Unverified {
                    file,
                    why: "a second signal cut reading the guest's host key short".into(),
                },
                known = known_hosts::write_for(target, &file) => known,
            };
            (Some(known_hosts::ssh_line(target, &known)), Some(known_hosts::ssh_argv(target, &known)))
        }
        None => (None, None),
    };
    KeptGuest {
        guest: g.name.clone(),
        domain: g.domain.name.clone(),
        uri: g.domain.host.uri.clone(),
        remove: format!(
            "virtsmoke cleanup --uri {} --run {}",
            crate::shell::quote(&g.domain.host.uri),
            known_hosts::word(&ctx.run_id)
        ),
        ssh,
        ssh_argv,
    }
}

/// A kept guest's state (a crashed domain stays crashed: the domain XML says
/// `on_crash` `preserve`) and the command that dumps its memory, as properties.
async fn record_kept(rec: &mut Recorder<'_>, guest: &str, domain: &crate::backend::GuestDomain) {
    let state = match domain.state().await {
        Ok(s) => format!("{s:?}").to_lowercase(),
        Err(e) => format!("unknown ({})", crate::error_chain(&e)),
    };
    rec.property(format!("{guest}.kept_state"), state);
    let uri = &domain.host.uri;
    let family = crate::hypervisor::Uri::parse(uri).ok().and_then(|u| u.family().hypervisor());
    let platform = crate::hypervisor::platform(family.unwrap_or(crate::hypervisor::Family::Kvm));
    let file = format!("/var/tmp/{}.core", domain.name);
    let dump = crate::hypervisor::memory_dump_command(platform, uri, &domain.name, &file);
    rec.property(format!("{guest}.memory_dump"), dump);
}

/// Everything the console scan saw, fatal or not (warnings do not fail a case,
/// but a reader of the report should see them).
fn record_findings(rec: &mut Recorder<'_>, guest: &str, console: &str) {
    let findings = console_scan::scan(console);
    rec.property(format!("{guest}.console_findings"), findings.len());
    for (i, f) in findings.iter().take(10).enumerate() {
        rec.property(
            format!("{guest}.console_finding.{}", i + 1),
            format!("line {} ({:?}): {}", f.line, f.kind, f.text),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece() -> Piece {
        Piece { file: "tiny.live.xml".into(), text: "<domain/>".into() }
    }

    #[tokio::test]
    async fn a_gathering_under_way_is_abandoned_when_hurry_fires() {
        let dir = tempfile::tempdir().unwrap();
        let hurry = CancellationToken::new();
        let started = tokio::sync::Notify::new();
        // The gathering starts, then waits for something that never comes (a
        // host that does not answer): only `hurry` can end it.
        let gather = async {
            started.notify_one();
            std::future::pending::<()>().await;
            vec![piece()]
        };
        let hurry_later = async {
            started.notified().await;
            hurry.cancel();
        };
        let within = std::time::Duration::from_secs(10);
        let (written, ()) = tokio::time::timeout(within, async {
            tokio::join!(unless_hurried(&hurry, gather, dir.path()), hurry_later)
        })
        .await
        .expect("gathering abandoned once hurry fired");
        assert!(written.is_empty());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn evidence_gathered_when_hurry_fires_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let hurry = CancellationToken::new();
        // The last piece comes in just as the second signal does.
        let gather = async {
            hurry.cancel();
            vec![piece()]
        };
        assert!(unless_hurried(&hurry, gather, dir.path()).await.is_empty());
        assert!(!dir.path().join("tiny.live.xml").exists());
    }

    #[tokio::test]
    async fn without_hurry_the_evidence_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let written = unless_hurried(&CancellationToken::new(), async { vec![piece()] }, dir.path()).await;
        assert_eq!(written, [dir.path().join("tiny.live.xml")]);
    }

    #[tokio::test]
    async fn a_kept_guest_records_its_state_and_how_to_dump_it() {
        let host = crate::backend::Host::connect("t", "test:///default").await.unwrap();
        let xml = "<domain type='test'><name>vs-k1-0-g</name><memory unit='MiB'>64</memory>\
                   <os><type>hvm</type></os></domain>";
        let dom = host.create_paused("vs-k1-0-g", xml.into()).await.unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let mut rec = Recorder::new("s/g@t", false, &tx, &[]);
        record_kept(&mut rec, "g", &dom).await;
        dom.destroy().await.unwrap();
        let props: Vec<(&str, &str)> = rec.properties.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            props,
            [
                ("g.kept_state", "paused"),
                (
                    "g.memory_dump",
                    "virsh -c 'test:///default' dump --memory-only 'vs-k1-0-g' '/var/tmp/vs-k1-0-g.core'"
                )
            ]
        );
    }
}
