//! Helpers shared by the end-to-end tests: they run the built binary and read
//! what it wrote.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_virtsmoke");
pub const LAB_URI: &str = "qemu+unix:///system?socket=/var/tmp/virtsmoke-lab/h1/run/libvirt-sock";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn virtsmoke(args: &[&str]) -> Output {
    Command::new(BIN).args(args).current_dir(root()).env("CI", "true").output().expect("run virtsmoke")
}

pub fn text(o: &Output) -> String {
    format!("exit {:?}\nstdout:\n{}\nstderr:\n{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

pub fn xmllint_schema(path: &Path) {
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(root().join("tests/schemas/junit-10.xsd"))
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The run id virtsmoke announced on its first line.
pub fn run_id(stderr: &str) -> String {
    let line = stderr.lines().find(|l| l.starts_with("run ")).expect("a `run ID:` line");
    line["run ".len()..].split(':').next().unwrap().to_string()
}

/// Nothing of the run is left on the lab host: no domain, no scratch directory.
pub fn assert_no_leftovers(run: &str) {
    let out = virtsmoke(&["cleanup", "--uri", LAB_URI, "--run", run, "--dry-run"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("nothing to clean up"), "leftovers of run {run}:\n{listed}");
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn case<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["cases"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no case {name}"))
}

pub fn step<'a>(case: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    case["steps"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no step {name}"))
}

pub fn first_failed(case: &serde_json::Value) -> &serde_json::Value {
    case["steps"].as_array().unwrap().iter().find(|s| s["outcome"] == "failed").unwrap_or_else(|| panic!("nothing failed: {case:#}"))
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() { out.extend(walk(&p)); } else { out.push(p); }
        }
    }
    out
}
