//! A timestamped reachability probe at 100 Hz from the host side to a guest:
//! the largest gap between answers is how long the guest was gone.
//!
//! It runs iputils `ping -D -i 0.01` (inside the host's network namespace for lab
//! hosts) and reads its timestamped replies.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot start ping (install iputils-ping)")]
    Spawn(#[source] std::io::Error),
    #[error("ping got no answer at all")]
    NoReplies,
    #[error("{0}")]
    Remote(String),
}

/// Figures of one probe window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeFigures {
    pub replies: u64,
    /// Probes sent, as ping counted them (its summary), not inferred from
    /// the replies: a loss at the end counts too.
    pub sent: u64,
    pub lost: u64,
    /// The largest time without an answer: between two consecutive answers,
    /// or from the last answer to the probe's end when no answer came after
    /// the move ([`ProbeFigures::open_at_end`]).
    pub largest_gap_ms: f64,
    /// The guest had not answered again when the probe ended: the gap is a
    /// lower bound.
    pub open_at_end: bool,
}

/// What ping printed: timestamped replies, and its own count of what it sent.
#[derive(Debug, Default)]
struct Heard {
    replies: Vec<(f64, u64)>,
    transmitted: Option<u64>,
}

pub struct Probe {
    child: Child,
    heard: Arc<Mutex<Heard>>,
    news: Arc<Notify>,
    reader: tokio::task::JoinHandle<()>,
}

impl Probe {
    /// Starts probing `addr`; `netns` is the namespace to probe from.
    pub fn start(netns: Option<&str>, addr: std::net::IpAddr) -> Result<Probe, ProbeError> {
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "ping"]);
                c
            }
            None => Command::new("ping"),
        };
        cmd.args(["-D", "-n", "-i", "0.01", "-W", "1"])
            .arg(addr.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(ProbeError::Spawn)?;
        let stdout = child.stdout.take().ok_or_else(|| ProbeError::Spawn(std::io::Error::other("no stdout")))?;
        let heard = Arc::new(Mutex::new(Heard::default()));
        let news = Arc::new(Notify::new());
        let reader = tokio::spawn(read_lines(stdout, Arc::clone(&heard), Arc::clone(&news)));
        Ok(Probe { child, heard, news, reader })
    }

    /// Waits until the guest answers after `moved` (a Unix time, seconds) or
    /// `cap` passed, then stops the probe and computes its figures.
    pub async fn finish_after(self, moved: f64, cap: Duration) -> Result<ProbeFigures, ProbeError> {
        let answered = |h: &Heard| h.replies.last().is_some_and(|r| r.0 >= moved);
        let _ = tokio::time::timeout(cap, async {
            loop {
                let notified = self.news.notified();
                if answered(&self.heard.lock().unwrap_or_else(|p| p.into_inner())) {
                    return;
                }
                notified.await;
            }
        })
        .await;
        self.finish().await
    }

    /// Stops the probe (SIGINT, so ping prints its count) and computes its figures.
    pub async fn finish(mut self) -> Result<ProbeFigures, ProbeError> {
        let end = unix_now();
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGINT);
        }
        if tokio::time::timeout(Duration::from_secs(3), self.child.wait()).await.is_err() {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
        let _ = self.reader.await;
        let heard = std::mem::take(&mut *self.heard.lock().unwrap_or_else(|p| p.into_inner()));
        figures(&heard.replies, heard.transmitted, end).ok_or(ProbeError::NoReplies)
    }
}

async fn read_lines(stdout: tokio::process::ChildStdout, heard: Arc<Mutex<Heard>>, news: Arc<Notify>) {
    let mut reader = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = reader.next_line().await {
        let mut h = heard.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = parse_reply(&line) {
            h.replies.push(r);
        } else if let Some(t) = parse_transmitted(&line) {
            h.transmitted = Some(t);
        }
        drop(h);
        news.notify_waiters();
    }
}

pub fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// `[1700000000.123456] 64 bytes from 10.77.0.5: icmp_seq=12 ttl=64 time=0.41 ms` → (timestamp, seq).
pub fn parse_reply(line: &str) -> Option<(f64, u64)> {
    let ts = line.strip_prefix('[')?.split(']').next()?.parse::<f64>().ok()?;
    if !line.contains(" bytes from ") {
        return None;
    }
    let seq = line.split("icmp_seq=").nth(1)?.split_whitespace().next()?.parse().ok()?;
    Some((ts, seq))
}

