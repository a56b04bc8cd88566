//! Helpers of the Xen-lab tests (`e2e_xen*` and `by_hand_xen`): runs that
//! rerun what a nested-emulation hiccup failed, and the Debian disk's boots.

use virtsmoke::events::{CaseReport, Outcome};

use super::lab::{lab, lab_fixture, xen1};
use super::{Ran, case, props, run_scenario, step, text, virtsmoke, walk, xmllint_schema};

/// Runs a scenario; cases that fail get one more run, in which they must pass.
/// Under nested emulation a guest now and then dies early in its boot (a
/// triple fault of the emulated CPU; docs/xen-lab.md, Known problems). Every
/// run is returned, first to last.
pub fn run_rerunning_failures_once(scenario: &str) -> Vec<Ran> {
    run_rerunning_failures_once_only(scenario, &[])
}

/// The same, for the cases `args` (`--only ...`) select.
pub fn run_rerunning_failures_once_only(scenario: &str, args: &[&str]) -> Vec<Ran> {
    let first = run_scenario(scenario, args);
    let failed: Vec<String> =
        first.results().cases.into_iter().filter(|c| c.outcome != Outcome::Passed).map(|c| c.name).collect();
    let mut runs = vec![first];
    if !failed.is_empty() {
        eprintln!("rerunning {failed:?} once after:\n{}", text(&runs[0].out));
        assert_eq!(runs[0].out.status.code(), Some(1), "{}", text(&runs[0].out));
        xen1().assert_no_leftovers(&runs[0].run_id());
        let only: Vec<&str> = failed.iter().flat_map(|n| ["--only", n.as_str()]).collect();
        runs.push(run_scenario(scenario, &only));
    }
    let last = runs.last().unwrap();
    assert_eq!(last.out.status.code(), Some(0), "{}", text(&last.out));
    for ran in &runs {
        xmllint_schema(&ran.junit);
    }
    runs
}

/// The last of `runs` that ran case `name`.
pub fn last_run_of<'a>(runs: &'a [Ran], name: &str) -> &'a Ran {
    runs.iter()
        .rev()
        .find(|r| r.results().cases.iter().any(|c| c.name == name))
        .unwrap_or_else(|| panic!("no run ran {name}"))
}

/// The directory of the built Debian disk image on this machine.
pub fn debian_disk_here() -> String {
    let image = virtsmoke(&["image", "path", "debian-disk"]);
    assert!(image.status.success(), "{}", text(&image));
    String::from_utf8_lossy(&image.stdout).trim().to_string()
}

/// Runs one case of tests/fixtures/e2e/xen-disk-kinds.yaml (the Debian disk
/// as guest `guest`, of kind `kind`) and checks what every disk boot must
/// show; returns the artifacts' domain XML and console of the passing run.
pub fn debian_disk_kind(guest: &str, kind: &str) -> (String, String) {
    let name = format!("e2e-xen-disk-kinds/{guest}@xen1");
    let fixture = lab_fixture("xen-disk-kinds.yaml");
    let runs = run_rerunning_failures_once_only(fixture.to_str().unwrap(), &["--only", &name]);
    let ran = last_run_of(&runs, &name);
    let doc = ran.json();
    let c = case(&doc, &name);
    for s in ["boot.ssh", "boot.systemd", "boot.cloud-init", "root-on-overlay"] {
        assert_eq!(step(c, s)["outcome"], "passed", "{name} {s}: {c:#}");
    }
    let p = props(c);
    assert_eq!(p.get("guest_kind_observed").map(String::as_str), Some(kind), "{p:?}");
    assert!(p[&format!("{guest}.host_key")].starts_with("verified: one of the fingerprints"), "{p:?}");
    let file = |suffix: &str| {
        let f = walk(&ran.artifacts).into_iter().find(|f| f.ends_with(format!("{guest}.{suffix}"))).expect(suffix);
        String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned()
    };
    let found = (file("domain.xml"), file("console.log"));
    for ran in &runs {
        xen1().assert_no_leftovers(&ran.run_id());
    }
    found
}

/// A step's outcome and message.
pub fn outcome_of<'a>(case: &'a CaseReport, step: &str) -> (Outcome, &'a str) {
    let s = case.steps.iter().find(|s| s.name == step).unwrap_or_else(|| panic!("no step {step}: {case:#?}"));
    (s.outcome, s.message.as_deref().unwrap_or_default())
}

/// Runs `cases` of scenarios/local-xen-migration.yaml; a case that failed or errored (a nested
/// emulation hiccup, docs/xen-lab.md) gets one more run. Known failures are
/// results, not hiccups. Returns each case's report from its last run.
pub fn run_migration_cases(cases: &[&str]) -> Vec<(CaseReport, String)> {
    let mut out = Vec::new();
    let mut todo: Vec<&str> = cases.to_vec();
    for attempt in 0..2 {
        let only: Vec<&str> = todo.iter().flat_map(|c| ["--only", *c]).collect();
        let ran = run_scenario("scenarios/local-xen-migration.yaml", &only);
        xmllint_schema(&ran.junit);
        let run = ran.run_id();
        for h in ["xen1", "xen2"] {
            lab().xen(h).assert_no_leftovers(&run);
        }
        let doc = ran.results();
        let bad = |c: &CaseReport| matches!(c.outcome, Outcome::Failed | Outcome::Error);
        let mut again = Vec::new();
        for c in doc.cases {
            if attempt == 0 && bad(&c) {
                eprintln!("rerunning {} once after:\n{}", c.name, text(&ran.out));
                again.push(cases.iter().copied().find(|n| *n == c.name).unwrap());
            } else {
                assert!(!bad(&c), "{}", text(&ran.out));
                out.push((c, run.clone()));
            }
        }
        if again.is_empty() {
            assert_eq!(ran.out.status.code(), Some(0), "{}", text(&ran.out));
            break;
        }
        todo = again;
    }
    out
}

