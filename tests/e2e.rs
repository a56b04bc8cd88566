//! End-to-end: the built binary boots real guests on the real local lab
//! (`virtsmoke lab up`, which ci/test brings up) and the tests read what it wrote.

mod common;
use common::*;

use std::process::Command;

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn local_kvm_scenario_boots_and_writes_valid_junit() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let results = dir.path().join("results.json");
    let arts = dir.path().join("artifacts");
    let out = virtsmoke(&[
        "run",
        "scenarios/local-kvm.yaml",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        results.to_str().unwrap(),
        "--artifacts",
        arts.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    xmllint_schema(&junit);

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite name=\"local-kvm/tiny@lab1\""), "{xml}");
    for tc in ["boot.running", "boot.console", "boot.address", "boot.ssh", "boot.kind", "kernel-version", "teardown"] {
        assert!(xml.contains(&format!("<testcase name=\"{tc}\"")), "missing testcase {tc}");
    }
    for p in ["boot_ms", "libvirt_version", "hypervisor", "hypervisor_version", "host", "domain_type"] {
        assert!(xml.contains(&format!("<property name=\"{p}\"")), "missing property {p}");
    }
    assert!(!xml.contains("<failure") && !xml.contains("<error"));

    let doc = json(&results);
    let c = case(&doc, "local-kvm/tiny@lab1");
    let props: Vec<(String, String)> = serde_json::from_value(c["properties"].clone()).unwrap();
    let prop = |k: &str| props.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    assert!(prop("tiny.kernel").ends_with("-amd64"), "{props:?}");
    assert!(prop("tiny.address").starts_with("10.77.0."), "{props:?}");
    assert!(prop("boot_ms").parse::<u64>().unwrap() > 0);

    // The console went to the artifacts and holds the marker.
    let console = walk(&arts).into_iter().find(|p| p.ends_with("tiny.console.log")).expect("console artifact");
    assert!(std::fs::read_to_string(console).unwrap().contains("VIRTSMOKE-MARKER ssh-ready"));
    assert_no_leftovers(&run_id(&String::from_utf8_lossy(&out.stderr)));
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn faults_fail_the_right_step_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let results = dir.path().join("results.json");
    let out = virtsmoke(&[
        "run",
        "tests/fixtures/e2e/faults.yaml",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        results.to_str().unwrap(),
        "--artifacts",
        dir.path().join("a").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    xmllint_schema(&junit);
    let doc = json(&results);

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

    // Every case tore down cleanly, failed or not.
    for c in doc["cases"].as_array().unwrap() {
        assert_eq!(step(c, "teardown")["outcome"], "passed", "{c:#}");
    }
    assert_no_leftovers(&run_id(&String::from_utf8_lossy(&out.stderr)));
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
    let mut child = Command::new(BIN)
        .args(["run", "-v", "scenarios/local-kvm.yaml", "--junit", junit.to_str().unwrap(), "--artifacts"])
        .arg(dir.path().join("a"))
        .current_dir(root())
        .env("CI", "true")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the guest's domain runs, then interrupt.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(n > 0, "virtsmoke ended before its guest ran:\n{seen}");
        seen.push_str(&line);
        if line.contains("boot.running") {
            break;
        }
    }
    // A second signal of the same kind may merge with the first: the second is SIGINT.
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    for signal in [nix::sys::signal::Signal::SIGTERM, nix::sys::signal::Signal::SIGINT].into_iter().take(signals) {
        nix::sys::signal::kill(pid, signal).unwrap();
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    seen.push_str(&rest);
    assert_ne!(status.code(), Some(0), "{seen}");
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
    let mut child = Command::new(BIN)
        .args(["run", "-v", "tests/fixtures/e2e/faults.yaml", "--only", "*/hang@*", "--artifacts"])
        .arg(dir.path())
        .current_dir(root())
        .env("CI", "true")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0, "{seen}");
        seen.push_str(&line);
        if line.contains("boot.running") {
            break;
        }
    }
    // While the run lives, cleanup leaves its guest and scratch alone.
    let run = run_id(&seen);
    let out = virtsmoke(&["cleanup", "--uri", LAB_URI, "--run", &run]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("kept run directory") && !said.contains("removed"), "{said}");

    // No chance to tear down: the domain and the run's scratch stay behind.
    child.kill().unwrap();
    child.wait().unwrap();
    let out = virtsmoke(&["cleanup", "--uri", LAB_URI, "--run", &run]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&format!("removed domain vs-{run}-")), "{said}");
    assert!(said.contains("removed run directory"), "{said}");
    assert_no_leftovers(&run);
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn keep_on_failure_leaves_a_guest_a_human_can_enter() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("j.xml");
    let out = virtsmoke(&[
        "run",
        "tests/fixtures/e2e/keep.yaml",
        "--keep-on-failure",
        "--junit",
        junit.to_str().unwrap(),
        "--artifacts",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // The retried check passed on its second attempt and says so.
    xmllint_schema(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
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
    assert!(
        console.starts_with(
            "virsh -c 'qemu+unix:///system?socket=/var/tmp/virtsmoke-lab/h1/run/libvirt-sock' console vs-"
        ),
        "{console}"
    );

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
fn a_kernel_without_xen_notes_fails_xen_pv_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = not_linux_scenario(dir.path(), "notes");
    let json_path = dir.path().join("r.json");
    let out = virtsmoke(&[
        "run",
        path.to_str().unwrap(),
        "--json",
        json_path.to_str().unwrap(),
        "--artifacts",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc = json(&json_path);
    let failed = first_failed(&doc["cases"][0]);
    assert_eq!(failed["name"], "boot.running");
    assert_eq!(failed["message"], "kernel /bin/sh has no Xen PV entry point (no such Xen ELF note)");
}

#[test]
fn bad_input_is_exit_2_with_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "version: 1\nname: bad\nhosts:\n  h:\n    uri: \"test:///default\"\nimages:\n  tiny:\n    builtin: test-image\nguests:\n  g:\n    kind: kvm\n    image: tiny\n    memroy_mib: 512\n",
    )
    .unwrap();
    for cmd in ["validate", "run"] {
        let out = virtsmoke(&[cmd, path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad.yaml:13:5"), "{err}");
        assert!(err.contains("memory_mib"), "{err}");
    }
}

#[test]
fn a_closed_pipe_is_not_a_panic() {
    let mut child = Command::new(BIN)
        .args(["list", "tests/fixtures/e2e/faults.yaml"])
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before anything is printed
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn usage_errors_are_exit_2_and_help_is_exit_0() {
    assert_eq!(virtsmoke(&["run"]).status.code(), Some(2));
    assert_eq!(virtsmoke(&["frobnicate"]).status.code(), Some(2));
    for sub in ["run", "validate", "list", "lab", "image", "facts", "cleanup", "schema", "merge", "compare"] {
        let out = virtsmoke(&[sub, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{sub}: {}", text(&out));
    }
}

#[test]
fn an_unreachable_host_is_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.yaml");
    std::fs::write(
        &path,
        "version: 1\nname: gone\nhosts:\n  h:\n    uri: \"qemu+unix:///system?socket=/nonexistent/sock\"\n    accel: qemu\nimages:\n  tiny:\n    builtin: test-image\nguests:\n  g:\n    kind: kvm\n    image: tiny\n",
    )
    .unwrap();
    let junit = dir.path().join("j.xml");
    let out = virtsmoke(&[
        "run",
        path.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--artifacts",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<error") && xml.contains("cannot connect to libvirt"), "{xml}");
    xmllint_schema(&junit);
}

#[test]
fn json_format_streams_every_event_and_no_color_means_plain() {
    let dir = tempfile::tempdir().unwrap();
    let path = not_linux_scenario(dir.path(), "events");
    let out = virtsmoke(&[
        "run",
        path.to_str().unwrap(),
        "--format",
        "json",
        "--color",
        "always",
        "--artifacts",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let events: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"run-started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"run-finished"), "{kinds:?}");
    for k in ["case-started", "step-finished", "case-finished"] {
        assert!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    let finished = events.iter().find(|e| e["event"] == "case-finished").unwrap();
    assert_eq!(finished["report"]["outcome"], "failed");
    assert!(String::from_utf8_lossy(&out.stderr).contains("\x1b[31mFAIL\x1b[0m"));

    // `auto` with NO_COLOR (and no terminal): no escape codes at all.
    let plain = Command::new(BIN)
        .args(["run", path.to_str().unwrap(), "--artifacts", dir.path().to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(1));
    assert!(plain.stdout.is_empty());
    assert!(!String::from_utf8_lossy(&plain.stderr).contains('\x1b'));
}

/// A scenario whose one case fails before anything boots: a `xen-pv` guest
/// whose "kernel" is `/bin/sh`, on libvirt's test driver standing in for the host.
fn not_linux_scenario(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let path = dir.join("s.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nname: {name}\nhosts:\n  h:\n    uri: \"test:///default\"\n    hypervisor: xen\nimages:\n  not-linux:\n    kernel: /bin/sh\nguests:\n  g:\n    kind: xen-pv\n    image: not-linux\n"
        ),
    )
    .unwrap();
    path
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn placed_cases_spread_over_the_hosts_with_room() {
    let ran = run_scenario("scenarios/inventory-lab.yaml", &["tests/fixtures/e2e/placement.yaml"]);
    assert_eq!(ran.out.status.code(), Some(0), "{}", text(&ran.out));
    let doc = ran.json();
    let mut used = std::collections::BTreeSet::new();
    for g in ["one", "two", "three", "four"] {
        let c = case(&doc, &format!("e2e-placement/{g}@site=local-lab"));
        assert_eq!(c["outcome"], "passed", "{c:#}");
        let host = c["host"].as_str().unwrap().to_string();
        assert!(host == "lab1" || host == "lab2", "{host}");
        // The address is on the host it ran on: reached through that host's namespace.
        assert!(props(c)[&format!("{g}.address")].starts_with("10.77.0."));
        used.insert(host);
    }
    assert_eq!(used.len(), 2, "the cases went to one host only: {used:?}");
    assert_no_leftovers(&ran.run_id());
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn uefi_guests_boot_through_ovmf_with_their_own_nvram() {
    let ran = run_scenario("tests/fixtures/e2e/uefi.yaml", &[]);
    assert_eq!(ran.out.status.code(), Some(0), "{}", text(&ran.out));
    let doc = ran.json();
    let c = case(&doc, "e2e-uefi/efi@lab1");
    assert_eq!(step(c, "booted-by-uefi")["outcome"], "passed", "{c:#}");
    let run = ran.run_id();
    let xml = walk(&ran.artifacts).into_iter().find(|p| p.ends_with("efi.domain.xml")).unwrap();
    let xml = std::fs::read_to_string(xml).unwrap();
    assert!(xml.contains("<os firmware='efi'>"), "{xml}");
    assert!(xml.contains(&format!("<nvram>/var/tmp/virtsmoke/runs/{run}/")), "{xml}");
    // The NVRAM went with the run's directory.
    assert!(!std::path::Path::new(&format!("/var/tmp/virtsmoke/runs/{run}")).exists());
    assert_no_leftovers(&run);
}
