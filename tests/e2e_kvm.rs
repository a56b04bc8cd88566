//! End-to-end on the KVM lab (`virtsmoke lab up --hosts 2`, which ci/test
//! brings up for its KVM phase): the built binary boots real guests and the
//! tests read what it wrote.

mod common;
use common::*;

use std::process::Command;

use nix::sys::signal::Signal;

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn local_kvm_scenario_boots_and_writes_valid_junit() {
    let ran = run_scenario("scenarios/local-kvm.yaml", &[]);
    let (out, junit, arts) = (&ran.out, &ran.junit, &ran.artifacts);
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    xmllint_schema(junit);

    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(xml.contains("<testsuite name=\"local-kvm/tiny@lab1\""), "{xml}");
    for tc in ["boot.running", "boot.console", "boot.address", "boot.ssh", "boot.kind", "kernel-version", "teardown"] {
        assert!(xml.contains(&format!("<testcase name=\"{tc}\"")), "missing testcase {tc}");
    }
    for p in ["boot_ms", "libvirt_version", "hypervisor", "hypervisor_version", "host", "domain_type"] {
        assert!(xml.contains(&format!("<property name=\"{p}\"")), "missing property {p}");
    }
    assert!(!xml.contains("<failure") && !xml.contains("<error"));

    let doc = ran.results();
    let c = case_of(&doc, "local-kvm/tiny@lab1");
    let prop = |k: &str| prop_of(c, k).unwrap_or_default();
    assert!(prop("tiny.kernel").ends_with("-amd64"), "{:?}", c.properties);
    assert!(prop("tiny.address").starts_with("10.77.0."), "{:?}", c.properties);
    assert!(prop("boot_ms").parse::<u64>().unwrap() > 0);

    // The console went to the artifacts and holds the marker.
    let console = walk(arts).into_iter().find(|p| p.ends_with("tiny.console.log")).expect("console artifact");
    assert!(std::fs::read_to_string(console).unwrap().contains("VIRTSMOKE-MARKER ssh-ready"));
    assert_no_leftovers(&ran.run_id());
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn faults_fail_the_right_step_and_the_run_goes_on() {
    let fixture = lab_fixture("faults.yaml");
    let ran = run_scenario(fixture.to_str().unwrap(), &[]);
    assert_eq!(ran.out.status.code(), Some(1), "{}", text(&ran.out));
    xmllint_schema(&ran.junit);
    let doc = ran.json();

    let healthy = case(&doc, "e2e-faults/healthy@lab1");
    assert_eq!(healthy["outcome"], "passed", "{healthy:#}");

    let panic = case(&doc, "e2e-faults/panic@lab1");
    assert_eq!(panic["outcome"], "failed");
    let s = step(panic, "boot.console");
    // The marker comes before the panic; whichever step was waiting reports the panic.
    let failing: Vec<&serde_json::Value> =
        panic["steps"].as_array().unwrap().iter().filter(|s| s["outcome"] == "failed").collect();
    assert!(!failing.is_empty(), "{panic:#}");
    assert!(failing[0]["message"].as_str().unwrap().contains("Kernel panic"), "{panic:#} / {s}");

    // Evidence kept from a failed case: the domain as libvirt last saw it.
    let arts: Vec<String> = serde_json::from_value(panic["artifacts"].clone()).unwrap();
    let live = arts.iter().find(|a| a.ends_with("panic.live.xml")).unwrap_or_else(|| panic!("{arts:?}"));
    assert!(std::fs::read_to_string(live).unwrap().contains("<domain type='qemu'"));

    let nonet = case(&doc, "e2e-faults/nonet@lab1");
    assert_eq!(step(nonet, "boot.console")["outcome"], "passed");
    assert_eq!(step(nonet, "boot.address")["outcome"], "failed", "{nonet:#}");
    assert_eq!(step(nonet, "boot.ssh")["outcome"], "skipped");

    let nossh = case(&doc, "e2e-faults/nossh@lab1");
    assert_eq!(step(nossh, "boot.address")["outcome"], "passed", "{nossh:#}");
    let ssh = step(nossh, "boot.ssh");
    assert_eq!(ssh["outcome"], "failed");
    assert!(ssh["message"].as_str().unwrap().contains("did not answer"), "{ssh}");

    let hang = case(&doc, "e2e-faults/hang@lab1");
    assert_eq!(step(hang, "boot.console")["outcome"], "passed");
    assert_eq!(step(hang, "boot.address")["outcome"], "failed", "{hang:#}");

    // The guest halts 2 s after its boot marker: depending on how far it got, the
    // domain is gone or the halted guest stops answering; either way it fails,
    // with the console kept.
    let poweroff = case(&doc, "e2e-faults/poweroff@lab1");
    assert_eq!(poweroff["outcome"], "failed", "{poweroff:#}");
    assert!(first_failed(poweroff)["message"].as_str().is_some_and(|m| !m.is_empty()));

    let sshdie = case(&doc, "e2e-faults/sshdie@lab1");
    assert_eq!(step(sshdie, "boot.ssh")["outcome"], "passed", "{sshdie:#}");
    let failed = first_failed(sshdie);
    assert!(
        ["boot.kind", "long-command"].contains(&failed["name"].as_str().unwrap()),
        "the SSH server died during a check: {sshdie:#}"
    );

    // Each fault's cause, named by its identifier (docs/causes.md).
    for (guest, id) in [
        ("panic", "guest-kernel-panic"),
        ("nonet", "no-address-no-lease"),
        ("nossh", "ssh-not-listening"),
        ("hang", "boot-stalled"),
        ("poweroff", "guest-halted-unexpectedly"),
    ] {
        let c = case(&doc, &format!("e2e-faults/{guest}@lab1"));
        assert_eq!(c["cause"]["id"], id, "{guest}: {:#}", c["cause"]);
    }
    assert!(healthy["cause"].is_null(), "a passed case has no cause: {healthy:#}");

    // Every case tore down cleanly, failed or not.
    for c in doc["cases"].as_array().unwrap() {
        assert_eq!(step(c, "teardown")["outcome"], "passed", "{c:#}");
    }
    assert_no_leftovers(&ran.run_id());
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn sigterm_tears_down_and_reports_interrupted() {
    let (dir, seen) = interrupted_run(1);
    // The first signal still gathers the evidence of the interrupted case.
    assert!(walk(&dir.path().join("a")).iter().any(|p| p.to_string_lossy().ends_with("tiny.live.xml")), "{seen}");
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn a_second_signal_hurries_the_teardown() {
    let (dir, seen) = interrupted_run(2);
    assert!(seen.contains("received (2)"), "{seen}");
    // No evidence gathered, the guest destroyed all the same.
    assert!(!walk(&dir.path().join("a")).iter().any(|p| p.to_string_lossy().ends_with("tiny.live.xml")), "{seen}");
}

/// Runs local-kvm.yaml, sends `signals` SIGTERMs once its guest is running,
/// and checks what every interrupted run must show; returns its directory and output.
fn interrupted_run(signals: usize) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let arts = dir.path().join("a");
    let args = ["run", "-v", "scenarios/local-kvm.yaml", "--junit", junit.to_str().unwrap(), "--artifacts"];
    // Wait until the guest's domain runs, then interrupt.
    let running = spawn_until(&[&args[..], &[arts.to_str().unwrap()]].concat(), |l| l.contains("boot.running"));
    // Two signals must reach the run together, whatever the scheduler does:
    // stopped, the process holds both pending and takes them at once when it
    // continues (a second signal of the same kind would merge with the first,
    // so the second is SIGINT). The test then does not depend on whether the
    // second signal or the evidence gathering comes first.
    if signals > 1 {
        running.signal(Signal::SIGSTOP);
    }
    for signal in [Signal::SIGTERM, Signal::SIGINT].into_iter().take(signals) {
        running.signal(signal);
    }
    if signals > 1 {
        running.signal(Signal::SIGCONT);
    }
    let (status, seen) = running.finish();
    // 128 + the signal, so CI shows an aborted job; two signals together may
    // be taken in either order.
    match signals {
        1 => assert_eq!(status.code(), Some(143), "{seen}"),
        _ => assert!(matches!(status.code(), Some(130 | 143)), "{status:?} {seen}"),
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("interrupted"), "{xml}");
    xmllint_schema(&junit);
    assert_no_leftovers(&run_id(&seen));
    (dir, seen)
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn cleanup_removes_what_a_killed_run_left() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = lab_fixture("faults.yaml");
    let args = ["run", "-v", fixture.to_str().unwrap(), "--only", "*/hang@*", "--artifacts"];
    let mut running =
        spawn_until(&[&args[..], &[dir.path().to_str().unwrap()]].concat(), |l| l.contains("boot.running"));
    // While the run lives, cleanup leaves its guest and scratch alone.
    let run = running.run_id();
    let out = virtsmoke(&["cleanup", "--uri", &h1().uri, "--run", &run]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("kept run directory") && !said.contains("removed"), "{said}");

    // No chance to tear down: the domain and the run's scratch stay behind.
    running.child.kill().unwrap();
    running.child.wait().unwrap();
    let out = virtsmoke(&["cleanup", "--uri", &h1().uri, "--run", &run]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&format!("removed domain vs-{run}-")), "{said}");
    assert!(said.contains("removed run directory"), "{said}");
    assert_no_leftovers(&run);
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn keep_on_failure_leaves_a_guest_a_human_can_enter() {
    let fixture = lab_fixture("keep.yaml");
    let ran = run_scenario(fixture.to_str().unwrap(), &["--keep-on-failure"]);
    let (out, junit) = (&ran.out, &ran.junit);
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    // The retried check passed on its second attempt and says so.
    xmllint_schema(junit);
    let xml = std::fs::read_to_string(junit).unwrap();
    let flaky = &xml[xml.find("<testcase name=\"flaky\"").expect("flaky testcase")..];
    let flaky = &flaky[..flaky.find("</testcase>").unwrap()];
    assert!(flaky.contains("<flakyFailure") && !flaky.contains("<failure"), "{flaky}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let printed = |label: &str| -> String {
        err.lines()
            .find_map(|l| l.trim().strip_prefix(label).map(|r| r.trim().to_string()))
            .unwrap_or_else(|| panic!("no `{label}` line in:\n{err}"))
    };
    let console = printed("console:");
    let shell = printed("shell:");
    let remove = printed("remove:");
    assert!(console.starts_with(&format!("virsh -c '{}' console vs-", h1().uri)), "{console}");

    // The printed shell line really logs in to the kept guest.
    let sh = Command::new("sh").arg("-c").arg(format!("{shell} -o BatchMode=yes uname -r")).output().unwrap();
    assert!(sh.status.success(), "{}", String::from_utf8_lossy(&sh.stderr));
    assert!(String::from_utf8_lossy(&sh.stdout).trim().ends_with("-amd64"));

    // And the printed removal removes it and the run's scratch.
    let run = run_id(&err);
    let rm = remove.replacen("virtsmoke", BIN, 1);
    let removed = Command::new("sh").arg("-c").arg(&rm).output().unwrap();
    let said = String::from_utf8_lossy(&removed.stdout);
    assert!(said.contains("removed domain") && said.contains("removed run directory"), "{said}");
    assert_no_leftovers(&run);
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn uefi_guests_boot_through_ovmf_with_their_own_nvram() {
    let fixture = lab_fixture("uefi.yaml");
    let ran = run_scenario(fixture.to_str().unwrap(), &[]);
    assert_eq!(ran.out.status.code(), Some(0), "{}", text(&ran.out));
    let doc = ran.json();
    let c = case(&doc, "e2e-uefi/efi@lab1");
    assert_eq!(step(c, "booted-by-uefi")["outcome"], "passed", "{c:#}");
    let run = ran.run_id();
    let xml = walk(&ran.artifacts).into_iter().find(|p| p.ends_with("efi.domain.xml")).unwrap();
    let xml = std::fs::read_to_string(xml).unwrap();
    assert!(xml.contains("<os firmware='efi'>"), "{xml}");
    assert!(xml.contains(&format!("<nvram>/var/tmp/virtsmoke/runs/{run}/")), "{xml}");
    // The NVRAM went with the run's directory (which assert_no_leftovers checks is gone).
    assert_no_leftovers(&run);
}
