//! Running commands on a host itself (not in a guest): for the facts libvirt
//! does not give, such as package builds and `xl info`.

use std::time::Duration;

use crate::guest::ssh::{self, SshTarget};
use crate::hypervisor::Uri;

/// How commands reach a host.
#[derive(Debug, Clone)]
pub enum HostShell {
    /// The host is this machine (local libvirt socket).
    Local,
    /// Over SSH (the host's jump address).
    Ssh(Box<SshTarget>),
    /// No way in (remote URI without SSH details, or libvirt's test driver).
    None,
}

impl HostShell {
    /// Chooses how to reach the host of `uri`: SSH when a jump host is given, local
    /// for local sockets.
    pub fn for_host(uri: &str, ssh: Option<SshTarget>) -> HostShell {
        if let Some(t) = ssh {
            return HostShell::Ssh(Box::new(t));
        }
        if Uri::parse(uri).is_ok_and(|u| u.is_local()) { HostShell::Local } else { HostShell::None }
    }

    /// Stdout of `command` run by `sh -c`, or `None` when the host cannot be reached or it fails.
    pub async fn run(&self, command: &str) -> Option<String> {
        match self {
            HostShell::None => None,
            HostShell::Local => {
                let out = tokio::process::Command::new("sh").arg("-c").arg(command).output().await.ok()?;
                out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
            }
            HostShell::Ssh(t) => {
                let out = ssh::exec(t, command, Duration::from_secs(30)).await.ok()?;
                (out.exit_status == 0).then_some(out.stdout)
            }
        }
    }
}

/// Every domain xenstore knows, `ID NAME` per line: Xen's own view, which
/// still shows a domain libvirt lost track of.
pub const XENSTORE_DOMAINS: &str = "for d in $(xenstore-list /local/domain); do \
     printf '%s %s\\n' \"$d\" \"$(xenstore-read /local/domain/$d/name 2>/dev/null)\"; done";

/// `XENSTORE_DOMAINS` output into domain id → name.
pub fn parse_xenstore_domains(out: &str) -> std::collections::BTreeMap<u32, String> {
    out.lines()
        .filter_map(|l| {
            let (id, name) = l.trim().split_once(' ').unwrap_or((l.trim(), ""));
            Some((id.parse().ok()?, name.trim().to_string()))
        })
        .collect()
}

/// Package queries that work on RPM (CentOS, Xen4CentOS) and Debian hosts alike.
pub const PACKAGES: &str = "if command -v rpm >/dev/null 2>&1 && rpm -q rpm >/dev/null 2>&1; then \
       rpm -qa --qf '%{NAME}=%{VERSION}-%{RELEASE}\\n' 'xen*' 'libvirt-daemon*' 'qemu-kvm*' 'qemu-system*' 'kernel' 'kernel-core' 'kernel-xen*' 2>/dev/null; \
     else dpkg-query -W -f '${db:Status-Abbrev}${Package}=${Version}\\n' 'xen-hypervisor-*' 'xen-utils-4*' 'libvirt-daemon' 'libvirt-daemon-driver-xen' 'qemu-system-x86' 'qemu-system-xen' 'linux-image-*' 2>/dev/null | sed -n 's/^ii *//p'; fi";

/// `key=value` lines into (pkg.key, value) facts.
pub fn parse_packages(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.trim().split_once('='))
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .map(|(n, v)| (format!("pkg.{n}"), v.to_string()))
        .collect()
}

/// The facts of `xl info` worth recording.
pub fn parse_xl_info(out: &str) -> Vec<(String, String)> {
    let mut facts = Vec::new();
    let mut major = String::new();
    let mut minor = String::new();
    let mut extra = String::new();
    for line in out.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let (k, v) = (k.trim(), v.trim().to_string());
        match k {
            "xen_major" => major = v,
            "xen_minor" => minor = v,
            "xen_extra" => {
                extra = v.clone();
                facts.push(("xen_extra".into(), v));
            }
            "xen_changeset" => facts.push(("xen_changeset".into(), v)),
            "xen_commandline" => facts.push(("xen_commandline".into(), v)),
            "xen_caps" => facts.push(("xen_caps".into(), v)),
            "virt_caps" => facts.push(("xen_virt_caps".into(), v)),
            _ => {}
        }
    }
    if !major.is_empty() {
        facts.insert(0, ("xen_version".into(), format!("{major}.{minor}{extra}")));
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xenstore_domains_are_read_by_id() {
        let m = parse_xenstore_domains("0 Domain-0\n7 vs-20261122-1-0-tiny\n9 \nnot-a-domain x\n");
        assert_eq!(m.len(), 3);
        assert_eq!(m[&0], "Domain-0");
        assert_eq!(m[&7], "vs-20261122-1-0-tiny");
        assert_eq!(m[&9], "");
    }

    #[test]
    fn xl_info_facts() {
        let out = "host                   : xen1\nxen_major              : 4\nxen_minor              : 17\n\
                   xen_extra              : .5\nxen_version            : 4.17.5\nxen_caps               : xen-3.0-x86_64 hvm-3.0-x86_64\n\
                   virt_caps              : pv hvm hap\nxen_changeset          : Tue Oct 1 2024 +0200 git:430ce6cd93\n\
                   xen_commandline        : dom0_mem=1024M,max:1024M console=com1\n";
        let f = parse_xl_info(out);
        assert_eq!(f[0], ("xen_version".into(), "4.17.5".into()));
        assert!(f.contains(&("xen_changeset".into(), "Tue Oct 1 2024 +0200 git:430ce6cd93".into())));
        assert!(f.contains(&("xen_commandline".into(), "dom0_mem=1024M,max:1024M console=com1".into())));
        assert!(f.contains(&("xen_virt_caps".into(), "pv hvm hap".into())));
    }

    #[test]
    fn package_lines() {
        let f = parse_packages("libvirt-daemon=9.0.0-4+deb12u2\nqemu-system-x86=1:7.2+dfsg-7\n\njunk\n");
        assert_eq!(
            f,
            vec![
                ("pkg.libvirt-daemon".into(), "9.0.0-4+deb12u2".into()),
                ("pkg.qemu-system-x86".into(), "1:7.2+dfsg-7".into())
            ]
        );
    }

    #[tokio::test]
    async fn local_shell_runs_and_reports_failure_as_none() {
        let sh = HostShell::for_host("qemu+unix:///system?socket=/x", None);
        assert_eq!(sh.run("echo hi").await.as_deref(), Some("hi\n"));
        assert_eq!(sh.run("exit 3").await, None);
        assert!(matches!(HostShell::for_host("qemu+ssh://h/system", None), HostShell::None));
    }
}
