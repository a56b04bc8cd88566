//! End-to-end test of the Xen lab on this machine: needs root, QEMU, virsh,
//! ssh and a Debian mirror (the first run builds the dom0 image, ~2 min; a
//! host boots in ~40 s under emulation). Uses the fixed ports 2221.., so it
//! fails if a Xen lab is up elsewhere: ci/test runs it on its own, before it
//! brings up the Xen lab the other tests share:
//! `cargo test lab::xen::e2e -- --ignored`.

use std::process::Command;
use std::time::Instant;

use super::*;

const DIR: &str = "/var/tmp/virtsmoke-xen-e2e";

/// Takes the lab down even when the test panics.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Err(e) = down(&self.0) {
            eprintln!("cleanup: xen lab down failed: {e}");
        }
        // `down` leaves DIR (the KVM lab may share it); this one is the test's.
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn virsh(uri: &str, args: &[&str]) -> String {
    let out = Command::new("virsh").args(["-q", "-c", uri]).args(args).output().unwrap();
    assert!(out.status.success(), "virsh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "boots a nested Xen host: run through ci/test"]
fn xen_lab_round_trip() {
    let dir = PathBuf::from(DIR);
    let _cleanup = Cleanup(dir.clone());

    let t = Instant::now();
    let st = up(&dir, 1, &[], &[]).unwrap();
    eprintln!("up: {:?}", t.elapsed());
    assert_eq!(st.len(), 1);
    let h = &st[0];
    assert!(h.healthy, "{h:?}");
    assert_eq!(h.ssh, "127.0.0.1:2221");
    let pid = h.qemu_pid.unwrap();

    assert!(virsh(&h.uri, &["list", "--all"]).contains("Domain-0"));
    let caps = virsh(&h.uri, &["capabilities"]);
    assert!(caps.contains("<domain type='xen'/>") && caps.contains("xenpvh"), "{caps}");

    let layout = XenHostLayout::new(&dir, 1);
    // The bridge has its address and per-host MAC.
    let br = dom0::ssh(&layout, "bridge", "ip -br addr show xenbr0; ip -br link show xenbr0").unwrap();
    assert!(br.contains("10.88.0.1/16") && br.contains("02:78:65:6e:00:01"), "{br}");

    // A second up keeps the running host.
    let t = Instant::now();
    let again = up(&dir, 1, &[], &[]).unwrap();
    eprintln!("second up: {:?}", t.elapsed());
    assert_eq!(again[0].qemu_pid, Some(pid));

    let gone = down(&dir).unwrap();
    assert_eq!(gone.len(), 1);
    assert!(!crate::lab::process::is_alive(pid));
    assert!(status(&dir).unwrap().is_empty());
    assert!(!dir.join("xen").exists());
}