/// `253 packets transmitted, 241 received, 4.7% packet loss, time 2531ms` → 253.
pub fn parse_transmitted(line: &str) -> Option<u64> {
    line.split_once(" packets transmitted")?.0.trim().parse().ok()
}

/// The figures of a window that ended at `end` (Unix seconds). Without
/// ping's own count, what was sent is inferred from the sequence numbers (a
/// loss after the last answer is then not counted).
pub fn figures(replies: &[(f64, u64)], transmitted: Option<u64>, end: f64) -> Option<ProbeFigures> {
    let first = replies.first()?;
    let last = replies.last()?;
    let between = replies.windows(2).map(|w| w[1].0 - w[0].0).fold(0.0, f64::max);
    // Answers come every 10 ms: a silence of more than a second at the end
    // is a gap still open when the probe stopped.
    let tail = (end - last.0).max(0.0);
    let open_at_end = tail > 1.0;
    let largest_gap = if open_at_end { between.max(tail) } else { between };
    let sent = transmitted.unwrap_or_else(|| last.1.saturating_sub(first.1) + 1);
    let received = replies.len() as u64;
    Some(ProbeFigures {
        replies: received,
        sent,
        lost: sent.saturating_sub(received),
        largest_gap_ms: largest_gap * 1000.0,
        open_at_end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_and_gaps() {
        let lines = [
            "PING 10.77.0.5 (10.77.0.5) 56(84) bytes of data.",
            "[1700000000.000000] 64 bytes from 10.77.0.5: icmp_seq=1 ttl=64 time=0.41 ms",
            "[1700000000.010000] 64 bytes from 10.77.0.5: icmp_seq=2 ttl=64 time=0.40 ms",
            "[1700000000.520000] 64 bytes from 10.77.0.5: icmp_seq=52 ttl=64 time=0.50 ms",
            "[1700000000.530000] 64 bytes from 10.77.0.5: icmp_seq=53 ttl=64 time=0.50 ms",
            "[1700000000.600000] From 10.77.0.1 icmp_seq=60 Destination Host Unreachable",
        ];
        let replies: Vec<_> = lines.iter().filter_map(|l| parse_reply(l)).collect();
        assert_eq!(replies.len(), 4);
        // What ping says it sent counts, losses after the last answer included.
        let f = figures(&replies, Some(60), 1700000000.6).unwrap();
        assert_eq!(f.sent, 60);
        assert_eq!(f.lost, 56);
        assert!((f.largest_gap_ms - 510.0).abs() < 0.01, "{}", f.largest_gap_ms);
        assert!(!f.open_at_end);
        assert!(figures(&[], Some(3), 0.0).is_none());
        assert_eq!(parse_transmitted("60 packets transmitted, 4 received, 93.3% packet loss, time 600ms"), Some(60));
        assert_eq!(parse_transmitted("--- 10.77.0.5 ping statistics ---"), None);
    }

    #[test]
    fn a_gap_still_open_at_the_end_counts_until_the_end() {
        let replies = [(100.0, 1), (100.01, 2), (100.02, 3)];
        // No answer for 4 s after the last one: the guest is still gone.
        let f = figures(&replies, Some(400), 104.02).unwrap();
        assert!(f.open_at_end);
        assert!((f.largest_gap_ms - 4000.0).abs() < 0.01, "{}", f.largest_gap_ms);
        assert_eq!(f.lost, 397);
    }

    #[tokio::test]
    async fn probes_loopback_for_real() {
        let p = Probe::start(None, "127.0.0.1".parse().unwrap()).unwrap();
        // Returns at the first answer after "now", well before the cap.
        let f = p.finish_after(unix_now(), Duration::from_secs(30)).await.unwrap();
        assert!(f.replies >= 1, "{f:?}");
        assert!(f.sent >= f.replies, "{f:?}");
        assert!(!f.open_at_end && f.largest_gap_ms < 1000.0, "{f:?}");
    }
}
