//! The dispatcher: spawns the cases within `jobs` and each host's guest
//! capacity, listens for signals, forwards every event, and collects one report
//! per case, in plan order, also for a case whose task died.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

use super::admission::{self, Admission};
use super::case;
use super::context::{HostState, RunContext};
use super::host_slots;
use super::options::Interruption;
use crate::events::{CaseReport, Outcome, RunEvent, StepRecord};
use crate::plan::{Case, GuestKind, Plan, WhenFull};

/// The cases under way: each task's case, so a task that panics is reported
/// as an error case rather than lost.
#[derive(Default)]
pub struct Tasks {
    set: JoinSet<(usize, CaseReport)>,
    cases: HashMap<tokio::task::Id, (usize, Who)>,
}

/// What names a case in its report.
#[derive(Clone)]
pub struct Who {
    pub name: String,
    pub scenario: String,
    pub host: String,
}

impl Who {
    pub fn of(case: &Case) -> Who {
        Who { name: case.name.clone(), scenario: case.scenario.clone(), host: case.host.clone() }
    }
}

impl Tasks {
    pub fn spawn(&mut self, index: usize, who: Who, task: impl Future<Output = (usize, CaseReport)> + Send + 'static) {
        let id = self.set.spawn(task).id();
        self.cases.insert(id, (index, who));
    }

    /// The next case to finish with its index; `None` once all have.
    pub async fn next(&mut self) -> Option<(usize, CaseReport)> {
        let joined = self.set.join_next_with_id().await?;
        Some(match joined {
            Ok((id, done)) => {
                self.cases.remove(&id);
                done
            }
            Err(e) => {
                let (index, who) = self.cases.remove(&e.id()).unwrap_or_else(unknown_case);
                (index, died(&who, e))
            }
        })
    }
}

/// A task the dispatcher did not spawn: cannot happen, but is reported all the same.
fn unknown_case() -> (usize, Who) {
    let who = Who { name: "virtsmoke/unknown-case".into(), scenario: "virtsmoke".into(), host: String::new() };
    (usize::MAX, who)
}

/// The report of a case whose task died: an error, with the panic's message.
fn died(case: &Who, e: JoinError) -> CaseReport {
    let why = if e.is_panic() {
        let payload = e.into_panic();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        format!("the case's task panicked (a bug in virtsmoke): {msg}")
    } else {
        format!("the case's task ended early: {e}")
    };
    error_report(case, "harness", why)
}

/// A case that ends with one error step and nothing else.
fn error_report(case: &Who, step: &str, why: String) -> CaseReport {
    let mut report = bare_error_report(case, step, why);
    crate::cause::attach(&mut report, &[]);
    report
}

/// [`error_report`] without its cause.
fn bare_error_report(case: &Who, step: &str, why: String) -> CaseReport {
    let step = StepRecord {
        name: step.into(),
        outcome: Outcome::Error,
        duration: Duration::ZERO,
        message: Some(why),
        detail: None,
        attempts: vec![],
    };
    CaseReport {
        name: case.name.clone(),
        scenario: case.scenario.clone(),
        host: case.host.clone(),
        started: SystemTime::now(),
        duration: Duration::ZERO,
        outcome: Outcome::Error,
        steps: vec![step],
        properties: vec![],
        consoles: vec![],
        artifacts: vec![],
        kept: vec![],
        cause: None,
    }
}

fn interrupted_before_start(case: &Case) -> CaseReport {
    error_report(&Who::of(case), "interrupted", "the run was interrupted before this case started".into())
}

/// The hosts a case may run on: a pinned case has one; a placed one those of
/// its candidates that came up usable and can run its guests' kinds (none
/// able: the usable ones, where the case is skipped with the host's reason;
/// none usable: the first, whose error the case reports).
fn host_choices(ctx: &RunContext, case: &Case) -> Vec<String> {
    if case.candidates.is_empty() {
        return vec![case.host.clone()];
    }
    let usable: Vec<(&String, &crate::events::HostFacts)> = case
        .candidates
        .iter()
        .filter_map(|n| match ctx.hosts.get(n) {
            Some(HostState::Ready(h)) => Some((n, &h.facts)),
            _ => None,
        })
        .collect();
    let kinds: Vec<GuestKind> = case.guests.iter().map(|g| g.kind).collect();
    let chosen = able_first(&usable, &kinds);
    if chosen.is_empty() { vec![case.host.clone()] } else { chosen }
}