/// Checks what every passing test-image boot of `kind` on Xen host `host`
/// shows (case `SCENARIO/tiny-KIND@HOST` of `ran`): the kind proved by the
/// guest, host facts from dom0, the address on dom0's bridge, the console
/// marker, the boot files in dom0, a domain XML libvirt takes as a
/// definition too. Returns the case's properties.
pub fn assert_proves_kind(
    ran: &Ran,
    host: &super::lab::XenHost,
    scenario: &str,
    kind: &str,
) -> std::collections::BTreeMap<String, String> {
    let name = format!("{scenario}/tiny-{kind}@{}", host.name);
    let xml = std::fs::read_to_string(&ran.junit).unwrap();
    let doc = ran.json();
    assert!(xml.contains(&format!("<testsuite name=\"{name}\"")), "no testsuite {name}");
    assert!(xml.contains(&format!("<property name=\"guest_kind_observed\" value=\"{kind}\"/>")), "{xml}");
    let c = case(&doc, &name);
    assert_eq!(c["outcome"], "passed", "{c:#}");
    assert_eq!(step(c, "boot.kind")["outcome"], "passed");
    let p = props(c);
    assert_eq!(p.get("guest_kind_observed").map(String::as_str), Some(kind), "{p:?}");
    // Host facts from dom0: Xen's own, and the package builds.
    assert!(p["xen_commandline"].contains("dom0_mem="), "{p:?}");
    assert!(p["dom0_kernel"].ends_with("-amd64"), "{p:?}");
    assert!(p.keys().any(|k| k.starts_with("pkg.xen-hypervisor-")), "{p:?}");
    assert!(p.contains_key("pkg.libvirt-daemon-driver-xen"), "{p:?}");
    assert!(p.contains_key("pkg.qemu-system-xen"), "{p:?}");
    // Reached through dom0 on its private bridge.
    assert!(p["tiny.address"].starts_with("10.88."), "{p:?}");
    assert!(p["tiny.kernel"].ends_with("-amd64"), "{p:?}");
    // The console went to the artifacts and holds the marker.
    let dir = format!("{scenario}_tiny-{kind}_{}", host.name);
    let files: Vec<_> = walk(&ran.artifacts).into_iter().filter(|f| f.to_string_lossy().contains(&dir)).collect();
    let console = files.iter().find(|f| f.ends_with("tiny.console.log")).unwrap_or_else(|| panic!("{files:?}"));
    assert!(std::fs::read_to_string(console).unwrap().contains("VIRTSMOKE-MARKER"), "{}", console.display());
    // The boot files were the run's checked copies in dom0, not paths of this machine.
    let path = files.iter().find(|f| f.ends_with("tiny.domain.xml")).unwrap_or_else(|| panic!("{files:?}"));
    let domain = std::fs::read_to_string(path).unwrap();
    assert!(domain.contains(&format!("<kernel>/var/tmp/virtsmoke/runs/{}/images/", ran.run_id())), "{domain}");
    // libvirt's xen driver takes the XML as a persistent definition too.
    let dom = domain.split("<name>").nth(1).and_then(|r| r.split("</name>").next()).unwrap().to_string();
    host.virsh(&["define", path.to_str().unwrap()]);
    host.virsh(&["undefine", &dom]);
    p
}

/// A scenario that boots the Debian disk image as xen-pv from files named by
/// their paths in `dir` (its `disk.qcow2`, `vmlinuz`, `initrd.img`), with
/// `copy` as given.
pub fn debian_files_scenario(name: &str, dir: &str, copy: bool) -> tempfile::NamedTempFile {
    let cmdline = std::fs::read_to_string(std::path::Path::new(&debian_disk_here()).join("cmdline")).unwrap();
    let scenario = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        scenario.path(),
        format!(
            "version: 1\nname: {name}\nhosts:\n  xen1:\n    uri: \"{}\"\n    \
             jump: {}\n    \
             capacity: {{ guests: 1, memory_mib: 1536 }}\nimages:\n  cloud:\n    disk: {dir}/disk.qcow2\n    \
             kernel: {dir}/vmlinuz\n    initrd: {dir}/initrd.img\n    cmdline: \"{}\"\n    copy: {copy}\n\
             guests:\n  deb:\n    kind: xen-pv\n    image: cloud\n    memory_mib: 512\n\
             checks:\n  - boot\n  - command: {{ name: root-on-overlay, run: \"findmnt -n -o SOURCE /\", expect_output: \"xvda\" }}\n\
             timeouts: {{ running: 2m, console: 8m, address: 5m, ssh: 5m, command: 2m, case: 20m }}\n",
            xen1().uri,
            xen1().jump_yaml(),
            cmdline.trim()
        ),
    )
    .unwrap();
    scenario
}
