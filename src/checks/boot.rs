//! The boot chain, one step each: console marker, address known, SSH answers
//! (with the guest's host key checked against what it printed on its console).
//! (Domain creation up to "running" is the runner's, since it owns the domain;
//! systemd and cloud-init readiness are in [`super::systemd`].)

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::env::{GuestUnderTest, POLL, StepFailure};
use super::wait::{self, Probe, WaitError};
use crate::guest::ssh::{self, SshError, SshTarget};

/// Printed by the test image once networking is configured: `VIRTSMOKE-MARKER net eth0 10.77.0.123/24`.
const NET_MARKER: &str = "VIRTSMOKE-MARKER net ";
const NET_FAILED_MARKER: &str = "VIRTSMOKE-MARKER net-failed";

fn timeout_failure(guest: &GuestUnderTest, what: &str, t: Duration) -> StepFailure {
    let quiet = stall_note(guest.console.quiet_for());
    StepFailure::failed(format!("{what} within {}{quiet}", humantime::format_duration(t)))
        .with_detail(guest.console_excerpt())
}

/// `; no console output for the last N s` when the console has been quiet for
/// a while (a stalled boot, the cause's `boot-stalled` quotes it); empty otherwise.
fn stall_note(quiet: Option<Duration>) -> String {
    match quiet {
        Some(q) if q >= STALL => format!("; no console output for the last {} s", q.as_secs()),
        _ => String::new(),
    }
}

/// How long a console must have been quiet for its silence to be worth saying.
const STALL: Duration = Duration::from_secs(5);

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
    // Only finished lines: the console may stop mid-address (`10.88.0.18` of `10.88.0.189`).
    let complete = &console[..console.rfind('\n').map_or(0, |i| i + 1)];
    complete.lines().find_map(|l| {
        let rest = &l[l.find(NET_MARKER)? + NET_MARKER.len()..];
        let cidr = rest.split_whitespace().nth(1)?;
        cidr.split('/').next()?.parse().ok()
    })
}

/// The global address cloud-init's network table (`ci-info: | eth0 | True |
/// 10.77.0.5 | 255.255.255.0 | global | 52:54:00:... |`) shows for `mac`; IPv4 first.
pub fn cloud_init_address(console: &str, mac: &str) -> Option<IpAddr> {
    let mac = mac.to_ascii_lowercase();
    let mut found: Vec<IpAddr> = console
        .lines()
        .filter(|l| l.contains("ci-info:"))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            // ["ci-info:", device, up, address, mask, scope, hw-address, ""]
            if cols.len() < 7 || cols[6].to_ascii_lowercase() != mac || cols[5] != "global" {
                return None;
            }
            cols[3].split('/').next()?.parse().ok()
        })
        .collect();
    found.sort_by_key(|a| !a.is_ipv4());
    found.into_iter().next()
}

/// The SHA256 host key fingerprints (base64, without `SHA256:`) of the last
/// complete `-----BEGIN SSH HOST KEY FINGERPRINTS-----` block cloud-init
/// printed on the console (bare, or with `ec2:`/syslog prefixes); `None` when
/// there is no complete block.
pub fn console_host_keys(console: &str) -> Option<Vec<String>> {
    let mut current: Option<Vec<String>> = None;
    let mut last = None;
    for line in console.lines() {
        if line.contains("-----BEGIN SSH HOST KEY FINGERPRINTS-----") {
            current = Some(Vec::new());
        } else if line.contains("-----END SSH HOST KEY FINGERPRINTS-----") {
            if let Some(fps) = current.take().filter(|f| !f.is_empty()) {
                last = Some(fps);
            }
        } else if let Some(fps) = current.as_mut() {
            fps.extend(line.split_whitespace().filter_map(|w| w.strip_prefix("SHA256:")).map(str::to_string));
        }
    }
    last
}

/// cloud-init's last words on the console: after them it prints nothing more.
pub fn cloud_init_finished(console: &str) -> bool {
    console.lines().any(|l| l.contains("Cloud-init v.") && l.contains(" finished at "))
}