/// Of the usable hosts (name, facts), those that can run every kind; none
/// able: all of them, where the case is skipped with the host's reason.
fn able_first(usable: &[(&String, &crate::events::HostFacts)], kinds: &[GuestKind]) -> Vec<String> {
    let fits = |f: &crate::events::HostFacts| kinds.iter().all(|k| crate::hypervisor::caps::can_run(*k, f).is_ok());
    let able: Vec<String> = usable.iter().filter(|(_, f)| fits(f)).map(|(n, _)| (*n).clone()).collect();
    if able.is_empty() { usable.iter().map(|(n, _)| (*n).clone()).collect() } else { able }
}

/// Runs the case once a job and guest slots on one of its hosts are free and
/// that host, by its own account, has room (see `admission`).
async fn when_free(
    ctx: Arc<RunContext>,
    global: Arc<Semaphore>,
    index: usize,
    mut case: Case,
    names: Vec<String>,
    slots: Vec<(String, u32)>,
    tx: mpsc::UnboundedSender<RunEvent>,
) -> (usize, CaseReport) {
    let need = case.guests.len() as u32;
    let mib: u64 = case.guests.iter().map(|g| g.memory_mib).sum();
    // Since when the host has said it has no room: a case's wait for a job
    // or this machine's slots is not a wait for the host.
    let mut refused_since: Option<std::time::Instant> = None;
    let mut attempt = 0;
    loop {
        let permits = tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => None,
            p = async {
                let g = Arc::clone(&global).acquire_owned().await;
                // Without slots (no lock directory) the case still runs on its
                // first host: capacity then holds only within this process, through `jobs`.
                // The case says so (see `case::execute`).
                match host_slots::acquire_any(&slots, index + attempt, need).await {
                    Ok((i, s)) => (g, i, Ok(s)),
                    Err(e) => (g, 0, Err(crate::error_chain(&e))),
                }
            } => Some(p),
        };
        let Some((_global, chosen, held)) = permits else {
            return (index, interrupted_before_start(&case));
        };
        case.host = names[chosen].clone();
        let waited = refused_since.map_or(Duration::ZERO, |t| t.elapsed());
        let mut adm = Admission { no_slots: held.as_ref().err().cloned(), waited, ..Admission::default() };
        match admission::room(&ctx, &case.host, need, mib).await {
            Ok(load) => adm.load = load,
            Err(why) => match refused(
                &ctx,
                &case.host,
                refused_since.get_or_insert_with(std::time::Instant::now).elapsed(),
                why,
            ) {
                Some(r) => adm.refused = Some(r),
                None => {
                    drop((_global, held));
                    tokio::select! {
                        _ = ctx.cancel.cancelled() => return (index, interrupted_before_start(&case)),
                        _ = tokio::time::sleep(admission::RECHECK) => {}
                    }
                    attempt += 1;
                    continue;
                }
            },
        }
        return (index, case::execute(ctx, index, case, tx, &adm).await);
    }
}

/// What a case refused room on `host` after `waited` becomes: skipped at once
/// (`when_full: skip`), an error once it waited its `wait_up_to`, or `None`:
/// wait more.
fn refused(ctx: &RunContext, host: &str, waited: Duration, why: String) -> Option<(Outcome, String)> {
    let policy = match ctx.hosts.get(host) {
        Some(HostState::Ready(h)) => h.spec.capacity.when_full,
        _ => crate::plan::WhenFull::DEFAULT,
    };
    match policy {
        WhenFull::Skip => Some((Outcome::Skipped, format!("skipped: {why} (when_full: skip)"))),
        WhenFull::Wait { up_to } if waited >= up_to => Some((
            Outcome::Error,
            format!(
                "waited {} for room, in vain: {why}",
                humantime::format_duration(Duration::from_secs(waited.as_secs()))
            ),
        )),
        WhenFull::Wait { .. } => None,
    }
}

