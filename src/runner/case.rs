//! One case, start to finish: its host, the boot chain of its guests, its
//! checks (through `checks::run`), the steps that never ran, and its teardown
//! whatever happened.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::sync::mpsc::UnboundedSender;

use super::admission::Admission;
use super::boot_chain::{self, BOOT_STEPS, READY_STEPS, readiness_skip};
use super::context::{HostState, LostHost, ReadyHost, RunContext};
use super::names::slug;
use super::provision::GuestSlot;
use super::recorder::{Recorder, record_testcases};
use super::teardown;
use crate::checks::{self, GuestUnderTest, StepFailure};
use crate::events::CauseId;
use crate::events::{CaseReport, Outcome, RunEvent, known};
use crate::plan::Case;

/// Runs `case` as `admission` placed it (its slots, its host's account, a
/// refusal), which it records.
pub async fn execute(
    ctx: Arc<RunContext>,
    index: usize,
    case: Case,
    tx: UnboundedSender<RunEvent>,
    admission: &Admission,
) -> CaseReport {
    let started = SystemTime::now();
    let t0 = Instant::now();
    let _ = tx.send(RunEvent::CaseStarted { case: case.name.clone(), host: case.host.clone() });
    let case_dir = ctx.artifacts.join(slug(&case.name));
    let mut rec = Recorder::new(&case.name, case.guests.len() > 1, &tx, &case.known_issues);
    rec.property("run_id", &ctx.run_id);
    // `virtsmoke reproduce` reruns the case from this file.
    rec.property("scenario_file", case.source.display());
    note_admission(admission, &mut rec);
    let mut guests: Vec<GuestUnderTest> = Vec::new();
    let mut artifacts: Vec<PathBuf> = Vec::new();

    if let Some(host) = home_host(&ctx, &case, &mut rec)
        && admitted(admission, &mut rec)
        && runnable(host, &case, &mut rec)
    {
        rec.property("domain_type", host.domain_type.as_str());
        for (k, v) in host.facts.properties() {
            rec.property(k, v);
        }
        let at = GuestSlot { ctx: &ctx, host, index, case: &case, case_dir: &case_dir };
        let body = run_body(&at, &mut guests, &mut artifacts, &mut rec);
        tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => {
                rec.record(None, "interrupted", Instant::now(), Err(StepFailure::error("the run was interrupted")));
            }
            r = tokio::time::timeout(case.timeouts.case, body) => if r.is_err() {
                rec.record(None, "case", t0, Err(StepFailure::failed(format!(
                    "the case did not finish within {}", humantime::format_duration(case.timeouts.case)))));
            }
        }
    }
    mark_not_run(&case, &mut rec);

    let did_not_pass = matches!(CaseReport::outcome_of(&rec.steps), Outcome::Failed | Outcome::Error);
    let keep = ctx.keep.keeps(did_not_pass);
    let mut xen = Vec::new();
    if did_not_pass
        && ctx.lost_host(&case.host).is_none()
        && let Some(HostState::Ready(host)) = ctx.hosts.get(&case.host)
    {
        let (files, lines) = teardown::evidence_of(&ctx, host, &guests, &case_dir, started).await;
        artifacts.extend(files);
        xen = lines;
    }
    let (consoles, kept) = teardown::teardown(&ctx, index, guests, keep, &mut rec).await;

    let mut report = CaseReport {
        name: case.name.clone(),
        scenario: case.scenario.clone(),
        host: case.host.clone(),
        started,
        duration: t0.elapsed(),
        outcome: Outcome::Passed,
        steps: rec.steps,
        properties: rec.properties,
        consoles,
        artifacts,
        kept,
        cause: None,
    };
    report.outcome = CaseReport::outcome_of(&report.steps);
    let mut report = known::classify(report, &case.known_issues);
    crate::cause::attach(&mut report, &xen);
    note_lost_host(&ctx, &report);
    report
}

