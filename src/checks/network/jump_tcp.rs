//! The host side's TCP listener and sender when the guests sit behind a
//! `jump` host (a Xen dom0): small Python programs run there over its SSH.
//! Python because a Xen dom0 has it (pygrub and Xen's tools need it) where
//! `nc` or `socat` are often missing; `python3`, `python` (EL7's 2.7) and EL's
//! `platform-python` all do, and the programs run on 2.7 and 3.x. A host
//! without any is a skip naming it.
//!
//! The listener runs in the background with its output in a file in the
//! run's directory there (like the downtime probe): it prints its port, then
//! one line per connection; it ends on its own after the connections it
//! expects or its time limit, whatever happens to this process.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::host::Sent;
use super::remote::run_needing;
use crate::backend::host_shell::HostShell;
use crate::checks::env::StepFailure;
use crate::shell::quote;

/// What a skip names when the host has no Python.
const PYTHON: &str = "`python3` (or `python`, `platform-python`)";

/// Finds a Python in `$PY`, or exits 127.
const FIND_PYTHON: &str = "PY=; for p in python3 python /usr/libexec/platform-python; do \
     command -v \"$p\" >/dev/null 2>&1 && { PY=$p; break; }; done; [ -n \"$PY\" ] || exit 127; ";

/// How long one call that starts or stops the listener may take.
const CALL: Duration = Duration::from_secs(30);

/// Accepts up to COUNT connections on HOST (any port) within LIMIT seconds;
/// through each sends one byte and times its echo.
const ECHO_SERVER: &str = r#"import socket, sys, time
host, count, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
out = sys.stdout
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
s.bind((host, 0))
s.listen(8)
out.write('port %d\n' % s.getsockname()[1])
out.flush()
end = time.time() + limit
n = 0
while n < count and time.time() < end:
    s.settimeout(max(0.1, end - time.time()))
    try:
        c = s.accept()[0]
    except socket.timeout:
        break
    n += 1
    try:
        c.settimeout(5)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t = time.time()
        c.sendall(b'x')
        if not c.recv(1):
            raise IOError('closed before echoing')
        out.write('ok %d\n' % int((time.time() - t) * 1e9))
    except Exception as e:
        out.write('fail %s\n' % str(e).replace('\n', ' '))
    out.flush()
    c.close()
out.write('done\n')
out.flush()
"#;

/// Connects to HOST:PORT (retrying for WITHIN seconds), sends zeros for DUR
/// seconds, closes its side and waits for the receiver to close; prints
/// `sent BYTES NANOS` or `fail WHY`.
const SENDER: &str = r#"import socket, sys, time
host, port, dur, within = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
end = time.time() + within
while True:
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, port))
        break
    except Exception as e:
        s.close()
        if time.time() >= end:
            sys.stdout.write('fail cannot connect: %s\n' % e)
            sys.exit(0)
        time.sleep(0.1)
s.settimeout(10)
buf = b'\0' * 65536
t0 = time.time()
n = 0
try:
    while time.time() - t0 < dur:
        n += s.send(buf)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
except Exception as e:
    sys.stdout.write('fail after %d bytes: %s\n' % (n, e))
    sys.exit(0)
sys.stdout.write('sent %d %d\n' % (n, int((time.time() - t0) * 1e9)))
"#;

/// Opens COUNT connections to HOST:PORT one after another, each timed
/// inside the one process (no process start in the figure); `ok NANOS` or
/// `fail WHY` a line.
const CONNECTOR: &str = r#"import socket, sys, time
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
for i in range(count):
    if i:
        time.sleep(0.05)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(3)
    t = time.time()
    try:
        s.connect((host, port))
        sys.stdout.write('ok %d\n' % int((time.time() - t) * 1e9))
    except Exception as e:
        sys.stdout.write('fail %s\n' % str(e).replace('\n', ' '))
    s.close()
"#;

/// `count` timed TCP connections from the jump host to `addr` (see
/// [`CONNECTOR`]); one result per attempt.
pub async fn connect_times(
    shell: &HostShell,
    addr: SocketAddr,
    count: u32,
    timeout: Duration,
) -> Result<Vec<Result<Duration, String>>, StepFailure> {
    let script = format!("{FIND_PYTHON}\"$PY\" -c {} {} {} {count}", quote(CONNECTOR), addr.ip(), addr.port());
    let out = run_needing(shell, &script, timeout, "TCP connections from the host side", PYTHON).await?;
    Ok(parse_echoes(&out))
}

