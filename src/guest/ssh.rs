//! Running commands in a guest over SSH, with deadlines and typed errors.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ssh2::Session;

use super::netns;

const LIBSSH2_ERROR_TIMEOUT: i32 = -9;

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
    #[error("{target} refused the run's key")]
    Authentication {
        target: String,
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

impl SshError {
    /// Errors worth retrying while a guest is still coming up.
    pub fn is_transient(&self) -> bool {
        matches!(self, SshError::Connect { .. } | SshError::Handshake { .. } | SshError::Jump { .. })
    }
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
    let sess = connect(target, timeout)?;
    run_on(&sess, target, command, timeout, started)
}

/// Connects and authenticates; every later blocking call on the session is bounded by `timeout`.
fn connect(target: &SshTarget, timeout: Duration) -> Result<Session, SshError> {
    let t = target.to_string();
    let connect_timeout = timeout.min(Duration::from_secs(10));
    let mut sess = Session::new().map_err(|source| SshError::Handshake { target: t.clone(), source })?;
    match &target.jump {
        None => {
            let tcp = netns::connect_tcp(target.netns.as_deref(), target.addr, connect_timeout)
                .map_err(|source| SshError::Connect { target: t.clone(), source })?;
            sess.set_tcp_stream(tcp);
        }
        Some(jump) => {
            let stream = super::jump::open(jump, target.addr, connect_timeout)
                .map_err(|source| SshError::Jump { target: t.clone(), source })?;
            sess.set_tcp_stream(stream);
        }
    }
    sess.set_timeout(timeout.as_millis().clamp(1, u32::MAX as u128) as u32);
    sess.handshake().map_err(|source| SshError::Handshake { target: t.clone(), source })?;
    sess.userauth_pubkey_file(&target.user, None, &target.private_key, None)
        .map_err(|source| SshError::Authentication { target: t.clone(), source })?;
    Ok(sess)
}

fn run_on(sess: &Session, target: &SshTarget, command: &str, timeout: Duration, started: Instant) -> Result<ExecOutput, SshError> {
    let t = target.to_string();
    let channel_err = |source: ssh2::Error| {
        if started.elapsed() >= timeout || source.code() == ssh2::ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT) {
            SshError::Timeout { target: t.clone(), command: command.to_string(), timeout }
        } else {
            SshError::Channel { target: t.clone(), command: command.to_string(), source }
        }
    };
    let mut ch = sess.channel_session().map_err(channel_err)?;
    ch.exec(command).map_err(channel_err)?;
    let mut stdout = String::new();
    let mut stderr = String::new();
    let io_err = |source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::TimedOut || started.elapsed() >= timeout {
            SshError::Timeout { target: t.clone(), command: command.to_string(), timeout }
        } else {
            SshError::Read { target: t.clone(), command: command.to_string(), source }
        }
    };
    ch.read_to_string(&mut stdout).map_err(io_err)?;
    ch.stderr().read_to_string(&mut stderr).map_err(io_err)?;
    ch.wait_close().map_err(channel_err)?;
    let exit_status = ch.exit_status().map_err(channel_err)?;
    Ok(ExecOutput { exit_status, stdout, stderr })
}

/// One SSH connection kept open across several commands: a migration check
/// proves that a connection opened before the move still works after it.
pub struct SshSession {
    target: SshTarget,
    sess: std::sync::Arc<std::sync::Mutex<Session>>,
}

impl SshSession {
    pub async fn open(target: &SshTarget, timeout: Duration) -> Result<SshSession, SshError> {
        let t = target.clone();
        let sess = tokio::task::spawn_blocking(move || connect(&t, timeout)).await??;
        Ok(SshSession { target: target.clone(), sess: std::sync::Arc::new(std::sync::Mutex::new(sess)) })
    }

    pub async fn exec(&self, command: &str, timeout: Duration) -> Result<ExecOutput, SshError> {
        let sess = std::sync::Arc::clone(&self.sess);
        let target = self.target.clone();
        let command = command.to_string();
        tokio::task::spawn_blocking(move || {
            let s = sess.lock().unwrap_or_else(|p| p.into_inner());
            s.set_timeout(timeout.as_millis().clamp(1, u32::MAX as u128) as u32);
            run_on(&s, &target, &command, timeout, Instant::now())
        })
        .await?
    }
}