/// Learns the guest's address: a static one from the scenario, the console
/// announcement (the test image's marker, cloud-init's network table), or the
/// host's ARP table for the guest's MAC.
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
        if let Some(a) = announced_address(&text).or_else(|| cloud_init_address(&text, &guest.mac)) {
            return Probe::Ready(a);
        }
        if let Some(line) = text.lines().find(|l| l.contains(NET_FAILED_MARKER)) {
            return Probe::Fail(format!("the guest reported that networking failed: {}", line.trim()));
        }
        if let Ok(pairs) = guest.domain.arp_addresses().await {
            let mac = guest.mac.to_ascii_lowercase();
            if let Some(a) = pairs.iter().find(|(m, _)| m.to_ascii_lowercase() == mac).and_then(|(_, a)| a.parse().ok())
            {
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

impl HostKeyPolicy {
    /// Full distributions make their own host keys and (with cloud-init)
    /// print them on the console; the test image's are fresh at every boot
    /// and unprinted.
    pub fn for_image(image: &crate::plan::Image) -> HostKeyPolicy {
        use crate::plan::SeedKind;
        if image.from_disk || image.seed == SeedKind::Nocloud {
            HostKeyPolicy::Console { wait: image.seed == SeedKind::Nocloud }
        } else {
            HostKeyPolicy::Any
        }
    }
}

/// How `boot.ssh` decides to trust the guest's SSH host key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Any key (the test image makes fresh keys at every boot and prints none).
    Any,
    /// The fingerprints cloud-init prints on the console; with `wait`
    /// (a seeded image) they are awaited until cloud-init says it finished.
    /// Without any, the key seen first is trusted and pinned.
    Console { wait: bool },
}

/// How the host key was trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyTrust {
    /// The key matched a fingerprint the guest printed on its console.
    Console { sha256: String },
    /// The guest printed none: the first key seen was trusted and pinned.
    FirstUse { sha256: String },
}

/// What `boot.ssh` learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshReady {
    /// `uname -r`.
    pub kernel: String,
    /// The target with its host key pinned (when checked): later connections verify it.
    pub target: SshTarget,
    pub host_key: Option<HostKeyTrust>,
}

/// One `boot.ssh` wait: what it was asked, and what it learned so far.
struct SshWait<'a> {
    guest: &'a GuestUnderTest,
    target: &'a SshTarget,
    policy: HostKeyPolicy,
    started: std::time::Instant,
    /// A seeded guest prints its fingerprints near the end of its boot: they
    /// are awaited this long, leaving time to log in once it is clear none will come.
    fingerprint_wait: Duration,
    last: std::sync::Mutex<Option<String>>,
    trust: std::sync::Mutex<Option<HostKeyTrust>>,
}

