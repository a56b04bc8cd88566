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
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
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
    case["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["outcome"] == "failed")
        .unwrap_or_else(|| panic!("nothing failed: {case:#}"))
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// What `virtsmoke run` wrote, in a temporary directory that lives as long as this.
pub struct Ran {
    pub out: Output,
    pub dir: tempfile::TempDir,
    pub junit: PathBuf,
    pub results: PathBuf,
    pub artifacts: PathBuf,
}

impl Ran {
    pub fn json(&self) -> serde_json::Value {
        json(&self.results)
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    pub fn run_id(&self) -> String {
        run_id(&self.stderr())
    }
}

/// `virtsmoke run SCENARIO --junit --json --artifacts` (into a fresh temporary
/// directory) with `extra` arguments.
pub fn run_scenario(scenario: &str, extra: &[&str]) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let results = dir.path().join("results.json");
    let artifacts = dir.path().join("artifacts");
    let mut args = vec![
        "run",
        scenario,
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        results.to_str().unwrap(),
        "--artifacts",
        artifacts.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = virtsmoke(&args);
    Ran { out, dir, junit, results, artifacts }
}

/// The case's properties as a map.
pub fn props(case: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    let pairs: Vec<(String, String)> = serde_json::from_value(case["properties"].clone()).unwrap();
    pairs.into_iter().collect()
}
