//! A case's steps and properties as they happen: each step is announced as it
//! finishes, and steps that never ran are marked so every case shows the same
//! testcases.

use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use crate::checks::{self, StepFailure};
use crate::events::{Outcome, RunEvent, StepRecord};
use crate::plan::KnownIssue;

/// Collects a case's steps and announces each as it finishes.
pub struct Recorder<'a> {
    case: &'a str,
    multi_guest: bool,
    pub steps: Vec<StepRecord>,
    pub properties: Vec<(String, String)>,
    tx: &'a UnboundedSender<RunEvent>,
    /// The case's known issues: a step they expect to fail is announced as a
    /// known failure, and the case goes on after it.
    known: &'a [KnownIssue],
}

impl<'a> Recorder<'a> {
    pub fn new(case: &'a str, multi_guest: bool, tx: &'a UnboundedSender<RunEvent>, known: &'a [KnownIssue]) -> Self {
        Recorder { case, multi_guest, steps: Vec::new(), properties: Vec::new(), tx, known }
    }

    fn step_name(&self, guest: Option<&str>, step: &str) -> String {
        match guest {
            Some(g) if self.multi_guest => format!("{g}: {step}"),
            _ => step.to_string(),
        }
    }

    pub fn record(
        &mut self,
        guest: Option<&str>,
        step: &str,
        started: Instant,
        result: Result<(), StepFailure>,
    ) -> bool {
        self.record_with_attempts(guest, step, started, result, Vec::new())
    }

    /// Records a step that was retried: `attempts` are the failures before the last result.
    pub fn record_with_attempts(
        &mut self,
        guest: Option<&str>,
        step: &str,
        started: Instant,
        result: Result<(), StepFailure>,
        attempts: Vec<crate::events::FailedAttempt>,
    ) -> bool {
        let (outcome, message, detail) = match result {
            Ok(()) => (Outcome::Passed, None, None),
            Err(f) => (f.outcome, Some(f.message), f.detail),
        };
        let rec = StepRecord {
            name: self.step_name(guest, step),
            outcome,
            duration: started.elapsed(),
            message,
            detail,
            attempts,
        };
        self.push(rec)
    }

    /// Records a step that passed with something a reader should see: a
    /// tolerated failure, said in the message, with its evidence.
    pub fn passed_with_note(
        &mut self,
        guest: Option<&str>,
        step: &str,
        started: Instant,
        note: String,
        detail: Option<String>,
    ) -> bool {
        let rec = StepRecord {
            name: self.step_name(guest, step),
            outcome: Outcome::Passed,
            duration: started.elapsed(),
            message: Some(note),
            detail,
            attempts: Vec::new(),
        };
        self.push(rec)
    }

    /// Marks a known failure, announces the step and keeps it; whether the case goes on.
    fn push(&mut self, mut rec: StepRecord) -> bool {
        let known = crate::events::known::mark(&mut rec, self.known);
        let passed = rec.outcome == Outcome::Passed || known;
        let _ = self.tx.send(RunEvent::StepFinished { case: self.case.to_string(), step: rec.clone() });
        self.steps.push(rec);
        passed
    }

    /// A step skipped for a reason worth seeing as it happens (announced, unlike `not_run`).
    pub fn skip(&mut self, guest: Option<&str>, step: &str, why: String) {
        let rec = StepRecord {
            name: self.step_name(guest, step),
            outcome: Outcome::Skipped,
            duration: Duration::ZERO,
            message: Some(why),
            detail: None,
            attempts: Vec::new(),
        };
        self.push(rec);
    }

    /// Marks steps that never ran, so every case shows the same testcases.
    pub fn not_run(&mut self, guest: Option<&str>, step: &str, why: &str) {
        let name = self.step_name(guest, step);
        if self.steps.iter().any(|s| s.name == name) {
            return;
        }
        self.steps.push(StepRecord {
            name,
            outcome: Outcome::Skipped,
            duration: Duration::ZERO,
            message: Some(why.to_string()),
            detail: None,
            attempts: Vec::new(),
        });
    }

