//! The boot chain, one step each: console marker, address known, SSH answers.
//! (Domain creation up to "running" is the runner's, since it owns the domain.)

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::wait::{self, Probe, WaitError};
use super::{GuestUnderTest, POLL, StepFailure};
use crate::guest::ssh::{self, SshError, SshTarget};

/// Printed by the test image once networking is configured: `VIRTSMOKE-MARKER net eth0 10.77.0.123/24`.
const NET_MARKER: &str = "VIRTSMOKE-MARKER net ";
const NET_FAILED_MARKER: &str = "VIRTSMOKE-MARKER net-failed";

fn timeout_failure(guest: &GuestUnderTest, what: &str, t: Duration) -> StepFailure {
    StepFailure::failed(format!("{what} within {}", humantime::format_duration(t)))
        .with_detail(guest.console_excerpt())
}

fn from_wait(guest: &GuestUnderTest, what: &str, e: WaitError) -> StepFailure {
    match e {
        WaitError::Timeout(t) => timeout_failure(guest, what, t),
        WaitError::Failed(m) => StepFailure::failed(m).with_detail(guest.console_excerpt()),
    }
}

/// Waits for the boot marker on the console.
pub async fn console_marker(guest: &GuestUnderTest, timeout: Duration) -> Result<(), StepFailure> {
    let marker = guest.boot_marker.clone();
    wait::until(timeout, POLL, Some(guest.console.subscribe()), || async {
        if guest.console.text().contains(&marker) {
            return Probe::Ready(());
        }
        match guest.health().await {
            Ok(()) => Probe::NotYet,
            Err(f) => Probe::Fail(f.message),
        }
    })
    .await
    .map_err(|e| from_wait(guest, &format!("no boot marker `{}` on the console", guest.boot_marker), e))
}

/// The address the guest announced on its console, if any.
pub fn announced_address(console: &str) -> Option<IpAddr> {
    console.lines().find_map(|l| {
        let rest = &l[l.find(NET_MARKER)? + NET_MARKER.len()..];
        let cidr = rest.split_whitespace().nth(1)?;
        cidr.split('/').next()?.parse().ok()
    })
}

/// Learns the guest's address: a static one from the scenario, the console
/// announcement, or the host's ARP table for the guest's MAC.
pub async fn address(
    guest: &GuestUnderTest,
    static_address: Option<IpAddr>,
    timeout: Duration,
) -> Result<IpAddr, StepFailure> {
    if let Some(a) = static_address {
        return Ok(a);
    }
    wait::until(timeout, POLL, Some(guest.console.subscribe()), || async {
        let text = guest.console.text();
        if let Some(a) = announced_address(&text) {
            return Probe::Ready(a);
        }
        if let Some(line) = text.lines().find(|l| l.contains(NET_FAILED_MARKER)) {
            return Probe::Fail(format!("the guest reported that networking failed: {}", line.trim()));
        }
        if let Ok(pairs) = guest.domain.arp_addresses().await {
            let mac = guest.mac.to_ascii_lowercase();
            if let Some(a) = pairs.iter().find(|(m, _)| m.to_ascii_lowercase() == mac).and_then(|(_, a)| a.parse().ok()) {
                return Probe::Ready(a);
            }
        }
        match guest.health().await {
            Ok(()) => Probe::NotYet,
            Err(f) => Probe::Fail(f.message),
        }
    })
    .await
    .map_err(|e| from_wait(guest, "the guest's address did not become known", e))
}

/// Runs `uname -r` until it succeeds; returns its output. Connection problems are
/// retried until the deadline; a refused key is final.
pub async fn ssh_ready(guest: &GuestUnderTest, target: &SshTarget, timeout: Duration) -> Result<String, StepFailure> {
    let last: std::sync::Mutex<Option<String>> = Default::default();
    let mut backoff = Duration::from_millis(100);
    let r = wait::until(timeout, Duration::from_millis(50), None, || {
        let last = &last;
        let nap = backoff;
        backoff = (backoff * 2).min(Duration::from_secs(1));
        async move {
            match ssh::exec(target, "uname -r", Duration::from_secs(10)).await {
                Ok(out) if out.exit_status == 0 => return Probe::Ready(out.stdout.trim().to_string()),
                Ok(out) => {
                    return Probe::Fail(format!("`uname -r` exited with {}: {}", out.exit_status, out.stderr.trim()));
                }
                Err(e @ SshError::Authentication { .. }) => return Probe::Fail(crate::error_chain(&e)),
                Err(e) => *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(crate::error_chain(&e)),
            }
            if let Err(f) = guest.health().await {
                return Probe::Fail(f.message);
            }
            tokio::time::sleep(nap).await;
            Probe::NotYet
        }
    })
    .await;
    r.map_err(|e| match e {
        WaitError::Timeout(t) => StepFailure::failed(format!(
            "ssh to {target} did not answer within {}{}",
            humantime::format_duration(t),
            last.into_inner().unwrap_or_else(|p| p.into_inner()).map(|l| format!(" (last error: {l})")).unwrap_or_default()
        ))
        .with_detail(guest.console_excerpt()),
        WaitError::Failed(m) => StepFailure::failed(m).with_detail(guest.console_excerpt()),
    })
}

/// The SSH target for a guest at `addr`.
pub fn target(addr: IpAddr, netns: Option<&str>, key: &std::path::Path) -> SshTarget {
    SshTarget {
        addr: SocketAddr::new(addr, 22),
        netns: netns.map(str::to_string),
        user: "root".to_string(),
        private_key: key.to_path_buf(),
        jump: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_announced_address() {
        let log = "[ 1.0] x\r\nVIRTSMOKE-MARKER boot\r\nVIRTSMOKE-MARKER net eth0 10.77.0.123/24\r\n";
        assert_eq!(announced_address(log), Some("10.77.0.123".parse().unwrap()));
        assert_eq!(announced_address("VIRTSMOKE-MARKER net-failed eth0\n"), None);
        assert_eq!(announced_address("VIRTSMOKE-MARKER net eth0 garbage\n"), None);
    }
}
