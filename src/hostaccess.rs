//! How virtsmoke reaches a host's own shell (for facts libvirt does not give,
//! staging files, evidence, cleanup): locally, or over SSH through its `jump`;
//! and the facts it tells: the host's kernel, distribution, package builds,
//! and on Xen hosts `xl info` (version, changeset, command line). Used by the
//! runner and the CLI alike.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use crate::backend::HostFacts;
use crate::backend::host_shell::{self, HostShell};
use crate::guest::jump::HostKeyPolicy;
use crate::guest::ssh::SshTarget;
use crate::plan::{HostSpec, Hypervisor, JumpHostKey, JumpSpec};

/// Whether the host is this machine: its libvirt is local and nothing says
/// to reach it over SSH. Files here are then used in place.
pub fn is_this_machine(spec: &HostSpec) -> bool {
    spec.jump.is_none() && crate::hypervisor::Uri::parse(&spec.uri).is_ok_and(|u| u.is_local())
}

/// The shell of the host `spec` names. Over SSH, the jump host's key is
/// checked as its `jump` says, like on the way to its guests
/// ([`jump_key_policy`]): the fingerprints its `known_hosts` file records for
/// the address (none recorded: every login is refused), or the pinned one.
pub fn shell_for(spec: &HostSpec) -> HostShell {
    let ssh = spec.jump.as_ref().and_then(|j| {
        let addr = j.address.to_socket_addrs().ok()?.next()?;
        Some(SshTarget {
            addr,
            netns: spec.netns.clone(),
            user: j.user.clone(),
            private_key: j.key.clone(),
            jump: None,
            host_key_sha256: expected_fingerprints(&j.host_key, addr),
        })
    });
    HostShell::for_host(&spec.uri, ssh)
}

/// How the key of the jump host `j` is checked before virtsmoke logs in there.
pub fn jump_key_policy(j: &JumpSpec) -> HostKeyPolicy {
    match &j.host_key {
        JumpHostKey::KnownHosts(path) => HostKeyPolicy::KnownHosts(path.clone()),
        JumpHostKey::Sha256(pinned) => HostKeyPolicy::Sha256(pinned.clone()),
        JumpHostKey::Insecure => HostKeyPolicy::None,
    }
}

/// The fingerprints (`ssh-keygen -l`'s base64 after `SHA256:`) the host at
/// `addr` may offer; `None` accepts any key.
fn expected_fingerprints(key: &JumpHostKey, addr: SocketAddr) -> Option<Vec<String>> {
    match key {
        JumpHostKey::Insecure => None,
        JumpHostKey::Sha256(pinned) => {
            Some(vec![pinned.trim_start_matches("SHA256:").trim_end_matches('=').to_string()])
        }
        JumpHostKey::KnownHosts(path) => Some(recorded_fingerprints(path, addr)),
    }
}

/// The fingerprints of the keys the known_hosts file `path` records for
/// `addr` (under a plain or a hashed name); none when it cannot be read.
fn recorded_fingerprints(path: &Path, addr: SocketAddr) -> Vec<String> {
    use sha2::{Digest, Sha256};
    let Ok(mut known) = ssh2::Session::new().and_then(|s| s.known_hosts()) else { return Vec::new() };
    if known.read_file(path, ssh2::KnownHostFileKind::OpenSSH).is_err() {
        return Vec::new();
    }
    let Ok(entries) = known.hosts() else { return Vec::new() };
    let host = addr.ip().to_string();
    entries
        .iter()
        .filter_map(|h| crate::guest::base64::decode(h.key()))
        .filter(|blob| matches!(known.check_port(&host, addr.port(), blob), ssh2::CheckResult::Match))
        .map(|blob| crate::guest::base64::unpadded(&Sha256::digest(&blob)))
        .collect()
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
    use crate::plan::{AccelPreference, Capacity};

    fn spec(uri: &str, host_key: Option<JumpHostKey>) -> HostSpec {
        HostSpec {
            name: "h".into(),
            uri: uri.into(),
            hypervisor: Hypervisor::Xen,
            accel: AccelPreference::Auto,
            netns: Some("vs-lab-xen".into()),
            bridge: "br0".into(),
            capacity: Capacity { guests: 1, memory_mib: 1024, when_full: crate::plan::WhenFull::DEFAULT },
            roles: vec![],
            labels: Default::default(),
            jump: host_key.map(|host_key| JumpSpec {
                address: "127.0.0.1:2221".into(),
                user: "root".into(),
                key: "/k".into(),
                host_key,
            }),
        }
    }

    fn ssh_target(shell: HostShell) -> SshTarget {
        match shell {
            HostShell::Ssh(t) => *t,
            other => panic!("not over ssh: {other:?}"),
        }
    }

    const URI: &str = "xen+ssh://root@127.0.0.1:2221/system";

    #[test]
    fn a_host_with_a_jump_is_reached_over_ssh_from_its_namespace() {
        let t = ssh_target(shell_for(&spec(URI, Some(JumpHostKey::Insecure))));
        assert_eq!(t.addr, "127.0.0.1:2221".parse().unwrap());
        assert_eq!((t.user.as_str(), t.netns.as_deref()), ("root", Some("vs-lab-xen")));
        assert_eq!(t.private_key, std::path::Path::new("/k"));
        assert_eq!(t.host_key_sha256, None, "insecure_host_key: any key");
        assert!(matches!(shell_for(&spec("xen:///system", None)), HostShell::Local));
    }

    #[test]
    fn the_host_shell_checks_the_jump_key_like_the_guest_path() {
        let fp = "AAAAC3NzaC1lZDI1NTE5AAAAIGJ1dGZvcmEgdGVzdCBvbmx5IGl0IGlzIG9rYXk";
        let pinned = spec(URI, Some(JumpHostKey::Sha256(format!("SHA256:{fp}"))));
        assert_eq!(ssh_target(shell_for(&pinned)).host_key_sha256, Some(vec![fp.to_string()]));
        assert_eq!(jump_key_policy(pinned.jump.as_ref().unwrap()), HostKeyPolicy::Sha256(format!("SHA256:{fp}")));

        // A known_hosts file: the keys it records for the address, and only those.
        let dir = tempfile::tempdir().unwrap();
        // Wire blobs of two ed25519 keys: type name, then 32 bytes of key.
        let blob = |fill: u8| [&[0, 0, 0, 11][..], b"ssh-ed25519", &[0, 0, 0, 32], &[fill; 32]].concat();
        let (a, b) = (&blob(1)[..], &blob(2)[..]);
        let line = |name: &str, blob: &[u8]| format!("{name} ssh-ed25519 {}\n", crate::guest::base64::unpadded(blob));
        let known = dir.path().join("known_hosts");
        std::fs::write(&known, line("[127.0.0.1]:2221", a) + &line("[127.0.0.1]:2222", b) + &line("192.0.2.1", b))
            .unwrap();
        let file = spec(URI, Some(JumpHostKey::KnownHosts(known.clone())));
        let fp_a = {
            use sha2::{Digest, Sha256};
            crate::guest::base64::unpadded(&Sha256::digest(a))
        };
        assert_eq!(ssh_target(shell_for(&file)).host_key_sha256, Some(vec![fp_a]));
        assert_eq!(jump_key_policy(file.jump.as_ref().unwrap()), HostKeyPolicy::KnownHosts(known));

        // Nothing recorded (or no file): every login is refused, none is let through.
        let missing = spec(URI, Some(JumpHostKey::KnownHosts(dir.path().join("nope"))));
        assert_eq!(ssh_target(shell_for(&missing)).host_key_sha256, Some(vec![]));
    }
}
