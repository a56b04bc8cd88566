//! The run: prepares images and hosts, schedules cases within host capacity,
//! listens for signals, and hands every event to the reporters. The only place
//! that spawns tasks.

mod accel;
pub mod case;
mod context;
mod evidence;
pub mod host_facts;
mod host_slots;
pub mod staging;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::backend::Host;
use crate::events::{CaseReport, Outcome, RunEvent};
use crate::guest::keys::RunKey;
use crate::plan::{ImageSpec, Plan};
use context::{HostState, ReadyHost, RunContext};

pub struct RunOptions {
    pub artifacts: PathBuf,
    pub jobs: usize,
    pub keep_on_failure: bool,
    pub run_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot prepare the run directory {}", .0.display())]
    RunDir(PathBuf, #[source] std::io::Error),
    #[error(transparent)]
    Key(#[from] crate::guest::keys::KeyError),
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    #[error("the image worker died")]
    Worker(#[from] tokio::task::JoinError),
}

pub struct RunResult {
    pub cases: Vec<CaseReport>,
    pub interrupted: bool,
    /// Hosts that could not be used at all.
    pub unusable_hosts: Vec<String>,
}

/// A fresh run id: sortable by time, unique enough across concurrent runs.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    format!("{}-{:04x}", now.format("%Y%m%d%H%M%S"), rand::random::<u16>())
}

/// Locks `RUN_DIR/alive` for as long as the returned guard lives.
fn mark_alive(run_dir: &std::path::Path) -> std::io::Result<nix::fcntl::Flock<std::fs::File>> {
    let f = std::fs::File::create(run_dir.join("alive"))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|(_, e)| e.into())
}

/// Whether the run `run_id` is still going on this machine (its scratch lock is held).
pub fn is_alive(run_id: &str) -> bool {
    let Ok(f) = std::fs::File::open(runs_dir().join(run_id).join("alive")) else { return false };
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockSharedNonblock).is_err()
}

/// Where per-run scratch lives.
pub fn runs_dir() -> PathBuf {
    std::env::var_os("VIRTSMOKE_RUN_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/tmp/virtsmoke/runs"))
}

