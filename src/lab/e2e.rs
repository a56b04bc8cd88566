//! End-to-end test of the lab on this machine: needs root, libvirt, QEMU,
//! dnsmasq and iproute2. Uses the fixed namespace names, so it removes any
//! lab that is up. Run with `cargo test lab -- --ignored --test-threads 1`.

use std::process::Command;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::*;

/// Takes the lab down even when the test panics.
struct Cleanup(LabOptions);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Err(e) = down(&self.0) {
            eprintln!("cleanup: lab down failed: {e}");
        }
    }
}

fn sh(script: &str) -> (bool, String) {
    let out = Command::new("sh").args(["-c", script]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text.trim().to_string())
}

fn virsh_hostname(uri: &str) -> String {
    let out = Command::new("virsh").args(["-q", "-c", uri, "hostname"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Per host: name, libvirtd, virtlogd and dnsmasq pids.
type DaemonPids = Vec<(String, Option<i32>, Option<i32>, Option<i32>)>;

fn daemon_pids(st: &LabStatus) -> DaemonPids {
    st.hosts.iter().map(|h| (h.name.clone(), h.libvirtd_pid, h.virtlogd_pid, h.dnsmasq_pid)).collect()
}

fn lab_netns() -> Vec<String> {
    net::list_netns().unwrap().into_iter().filter(|n| n.starts_with(layout::NETNS_PREFIX)).collect()
}

fn ping_h2_from_h1() -> (bool, String) {
    sh("ip netns exec vs-lab-h1 sh -c 'if command -v ping >/dev/null; then exec ping -c1 -W2 10.77.0.2; \
        else exec busybox ping -c1 -W2 10.77.0.2; fi'")
}

#[test]
#[ignore = "needs root and libvirt; run with --ignored"]
fn lab_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = LabOptions { dir: tmp.path().join("lab"), hosts: 2 };
    let _cleanup = Cleanup(opts.clone());

    let t = std::time::Instant::now();
    let st = up(&opts).unwrap_or_else(|e| panic!("up: {e}"));
    eprintln!("up (2 hosts) took {:?}\n{st}", t.elapsed());
    assert_eq!(st.hosts.len(), 2);
    assert!(st.healthy(), "{st}");
    assert!(st.hosts[0].dnsmasq_pid.is_some() && st.hosts[1].dnsmasq_pid.is_none());

    // Up again is harmless: the same daemons.
    let t = std::time::Instant::now();
    let again = up(&opts).unwrap_or_else(|e| panic!("second up: {e}"));
    eprintln!("second up took {:?}", t.elapsed());
    assert_eq!(daemon_pids(&again), daemon_pids(&st));
    assert_eq!(status(&opts).unwrap(), again);

    // Up with fewer hosts keeps the bigger lab as it is.
    let smaller = up(&LabOptions { hosts: 1, ..opts.clone() }).unwrap_or_else(|e| panic!("up with 1 host: {e}"));
    assert_eq!(daemon_pids(&smaller), daemon_pids(&st));

    // Two distinct hosts.
    let (n1, n2) = (virsh_hostname(&st.hosts[0].uri), virsh_hostname(&st.hosts[1].uri));
    assert_eq!((n1.as_str(), n2.as_str()), ("vs-lab-h1", "vs-lab-h2"));

    // One L2 segment.
    let (ok, out) = ping_h2_from_h1();
    assert!(ok, "ping h1 -> 10.77.0.2: {out}");

    // Nothing in the root namespace.
    let (_, root_links) = sh("ip -o link show");
    for name in ["vsbr0", "vs-h1-2", "vs-h2-1"] {
        assert!(!root_links.contains(name), "{name} in root namespace: {root_links}");
    }

    // Repairs in place: a lost link and a dead dnsmasq come back, daemons stay.
    let h1 = &st.hosts[0];
    kill(Pid::from_raw(h1.dnsmasq_pid.unwrap()), Signal::SIGKILL).unwrap();
    let (ok, out) = sh("ip -n vs-lab-h1 link del vs-h1-2");
    assert!(ok, "{out}");
    let broken = status(&opts).unwrap();
    assert!(!broken.healthy());
    eprintln!("broken on purpose:\n{broken}");
    let repaired = up(&opts).unwrap_or_else(|e| panic!("repairing up: {e}"));
    assert!(repaired.healthy());
    assert_ne!(repaired.hosts[0].dnsmasq_pid, h1.dnsmasq_pid);
    assert_eq!(repaired.hosts[0].libvirtd_pid, h1.libvirtd_pid);
    assert_eq!(repaired.hosts[1].libvirtd_pid, st.hosts[1].libvirtd_pid);
    assert!(ping_h2_from_h1().0);

    // A host whose libvirtd died is recreated; the other is left alone.
    kill(Pid::from_raw(st.hosts[1].libvirtd_pid.unwrap()), Signal::SIGKILL).unwrap();
    let recreated = up(&opts).unwrap_or_else(|e| panic!("recreating up: {e}"));
    assert!(recreated.healthy());
    assert_ne!(recreated.hosts[1].libvirtd_pid, st.hosts[1].libvirtd_pid);
    assert_eq!(recreated.hosts[0].libvirtd_pid, h1.libvirtd_pid);
    assert!(ping_h2_from_h1().0);

    let pids: Vec<i32> = [&st, &repaired, &recreated]
        .iter()
        .flat_map(|s| s.hosts.iter())
        .flat_map(|h| [h.libvirtd_pid, h.virtlogd_pid, h.dnsmasq_pid])
        .flatten()
        .collect();

    // Down with the default host count still removes h2.
    let t = std::time::Instant::now();
    let removed = down(&LabOptions { hosts: 1, ..opts.clone() }).unwrap_or_else(|e| panic!("down: {e}"));
    eprintln!("down took {:?}", t.elapsed());
    assert_eq!(removed.hosts.len(), 2, "{removed}");
    assert!(lab_netns().is_empty(), "{:?}", lab_netns());
    for pid in pids {
        assert!(!process::is_alive(pid), "pid {pid} survived");
    }
    assert!(!opts.dir.exists());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!mounts.contains(opts.dir.to_str().unwrap()), "{mounts}");

    // Down again: nothing to do.
    let nothing = down(&opts).unwrap();
    assert!(nothing.hosts.is_empty());
    assert_eq!(nothing.to_string(), format!("lab {}: no hosts\n", opts.dir.display()));
}
