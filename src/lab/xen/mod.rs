//! The Xen lab: Xen hosts with a Debian dom0 and libvirt's libxl driver,
//! each a QEMU (software emulation) on this machine; each host runs the Xen
//! build of a Debian suite (`build.rs`: bookworm's Xen 4.17 by default,
//! trixie's 4.20, bullseye's 4.14).
//!
//! Host N of a lab in `DIR` keeps its state in `DIR/xen/xenN/` (`dom0.qcow2`,
//! an overlay on the built `xen-dom0` image; `serial.log`; `serial.sock`;
//! `monitor.sock`; `qemu.pid`). Its dom0 answers SSH on `127.0.0.1:(2220+N)`
//! (QEMU's user network, forwarded from loopback only; dom0 itself reaches
//! nothing outside) for the lab's key `DIR/xen/id_ed25519`, so its URI is
//! `xen+ssh://root@127.0.0.1:PORT/system?keyfile=DIR/xen/id_ed25519&no_tty=1`. Its
//! host keys are recorded when it first answers (`known_hosts.rs`), in
//! `DIR/xen/known_hosts` (a scenario's jump `known_hosts`) and in
//! `~/.ssh/known_hosts` (for the `ssh` libvirt runs): every login checks them.
//! Guests join the bridge `xenbr0` in dom0 (host N's dom0 is `10.88.0.N/16`;
//! its dnsmasq hands out `10.88.N.10`-`.250`) and are reached through dom0 as
//! SSH jump host. The hosts' bridges are one layer-2 segment: host N's QEMU
//! listens on `127.0.0.1:(2240+N)` for host N+1's link NIC (socket netdevs,
//! loopback only), so a guest keeps its address when it migrates, and the
//! migration stream goes from dom0 to dom0 over that segment (each dom0's
//! `/etc/hosts` names every `xenN`).
//!
//! Nothing is created in the machine's network namespaces. The one file
//! outside `DIR` the lab touches is `~/.ssh/known_hosts`, where it records
//! dom0's host keys for the ssh libvirt runs: it removes the entries of a
//! host's port whenever it starts that host afresh or removes it.

pub mod build;
pub mod debs;
mod dom0;
mod error;
mod keys;
mod known_hosts;
mod layout;
mod qemu;

#[cfg(test)]
mod e2e;

use std::collections::BTreeSet;
use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

pub use error::XenLabError;
use layout::XenHostLayout;
use qemu::Dom0Image;

use crate::image::inputs::InputFile;
use crate::lab::LabError;

/// The image recipes the lab uses.
const DOM0_IMAGE: &str = "xen-dom0";

/// How long hosts that boot together get until libvirt answers in each
/// (one host: about 40 s on 2 cores; hosts boot in parallel).
const BOOT_TIMEOUT: Duration = Duration::from_secs(600);

/// The state of one Xen lab host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct XenHostStatus {
    /// `xen1`
    pub name: String,
    /// `xen+ssh://root@127.0.0.1:2221/system?keyfile=DIR/xen/id_ed25519&no_tty=1`
    pub uri: String,
    /// dom0's SSH server: `127.0.0.1:2221` (the `jump.address` of a scenario host).
    pub ssh: String,
    /// The private key that logs in to dom0 as root.
    pub key: PathBuf,
    /// The known_hosts file that records dom0's host keys (the `known_hosts`
    /// of a scenario host's `jump`).
    pub known_hosts: PathBuf,
    /// The guests' bridge in dom0 (`xenbr0`) and dom0's address on it
    /// (`10.88.0.N/16`; its DHCP server hands out `10.88.N.10`-`.250`).
    pub bridge: String,
    pub bridge_address: String,
    /// The host's QEMU, if it runs.
    pub qemu_pid: Option<i32>,
    /// Xen's and dom0's console.
    pub serial_log: PathBuf,
    /// The build the host runs (Debian suite, Xen, libvirt, dom0 kernel),
    /// from its dom0 image's manifest.
    pub dom0: Option<build::Dom0Build>,
    /// QEMU runs and libvirt in dom0 answers.
    pub healthy: bool,
    /// Why the host is not healthy; empty when it is.
    pub problems: Vec<String>,
}

