//! The host side of the measurements, run where the host meets the guests'
//! network: inside the host's network namespace (a lab host's), or on this
//! machine. Everything here blocks; callers use `spawn_blocking`.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::guest::netns;

/// Where host-side sockets and probes live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostSide {
    /// Inside this network namespace.
    Netns(String),
    /// This machine's own network.
    Local,
}

impl HostSide {
    /// Runs `f` where the host side's sockets and child processes belong. A
    /// socket keeps the namespace it was made in, whichever thread uses it later.
    fn enter<T: Send + 'static>(&self, f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
        match self {
            HostSide::Netns(ns) => {
                netns::run_in(ns, f).map_err(|e| io::Error::new(e.kind(), format!("in network namespace `{ns}`: {e}")))
            }
            HostSide::Local => f(),
        }
    }
}

/// The host side's own address on the way to `guest` (the route's source
/// address; no packet is sent).
pub fn address_towards(side: &HostSide, guest: IpAddr) -> io::Result<IpAddr> {
    side.enter(move || {
        let any: IpAddr = if guest.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
        let s = UdpSocket::bind(SocketAddr::new(any, 0))?;
        s.connect(SocketAddr::new(guest, 9))?;
        Ok(s.local_addr()?.ip())
    })
}

/// A program that sends ICMP echo requests: `ping`, else `busybox ping`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingTool {
    program: PathBuf,
    busybox: bool,
}

impl std::fmt::Display for PingTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.program.display(), if self.busybox { " ping" } else { "" })
    }
}

pub fn ping_tool() -> Option<PingTool> {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    let find = |name: &str| {
        path.split(':').map(|d| Path::new(d).join(name)).find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    };
    find("ping")
        .map(|program| PingTool { program, busybox: false })
        .or_else(|| find("busybox").map(|program| PingTool { program, busybox: true }))
}

/// `count` echo requests to `target`; returns what ping printed (stdout and
/// stderr). A ping still running after [`super::script::ping_budget`] is killed.
pub fn ping(side: &HostSide, tool: &PingTool, target: IpAddr, count: u32) -> io::Result<String> {
    let tool = tool.clone();
    side.enter(move || {
        let mut cmd = Command::new(&tool.program);
        if tool.busybox {
            cmd.arg("ping");
        }
        cmd.args(["-c", &count.to_string(), "-i", super::script::PING_INTERVAL, "-W", super::script::PING_WAIT])
            .arg(target.to_string())
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| io::Error::new(e.kind(), format!("cannot run {tool}: {e}")))?;
        let deadline = Instant::now() + super::script::ping_budget(count);
        while child.try_wait()?.is_none() {
            if Instant::now() >= deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output()?;
        Ok(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    })
}

/// Opens `count` TCP connections to `addr` one after another; each is the time
/// the connection took (the SYN round trip), or why it failed.
pub fn connect_times(
    side: &HostSide,
    addr: SocketAddr,
    count: u32,
    timeout: Duration,
) -> io::Result<Vec<Result<Duration, String>>> {
    side.enter(move || {
        let mut out = Vec::new();
        for i in 0..count {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(50));
            }
            let t = Instant::now();
            out.push(match TcpStream::connect_timeout(&addr, timeout) {
                Ok(s) => {
                    let d = t.elapsed();
                    let _ = s.shutdown(Shutdown::Both);
                    Ok(d)
                }
                Err(e) => Err(e.to_string()),
            });
        }
        Ok(out)
    })
}

/// A listening socket on `addr` (any port) on the host side.
pub fn listen(side: &HostSide, addr: IpAddr) -> io::Result<TcpListener> {
    side.enter(move || TcpListener::bind(SocketAddr::new(addr, 0)))
}

/// Accepts up to `expect` connections until `deadline` or `stop`; through each,
/// sends one byte and times its echo. One entry per accepted connection.
pub fn serve_echoes(
    listener: TcpListener,
    expect: u32,
    deadline: Instant,
    stop: Arc<AtomicBool>,
) -> Vec<Result<Duration, String>> {
    let mut out = Vec::new();
    if let Err(e) = listener.set_nonblocking(true) {
        out.push(Err(format!("cannot poll the listening socket: {e}")));
        return out;
    }
    while (out.len() as u32) < expect && Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => out.push(echo_once(stream).map_err(|e| e.to_string())),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => {
                out.push(Err(format!("accept: {e}")));
                break;
            }
        }
    }
    out
}

