//! Cases for the report modules' tests: a passing case with figures and host
//! facts, a failing one whose evidence holds markup and terminal escapes.

use std::time::{Duration, SystemTime};

use crate::events::{CaseReport, Outcome, StepRecord};

pub fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

pub fn step(name: &str, outcome: Outcome, ms: u64, message: Option<&str>) -> StepRecord {
    StepRecord {
        name: name.into(),
        outcome,
        duration: Duration::from_millis(ms),
        message: message.map(Into::into),
        detail: message.map(|_| "console says \u{1b}[31m<oops> & \"quoted\"\u{1b}[0m\r\n\u{0}end".into()),
        attempts: vec![],
    }
}

pub fn case(name: &str, host: &str, outcome: Outcome, properties: &[(&str, &str)]) -> CaseReport {
    CaseReport {
        name: name.into(),
        scenario: name.split('/').next().unwrap_or(name).into(),
        host: host.into(),
        started: at(0),
        duration: Duration::from_secs(12),
        outcome,
        steps: vec![
            step("boot.running", Outcome::Passed, 1_500, None),
            step("boot.ssh", outcome, 9_000, (outcome != Outcome::Passed).then_some("no answer <within> 9 s")),
        ],
        properties: properties.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        consoles: vec![],
        artifacts: vec![],
        kept: vec![],
        cause: None,
    }
}

pub fn cases() -> Vec<CaseReport> {
    let mut ok =
        case("local-kvm/tiny@lab1", "lab1", Outcome::Passed, &[("boot_ms", "9000"), ("libvirt_version", "9.0.0")]);
    ok.consoles = vec![("tiny".into(), "SeaBIOS \u{1b}[2J\nVIRTSMOKE-MARKER boot ]]>".into())];
    ok.artifacts = vec!["/tmp/a/console.log".into()];
    let mut bad = case("local-kvm/tiny-panic@lab1", "lab1", Outcome::Failed, &[]);
    bad.started = at(2);
    bad.duration = Duration::from_secs(3);
    bad.steps = vec![
        step("boot.console", Outcome::Failed, 2_000, Some("kernel panic on the console")),
        step("boot.ssh", Outcome::Skipped, 0, Some("an earlier step failed")),
        step("teardown", Outcome::Error, 500, Some("domain survived")),
    ];
    vec![ok, bad]
}