impl SshWait<'_> {
    fn set_last(&self, m: String) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(m);
    }

    fn trust(&self) -> Option<HostKeyTrust> {
        self.trust.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The target with the host key to expect pinned; `Ok(None)` while there
    /// is none to pin yet; `Err` when the key seen is not one the guest printed.
    async fn pinned(&self) -> Result<Option<SshTarget>, String> {
        let mut pinned = self.target.clone();
        let wait = match (self.policy, self.trust()) {
            (HostKeyPolicy::Any, _) => return Ok(Some(pinned)),
            (_, Some(HostKeyTrust::Console { sha256 } | HostKeyTrust::FirstUse { sha256 })) => {
                pinned.host_key_sha256 = Some(vec![sha256]);
                return Ok(Some(pinned));
            }
            (HostKeyPolicy::Console { wait }, None) => wait,
        };
        let text = self.guest.console.text();
        let printed = console_host_keys(&text);
        let waiting = wait && !cloud_init_finished(&text) && self.started.elapsed() < self.fingerprint_wait;
        if printed.is_none() && waiting {
            self.set_last("waiting for the SSH host key fingerprints on the console".into());
            return Ok(None);
        }
        let seen = match ssh::host_key_sha256(self.target, Duration::from_secs(10)).await {
            Ok(seen) => seen,
            Err(e) => {
                self.set_last(crate::error_chain(&e));
                return Ok(None);
            }
        };
        let t = match printed {
            Some(fps) if fps.contains(&seen) => HostKeyTrust::Console { sha256: seen.clone() },
            Some(fps) => {
                let expected = fps.iter().map(|f| format!("SHA256:{f}")).collect::<Vec<_>>().join(", ");
                let e = SshError::HostKey { target: self.target.to_string(), seen, expected };
                return Err(crate::error_chain(&e));
            }
            None => HostKeyTrust::FirstUse { sha256: seen.clone() },
        };
        *self.trust.lock().unwrap_or_else(|p| p.into_inner()) = Some(t);
        pinned.host_key_sha256 = Some(vec![seen]);
        Ok(Some(pinned))
    }

    /// Not yet, unless the guest can no longer come up.
    async fn not_yet(&self, nap: Duration) -> Probe<(String, SshTarget)> {
        if let Err(f) = self.guest.health().await {
            return Probe::Fail(f.message);
        }
        tokio::time::sleep(nap).await;
        Probe::NotYet
    }

    /// One look: pin the host key if it is time, then `uname -r`.
    async fn once(&self, nap: Duration) -> Probe<(String, SshTarget)> {
        let pinned = match self.pinned().await {
            Ok(Some(p)) => p,
            Ok(None) => return self.not_yet(nap).await,
            Err(m) => return Probe::Fail(m),
        };
        match ssh::exec(&pinned, "uname -r", Duration::from_secs(10)).await {
            Ok(out) if out.exit_status == 0 => Probe::Ready((out.stdout.trim().to_string(), pinned)),
            Ok(out) => Probe::Fail(format!("`uname -r` exited with {}: {}", out.exit_status, out.stderr.trim())),
            Err(e @ (SshError::Authentication { .. } | SshError::HostKey { .. })) => {
                Probe::Fail(crate::error_chain(&e))
            }
            // A refused connection means the server is not listening yet:
            // look again at the poll interval, so readiness is seen within
            // ~50 ms. Anything else (a server still starting up) backs off.
            Err(e @ SshError::Connect { .. }) => {
                self.set_last(crate::error_chain(&e));
                match self.guest.health().await {
                    Ok(()) => Probe::NotYet,
                    Err(f) => Probe::Fail(f.message),
                }
            }
            Err(e) => {
                self.set_last(crate::error_chain(&e));
                self.not_yet(nap).await
            }
        }
    }
}

/// Runs `uname -r` until it succeeds. Connection problems are retried until the
/// deadline; a refused key or a host key the guest did not print is final.
pub async fn ssh_ready(
    guest: &GuestUnderTest,
    target: &SshTarget,
    policy: HostKeyPolicy,
    timeout: Duration,
) -> Result<SshReady, StepFailure> {
    let w = SshWait {
        guest,
        target,
        policy,
        started: std::time::Instant::now(),
        fingerprint_wait: timeout.mul_f32(0.75),
        last: Default::default(),
        trust: Default::default(),
    };
    let mut backoff = Duration::from_millis(100);
    let r = wait::until(timeout, Duration::from_millis(50), None, || {
        let nap = backoff;
        backoff = (backoff * 2).min(Duration::from_secs(1));
        w.once(nap)
    })
    .await;
    match r {
        Ok((kernel, target)) => Ok(SshReady { kernel, target, host_key: w.trust() }),
        Err(WaitError::Timeout(t)) => Err(StepFailure::failed(format!(
            "ssh to {target} did not answer within {}{}",
            humantime::format_duration(t),
            w.last
                .into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .map(|l| format!(" (last error: {l})"))
                .unwrap_or_default()
        ))
        .with_detail(guest.console_excerpt())),
        Err(WaitError::Failed(m)) => Err(StepFailure::failed(m).with_detail(guest.console_excerpt())),
    }
}

