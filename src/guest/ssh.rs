//! Running commands in a guest over SSH, with deadlines and typed errors.

use std::io::Read;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ssh2::Session;

pub use super::base64::unpadded as base64_unpadded;
use super::exec_io::{self, CommandOutput, DrainError};
use super::netns;

const LIBSSH2_ERROR_TIMEOUT: i32 = -9;
/// How long closing a channel may wait once its command failed or timed out.
const CLOSE_AFTER_FAILURE_MS: u32 = 100;

/// Where and how to reach a guest's SSH server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub addr: SocketAddr,
    /// Network namespace to connect from (lab hosts, private guest bridges).
    pub netns: Option<String>,
    pub user: String,
    pub private_key: PathBuf,
    /// Reach the guest through this SSH host instead of directly.
    pub jump: Option<super::jump::JumpHost>,
    /// When set, the server's host key must have one of these SHA256
    /// fingerprints (base64 without padding, as `ssh-keygen -l` prints them
    /// after `SHA256:`) or the connection is refused before authenticating.
    /// `None` accepts any host key.
    pub host_key_sha256: Option<Vec<String>>,
}

impl std::fmt::Display for SshTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.user, self.addr)?;
        if let Some(ns) = &self.netns {
            write!(f, " (netns {ns})")?;
        }
        if let Some(j) = &self.jump {
            write!(f, " (via {j})")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("cannot connect to {target}")]
    Connect {
        target: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot reach {target} through its jump host")]
    Jump {
        target: String,
        #[source]
        source: super::jump::JumpError,
    },
    #[error("ssh handshake with {target} failed")]
    Handshake {
        target: String,
        #[source]
        source: ssh2::Error,
    },
    #[error(
        "the host key of {target} is SHA256:{seen}, none of the fingerprints the guest printed on its console \
         ({expected}): something else answers at that address, or the guest's keys changed"
    )]
    HostKey { target: String, seen: String, expected: String },
    #[error("{target} sent no host key")]
    NoHostKey { target: String },
    #[error("{target} refused the key {}", key.display())]
    Authentication {
        target: String,
        key: PathBuf,
        #[source]
        source: ssh2::Error,
    },
    #[error("running `{command}` on {target} failed")]
    Channel {
        target: String,
        command: String,
        #[source]
        source: ssh2::Error,
    },
    #[error("reading the output of `{command}` on {target} failed")]
    Read {
        target: String,
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` on {target} did not finish within {timeout:?}")]
    Timeout { target: String, command: String, timeout: Duration },
    #[error("the ssh worker thread died")]
    Worker(#[from] tokio::task::JoinError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit_status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` once; every blocking call is bounded by `timeout`.
pub async fn exec(target: &SshTarget, command: &str, timeout: Duration) -> Result<ExecOutput, SshError> {
    let target = target.clone();
    let command = command.to_string();
    tokio::task::spawn_blocking(move || exec_blocking(&target, &command, timeout)).await?
}

fn exec_blocking(target: &SshTarget, command: &str, timeout: Duration) -> Result<ExecOutput, SshError> {
    let started = Instant::now();
    let conn = connect(target, timeout)?;
    run_on(&conn, target, command, timeout, started)
}

/// An authenticated session and the descriptor of its transport, to wait on.
struct Conn {
    sess: Session,
    fd: RawFd,
}

/// Connects and authenticates; every later blocking call on the session is bounded by `timeout`.
fn connect(target: &SshTarget, timeout: Duration) -> Result<Conn, SshError> {
    let t = target.to_string();
    let (sess, fd) = handshake(target, timeout)?;
    if let Some(expected) = &target.host_key_sha256 {
        let seen = fingerprint(&sess).ok_or_else(|| SshError::NoHostKey { target: t.clone() })?;
        if !expected.contains(&seen) {
            let expected = expected.iter().map(|e| format!("SHA256:{e}")).collect::<Vec<_>>().join(", ");
            return Err(SshError::HostKey { target: t, seen, expected });
        }
    }
    sess.userauth_pubkey_file(&target.user, None, &target.private_key, None)
        .map_err(|source| SshError::Authentication { target: t.clone(), key: target.private_key.clone(), source })?;
    Ok(Conn { sess, fd })
}

/// The SHA256 fingerprint of the server's host key, without logging in:
/// what trust-on-first-use pins when the guest printed none.
pub async fn host_key_sha256(target: &SshTarget, timeout: Duration) -> Result<String, SshError> {
    let target = target.clone();
    tokio::task::spawn_blocking(move || {
        let (sess, _) = handshake(&target, timeout)?;
        fingerprint(&sess).ok_or_else(|| SshError::NoHostKey { target: target.to_string() })
    })
    .await?
}

/// The session's host key hash in `ssh-keygen -l`'s form (base64, no padding).
fn fingerprint(sess: &Session) -> Option<String> {
    sess.host_key_hash(ssh2::HashType::Sha256).map(base64_unpadded)
}

/// TCP (directly, from a namespace, or through the jump host) and the SSH
/// handshake; the session and its transport's descriptor (owned by the session).
fn handshake(target: &SshTarget, timeout: Duration) -> Result<(Session, RawFd), SshError> {
    let t = target.to_string();
    let connect_timeout = timeout.min(Duration::from_secs(10));
    let mut sess = Session::new().map_err(|source| SshError::Handshake { target: t.clone(), source })?;
    let fd = match &target.jump {
        None => {
            let tcp = netns::connect_tcp(target.netns.as_deref(), target.addr, connect_timeout)
                .map_err(|source| SshError::Connect { target: t.clone(), source })?;
            let fd = tcp.as_raw_fd();
            sess.set_tcp_stream(tcp);
            fd
        }
        Some(jump) => {
            let stream = super::jump::open(jump, target.addr, connect_timeout)
                .map_err(|source| SshError::Jump { target: t.clone(), source })?;
            let fd = stream.as_raw_fd();
            sess.set_tcp_stream(stream);
            fd
        }
    };
    sess.set_timeout(timeout.as_millis().clamp(1, u32::MAX as u128) as u32);
    sess.handshake().map_err(|source| SshError::Handshake { target: t.clone(), source })?;
    Ok((sess, fd))
}

/// Runs `command` on the session; the whole of it (from `started`) is bounded
/// by `timeout`, and stdout and stderr are read at once.
fn run_on(
    conn: &Conn,
    target: &SshTarget,
    command: &str,
    timeout: Duration,
    started: Instant,
) -> Result<ExecOutput, SshError> {
    let t = target.to_string();
    let deadline = started + timeout;
    let timed_out = || SshError::Timeout { target: t.clone(), command: command.to_string(), timeout };
    let channel_err = |source: ssh2::Error| {
        if Instant::now() >= deadline || source.code() == ssh2::ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT) {
            timed_out()
        } else {
            SshError::Channel { target: t.clone(), command: command.to_string(), source }
        }
    };
    let read_err = |source: std::io::Error| SshError::Read { target: t.clone(), command: command.to_string(), source };
    let sess = &conn.sess;
    set_remaining(sess, deadline).ok_or_else(timed_out)?;
    let mut ch = sess.channel_session().map_err(channel_err)?;
    set_remaining(sess, deadline).ok_or_else(timed_out)?;
    ch.exec(command).map_err(channel_err)?;
    sess.set_blocking(false);
    let drained = exec_io::drain(&mut ChannelOutput { sess, ch: &mut ch, fd: conn.fd }, deadline);
    let drained = match drained {
        Ok(d) => d,
        Err(e) => {
            // The deadline has passed (or the transport failed): the channel is
            // closed without waiting long for the server to answer.
            sess.set_blocking(true);
            sess.set_timeout(CLOSE_AFTER_FAILURE_MS);
            drop(ch);
            return Err(match e {
                DrainError::Timeout => timed_out(),
                DrainError::Io(e) => read_err(e),
            });
        }
    };
    sess.set_blocking(true);
    let text = |bytes: Vec<u8>| {
        String::from_utf8(bytes).map_err(|e| read_err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
    };
    let (stdout, stderr) = (text(drained.stdout)?, text(drained.stderr)?);
    set_remaining(sess, deadline).ok_or_else(timed_out)?;
    ch.wait_close().map_err(channel_err)?;
    let exit_status = ch.exit_status().map_err(channel_err)?;
    Ok(ExecOutput { exit_status, stdout, stderr })
}

/// Bounds the session's next blocking call by what is left until `deadline`; `None` when nothing is.
fn set_remaining(sess: &Session, deadline: Instant) -> Option<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    (!left.is_zero()).then(|| sess.set_timeout(left.as_millis().clamp(1, u32::MAX as u128) as u32))
}

