//! Whole-module tests, by topic: bad inputs with their exact messages, good
//! inputs with their expansion, and inputs that must not crash. Each topic
//! keeps its own table of bad inputs (`BAD`), checked by [`check_bad`].

use std::path::Path;

use crate::plan::{Boot, CheckSpec, Firmware, GuestKind, GuestNetwork, Hypervisor, ImageSpec};

use super::*;

mod checks;
mod errors;
mod guests;
mod hosts;
mod images;
mod known;
mod matrix;

/// Four valid lines most bad inputs start with: a host `lab1`, an image `tiny`.
const HEAD: &str = "version: 1
name: t
hosts: { lab1: { uri: \"qemu:///system\" } }
images: { tiny: { builtin: test-image } }
";

fn errors(text: &str) -> String {
    match load_str(Path::new("x.yaml"), text) {
        Ok(plan) => panic!("expected errors, got a plan with {} cases", plan.cases.len()),
        Err(e) => e.to_string(),
    }
}

fn plan(text: &str) -> Plan {
    match load_str(Path::new("x.yaml"), text) {
        Ok(plan) => plan,
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

fn case_names(plan: &Plan) -> Vec<&str> {
    plan.cases.iter().map(|c| c.name.as_str()).collect()
}

/// Every row of a table of (what, input, exact diagnostics) gives exactly its
/// diagnostics; `HEAD\n` in an input stands for [`HEAD`].
fn check_bad(table: &[(&str, &str, &str)]) {
    let mut failures = Vec::new();
    for (what, input, expected) in table {
        let input = input.replace("HEAD\n", HEAD);
        let actual = match load_str(Path::new("x.yaml"), &input) {
            Ok(plan) => format!("(accepted: a plan with {} cases)\n", plan.cases.len()),
            Err(e) => e.to_string(),
        };
        if actual != *expected {
            failures.push(format!("--- {what}: expected\n{expected}\n--- actual\n{actual}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Files on disk, for `load`.
fn write(dir: &tempfile::TempDir, name: &str, text: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}