/// What a host's QEMU was started from (`started-from`): a host running from
/// anything else is restarted. The last line names the link layout.
fn started_from_text(image: &Dom0Image, public_key: &str) -> String {
    format!("{}\n{public_key}\nlinks: chain\n", image.dir.display())
}

/// Brings hosts `xen1`..`xenCOUNT` up, or finds them up, host N running a
/// dom0 of `suites[N-1]` (see [`build::per_host`]). A host already running
/// from its image and the lab's key is left alone (its guests keep
/// running); any other is stopped and started afresh, and so is every
/// running host after it (its link goes through the restarted one). The
/// `local` packages (`debs::collect`) are installed in each host's dom0 over
/// its suite's. Builds the `xen-dom0` images the cache
/// lacks and waits until libvirt answers in every host. Fails unless every
/// host ends up healthy.
pub fn up(dir: &Path, count: u32, suites: &[String], local: &[InputFile]) -> Result<Vec<XenHostStatus>, XenLabError> {
    layout::validate(dir, count).map_err(XenLabError::Options)?;
    let suites = build::per_host(count, suites).map_err(XenLabError::Options)?;
    let mut images: Vec<Dom0Image> = Vec::new();
    for suite in &suites {
        images.push(Dom0Image::in_dir(&ensure_image(DOM0_IMAGE, &build::image_variant(suite, local))?.dir));
    }
    make_lab_dir(dir)?;
    let public_key = keys::ensure(dir)?;
    let started_from = |n: u32| started_from_text(&images[n as usize - 1], &public_key);

    let running: Vec<u32> =
        discover(dir)?.into_iter().filter(|n| qemu::running_pid(&XenHostLayout::new(dir, *n)).is_some()).collect();
    let current = |n: u32| {
        let h = XenHostLayout::new(dir, n);
        running.contains(&n) && fs::read_to_string(h.started_from()).is_ok_and(|s| s == started_from(n))
    };
    if let Some(first) = (1..=count).find(|n| !current(*n)) {
        let last = running.iter().copied().max().unwrap_or(0).max(count);
        let restart: Vec<XenHostLayout> = (first..=last).map(|n| XenHostLayout::new(dir, n)).collect();
        let kept: Vec<(u32, String)> = restart
            .iter()
            .filter(|h| h.index > count && running.contains(&h.index))
            .map(|h| (h.index, fs::read_to_string(h.started_from()).unwrap_or_default()))
            .collect();
        for h in &restart {
            qemu::stop(h)?;
            remove_host(h)?;
        }
        // In order: each host connects to the link its predecessor listens on.
        for h in &restart {
            if h.index <= count {
                start_host(h, &images[h.index as usize - 1], &public_key, &started_from(h.index))?;
            } else if let Some((_, from)) = kept.iter().find(|(n, _)| *n == h.index) {
                // A host beyond COUNT that was running comes back on its own image.
                let image = Dom0Image::in_dir(Path::new(from.lines().next().unwrap_or_default()));
                start_host(h, &image, &public_key, from)?;
            }
        }
    }
    let hosts: Vec<XenHostLayout> = (1..=count).map(|n| XenHostLayout::new(dir, n)).collect();
    // They boot in parallel: one deadline for all.
    let deadline = Instant::now() + BOOT_TIMEOUT;
    for h in &hosts {
        dom0::wait_ready(h, deadline)?;
    }

    let statuses = status(dir)?;
    let problems: Vec<String> = statuses
        .iter()
        .filter(|s| hosts.iter().any(|h| h.name() == s.name))
        .flat_map(|s| s.problems.iter().map(move |p| format!("{}: {p}", s.name)))
        .collect();
    if !problems.is_empty() {
        return Err(XenLabError::Unhealthy(problems.join("; ")));
    }
    Ok(statuses)
}

