//! Facts about a host that explain a run's results: recorded on every case.

use std::collections::BTreeMap;

use virt::connect::Connect;

use super::error::BackendError;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostFacts {
    pub uri: String,
    pub hostname: String,
    /// libvirt's driver name, e.g. `QEMU` or `Xen`.
    pub hypervisor: String,
    pub hypervisor_version: String,
    /// The libvirt daemon's version (for remote URIs, the remote daemon's).
    pub libvirt_version: String,
    pub cpu_model: String,
    /// Domain types the host offers for x86_64 guests (`kvm`, `qemu`, `xen`).
    pub domain_types: Vec<String>,
    /// Anything else a backend learned (package builds, Xen changeset, ...).
    pub extra: BTreeMap<String, String>,
}

impl HostFacts {
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
            extra: BTreeMap::new(),
        })
    }

    /// The facts as `name → value` pairs for report properties.
    pub fn properties(&self) -> Vec<(String, String)> {
        let mut p = vec![
            ("host".to_string(), self.hostname.clone()),
            ("host_uri".to_string(), self.uri.clone()),
            ("hypervisor".to_string(), self.hypervisor.clone()),
            ("hypervisor_version".to_string(), self.hypervisor_version.clone()),
            ("libvirt_version".to_string(), self.libvirt_version.clone()),
            ("host_cpu_model".to_string(), self.cpu_model.clone()),
        ];
        p.extend(self.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        p
    }
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
