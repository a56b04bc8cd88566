//! Reaching a guest through an SSH jump host (a Xen dom0, a QA host with guests
//! on a private bridge): the first session opens a direct-tcpip channel to the
//! guest, and a pump thread joins that channel to a socket pair, because the
//! second session needs a real file descriptor.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
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
