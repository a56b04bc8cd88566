//! What `lab status` reports: the state of a lab and of each of its hosts.

use std::path::PathBuf;

use serde::Serialize;

/// The state of a lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabStatus {
    pub dir: PathBuf,
    pub hosts: Vec<LabHostStatus>,
}

impl LabStatus {
    pub fn healthy(&self) -> bool {
        !self.hosts.is_empty() && self.hosts.iter().all(|h| h.healthy)
    }
}

/// The state of one lab host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabHostStatus {
    /// `h1`
    pub name: String,
    /// `vs-lab-h1`
    pub netns: String,
    /// `qemu+unix:///system?socket=DIR/h1/run/libvirt-sock`
    pub uri: String,
    /// `vsbr0`
    pub bridge: String,
    /// `10.77.0.1/24`
    pub address: String,
    /// Pids of running daemons (from their pid files; `None` if not running).
    pub libvirtd_pid: Option<i32>,
    pub virtlogd_pid: Option<i32>,
    /// Only h1 runs dnsmasq.
    pub dnsmasq_pid: Option<i32>,
    /// dnsmasq's lease file (h1 only).
    pub leases: Option<PathBuf>,
    pub healthy: bool,
    /// Why the host is not healthy; empty when it is.
    pub problems: Vec<String>,
}
