//! Logging in to a guest kept for a human (`--keep`, `--keep-on-failure`): the command
//! line to paste, and a known_hosts file with the host key the boot check
//! verified, so that the printed `ssh` checks the key instead of ignoring it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::guest::ssh::{self, SshTarget, base64_unpadded};

/// How the printed command checks the guest's host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyFile {
    /// The file holds the key virtsmoke verified: ssh refuses any other.
    Verified(PathBuf),
    /// No verified key could be written (`why`, which the line says): ssh
    /// trusts the key it is shown first and remembers it in `file` (a changed
    /// key is refused afterwards; BatchMode still works).
    Unverified { file: PathBuf, why: String },
}

/// Writes `file` with the guest's host key, when the boot check verified one
/// (its SHA256 pinned on `target`) and the guest still shows its public keys.
pub async fn write_for(target: &SshTarget, file: &Path) -> HostKeyFile {
    match verified_entry(target).await {
        // A new file: a name planted in the run's directory is not followed.
        Ok(entry) => match crate::fsutil::write_new(file, entry.as_bytes(), 0o600) {
            Ok(()) => HostKeyFile::Verified(file.to_path_buf()),
            Err(e) => unverified(file, crate::error_chain(&e)),
        },
        Err(why) => unverified(file, why),
    }
}

fn unverified(file: &Path, why: String) -> HostKeyFile {
    HostKeyFile::Unverified { file: file.to_path_buf(), why }
}

/// The known_hosts line of the key the boot check verified.
async fn verified_entry(target: &SshTarget) -> Result<String, String> {
    let Some(pinned) = &target.host_key_sha256 else {
        return Err("virtsmoke did not check this guest's host key (the test image makes new ones at every \
                    boot and prints none)"
            .into());
    };
    // The connection itself checks the pinned key: what it reads is the guest's.
    let out = ssh::exec(target, "cat /etc/ssh/ssh_host_*_key.pub", Duration::from_secs(20))
        .await
        .map_err(|e| format!("the guest's public host keys could not be read: {}", crate::error_chain(&e)))?;
    matching_entry(&out.stdout, pinned, target.addr).ok_or_else(|| {
        let fps: Vec<String> = pinned.iter().map(|f| format!("SHA256:{f}")).collect();
        format!("none of the guest's public host keys is the one verified ({})", fps.join(", "))
    })
}

/// Among `ssh_host_*_key.pub` lines, the one whose key has one of the `pinned`
/// SHA256 fingerprints, as a known_hosts line for `addr`.
pub fn matching_entry(pub_keys: &str, pinned: &[String], addr: std::net::SocketAddr) -> Option<String> {
    let host = if addr.port() == 22 { addr.ip().to_string() } else { format!("[{}]:{}", addr.ip(), addr.port()) };
    pub_keys.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (kind, blob) = (fields.next()?, fields.next()?);
        let fp = base64_unpadded(&Sha256::digest(base64_decode(blob)?));
        pinned.contains(&fp).then(|| format!("{host} {kind} {blob}\n"))
    })
}

/// Standard base64 (padding optional); `None` for anything else.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits = s.trim_end_matches('=').bytes().map(value).collect::<Option<Vec<u8>>>()?;
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
        out.extend(n.to_be_bytes()[1..].iter().take(chunk.len().saturating_sub(1)));
    }
    Some(out)
}

/// The command line that logs in to a kept guest as it is: through the jump
/// host with the jump's own key, and checking the guest's host key.
pub fn ssh_line(s: &SshTarget, known: &HostKeyFile) -> String {
    let ns = netns(s).map(|n| format!("ip netns exec {} ", word(n))).unwrap_or_default();
    let jump = s.jump.as_ref().map(|j| format!("-o ProxyCommand={} ", word(&proxy_command(j)))).unwrap_or_default();
    let (note, check, file) = match known {
        HostKeyFile::Verified(file) => (String::new(), "yes", file),
        HostKeyFile::Unverified { file, why } => {
            let note =
                format!("echo {} >&2; ", word(&format!("host key not verified: {why}; ssh trusts the first it sees")));
            (note, "accept-new", file)
        }
    };
    format!(
        "{note}{ns}ssh {jump}-i {} -o IdentitiesOnly=yes -o StrictHostKeyChecking={check} -o {} {}",
        word(&s.private_key.to_string_lossy()),
        word(&format!("UserKnownHostsFile={}", file.display())),
        word(&format!("{}@{}", s.user, s.addr.ip()))
    )
}