/// A case whose cause is its host gone marks the host lost: later cases on it are not run.
fn note_lost_host(ctx: &RunContext, report: &CaseReport) {
    if ctx.lost_host(&report.host).is_none()
        && let Some(lost) = lost_by(report, SystemTime::now())
    {
        ctx.mark_lost(&report.host, lost);
    }
}

/// The host `report` found gone at `now`, if its cause says so.
fn lost_by(report: &CaseReport, now: SystemTime) -> Option<LostHost> {
    let gone = report.cause.as_ref().is_some_and(|c| c.id == CauseId::HostUnreachable);
    (gone && !report.host.is_empty())
        .then(|| LostHost { since: crate::cause::facts::clock(now), why: format!("found by {}", report.name) })
}

/// The case's place: slots not held, the host's account, the wait for room.
fn note_admission(admission: &Admission, rec: &mut Recorder<'_>) {
    if let Some(why) = &admission.no_slots {
        rec.property("host_slots", slots_note(why));
    }
    if let Some(load) = &admission.load {
        rec.property("host_load", load);
    }
    if admission.waited >= std::time::Duration::from_secs(1) {
        rec.property("admission_wait_ms", admission.waited.as_millis());
    }
}

/// Whether the host had room for the case; if not, the `host` step says why
/// (skipped or an error, as the host's `when_full` says).
fn admitted(admission: &Admission, rec: &mut Recorder<'_>) -> bool {
    match &admission.refused {
        None => true,
        Some((Outcome::Skipped, why)) => {
            rec.skip(None, "host", why.clone());
            false
        }
        Some((_, why)) => {
            rec.record(None, "host", Instant::now(), Err(StepFailure::error(why.clone())));
            false
        }
    }
}

/// What a case without guest slots says of it.
fn slots_note(why: &str) -> String {
    format!("not held ({why}): the host's capacity held only within this process, not against other virtsmoke runs")
}

/// The case's host when it is ready; otherwise the `host` step says why not.
fn home_host<'a>(ctx: &'a RunContext, case: &Case, rec: &mut Recorder<'_>) -> Option<&'a ReadyHost> {
    // A host an earlier case found gone is not asked again: said once, referred to here.
    let lost = ctx.lost_host(&case.host);
    let why = match ctx.hosts.get(&case.host) {
        _ if let Some(lost) = lost => format!("not run: {}", lost.describe(&case.host)),
        Some(HostState::Ready(h)) => return Some(h),
        Some(HostState::Unusable(why)) => format!("host `{}` is unusable: {why}", case.host),
        None => format!("host `{}` unknown", case.host),
    };
    rec.record(None, "host", Instant::now(), Err(StepFailure::error(why)));
    None
}

/// Whether `host` can run every guest kind of `case` (its capabilities);
/// if not, the case is skipped with the host's reason before any domain is defined.
fn runnable(host: &ReadyHost, case: &Case, rec: &mut Recorder<'_>) -> bool {
    let Some(why) = cannot_run(&host.facts, case) else { return true };
    rec.skip(None, "host", format!("skipped: {why}"));
    false
}

/// Why the host of `facts` cannot run `case`'s guests (the first kind it cannot run).
fn cannot_run(facts: &crate::events::HostFacts, case: &Case) -> Option<String> {
    case.guests.iter().find_map(|g| crate::hypervisor::caps::can_run(g.kind, facts).err())
}

/// The boot chain, then every check in the case's order.
async fn run_body(
    at: &GuestSlot<'_>,
    guests: &mut Vec<GuestUnderTest>,
    artifacts: &mut Vec<PathBuf>,
    rec: &mut Recorder<'_>,
) {
    if !boot_chain::boot_all(at, guests, artifacts, rec).await {
        return;
    }
    let case = at.case;
    let env = checks::CaseEnv {
        specs: &case.guests,
        home: checks::HostRef {
            spec: &at.host.spec,
            host: &at.host.host,
            domain_type: at.host.domain_type,
            facts: &at.host.facts,
        },
        others: other_hosts(at.ctx, at.host),
        timeouts: &case.timeouts,
        case_dir: at.case_dir,
        run_dir_on_host: if crate::hostaccess::is_this_machine(&at.host.spec) {
            at.ctx.run_dir.clone()
        } else {
            crate::rundir::remote_run_dir(&at.ctx.run_id).into()
        },
    };
    for check in &case.checks {
        record_testcases(rec, checks::run(check, &env, guests).await);
    }
}

