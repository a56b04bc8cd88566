//! End-to-end on the KVM lab: two virtsmoke processes with different lock
//! directories (as on two CI runners sharing a pool of hosts) against one lab
//! host of capacity 1. The lock files cannot see each other; the host's own
//! account through libvirt (its running virtsmoke domains) keeps the second
//! run off the host: skipped at once with `when_full: skip`, admitted only
//! once the first run's guest is gone with `when_full: wait`.

mod common;
use common::*;

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn a_host_shared_by_two_runners_is_not_overcommitted() {
    let wait = lab_fixture("admission-wait.yaml");
    let skip = lab_fixture("admission-skip.yaml");
    let first_dir = tempfile::tempdir().unwrap();
    let first_json = first_dir.path().join("results.json");
    let args = ["run", "-v", wait.to_str().unwrap(), "--json", first_json.to_str().unwrap(), "--artifacts"];
    // The first runner: its guest holds the host for 40 s once it has booted.
    let first =
        spawn_until(&[&args[..], &[first_dir.path().to_str().unwrap()]].concat(), |l| l.contains("boot.running"));
    let first_run = first.run_id();
    let other_locks = tempfile::tempdir().unwrap();
    let env = [("VIRTSMOKE_LOCK_DIR", other_locks.path())];

    // A second runner (its own lock directory) that will not wait is skipped, naming the first run.
    let skipped = run_scenario_env(skip.to_str().unwrap(), &[], &env);
    assert_eq!(skipped.out.status.code(), Some(0), "{}", text(&skipped.out));
    let doc = skipped.json();
    let c = case(&doc, "e2e-admission-skip/busy@lab2");
    assert_eq!(c["outcome"], "skipped", "{c:#}");
    let why = step(c, "host")["message"].as_str().unwrap_or_default().to_string();
    assert!(why.contains("host `lab2` has no room: 1 virtsmoke guest running"), "{why}");
    assert!(why.contains(&first_run) && why.contains("capacity is 1 guests"), "{why}");
    assert_no_leftovers(&skipped.run_id());

    // One that waits runs once the first run's guest has gone.
    let waited = run_scenario_env(wait.to_str().unwrap(), &[], &env);
    let (status, first_err) = first.finish();
    assert_eq!(status.code(), Some(0), "{first_err}");
    assert_eq!(waited.out.status.code(), Some(0), "{}", text(&waited.out));
    let doc = waited.json();
    let c = case(&doc, "e2e-admission-wait/busy@lab2");
    let p = props(c);
    assert!(p["admission_wait_ms"].parse::<u64>().unwrap() > 0, "{p:?}");
    assert!(p["host_load"].starts_with("0 virtsmoke guests running"), "{p:?}");
    // It booted after the first run's guest was gone: their cases did not overlap.
    let first_doc = json(&first_json);
    let first_case = case(&first_doc, "e2e-admission-wait/busy@lab2");
    let ms = |c: &serde_json::Value| c["started"]["secs_since_epoch"].as_u64().unwrap() * 1000;
    let first_end = ms(first_case) + first_case["duration"].as_u64().unwrap();
    assert!(ms(c) + 1000 >= first_end, "started {} ms before the first case ended", first_end - ms(c));
    assert_no_leftovers(&waited.run_id());
    assert_no_leftovers(&first_run);
}
