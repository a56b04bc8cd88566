//! Facts libvirt does not give: the host's kernel, distribution, package builds,
//! and on Xen hosts `xl info` (version, changeset, command line).

use std::net::ToSocketAddrs;

use crate::backend::HostFacts;
use crate::backend::host_shell::{self, HostShell};
use crate::guest::ssh::SshTarget;
use crate::plan::{HostSpec, Hypervisor};

pub fn shell_for(spec: &HostSpec) -> HostShell {
    let ssh = spec.jump.as_ref().and_then(|j| {
        Some(SshTarget {
            addr: j.address.to_socket_addrs().ok()?.next()?,
            netns: spec.netns.clone(),
            user: j.user.clone(),
            private_key: j.key.clone(),
            jump: None,
            host_key_sha256: None,
        })
    });
    HostShell::for_host(&spec.uri, ssh)
}

/// Adds what the host's shell can tell to `facts.extra`; silent where it cannot.
pub async fn enrich(spec: &HostSpec, facts: &mut HostFacts) {
    let shell = shell_for(spec);
    let kernel_key = if spec.hypervisor == Hypervisor::Xen { "dom0_kernel" } else { "host_kernel" };
    if let Some(k) = shell.run("uname -r").await {
        facts.extra.insert(kernel_key.into(), k.trim().to_string());
    }
    if let Some(d) = shell.run(". /etc/os-release && echo \"$PRETTY_NAME\"").await {
        facts.extra.insert("distro".into(), d.trim().to_string());
    }
    if let Some(p) = shell.run(host_shell::PACKAGES).await {
        facts.extra.extend(host_shell::parse_packages(&p));
    }
    if spec.hypervisor == Hypervisor::Xen
        && let Some(x) = shell.run("xl info").await
    {
        facts.extra.extend(host_shell::parse_xl_info(&x));
    }
}