/// A channel in non-blocking mode as the two streams `exec_io::drain` reads.
struct ChannelOutput<'a> {
    sess: &'a Session,
    ch: &'a mut ssh2::Channel,
    fd: RawFd,
}

impl ChannelOutput<'_> {
    /// libssh2 reads 0 from one stream while the other still has data queued
    /// (its end of file is masked then): that is "nothing yet", not the end.
    fn settle(&self, r: std::io::Result<usize>) -> std::io::Result<usize> {
        match r {
            Ok(0) if !self.ch.eof() => Err(std::io::ErrorKind::WouldBlock.into()),
            r => r,
        }
    }
}

impl CommandOutput for ChannelOutput<'_> {
    fn read_stdout(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let r = self.ch.read(buf);
        self.settle(r)
    }

    fn read_stderr(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let r = self.ch.stderr().read(buf);
        self.settle(r)
    }

    /// Until the transport can be read (or written, when libssh2 waits to
    /// send), at most `max` and at most 100 ms at a time.
    fn wait(&mut self, max: Duration) -> std::io::Result<()> {
        use nix::libc;
        let events = match self.sess.block_directions() {
            ssh2::BlockDirections::Outbound => libc::POLLOUT,
            ssh2::BlockDirections::Both => libc::POLLIN | libc::POLLOUT,
            _ => libc::POLLIN,
        };
        let mut pfd = libc::pollfd { fd: self.fd, events, revents: 0 };
        let ms = max.min(Duration::from_millis(100)).as_millis().max(1) as libc::c_int;
        // SAFETY: `pfd` is one valid pollfd that lives across the call; the
        // descriptor belongs to the session, which outlives this borrow.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// The mode of files copied to hosts: readable by root only.
pub const UPLOAD_MODE: i32 = 0o600;

/// Copies the local file `local` to `remote` on the target (scp, mode
/// [`UPLOAD_MODE`]); every blocking call is bounded by `timeout`.
pub async fn upload(target: &SshTarget, local: &Path, remote: &str, timeout: Duration) -> Result<(), SshError> {
    let target = target.clone();
    let local = local.to_path_buf();
    let remote = remote.to_string();
    tokio::task::spawn_blocking(move || {
        let sess = connect(&target, timeout)?.sess;
        let what = format!("scp {} {remote}", local.display());
        let t = target.to_string();
        let channel_err = |source: ssh2::Error| SshError::Channel { target: t.clone(), command: what.clone(), source };
        let io_err = |source: std::io::Error| SshError::Read { target: t.clone(), command: what.clone(), source };
        let mut file = std::fs::File::open(&local).map_err(io_err)?;
        let size = file.metadata().map_err(io_err)?.len();
        // Private to root there too: seeds carry the scenario's cloud-config. The
        // host's libvirt (root, or relabelling for QEMU's user) still reads them.
        let mut ch = sess.scp_send(Path::new(&remote), UPLOAD_MODE, size, None).map_err(channel_err)?;
        std::io::copy(&mut file, &mut ch).map_err(io_err)?;
        ch.send_eof().map_err(channel_err)?;
        ch.wait_eof().map_err(channel_err)?;
        ch.close().map_err(channel_err)?;
        ch.wait_close().map_err(channel_err)
    })
    .await?
}

/// One SSH connection kept open across several commands: a migration check
/// proves that a connection opened before the move still works after it.
pub struct SshSession {
    target: SshTarget,
    conn: std::sync::Arc<std::sync::Mutex<Conn>>,
}

impl SshSession {
    pub async fn open(target: &SshTarget, timeout: Duration) -> Result<SshSession, SshError> {
        let t = target.clone();
        let conn = tokio::task::spawn_blocking(move || connect(&t, timeout)).await??;
        Ok(SshSession { target: target.clone(), conn: std::sync::Arc::new(std::sync::Mutex::new(conn)) })
    }

    pub async fn exec(&self, command: &str, timeout: Duration) -> Result<ExecOutput, SshError> {
        let conn = std::sync::Arc::clone(&self.conn);
        let target = self.target.clone();
        let command = command.to_string();
        tokio::task::spawn_blocking(move || {
            let c = conn.lock().unwrap_or_else(|p| p.into_inner());
            run_on(&c, &target, &command, timeout, Instant::now())
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real sshd would need a network; a host key ssh-keygen made is enough to
    /// check that the fingerprint is computed the way ssh-keygen does.
    #[test]
    fn fingerprint_of_a_key_blob_matches_ssh_keygen() {
        use sha2::{Digest, Sha256};
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        let ok = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: no ssh-keygen");
            return;
        }
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        let blob = super::super::base64::decode(public.split_whitespace().nth(1).unwrap()).unwrap();
        let out = std::process::Command::new("ssh-keygen")
            .args(["-l", "-E", "sha256", "-f"])
            .arg(key.with_extension("pub"))
            .output()
            .unwrap();
        let printed = String::from_utf8(out.stdout).unwrap();
        let expected = printed.split_whitespace().nth(1).unwrap().strip_prefix("SHA256:").unwrap().to_string();
        assert_eq!(base64_unpadded(&Sha256::digest(&blob)), expected);
    }
}