fn echo_once(mut s: TcpStream) -> io::Result<Duration> {
    s.set_nonblocking(false)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let t = Instant::now();
    s.write_all(b"x")?;
    let mut b = [0u8; 1];
    s.read_exact(&mut b)?;
    Ok(t.elapsed())
}

/// What a timed transfer moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub bytes: u64,
    /// From the connection's start until the receiver closed it, so every byte
    /// counted had arrived.
    pub elapsed: Duration,
}

/// Connects to `addr` (retrying for `connect_within` while nothing listens yet),
/// sends zeros for `duration`, closes its side and waits for the receiver to close.
pub fn send_for(side: &HostSide, addr: SocketAddr, duration: Duration, connect_within: Duration) -> io::Result<Sent> {
    let s = side.enter(move || {
        let deadline = Instant::now() + connect_within;
        loop {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                Ok(s) => return Ok(s),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    })?;
    transfer(s, duration)
}

fn transfer(mut s: TcpStream, duration: Duration) -> io::Result<Sent> {
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    let buf = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    let start = Instant::now();
    while start.elapsed() < duration {
        let n = s.write(&buf)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "the receiver stopped taking data"));
        }
        bytes += n as u64;
    }
    s.shutdown(Shutdown::Write)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut sink = [0u8; 4096];
    while s.read(&mut sink)? > 0 {}
    Ok(Sent { bytes, elapsed: start.elapsed() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_route_source_address() {
        let a = address_towards(&HostSide::Local, "127.0.0.1".parse().unwrap()).unwrap();
        assert!(a.is_loopback(), "{a}");
    }

    #[test]
    fn connects_echoes_and_transfers_on_loopback() {
        let listener = listen(&HostSide::Local, "127.0.0.1".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        // An echo peer like `nc HOST PORT -e cat` in a guest.
        let peer = std::thread::spawn(move || {
            for _ in 0..2 {
                let mut s = TcpStream::connect(addr).unwrap();
                let mut b = [0u8; 1];
                s.read_exact(&mut b).unwrap();
                s.write_all(&b).unwrap();
            }
        });
        let echoes =
            serve_echoes(listener, 2, Instant::now() + Duration::from_secs(10), Arc::new(AtomicBool::new(false)));
        peer.join().unwrap();
        assert_eq!(echoes.len(), 2);
        assert!(echoes.iter().all(Result::is_ok), "{echoes:?}");

        let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let times = connect_times(&HostSide::Local, closed, 2, Duration::from_secs(1)).unwrap();
        assert!(times.iter().all(Result::is_err), "nothing listens there: {times:?}");

        // A receiver like `nc -l -p PORT | wc -c`: reads to the end, then closes.
        let rx = TcpListener::bind("127.0.0.1:0").unwrap();
        let rx_addr = rx.local_addr().unwrap();
        let receiver = std::thread::spawn(move || {
            let (mut s, _) = rx.accept().unwrap();
            let mut n = 0u64;
            let mut buf = [0u8; 65536];
            loop {
                match s.read(&mut buf).unwrap() {
                    0 => break n,
                    k => n += k as u64,
                }
            }
        });
        let sent = send_for(&HostSide::Local, rx_addr, Duration::from_millis(100), Duration::from_secs(2)).unwrap();
        assert_eq!(receiver.join().unwrap(), sent.bytes);
        assert!(sent.bytes > 0 && sent.elapsed >= Duration::from_millis(100));
    }

    #[test]
    fn serving_stops_when_told() {
        let listener = listen(&HostSide::Local, "127.0.0.1".parse().unwrap()).unwrap();
        let stop = Arc::new(AtomicBool::new(true));
        let t = Instant::now();
        assert!(serve_echoes(listener, 3, Instant::now() + Duration::from_secs(30), stop).is_empty());
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
