//! Opening sockets inside another network namespace (a lab host's, or a host's
//! private guest network) without routing the root namespace into it.
//!
//! A socket belongs to the namespace it was created in, whatever thread uses it
//! later; so a short-lived thread enters the namespace, connects, and hands the
//! stream back.

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use nix::sched::{CloneFlags, setns};

fn netns_path(name: &str) -> PathBuf {
    PathBuf::from("/run/netns").join(name)
}

/// Connects to `addr`, from inside network namespace `netns` when one is given.
pub fn connect_tcp(netns: Option<&str>, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let Some(ns) = netns else {
        return TcpStream::connect_timeout(&addr, timeout);
    };
    let path = netns_path(ns);
    let handle = File::open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("network namespace `{ns}` ({}): {e}", path.display())))?;
    std::thread::Builder::new()
        .name(format!("netns-{ns}"))
        .spawn(move || {
            setns(&handle, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
            TcpStream::connect_timeout(&addr, timeout)
        })?
        .join()
        .map_err(|_| io::Error::other("namespace thread panicked"))?
}

/// Runs `f` on a thread that has entered `netns` (for probes such as ICMP that need their own socket).
pub fn run_in<T: Send + 'static>(netns: &str, f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    let handle = File::open(netns_path(netns))?;
    std::thread::spawn(move || {
        setns(&handle, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
        f()
    })
    .join()
    .map_err(|_| io::Error::other("namespace thread panicked"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_namespace_is_a_clear_error() {
        let err =
            connect_tcp(Some("vs-no-such-ns"), "127.0.0.1:1".parse().unwrap(), Duration::from_millis(10)).unwrap_err();
        assert!(err.to_string().contains("network namespace `vs-no-such-ns`"), "{err}");
    }

    #[test]
    fn root_namespace_connects_to_loopback() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        connect_tcp(None, addr, Duration::from_secs(2)).unwrap();
    }
}
