//! End-to-end on two nested Xen hosts of different builds (`virtsmoke lab up
//! --dom0 bookworm,trixie`: xen1 runs Debian 12's Xen 4.17 and libvirt 9.0,
//! xen2 Debian 13's Xen 4.20 and libvirt 11.3): the same PV and PVH guests
//! boot, prove their kind and are paused and resumed on both, in one run
//! (`scenarios/local-xen-builds.yaml`); each case carries its build's facts,
//! the HTML report shows kinds x builds, and `compare --hosts` names what
//! differs between the builds. ci/test brings this lab up after the other
//! Xen tests (which want two hosts of one build) and runs this binary alone.

mod common;
use common::*;

use common::lab::lab;
use common::xen::*;

const SCENARIO: &str = "local-xen-builds";

#[test]
#[ignore = "boots guests on two nested Xen hosts of different builds: run through ci/test"]
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
