//! Xen-lab tests too slow or too unreliable for ci/test: run by hand on a
//! machine with the nested Xen lab up (`virtsmoke lab up --xen 1`):
//!   cargo test --test by_hand_xen -- --ignored --test-threads 1

mod common;
use common::xen::debian_disk_kind;

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
