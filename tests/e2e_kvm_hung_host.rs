//! End-to-end on the KVM lab: the host's libvirtd hangs mid-run (stopped
//! with SIGSTOP: its socket still accepts, nothing answers). No libvirt call
//! returns, yet the run ends: each call is abandoned at the limit
//! (`VIRTSMOKE_LIBVIRT_CALL_LIMIT`, short here), the case is an
//! infrastructure error blamed on the host, and exit 3. Once the daemon runs
//! again, `cleanup` removes what was left. Its own test binary, so no other
//! test uses the lab meanwhile.

mod common;
use common::*;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use virtsmoke::events::{CauseId, Outcome};

#[test]
#[ignore = "stops a lab daemon: run through ci/test"]
fn a_hung_libvirtd_ends_the_run_as_an_unresponsive_host() {
    let h2 = LabStatus::read().kvm("h2").clone();
    let libvirtd = Pid::from_raw(h2.libvirtd_pid.expect("h2's libvirtd runs"));
    let dir = tempfile::tempdir().unwrap();
    let results_file = dir.path().join("r.json");
    let fixture = lab_fixture("host-fault.yaml");
    let args = ["run", "-v", fixture.to_str().unwrap(), "--json", results_file.to_str().unwrap(), "--artifacts"];
    let env = [("VIRTSMOKE_LIBVIRT_CALL_LIMIT", "15s")];
    // Once the guest is up: it then waits for an address it never gets, asking libvirt.
    let running = spawn_env_until(&[&args[..], &[dir.path().to_str().unwrap()]].concat(), &env, |line| {
        line.contains("PASS") && line.contains("boot.console")
    });
    let run_id = running.run_id();
    kill(libvirtd, Signal::SIGSTOP).unwrap();
    // A watchdog: should the run hang after all, the daemon runs again after
    // 5 minutes (so this test ends, and fails) instead of never.
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let fired = wait.recv_timeout(std::time::Duration::from_secs(300)).is_err();
        if fired {
            let _ = kill(libvirtd, Signal::SIGCONT);
        }
        fired
    });
    let started = std::time::Instant::now();
    let (status, log) = running.finish();
    let took = started.elapsed();
    let _ = done.send(());
    let fired = watchdog.join().unwrap();
    // The daemon runs again before any assertion: the tests after this one need it.
    kill(libvirtd, Signal::SIGCONT).unwrap();
    assert!(!fired, "the run hung until the watchdog let libvirtd go on ({took:?}): {log}");
    let cleaned = virtsmoke(&["cleanup", "--uri", &h2.uri, "--run", &run_id]);
    assert!(cleaned.status.success(), "{}", text(&cleaned));
    assert_no_leftovers(&run_id);

    assert_eq!(status.code(), Some(3), "{log}");
    let doc = results(&results_file);
    let case = &doc.cases[0];
    assert_eq!(case.outcome, Outcome::Error, "{case:#?}");
    let cause = case.cause.as_ref().expect("a cause");
    assert_eq!(cause.id, CauseId::HostUnreachable, "{case:#?}");
    let errored = case.steps.iter().find(|s| s.outcome == Outcome::Error).expect("an errored step");
    let message = errored.message.as_deref().unwrap_or_default();
    assert!(message.contains("did not answer a libvirt call within 15s"), "{case:#?}");
}
