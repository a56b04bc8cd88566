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
