//! End-to-end: libvirtd dies mid-run. The case errors with libvirt's message,
//! the runner does not hang, and once the daemon is back `cleanup` removes what
//! was left. Its own test binary, so no other test uses the lab meanwhile.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_virtsmoke");
const H2_URI: &str = "qemu+unix:///system?socket=/var/tmp/virtsmoke-lab/h2/run/libvirt-sock";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn lab_host(name: &str) -> serde_json::Value {
    let out = Command::new(BIN).args(["lab", "status", "--json"]).output().unwrap();
    let st: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    st["hosts"].as_array().unwrap().iter().find(|h| h["name"] == name).cloned().expect("lab host (ci/test brings up 2)")
}

fn virsh_list(uri: &str) -> String {
    let out = Command::new("virsh").args(["-c", uri, "list", "--state-running", "--name"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "kills a lab daemon: run through ci/test"]
fn libvirtd_killed_mid_run_errors_the_case_and_cleanup_recovers() {
    let h2 = lab_host("h2");
    let libvirtd = h2["libvirtd_pid"].as_i64().unwrap() as i32;
    let virtlogd = h2["virtlogd_pid"].as_i64().unwrap() as i32;
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("r.json");
    let mut child = Command::new(BIN)
        .args(["run", "-v", "tests/fixtures/e2e/host-fault.yaml", "--json", results.to_str().unwrap(), "--artifacts"])
        .arg(dir.path())
        .current_dir(root())
        .env("CI", "true")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    let mut run_id = String::new();
    // Kill once the guest is fully up (its boot marker seen): a domain still being
    // started is, rightly, killed by libvirtd when it comes back.
    loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "{log}");
        log.push_str(&line);
        if let Some(rest) = line.strip_prefix("run ") {
            run_id = rest.split(':').next().unwrap().to_string();
        }
        if line.contains("PASS") && line.contains("boot.console") {
            break;
        }
    }
    assert!(virsh_list(H2_URI).contains(&format!("vs-{run_id}-")), "{log}");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(libvirtd), nix::sys::signal::Signal::SIGKILL).unwrap();

    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "{log}{rest}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let case = &doc["cases"][0];
    assert_eq!(case["outcome"], "error", "{case:#}");
    let errored: Vec<&serde_json::Value> =
        case["steps"].as_array().unwrap().iter().filter(|s| s["outcome"] == "error").collect();
    let message = errored[0]["message"].as_str().unwrap();
    // libvirt's own message, from its RPC layer: the connection to the daemon is gone.
    assert!(message.contains("domain=rpc"), "{case:#}");

    // The daemon returns in the host's namespaces; the guest it left is still there.
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
    // leave nothing of the run behind (the SIGKILL test in e2e.rs proves removal).
    let out = Command::new(BIN).args(["cleanup", "--uri", H2_URI, "--run", &run_id]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(BIN).args(["cleanup", "--uri", H2_URI, "--run", &run_id, "--dry-run"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to clean up"));
    assert!(!virsh_list(H2_URI).contains(&format!("vs-{run_id}-")));
}