/// Stops every host of the lab in `dir` (`quit` on its monitor, then signals),
/// removes their overlays and state, the lab's key pair and `DIR/xen`.
/// Returns the hosts' status as it was just before; none means nothing was up.
pub fn down(dir: &Path) -> Result<Vec<XenHostStatus>, XenLabError> {
    layout::validate(dir, 1).map_err(XenLabError::Options)?;
    let before = status(dir)?;
    for n in discover(dir)? {
        let h = XenHostLayout::new(dir, n);
        qemu::stop(&h)?;
        remove_host(&h)?;
        known_hosts::forget(&h);
    }
    for p in [layout::key(dir), layout::public_key(dir), layout::known_hosts(dir)] {
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(LabError::io("remove the xen lab key", &p, e).into()),
        }
    }
    let root = layout::lab_root(dir);
    crate::lab::host::remove_dir_if_empty("remove the xen lab directory", &root)?;
    Ok(before)
}

/// The state of every host of the lab in `dir` (those with a directory),
/// probed in parallel: is QEMU running, does libvirt answer.
pub fn status(dir: &Path) -> Result<Vec<XenHostStatus>, XenLabError> {
    layout::validate(dir, 1).map_err(XenLabError::Options)?;
    let hosts: Vec<XenHostLayout> = discover(dir)?.into_iter().map(|n| XenHostLayout::new(dir, n)).collect();
    Ok(std::thread::scope(|s| {
        let probes: Vec<_> = hosts.iter().map(|h| s.spawn(move || host_status(h))).collect();
        probes.into_iter().map(|p| p.join().expect("status probe panicked")).collect()
    }))
}

fn host_status(h: &XenHostLayout) -> XenHostStatus {
    let qemu_pid = qemu::running_pid(h);
    let mut problems = Vec::new();
    if qemu_pid.is_none() {
        problems.push("QEMU is not running".to_string());
    } else if let Err(e) = dom0::probe(h) {
        problems.push(format!("libvirt does not answer: {e}"));
    }
    XenHostStatus {
        name: h.name(),
        uri: h.uri(),
        ssh: h.ssh_address(),
        key: h.key(),
        known_hosts: h.known_hosts(),
        bridge: layout::BRIDGE.to_string(),
        bridge_address: h.bridge_address(),
        qemu_pid,
        dom0: fs::read_to_string(h.started_from())
            .ok()
            .and_then(|s| s.lines().next().map(|d| build::of_image(Path::new(d))))
            .flatten(),
        serial_log: h.serial_log(),
        healthy: problems.is_empty(),
        problems,
    }
}

fn start_host(h: &XenHostLayout, image: &Dom0Image, public_key: &str, started_from: &str) -> Result<(), XenLabError> {
    for port in [h.port(), h.link_port()] {
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
            return Err(XenLabError::PortInUse { host: h.name(), port });
        }
    }
    fs::create_dir_all(&h.root).map_err(|e| LabError::io("create xen host directory", &h.root, e))?;
    qemu::create_overlay(h, image)?;
    let state = h.started_from();
    fs::write(&state, started_from).map_err(|e| LabError::io("record what the host runs", &state, e))?;
    known_hosts::forget(h);
    qemu::start(h, image, public_key)
}

fn remove_host(h: &XenHostLayout) -> Result<(), XenLabError> {
    match fs::remove_dir_all(&h.root) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LabError::io("remove xen host directory", &h.root, e).into()),
    }
}

/// Numbers of the hosts that have a directory `DIR/xen/xenN`.
fn discover(dir: &Path) -> Result<BTreeSet<u32>, XenLabError> {
    let root = layout::lab_root(dir);
    let entries = match fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(LabError::io("list the xen lab directory", &root, e).into()),
    };
    Ok(entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().and_then(layout::host_of_dir))
        .collect())
}