/// The SSH target for a guest at `addr`.
pub fn target(addr: IpAddr, netns: Option<&str>, key: &std::path::Path, user: &str) -> SshTarget {
    SshTarget {
        addr: SocketAddr::new(addr, 22),
        netns: netns.map(str::to_string),
        user: user.to_string(),
        private_key: key.to_path_buf(),
        jump: None,
        host_key_sha256: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_console_is_noted_on_a_timeout() {
        assert_eq!(stall_note(None), "", "a console that never printed says nothing more");
        assert_eq!(stall_note(Some(Duration::from_secs(2))), "", "still printing");
        assert_eq!(stall_note(Some(Duration::from_millis(48_500))), "; no console output for the last 48 s");
    }

    #[test]
    fn reads_the_announced_address() {
        let log = "[ 1.0] x\r\nVIRTSMOKE-MARKER boot\r\nVIRTSMOKE-MARKER net eth0 10.77.0.123/24\r\n";
        assert_eq!(announced_address(log), Some("10.77.0.123".parse().unwrap()));
        assert_eq!(announced_address("VIRTSMOKE-MARKER net-failed eth0\n"), None);
        assert_eq!(announced_address("VIRTSMOKE-MARKER net eth0 garbage\n"), None);
        // A line still being printed is not read yet.
        assert_eq!(announced_address("x\nVIRTSMOKE-MARKER net eth0 10.88.0.18"), None);
    }

    /// Console lines of a Debian 12 guest (cloud-init 22.4) booted on the lab.
    const CLOUD_INIT: &str = "\
[   33.974649] cloud-init[268]: ci-info: |  eth0  | True |        10.77.0.198         | 255.255.255.0 | global | 52:54:00:aa:bb:01 |\r
[   33.975803] cloud-init[268]: ci-info: |  eth0  | True | fe80::5054:ff:feaa:bb01/64 |       .       |  link  | 52:54:00:aa:bb:01 |\r
[   33.975803] cloud-init[268]: ci-info: |   lo   | True |         127.0.0.1          |   255.0.0.0   |  host  |         .         |\r
<14>Nov 22 04:24:17 cloud-init: #############################################################\r
<14>Nov 22 04:24:17 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----\r
<14>Nov 22 04:24:18 cloud-init: 256 SHA256:r/fTSjNsBWd6qiWlXGwPSYNBmE069PlS5LqaXqUFoes root@manual (ECDSA)\r
<14>Nov 22 04:24:18 cloud-init: 256 SHA256:tJvx3D2RRAvb1rwQlerExdg6H76aaYxu83awTGcHuMI root@manual (ED25519)\r
<14>Nov 22 04:24:18 cloud-init: -----END SSH HOST KEY FINGERPRINTS-----\r
-----BEGIN SSH HOST KEY KEYS-----\r
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKL4LRGvZMDSvNz23EN+raED3P14cUsmGQX2dIIESnK4 root@manual\r
-----END SSH HOST KEY KEYS-----\r
[   59.047234] cloud-init[353]: Cloud-init v. 22.4.2 finished at Sun, 22 Nov 2026 04:24:18 +0000. Datasource DataSourceNoCloud [seed=/dev/sr0][dsmode=net].  Up 58.97 seconds\r
";

    #[test]
    fn reads_cloud_inits_network_table() {
        assert_eq!(cloud_init_address(CLOUD_INIT, "52:54:00:AA:BB:01"), Some("10.77.0.198".parse().unwrap()));
        assert_eq!(cloud_init_address(CLOUD_INIT, "52:54:00:aa:bb:02"), None);
        assert_eq!(cloud_init_address("ci-info: | eth0 | True |\n", "52:54:00:aa:bb:01"), None);
    }

    #[test]
    fn reads_the_host_key_fingerprints() {
        assert_eq!(
            console_host_keys(CLOUD_INIT),
            Some(vec![
                "r/fTSjNsBWd6qiWlXGwPSYNBmE069PlS5LqaXqUFoes".to_string(),
                "tJvx3D2RRAvb1rwQlerExdg6H76aaYxu83awTGcHuMI".to_string()
            ])
        );
        assert!(cloud_init_finished(CLOUD_INIT));
        // An unfinished block is not trusted yet.
        let cut = &CLOUD_INIT[..CLOUD_INIT.find("-----END SSH HOST KEY FINGERPRINTS").unwrap()];
        assert_eq!(console_host_keys(cut), None);
        assert!(!cloud_init_finished(cut));
        // The ec2: form some images print.
        let ec2 = "ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----\nec2: 256 SHA256:abc root@x (ED25519)\nec2: -----END SSH HOST KEY FINGERPRINTS-----\n";
        assert_eq!(console_host_keys(ec2), Some(vec!["abc".to_string()]));
    }
}
