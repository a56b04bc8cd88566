//! End-to-end on the nested Xen lab: Xen PV and PVH guests reboot (from
//! inside and through libvirt's libxl driver, which rebuilds the domain), are
//! saved to a file in the run's directory in dom0 and restored, paused and
//! resumed, and shut down through Xen's PV control path
//! (`scenarios/local-lifecycle.yaml`, its Xen cases). The save files and
//! every domain are gone afterwards. It runs on whichever build xen1 runs
//! (ci/test: trixie's, `lab up --xen 1 --dom0 trixie`), which the case's
//! host facts must show.

mod common;
use common::*;

use common::lab::xen1;
use common::xen::*;

#[test]
#[ignore = "boots guests on the nested Xen lab: run through ci/test"]
fn xen_lab_e2e_pv_and_pvh_guests_go_through_their_lifecycle() {
    let runs = run_rerunning_failures_once_only("scenarios/local-lifecycle.yaml", &["--only", "*xen*"]);
    for kind in ["xen-pv", "xen-pvh"] {
        let name = format!("local-lifecycle/tiny-{kind}@xen1");
        let ran = last_run_of(&runs, &name);
        let doc = ran.json();
        let c = case(&doc, &name);
        assert_eq!(c["outcome"], "passed", "{c:#}");
        for s in ["reboot", "reboot-libvirt", "save-restore", "pause-resume", "shutdown"] {
            assert_eq!(step(c, s)["outcome"], "passed", "{s}: {c:#}");
        }
        let p = props(c);
        // The same kind after each reboot, with a new boot each time.
        let seen = if kind == "xen-pv" { "booted on \"Xen\"" } else { "booted on \"Xen PVH\"" };
        assert!(p["tiny.kind_after_reboot"].contains(seen), "{p:?}");
        assert!(p["tiny.kind_after_reboot_libvirt"].contains(seen), "{p:?}");
        assert_ne!(p["tiny.reboot_boot_id"], p["tiny.reboot_libvirt_boot_id"], "{p:?}");
        // The build that ran it: the host's facts, read from dom0, match the lab's image.
        let built = xen1().dom0.as_ref().and_then(|d| d["xen_version"].as_str()).expect("lab status: dom0's build");
        let major_minor = built.split('.').take(2).collect::<Vec<_>>().join(".");
        assert!(p["xen_version"].starts_with(&format!("{major_minor}.")), "{built} vs {p:?}");
        eprintln!("{kind} on Xen {} (image: {built}), libvirt {}", p["xen_version"], p["libvirt_version"]);
        for figure in ["tiny.reboot_ms", "tiny.save_ms", "tiny.restore_ms", "tiny.shutdown_ms", "tiny.save_bytes"] {
            assert!(p[figure].parse::<u64>().unwrap() > 0, "{figure}: {p:?}");
        }
    }
    // No domain, and no save file (nor anything else of the run's directory) in dom0.
    for ran in &runs {
        xen1().assert_no_leftovers(&ran.run_id());
    }
}
