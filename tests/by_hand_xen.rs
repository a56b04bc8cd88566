//! Xen-lab tests too slow or too unreliable for ci/test: run by hand on a
//! machine with the nested Xen lab up (`virtsmoke lab up --xen 2`):
//!   cargo test --test by_hand_xen -- --ignored --test-threads 1

mod common;
use common::xen::{debian_disk_kind, outcome_of, run_migration_cases};
use virtsmoke::events::Outcome;

/// The Debian disk as xen-pvhvm by direct kernel boot. On the 2-core lab
/// machine it has not passed: a full distribution as an HVM guest of the
/// nested Xen (whose SVM QEMU's TCG emulates) needs 10 to 15 minutes and
/// triple-faulted twice in three tries (docs/xen-lab.md, Known problems).
#[test]
#[ignore = "boots guests on the nested Xen lab; slow: run by hand"]
fn xen_lab_a_disk_boots_as_pvhvm() {
    let (xml, _) = debian_disk_kind("pvhvm", "xen-pvhvm");
    // The seed stays an emulated CD-ROM; the disk is taken over by the PV drivers.
    assert!(xml.contains("<kernel>") && xml.contains("<target dev='hdc' bus='ide'/>"), "{xml}");
}

/// The PVHVM case of scenarios/local-xen-migration.yaml: paused and live,
/// there and back (each move several minutes under nested emulation).
#[test]
#[ignore = "migrates a PVHVM guest between the nested Xen hosts; slow: run by hand"]
fn xen_lab_a_pvhvm_guest_migrates_paused_and_live() {
    let cases = run_migration_cases(&["local-xen-migration/mover-xen-pvhvm@xen1"]);
    let (case, _) = &cases[0];
    assert_eq!(case.outcome, Outcome::Passed, "{case:#?}");
    assert_eq!(outcome_of(case, "migrate.round-2: xen2 -> xen1").0, Outcome::Passed);
    assert!(common::prop_of(case, "downtime_ms").is_some(), "{case:#?}");
}
