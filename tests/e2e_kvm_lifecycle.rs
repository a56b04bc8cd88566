//! End-to-end on the KVM lab: a guest reboots (from inside and through
//! libvirt), is saved and restored, paused and resumed, and shut down, and
//! proves after each that it is the guest it should be; a guest that ignores
//! shutdown and reboot requests fails those checks with its console. Nothing
//! of either remains, the save file included.

mod common;
use common::lab::lab;
use common::*;

#[test]
#[ignore = "boots guests on the KVM lab: run through ci/test"]
fn lifecycle_checks_pass_and_prove_the_guest_came_back_as_itself() {
    let scenario = lab().render_file("tests/fixtures/e2e/lifecycle.yaml");
    let ran = run_scenario(scenario.to_str().unwrap(), &["--only", "*tiny*"]);
    let doc = ran.json();
    let tiny = case(&doc, "e2e-lifecycle/tiny@lab1");
    assert_eq!(tiny["outcome"], "passed", "{tiny:#}");
    for s in ["reboot", "reboot-libvirt", "save-restore", "pause-resume", "shutdown"] {
        assert_eq!(step(tiny, s)["outcome"], "passed", "{s}: {tiny:#}");
    }
    let p = props(tiny);
    let figure = |name: &str| -> u64 { p.get(name).unwrap_or_else(|| panic!("no {name}: {p:?}")).parse().unwrap() };
    for name in ["tiny.reboot_ms", "tiny.reboot_libvirt_ms", "tiny.save_ms", "tiny.restore_ms", "tiny.shutdown_ms"] {
        assert!(figure(name) > 0, "{name}: {p:?}");
    }
    figure("tiny.pause_ms");
    figure("tiny.resume_ms");
    // A saved guest's memory is on the order of its RAM.
    assert!(figure("tiny.save_bytes") > 16 << 20, "{p:?}");
    // Each reboot is a new boot, and the guest came back as the same kind.
    assert_ne!(p["tiny.reboot_boot_id"], p["tiny.reboot_libvirt_boot_id"], "{p:?}");
    assert!(p["tiny.kind_after_reboot"].contains("virtio_net"), "{p:?}");
    assert!(p["tiny.kind_after_reboot_libvirt"].contains("virtio_net"), "{p:?}");
    // The console shows both reboots and the final power-off the guest was asked for.
    let console = std::fs::read_to_string(
        walk(&ran.artifacts).into_iter().find(|f| f.ends_with("tiny.console.log")).expect("console"),
    )
    .unwrap();
    // `reboot` inside the guest; libvirt's reboot on QEMU is an ACPI power-off
    // that QEMU turns into a reset; then the shutdown's ACPI power-off.
    assert_eq!(console.matches("VIRTSMOKE-MARKER reboot").count(), 1, "{console}");
    assert_eq!(console.matches("VIRTSMOKE-MARKER poweroff").count(), 2, "{console}");
    // Nothing remains, the save file included (it lived in the run's directory).
    assert_no_leftovers(&ran.run_id());
}

#[test]
#[ignore = "boots guests on the KVM lab: run through ci/test"]
fn a_guest_that_ignores_reboot_and_shutdown_fails_with_its_console() {
    let scenario = lab().render_file("tests/fixtures/e2e/lifecycle.yaml");
    let text = std::fs::read_to_string(&scenario).unwrap();
    let short = text
        .replace("  - reboot: { via: libvirt }\n  - save-restore\n  - pause-resume\n", "")
        .replace("console: 2m", "console: 1m")
        .replace("ssh: 1m", "ssh: 30s");
    assert!(!short.contains("save-restore"), "{short}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stubborn.yaml");
    std::fs::write(&path, short).unwrap();
    let ran = run_scenario(path.to_str().unwrap(), &["--only", "*stubborn*"]);
    let doc = ran.json();
    let stubborn = case(&doc, "e2e-lifecycle/stubborn@lab1");
    assert_eq!(stubborn["outcome"], "failed", "{stubborn:#}");
    let reboot = step(stubborn, "reboot");
    assert_eq!(reboot["outcome"], "failed", "{reboot:#}");
    assert!(reboot["message"].as_str().unwrap().contains("did not come back with a new boot"), "{reboot:#}");
    let shutdown = step(stubborn, "shutdown");
    assert_eq!(shutdown["outcome"], "failed", "{shutdown:#}");
    assert!(shutdown["message"].as_str().unwrap().contains("did not shut down when asked"), "{shutdown:#}");
    assert!(!shutdown["detail"].as_str().unwrap_or("").is_empty(), "{shutdown:#}");
    let console = std::fs::read_to_string(
        walk(&ran.artifacts).into_iter().find(|f| f.ends_with("stubborn.console.log")).expect("console"),
    )
    .unwrap();
    assert!(console.contains("fault=noshutdown"), "{console}");
    assert!(
        !console.contains("VIRTSMOKE-MARKER poweroff") && !console.contains("VIRTSMOKE-MARKER reboot"),
        "{console}"
    );
    assert_no_leftovers(&ran.run_id());
}
