//! Tests on two nested Xen hosts of different builds that are too slow for
//! ci/test: run by hand with `virtsmoke lab up --dom0 bookworm,trixie` (xen1:
//! Debian 12's Xen 4.17 and libvirt 9.0; xen2: Debian 13's Xen 4.20 and
//! libvirt 11.3):
//!   cargo test --test by_hand_builds -- --ignored --test-threads 1

const SCENARIO: &str = "local-xen-builds";

mod common;
use common::lab::lab;
use common::xen::{
    assert_proves_kind, last_run_of, outcome_of, run_rerunning_failures_once, run_rerunning_failures_once_only,
};
use common::{XenHost, case, lab_fixture, prop_of, results, run_scenario, step, text, virtsmoke};
use virtsmoke::events::Outcome;

/// The same PV and PVH guests boot, prove their kind and are paused and
/// resumed on both builds in one run (scenarios/local-xen-builds.yaml); each
/// case carries its build's facts, the HTML report shows kinds x builds, and
/// `compare --hosts` names what differs between the builds. (Passed in
/// 925 s; too long for ci/test's budget next to the other Xen tests.)
#[test]
#[ignore = "boots guests on two nested Xen hosts of different builds: run by hand"]
fn the_same_guests_boot_and_pause_on_two_xen_builds() {
    // The lab runs the two builds, and says so.
    let (x1, x2) = (lab().xen("xen1"), lab().xen("xen2"));
    let build = |h: &XenHost, k: &str| h.dom0.as_ref().and_then(|b| b[k].as_str()).unwrap_or_default().to_string();
    assert_eq!((build(x1, "suite"), build(x2, "suite")), ("bookworm".into(), "trixie".into()));
    assert!(build(x1, "xen_version").starts_with("4.17") && build(x2, "xen_version").starts_with("4.20"));

    let only = ["--only", "*-xen-pv@*", "--only", "*-xen-pvh@*", "--html"];
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let mut args = only.to_vec();
    args.push(html.to_str().unwrap());
    let runs = run_rerunning_failures_once_only("scenarios/local-xen-builds.yaml", &args);
    for (host, xen, libvirt) in [(x1, "4.17", "9.0"), (x2, "4.20", "11.")] {
        for kind in ["xen-pv", "xen-pvh"] {
            let name = format!("{SCENARIO}/tiny-{kind}@{}", host.name);
            let ran = last_run_of(&runs, &name);
            let p = assert_proves_kind(ran, host, SCENARIO, kind);
            // The build's facts, from the host itself.
            assert!(p["xen_version"].starts_with(xen), "{name}: {p:?}");
            assert!(p["libvirt_version"].starts_with(libvirt), "{name}: {p:?}");
            // Paused and resumed through libvirt, on each build.
            let doc = ran.json();
            assert_eq!(step(case(&doc, &name), "pause-resume")["outcome"], "passed", "{name}");
            assert!(p["tiny.resume_ms"].parse::<u64>().is_ok(), "{name}: {p:?}");
        }
    }
    for ran in &runs {
        x1.assert_no_leftovers(&ran.run_id());
        x2.assert_no_leftovers(&ran.run_id());
    }

    // One run answers "what changed from one build to the other".
    let first = &runs[0];
    if runs.len() == 1 {
        let out = virtsmoke(&["compare", first.results.to_str().unwrap(), "--hosts", "xen1,xen2"]);
        let said = text(&out);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{said}");
        assert!(said.contains("xen_version") && said.contains("libvirt_version"), "{said}");
        assert!(said.contains("4.17") && said.contains("4.20"), "{said}");
        // The report's matrix: a column per build, its facts in the header.
        let page = std::fs::read_to_string(&html).unwrap();
        assert!(
            page.contains("<section id=\"matrix\">") && page.contains("4.20") && page.contains("11.3"),
            "no matrix"
        );
    }
}

