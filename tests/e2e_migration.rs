//! End-to-end: live migration between the two lab hosts (`lab up --hosts 2`).

use std::path::PathBuf;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_virtsmoke");

fn run(scenario: &str) -> (Output, serde_json::Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("r.json");
    let junit = dir.path().join("j.xml");
    let out = Command::new(BIN)
        .args(["run", scenario, "--json", results.to_str().unwrap(), "--junit", junit.to_str().unwrap(), "--artifacts"])
        .arg(dir.path())
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .env("CI", "true")
        .output()
        .unwrap();
    let doc = serde_json::from_str(
        &std::fs::read_to_string(&results).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr))),
    )
    .unwrap();
    let xsd = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/junit-10.xsd");
    let lint = Command::new("xmllint").arg("--noout").arg("--schema").arg(xsd).arg(&junit).output().unwrap();
    assert!(lint.status.success(), "{}", String::from_utf8_lossy(&lint.stderr));
    (out, doc, dir)
}

fn prop(case: &serde_json::Value, name: &str) -> Option<String> {
    case["properties"].as_array().unwrap().iter().find(|p| p[0] == name).map(|p| p[1].as_str().unwrap().to_string())
}

fn leftovers(run_id: &str) -> String {
    let mut said = String::new();
    for h in ["h1", "h2"] {
        let uri = format!("qemu+unix:///system?socket=/var/tmp/virtsmoke-lab/{h}/run/libvirt-sock");
        let out = Command::new(BIN).args(["cleanup", "--uri", &uri, "--run", run_id, "--dry-run"]).output().unwrap();
        said.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    said
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn ping_pong_keeps_the_guest_and_measures_downtime() {
    let (out, doc, _dir) = run("scenarios/local-migration.yaml");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let case = &doc["cases"][0];
    let names: Vec<&str> = case["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    for round in [
        "migrate.round-1: lab1 -> lab2",
        "migrate.round-2: lab2 -> lab1",
        "migrate.round-3: lab1 -> lab2",
        "migrate.round-4: lab2 -> lab1",
    ] {
        assert!(names.contains(&round), "{names:?}");
    }
    let downtime: f64 = prop(case, "downtime_ms").unwrap().parse().unwrap();
    let migration: u64 = prop(case, "migration_ms").unwrap().parse().unwrap();
    assert!(downtime > 0.0 && migration > 0);
    // libvirt's QEMU driver keeps completed-job statistics: its own figure is there too.
    assert!(prop(case, "hypervisor_downtime_ms").is_some(), "{case:#}");
    for round in 1..=4 {
        assert!(prop(case, &format!("mover.migrate.round-{round}.downtime_ms")).is_some());
    }
    let said = leftovers(doc["run_id"].as_str().unwrap());
    assert!(!said.contains("would remove"), "{said}");
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn a_refused_migration_fails_with_libvirts_message_and_the_guest_stays() {
    let (out, doc, _dir) = run("tests/fixtures/e2e/migration-faults.yaml");
    assert_eq!(out.status.code(), Some(1));
    let case = &doc["cases"][0];
    let step = case["steps"].as_array().unwrap().iter().find(|s| s["outcome"] == "failed").unwrap();
    let msg = step["message"].as_str().unwrap();
    assert!(msg.contains("Attempt to migrate guest to the same host"), "{msg}");
    assert!(msg.ends_with("(the guest stays on lab1)"), "{msg}");
    let said = leftovers(doc["run_id"].as_str().unwrap());
    assert!(!said.contains("would remove"), "{said}");
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn a_downtime_threshold_turns_the_probe_into_a_verdict() {
    let (out, doc, _dir) = run("tests/fixtures/e2e/migration-threshold.yaml");
    assert_eq!(out.status.code(), Some(1));
    let case = &doc["cases"][0];
    let step = case["steps"].as_array().unwrap().iter().find(|s| s["outcome"] == "failed").unwrap();
    assert!(step["message"].as_str().unwrap().contains("more than max_downtime_ms 1"), "{step}");
    // The figures are reported even though the verdict failed.
    assert!(prop(case, "downtime_ms").is_some());
    let said = leftovers(doc["run_id"].as_str().unwrap());
    assert!(!said.contains("would remove"), "{said}");
}
