//! Talking to a running dom0 from the build machine: libvirt over `xen+ssh`
//! (the readiness criterion), and SSH/scp for putting files there.

use std::time::{Duration, Instant};

use super::error::XenLabError;
use super::known_hosts;
use super::layout::XenHostLayout;
use super::qemu;
use crate::lab::command::{self, file_tail, tail};
use crate::lab::wait::wait_until;

/// Time limit of one `virsh version` (an SSH login plus a libvirt call on an
/// emulated machine: a few seconds when it works).
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// Time limit of one SSH command.
#[cfg(test)]
const SSH_TIMEOUT: Duration = Duration::from_secs(120);
/// Pause between readiness attempts (each failed attempt itself takes ~0.1-1 s).
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// How much of the serial log goes into an error.
const SERIAL_TAIL: usize = 1500;

/// Asks libvirt in dom0 for its version: `Ok` with virsh's output, or `Err`
/// with why not.
pub fn probe(host: &XenHostLayout) -> Result<String, String> {
    let uri = host.uri();
    let mut cmd = command::command(&["virsh", "-c", &uri, "version"]);
    match command::run_unchecked("probe", &mut cmd, PROBE_TIMEOUT) {
        Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
        Ok(out) => {
            let err = tail(&String::from_utf8_lossy(&out.stderr), 300);
            Err(if err.is_empty() { out.status.to_string() } else { err })
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Waits until dom0's host keys are recorded and libvirt in dom0 answers
/// (checking them), QEMU exits (error at once), or
/// `deadline` passes.
pub fn wait_ready(host: &XenHostLayout, deadline: Instant) -> Result<(), XenLabError> {
    let mut last = String::from("no attempt");
    let timeout = deadline.saturating_duration_since(Instant::now());
    let started = Instant::now();
    let ready = wait_until(timeout, RETRY_INTERVAL, || {
        if qemu::running_pid(host).is_none() {
            return Err(XenLabError::QemuExited { host: host.name(), serial_tail: serial_tail(host) });
        }
        if !known_hosts::recorded(host) {
            match known_hosts::learn(host) {
                Ok(true) => {}
                Ok(false) => {
                    last = "dom0's SSH server shows no host key yet".into();
                    return Ok(false);
                }
                Err(e) => {
                    last = e;
                    return Ok(false);
                }
            }
        }
        match probe(host) {
            Ok(_) => Ok(true),
            Err(e) => {
                last = e;
                Ok(false)
            }
        }
    })?;
    if ready {
        return Ok(());
    }
    Err(XenLabError::NotReady {
        host: host.name(),
        uri: host.uri(),
        timeout: humantime::format_duration(Duration::from_secs(started.elapsed().as_secs())).to_string(),
        last,
        serial_tail: serial_tail(host),
    })
}

/// "; serial.log ends with: ..." or "".
pub fn serial_tail(host: &XenHostLayout) -> String {
    let text = file_tail(&host.serial_log(), SERIAL_TAIL);
    if text.is_empty() { String::new() } else { format!("; serial.log ends with:\n{text}") }
}

#[cfg(test)]
fn ssh_options(host: &XenHostLayout) -> Vec<String> {
    let mut v: Vec<String> = vec!["-i".into(), host.key().display().to_string()];
    let known = format!("UserKnownHostsFile={}", host.known_hosts().display());
    for o in ["BatchMode=yes", "StrictHostKeyChecking=yes", &known, "LogLevel=ERROR", "ConnectTimeout=15"] {
        v.push("-o".into());
        v.push(o.into());
    }
    v
}

/// Runs a shell command in dom0 as root; returns its standard output.
#[cfg(test)]
pub fn ssh(host: &XenHostLayout, step: &str, script: &str) -> Result<String, XenLabError> {
    let mut argv = vec!["ssh".to_string(), "-p".into(), host.port().to_string()];
    argv.extend(ssh_options(host));
    argv.push("root@127.0.0.1".into());
    argv.push(script.into());
    let out = command::run(&format!("{}: {step}", host.name()), &mut command::command(&argv), SSH_TIMEOUT)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
