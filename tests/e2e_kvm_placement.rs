//! End-to-end on the KVM lab: cases placed by label spread over the hosts
//! with room. Its own test binary, so that no other test's guests load the
//! hosts meanwhile: room is the hosts' own account (their running virtsmoke
//! guests from any run, runner/admission.rs), and another test's guests on
//! lab1 would rightly send every case to lab2.

mod common;
use common::*;

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn placed_cases_spread_over_the_hosts_with_room() {
    let ran = run_scenario("scenarios/inventory-lab.yaml", &["tests/fixtures/e2e/placement.yaml"]);
    assert_eq!(ran.out.status.code(), Some(0), "{}", text(&ran.out));
    let doc = ran.json();
    let mut used = std::collections::BTreeSet::new();
    for g in ["one", "two", "three", "four"] {
        let c = case(&doc, &format!("e2e-placement/{g}@site=local-lab"));
        assert_eq!(c["outcome"], "passed", "{c:#}");
        let host = c["host"].as_str().unwrap().to_string();
        assert!(host == "lab1" || host == "lab2", "{host}");
        // The address is on the host it ran on: reached through that host's namespace.
        assert!(props(c)[&format!("{g}.address")].starts_with("10.77.0."));
        used.insert(host);
    }
    assert_eq!(used.len(), 2, "the cases went to one host only: {used:?}");
    assert_no_leftovers(&ran.run_id());
}
