//! End-to-end on the KVM lab: CI runners sharing hosts. A job names its run
//! (`run --run-id`) and keeps its guest; `cleanup` on another runner (another
//! `VIRTSMOKE_MACHINE`) leaves that run's domain alone, since whether it is
//! still going cannot be seen from there, until the run is named with `--run`
//! (or `--any-machine` is given).

mod common;
use std::path::Path;

use common::*;

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn cleanup_on_another_runner_leaves_a_run_alone_unless_named() {
    let id = format!("e2e-fleet-{}", std::process::id());
    let fixture = lab_fixture("fleet.yaml");
    let fixture = fixture.to_str().unwrap();
    let runner_a = [("VIRTSMOKE_MACHINE", Path::new("runner-a"))];
    let runner_b = [("VIRTSMOKE_MACHINE", Path::new("runner-b"))];
    let ran = run_scenario_env(fixture, &["--keep", "--run-id", &id], &runner_a);
    assert_eq!(ran.out.status.code(), Some(0), "{}", text(&ran.out));
    assert_eq!(ran.run_id(), id);

    // The id is the job's: a second run of it is refused before anything starts.
    let again = run_scenario_env(fixture, &["--run-id", &id], &runner_a);
    assert_eq!(again.out.status.code(), Some(2), "{}", text(&again.out));
    assert!(again.stderr().contains("a run of that id was here already"), "{}", text(&again.out));

    // Another runner's cleanup of the whole host leaves the run's domain alone.
    let uri = h1().uri.as_str();
    let out = virtsmoke_env(&root(), &runner_b, &["cleanup", "--uri", uri, "--dry-run"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains(&format!("kept domain vs-{id}-")), "{}", text(&out));
    assert!(said.contains("of machine runner-a") && said.contains(&format!("`--run {id}`")), "{said}");
    assert!(!said.contains(&format!("would remove domain vs-{id}-")), "{said}");
    // Asked for, it would go.
    let out = virtsmoke_env(&root(), &runner_b, &["cleanup", "--uri", uri, "--any-machine", "--dry-run"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("would remove domain vs-{id}-")), "{}", text(&out));

    // Named, it goes, from any runner: the job's cleanup step.
    let out = virtsmoke_env(&root(), &runner_b, &["cleanup", "--uri", uri, "--run", &id]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    assert!(said.contains(&format!("removed domain vs-{id}-")), "{said}");
    assert_no_leftovers(&id);
}
