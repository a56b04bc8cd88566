//! End-to-end on the nested Xen lab (`virtsmoke lab up --xen 1`, which
//! ci/test brings up after the KVM tests): faults fail with their diagnosis,
//! a domain libvirt lost is found in xenstore, disk images boot (on an
//! overlay, through pygrub; in place: tests/by_hand_xen.rs). Every kind proving its kind is
//! tests/by_hand_xen.rs (PV and PVH also prove it, in their `boot` check, in
//! the lifecycle and migration tests); on two Xen builds,
//! tests/by_hand_builds.rs. ci/test runs every `e2e_xen*` binary in its Xen
//! phase, one test at a time.

mod common;
use common::*;

use common::xen::*;

#[test]
#[ignore = "boots guests on the nested Xen lab: run through ci/test"]
fn xen_lab_e2e_faults_fail_with_their_diagnosis() {
    let fixture = lab_fixture("xen-faults.yaml");
    let ran = run_scenario(fixture.to_str().unwrap(), &[]);
    assert_eq!(ran.out.status.code(), Some(1), "{}", text(&ran.out));
    xmllint_schema(&ran.junit);
    let doc = ran.json();

    let notpv = case(&doc, "e2e-xen-faults/notpv@xen1");
    let failed = first_failed(notpv);
    assert_eq!(failed["name"], "boot.running");
    assert_eq!(failed["message"], "kernel /bin/sh has no Xen PV entry point (no such Xen ELF note)");

    let panic = case(&doc, "e2e-xen-faults/panic@xen1");
    assert_eq!(panic["outcome"], "failed", "{panic:#}");
    let failed = first_failed(panic);
    assert!(failed["message"].as_str().unwrap().contains("Kernel panic"), "{panic:#}");
    // Xen's evidence of the failure, fetched from dom0.
    let arts: Vec<String> = serde_json::from_value(panic["artifacts"].clone()).unwrap();
    for wanted in ["xl-dmesg", "libxl.log", "panic.console.log"] {
        assert!(arts.iter().any(|a| a.contains(wanted)), "no {wanted} in {arts:?}");
    }
    xen1().assert_no_leftovers(&ran.run_id());
}

#[test]
#[ignore = "boots guests on the nested Xen lab: run through ci/test"]
fn xen_lab_e2e_a_domain_libvirt_does_not_know_is_found_in_xenstore() {
    let dir = tempfile::tempdir().unwrap();
    let results_file = dir.path().join("results.json");
    let fixture = lab_fixture("xen-leak.yaml");
    let args = ["run", fixture.to_str().unwrap(), "--json", results_file.to_str().unwrap(), "--artifacts"];
    // The basis is taken while the host is prepared: leak once the case runs.
    let running = spawn_until(&[&args[..], &[dir.path().join("a").to_str().unwrap()]].concat(), |line| {
        line.trim_start().starts_with("start")
    });
    let run = running.run_id();
    let leak = format!("vs-{run}-99-leak");
    // The run copies the test image's kernel into its directory in dom0 before its guest boots.
    let kernel = (0..120)
        .find_map(|_| {
            // A checked copy: `vmlinuz.` and 16 hex digits of its sha256, not a copy under way.
            let sha16 = "[0-9a-f]".repeat(16);
            let found =
                xen1().dom0(&format!("ls /var/tmp/virtsmoke/runs/{run}/images/vmlinuz.{sha16} 2>/dev/null || true"));
            let found = found.lines().next().map(str::to_string);
            if found.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            found
        })
        .expect("the run's copy of the kernel in dom0");
    xen1().dom0(&format!(
        "printf 'name=\"{leak}\"\\ntype=\"pv\"\\nmemory=128\\nkernel=\"{kernel}\"\\n' > /tmp/{leak}.cfg && xl create -p /tmp/{leak}.cfg && rm /tmp/{leak}.cfg"
    ));
    let (status, seen) = running.finish();
    assert_eq!(status.code(), Some(1), "{seen}");
    let doc = json(&results_file);
    assert_eq!(case(&doc, "e2e-xen-leak/tiny@xen1")["outcome"], "passed");
    let leak_case = case(&doc, "virtsmoke/leak-check");
    let message = leak_case["steps"][0]["message"].as_str().unwrap();
    assert!(message.contains("xenstore domain") && message.contains(&leak), "{message}");
    // And it is gone: the leak check destroyed it.
    assert!(!xen1().dom0(XENSTORE_LIST).contains(&leak));
}

/// Lists xenstore's domains, `ID NAME` per line.
const XENSTORE_LIST: &str =
    "for d in $(xenstore-list /local/domain); do echo \"$d $(xenstore-read /local/domain/$d/name)\"; done";

/// Files of this machine (`copy: true`) reach the Xen host as checked copies
/// in the run's directory; the overlay is made there; all of it goes with the run.
#[test]
#[ignore = "boots guests on the nested Xen lab: run through ci/test"]
fn xen_lab_e2e_a_disk_image_boots_on_an_overlay_made_on_the_host() {
    let scenario = debian_files_scenario("e2e-xen-disk", &debian_disk_here(), true);
    let ran = run_scenario(scenario.path().to_str().unwrap(), &[]);
    assert_eq!(ran.out.status.code(), Some(0), "{}", text(&ran.out));
    let doc = ran.json();
    let c = case(&doc, "e2e-xen-disk/deb@xen1");
    for s in ["boot.systemd", "boot.cloud-init", "root-on-overlay"] {
        assert_eq!(step(c, s)["outcome"], "passed", "{s}: {c:#}");
    }
    let p = props(c);
    assert_eq!(p.get("guest_kind_observed").map(String::as_str), Some("xen-pv"), "{p:?}");
    // SSH trusted the host key cloud-init printed, not the first one it saw.
    assert!(p["deb.host_key"].starts_with("verified: one of the fingerprints"), "{p:?}");
    let run = ran.run_id();
    let xml = walk(&ran.artifacts).into_iter().find(|p| p.ends_with("deb.domain.xml")).unwrap();
    let xml = std::fs::read_to_string(xml).unwrap();
    let dir = format!("/var/tmp/virtsmoke/runs/{run}/images/");
    assert!(xml.contains(&format!("<kernel>{dir}vmlinuz.")), "{xml}");
    assert!(xml.contains(&format!("<source file='{dir}vs-{run}-0-deb.overlay.qcow2'/>")), "{xml}");
    assert!(xml.contains(&format!("<source file='{dir}vs-{run}-0-deb.seed.iso.")), "{xml}");
    xen1().assert_no_leftovers(&run);
}

/// The Debian disk as xen-pv booted by the disk's own loader configuration:
/// pygrub in dom0 reads its grub.cfg, no kernel from virtsmoke.
#[test]
#[ignore = "boots guests on the nested Xen lab: run through ci/test"]
fn xen_lab_e2e_a_disk_boots_through_pygrub() {
    let (xml, console) = debian_disk_kind("pygrub", "xen-pv");
    assert!(xml.contains("<bootloader>pygrub</bootloader>") && !xml.contains("<kernel>"), "{xml}");
    // The command line of the disk's grub.cfg, then the PV console virtsmoke adds.
    assert!(console.contains("console=ttyS0,115200 console=hvc0"), "{console}");
}
