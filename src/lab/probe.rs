//! Looking at one lab host without changing it: namespace, bridge, links,
//! daemons, and whether libvirtd answers.

use super::daemon;
use super::layout::{BRIDGE, HostLayout};
use super::net::{self, Link};
use super::process::{self, NsId};
use super::status::LabHostStatus;

/// What was found for one host.
#[derive(Debug)]
pub struct HostProbe {
    pub libvirtd: Option<i32>,
    pub virtlogd: Option<i32>,
    pub dnsmasq: Option<i32>,
    /// Problems that need the host recreated: namespace, bridge, libvirtd,
    /// virtlogd, libvirtd's answer.
    pub core_problems: Vec<String>,
    /// Problems `up` repairs in place: the links to h1 and (on h1) dnsmasq.
    pub other_problems: Vec<String>,
}

impl HostProbe {
    pub fn core_ok(&self) -> bool {
        self.core_problems.is_empty()
    }
}

/// Probes host `host` of a lab of `lab_hosts` hosts; `netns_names` is the
/// output of `ip netns list`.
pub fn probe(host: &HostLayout, lab_hosts: u32, netns_names: &[String]) -> HostProbe {
    let ns_name = host.netns();
    let mut core = Vec::new();
    let mut other = Vec::new();

    let netns = if netns_names.contains(&ns_name) { NsId::of(&net::netns_path(&ns_name)) } else { None };
    let links: Vec<Link> = match netns {
        None => {
            core.push(format!("network namespace {ns_name} is missing"));
            Vec::new()
        }
        Some(_) => net::links(&ns_name).unwrap_or_else(|e| {
            core.push(e.to_string());
            Vec::new()
        }),
    };
    let link = |name: &str| links.iter().find(|l| l.name == name);
    if let Err(e) = super::owner::check(host) {
        core.push(e.to_string());
    }

    if netns.is_some() {
        match link(BRIDGE) {
            None => core.push(format!("bridge {BRIDGE} is missing")),
            Some(b) if !b.is_up() => core.push(format!("bridge {BRIDGE} is down")),
            Some(b) if !b.has_address(&host.address()) => {
                core.push(format!("bridge {BRIDGE} lacks address {}", host.address()));
            }
            Some(b) if b.address.as_deref() != Some(host.bridge_mac().as_str()) => core.push(format!(
                "bridge {BRIDGE} has MAC {}, not the lab's fixed {}",
                b.address.as_deref().unwrap_or("none"),
                host.bridge_mac()
            )),
            Some(_) => {}
        }
    }

    // Without a namespace, a daemon still running from the pid file is
    // reported (it has lost its namespace), so it can be stopped.
    let libvirtd = process::daemon_pid(&host.libvirtd_pid_file(), netns, "libvirtd");
    let virtlogd = process::daemon_pid(&host.virtlogd_pid_file(), netns, "virtlogd");
    if libvirtd.is_none() {
        core.push("libvirtd is not running".into());
    }
    if virtlogd.is_none() {
        core.push("virtlogd is not running".into());
    }
    if libvirtd.is_some()
        && let Err(e) = daemon::answers(host)
    {
        core.push(format!("libvirtd does not answer: {e}"));
    }

    let mut dnsmasq = None;
    if host.index == 1 {
        dnsmasq = process::daemon_pid(&host.dnsmasq_pid_file(), netns, "dnsmasq");
        if dnsmasq.is_none() {
            other.push("dnsmasq is not running".into());
        }
        if netns.is_some() {
            for peer in 2..=lab_hosts {
                let name = host.veth_to(peer);
                if !link(&name).is_some_and(|l| l.is_port_of(BRIDGE)) {
                    other.push(format!("link {name} to h{peer} is missing or not an up port of {BRIDGE}"));
                }
            }
        }
    } else if netns.is_some() {
        let name = host.veth_to(1);
        if !link(&name).is_some_and(|l| l.is_port_of(BRIDGE)) {
            other.push(format!("link {name} to h1 is missing or not an up port of {BRIDGE}"));
        }
    }

    HostProbe { libvirtd, virtlogd, dnsmasq, core_problems: core, other_problems: other }
}

impl HostProbe {
    pub fn into_status(self, host: &HostLayout) -> LabHostStatus {
        let mut problems = self.core_problems;
        problems.extend(self.other_problems);
        LabHostStatus {
            name: host.name(),
            netns: host.netns(),
            uri: host.uri(),
            bridge: BRIDGE.to_string(),
            address: host.address(),
            libvirtd_pid: self.libvirtd,
            virtlogd_pid: self.virtlogd,
            dnsmasq_pid: self.dnsmasq,
            leases: (host.index == 1).then(|| host.dnsmasq_leases()),
            healthy: problems.is_empty(),
            problems,
        }
    }
}