/// Marks the steps that never ran, so every case shows the same testcases.
fn mark_not_run(case: &Case, rec: &mut Recorder<'_>) {
    for g in &case.guests {
        for step in BOOT_STEPS {
            rec.not_run(Some(&g.name), step, "not run: an earlier step did not pass");
        }
        for step in READY_STEPS {
            let why = readiness_skip(&g.image, step).unwrap_or("not run: an earlier step did not pass");
            rec.not_run(Some(&g.name), step, why);
        }
    }
    for check in &case.checks {
        // Checks with several testcases name them `CHECK.something`; none of them
        // having run means the check itself did not run.
        let prefix = format!("{}.", check.name());
        if checks::has_own_testcases(check) && !rec.steps.iter().any(|s| s.name.starts_with(&prefix)) {
            rec.not_run(None, check.name(), "not run: an earlier step did not pass");
        }
    }
}

/// The usable hosts of the run other than the case's, in name order.
fn other_hosts<'a>(ctx: &'a RunContext, home: &ReadyHost) -> Vec<checks::HostRef<'a>> {
    ctx.hosts
        .values()
        .filter_map(|state| match state {
            HostState::Ready(h) if h.spec.name != home.spec.name => {
                Some(checks::HostRef { spec: &h.spec, host: &h.host, domain_type: h.domain_type, facts: &h.facts })
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Cause, CauseId};

    #[test]
    fn a_case_whose_kind_the_host_cannot_run_says_the_hosts_reason() {
        let text = "version: 1\nname: t\nhosts:\n  x:\n    uri: \"xen:///system\"\nimages:\n  \
            tiny:\n    builtin: test-image\nguests:\n  pv:\n    kind: xen-pv\n    image: tiny\n  pvh:\n    kind: xen-pvh\n    \
            image: tiny\n";
        let plan = crate::scenario::load_str(std::path::Path::new("t.yaml"), text).unwrap();
        let pv = plan.cases.iter().find(|c| c.guests[0].kind == crate::plan::GuestKind::XenPv).unwrap();
        let pvh = plan.cases.iter().find(|c| c.guests[0].kind == crate::plan::GuestKind::XenPvh).unwrap();
        let offer = crate::hypervisor::caps::xen_offer("xen", "xenpv");
        let facts = crate::events::HostFacts {
            hostname: "xen-old".into(),
            hypervisor: "Xen".into(),
            libvirt_version: "7.0.0".into(),
            guests: vec![offer],
            ..Default::default()
        };
        assert_eq!(cannot_run(&facts, pv), None);
        assert_eq!(cannot_run(&facts, pvh).as_deref(), Some("libvirt 7.0.0 on xen-old offers no xenpvh machine"));
    }

    #[test]
    fn only_a_case_whose_cause_is_its_host_gone_marks_the_host_lost() {
        let mut r = crate::report::sample::case("s/c@xen1", "xen1", Outcome::Error, &[]);
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(3 * 3600 + 26 * 60 + 19);
        assert_eq!(lost_by(&r, at), None, "no cause");
        r.cause = Some(Cause { id: CauseId::SshNotListening, summary: String::new(), evidence: vec![] });
        assert_eq!(lost_by(&r, at), None, "a guest's cause");
        r.cause = Some(Cause { id: CauseId::HostUnreachable, summary: String::new(), evidence: vec![] });
        let lost = lost_by(&r, at).unwrap();
        assert_eq!(lost.describe("xen1"), "host xen1 unreachable since 03:26:19 (found by s/c@xen1)");
    }
}
