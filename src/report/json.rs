//! Machine-readable results: one JSON document per run.

use std::path::Path;

use serde::Serialize;

use crate::events::CaseReport;

/// Bumped when a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    run_id: &'a str,
    cases: &'a [CaseReport],
}

pub fn write(path: &Path, run_id: &str, cases: &[CaseReport]) -> std::io::Result<()> {
    let doc = Document { schema_version: SCHEMA_VERSION, run_id, cases };
    let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}
