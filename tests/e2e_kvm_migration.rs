//! End-to-end on the KVM lab: live migration between its two hosts
//! (`lab up --hosts 2`). The results are read typed, through the library.

mod common;
use common::*;

use virtsmoke::events::{CaseReport, Outcome};
use virtsmoke::report::json::Document;

/// Runs `scenario` (a path in the repository); its exit code, typed results and
/// run id, with the JUnit checked against the schema.
fn run(scenario: &str) -> (Option<i32>, Document, Ran) {
    let ran = run_scenario(scenario, &[]);
    assert!(ran.results.exists(), "{}", text(&ran.out));
    xmllint_schema(&ran.junit);
    (ran.out.status.code(), ran.results(), ran)
}

/// The first failed step's message.
fn failure(case: &CaseReport) -> &str {
    let step = case.steps.iter().find(|s| s.outcome == Outcome::Failed).unwrap_or_else(|| panic!("{case:#?}"));
    step.message.as_deref().unwrap_or_default()
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn ping_pong_keeps_the_guest_and_measures_downtime() {
    let (code, doc, ran) = run("scenarios/local-migration.yaml");
    assert_eq!(code, Some(0), "{}", text(&ran.out));
    let case = &doc.cases[0];
    let names: Vec<&str> = case.steps.iter().map(|s| s.name.as_str()).collect();
    for round in [
        "migrate.round-1: lab1 -> lab2",
        "migrate.round-2: lab2 -> lab1",
        "migrate.round-3: lab1 -> lab2",
        "migrate.round-4: lab2 -> lab1",
    ] {
        assert!(names.contains(&round), "{names:?}");
    }
    let downtime: f64 = prop_of(case, "downtime_ms").unwrap().parse().unwrap();
    let migration: u64 = prop_of(case, "migration_ms").unwrap().parse().unwrap();
    assert!(downtime > 0.0 && migration > 0);
    // libvirt's QEMU driver keeps completed-job statistics: its own figure is there too.
    assert!(prop_of(case, "hypervisor_downtime_ms").is_some(), "{case:#?}");
    for round in 1..=4 {
        assert!(prop_of(case, &format!("mover.migrate.round-{round}.downtime_ms")).is_some());
    }
    assert_no_leftovers(&doc.run_id);
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn a_refused_migration_fails_with_libvirts_message_and_the_guest_stays() {
    let fixture = lab_fixture("migration-faults.yaml");
    let (code, doc, ran) = run(fixture.to_str().unwrap());
    assert_eq!(code, Some(1), "{}", text(&ran.out));
    let msg = failure(&doc.cases[0]);
    assert!(msg.contains("Attempt to migrate guest to the same host"), "{msg}");
    assert!(msg.ends_with("(the guest stays on lab1)"), "{msg}");
    assert_no_leftovers(&doc.run_id);
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn a_downtime_threshold_turns_the_probe_into_a_verdict() {
    let fixture = lab_fixture("migration-threshold.yaml");
    let (code, doc, ran) = run(fixture.to_str().unwrap());
    assert_eq!(code, Some(1), "{}", text(&ran.out));
    let case = &doc.cases[0];
    assert!(failure(case).contains("more than max_downtime_ms 1"), "{case:#?}");
    // The figures are reported even though the verdict failed.
    assert!(prop_of(case, "downtime_ms").is_some());
    assert_no_leftovers(&doc.run_id);
}

/// A move that cannot finish in its `timeout` is aborted through libvirt,
/// fails the round naming the limit, and leaves the guest running at home.
#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn a_migration_over_its_timeout_is_aborted_and_the_guest_stays() {
    let fixture = lab_fixture("migration-timeout.yaml");
    let (code, doc, ran) = run(fixture.to_str().unwrap());
    assert_eq!(code, Some(1), "{}", text(&ran.out));
    let msg = failure(&doc.cases[0]);
    assert!(msg.contains("did not finish within 3s; libvirt's migration job was aborted"), "{msg}");
    assert!(msg.ends_with("(the guest stays on lab1)"), "{msg}");
    assert_no_leftovers(&doc.run_id);
}