    pub fn property(&mut self, k: impl Into<String>, v: impl ToString) {
        self.properties.push((k.into(), v.to_string()));
    }
}

/// Records what a check produced.
pub fn record_testcases(rec: &mut Recorder<'_>, testcases: Vec<checks::Testcase>) {
    for checks::Testcase { result: r, attempts } in testcases {
        let started = Instant::now() - r.duration;
        for (k, v) in r.properties {
            rec.property(k, v);
        }
        rec.record_with_attempts(None, &r.name, started, r.result, attempts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(step: &str, message: &str) -> KnownIssue {
        KnownIssue {
            case: "*".into(),
            step: step.into(),
            message: message.into(),
            reason: "the image lacks `locales`".into(),
            link: None,
            expires: None,
        }
    }

    #[test]
    fn a_skip_is_announced_and_leaves_the_case_skipped() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut rec = Recorder::new("s/pvh@xen-old", false, &tx, &[]);
        rec.skip(None, "host", "skipped: libvirt 7.0.0 on xen-old offers no xenpvh machine".into());
        rec.not_run(Some("pvh"), "boot.define", "not run: an earlier step did not pass");
        let Ok(RunEvent::StepFinished { step, .. }) = rx.try_recv() else { panic!("no event") };
        assert_eq!(step.name, "host");
        assert_eq!(step.outcome, Outcome::Skipped);
        assert_eq!(step.message.as_deref(), Some("skipped: libvirt 7.0.0 on xen-old offers no xenpvh machine"));
        assert!(rx.try_recv().is_err(), "steps that never ran are not announced");
        assert_eq!(crate::events::CaseReport::outcome_of(&rec.steps), Outcome::Skipped);
        // A teardown with nothing to tear down passes, and judges nothing.
        rec.record(None, "teardown", std::time::Instant::now(), Ok(()));
        assert_eq!(crate::events::CaseReport::outcome_of(&rec.steps), Outcome::Skipped);
    }

    #[test]
    fn a_known_boot_step_failure_lets_the_chain_go_on() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let known = [issue("boot.cloud-init", "update-locale")];
        let mut rec = Recorder::new("s/deb@lab1", false, &tx, &known);
        let failure =
            StepFailure::failed("cloud-init finished with status `error`: ('locale', ... 'update-locale' ...)");
        assert!(rec.record(Some("deb"), "boot.cloud-init", Instant::now(), Err(failure)), "the case goes on");
        assert_eq!(rec.steps[0].outcome, Outcome::KnownFailure);
        assert!(rec.steps[0].message.as_deref().unwrap().starts_with("known failure: the image lacks `locales`: "));
        // Announced as a known failure too, not only kept.
        let Ok(RunEvent::StepFinished { step, .. }) = rx.try_recv() else { panic!("no event") };
        assert_eq!(step.outcome, Outcome::KnownFailure);
        // Another boot step, or another message, still ends the chain.
        assert!(!rec.record(Some("deb"), "boot.ssh", Instant::now(), Err(StepFailure::failed("update-locale"))));
        let other = StepFailure::failed("cloud-init finished with status `error`: ('ntp', ...)");
        assert!(!rec.record(Some("deb"), "boot.cloud-init", Instant::now(), Err(other)));
        assert_eq!(rec.steps[2].outcome, Outcome::Failed);
    }

    #[test]
    fn a_note_on_a_passed_step_is_kept_and_passes() {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let mut rec = Recorder::new("s/a@lab1", true, &tx, &[]);
        let note = "passed with tolerated failures: locale (x)".to_string();
        assert!(rec.passed_with_note(Some("deb"), "boot.cloud-init", Instant::now(), note.clone(), None));
        assert_eq!(rec.steps[0].name, "deb: boot.cloud-init");
        assert_eq!((rec.steps[0].outcome, rec.steps[0].message.as_deref()), (Outcome::Passed, Some(note.as_str())));
    }
}
