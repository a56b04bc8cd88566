//! Machine-readable results: one JSON document per run.
//!
//! The format is documented field by field in `docs/results.md`. `write` is used by
//! `virtsmoke run`; `read` by `merge` and `compare`, which consume results only.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::events::{CaseReport, KeptGuest, Outcome, StepRecord};

/// Bumped when a field changes meaning or disappears (adding a field does not bump it).
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct DocumentRef<'a> {
    schema_version: u32,
    run_id: &'a str,
    cases: &'a [CaseReport],
}

pub fn write(path: &Path, run_id: &str, cases: &[CaseReport]) -> std::io::Result<()> {
    let doc = DocumentRef { schema_version: SCHEMA_VERSION, run_id, cases };
    let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

/// A results document read back from disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub run_id: String,
    pub cases: Vec<CaseReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {}", .0.display())]
    Io(PathBuf, #[source] std::io::Error),
    #[error("{} is not virtsmoke JSON results", .0.display())]
    Parse(PathBuf, #[source] serde_json::Error),
    /// Written by a virtsmoke whose format this one does not know.
    #[error("{} has schema_version {found}; this virtsmoke reads version {SCHEMA_VERSION}", .path.display())]
    Version { path: PathBuf, found: u64 },
}

/// Reads a document written by [`write`] (or by another virtsmoke of the same
/// schema version). Fields this version does not know are ignored.
pub fn read(path: &Path) -> Result<Document, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|e| ReadError::Io(path.to_path_buf(), e))?;
    let parse = |e| ReadError::Parse(path.to_path_buf(), e);
    let header: Header = serde_json::from_str(&text).map_err(parse)?;
    if header.schema_version != u64::from(SCHEMA_VERSION) {
        return Err(ReadError::Version { path: path.to_path_buf(), found: header.schema_version });
    }
    let doc: DocumentIn = serde_json::from_str(&text).map_err(parse)?;
    Ok(Document { run_id: doc.run_id, cases: doc.cases.into_iter().map(CaseReport::from).collect() })
}

// The events derive `Serialize` only; these mirror them for reading and are kept
// beside `write` so that both sides of the format change together.

#[derive(Deserialize)]
struct Header {
    schema_version: u64,
}

#[derive(Deserialize)]
struct DocumentIn {
    run_id: String,
    cases: Vec<CaseIn>,
}

#[derive(Deserialize)]
struct CaseIn {
    name: String,
    scenario: String,
    host: String,
    started: SystemTime,
    #[serde(deserialize_with = "millis")]
    duration: Duration,
    outcome: OutcomeIn,
    steps: Vec<StepIn>,
    #[serde(default)]
    properties: Vec<(String, String)>,
    #[serde(default)]
    consoles: Vec<(String, String)>,
    #[serde(default)]
    artifacts: Vec<PathBuf>,
    #[serde(default)]
    kept: Vec<KeptIn>,
    /// Older files do not have it.
    #[serde(default)]
    cause: Option<crate::events::Cause>,
}

#[derive(Deserialize)]
struct StepIn {
    name: String,
    outcome: OutcomeIn,
    #[serde(deserialize_with = "millis")]
    duration: Duration,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    attempts: Vec<AttemptIn>,
}

#[derive(Deserialize)]
struct AttemptIn {
    #[serde(deserialize_with = "millis")]
    duration: Duration,
    message: String,
    #[serde(default)]
    detail: Option<String>,
}

#[derive(Deserialize)]
struct KeptIn {
    /// Older files do not have it.
    #[serde(default)]
    guest: String,
    domain: String,
    uri: String,
    #[serde(default)]
    ssh: Option<String>,
    /// Older files do not have it.
    #[serde(default)]
    ssh_argv: Option<Vec<String>>,
    /// Older files do not have it.
    #[serde(default)]
    remove: String,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum OutcomeIn {
    Passed,
    Skipped,
    KnownFailure,
    Failed,
    Error,
}

fn millis<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_millis)
}

impl From<OutcomeIn> for Outcome {
    fn from(o: OutcomeIn) -> Outcome {
        match o {
            OutcomeIn::Passed => Outcome::Passed,
            OutcomeIn::Skipped => Outcome::Skipped,
            OutcomeIn::KnownFailure => Outcome::KnownFailure,
            OutcomeIn::Failed => Outcome::Failed,
            OutcomeIn::Error => Outcome::Error,
        }
    }
}

