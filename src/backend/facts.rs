//! Reading a host's facts through libvirt. The facts themselves are plain data
//! (`crate::events::HostFacts`), so events and reports do not depend on the backend.

use std::collections::BTreeMap;

use virt::connect::Connect;

use super::error::BackendError;
use crate::events::HostFacts;

/// Reads the facts libvirt knows about the host behind `c` (at `uri`).
pub(super) fn read(c: &Connect, uri: &str) -> Result<HostFacts, BackendError> {
    let err = |op| BackendError::libvirt(op, uri);
    let caps = c.capabilities().map_err(err("reading capabilities"))?;
    Ok(HostFacts {
        uri: uri.to_string(),
        hostname: c.hostname().map_err(err("reading the host name"))?,
        hypervisor: c.driver_type().map_err(err("reading the driver type"))?,
        hypervisor_version: version_string(c.hyp_version().map_err(err("reading the hypervisor version"))?),
        libvirt_version: version_string(c.lib_version().map_err(err("reading the libvirt version"))?),
        cpu_model: host_cpu_model(&caps).unwrap_or_default(),
        domain_types: domain_types(&caps),
        guests: crate::hypervisor::caps::guest_offers(&caps),
        extra: BTreeMap::new(),
    })
}

/// libvirt encodes versions as major * 1,000,000 + minor * 1,000 + release.
pub fn version_string(v: u32) -> String {
    format!("{}.{}.{}", v / 1_000_000, (v / 1_000) % 1_000, v % 1_000)
}

fn host_cpu_model(caps: &str) -> Option<String> {
    let host = &caps[caps.find("<host>")?..];
    let cpu = &host[host.find("<cpu>")?..];
    let start = cpu.find("<model>")? + "<model>".len();
    let end = cpu[start..].find("</model>")?;
    Some(cpu[start..start + end].to_string())
}

/// Domain types listed under x86_64 guests in the capabilities XML.
pub fn domain_types(caps: &str) -> Vec<String> {
    let mut types = Vec::new();
    for guest in caps.split("<guest>").skip(1) {
        if !guest.contains("name='x86_64'") {
            continue;
        }
        for part in guest.split("<domain type='").skip(1) {
            if let Some(end) = part.find('\'') {
                let t = part[..end].to_string();
                if !types.contains(&t) {
                    types.push(t);
                }
            }
        }
    }
    types
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_decode() {
        assert_eq!(version_string(9_000_000), "9.0.0");
        assert_eq!(version_string(7_002_022), "7.2.22");
    }

    #[test]
    fn capabilities_parse() {
        let caps = "<capabilities><host><uuid>x</uuid><cpu><arch>x86_64</arch><model>Skylake</model></cpu></host>\
            <guest><os_type>hvm</os_type><arch name='i686'><domain type='qemu'/></arch></guest>\
            <guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>";
        assert_eq!(host_cpu_model(caps).as_deref(), Some("Skylake"));
        assert_eq!(domain_types(caps), vec!["qemu".to_string(), "kvm".to_string()]);
    }
}