/// Runs the cases with at most `jobs` at once and within each host's guest capacity;
/// the first SIGINT/SIGTERM cancels, a second one hurries the teardown.
pub async fn schedule(
    ctx: &Arc<RunContext>,
    plan: &Plan,
    jobs: usize,
    emit: &mut impl FnMut(&RunEvent),
) -> (Vec<CaseReport>, Option<Interruption>) {
    let (tx, rx) = mpsc::unbounded_channel::<RunEvent>();
    let global = Arc::new(Semaphore::new(jobs));
    let mut tasks = Tasks::default();
    for (index, case) in plan.cases.iter().enumerate() {
        let names = host_choices(ctx, case);
        let slots: Vec<(String, u32)> = names
            .iter()
            .map(|n| plan.hosts.get(n).map(|h| (h.uri.clone(), h.capacity.guests.max(1))).unwrap_or_default())
            .collect();
        let task = when_free(Arc::clone(ctx), Arc::clone(&global), index, case.clone(), names, slots, tx.clone());
        tasks.spawn(index, Who::of(case), task);
    }
    drop(tx);
    collect(ctx, tasks, rx, emit).await
}

/// Forwards events and signals until every case has finished; the reports in plan order.
async fn collect(
    ctx: &RunContext,
    mut tasks: Tasks,
    mut rx: mpsc::UnboundedReceiver<RunEvent>,
    emit: &mut impl FnMut(&RunEvent),
) -> (Vec<CaseReport>, Option<Interruption>) {
    let mut sigint = signal(SignalKind::interrupt()).ok();
    let mut sigterm = signal(SignalKind::terminate()).ok();
    let mut signals = 0u32;
    let mut first: Option<Interruption> = None;
    let mut reports: Vec<(usize, CaseReport)> = Vec::new();
    loop {
        tokio::select! {
            Some(ev) = rx.recv() => emit(&ev),
            done = tasks.next() => match done {
                Some((i, report)) => {
                    while let Ok(ev) = rx.try_recv() { emit(&ev); }
                    emit(&RunEvent::CaseFinished { report: report.clone() });
                    reports.push((i, report));
                }
                None => break,
            },
            Some(_) = recv_signal(&mut sigint) => {
                first.get_or_insert(Interruption::Sigint);
                let other = pending(&mut sigterm).await.then_some("SIGTERM");
                on_signals((&ctx.cancel, &ctx.hurry), &mut signals, ["SIGINT"].into_iter().chain(other), emit);
            }
            Some(_) = recv_signal(&mut sigterm) => {
                first.get_or_insert(Interruption::Sigterm);
                let other = pending(&mut sigint).await.then_some("SIGINT");
                on_signals((&ctx.cancel, &ctx.hurry), &mut signals, ["SIGTERM"].into_iter().chain(other), emit);
            }
        }
    }
    while let Ok(ev) = rx.try_recv() {
        emit(&ev);
    }
    reports.sort_by_key(|(i, _)| *i);
    (reports.into_iter().map(|(_, r)| r).collect(), first)
}

/// Counts the signals received (two sent together count as two at once, so
/// that the teardown hurries before any case sees the first alone), then acts.
fn on_signals<'a>(
    tokens: (&CancellationToken, &CancellationToken),
    signals: &mut u32,
    names: impl Iterator<Item = &'a str>,
    emit: &mut impl FnMut(&RunEvent),
) {
    let before = *signals;
    let names: Vec<&str> = names.collect();
    *signals += names.len() as u32;
    interrupt(tokens, *signals);
    for (i, name) in names.into_iter().enumerate() {
        emit(&RunEvent::Interrupted { signal: name.into(), count: before + 1 + i as u32 });
    }
}

/// Whether a signal has arrived on `s` and not been seen yet (takes it).
async fn pending(s: &mut Option<tokio::signal::unix::Signal>) -> bool {
    tokio::select! {
        biased;
        Some(_) = recv_signal(s) => true,
        () = std::future::ready(()) => false,
    }
}

