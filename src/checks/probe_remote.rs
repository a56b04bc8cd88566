//! The downtime probe run on a host through its shell (a Xen dom0 behind a
//! `jump`): the guests' segment is reached only from there. `ping -D` runs
//! in the background on the host, writing to a file in the run's directory
//! there; polling reads its last lines, and the end reads the whole file and
//! removes it. Timestamps are the host's clock: the offset to this machine's
//! is measured when the probe starts, so "after the move" means the same
//! moment on both. A `-w` deadline ends the remote ping even if this process
//! dies first. [`DowntimeProbe`] is either kind: here, or on a host.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::probe::{ProbeError, ProbeFigures, figures, parse_reply, parse_transmitted, unix_now};
use crate::backend::host_shell::HostShell;
use crate::shell::quote;

/// The longest a remote probe may live, whatever happens to this process.
const MAX_LIFETIME_S: u64 = 900;
/// How long one command on the host may take.
const CALL: Duration = Duration::from_secs(30);
/// How often the file is read while waiting for the guest's answer.
const POLL: Duration = Duration::from_millis(700);

/// Where the probe runs: this machine (in a namespace, for lab hosts), or a
/// host's own shell (a dom0 behind a `jump`), its file in `dir` there.
pub enum ProbeFrom<'a> {
    Here { netns: Option<&'a str> },
    Host { shell: crate::backend::host_shell::HostShell, dir: &'a std::path::Path },
}

/// A running probe, wherever it runs.
pub enum DowntimeProbe {
    Here(super::probe::Probe),
    Host(RemoteProbe),
}

impl DowntimeProbe {
    pub async fn start(from: &ProbeFrom<'_>, addr: std::net::IpAddr) -> Result<DowntimeProbe, ProbeError> {
        match from {
            ProbeFrom::Here { netns } => super::probe::Probe::start(*netns, addr).map(DowntimeProbe::Here),
            ProbeFrom::Host { shell, dir } => RemoteProbe::start(shell, dir, addr).await.map(DowntimeProbe::Host),
        }
    }

    /// See [`super::probe::Probe::finish_after`].
    pub async fn finish_after(self, moved: f64, cap: Duration) -> Result<ProbeFigures, ProbeError> {
        match self {
            DowntimeProbe::Here(p) => p.finish_after(moved, cap).await,
            DowntimeProbe::Host(p) => p.finish_after(moved, cap).await,
        }
    }
}

pub struct RemoteProbe {
    shell: HostShell,
    pid: u32,
    file: String,
    /// This machine's clock minus the host's, in seconds.
    offset: f64,
}

impl RemoteProbe {
    /// Starts `ping` to `addr` on the host, its output in a file under `dir`
    /// (the run's directory there).
    pub async fn start(shell: &HostShell, dir: &Path, addr: IpAddr) -> Result<RemoteProbe, ProbeError> {
        let command = start_command(dir, addr);
        let t0 = unix_now();
        let out = shell.run_within(&command, CALL).await.map_err(|e| remote("start ping", &e))?;
        let t1 = unix_now();
        let (pid, file, host_now) = parse_started(&out)
            .ok_or_else(|| ProbeError::Remote(format!("unexpected answer from the host: {:?}", out.trim())))?;
        Ok(RemoteProbe { shell: shell.clone(), pid, file, offset: (t0 + t1) / 2.0 - host_now })
    }

    /// Waits until the guest answers after `moved` (this machine's Unix
    /// time) or `cap` passed, then stops the probe and computes its figures.
    pub async fn finish_after(self, moved: f64, cap: Duration) -> Result<ProbeFigures, ProbeError> {
        let moved_there = moved - self.offset;
        let until = Instant::now() + cap;
        let tail = format!("tail -n 5 {}", quote(&self.file));
        while Instant::now() < until {
            if let Ok(out) = self.shell.run_within(&tail, CALL).await
                && out.lines().filter_map(parse_reply).any(|(ts, _)| ts >= moved_there)
            {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        self.finish().await
    }

    /// Stops the remote ping (SIGINT, so it prints its count), reads and
    /// removes its file, and computes the figures.
    pub async fn finish(self) -> Result<ProbeFigures, ProbeError> {
        let out = self.shell.run_within(&finish_command(self.pid, &self.file), CALL).await;
        let out = out.map_err(|e| remote("stop ping", &e))?;
        let mut lines = out.lines();
        let end = lines.next().and_then(|l| l.trim().parse::<f64>().ok()).unwrap_or_else(|| unix_now() - self.offset);
        let mut replies = Vec::new();
        let mut transmitted = None;
        for line in lines {
            if let Some(r) = parse_reply(line) {
                replies.push(r);
            } else if let Some(t) = parse_transmitted(line) {
                transmitted = Some(t);
            }
        }
        figures(&replies, transmitted, end).ok_or(ProbeError::NoReplies)
    }
}

fn remote(what: &str, e: &dyn std::error::Error) -> ProbeError {
    ProbeError::Remote(format!("cannot {what} on the host: {}", crate::error_chain(e)))
}

/// Starts ping in the background; prints `PID FILE`, then the host's time.
fn start_command(dir: &Path, addr: IpAddr) -> String {
    let template = quote(&format!("{}/probe.XXXXXX", dir.display()));
    format!(
        "command -v ping >/dev/null || {{ echo 'no ping on the host (install iputils-ping)' >&2; exit 3; }}; \
         f=$(mktemp {template}) || exit 1; \
         ping -D -n -i 0.01 -W 1 -w {MAX_LIFETIME_S} {addr} >\"$f\" 2>&1 </dev/null & \
         echo \"$! $f\"; date +%s.%N"
    )
}

/// Prints the host's time, stops ping, then prints and removes its output.
fn finish_command(pid: u32, file: &str) -> String {
    let f = quote(file);
    format!(
        "date +%s.%N; kill -INT {pid} 2>/dev/null; i=0; \
         while kill -0 {pid} 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done; \
         kill -KILL {pid} 2>/dev/null; cat {f}; rm -f {f}"
    )
}

/// `PID FILE\nTIME` → (pid, file, time).
fn parse_started(out: &str) -> Option<(u32, String, f64)> {
    let mut lines = out.lines();
    let (pid, file) = lines.next()?.trim().split_once(' ')?;
    let now = lines.next()?.trim().parse().ok()?;
    Some((pid.parse().ok()?, file.to_string(), now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commands_quote_the_directory_and_bound_the_probe() {
        let c = start_command(Path::new("/var/tmp/virtsmoke/runs/r 1"), "10.88.1.20".parse().unwrap());
        assert!(c.contains("mktemp '/var/tmp/virtsmoke/runs/r 1/probe.XXXXXX'"), "{c}");
        assert!(c.contains("-w 900 10.88.1.20 >\"$f\""), "{c}");
        let f = finish_command(42, "/d/probe.'x");
        assert!(f.starts_with("date +%s.%N; kill -INT 42"), "{f}");
        assert!(f.ends_with("cat '/d/probe.'\\''x'; rm -f '/d/probe.'\\''x'"), "{f}");
    }

    #[test]
    fn the_start_answer_gives_pid_file_and_time() {
        assert_eq!(
            parse_started("4242 /var/tmp/probe.ab12\n1700000000.250000000\n"),
            Some((4242, "/var/tmp/probe.ab12".to_string(), 1700000000.25))
        );
        assert_eq!(parse_started("no ping\n"), None);
        assert_eq!(parse_started(""), None);
    }

    #[tokio::test]
    async fn probes_loopback_through_this_machines_shell_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = RemoteProbe::start(&HostShell::Local, dir.path(), "127.0.0.1".parse().unwrap()).await.unwrap();
        assert!(p.offset.abs() < 5.0, "same clock: {}", p.offset);
        let f = p.finish_after(unix_now(), Duration::from_secs(30)).await.unwrap();
        assert!(f.replies >= 1 && f.sent >= f.replies, "{f:?}");
        assert!(!f.open_at_end, "{f:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the probe's file is removed");
    }
}