pub async fn run(plan: Plan, opts: RunOptions, mut emit: impl FnMut(&RunEvent)) -> Result<RunResult, RunError> {
    let t0 = Instant::now();
    let run_dir = runs_dir().join(&opts.run_id);
    std::fs::create_dir_all(&run_dir).map_err(|e| RunError::RunDir(run_dir.clone(), e))?;
    // Held while the run lives, so `cleanup` leaves a running run alone.
    let _alive = mark_alive(&run_dir).map_err(|e| RunError::RunDir(run_dir.clone(), e))?;
    std::fs::create_dir_all(&opts.artifacts).map_err(|e| RunError::RunDir(opts.artifacts.clone(), e))?;
    emit(&RunEvent::RunStarted {
        run_id: opts.run_id.clone(),
        cases: plan.cases.len(),
        artifacts: opts.artifacts.clone(),
    });

    let result = prepare_and_run(plan, &opts, &run_dir, &mut emit).await;
    // The run's scratch (key, overlays) goes, unless guests were kept for a human.
    let kept_any = result.as_ref().map(|r| r.cases.iter().any(|c| !c.kept.is_empty())).unwrap_or(false);
    if !kept_any {
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    if let Ok(r) = &result {
        let count = |o| r.cases.iter().filter(|c| c.outcome == o).count();
        emit(&RunEvent::RunFinished {
            passed: count(Outcome::Passed),
            failed: count(Outcome::Failed),
            errors: count(Outcome::Error),
            skipped: count(Outcome::Skipped),
            duration: t0.elapsed(),
        });
    }
    result
}

async fn prepare_and_run(
    plan: Plan,
    opts: &RunOptions,
    run_dir: &std::path::Path,
    emit: &mut impl FnMut(&RunEvent),
) -> Result<RunResult, RunError> {
    let key = RunKey::generate(run_dir, &format!("virtsmoke-run-{}", opts.run_id))?;

    // Images: the builtin test image is always needed for the KVM probe.
    let mut wanted: BTreeSet<String> = BTreeSet::from(["test-image".to_string()]);
    for case in &plan.cases {
        for g in &case.guests {
            if let ImageSpec::Builtin { name } = &g.image.spec {
                wanted.insert(name.clone());
            }
        }
    }
    let mut images = BTreeMap::new();
    for name in wanted {
        if crate::image::cached(&name)?.is_none() {
            emit(&RunEvent::Preparing { what: format!("building image {name} (first use; cached afterwards)") });
        }
        let n = name.clone();
        let img = tokio::task::spawn_blocking(move || crate::image::ensure(&n, false)).await??;
        images.insert(name, img);
    }

    // Hosts, concurrently: connect, read facts, choose the accelerator.
    let mut used: BTreeSet<&String> =
        plan.cases.iter().flat_map(|c| std::iter::once(&c.host).chain(&c.candidates)).collect();
    // Hosts that only receive migrated guests are needed too.
    for check in plan.cases.iter().flat_map(|c| &c.checks) {
        if let crate::plan::CheckSpec::Migrate(m) = check {
            for (name, h) in &plan.hosts {
                let target = match &m.target {
                    Some(t) => t == name,
                    None => h.roles.iter().any(|r| r == "migration-target"),
                };
                if target {
                    used.insert(name);
                }
            }
        }
    }
    let mut hosts = BTreeMap::new();
    let mut unusable_hosts = Vec::new();
    let mut prep = JoinSet::new();
    for name in used {
        let Some(spec) = plan.hosts.get(name).cloned() else { continue };
        let kernel = images["test-image"].kernel.clone();
        let run_id = opts.run_id.clone();
        let scratch = run_dir.to_path_buf();
        emit(&RunEvent::Preparing { what: format!("connecting to host {} ({})", spec.name, spec.uri) });
        prep.spawn(async move {
            let r = async {
                let host = Host::connect(&spec.name, &spec.uri).await?;
                let mut facts = host.facts().await?;
                host_facts::enrich(&spec, &mut facts).await;
                let choice =
                    accel::choose(&host, &facts, spec.hypervisor, spec.accel, &kernel, &run_id, &scratch).await?;
                let xenstore_basis = xenstore_domains(&spec).await;
                Ok::<_, crate::backend::BackendError>((host, facts, choice, xenstore_basis))
            }
            .await;
            (spec, r)
        });
    }
    while let Some(joined) = prep.join_next().await {
        let (spec, r) = joined?;
        match r {
            Ok((host, facts, choice, xenstore_basis)) => {
                emit(&RunEvent::HostReady {
                    host: spec.name.clone(),
                    domain_type: choice.domain_type.as_str().to_string(),
                    accel_reason: choice.reason.clone(),
                    facts: facts.clone(),
                });
                hosts.insert(
                    spec.name.clone(),
                    HostState::Ready(Box::new(ReadyHost {
                        spec,
                        host,
                        facts,
                        domain_type: choice.domain_type,
                        xenstore_basis,
                    })),
                );
            }
            Err(e) => {
                let msg = crate::error_chain(&e);
                emit(&RunEvent::HostUnusable { host: spec.name.clone(), error: msg.clone() });
                unusable_hosts.push(spec.name.clone());
                hosts.insert(spec.name.clone(), HostState::Unusable(msg));
            }
        }
    }

    let ctx = Arc::new(RunContext {
        run_id: opts.run_id.clone(),
        run_dir: run_dir.to_path_buf(),
        artifacts: opts.artifacts.clone(),
        key,
        images,
        hosts,
        keep_on_failure: opts.keep_on_failure,
        cancel: CancellationToken::new(),
        hurry: CancellationToken::new(),
        staged: Default::default(),
    });
    let (mut cases, interrupted) = schedule(&ctx, &plan, opts.jobs.max(1), emit).await;
    let unremoved = staging::remove_all(&ctx).await;
    if let Some(leaks) = leak_check(&ctx, &cases, unremoved).await {
        emit(&RunEvent::CaseFinished { report: leaks.clone() });
        cases.push(leaks);
    }
    Ok(RunResult { cases, interrupted, unusable_hosts })
}

/// Runs the cases with at most `jobs` at once and within each host's guest capacity;
/// the first SIGINT/SIGTERM cancels, a second one hurries the teardown.
async fn schedule(
    ctx: &Arc<RunContext>,
    plan: &Plan,
    jobs: usize,
    emit: &mut impl FnMut(&RunEvent),
) -> (Vec<CaseReport>, bool) {
    let (tx, mut rx) = mpsc::unbounded_channel::<RunEvent>();
    let global = Arc::new(Semaphore::new(jobs));
    let mut set = JoinSet::new();
    for (index, mut case) in plan.cases.iter().cloned().enumerate() {
        let ctx = Arc::clone(ctx);
        let tx = tx.clone();
        let global = Arc::clone(&global);
        let need = case.guests.len() as u32;
        // A pinned case has one host; a placed one those of its candidates that
        // came up usable (none usable: the first, whose error the case reports).
        let names: Vec<String> = if case.candidates.is_empty() {
            vec![case.host.clone()]
        } else {
            let usable: Vec<String> = case
                .candidates
                .iter()
                .filter(|n| matches!(ctx.hosts.get(*n), Some(HostState::Ready(_))))
                .cloned()
                .collect();
            if usable.is_empty() { vec![case.host.clone()] } else { usable }
        };
        let slots: Vec<(String, u32)> = names
            .iter()
            .map(|n| plan.hosts.get(n).map(|h| (h.uri.clone(), h.capacity.guests.max(1))).unwrap_or_default())
            .collect();
        set.spawn(async move {
            let permits = tokio::select! {
                biased;
                _ = ctx.cancel.cancelled() => None,
                p = async {
                    let g = global.acquire_owned().await;
                    // Without slots (no lock directory) the case still runs on its
                    // first host: capacity then holds only within this process, through `jobs`.
                    match host_slots::acquire_any(&slots, index, need).await {
                        Ok((i, s)) => (g, i, Some(s)),
                        Err(_) => (g, 0, None),
                    }
                } => Some(p),
            };
            let Some((_global, chosen, _slots)) = permits else {
                return (index, interrupted_before_start(&case));
            };
            case.host = names[chosen].clone();
            (index, case::execute(ctx, index, case, tx).await)
        });
    }
    drop(tx);

    let mut sigint = signal(SignalKind::interrupt()).ok();
    let mut sigterm = signal(SignalKind::terminate()).ok();
    let mut signals = 0u32;
    let mut reports: Vec<(usize, CaseReport)> = Vec::new();
    loop {
        tokio::select! {
            Some(ev) = rx.recv() => emit(&ev),
            joined = set.join_next() => match joined {
                Some(Ok((i, report))) => {
                    while let Ok(ev) = rx.try_recv() { emit(&ev); }
                    emit(&RunEvent::CaseFinished { report: report.clone() });
                    reports.push((i, report));
                }
                Some(Err(e)) => {
                    // A panicking case is a bug; the other cases go on.
                    emit(&RunEvent::HostUnusable { host: "runner".into(), error: format!("a case task died: {e}") });
                }
                None => break,
            },
            Some(_) = recv_signal(&mut sigint) => { signals += 1; interrupt(ctx, signals); emit(&RunEvent::Interrupted { signal: "SIGINT".into(), count: signals }); }
            Some(_) = recv_signal(&mut sigterm) => { signals += 1; interrupt(ctx, signals); emit(&RunEvent::Interrupted { signal: "SIGTERM".into(), count: signals }); }
        }
    }
    while let Ok(ev) = rx.try_recv() {
        emit(&ev);
    }
    reports.sort_by_key(|(i, _)| *i);
    (reports.into_iter().map(|(_, r)| r).collect(), signals > 0)
}

/// The first signal stops the run (teardown as usual, evidence of failures
/// gathered); a second one hurries the teardown (no evidence, destroy only).
fn interrupt(ctx: &RunContext, signals: u32) {
    ctx.cancel.cancel();
    if signals > 1 {
        ctx.hurry.cancel();
    }
}

async fn recv_signal(s: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

fn interrupted_before_start(case: &crate::plan::Case) -> CaseReport {
    let step = crate::events::StepRecord {
        name: "interrupted".into(),
        outcome: Outcome::Error,
        duration: std::time::Duration::ZERO,
        message: Some("the run was interrupted before this case started".into()),
        detail: None,
        attempts: vec![],
    };
    CaseReport {
        name: case.name.clone(),
        scenario: case.scenario.clone(),
        host: case.host.clone(),
        started: std::time::SystemTime::now(),
        duration: std::time::Duration::ZERO,
        outcome: Outcome::Error,
        steps: vec![step],
        properties: vec![],
        consoles: vec![],
        artifacts: vec![],
        kept: vec![],
    }
}

/// The domains xenstore knows on a Xen host (id → name); `None` elsewhere or
/// when the host's shell cannot be reached.
async fn xenstore_domains(spec: &crate::plan::HostSpec) -> Option<BTreeMap<u32, String>> {
    if spec.hypervisor != crate::plan::Hypervisor::Xen {
        return None;
    }
    let out = host_facts::shell_for(spec).run(crate::backend::host_shell::XENSTORE_DOMAINS).await?;
    Some(crate::backend::host_shell::parse_xenstore_domains(&out))
}

/// After every case: no domain of this run may remain on any host, nor its
/// copied image files (`unremoved`: those that could not be removed). Anything
/// found is removed and reported as a failed `teardown` testcase of its own.
async fn leak_check(ctx: &RunContext, cases: &[CaseReport], unremoved: Vec<String>) -> Option<CaseReport> {
    let t = Instant::now();
    // Guests kept for a human (`--keep-on-failure`) are meant to stay.
    let kept: BTreeSet<&str> = cases.iter().flat_map(|c| c.kept.iter().map(|k| k.domain.as_str())).collect();
    let mut found = unremoved;
    let mut unreachable = Vec::new();
    for (name, state) in &ctx.hosts {
        let HostState::Ready(h) = state else { continue };
        match h.host.owned_domains().await {
            Ok(doms) => {
                for d in doms.into_iter().filter(|d| d.run_id == ctx.run_id && !kept.contains(d.name.as_str())) {
                    let removed = h.host.remove_domain(&d.name).await.is_ok();
                    found.push(format!("{} on {name}{}", d.name, if removed { "" } else { " (could not be removed)" }));
                }
            }
            Err(e) => unreachable.push(format!("cannot list the domains of {name}: {}", crate::error_chain(&e))),
        }
        // Xen's own view: a domain libvirt lost track of still shows in xenstore.
        if let Some(basis) = &h.xenstore_basis {
            let ours = format!("vs-{}-", ctx.run_id);
            match xenstore_domains(&h.spec).await {
                Some(now) => {
                    let shell = host_facts::shell_for(&h.spec);
                    for (id, dom) in now {
                        if basis.contains_key(&id) || !dom.starts_with(&ours) || kept.contains(dom.as_str()) {
                            continue;
                        }
                        let removed = shell.run(&format!("xl destroy {id}")).await.is_some();
                        found.push(format!(
                            "xenstore domain {id} ({dom}) on {name}{}",
                            if removed { "" } else { " (xl destroy failed)" }
                        ));
                    }
                }
                None => unreachable.push(format!("cannot list the xenstore domains of {name}")),
            }
        }
    }
    let (outcome, message) = if !found.is_empty() {
        (Outcome::Failed, format!("the run left domains behind: {}", found.join("; ")))
    } else if !unreachable.is_empty() {
        (Outcome::Error, format!("the run's leftovers could not be checked: {}", unreachable.join("; ")))
    } else {
        return None;
    };
    let step = crate::events::StepRecord {
        name: "teardown".into(),
        outcome,
        duration: t.elapsed(),
        message: Some(message),
        detail: None,
        attempts: vec![],
    };
    Some(CaseReport {
        name: "virtsmoke/leak-check".into(),
        scenario: "virtsmoke".into(),
        host: String::new(),
        started: std::time::SystemTime::now(),
        duration: t.elapsed(),
        outcome,
        steps: vec![step],
        properties: vec![("run_id".into(), ctx.run_id.clone())],
        consoles: vec![],
        artifacts: vec![],
        kept: vec![],
    })
}
