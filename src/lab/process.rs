//! Processes of a lab host: pid files, liveness, which network namespace a
//! process is in, and stopping everything in a namespace.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::wait::{POLL_INTERVAL, wait_until};

/// How long processes get to exit after SIGTERM, and after SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(10);
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// A namespace's identity: device and inode of its nsfs file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NsId {
    dev: u64,
    ino: u64,
}

impl NsId {
    /// The namespace a file (`/run/netns/NAME`, `/proc/PID/ns/net`) refers to.
    pub fn of(path: &Path) -> Option<NsId> {
        let m = fs::metadata(path).ok()?;
        Some(NsId { dev: m.dev(), ino: m.ino() })
    }

    pub fn of_pid(pid: i32) -> Option<NsId> {
        NsId::of(&Path::new("/proc").join(pid.to_string()).join("ns/net"))
    }
}

/// Parses a pid file: a positive decimal number, optionally surrounded by
/// white space.
pub fn parse_pid_file(text: &str) -> Option<i32> {
    let pid: i32 = text.trim().parse().ok()?;
    (pid > 0).then_some(pid)
}

/// The pid in `path`, if the file exists and holds one.
pub fn read_pid_file(path: &Path) -> Option<i32> {
    parse_pid_file(&fs::read_to_string(path).ok()?)
}

/// The process exists and is not a zombie.
pub fn is_alive(pid: i32) -> bool {
    match kill(Pid::from_raw(pid), None) {
        Ok(()) | Err(Errno::EPERM) => {}
        Err(_) => return false,
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(process_state(&stat), Some('Z' | 'X')),
        Err(_) => false,
    }
}

/// The state letter in `/proc/PID/stat` (after the parenthesised command,
/// which may itself contain spaces and parentheses).
pub fn process_state(stat: &str) -> Option<char> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

/// The command name of a process (`/proc/PID/comm`).
pub fn comm(pid: i32) -> Option<String> {
    Some(fs::read_to_string(format!("/proc/{pid}/comm")).ok()?.trim().to_string())
}

/// The pid in `pid_file` if that process is alive, in namespace `ns` and
/// named `name`. Guards against stale pid files and reused pids.
pub fn daemon_pid(pid_file: &Path, ns: Option<NsId>, name: &str) -> Option<i32> {
    let pid = read_pid_file(pid_file)?;
    let ok = is_alive(pid) && comm(pid).is_some_and(|c| c == name) && ns.is_none_or(|ns| NsId::of_pid(pid) == Some(ns));
    ok.then_some(pid)
}

/// Every live process whose network namespace is one of `namespaces`.
pub fn pids_in(namespaces: &[NsId]) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid| NsId::of_pid(pid).is_some_and(|ns| namespaces.contains(&ns)))
        .filter(|&pid| is_alive(pid))
        .collect();
    pids.sort_unstable();
    pids
}

/// Sends SIGTERM to `pids`, waits up to `TERM_GRACE`, sends SIGKILL to those
/// left, waits up to `KILL_GRACE`. Returns the pids still alive after that.
pub fn terminate(pids: &[i32]) -> Vec<i32> {
    let alive = |pids: &[i32]| pids.iter().copied().filter(|&p| is_alive(p)).collect::<Vec<_>>();
    for (signal, grace) in [(Signal::SIGTERM, TERM_GRACE), (Signal::SIGKILL, KILL_GRACE)] {
        let left = alive(pids);
        if left.is_empty() {
            return left;
        }
        for &pid in &left {
            let _ = kill(Pid::from_raw(pid), signal);
        }
        let _ = wait_until(grace, POLL_INTERVAL, || Ok::<_, ()>(alive(&left).is_empty()));
    }
    alive(pids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_files() {
        assert_eq!(parse_pid_file("1234\n"), Some(1234));
        assert_eq!(parse_pid_file("  77 "), Some(77));
        for bad in ["", "\n", "0", "-5", "12a", "99999999999", "1 2"] {
            assert_eq!(parse_pid_file(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn state_after_awkward_command_names() {
        assert_eq!(process_state("123 (libvirtd) S 1 2 3"), Some('S'));
        assert_eq!(process_state("9 (a) b) (c) Z 1"), Some('Z'));
        assert_eq!(process_state("garbage"), None);
    }

    #[test]
    fn liveness_of_self_and_of_a_reaped_child() {
        assert!(is_alive(std::process::id() as i32));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        assert!(!is_alive(pid));
    }

    #[test]
    fn zombie_is_not_alive() {
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        // Not reaped yet: a zombie once it exits.
        assert!(wait_until(Duration::from_secs(5), Duration::from_millis(5), || Ok::<_, ()>(!is_alive(pid))).unwrap());
        drop(child);
    }

    #[test]
    fn terminate_stops_a_process() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id() as i32;
        assert!(terminate(&[pid]).is_empty());
        child.wait().unwrap();
    }

    #[test]
    fn own_namespace_is_found() {
        let me = std::process::id() as i32;
        let ns = NsId::of_pid(me).unwrap();
        assert!(pids_in(&[ns]).contains(&me));
    }
}
