//! dom0's SSH host keys: recorded when a host boots, checked on every login.
//!
//! The dom0 image makes its host keys once per build, so a host's keys are
//! learnt after it starts: the first time its SSH server answers, `lab up`
//! asks it (`ssh-keyscan`, over loopback to the port this lab's own QEMU
//! forwards, before anything logs in there) and records the keys under
//! `[127.0.0.1]:PORT` in two files:
//!
//! - `DIR/xen/known_hosts`, the lab's own file, which scenarios name as their
//!   jump host's `known_hosts` (virtsmoke's SSH to dom0 and its guests);
//! - `~/.ssh/known_hosts`, which the `ssh` program libvirt's `xen+ssh`
//!   transport runs checks (the lab's URIs no longer say `no_verify=1`, so a
//!   host with another key is refused there too).
//!
//! A host started afresh, or removed, has its entries removed from both.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::layout::XenHostLayout;
use crate::lab::command::{self, QUICK};

/// Time limit of one `ssh-keyscan` (dom0 answers in well under a second once
/// its SSH server runs).
const SCAN_TIMEOUT_SECS: u32 = 5;

/// The key types asked for.
const SCAN_TYPES: &str = "ed25519,ecdsa,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa";

/// `$HOME/.ssh/known_hosts`, if `HOME` is set.
fn user_known_hosts() -> Option<PathBuf> {
    Some(PathBuf::from(std::env::var_os("HOME")?).join(".ssh/known_hosts"))
}

/// The name ssh files the host's key under.
pub fn entry_name(host: &XenHostLayout) -> String {
    format!("[127.0.0.1]:{}", host.port())
}

/// Removes the host's entries from the lab's file and from the user's. Best
/// effort: a failure only means the next login is refused until `lab up`.
pub fn forget(host: &XenHostLayout) {
    let name = entry_name(host);
    let _ = replace_entries(&host.known_hosts(), &name, &[]);
    let Some(file) = user_known_hosts().filter(|f| f.is_file()) else {
        return;
    };
    let file = file.display().to_string();
    let found = command::run(
        "look up the lab host key",
        &mut command::command(&["ssh-keygen", "-F", &name, "-f", &file]),
        QUICK,
    )
    .is_ok_and(|out| !out.stdout.is_empty());
    if found {
        let _ = command::run(
            "forget the lab host key",
            &mut command::command(&["ssh-keygen", "-R", &name, "-f", &file]),
            QUICK,
        );
    }
}

/// Whether the lab's file records a key of the host.
pub fn recorded(host: &XenHostLayout) -> bool {
    let name = entry_name(host);
    fs::read_to_string(host.known_hosts()).is_ok_and(|text| text.lines().any(|l| entry_of(l) == Some(&name)))
}

/// Asks the host's SSH server for its keys and records them in both files;
/// `Ok(false)` when it does not answer yet.
pub fn learn(host: &XenHostLayout) -> Result<bool, String> {
    let port = host.port().to_string();
    let timeout = SCAN_TIMEOUT_SECS.to_string();
    // Every type by name: OpenSSH 9.2's ssh-keyscan leaves ed25519 out by
    // default, and libssh2 (virtsmoke's own SSH) prefers it, so an unrecorded
    // ed25519 key would refuse every login.
    let mut cmd = command::command(&["ssh-keyscan", "-T", &timeout, "-t", SCAN_TYPES, "-p", &port, "127.0.0.1"]);
    let out = command::run_unchecked("scan dom0's host keys", &mut cmd, Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let name = entry_name(host);
    let lines = scanned_entries(&String::from_utf8_lossy(&out.stdout), &name);
    // The lab's dom0 has an ed25519 key (Debian makes one): a scan without it
    // is a server still starting (under load ssh-keyscan's connection for one
    // type can time out while another answers), and recording it would
    // refuse every login. Ask again.
    if !complete(&lines) {
        return Ok(false);
    }
    forget(host);
    replace_entries(&host.known_hosts(), &name, &lines)
        .map_err(|e| format!("cannot write {}: {e}", host.known_hosts().display()))?;
    if let Some(user) = user_known_hosts() {
        append_entries(&user, &lines).map_err(|e| format!("cannot write {}: {e}", user.display()))?;
    }
    Ok(true)
}

/// Whether a scan holds the key libssh2 prefers.
fn complete(lines: &[String]) -> bool {
    lines.iter().any(|l| l.split_whitespace().nth(1) == Some("ssh-ed25519"))
}

/// The host name a known_hosts line is for (`None` for comments, blank and
/// hashed lines).
fn entry_of(line: &str) -> Option<&str> {
    let name = line.split_whitespace().next()?;
    (!name.starts_with('#') && !name.starts_with('|')).then_some(name)
}

/// The `NAME TYPE KEY` lines of `ssh-keyscan`'s output for `name`.
pub(crate) fn scanned_entries(output: &str, name: &str) -> Vec<String> {
    output
        .lines()
        .filter(|l| entry_of(l) == Some(name))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3).then(|| format!("{} {} {}", f[0], f[1], f[2]))
        })
        .collect()
}

