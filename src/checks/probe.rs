//! A timestamped reachability probe at 100 Hz from the host side to a guest:
//! the largest gap between answers is how long the guest was gone.
//!
//! It runs iputils `ping -D -i 0.01` (inside the host's network namespace for lab
//! hosts) and reads its timestamped replies.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot start ping (install iputils-ping)")]
    Spawn(#[source] std::io::Error),
    #[error("ping got no answer at all")]
    NoReplies,
}

/// Figures of one probe window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeFigures {
    pub replies: u64,
    pub sent: u64,
    pub lost: u64,
    /// The largest time between two consecutive answers.
    pub largest_gap_ms: f64,
}

pub struct Probe {
    child: Child,
    lines: tokio::task::JoinHandle<Vec<(f64, u64)>>,
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
        let lines = tokio::spawn(async move {
            let mut out = Vec::new();
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Some(r) = parse_reply(&line) {
                    out.push(r);
                }
            }
            out
        });
        Ok(Probe { child, lines })
    }

    /// Stops the probe and computes its figures.
    pub async fn finish(mut self) -> Result<ProbeFigures, ProbeError> {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        let replies = self.lines.await.unwrap_or_default();
        figures(&replies).ok_or(ProbeError::NoReplies)
    }
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

pub fn figures(replies: &[(f64, u64)]) -> Option<ProbeFigures> {
    let first = replies.first()?;
    let last = replies.last()?;
    let largest_gap = replies.windows(2).map(|w| w[1].0 - w[0].0).fold(0.0, f64::max);
    let sent = last.1.saturating_sub(first.1) + 1;
    let received = replies.len() as u64;
    Some(ProbeFigures {
        replies: received,
        sent,
        lost: sent.saturating_sub(received),
        largest_gap_ms: largest_gap * 1000.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        let f = figures(&replies).unwrap();
        assert_eq!(f.sent, 53);
        assert_eq!(f.lost, 49);
        assert!((f.largest_gap_ms - 510.0).abs() < 0.01, "{}", f.largest_gap_ms);
        assert!(figures(&[]).is_none());
    }

    #[tokio::test]
    async fn probes_loopback_for_real() {
        let p = Probe::start(None, "127.0.0.1".parse().unwrap()).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let f = p.finish().await.unwrap();
        assert!(f.replies >= 5, "{f:?}");
        assert!(f.largest_gap_ms < 1000.0, "{f:?}");
    }
}
