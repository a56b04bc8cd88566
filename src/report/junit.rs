//! JUnit XML that validates against the Jenkins xunit plugin's junit-10.xsd.
//!
//! That schema allows properties on a testsuite only, so each case is a
//! testsuite carrying its figures and host facts, and each step is a testcase.

use std::path::Path;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use crate::events::{CaseReport, Outcome};

#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    #[error("cannot serialize the JUnit report")]
    Serialize(#[from] quick_junit::SerializeError),
    #[error("cannot write {}", .0.display())]
    Write(std::path::PathBuf, #[source] std::io::Error),
}

/// Renders the cases as a JUnit document.
pub fn render(run_name: &str, cases: &[CaseReport]) -> Result<String, JunitError> {
    let mut report = Report::new(run_name);
    let total: std::time::Duration = cases.iter().map(|c| c.duration).sum();
    report.set_time(total);
    for case in cases {
        report.add_test_suite(suite(case));
    }
    Ok(strict_root(report.to_string()?))
}

pub fn write(path: &Path, run_name: &str, cases: &[CaseReport]) -> Result<(), JunitError> {
    let xml = render(run_name, cases)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| JunitError::Write(dir.to_path_buf(), e))?;
    }
    // Write beside and rename, so a reader never sees half a report.
    let tmp = path.with_extension("xml.partial");
    std::fs::write(&tmp, xml).map_err(|e| JunitError::Write(tmp.clone(), e))?;
    std::fs::rename(&tmp, path).map_err(|e| JunitError::Write(path.to_path_buf(), e))
}

fn suite(case: &CaseReport) -> TestSuite {
    let mut suite = TestSuite::new(case.name.as_str());
    suite.set_time(case.duration);
    suite.set_timestamp(chrono::DateTime::<chrono::Utc>::from(case.started).fixed_offset());
    for (k, v) in &case.properties {
        suite.add_property(Property::new(k.as_str(), v.as_str()));
    }
    let classname = case.name.replace('/', ".");
    let first_bad = case.steps.iter().position(|s| matches!(s.outcome, Outcome::Failed | Outcome::Error));
    for (i, step) in case.steps.iter().enumerate() {
        let mut status = match step.outcome {
            Outcome::Passed => TestCaseStatus::success(),
            Outcome::Failed => TestCaseStatus::non_success(NonSuccessKind::Failure),
            Outcome::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
            // The message says which known issue, then the real message.
            Outcome::Skipped | Outcome::KnownFailure => TestCaseStatus::skipped(),
        };
        // The case's cause leads the message of its first bad step (in full)
        // and of the others (its id): the answer to "why" is seen first.
        let cause = case.cause.as_ref().filter(|_| matches!(step.outcome, Outcome::Failed | Outcome::Error));
        let message = match (cause, &step.message) {
            (Some(c), m) if Some(i) == first_bad => Some(format!("{}: {}", c.headline(), m.as_deref().unwrap_or(""))),
            (Some(c), Some(m)) => Some(format!("[{}] {m}", c.id)),
            (_, m) => m.clone(),
        };
        if let Some(m) = &message {
            status.set_message(m.as_str());
        }
        if let Some(d) = &step.detail {
            status.set_description(d.as_str());
        }
        // Retried steps, as nextest writes them: flakyFailure under a pass,
        // rerunFailure under a failure. junit-10.xsd requires `type` and allows no
        // time attributes on these elements.
        for a in &step.attempts {
            let mut rerun = TestRerun::new(NonSuccessKind::Failure);
            rerun.message = Some(a.message.as_str().into());
            rerun.ty = Some("attempt failed".into());
            rerun.description = a.detail.as_deref().map(Into::into);
            status.add_rerun(rerun);
        }
        let mut tc = TestCase::new(step.name.as_str(), status);
        tc.set_classname(classname.as_str());
        tc.set_time(step.duration);
        if matches!(step.outcome, Outcome::Failed | Outcome::Error) && !case.artifacts.is_empty() {
            // GitLab reads attachments from a failing testcase's output, with paths
            // relative to the project directory.
            let lines: String =
                case.artifacts.iter().map(|a| format!("[[ATTACHMENT|{}]]\n", project_relative(a).display())).collect();
            tc.set_system_out(lines);
        }
        suite.add_test_case(tc);
    }
    suite.set_system_out_lossy(system_out(case));
    suite
}

/// Figures repeated as text (some consumers drop properties), then the consoles.
fn system_out(case: &CaseReport) -> String {
    let mut out = String::new();
    out.push_str("== virtsmoke figures ==\n");
    for (k, v) in &case.properties {
        out.push_str(&format!("{k}={v}\n"));
    }
    for step in &case.steps {
        out.push_str(&format!(
            "step {} {:?} {}ms{}\n",
            step.name,
            step.outcome,
            step.duration.as_millis(),
            step.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
        ));
    }
    for a in &case.artifacts {
        // Jenkins junit-attachments reads this form, with absolute paths.
        out.push_str(&format!("[[ATTACHMENT|{}]]\n", absolute(a).display()));
    }
    for (guest, tail) in &case.consoles {
        out.push_str(&format!("== console of {guest} (last lines) ==\n{tail}\n"));
    }
    out
}

fn absolute(p: &Path) -> std::path::PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn project_relative(p: &Path) -> std::path::PathBuf {
    let abs = absolute(p);
    std::env::current_dir().ok().and_then(|cwd| abs.strip_prefix(cwd).ok().map(Path::to_path_buf)).unwrap_or(abs)
}