/// Rewrites `file` without the entries of `name`, then with `lines` (a new
/// file renamed over it). A missing file with nothing to add stays missing.
pub(crate) fn replace_entries(file: &Path, name: &str, lines: &[String]) -> std::io::Result<()> {
    let old = match fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && lines.is_empty() => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut text: String =
        old.lines().filter(|l| entry_of(l) != Some(name)).flat_map(|l| [l, "\n"]).collect::<String>();
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    if text == old {
        return Ok(());
    }
    let tmp = file.with_extension("new");
    let _ = fs::remove_file(&tmp);
    crate::fsutil::write_new(&tmp, text.as_bytes(), 0o644).map_err(std::io::Error::other)?;
    fs::rename(&tmp, file)
}

/// Appends `lines` to the user's known_hosts (made, with `~/.ssh`, if missing).
fn append_entries(file: &Path, lines: &[String]) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let mut f = fs::OpenOptions::new().append(true).create(true).mode(0o644).open(file)?;
    f.write_all(lines.iter().flat_map(|l| [l.as_str(), "\n"]).collect::<String>().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_without_the_ed25519_key_is_not_complete() {
        assert!(!complete(&["[127.0.0.1]:2221 ssh-rsa AAAA".to_string()]));
        assert!(complete(&["[127.0.0.1]:2221 ssh-rsa AAAA".into(), "[127.0.0.1]:2221 ssh-ed25519 AAAAC3".into()]));
    }

    #[test]
    fn entries_are_named_like_ssh_names_them() {
        let h = XenHostLayout::new(Path::new("/lab"), 3);
        assert_eq!(entry_name(&h), "[127.0.0.1]:2223");
        assert_eq!(h.known_hosts(), Path::new("/lab/xen/known_hosts"));
    }

    #[test]
    fn scanned_keys_are_read_for_the_host_only() {
        let out = "# 127.0.0.1:2221 SSH-2.0-OpenSSH_9.2p1 Debian-2\n\
                   [127.0.0.1]:2221 ssh-ed25519 AAAAC3Nza\n\
                   [127.0.0.1]:2221 ecdsa-sha2-nistp256 AAAAE2Vj extra\n\
                   [127.0.0.1]:2222 ssh-ed25519 AAAAother\n\
                   \n";
        assert_eq!(
            scanned_entries(out, "[127.0.0.1]:2221"),
            ["[127.0.0.1]:2221 ssh-ed25519 AAAAC3Nza", "[127.0.0.1]:2221 ecdsa-sha2-nistp256 AAAAE2Vj"]
        );
        assert!(scanned_entries("# only a comment\n", "[127.0.0.1]:2221").is_empty());
    }

    #[test]
    fn a_host_entry_is_replaced_and_the_others_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        replace_entries(&file, "[127.0.0.1]:2221", &[]).unwrap();
        assert!(!file.exists(), "nothing to record: no file");

        let one = |k: &str| vec![format!("[127.0.0.1]:2221 ssh-ed25519 {k}")];
        replace_entries(&file, "[127.0.0.1]:2221", &one("OLD")).unwrap();
        replace_entries(&file, "[127.0.0.1]:2222", &["[127.0.0.1]:2222 ssh-ed25519 TWO".into()]).unwrap();
        replace_entries(&file, "[127.0.0.1]:2221", &one("NEW")).unwrap();
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            "[127.0.0.1]:2222 ssh-ed25519 TWO\n[127.0.0.1]:2221 ssh-ed25519 NEW\n"
        );
        replace_entries(&file, "[127.0.0.1]:2221", &[]).unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "[127.0.0.1]:2222 ssh-ed25519 TWO\n");
        assert!(!dir.path().join("known_hosts.new").exists());
    }

    /// What the lab writes is what the jump host check reads.
    #[test]
    fn the_recorded_file_is_what_the_jump_check_accepts() {
        use crate::guest::jump::{HostKeyPolicy, verify_host_key};
        let dir = tempfile::tempdir().unwrap();
        let blob = [&[0, 0, 0, 11][..], b"ssh-ed25519", &[0, 0, 0, 32], &[7; 32]].concat();
        let other = [&[0, 0, 0, 11][..], b"ssh-ed25519", &[0, 0, 0, 32], &[8; 32]].concat();
        let h = XenHostLayout::new(dir.path(), 1);
        fs::create_dir_all(&h.lab).unwrap();
        let line = format!("{} ssh-ed25519 {}", entry_name(&h), crate::guest::base64::unpadded(&blob));
        let scanned = scanned_entries(&format!("# banner\n{line}\n"), &entry_name(&h));
        assert!(!recorded(&h));
        replace_entries(&h.known_hosts(), &entry_name(&h), &scanned).unwrap();
        assert!(recorded(&h));
        let policy = HostKeyPolicy::KnownHosts(h.known_hosts());
        let addr = h.ssh_address().parse().unwrap();
        verify_host_key(&policy, addr, &blob).unwrap();
        assert!(verify_host_key(&policy, addr, &other).is_err(), "another key at the lab's port is refused");
    }
}