/// A listener running on the jump host.
pub struct EchoServer {
    shell: HostShell,
    pid: u32,
    file: String,
    pub port: u16,
}

impl EchoServer {
    /// Starts the listener on `host` (the jump host's own address towards the
    /// guest), its output in a file under `dir`; returns once it listens.
    pub async fn start(
        shell: &HostShell,
        dir: &Path,
        host: IpAddr,
        count: u32,
        limit: Duration,
    ) -> Result<EchoServer, StepFailure> {
        let out = run_needing(
            shell,
            &start_command(dir, host, count, limit),
            CALL,
            "a TCP listener on the host side",
            PYTHON,
        )
        .await?;
        let (pid, file, port) = parse_started(&out);
        let (Some(pid), Some(file)) = (pid, file) else {
            return Err(StepFailure::error(format!("the jump host did not start the TCP listener: {}", out.trim())));
        };
        let server = EchoServer { shell: shell.clone(), pid, file, port: port.unwrap_or(0) };
        if port.is_none() {
            let _ = server.shell.run_within(&finish_command(pid, &server.file), CALL).await;
            return Err(StepFailure::error(format!(
                "the TCP listener on the jump host did not listen: {}",
                out.trim()
            )));
        }
        Ok(server)
    }

    /// Stops the listener, reads and removes its file: one result per connection.
    pub async fn finish(self) -> Result<Vec<Result<Duration, String>>, StepFailure> {
        let out = self.shell.run_within(&finish_command(self.pid, &self.file), CALL).await.map_err(|e| {
            StepFailure::error(format!("stopping the TCP listener on the jump host: {}", crate::error_chain(&e)))
        })?;
        Ok(parse_echoes(&out))
    }
}

/// Sends to `addr` from the jump host for `duration` (see [`SENDER`]).
pub async fn send_for(
    shell: &HostShell,
    addr: SocketAddr,
    duration: Duration,
    connect_within: Duration,
) -> Result<Sent, StepFailure> {
    let args =
        format!("{} {} {:.3} {:.3}", addr.ip(), addr.port(), duration.as_secs_f64(), connect_within.as_secs_f64());
    let script = format!("{FIND_PYTHON}\"$PY\" -c {} {args}", quote(SENDER));
    let limit = duration + connect_within + Duration::from_secs(30);
    let out = run_needing(shell, &script, limit, "sending from the host side", PYTHON).await?;
    parse_sent(&out).map_err(|why| StepFailure::failed(format!("sending from the jump host to {addr}: {why}")))
}

/// Starts the listener in the background; prints `pid PID FILE`, then the
/// file once it names the port (or the listener ended, or 20 s passed).
fn start_command(dir: &Path, host: IpAddr, count: u32, limit: Duration) -> String {
    let template = quote(&format!("{}/tcp.XXXXXX", dir.display()));
    format!(
        "{FIND_PYTHON}f=$(mktemp {template}) || exit 1; \
         \"$PY\" -c {} {host} {count} {} >\"$f\" 2>&1 </dev/null & pid=$!; i=0; \
         while ! grep -q '^port ' \"$f\" && kill -0 $pid 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; \
         echo \"pid $pid $f\"; cat \"$f\"",
        quote(ECHO_SERVER),
        limit.as_secs().max(1)
    )
}

/// Gives the listener 3 s to end on its own (it does after the connections
/// it expects, having written each one's line), stops it, prints and removes
/// its file.
fn finish_command(pid: u32, file: &str) -> String {
    let f = quote(file);
    format!(
        "i=0; while kill -0 {pid} 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done; kill {pid} 2>/dev/null; \
         i=0; while kill -0 {pid} 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done; \
         kill -KILL {pid} 2>/dev/null; cat {f}; rm -f {f}"
    )
}

/// `pid PID FILE` and `port N` lines of the start's answer.
fn parse_started(out: &str) -> (Option<u32>, Option<String>, Option<u16>) {
    let mut pid = None;
    let mut file = None;
    let mut port = None;
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["pid", p, f] => {
                pid = p.parse().ok();
                file = Some((*f).to_string());
            }
            ["port", p] => port = p.parse().ok(),
            _ => {}
        }
    }
    (pid, file, port)
}