impl From<CaseIn> for CaseReport {
    fn from(c: CaseIn) -> CaseReport {
        CaseReport {
            name: c.name,
            scenario: c.scenario,
            host: c.host,
            started: c.started,
            duration: c.duration,
            outcome: c.outcome.into(),
            steps: c
                .steps
                .into_iter()
                .map(|s| StepRecord {
                    name: s.name,
                    outcome: s.outcome.into(),
                    duration: s.duration,
                    message: s.message,
                    detail: s.detail,
                    attempts: s
                        .attempts
                        .into_iter()
                        .map(|a| crate::events::FailedAttempt {
                            duration: a.duration,
                            message: a.message,
                            detail: a.detail,
                        })
                        .collect(),
                })
                .collect(),
            properties: c.properties,
            consoles: c.consoles,
            artifacts: c.artifacts,
            kept: c
                .kept
                .into_iter()
                .map(|k| KeptGuest {
                    guest: k.guest,
                    domain: k.domain,
                    uri: k.uri,
                    ssh: k.ssh,
                    ssh_argv: k.ssh_argv,
                    remove: k.remove,
                })
                .collect(),
            cause: c.cause,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn what_is_written_reads_back_equal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        let mut cases = sample::cases();
        cases[1].cause = Some(crate::events::Cause {
            id: crate::events::CauseId::GuestKernelPanic,
            summary: "the guest kernel panicked".into(),
            evidence: vec!["Kernel panic - not syncing".into()],
        });
        write(&path, "run-1", &cases).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"cause\": {\n        \"id\": \"guest-kernel-panic\""), "{text}");
        let doc = read(&path).unwrap();
        assert_eq!(doc, Document { run_id: "run-1".into(), cases });
    }

    #[test]
    fn the_written_shape_is_the_documented_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        write(&path, "run-1", &sample::cases()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["run_id"], "run-1");
        let c = &v["cases"][0];
        assert_eq!(c["started"]["secs_since_epoch"], 1_700_000_000);
        assert_eq!(c["duration"], 12_000);
        assert_eq!(c["outcome"], "passed");
        assert_eq!(c["steps"][0]["duration"], 1_500);
        assert_eq!(c["properties"][0], serde_json::json!(["boot_ms", "9000"]));
        assert_eq!(c["consoles"][0][0], "tiny");
        assert!(c["artifacts"][0].is_string());
    }

    #[test]
    fn unknown_fields_are_ignored_and_missing_lists_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(
            &path,
            r#"{"schema_version":1,"run_id":"r","future":true,"cases":[{"name":"a","scenario":"s","host":"h",
               "started":{"secs_since_epoch":5,"nanos_since_epoch":0},"duration":7,"outcome":"error","steps":[],
               "kept":[{"domain":"d","uri":"u","ssh":null}],"new_field":[1]}]}"#,
        )
        .unwrap();
        let doc = read(&path).unwrap();
        assert_eq!(doc.cases[0].outcome, Outcome::Error);
        assert_eq!(doc.cases[0].duration, Duration::from_millis(7));
        assert!(doc.cases[0].properties.is_empty());
        assert_eq!(doc.cases[0].kept[0].remove, "");
    }

    #[test]
    fn bad_inputs_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        let missing = read(&dir.path().join("nope.json")).unwrap_err();
        assert!(matches!(missing, ReadError::Io(..)), "{missing}");
        std::fs::write(&p, "{\"schema_version\":2,\"run_id\":\"r\",\"cases\":[]}").unwrap();
        let e = read(&p).unwrap_err();
        assert_eq!(e.to_string(), format!("{} has schema_version 2; this virtsmoke reads version 1", p.display()));
        std::fs::write(&p, "<testsuites/>").unwrap();
        assert!(matches!(read(&p).unwrap_err(), ReadError::Parse(..)));
        std::fs::write(&p, "{\"schema_version\":1,\"run_id\":\"r\",\"cases\":[{\"name\":\"a\"}]}").unwrap();
        let e = read(&p).unwrap_err();
        assert!(crate::error_chain(&e).contains("missing field"), "{}", crate::error_chain(&e));
    }
}
