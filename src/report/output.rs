//! Writing a run's report files: `run` and `merge` both go through `write_all`,
//! so the same cases give the same JUnit, JSON and HTML whichever wrote them.

use std::path::{Path, PathBuf};

use crate::events::CaseReport;
use crate::report::junit::JunitError;
use crate::report::{html, json, junit};

/// The report files asked for; `None` is not written.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub junit: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub html: Option<PathBuf>,
}

/// What the reports are made of: the run's id and its cases.
#[derive(Debug, Clone, Copy)]
pub struct RunData<'a> {
    pub run_id: &'a str,
    pub cases: &'a [CaseReport],
}

/// A report file that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Junit(#[from] JunitError),
    #[error("cannot write {}", .0.display())]
    Json(PathBuf, #[source] std::io::Error),
    #[error("cannot write {}", .0.display())]
    Html(PathBuf, #[source] std::io::Error),
}

/// Writes every requested file (JUnit, JSON, HTML, in that order); one that
/// fails does not stop the others. Returns the files written, or every error.
pub fn write_all(outputs: &Outputs, data: &RunData) -> Result<Vec<PathBuf>, Vec<ReportError>> {
    let mut written = Vec::new();
    let mut errors = Vec::new();
    let mut note = |path: &Path, r: Result<(), ReportError>| match r {
        Ok(()) => written.push(path.to_path_buf()),
        Err(e) => errors.push(e),
    };
    if let Some(path) = &outputs.junit {
        let name = format!("virtsmoke run {}", data.run_id);
        note(path, junit::write(path, &name, data.cases).map_err(ReportError::from));
    }
    if let Some(path) = &outputs.json {
        note(path, json::write(path, data.run_id, data.cases).map_err(|e| ReportError::Json(path.clone(), e)));
    }
    if let Some(path) = &outputs.html {
        note(path, html::write(path, data.run_id, data.cases).map_err(|e| ReportError::Html(path.clone(), e)));
    }
    if errors.is_empty() { Ok(written) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Outcome;
    use crate::report::sample;

    #[test]
    fn writes_every_requested_file_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [sample::case("s/a", "h1", Outcome::Passed, &[("boot_ms", "1")])];
        let outputs =
            Outputs { junit: Some(dir.path().join("j.xml")), json: Some(dir.path().join("r.json")), html: None };
        let written = write_all(&outputs, &RunData { run_id: "r1", cases: &cases }).unwrap();
        assert_eq!(written, [dir.path().join("j.xml"), dir.path().join("r.json")]);
        assert!(std::fs::read_to_string(dir.path().join("j.xml")).unwrap().contains("virtsmoke run r1"));
        assert_eq!(json::read(&dir.path().join("r.json")).unwrap().cases, cases);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_failing_file_does_not_stop_the_others_and_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let outputs =
            Outputs { junit: None, json: Some(blocker.join("r.json")), html: Some(dir.path().join("r.html")) };
        let errors = write_all(&outputs, &RunData { run_id: "r1", cases: &[] }).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(matches!(errors[0], ReportError::Json(..)), "{:?}", errors[0]);
        assert_eq!(errors[0].to_string(), format!("cannot write {}", blocker.join("r.json").display()));
        assert!(dir.path().join("r.html").exists());
    }
}
