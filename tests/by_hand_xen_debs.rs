//! A developer's own package in the nested Xen lab (`virtsmoke lab up
//! --debs DIR`): bookworm's libvirt-daemon-driver-xen rebuilt with the
//! version ORIG+virtsmoke1 (`ci/rebuild-deb`, on a Debian 12 machine) runs in
//! xen1's dom0, and `lab status` and the host's facts say so. It restarts
//! the lab's hosts twice (a new dom0 image for xen1, then xen1's usual one
//! back) and builds that image on first use: run by hand, on a lab nothing
//! else uses,
//!   cargo test --test by_hand_xen_debs -- --ignored --test-threads 1

mod common;
use std::path::Path;
use std::process::Command;

use common::lab::LabStatus;
use common::{root, text, virtsmoke};

const PACKAGE: &str = "libvirt-daemon-driver-xen";

/// A rebuilt `PACKAGE` in `dir`: its version.
fn rebuilt_package(dir: &Path) -> String {
    let out = Command::new(root().join("ci/rebuild-deb")).arg(dir).arg(PACKAGE).output().expect("run ci/rebuild-deb");
    assert!(out.status.success(), "ci/rebuild-deb: {}", text(&out));
    let deb = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let out = Command::new("dpkg-deb").args(["-f", &deb, "Version"]).output().expect("run dpkg-deb");
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(version.ends_with("+virtsmoke1"), "{deb}: version {version}");
    version
}

/// `lab up ARGS`, which must succeed: its text output.
fn lab_up(args: &[&str]) -> String {
    let mut all = vec!["lab", "up"];
    all.extend_from_slice(args);
    let out = virtsmoke(&all);
    assert!(out.status.success(), "lab up {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// xen1's `pkg.PACKAGE` fact, asked over its jump (dom0's shell).
fn package_fact(lab: &LabStatus) -> String {
    let inventory = lab.render_file("tests/fixtures/e2e/xen-lab-host.yaml");
    let out = virtsmoke(&["facts", inventory.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "facts: {}", text(&out));
    let facts: serde_json::Value = serde_json::from_slice(&out.stdout).expect("facts --json");
    facts[0]["extra"][format!("pkg.{PACKAGE}")].as_str().unwrap_or_default().to_string()
}

#[test]
#[ignore = "restarts the nested Xen lab's hosts on a dom0 image of its own (built on first use): run by hand"]
fn xen_lab_runs_a_rebuilt_package_and_its_facts_say_so() {
    let before = LabStatus::read();
    let suite = before
        .xen
        .iter()
        .find(|h| h.name == "xen1")
        .and_then(|h| h.dom0.as_ref())
        .and_then(|b| b["suite"].as_str())
        .unwrap_or("bookworm")
        .to_string();
    let debs = tempfile::tempdir().unwrap();
    let version = rebuilt_package(debs.path());
    let dir = debs.path().to_str().unwrap();

    // The package is in xen1's dom0, and the lab says so.
    let said = lab_up(&["--xen", "1", "--dom0", "bookworm", "--debs", dir]);
    assert!(said.contains(&format!("local packages: {PACKAGE} {version}")), "{said}");
    let lab = LabStatus::read();
    let x1 = lab.xen("xen1");
    let build = x1.dom0.as_ref().expect("xen1's build");
    assert_eq!(build["local_packages"][PACKAGE], version.as_str(), "{build}");
    assert_eq!(build["suite"], "bookworm");
    // The host itself reports the new version.
    assert_eq!(package_fact(&lab), version);

    // The same package from another directory is the same image: xen1 keeps running.
    let copy = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(debs.path()).unwrap().flatten() {
        std::fs::copy(f.path(), copy.path().join(f.file_name())).unwrap();
    }
    lab_up(&["--xen", "1", "--dom0", "bookworm", "--debs", copy.path().to_str().unwrap()]);
    assert_eq!(LabStatus::read().xen("xen1").qemu_pid, x1.qemu_pid, "xen1 was restarted for the same package");

    // Back to the suite's own packages.
    let said = lab_up(&["--xen", "1", "--dom0", &suite]);
    assert!(!said.contains("local packages"), "{said}");
    let lab = LabStatus::read();
    assert_eq!(lab.xen("xen1").dom0.as_ref().unwrap()["local_packages"], serde_json::json!({}));
    let fact = package_fact(&lab);
    assert!(!fact.is_empty() && !fact.ends_with("+virtsmoke1"), "pkg.{PACKAGE}: {fact}");
}
