//! Known issues applied to a finished case: a failure the scenario expects
//! becomes a known failure, and an expected failure that no longer happens
//! fails the case, so that the entry gets removed.

use crate::cli::glob;
use crate::plan::KnownIssue;

use super::{CaseReport, Outcome, StepRecord};

/// The testcase added to a case whose known issue no longer fails.
pub const FIXED_STEP: &str = "known-issue";

/// `report` with its matching failed steps as [`Outcome::KnownFailure`] (the
/// message says which issue, then the real message), a failed `known-issue`
/// step for each issue whose selected steps all passed, and its outcome
/// recomputed. `issues` are the case's own (`Case::known_issues`).
pub fn classify(mut report: CaseReport, issues: &[KnownIssue]) -> CaseReport {
    if issues.is_empty() {
        return report;
    }
    for step in &mut report.steps {
        mark(step, issues);
    }
    let fixed: Vec<StepRecord> = issues.iter().filter_map(|i| fixed(i, &report.steps)).collect();
    report.steps.extend(fixed);
    report.outcome = CaseReport::outcome_of(&report.steps);
    report
}

/// Makes `step` a known failure if one of `issues` expects it (a failed step
/// whose name and message match); says whether it did. Idempotent, so a step
/// can be marked when it is recorded and again when its case finishes.
pub fn mark(step: &mut StepRecord, issues: &[KnownIssue]) -> bool {
    let Some(issue) = issues.iter().find(|i| expected(i, step)) else { return false };
    step.outcome = Outcome::KnownFailure;
    step.message = Some(format!("known failure: {}: {}", cited(issue), step.message.as_deref().unwrap_or("")));
    true
}

/// The reason, with the link in parentheses when there is one.
pub fn cited(issue: &KnownIssue) -> String {
    match &issue.link {
        Some(link) => format!("{} ({link})", issue.reason),
        None => issue.reason.clone(),
    }
}

/// A failed (or errored) step the issue selects, whose message contains the issue's text.
fn expected(issue: &KnownIssue, step: &StepRecord) -> bool {
    matches!(step.outcome, Outcome::Failed | Outcome::Error)
        && glob::matches(&issue.step, &step.name)
        && step.message.as_deref().is_some_and(|m| m.contains(&issue.message))
}

