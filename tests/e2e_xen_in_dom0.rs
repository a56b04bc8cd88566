//! End-to-end: virtsmoke run on the Xen host itself, as QA does on a
//! bare-metal Xen host. The virtsmoke binary and the built test image are
//! copied into the nested lab host's dom0 (`virtsmoke lab up --xen 1`), which
//! has no network to build anything with; a scenario with `uri: xen:///system`
//! boots a PV guest on `xenbr0`, reached directly from dom0, measures its
//! network from dom0 and pauses and resumes it. Its JSON and JUnit are read back.

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Stdio};

use virtsmoke::events::Outcome;

const WORK: &str = "/root/virtsmoke-e2e";

const SCENARIO: &str = r#"version: 1
name: in-dom0
hosts:
  here:
    uri: "xen:///system"
    bridge: xenbr0
    capacity: { guests: 1, memory_mib: 1024 }
images:
  tiny:
    builtin: test-image
    cmdline: "quiet nowatchdog"
guests:
  tiny: { kind: xen-pv, image: tiny, memory_mib: 256, vcpus: 1 }
checks:
  - boot
  - network: { checks: [address, ping, tcp, mtu], count: 3 }
  - pause-resume
timeouts: { console: 10m, address: 3m, ssh: 3m, command: 2m, case: 20m }
"#;

/// Copies `dir` (an image directory) into dom0's image cache with tar over ssh.
fn copy_image_dir(xen: &XenHost, dir: &Path) {
    let (address, port) = xen.ssh_address();
    let parent = dir.parent().unwrap();
    let name = dir.file_name().unwrap().to_str().unwrap();
    let mut tar = Command::new("tar")
        .args(["-C", parent.to_str().unwrap(), "-cf", "-", name])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let ssh = Command::new("ssh")
        .args(["-p", port, "-i", xen.key.to_str().unwrap(), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
        .arg(format!("-oUserKnownHostsFile={}", xen.known_hosts.display()))
        .arg(format!("root@{address}"))
        .arg("mkdir -p /var/cache/virtsmoke/images && tar -C /var/cache/virtsmoke/images -xf -")
        .stdin(tar.stdout.take().unwrap())
        .status()
        .unwrap();
    assert!(tar.wait().unwrap().success() && ssh.success(), "copying {} into dom0", dir.display());
}

#[test]
#[ignore = "runs virtsmoke inside the nested Xen host's dom0: run through ci/test"]
fn xen_lab_e2e_virtsmoke_runs_inside_dom0() {
    let xen = xen1();
    // A stripped copy: the debug binary's symbols would only slow the copy.
    let bin = tempfile::NamedTempFile::new().unwrap();
    let strip = Command::new("objcopy").args(["--strip-debug", BIN]).arg(bin.path()).status().unwrap();
    assert!(strip.success());
    xen.dom0(&format!("rm -rf {WORK} && mkdir -p {WORK}"));
    xen.scp_to(bin.path(), &format!("{WORK}/virtsmoke"));
    let image = virtsmoke(&["image", "path", "test-image"]);
    assert!(image.status.success(), "{}", text(&image));
    copy_image_dir(xen, Path::new(String::from_utf8_lossy(&image.stdout).trim()));
    let scenario = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(scenario.path(), SCENARIO).unwrap();
    xen.scp_to(scenario.path(), &format!("{WORK}/in-dom0.yaml"));

    let out = xen.dom0(&format!(
        "cd {WORK} && chmod +x virtsmoke && ./virtsmoke run in-dom0.yaml --junit junit.xml --json results.json \
         --artifacts art >run.log 2>&1; echo \"exit $?\"; cat run.log"
    ));
    assert!(out.starts_with("exit 0\n"), "{out}");
    let json = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(json.path(), xen.dom0(&format!("cat {WORK}/results.json"))).unwrap();
    let doc = results(json.path());
    let case = &doc.cases[0];
    assert_eq!(case.outcome, Outcome::Passed, "{case:#?}");
    assert_eq!(prop_of(case, "host_uri"), Some("xen:///system"));
    let outcome = |name: &str| case.steps.iter().find(|s| s.name == name).map(|s| s.outcome);
    // The host side is dom0 itself: no jump, every host-side measurement runs.
    for step in ["network.ping: host -> tiny", "network.tcp: host -> tiny", "network.tcp: tiny -> host", "pause-resume"]
    {
        assert_eq!(outcome(step), Some(Outcome::Passed), "{step}: {case:#?}");
    }
    let junit = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junit.path(), xen.dom0(&format!("cat {WORK}/junit.xml"))).unwrap();
    xmllint_schema(junit.path());
    // Nothing of the run left in dom0: no guest domain, no run directory.
    let left = xen.dom0(&format!(
        "xl list | tail -n +3; ls -d /var/tmp/virtsmoke/runs/{} 2>/dev/null; rm -rf {WORK} /var/cache/virtsmoke",
        doc.run_id
    ));
    assert_eq!(left.trim(), "", "left in dom0");
}