/// quick-junit writes a `skipped` count on `<testsuites>`, which junit-10.xsd does not
/// declare there; the strictest consumer rejects the whole file for it.
fn strict_root(xml: String) -> String {
    let Some(start) = xml.find("<testsuites") else { return xml };
    let Some(len) = xml[start..].find('>') else { return xml };
    let tag = &xml[start..start + len];
    let Some(attr) = tag.find(" skipped=\"") else { return xml };
    let value_start = start + attr + " skipped=\"".len();
    let Some(value_len) = xml[value_start..].find('"') else { return xml };
    let mut out = String::with_capacity(xml.len());
    out.push_str(&xml[..start + attr]);
    out.push_str(&xml[value_start + value_len + 1..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::StepRecord;
    use std::time::{Duration, SystemTime};

    fn step(name: &str, outcome: Outcome, message: Option<&str>) -> StepRecord {
        StepRecord {
            name: name.into(),
            outcome,
            duration: Duration::from_millis(1500),
            message: message.map(Into::into),
            detail: message.map(|_| "console says \u{1b}[0m ]]> <oops> \u{0}".into()),
            attempts: vec![],
        }
    }

    pub(crate) fn sample_cases() -> Vec<CaseReport> {
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        vec![
            CaseReport {
                name: "local-kvm/tiny@lab1".into(),
                scenario: "local-kvm".into(),
                host: "lab1".into(),
                started,
                duration: Duration::from_secs(12),
                outcome: Outcome::Passed,
                steps: vec![step("boot.running", Outcome::Passed, None), step("boot.ssh", Outcome::Passed, None)],
                properties: vec![("boot_ms".into(), "9000".into()), ("libvirt_version".into(), "9.0.0".into())],
                consoles: vec![("tiny".into(), "SeaBIOS \u{1b}[2J\nVIRTSMOKE-MARKER boot ]]>".into())],
                artifacts: vec!["/tmp/a/console.log".into()],
                kept: vec![],
                cause: None,
            },
            CaseReport {
                name: "local-kvm/tiny-panic@lab1".into(),
                scenario: "local-kvm".into(),
                host: "lab1".into(),
                started,
                duration: Duration::from_secs(3),
                outcome: Outcome::Failed,
                steps: vec![
                    step("boot.console", Outcome::Failed, Some("kernel panic on the console")),
                    step("boot.ssh", Outcome::Skipped, Some("an earlier step failed")),
                    StepRecord {
                        attempts: vec![crate::events::FailedAttempt {
                            duration: Duration::from_millis(5),
                            message: "exited with 1".into(),
                            detail: Some("stdout \u{1b}[1m".into()),
                        }],
                        ..step("flaky-command", Outcome::Passed, None)
                    },
                    StepRecord {
                        attempts: vec![crate::events::FailedAttempt {
                            duration: Duration::from_millis(5),
                            message: "first try".into(),
                            detail: None,
                        }],
                        ..step("broken-command", Outcome::Failed, Some("second try"))
                    },
                    step("teardown", Outcome::Error, Some("domain survived")),
                ],
                properties: vec![],
                consoles: vec![],
                artifacts: vec![],
                kept: vec![],
                cause: Some(crate::events::Cause {
                    id: crate::events::CauseId::GuestKernelPanic,
                    summary: "the guest kernel panicked: <oops> & \u{1b}[0m".into(),
                    evidence: vec!["Kernel panic - not syncing".into()],
                }),
            },
        ]
    }

    #[test]
    fn root_has_no_skipped_attribute_and_control_chars_are_gone() {
        let xml = render("run", &sample_cases()).unwrap();
        let root = &xml[xml.find("<testsuites").unwrap()..];
        let root = &root[..root.find('>').unwrap()];
        assert!(!root.contains("skipped="), "{root}");
        assert!(!xml.contains('\u{1b}'));
        assert!(!xml.contains('\u{0}'));
        assert!(xml.contains("<property name=\"boot_ms\" value=\"9000\"/>"));
        assert!(xml.contains("kernel panic on the console"));
        assert!(xml.contains("<flakyFailure message=\"exited with 1\" type=\"attempt failed\""), "{xml}");
        assert!(xml.contains("<rerunFailure message=\"first try\" type=\"attempt failed\""), "{xml}");
    }

    #[test]
    fn attachments_for_jenkins_and_gitlab() {
        let mut cases = sample_cases();
        cases[1].artifacts = vec![std::env::current_dir().unwrap().join("out/a/console.log")];
        let xml = render("run", &cases).unwrap();
        let abs = std::env::current_dir().unwrap().join("out/a/console.log");
        // Jenkins: the suite's output, absolute; GitLab: the failing testcase's, project-relative.
        assert!(xml.contains(&format!("[[ATTACHMENT|{}]]", abs.display())), "{xml}");
        let tc = &xml[xml.find("<testcase name=\"boot.console\"").unwrap()..];
        let tc = &tc[..tc.find("</testcase>").unwrap()];
        assert!(tc.contains("[[ATTACHMENT|out/a/console.log]]"), "{tc}");
    }

    #[test]
    fn the_cause_leads_the_failure_messages() {
        let xml = render("run", &sample_cases()).unwrap();
        assert!(xml.contains("message=\"[guest-kernel-panic] the guest kernel panicked: &lt;oops&gt; &amp; "), "{xml}");
        assert!(xml.contains(": kernel panic on the console\""), "{xml}");
        assert!(xml.contains("message=\"[guest-kernel-panic] second try\""), "{xml}");
        assert!(xml.contains("message=\"[guest-kernel-panic] domain survived\""), "{xml}");
        assert!(xml.contains("message=\"an earlier step failed\""), "skipped steps keep their message");
    }

    #[test]
    fn validates_against_the_strictest_schema() {
        let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/junit-10.xsd");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junit.xml");
        write(&path, "run", &sample_cases()).unwrap();
        let out = std::process::Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&xsd)
            .arg(&path)
            .output()
            .expect("xmllint (libxml2-utils) is installed by ci/setup");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