/// The network namespace the login runs in: the guest's, else its jump host's.
fn netns(s: &SshTarget) -> Option<&str> {
    s.netns.as_deref().or(s.jump.as_ref().and_then(|j| j.netns.as_deref()))
}

/// The ProxyCommand through a jump host: a command line of its own, which ssh
/// gives to a shell, so its values are quoted.
fn proxy_command(j: &crate::guest::jump::JumpHost) -> String {
    format!(
        "ssh -i {} -o IdentitiesOnly=yes -p {} -W %h:%p {}",
        word(&j.private_key.to_string_lossy()),
        j.addr.port(),
        word(&format!("{}@{}", j.user, j.addr.ip()))
    )
}

/// The login of [`ssh_line`] as a program and its arguments (for `virtsmoke
/// ssh`, which runs it without a shell): the same words, and `--` before the
/// guest so that a command given after it is never read as an option. An
/// unverified host key is said by `StrictHostKeyChecking=accept-new`.
pub fn ssh_argv(s: &SshTarget, known: &HostKeyFile) -> Vec<String> {
    let mut argv: Vec<String> = Vec::new();
    if let Some(ns) = netns(s) {
        argv.extend(["ip", "netns", "exec", ns].map(String::from));
    }
    argv.push("ssh".into());
    if let Some(j) = &s.jump {
        argv.extend(["-o".into(), format!("ProxyCommand={}", proxy_command(j))]);
    }
    let (check, file) = match known {
        HostKeyFile::Verified(file) => ("yes", file),
        HostKeyFile::Unverified { file, .. } => ("accept-new", file),
    };
    argv.extend([
        "-i".into(),
        s.private_key.to_string_lossy().into_owned(),
        "-o".into(),
        "IdentitiesOnly=yes".into(),
        "-o".into(),
        format!("StrictHostKeyChecking={check}"),
        "-o".into(),
        format!("UserKnownHostsFile={}", file.display()),
        "--".into(),
        format!("{}@{}", s.user, s.addr.ip()),
    ]);
    argv
}

