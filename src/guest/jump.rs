//! Reaching a guest through an SSH jump host (a Xen dom0, a QA host with guests
//! on a private bridge): the first session opens a direct-tcpip channel to the
//! guest, and a pump thread joins that channel to a socket pair, because the
//! second session needs a real file descriptor.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ssh2::Session;

use super::netns;

/// The first hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHost {
    pub addr: SocketAddr,
    pub user: String,
    pub private_key: PathBuf,
    pub netns: Option<String>,
    /// Which host key the jump host must offer before virtsmoke logs in.
    pub host_key: HostKeyPolicy,
}

/// What a jump host's key must be.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// Any key is accepted: commands go to whatever answers at the address.
    /// Only for a scenario that says so explicitly.
    #[default]
    None,
    /// The key recorded for the address in this OpenSSH `known_hosts` file
    /// (`[ip]:port` for a port other than 22).
    KnownHosts(PathBuf),
    /// A pinned SHA256 fingerprint as `ssh-keygen -l` prints it (`SHA256:...`).
    Sha256(String),
}

impl std::fmt::Display for JumpHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.user, self.addr)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JumpError {
    #[error("cannot connect to jump host {0}")]
    Connect(String, #[source] std::io::Error),
    #[error("ssh to jump host {0} failed")]
    Session(String, #[source] ssh2::Error),
    #[error("jump host {jump} cannot reach {target}")]
    Forward {
        jump: String,
        target: SocketAddr,
        #[source]
        source: ssh2::Error,
    },
    #[error("cannot create the local socket pair")]
    Pair(#[source] std::io::Error),
    #[error("jump host {0} sent no host key")]
    NoHostKey(String),
    #[error(
        "jump host {jump} offered the host key SHA256:{offered}, but {expected}: refusing to log in \
         (something else answers at that address, or its key changed)"
    )]
    HostKey { jump: String, offered: String, expected: String },
    #[error("cannot read the known hosts file {}", .0.display())]
    KnownHosts(PathBuf, #[source] ssh2::Error),
}

/// Opens a byte stream to `target` through `jump`. The returned socket is the
/// local end; the pump thread lives as long as either side is open.
pub fn open(jump: &JumpHost, target: SocketAddr, timeout: Duration) -> Result<UnixStream, JumpError> {
    let j = jump.to_string();
    let tcp =
        netns::connect_tcp(jump.netns.as_deref(), jump.addr, timeout).map_err(|e| JumpError::Connect(j.clone(), e))?;
    let mut sess = Session::new().map_err(|e| JumpError::Session(j.clone(), e))?;
    sess.set_tcp_stream(tcp);
    sess.set_timeout(timeout.as_millis().clamp(1, u32::MAX as u128) as u32);
    sess.handshake().map_err(|e| JumpError::Session(j.clone(), e))?;
    let (offered, _) = sess.host_key().ok_or_else(|| JumpError::NoHostKey(j.clone()))?;
    verify_host_key(&jump.host_key, jump.addr, offered).map_err(|e| e.into_error(&j))?;
    sess.userauth_pubkey_file(&jump.user, None, &jump.private_key, None)
        .map_err(|e| JumpError::Session(j.clone(), e))?;
    let channel = sess
        .channel_direct_tcpip(&target.ip().to_string(), target.port(), None)
        .map_err(|source| JumpError::Forward { jump: j.clone(), target, source })?;
    let (local, remote) = UnixStream::pair().map_err(JumpError::Pair)?;
    std::thread::Builder::new()
        .name("ssh-jump-pump".into())
        .spawn(move || pump(sess, channel, remote))
        .map_err(JumpError::Pair)?;
    Ok(local)
}

/// Why an offered key is refused, before the jump host's name is added.
#[derive(Debug)]
pub(crate) enum KeyRefusal {
    Mismatch { offered: String, expected: String },
    KnownHosts(PathBuf, ssh2::Error),
}

impl KeyRefusal {
    fn into_error(self, jump: &str) -> JumpError {
        match self {
            KeyRefusal::Mismatch { offered, expected } => {
                JumpError::HostKey { jump: jump.to_string(), offered, expected }
            }
            KeyRefusal::KnownHosts(path, e) => JumpError::KnownHosts(path, e),
        }
    }
}

/// The SHA256 fingerprint of a key blob, as `ssh-keygen -l` prints it after `SHA256:`.
fn fingerprint(blob: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    super::base64::unpadded(&Sha256::digest(blob))
}

/// Whether the key `offered` (its wire blob) at `addr` is what `policy` expects.
pub(crate) fn verify_host_key(policy: &HostKeyPolicy, addr: SocketAddr, offered: &[u8]) -> Result<(), KeyRefusal> {
    let seen = fingerprint(offered);
    let mismatch = |expected: String| Err(KeyRefusal::Mismatch { offered: seen.clone(), expected });
    match policy {
        HostKeyPolicy::None => Ok(()),
        HostKeyPolicy::Sha256(pinned) => {
            let pinned = pinned.trim().strip_prefix("SHA256:").unwrap_or(pinned.trim()).trim_end_matches('=');
            if pinned == seen { Ok(()) } else { mismatch(format!("the pinned key is SHA256:{pinned}")) }
        }
        HostKeyPolicy::KnownHosts(path) => {
            let known = known_hosts(path).map_err(|e| KeyRefusal::KnownHosts(path.clone(), e))?;
            let host = addr.ip().to_string();
            match known.check_port(&host, addr.port(), offered) {
                ssh2::CheckResult::Match => Ok(()),
                ssh2::CheckResult::Mismatch => {
                    let listed = recorded_fingerprints(&known, &host, addr.port());
                    let listed = if listed.is_empty() { String::new() } else { format!(" ({})", listed.join(", ")) };
                    mismatch(format!("{} records another key for {host}{listed}", path.display()))
                }
                ssh2::CheckResult::NotFound => mismatch(format!("{} records no key for {host}", path.display())),
                ssh2::CheckResult::Failure => mismatch(format!("{} could not be checked for {host}", path.display())),
            }
        }
    }
}

fn known_hosts(path: &Path) -> Result<ssh2::KnownHosts, ssh2::Error> {
    let mut known = ssh2::Session::new()?.known_hosts()?;
    known.read_file(path, ssh2::KnownHostFileKind::OpenSSH)?;
    Ok(known)
}

/// The fingerprints recorded under a plain (not hashed) name for the host.
fn recorded_fingerprints(known: &ssh2::KnownHosts, host: &str, port: u16) -> Vec<String> {
    let names = [host.to_string(), format!("[{host}]:{port}")];
    let Ok(hosts) = known.hosts() else { return Vec::new() };
    hosts
        .iter()
        .filter(|h| h.name().is_some_and(|n| names.iter().any(|m| m == n)))
        .filter_map(|h| super::base64::decode(h.key()))
        .map(|blob| format!("SHA256:{}", fingerprint(&blob)))
        .collect()
}

/// Copies bytes both ways until either side closes.
fn pump(sess: Session, mut channel: ssh2::Channel, mut sock: UnixStream) {
    sess.set_blocking(false);
    if sock.set_nonblocking(true).is_err() {
        return;
    }
    let mut buf = vec![0u8; 32 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let mut idle = true;
        // Socket -> channel.
        if pending.is_empty() {
            match sock.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        if !pending.is_empty() {
            match channel.write(&pending) {
                Ok(n) => {
                    pending.drain(..n);
                    idle = false;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        // Channel -> socket.
        match channel.read(&mut buf) {
            Ok(0) if channel.eof() => break,
            Ok(0) => {}
            Ok(n) => {
                idle = false;
                if write_all_nonblocking(&mut sock, &buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
        if idle {
            // libssh2's non-blocking mode has no readiness notification we can
            // share with the socket's, so an idle pump naps briefly.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let _ = channel.close();
}

fn write_all_nonblocking(sock: &mut UnixStream, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        match sock.write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ed25519 key made by ssh-keygen: its public line and its blob.
    fn key(dir: &Path, name: &str) -> Option<(String, Vec<u8>)> {
        let path = dir.join(name);
        let ok = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
        let line = std::fs::read_to_string(path.with_extension("pub")).unwrap();
        let blob = super::super::base64::decode(line.split_whitespace().nth(1).unwrap()).unwrap();
        Some((line.split_whitespace().take(2).collect::<Vec<_>>().join(" "), blob))
    }

    #[test]
    fn a_pinned_fingerprint_must_match() {
        let addr: SocketAddr = "192.0.2.1:22".parse().unwrap();
        let blob = b"a host key blob";
        let fp = fingerprint(blob);
        verify_host_key(&HostKeyPolicy::Sha256(format!("SHA256:{fp}")), addr, blob).unwrap();
        verify_host_key(&HostKeyPolicy::Sha256(format!("{fp}=")), addr, blob).unwrap();
        verify_host_key(&HostKeyPolicy::None, addr, blob).unwrap();
        let other = fingerprint(b"another key");
        let err = verify_host_key(&HostKeyPolicy::Sha256(format!("SHA256:{other}")), addr, blob).unwrap_err();
        let msg = err.into_error("root@192.0.2.1:22").to_string();
        assert!(msg.contains(&format!("offered the host key SHA256:{fp}")), "{msg}");
        assert!(msg.contains(&format!("the pinned key is SHA256:{other}")), "{msg}");
        assert!(msg.contains("refusing to log in"), "{msg}");
    }

    #[test]
    fn known_hosts_are_read_with_libssh2() {
        let dir = tempfile::tempdir().unwrap();
        let (Some((a_line, a)), Some((_, b))) = (key(dir.path(), "a"), key(dir.path(), "b")) else {
            eprintln!("skipped: no ssh-keygen");
            return;
        };
        let known = dir.path().join("known_hosts");
        std::fs::write(&known, format!("[127.0.0.1]:2222 {a_line}\n192.0.2.9 {a_line}\n")).unwrap();
        let policy = HostKeyPolicy::KnownHosts(known.clone());
        let addr: SocketAddr = "127.0.0.1:2222".parse().unwrap();
        verify_host_key(&policy, addr, &a).unwrap();
        verify_host_key(&policy, "192.0.2.9:22".parse().unwrap(), &a).unwrap();

        let msg = verify_host_key(&policy, addr, &b).unwrap_err().into_error("root@127.0.0.1:2222").to_string();
        assert!(msg.contains(&format!("offered the host key SHA256:{}", fingerprint(&b))), "{msg}");
        assert!(msg.contains(&format!("records another key for 127.0.0.1 (SHA256:{})", fingerprint(&a))), "{msg}");

        let msg =
            verify_host_key(&policy, "127.0.0.2:22".parse().unwrap(), &a).unwrap_err().into_error("j").to_string();
        assert!(msg.contains("records no key for 127.0.0.2"), "{msg}");

        let missing = HostKeyPolicy::KnownHosts(dir.path().join("nope"));
        assert!(matches!(verify_host_key(&missing, addr, &a), Err(KeyRefusal::KnownHosts(..))));
    }
}
