//! Running commands on a host itself (not in a guest): for the facts libvirt
//! does not give, such as package builds and `xl info`.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::guest::ssh::{self, SshTarget};
use crate::hypervisor::Uri;
/// Xen's host commands and their readers live with the family; the old names stay.
pub use crate::hypervisor::xen::{XENSTORE_DOMAINS, parse_xenstore_domains, parse_xl_info};

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

    /// Stdout of `command` run by `sh -c`, or `None` when the host cannot be
    /// reached, it fails, or it outlives `DEADLINE`.
    pub async fn run(&self, command: &str) -> Option<String> {
        self.run_within(command, DEADLINE).await.ok()
    }

    /// Stdout of `command` run by `sh -c` within `deadline`; on this machine a
    /// command still running then is killed with its whole process group.
    pub async fn run_within(&self, command: &str, deadline: Duration) -> Result<String, ShellError> {
        match self {
            HostShell::None => Err(ShellError::NoWayIn { command: command.to_string() }),
            HostShell::Local => run_local(command, deadline).await,
            HostShell::Ssh(t) => {
                let out = ssh::exec(t, command, deadline)
                    .await
                    .map_err(|source| ShellError::Ssh { command: command.to_string(), source })?;
                if out.exit_status == 0 {
                    Ok(out.stdout)
                } else {
                    Err(ShellError::Failed { command: command.to_string(), status: out.exit_status.to_string() })
                }
            }
        }
    }
}

/// How long a host command may take unless its caller says otherwise (the
/// SSH path has always had this bound).
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A host command that did not give its output.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("`{command}`: no way to run commands on the host (no `jump`, and not this machine)")]
    NoWayIn { command: String },
    #[error("`{command}` could not be started")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` did not finish within {} and was killed", humantime::format_duration(*after))]
    TimedOut { command: String, after: Duration },
    #[error("`{command}` failed (exit status {status})")]
    Failed { command: String, status: String },
    #[error("`{command}` over SSH failed")]
    Ssh {
        command: String,
        #[source]
        source: ssh::SshError,
    },
}

/// Runs `command` here in a process group of its own, so that on expiry the
/// shell and everything it started (`xl` stuck on a hypervisor call) go.
async fn run_local(command: &str, deadline: Duration) -> Result<String, ShellError> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ShellError::Spawn { command: command.to_string(), source })?;
    let group = child.id();
    match tokio::time::timeout(deadline, child.wait_with_output()).await {
        Ok(Ok(out)) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(Ok(out)) => Err(ShellError::Failed { command: command.to_string(), status: out.status.to_string() }),
        Ok(Err(source)) => Err(ShellError::Spawn { command: command.to_string(), source }),
        Err(_) => {
            if let Some(pgid) = group.and_then(|g| i32::try_from(g).ok()) {
                let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            }
            Err(ShellError::TimedOut { command: command.to_string(), after: deadline })
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[tokio::test]
    async fn a_local_command_past_its_deadline_is_a_typed_error() {
        let err = HostShell::Local.run_within("sleep 30", Duration::from_millis(200)).await.unwrap_err();
        assert!(
            matches!(&err, ShellError::TimedOut { command, after } if command == "sleep 30" && after.as_millis() == 200),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "`sleep 30` did not finish within 200ms and was killed");
        let err = HostShell::None.run_within("true", DEADLINE).await.unwrap_err();
        assert!(matches!(err, ShellError::NoWayIn { .. }), "{err:?}");
        let err = HostShell::Local.run_within("exit 3", DEADLINE).await.unwrap_err();
        assert!(matches!(&err, ShellError::Failed { status, .. } if status.contains('3')), "{err:?}");
    }

    #[tokio::test]
    async fn what_the_command_started_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let cmd = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let err = HostShell::Local.run_within(&cmd, Duration::from_millis(200)).await.unwrap_err();
        assert!(matches!(err, ShellError::TimedOut { .. }), "{err:?}");
        let pid: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        // Killed at once; its reaping by init may take a moment.
        let gone = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map_or(true, |st| st.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
        };
        for _ in 0..250 {
            if gone() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the sleep the command started (pid {pid}) outlived the deadline");
    }
}
