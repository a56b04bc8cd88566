//! End-to-end on the KVM lab: libvirtd dies mid-run. The case errors with
//! libvirt's message, the runner does not hang, and once the daemon is back
//! `cleanup` removes what was left. Its own test binary, so no other test uses
//! the lab meanwhile.

mod common;
use common::*;

use std::process::Command;

use virtsmoke::events::Outcome;

fn virsh_list(uri: &str) -> String {
    let out = Command::new("virsh").args(["-c", uri, "list", "--state-running", "--name"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "kills a lab daemon: run through ci/test"]
fn libvirtd_killed_mid_run_errors_the_case_and_cleanup_recovers() {
    // The daemons' pids now: read afresh, not from the binary's first look.
    let h2 = LabStatus::read().kvm("h2").clone();
    let libvirtd = h2.libvirtd_pid.expect("h2's libvirtd runs");
    let virtlogd = h2.virtlogd_pid.expect("h2's virtlogd runs");
    let dir = tempfile::tempdir().unwrap();
    let results_file = dir.path().join("r.json");
    let fixture = lab_fixture("host-fault.yaml");
    let args = ["run", "-v", fixture.to_str().unwrap(), "--json", results_file.to_str().unwrap(), "--artifacts"];
    // Kill once the guest is fully up (its boot marker seen): a domain still being
    // started is, rightly, killed by libvirtd when it comes back.
    let running = spawn_until(&[&args[..], &[dir.path().to_str().unwrap()]].concat(), |line| {
        line.contains("PASS") && line.contains("boot.console")
    });
    let run_id = running.run_id();
    assert!(virsh_list(&h2.uri).contains(&format!("vs-{run_id}-")), "{}", running.seen);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(libvirtd), nix::sys::signal::Signal::SIGKILL).unwrap();

    let (status, log) = running.finish();
    // The daemon returns in the host's namespaces (before any assertion: the
    // tests after this one need it); the guest it left is still there.
    let started = Command::new("nsenter")
        .args([
            "-t",
            &virtlogd.to_string(),
            "-m",
            "-u",
            "-n",
            "libvirtd",
            "-d",
            "--timeout",
            "0",
            "--pid-file",
            "/run/libvirt/libvirtd.pid",
        ])
        .status()
        .unwrap();
    assert!(started.success());
    // Whether libvirtd reclaims the guest or kills it on restart, cleanup must
    // leave nothing of the run behind (the SIGKILL test in e2e_kvm.rs proves removal).
    let cleaned = virtsmoke(&["cleanup", "--uri", &h2.uri, "--run", &run_id]);
    let left = virtsmoke(&["cleanup", "--uri", &h2.uri, "--run", &run_id, "--dry-run"]);
    assert!(cleaned.status.success(), "{}", text(&cleaned));
    assert!(String::from_utf8_lossy(&left.stdout).contains("nothing to clean up"), "{}", text(&left));
    assert!(!virsh_list(&h2.uri).contains(&format!("vs-{run_id}-")));

    assert_eq!(status.code(), Some(3), "{log}");
    let doc = results(&results_file);
    let case = &doc.cases[0];
    assert_eq!(case.outcome, Outcome::Error, "{case:#?}");
    let errored = case.steps.iter().find(|s| s.outcome == Outcome::Error).expect("an errored step");
    let message = errored.message.as_deref().unwrap_or_default();
    // libvirt's own message, from its RPC layer: the connection to the daemon is gone.
    assert!(message.contains("domain=rpc"), "{case:#?}");
}