/// The upgrade path (scenarios/local-xen-upgrade.yaml): a running PVH guest
/// moves live from Xen 4.17 to Xen 4.20, continuity kept and downtime
/// measured from xen1's dom0; PV live fails on the 4.17 side (no shadow
/// paging), the scenario's known issue.
#[test]
#[ignore = "migrates guests between two nested Xen builds; slow: run by hand"]
fn guests_move_live_from_the_older_xen_build_to_the_newer() {
    let ran = run_scenario("scenarios/local-xen-upgrade.yaml", &[]);
    assert_eq!(ran.out.status.code(), Some(0), "{}", text(&ran.out));
    let doc = results(&ran.results);
    let pvh = common::case_of(&doc, "local-xen-upgrade/mover-xen-pvh@xen1");
    assert_eq!(pvh.outcome, Outcome::Passed, "{pvh:#?}");
    assert_eq!(outcome_of(pvh, "migrate.round-1: xen1 -> xen2").0, Outcome::Passed);
    for p in ["migration_ms", "downtime_ms"] {
        assert!(prop_of(pvh, p).is_some_and(|v| v.parse::<f64>().unwrap() > 0.0), "{p}: {pvh:#?}");
    }
    let pv = common::case_of(&doc, "local-xen-upgrade/mover-xen-pv@xen1");
    assert_eq!(pv.outcome, Outcome::KnownFailure, "{pv:#?}");
    for h in ["xen1", "xen2"] {
        lab().xen(h).assert_no_leftovers(&ran.run_id());
    }
}

/// The other way, which the builds refuse (tests/fixtures/e2e/xen-downgrade.yaml):
/// the failure carries libxl's reason and the guest stays on the newer host.
#[test]
#[ignore = "migrates a guest between two nested Xen builds; slow: run by hand"]
fn a_move_to_the_older_xen_build_fails_with_libxls_reason() {
    let fixture = lab_fixture("xen-downgrade.yaml");
    let name = "e2e-xen-downgrade/mover-xen-pvh@xen2";
    let moved = |ran: &common::Ran| {
        common::case_of(&results(&ran.results), name).steps.iter().any(|s| s.name.starts_with("migrate.round-1"))
    };
    // A boot that died under nested emulation (a triple fault) gets one more run.
    let mut ran = run_scenario(fixture.to_str().unwrap(), &[]);
    if !moved(&ran) {
        eprintln!("rerunning after a failed boot:\n{}", text(&ran.out));
        lab().xen("xen2").assert_no_leftovers(&ran.run_id());
        ran = run_scenario(fixture.to_str().unwrap(), &[]);
    }
    assert_eq!(ran.out.status.code(), Some(1), "{}", text(&ran.out));
    let doc = results(&ran.results);
    let case = common::case_of(&doc, name);
    let (outcome, msg) = outcome_of(case, "migrate.round-1: xen2 -> xen1");
    assert_eq!(outcome, Outcome::Failed, "{case:#?}");
    assert!(msg.contains(DOWNGRADE_REASON), "{msg}");
    assert!(msg.contains("(the guest stays on xen2)"), "{msg}");
    for h in ["xen1", "xen2"] {
        lab().xen(h).assert_no_leftovers(&ran.run_id());
    }
}

/// What libxl on Xen 4.17 says of a stream from Xen 4.20.
const DOWNGRADE_REASON: &str = "xen1's hypervisor log: xc: Unable to restore HVM context";

/// Every kind of guest, HVM and PVHVM too, on both builds in one run
/// (scenarios/local-xen-builds.yaml; ci/test runs its PV and PVH cases).
#[test]
#[ignore = "boots every kind of guest on two nested Xen builds; slow: run by hand"]
fn every_kind_boots_on_both_xen_builds() {
    let runs = run_rerunning_failures_once("scenarios/local-xen-builds.yaml");
    for host in ["xen1", "xen2"] {
        for kind in ["xen-pv", "xen-pvh", "xen-pvhvm", "xen-hvm"] {
            let ran = last_run_of(&runs, &format!("local-xen-builds/tiny-{kind}@{host}"));
            assert_proves_kind(ran, lab().xen(host), "local-xen-builds", kind);
        }
    }
    for ran in &runs {
        for h in ["xen1", "xen2"] {
            lab().xen(h).assert_no_leftovers(&ran.run_id());
        }
    }
}