/// `ok NANOS` / `fail WHY` lines → one result per connection.
fn parse_echoes(out: &str) -> Vec<Result<Duration, String>> {
    out.lines()
        .filter_map(|l| match l.split_once(' ') {
            Some(("ok", n)) => n.trim().parse().ok().map(|n| Ok(Duration::from_nanos(n))),
            Some(("fail", why)) => Some(Err(why.trim().to_string())),
            _ => None,
        })
        .collect()
}

/// `sent BYTES NANOS` → what was sent; `fail WHY` or anything else → why not.
fn parse_sent(out: &str) -> Result<Sent, String> {
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["sent", bytes, nanos] = words.as_slice()
            && let (Ok(bytes), Ok(nanos)) = (bytes.parse(), nanos.parse())
        {
            return Ok(Sent { bytes, elapsed: Duration::from_nanos(nanos) });
        }
        if let Some(why) = line.strip_prefix("fail ") {
            return Err(why.to_string());
        }
    }
    Err(format!("no report from the sender: {:?}", out.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read() {
        assert_eq!(
            parse_started("pid 77 /d/tcp.ab\nport 40123\n"),
            (Some(77), Some("/d/tcp.ab".to_string()), Some(40123))
        );
        assert_eq!(parse_started("Traceback\n"), (None, None, None));
        let r = parse_echoes("port 1\nok 1500000\nfail timed out\ndone\n");
        assert_eq!(r, vec![Ok(Duration::from_micros(1500)), Err("timed out".to_string())]);
        assert_eq!(parse_sent("sent 100 2000000000\n"), Ok(Sent { bytes: 100, elapsed: Duration::from_secs(2) }));
        assert_eq!(parse_sent("fail cannot connect: refused\n"), Err("cannot connect: refused".to_string()));
        assert!(parse_sent("").unwrap_err().contains("no report"));
    }

    #[test]
    fn the_directory_is_quoted() {
        let c = start_command(Path::new("/var/tmp/r 1"), "10.88.0.1".parse().unwrap(), 3, Duration::from_secs(40));
        assert!(c.contains("mktemp '/var/tmp/r 1/tcp.XXXXXX'"), "{c}");
        assert!(c.contains(" 10.88.0.1 3 40 >\"$f\""), "{c}");
        assert!(finish_command(9, "/d/x'y").ends_with("cat '/d/x'\\''y'; rm -f '/d/x'\\''y'"));
    }

    /// The programs run through this machine's shell against real sockets.
    #[tokio::test]
    async fn listens_times_echoes_and_sends_through_a_shell() {
        use std::io::{Read, Write};
        let dir = tempfile::tempdir().unwrap();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let server = EchoServer::start(&HostShell::Local, dir.path(), lo, 2, Duration::from_secs(30)).await.unwrap();
        for _ in 0..2 {
            let mut s = std::net::TcpStream::connect((lo, server.port)).unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            s.write_all(&b).unwrap();
            // As the guest's `nc`: until the listener closes.
            let _ = s.read(&mut b);
        }
        let r = server.finish().await.unwrap();
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r.iter().all(Result::is_ok), "{r:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the listener's file is removed");

        let listener = std::net::TcpListener::bind((lo, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let receiver = std::thread::spawn(move || {
            let (mut c, _) = listener.accept().unwrap();
            let mut n = 0u64;
            let mut buf = [0u8; 65536];
            loop {
                match c.read(&mut buf).unwrap() {
                    0 => break n,
                    k => n += k as u64,
                }
            }
        });
        let sent = send_for(&HostShell::Local, addr, Duration::from_millis(300), Duration::from_secs(5)).await.unwrap();
        assert_eq!(sent.bytes, receiver.join().unwrap());
        assert!(sent.bytes > 0 && sent.elapsed >= Duration::from_millis(300), "{sent:?}");

        let listener = std::net::TcpListener::bind((lo, 0)).unwrap();
        let open = listener.local_addr().unwrap();
        let r = connect_times(&HostShell::Local, open, 2, Duration::from_secs(30)).await.unwrap();
        assert!(r.len() == 2 && r.iter().all(Result::is_ok), "{r:?}");
        drop(listener);
        let r = connect_times(&HostShell::Local, open, 1, Duration::from_secs(30)).await.unwrap();
        assert!(r[0].as_ref().unwrap_err().contains("refused"), "{r:?}");

        let closed = std::net::TcpListener::bind((lo, 0)).unwrap().local_addr().unwrap();
        let e = send_for(&HostShell::Local, closed, Duration::from_millis(100), Duration::from_millis(300)).await;
        assert!(e.unwrap_err().message.contains("cannot connect"));
    }
}
