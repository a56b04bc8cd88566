//! The local lab: libvirtd hosts in their own namespaces.
//!
//! Host N of a lab in `DIR` is the network namespace `vs-lab-hN` with a bridge
//! `vsbr0` at `10.77.0.N/24`, and a virtlogd and libvirtd in a private mount
//! and UTS namespace (host name `vs-lab-hN`) whose state lives in
//! `DIR/hN/{etc,run,lib,log,cache}`, bind-mounted over libvirt's usual
//! directories. Clients reach it at
//! `qemu+unix:///system?socket=DIR/hN/run/libvirt-sock`. Every host's bridge is
//! joined to h1's by a veth pair, so all hosts share one L2 segment, on which
//! dnsmasq in h1 serves DHCP (`10.77.0.100`–`199`) and DNS. `DIR/shared` is
//! storage every host sees under the same path.
//!
//! Nothing is created in the machine's root network namespace, and the
//! mounts exist only in the daemons' mount namespace. Namespace names are
//! fixed, so there is one lab per machine: `up` and `down` refuse to touch a
//! namespace whose libvirtd belongs to a lab in another directory. If `up`
//! fails part-way, `down` (or another `up`) cleans up.

mod command;
mod config;
mod daemon;
mod display;
mod error;
mod host;
mod layout;
mod net;
mod owner;
mod probe;
mod process;
mod status;
mod wait;
pub mod xen;

#[cfg(test)]
mod e2e;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub use error::LabError;
use layout::{HostLayout, MAX_HOSTS};
pub use status::{LabHostStatus, LabStatus};

/// Where and how big the lab is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabOptions {
    /// Root of the lab's state. Default `/var/tmp/virtsmoke-lab`.
    pub dir: PathBuf,
    /// Number of hosts, 1 to 8. Default 1.
    pub hosts: u32,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions { dir: PathBuf::from("/var/tmp/virtsmoke-lab"), hosts: 1 }
    }
}

impl LabOptions {
    fn validate(&self) -> Result<(), LabError> {
        if !(1..=MAX_HOSTS).contains(&self.hosts) {
            return Err(LabError::Options(format!("hosts must be between 1 and {MAX_HOSTS}, not {}", self.hosts)));
        }
        let dir = self.dir.to_str().unwrap_or("");
        // The directory ends up in URIs and unix socket paths: keep it plain.
        let plain = dir.starts_with('/')
            && dir.len() > 1
            && dir.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
            && !dir.split('/').any(|part| part == "." || part == "..");
        if !plain {
            return Err(LabError::Options(format!(
                "dir must be an absolute path of letters, digits and '/._-' without '.' or '..' parts, not {:?}",
                self.dir
            )));
        }
        let socket = HostLayout::new(&self.dir, MAX_HOSTS).socket();
        if socket.as_os_str().len() > 107 {
            return Err(LabError::Options(format!(
                "dir is too long: the socket path {} exceeds 107 bytes",
                socket.display()
            )));
        }
        Ok(())
    }
}

/// Brings the lab up, or finds it up. Healthy hosts are left alone (same
/// daemons, guests keep running); a host that is broken is removed and
/// recreated; missing links and dnsmasq are restored. Hosts beyond
/// `opts.hosts` (left by a bigger lab) are kept if healthy and removed if
/// broken. Fails unless every host ends up healthy.
pub fn up(opts: &LabOptions) -> Result<LabStatus, LabError> {
    opts.validate()?;
    let found = discover(&opts.dir)?;
    for n in found.iter().copied().chain(1..=opts.hosts) {
        owner::check(&HostLayout::new(&opts.dir, n))?;
    }
    make_dir(&opts.dir)?;
    make_dir(&layout::shared_dir(&opts.dir))?;

    let names = net::list_netns()?;
    // Hosts beyond the requested number stay if they work (a bigger lab is
    // still up: never kill its guests); broken ones go.
    let (kept_extra, broken_extra): (Vec<u32>, Vec<u32>) = found
        .into_iter()
        .filter(|&n| n > opts.hosts)
        .partition(|&n| probe::probe(&HostLayout::new(&opts.dir, n), n, &names).core_ok());
    if !broken_extra.is_empty() {
        let broken: Vec<HostLayout> = broken_extra.iter().map(|&n| HostLayout::new(&opts.dir, n)).collect();
        host::remove(&broken)?;
    }

    let mut started = Vec::new();
    for n in 1..=opts.hosts {
        let h = HostLayout::new(&opts.dir, n);
        if probe::probe(&h, opts.hosts, &names).core_ok() {
            continue;
        }
        host::remove(std::slice::from_ref(&h))?;
        host::create(&h)?;
        started.push(h);
    }
    // The daemons of all new hosts initialise in parallel.
    for h in &started {
        daemon::wait_ready(h)?;
    }

    let h1 = HostLayout::new(&opts.dir, 1);
    for n in (2..=opts.hosts).chain(kept_extra) {
        host::ensure_link(&h1, &HostLayout::new(&opts.dir, n))?;
    }
    host::ensure_dnsmasq(&h1)?;

    let st = status(opts)?;
    if !st.healthy() {
        let problems: Vec<String> =
            st.hosts.iter().flat_map(|h| h.problems.iter().map(move |p| format!("{}: {p}", h.name))).collect();
        return Err(LabError::Unhealthy(problems.join("; ")));
    }
    Ok(st)
}