/// A failed step when every step the issue selects passed (none selected: no verdict).
fn fixed(issue: &KnownIssue, steps: &[StepRecord]) -> Option<StepRecord> {
    let selected: Vec<&StepRecord> = steps.iter().filter(|s| glob::matches(&issue.step, &s.name)).collect();
    if selected.is_empty() || selected.iter().any(|s| s.outcome != Outcome::Passed) {
        return None;
    }
    let names: Vec<&str> = selected.iter().map(|s| s.name.as_str()).collect();
    Some(StepRecord {
        name: FIXED_STEP.to_owned(),
        outcome: Outcome::Failed,
        duration: std::time::Duration::ZERO,
        message: Some(format!("fixed: {} passed; remove the known issue '{}'", names.join(", "), issue.reason)),
        detail: issue.link.clone(),
        attempts: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(step: &str, message: &str) -> KnownIssue {
        KnownIssue {
            case: "*".into(),
            step: step.into(),
            message: message.into(),
            reason: "Xen 4.17 cannot migrate PV live".into(),
            link: Some("https://bugs.example/1".into()),
            expires: None,
        }
    }

    /// A case whose steps are (name, outcome, message).
    fn case(steps: &[(&str, Outcome, Option<&str>)]) -> CaseReport {
        let steps: Vec<StepRecord> = steps
            .iter()
            .map(|(n, o, m)| StepRecord {
                name: (*n).into(),
                outcome: *o,
                duration: std::time::Duration::from_millis(10),
                message: m.map(Into::into),
                detail: None,
                attempts: vec![],
            })
            .collect();
        CaseReport {
            name: "x/pv@lab1".into(),
            scenario: "x".into(),
            host: "lab1".into(),
            started: std::time::SystemTime::UNIX_EPOCH,
            duration: std::time::Duration::from_secs(1),
            outcome: CaseReport::outcome_of(&steps),
            steps,
            properties: vec![],
            consoles: vec![],
            artifacts: vec![],
            kept: vec![],
            cause: None,
        }
    }

    #[test]
    fn a_matching_failure_is_known_and_keeps_its_message() {
        let c = case(&[
            ("boot.ssh", Outcome::Passed, None),
            ("migrate.round-1: lab1 -> lab2", Outcome::Failed, Some("libxl: Failed to enable logdirty: 95")),
            ("migrate.round-2: lab2 -> lab1", Outcome::Skipped, Some("not run")),
        ]);
        let r = classify(c, &[issue("migrate.round-*", "Failed to enable logdirty")]);
        assert_eq!(r.outcome, Outcome::KnownFailure);
        assert_eq!(r.steps[1].outcome, Outcome::KnownFailure);
        assert_eq!(
            r.steps[1].message.as_deref(),
            Some(
                "known failure: Xen 4.17 cannot migrate PV live (https://bugs.example/1): \
                 libxl: Failed to enable logdirty: 95"
            )
        );
        assert_eq!(r.steps.len(), 3, "no `known-issue` step while it still fails");
    }

    #[test]
    fn a_failure_with_another_message_or_step_stays_failed() {
        let c = case(&[
            ("migrate.round-1: lab1 -> lab2", Outcome::Failed, Some("connection refused")),
            ("boot.ssh", Outcome::Failed, Some("Failed to enable logdirty: 95")),
        ]);
        let r = classify(c, &[issue("migrate.round-*", "Failed to enable logdirty")]);
        assert_eq!(r.outcome, Outcome::Failed);
        assert!(r.steps.iter().all(|s| s.outcome == Outcome::Failed));
    }

    #[test]
    fn a_known_failure_beside_a_real_one_fails_the_case() {
        let c = case(&[
            ("migrate.round-1: a -> b", Outcome::Failed, Some("Failed to enable logdirty: 95")),
            ("teardown", Outcome::Error, Some("domain survived")),
        ]);
        let r = classify(c, &[issue("migrate.*", "logdirty")]);
        assert_eq!(r.steps[0].outcome, Outcome::KnownFailure);
        assert_eq!(r.outcome, Outcome::Error);
    }

    #[test]
    fn a_fixed_issue_fails_the_case_and_says_to_remove_it() {
        let c = case(&[
            ("migrate.round-1: a -> b", Outcome::Passed, None),
            ("migrate.round-2: b -> a", Outcome::Passed, None),
        ]);
        let r = classify(c, &[issue("migrate.round-*", "logdirty")]);
        assert_eq!(r.outcome, Outcome::Failed);
        let last = r.steps.last().unwrap();
        assert_eq!(last.name, FIXED_STEP);
        assert_eq!(
            last.message.as_deref(),
            Some(
                "fixed: migrate.round-1: a -> b, migrate.round-2: b -> a passed; \
                 remove the known issue 'Xen 4.17 cannot migrate PV live'"
            )
        );
    }

    #[test]
    fn steps_not_run_are_no_verdict() {
        let c = case(&[
            ("boot.console", Outcome::Failed, Some("kernel panic")),
            ("migrate", Outcome::Skipped, Some("not run: an earlier step did not pass")),
        ]);
        let r = classify(c, &[issue("migrate*", "logdirty")]);
        assert_eq!(r.outcome, Outcome::Failed);
        assert!(r.steps.iter().all(|s| s.name != FIXED_STEP));
    }

    #[test]
    fn boot_steps_can_be_known() {
        let c = case(&[
            ("pv: boot.systemd", Outcome::Passed, None),
            ("pv: boot.cloud-init", Outcome::Failed, Some("cloud-init status: error (module cc_ntp failed)")),
        ]);
        let r = classify(c, &[issue("*boot.cloud-init", "cc_ntp")]);
        assert_eq!(r.outcome, Outcome::KnownFailure);
        assert_eq!(r.steps[1].outcome, Outcome::KnownFailure);
    }

    #[test]
    fn a_step_marked_when_recorded_is_not_marked_again() {
        let c = case(&[("migrate.round-1: a -> b", Outcome::Failed, Some("logdirty: 95"))]);
        let issues = [issue("migrate.*", "logdirty")];
        let mut step = c.steps[0].clone();
        assert!(mark(&mut step, &issues));
        assert!(!mark(&mut step, &issues));
        let once = classify(c, &issues);
        assert_eq!(once.steps[0], step);
        assert_eq!(classify(once.clone(), &issues), once);
    }

    #[test]
    fn without_issues_nothing_changes() {
        let c = case(&[("boot.ssh", Outcome::Failed, Some("no answer"))]);
        assert_eq!(classify(c.clone(), &[]), c);
    }
}