fn make_lab_dir(dir: &Path) -> Result<(), XenLabError> {
    let root = layout::lab_root(dir);
    let step = "create the xen lab directory";
    fs::create_dir_all(&root).map_err(|e| LabError::io(step, &root, e))?;
    // It holds the lab's private key.
    fs::set_permissions(&root, fs::Permissions::from_mode(0o700)).map_err(|e| LabError::io(step, &root, e))?;
    Ok(())
}

fn ensure_image(name: &str, variant: &crate::image::Variant) -> Result<crate::image::BuiltImage, XenLabError> {
    crate::image::ensure_variant(name, variant, false)
        .map_err(|source| XenLabError::Image { name: name.to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_of_an_empty_lab_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(status(dir.path()).unwrap().is_empty());
        assert!(down(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn a_host_directory_without_qemu_is_unhealthy() {
        let dir = tempfile::tempdir().unwrap();
        let h = XenHostLayout::new(dir.path(), 3);
        fs::create_dir_all(&h.root).unwrap();
        fs::create_dir_all(layout::lab_root(dir.path()).join("not-a-host")).unwrap();
        let st = status(dir.path()).unwrap();
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].name, "xen3");
        assert_eq!(st[0].ssh, "127.0.0.1:2223");
        assert_eq!(st[0].qemu_pid, None);
        assert!(!st[0].healthy);
        assert_eq!(st[0].problems, ["QEMU is not running"]);
        let gone = down(dir.path()).unwrap();
        assert_eq!(gone.len(), 1);
        assert!(!h.root.exists());
    }

    #[test]
    fn bad_options_fail_before_anything_is_built() {
        let err = up(Path::new("/var/tmp/virtsmoke-lab"), 0, &[], &[]).unwrap_err();
        assert_eq!(err.to_string(), "invalid xen lab options: hosts must be between 1 and 4, not 0");
        let err = up(Path::new("/var/tmp/virtsmoke-lab"), 2, &["sid".into()], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid xen lab options: no dom0 image for suite `sid` (known: bullseye, bookworm, trixie)"
        );
    }

    #[test]
    fn status_serializes_with_its_field_names() {
        let st = XenHostStatus {
            name: "xen1".into(),
            uri: XenHostLayout::new(Path::new("/lab"), 1).uri(),
            ssh: "127.0.0.1:2221".into(),
            key: "/lab/xen/id_ed25519".into(),
            known_hosts: "/lab/xen/known_hosts".into(),
            bridge: "xenbr0".into(),
            bridge_address: "10.88.0.1/16".into(),
            qemu_pid: Some(42),
            dom0: Some(build::Dom0Build {
                suite: "trixie".into(),
                xen_version: "4.20.4".into(),
                libvirt_version: "11.3.0".into(),
                kernel_version: "6.12.118+deb13-amd64".into(),
                local_packages: [("xen-utils-common".to_string(), "4.20.4+virtsmoke1".to_string())].into(),
            }),
            serial_log: "/lab/xen/xen1/serial.log".into(),
            healthy: true,
            problems: vec![],
        };
        let v = serde_json::to_value(&st).unwrap();
        assert_eq!(v["qemu_pid"], 42);
        assert_eq!(v["ssh"], "127.0.0.1:2221");
        assert_eq!(v["key"], "/lab/xen/id_ed25519");
        assert_eq!(v["known_hosts"], "/lab/xen/known_hosts");
        assert_eq!(v["dom0"]["suite"], "trixie");
        assert_eq!(v["dom0"]["libvirt_version"], "11.3.0");
        assert_eq!(v["dom0"]["local_packages"]["xen-utils-common"], "4.20.4+virtsmoke1");
        assert!(!v["uri"].as_str().unwrap().contains("no_verify"), "libvirt's ssh checks dom0's key");
    }
}
