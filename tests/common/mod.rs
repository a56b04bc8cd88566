//! Helpers shared by every integration test binary: they run the built binary,
//! read what it wrote, and (in `lab`) find the lab's hosts. Each helper is
//! written here once; a test binary takes what it needs (`mod common;`).
#![allow(dead_code)]

pub mod lab;
pub mod xen;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, ExitStatus, Output, Stdio};

#[allow(unused_imports)]
pub use lab::{LabStatus, XenHost, h1, lab, lab_fixture, xen1};
use virtsmoke::events::CaseReport;
use virtsmoke::report::json::Document;

/// The binary under test (`target/debug/virtsmoke`).
pub const BIN: &str = env!("CARGO_BIN_EXE_virtsmoke");

/// The repository: scenario and fixture paths in the tests are relative to it.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/fixtures/NAME`.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// `virtsmoke ARGS` in the repository, as CI runs it.
pub fn virtsmoke(args: &[&str]) -> Output {
    virtsmoke_in(&root(), args)
}

/// `virtsmoke ARGS` in `dir` (relative paths resolve there), as CI runs it.
pub fn virtsmoke_in(dir: &Path, args: &[&str]) -> Output {
    virtsmoke_env(dir, &[], args)
}

/// `virtsmoke ARGS` in `dir` with `env` added, as CI runs it.
pub fn virtsmoke_env(dir: &Path, env: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args).current_dir(dir).env("CI", "true");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run virtsmoke")
}

/// Exit status, stdout and stderr, for an assertion's message.
pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The JUnit file at `path` is valid against the JUnit 10 schema.
pub fn xmllint_schema(path: &Path) {
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(root().join("tests/schemas/junit-10.xsd"))
        .arg(path)
        .output()
        .expect("xmllint (libxml2-utils) is installed by ci/setup");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The run id virtsmoke announced on its first line.
pub fn run_id(stderr: &str) -> String {
    let line = stderr.lines().find(|l| l.starts_with("run ")).expect("a `run ID:` line");
    line["run ".len()..].split(':').next().unwrap().to_string()
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

/// The case's properties as a map.
pub fn props(case: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    let pairs: Vec<(String, String)> = serde_json::from_value(case["properties"].clone()).unwrap();
    pairs.into_iter().collect()
}

/// The case's property `name`, which must be there.
pub fn prop(case: &serde_json::Value, name: &str) -> String {
    props(case).remove(name).unwrap_or_else(|| panic!("no property {name} in {case:#}"))
}

/// The results file read with the library's own reader, typed.
pub fn results(path: &Path) -> Document {
    virtsmoke::report::json::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The typed case `name` of `doc`.
pub fn case_of<'a>(doc: &'a Document, name: &str) -> &'a CaseReport {
    doc.cases.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no case {name}"))
}

/// The typed case's property `name`, if it has it.
pub fn prop_of<'a>(case: &'a CaseReport, name: &str) -> Option<&'a str> {
    case.properties.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Every file under `dir`, recursively.
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
    /// The results, typed.
    pub fn results(&self) -> Document {
        results(&self.results)
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    pub fn run_id(&self) -> String {
        run_id(&self.stderr())
    }
}

/// `virtsmoke run SCENARIO --junit --json --artifacts` (into a fresh temporary
/// directory) with `extra` arguments (more scenario files, options).
pub fn run_scenario(scenario: &str, extra: &[&str]) -> Ran {
    run_scenario_env(scenario, extra, &[])
}

/// [`run_scenario`] with `env` added to virtsmoke's environment.
pub fn run_scenario_env(scenario: &str, extra: &[&str], env: &[(&str, &Path)]) -> Ran {
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
    let out = virtsmoke_env(&root(), env, &args);
    Ran { out, dir, junit, results, artifacts }
}

/// A `virtsmoke` still running, whose stderr was read up to a line the test
/// waited for (`spawn_until`).
pub struct Running {
    pub child: Child,
    stderr: BufReader<ChildStderr>,
    /// Its stderr so far.
    pub seen: String,
}

/// Starts `virtsmoke ARGS` in the repository (as CI runs it, stderr piped) and
/// reads its stderr until a line satisfies `until`: the event the test waits
/// for (`boot.running`, say). Fails if virtsmoke ends first.
pub fn spawn_until(args: &[&str], until: impl Fn(&str) -> bool) -> Running {
    spawn_env_until(args, &[], until)
}

/// [`spawn_until`] with `env` added to virtsmoke's environment.
pub fn spawn_env_until(args: &[&str], env: &[(&str, &str)], until: impl Fn(&str) -> bool) -> Running {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(root())
        .env("CI", "true")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run virtsmoke");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut running = Running { child, stderr, seen: String::new() };
    loop {
        let mut line = String::new();
        let n = running.stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "virtsmoke ended before the line the test waits for:\n{}", running.seen);
        running.seen.push_str(&line);
        if until(&line) {
            return running;
        }
    }
}

impl Running {
    /// The run id it announced.
    pub fn run_id(&self) -> String {
        run_id(&self.seen)
    }

    /// Waits for it to end; its exit status and its whole stderr.
    pub fn finish(mut self) -> (ExitStatus, String) {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stderr, &mut rest).unwrap();
        let status = self.child.wait().unwrap();
        self.seen.push_str(&rest);
        (status, self.seen)
    }

    /// Sends `signal` to it.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, signal).unwrap();
    }
}

/// Nothing of the run is left on any KVM host of the lab (no domain, no
/// scratch the host knows of), nor its scratch directory on this machine.
pub fn assert_no_leftovers(run: &str) {
    for host in &lab().hosts {
        let out = virtsmoke(&["cleanup", "--uri", &host.uri, "--run", run, "--dry-run"]);
        let listed = String::from_utf8_lossy(&out.stdout);
        // The exit status too: a cleanup that could not look says so and exits 3.
        assert!(
            out.status.success() && listed.contains("nothing to clean up"),
            "leftovers of run {run} on {}:\n{}",
            host.name,
            text(&out)
        );
    }
    let scratch = Path::new("/var/tmp/virtsmoke/runs").join(run);
    assert!(!scratch.exists(), "{} is still there", scratch.display());
}

/// Headless Chromium in a network namespace of its own (it reaches nothing,
/// whatever it would try), as root without its sandbox.
pub fn chromium(args: &[&str]) -> Output {
    Command::new("unshare")
        .args(["-n", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--enable-logging=stderr", "--v=0"])
        .args(args)
        .output()
        .expect("chromium (ci/setup installs it)")
}
