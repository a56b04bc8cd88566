//! How virtsmoke reaches a host's own shell (for facts libvirt does not give,
//! staging files, evidence, cleanup): locally, or over SSH through its `jump`;
//! and the facts it tells: the host's kernel, distribution, package builds,
//! and on Xen hosts `xl info` (version, changeset, command line). Used by the
//! runner and the CLI alike.

use std::net::ToSocketAddrs;

use crate::backend::HostFacts;
use crate::backend::host_shell::{self, HostShell};
use crate::guest::ssh::SshTarget;
use crate::plan::{HostSpec, Hypervisor};

/// Whether the host is this machine: its libvirt is local and nothing says
/// to reach it over SSH. Files here are then used in place.
pub fn is_this_machine(spec: &HostSpec) -> bool {
    spec.jump.is_none() && crate::hypervisor::Uri::parse(&spec.uri).is_ok_and(|u| u.is_local())
}

/// The shell of the host `spec` names.
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
    for (command, parse) in crate::hypervisor::for_host(spec.hypervisor).facts_commands() {
        if let Some(out) = shell.run(command).await {
            facts.extra.extend(parse(&out));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{AccelPreference, Capacity, JumpSpec};

    fn spec(uri: &str, jump: bool) -> HostSpec {
        HostSpec {
            name: "h".into(),
            uri: uri.into(),
            hypervisor: Hypervisor::Xen,
            accel: AccelPreference::Auto,
            netns: Some("vs-lab-xen".into()),
            bridge: "br0".into(),
            capacity: Capacity { guests: 1, memory_mib: 1024 },
            roles: vec![],
            labels: Default::default(),
            jump: jump.then(|| JumpSpec { address: "127.0.0.1:2221".into(), user: "root".into(), key: "/k".into() }),
        }
    }

    #[test]
    fn a_host_with_a_jump_is_reached_over_ssh_from_its_namespace() {
        match shell_for(&spec("xen+ssh://root@127.0.0.1:2221/system", true)) {
            HostShell::Ssh(t) => {
                assert_eq!(t.addr, "127.0.0.1:2221".parse().unwrap());
                assert_eq!((t.user.as_str(), t.netns.as_deref()), ("root", Some("vs-lab-xen")));
                assert_eq!(t.private_key, std::path::Path::new("/k"));
            }
            _ => panic!("not over ssh"),
        }
        assert!(matches!(shell_for(&spec("xen:///system", false)), HostShell::Local));
    }
}