/// Removes every trace of the lab: stops every process in its namespaces
/// (guests, libvirtd, virtlogd, dnsmasq), deletes the namespaces, removes the
/// host directories and `DIR/shared`, and `DIR` if that leaves it empty.
/// Hosts are found by their namespaces and directories, whatever
/// `opts.hosts` says. Returns the status of the hosts it removed, as they
/// were just before; no hosts means nothing was up.
pub fn down(opts: &LabOptions) -> Result<LabStatus, LabError> {
    opts.validate()?;
    let found = discover(&opts.dir)?;
    let names = net::list_netns()?;
    let max = found.iter().copied().max().unwrap_or(0);
    let hosts: Vec<HostLayout> = found.iter().map(|&n| HostLayout::new(&opts.dir, n)).collect();
    for h in &hosts {
        owner::check(h)?;
    }
    let before: Vec<LabHostStatus> = hosts.iter().map(|h| probe::probe(h, max, &names).into_status(h)).collect();

    if !hosts.is_empty() {
        host::remove(&hosts)?;
    }
    host::remove_tree(&layout::shared_dir(&opts.dir))?;
    host::remove_dir_if_empty("remove lab directory", &opts.dir)?;
    Ok(LabStatus { dir: opts.dir.clone(), hosts: before })
}

/// The state of hosts 1 to `opts.hosts`, and of any other lab host found.
pub fn status(opts: &LabOptions) -> Result<LabStatus, LabError> {
    opts.validate()?;
    let mut indices: BTreeSet<u32> = (1..=opts.hosts).collect();
    indices.extend(discover(&opts.dir)?);
    status_of(opts, indices)
}

/// The state of the lab hosts that exist (none when no KVM lab is up).
pub fn status_found(dir: &Path) -> Result<LabStatus, LabError> {
    let opts = LabOptions { dir: dir.to_path_buf(), hosts: 1 };
    opts.validate()?;
    status_of(&opts, discover(dir)?)
}

fn status_of(opts: &LabOptions, indices: BTreeSet<u32>) -> Result<LabStatus, LabError> {
    let names = net::list_netns()?;
    let lab_hosts = opts.hosts.max(indices.iter().copied().max().unwrap_or(0));
    let hosts = indices
        .into_iter()
        .map(|n| {
            let h = HostLayout::new(&opts.dir, n);
            probe::probe(&h, lab_hosts, &names).into_status(&h)
        })
        .collect();
    Ok(LabStatus { dir: opts.dir.clone(), hosts })
}

/// Numbers of the lab hosts that exist: a `vs-lab-hN` namespace or a
/// `DIR/hN` directory.
fn discover(dir: &Path) -> Result<BTreeSet<u32>, LabError> {
    let mut found: BTreeSet<u32> = net::list_netns()?.iter().filter_map(|n| layout::host_of_netns(n)).collect();
    match fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                if let (true, Some(n)) = (is_dir, entry.file_name().to_str().and_then(layout::host_of_dir)) {
                    found.insert(n);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(LabError::io("list lab directory", dir, e)),
    }
    Ok(found)
}

fn make_dir(dir: &Path) -> Result<(), LabError> {
    let step = "create lab directory";
    fs::create_dir_all(dir).map_err(|e| LabError::io(step, dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).map_err(|e| LabError::io(step, dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(dir: &str, hosts: u32) -> LabOptions {
        LabOptions { dir: dir.into(), hosts }
    }

    #[test]
    fn defaults() {
        let o = LabOptions::default();
        assert_eq!(o, opts("/var/tmp/virtsmoke-lab", 1));
        o.validate().unwrap();
    }

    #[test]
    fn bad_options_and_their_messages() {
        let long = format!("/{}", "a".repeat(90));
        let cases = [
            (opts("/lab", 0), "invalid lab options: hosts must be between 1 and 8, not 0"),
            (opts("/lab", 9), "invalid lab options: hosts must be between 1 and 8, not 9"),
            (
                opts("lab", 1),
                "invalid lab options: dir must be an absolute path of letters, digits and '/._-' without '.' or '..' parts, not \"lab\"",
            ),
            (
                opts("/var/tmp/my lab", 1),
                "invalid lab options: dir must be an absolute path of letters, digits and '/._-' without '.' or '..' parts, not \"/var/tmp/my lab\"",
            ),
            (
                opts("/var/tmp/../etc", 1),
                "invalid lab options: dir must be an absolute path of letters, digits and '/._-' without '.' or '..' parts, not \"/var/tmp/../etc\"",
            ),
            (
                opts("/", 1),
                "invalid lab options: dir must be an absolute path of letters, digits and '/._-' without '.' or '..' parts, not \"/\"",
            ),
            (
                opts(&long, 1),
                &format!(
                    "invalid lab options: dir is too long: the socket path {long}/h8/run/libvirt-sock exceeds 107 bytes"
                ),
            ),
        ];
        for (o, msg) in cases {
            assert_eq!(o.validate().unwrap_err().to_string(), msg);
        }
    }

    #[test]
    fn status_serializes_with_spec_field_names() {
        let st = LabStatus {
            dir: "/lab".into(),
            hosts: vec![LabHostStatus {
                name: "h1".into(),
                netns: "vs-lab-h1".into(),
                uri: "qemu+unix:///system?socket=/lab/h1/run/libvirt-sock".into(),
                bridge: "vsbr0".into(),
                address: "10.77.0.1/24".into(),
                libvirtd_pid: Some(10),
                virtlogd_pid: Some(9),
                dnsmasq_pid: None,
                leases: Some("/lab/h1/dnsmasq.leases".into()),
                healthy: false,
                problems: vec!["dnsmasq is not running".into()],
            }],
        };
        let v = serde_json::to_value(&st).unwrap();
        assert_eq!(v["hosts"][0]["libvirtd_pid"], 10);
        assert_eq!(v["hosts"][0]["dnsmasq_pid"], serde_json::Value::Null);
        assert_eq!(v["hosts"][0]["leases"], "/lab/h1/dnsmasq.leases");
        assert!(!st.healthy());
    }
}
