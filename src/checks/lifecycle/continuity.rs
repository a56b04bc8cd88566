//! What must survive a pause, a save and restore (or a migration): the same
//! boot, an uptime that did not go back, a process started before it.

use std::time::Duration;

use crate::guest::ssh::{self, SshTarget};

/// Read before the event, compared after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Marks {
    pub boot_id: String,
    pub uptime_s: f64,
    /// A background process started for the purpose.
    pub pid: String,
}

/// Prints the boot id, the uptime and the pid of a new background process.
const PLANT: &str = "cat /proc/sys/kernel/random/boot_id; cut -d' ' -f1 /proc/uptime; \
     setsid sleep 1000000 </dev/null >/dev/null 2>&1 & echo $!";

/// Reads the guest's marks and starts the background process.
pub async fn plant(target: &SshTarget, timeout: Duration) -> Result<Marks, String> {
    let out = ssh::exec(target, PLANT, timeout)
        .await
        .map_err(|e| format!("the guest did not answer before the check: {}", crate::error_chain(&e)))?;
    parse_marks(&out.stdout).ok_or_else(|| format!("unexpected answer to the continuity probe: {:?}", out.stdout))
}

fn parse_marks(out: &str) -> Option<Marks> {
    let mut lines = out.lines().map(str::trim);
    let boot_id = lines.next().filter(|l| !l.is_empty())?.to_string();
    let uptime_s = lines.next()?.parse().ok()?;
    let pid = lines.next().filter(|l| l.chars().all(|c| c.is_ascii_digit()) && !l.is_empty())?.to_string();
    Some(Marks { boot_id, uptime_s, pid })
}

/// The command whose output [`lost`] judges.
pub fn verify_command(marks: &Marks) -> String {
    format!(
        "cat /proc/sys/kernel/random/boot_id; cut -d' ' -f1 /proc/uptime; kill -0 {} 2>/dev/null && echo alive",
        marks.pid
    )
}

/// What did not survive, judged from [`verify_command`]'s output: empty when all did.
pub fn lost(before: &Marks, after_output: &str) -> Vec<String> {
    let mut lines = after_output.lines().map(str::trim);
    let boot_id = lines.next().unwrap_or("");
    let uptime: Option<f64> = lines.next().and_then(|u| u.parse().ok());
    let alive = lines.next() == Some("alive");
    let mut lost = Vec::new();
    if boot_id != before.boot_id {
        lost.push(format!("the guest booted again (boot id {} became {boot_id:?})", before.boot_id));
    }
    match uptime {
        Some(u) if u < before.uptime_s => {
            lost.push(format!("the uptime went back from {:.1}s to {u:.1}s", before.uptime_s));
        }
        Some(_) => {}
        None => lost.push("the guest's uptime could not be read".into()),
    }
    if !alive {
        lost.push(format!("the background process {} started before is gone", before.pid));
    }
    lost
}

/// Reconnects and judges what survived: `Err` with everything lost.
pub async fn verify(target: &SshTarget, before: &Marks, timeout: Duration) -> Result<(), String> {
    let out = ssh::exec(target, &verify_command(before), timeout)
        .await
        .map_err(|e| format!("cannot reconnect over SSH: {}", crate::error_chain(&e)))?;
    let lost = lost(before, &out.stdout);
    if lost.is_empty() { Ok(()) } else { Err(format!("continuity lost: {}", lost.join("; "))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks() -> Marks {
        Marks { boot_id: "b1".into(), uptime_s: 12.5, pid: "165".into() }
    }

    #[test]
    fn marks_are_read_from_the_probe() {
        assert_eq!(parse_marks("b1\n12.5\n165\n"), Some(marks()));
        assert_eq!(parse_marks("b1\n12.5\n"), None);
        assert_eq!(parse_marks("b1\nxx\n165\n"), None);
    }

    #[test]
    fn nothing_is_lost_when_all_survived() {
        assert!(lost(&marks(), "b1\n13.0\nalive\n").is_empty());
    }

    #[test]
    fn each_loss_is_named() {
        let l = lost(&marks(), "b2\n1.0\n");
        assert_eq!(l.len(), 3, "{l:?}");
        assert!(l[0].contains("booted again"));
        assert!(l[1].contains("went back"));
        assert!(l[2].contains("165"));
        assert!(lost(&marks(), "").iter().any(|m| m.contains("could not be read")));
    }
}