/// Lines for a human to paste quote only what needs quoting.
pub use crate::shell::word;

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINMJte9zLImg4MuYF+/kvE9CMM7cPRRYLDjqiC7yaq1X test";
    /// `ssh-keygen -lf` of KEY.
    const KEY_SHA256: &str = "JSnzpOUFhKIx8lLx1WXdttp8DcbuKa0JUQ08LHJ1oMU";

    fn target(jump: bool) -> SshTarget {
        SshTarget {
            addr: "10.77.0.5:22".parse().unwrap(),
            netns: Some("vs-lab-h1".into()),
            user: "root".into(),
            private_key: "/runs/r1/id_ed25519".into(),
            jump: jump.then(|| crate::guest::jump::JumpHost {
                addr: "127.0.0.1:2221".parse().unwrap(),
                user: "root".into(),
                private_key: "/lab/dom0_key".into(),
                netns: Some("vs-lab-h1".into()),
                host_key: Default::default(),
            }),
            host_key_sha256: Some(vec![KEY_SHA256.into()]),
        }
    }

    #[test]
    fn base64_decodes_what_it_encodes() {
        for bytes in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", &[0xff, 0x00, 0x7f]] {
            assert_eq!(base64_decode(&base64_unpadded(bytes)).as_deref(), Some(bytes));
        }
        assert_eq!(base64_decode("Zm9vYg==").as_deref(), Some(&b"foob"[..]));
        assert_eq!(base64_decode("not base64!"), None);
    }

    #[test]
    fn the_verified_key_becomes_a_known_hosts_line() {
        let other = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0 other";
        let keys = format!("{other}\n{KEY}\n");
        let addr = "10.77.0.5:22".parse().unwrap();
        assert_eq!(
            matching_entry(&keys, &[KEY_SHA256.into()], addr).as_deref(),
            Some("10.77.0.5 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINMJte9zLImg4MuYF+/kvE9CMM7cPRRYLDjqiC7yaq1X\n")
        );
        assert_eq!(matching_entry(other, &[KEY_SHA256.into()], addr), None);
        let port = "10.77.0.5:2222".parse().unwrap();
        assert!(matching_entry(KEY, &[KEY_SHA256.into()], port).unwrap().starts_with("[10.77.0.5]:2222 "));
    }

    #[test]
    fn the_printed_line_goes_through_the_jump_with_its_key_and_checks_the_host_key() {
        let known = HostKeyFile::Verified("/runs/r1/vs-r1-0-tiny.known_hosts".into());
        assert_eq!(
            ssh_line(&target(true), &known),
            "ip netns exec vs-lab-h1 ssh -o ProxyCommand='ssh -i /lab/dom0_key -o IdentitiesOnly=yes -p 2221 \
             -W %h:%p root@127.0.0.1' -i /runs/r1/id_ed25519 -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes \
             -o UserKnownHostsFile=/runs/r1/vs-r1-0-tiny.known_hosts root@10.77.0.5"
        );
        let line = ssh_line(&target(false), &known);
        assert!(!line.contains("ProxyCommand") && !line.contains("StrictHostKeyChecking=no"), "{line}");
    }

    #[test]
    fn an_unverified_key_is_said_and_trusted_on_first_use() {
        let known = HostKeyFile::Unverified { file: "/runs/r1/g.known_hosts".into(), why: "it's not known".into() };
        let line = ssh_line(&target(false), &known);
        assert!(
            line.starts_with(
                r"echo 'host key not verified: it'\''s not known; ssh trusts the first it sees' >&2; ip netns"
            ),
            "{line}"
        );
        let check = "-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=/runs/r1/g.known_hosts ";
        assert!(line.contains(check), "{line}");
    }

    /// The words `sh` makes of `line`, each printed in brackets.
    fn words_of(line: &str) -> String {
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("set -- {line}; printf '[%s]' \"$@\""))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn hostile_values_stay_one_word_each() {
        let mut t = target(true);
        let evil = "/tmp/x'; touch /tmp/pwned; '";
        t.private_key = evil.into();
        t.jump.as_mut().unwrap().private_key = "/lab/a key".into();
        t.netns = Some("ns;id".into());
        let known = HostKeyFile::Verified("/runs/r 1/g.known_hosts".into());
        let line = ssh_line(&t, &known);
        let words = words_of(&line);
        assert!(words.starts_with("[ip][netns][exec][ns;id][ssh][-o][ProxyCommand=ssh -i '/lab/a key' "), "{words}");
        assert!(words.contains(&format!("[-i][{evil}][")), "{words}");
        assert!(words.contains("[-o][UserKnownHostsFile=/runs/r 1/g.known_hosts][root@10.77.0.5]"), "{words}");
        // The proxy command is a line of its own: the jump's key is one word there too.
        let proxy = words.split("[ProxyCommand=").nth(1).unwrap().split(']').next().unwrap();
        assert_eq!(
            words_of(proxy),
            "[ssh][-i][/lab/a key][-o][IdentitiesOnly=yes][-p][2221][-W][%h:%p][root@127.0.0.1]"
        );
        assert_eq!(word("plain/path-1.x"), "plain/path-1.x");
        assert_eq!(word(""), "''");
    }

    #[test]
    fn the_argv_is_the_printed_line_s_words_with_an_end_of_options_before_the_guest() {
        let mut t = target(true);
        t.private_key = "/tmp/x'; touch /tmp/pwned; '".into();
        t.netns = Some("ns;id".into());
        for known in [
            HostKeyFile::Verified("/runs/r 1/g.known_hosts".into()),
            HostKeyFile::Unverified { file: "/runs/r1/g.known_hosts".into(), why: "unknown".into() },
        ] {
            let line = ssh_line(&t, &known);
            let line = line.split(">&2; ").last().unwrap();
            let mut argv = ssh_argv(&t, &known);
            let guest = argv.pop().unwrap();
            assert_eq!(argv.pop().as_deref(), Some("--"));
            argv.push(guest);
            let bracketed: String = argv.iter().map(|a| format!("[{a}]")).collect();
            assert_eq!(bracketed, words_of(line));
        }
        let plain = ssh_argv(&target(false), &HostKeyFile::Verified("/k".into()));
        assert_eq!(plain.first().map(String::as_str), Some("ip"), "{plain:?}");
        assert!(!plain.iter().any(|a| a.contains("ProxyCommand")), "{plain:?}");
    }
}
