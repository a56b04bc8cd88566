//! How virtsmoke reaches a host's own shell (for facts libvirt does not give,
//! staging files, evidence, cleanup): locally, or over SSH through its `jump`.
//! Used by the runner and the CLI alike.

use std::net::ToSocketAddrs;

use crate::backend::host_shell::HostShell;
use crate::guest::ssh::SshTarget;
use crate::plan::HostSpec;

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
