//! End-to-end on the nested Xen lab (`virtsmoke lab up --xen 1`, which ci/test
//! brings up for its Xen phase): `virtsmoke cleanup` removes the run
//! directories that dead runs left in dom0 (`/var/tmp/virtsmoke/runs/RUNID`),
//! reached over the host's `jump`, run by run, and keeps those it must.

mod common;
use common::*;

/// A run directory in dom0 that a dead run (of an id no run ever had) left,
/// with a file in it; removed, whatever the test did, when dropped.
struct LeftDir {
    run: String,
    path: String,
}

impl LeftDir {
    fn new(what: &str) -> LeftDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let run = format!("vs-test-cleanup-{what}-{}-{nanos:08x}", std::process::id());
        let path = format!("/var/tmp/virtsmoke/runs/{run}");
        xen1().dom0(&format!("mkdir -p {path}/images && echo x > {path}/images/x"));
        LeftDir { run, path }
    }

    fn exists(&self) -> bool {
        xen1().dom0(&format!("if [ -e {} ]; then echo yes; fi", self.path)).trim() == "yes"
    }

    /// The line `cleanup` prints about it: `VERB run directory xen1:PATH`.
    fn line(&self, verb: &str) -> String {
        format!("{verb} run directory xen1:{}", self.path)
    }
}

impl Drop for LeftDir {
    fn drop(&mut self) {
        xen1().dom0(&format!("rm -rf {}", self.path));
    }
}

/// `virtsmoke cleanup INVENTORY ARGS...`, which must exit 0; its stdout.
/// The inventory is the lab's Xen host with its `jump`: a bare `--uri` has no
/// SSH to reach dom0's files.
fn cleanup(args: &[&str]) -> String {
    let inventory = lab_fixture("xen-lab-host.yaml");
    let out = virtsmoke(&[&["cleanup", inventory.to_str().unwrap()][..], args].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "uses the nested Xen lab: run through ci/test"]
fn remote_cleanup_removes_the_named_runs_directory_and_keeps_another() {
    let (left, other) = (LeftDir::new("left"), LeftDir::new("other"));

    let said = cleanup(&["--run", &left.run]);
    assert!(said.contains(&left.line("removed")), "{said}");
    assert!(!said.contains(&other.run), "{said}");
    assert!(!left.exists(), "{} is still in dom0", left.path);
    assert!(other.exists(), "{} went with another run's", other.path);

    // Once gone, there is nothing more of that run.
    assert!(cleanup(&["--run", &left.run]).contains("nothing to clean up"));
}

#[test]
#[ignore = "uses the nested Xen lab: run through ci/test"]
fn remote_cleanup_dry_run_and_older_than_remove_nothing() {
    let left = LeftDir::new("dry");

    let said = cleanup(&["--run", &left.run, "--dry-run"]);
    assert!(said.contains(&left.line("would remove")), "{said}");
    assert!(left.exists(), "a dry run removed {}", left.path);

    // Made just now: not older than an hour (by its time in dom0).
    let said = cleanup(&["--run", &left.run, "--older-than", "1h"]);
    assert!(said.contains("nothing to clean up"), "{said}");
    assert!(left.exists(), "--older-than 1h removed {}", left.path);

    xen1().dom0(&format!("touch -d '3 hours ago' {}", left.path));
    let said = cleanup(&["--run", &left.run, "--older-than", "1h"]);
    assert!(said.contains(&left.line("removed")), "{said}");
    assert!(!left.exists(), "{} is still in dom0", left.path);
}

/// A guest of the run is still on the host (a run going on from another
/// machine): its directory stays, and `cleanup` says why.
#[test]
#[ignore = "uses the nested Xen lab: run through ci/test"]
fn remote_cleanup_keeps_the_directory_of_a_run_whose_guest_remains() {
    let left = LeftDir::new("busy");
    xen1().dom0(&format!("touch -d '3 hours ago' {}", left.path));
    // Defined, never started; created now, so `--older-than 1h` spares the
    // domain, and the (older) directory must stay with it.
    let domain = Domain::define(&left.run);

    let said = cleanup(&["--run", &left.run, "--older-than", "1h"]);
    assert!(said.contains(&format!("{} (guests of the run are still on the host)", left.line("kept"))), "{said}");
    assert!(left.exists(), "{} went while a guest of its run remains", left.path);

    // The domain goes first, and with it the reason to keep the directory.
    let said = cleanup(&["--run", &left.run, "--dry-run"]);
    assert!(said.contains(&format!("would remove domain {} (run {})", domain.name, left.run)), "{said}");
    assert!(said.contains(&left.line("would remove")), "{said}");
    let said = cleanup(&["--run", &left.run]);
    assert!(said.contains(&format!("removed domain {}", domain.name)), "{said}");
    assert!(said.contains(&left.line("removed")), "{said}");
    assert!(!left.exists(), "{} is still in dom0", left.path);
}

/// A persistent, inactive domain carrying virtsmoke's metadata for `run`;
/// undefined when dropped if still there.
struct Domain {
    name: String,
}

impl Domain {
    fn define(run: &str) -> Domain {
        let name = format!("{run}-0-g");
        let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let xml = format!(
            "<domain type='xen'><name>{name}</name><metadata><virtsmoke:owner xmlns:virtsmoke='urn:x-virtsmoke:run:1'>\
             <virtsmoke:run>{run}</virtsmoke:run><virtsmoke:case>c</virtsmoke:case><virtsmoke:guest>g</virtsmoke:guest>\
             <virtsmoke:created>{created}</virtsmoke:created></virtsmoke:owner></metadata>\
             <memory unit='MiB'>64</memory><vcpu>1</vcpu>\
             <os><type>linux</type><kernel>/nonexistent/vmlinuz</kernel></os></domain>"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("domain.xml");
        std::fs::write(&path, xml).unwrap();
        xen1().virsh(&["define", path.to_str().unwrap()]);
        Domain { name }
    }
}

impl Drop for Domain {
    fn drop(&mut self) {
        let _ = std::process::Command::new("virsh").args(["-c", &xen1().uri, "undefine", &self.name]).output();
    }
}