/// The first signal stops the run (teardown as usual, evidence of failures
/// gathered); a second one hurries the teardown (no evidence, destroy only).
fn interrupt((cancel, hurry): (&CancellationToken, &CancellationToken), signals: u32) {
    // Hurry first: a case that sees the cancellation already sees the hurry.
    if signals > 1 {
        hurry.cancel();
    }
    cancel.cancel();
}

async fn recv_signal(s: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(name: &str) -> Who {
        Who { name: name.into(), scenario: "s".into(), host: "h1".into() }
    }

    fn passed(name: &str) -> CaseReport {
        let mut r = error_report(&who(name), "x", String::new());
        r.steps.clear();
        r.outcome = Outcome::Passed;
        r
    }

    #[test]
    fn a_placed_case_goes_to_a_host_that_can_run_its_kinds() {
        let offer = crate::hypervisor::caps::xen_offer;
        let facts = |guests| crate::events::HostFacts { hypervisor: "Xen".into(), guests, ..Default::default() };
        let old = facts(vec![offer("xen", "xenpv")]);
        let new = facts(vec![offer("xen", "xenpv"), offer("xenpvh", "xenpvh")]);
        let (a, b) = ("xen-old".to_string(), "xen-new".to_string());
        let usable = [(&a, &old), (&b, &new)];
        assert_eq!(able_first(&usable, &[GuestKind::XenPvh]), ["xen-new"]);
        assert_eq!(able_first(&usable, &[GuestKind::XenPv]), ["xen-old", "xen-new"]);
        // None able: every usable one, where the case is skipped with the host's reason.
        assert_eq!(able_first(&usable, &[GuestKind::XenHvm]), ["xen-old", "xen-new"]);
        assert!(able_first(&[], &[GuestKind::XenPv]).is_empty());
    }

    #[test]
    fn two_signals_seen_together_hurry_at_once() {
        let (cancel, hurry) = (CancellationToken::new(), CancellationToken::new());
        let (mut signals, mut seen) = (0, Vec::new());
        on_signals((&cancel, &hurry), &mut signals, ["SIGTERM", "SIGINT"].into_iter(), &mut |ev: &RunEvent| {
            if let RunEvent::Interrupted { signal, count } = ev {
                seen.push((signal.clone(), *count));
            }
        });
        assert!(cancel.is_cancelled() && hurry.is_cancelled());
        assert_eq!(seen, [("SIGTERM".to_string(), 1), ("SIGINT".to_string(), 2)]);
        let (cancel, hurry) = (CancellationToken::new(), CancellationToken::new());
        on_signals((&cancel, &hurry), &mut 0, ["SIGINT"].into_iter(), &mut |_: &RunEvent| {});
        assert!(cancel.is_cancelled() && !hurry.is_cancelled(), "one signal only stops the run");
    }

    #[tokio::test]
    async fn a_case_whose_task_panics_is_an_error_case() {
        let mut tasks = Tasks::default();
        tasks.spawn(0, who("s/ok"), async { (0, passed("s/ok")) });
        tasks.spawn(1, who("s/boom"), async {
            if std::hint::black_box(true) {
                panic!("index out of bounds: the len is 0");
            }
            (1, passed("s/boom"))
        });
        let mut done = Vec::new();
        while let Some(d) = tasks.next().await {
            done.push(d);
        }
        done.sort_by_key(|(i, _)| *i);
        assert_eq!(done.len(), 2, "no case disappears");
        let (i, boom) = &done[1];
        assert_eq!((*i, boom.name.as_str(), boom.host.as_str()), (1, "s/boom", "h1"));
        assert_eq!(boom.outcome, Outcome::Error);
        assert_eq!(boom.steps[0].name, "harness");
        assert_eq!(boom.cause.as_ref().map(|c| c.id), Some(crate::events::CauseId::HarnessError));
        let msg = boom.steps[0].message.as_deref().unwrap_or("");
        assert!(msg.contains("index out of bounds: the len is 0"), "{msg}");
        assert_eq!(CaseReport::outcome_of(&boom.steps), Outcome::Error);
        assert_eq!(done[0].1.outcome, Outcome::Passed);
    }
}
