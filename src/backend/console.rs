//! Captures a domain's console through libvirt (works for remote hosts too) into a
//! file and an in-memory log that async code can wait on.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;
use virt::connect::Connect;
use virt::domain::Domain;
use virt::stream::Stream;
use virt::sys;

use super::error::BackendError;

/// Would-block from a non-blocking libvirt stream.
const STREAM_AGAIN: isize = -2;
/// How long the pump sleeps when the stream has nothing; libvirt's stream events
/// would need its event loop, which the crate does not wrap for streams.
const IDLE_POLL: Duration = Duration::from_millis(20);

/// What the console printed so far.
#[derive(Default)]
struct Log {
    bytes: Vec<u8>,
    ended: Option<String>,
    /// When the last output arrived.
    last_output: Option<std::time::Instant>,
}

pub struct ConsoleCapture {
    log: Arc<Mutex<Log>>,
    updates: watch::Receiver<usize>,
    stop: Arc<AtomicBool>,
    pump: Option<JoinHandle<()>>,
}

impl ConsoleCapture {
    /// Attaches to the domain's first console and starts copying it to `path`.
    /// `append` continues an existing log (a guest that moved to another host).
    pub fn start(conn: &Connect, dom: &Domain, name: &str, path: PathBuf, append: bool) -> Result<Self, BackendError> {
        let console_err = |source| BackendError::Console { domain: name.to_string(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(console_err)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(&path)
            .map_err(console_err)?;
        let stream = Stream::new(conn, sys::VIR_STREAM_NONBLOCK)
            .map_err(BackendError::libvirt("creating a console stream", name))?;
        dom.open_console(None, &stream, sys::VIR_DOMAIN_CONSOLE_FORCE)
            .map_err(BackendError::libvirt("opening the console", name))?;

        let log = Arc::new(Mutex::new(Log::default()));
        let (tx, updates) = watch::channel(0usize);
        let stop = Arc::new(AtomicBool::new(false));
        let pump = {
            let log = Arc::clone(&log);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name(format!("console-{name}"))
                .spawn(move || pump(stream, &mut file, &log, &tx, &stop))
                .map_err(console_err)?
        };
        Ok(ConsoleCapture { log, updates, stop, pump: Some(pump) })
    }

    /// A receiver that changes whenever new console output arrives or the console ends.
    pub fn subscribe(&self) -> watch::Receiver<usize> {
        self.updates.clone()
    }

    /// The whole console so far, as text.
    pub fn text(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&log.bytes).into_owned()
    }

    /// How long the console has printed nothing, if it printed anything at all.
    pub fn quiet_for(&self) -> Option<Duration> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).last_output.map(|t| t.elapsed())
    }

    /// Waits until the console has ended (the domain went away and the
    /// stream drained) or `max` passed: what a dying guest printed last may
    /// still be on its way when libvirt already reports it stopped.
    pub async fn drained(&self, max: std::time::Duration) {
        let mut rx = self.updates.clone();
        let ended = || self.log.lock().unwrap_or_else(|p| p.into_inner()).ended.is_some();
        let _ = tokio::time::timeout(max, async {
            while !ended() {
                if rx.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
    }

    /// Stops copying and waits for the pump to flush the file.
    pub fn stop(mut self) -> String {
        self.finish();
        self.text()
    }

    /// Stops the pump and waits for it, at most [`STOP_WAIT`]: a pump stuck
    /// in libvirt (its abort sent to a daemon that no longer answers) is left
    /// to its thread; what it copied was flushed before that call.
    fn finish(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(p) = self.pump.take() {
            let since = std::time::Instant::now();
            while !p.is_finished() && since.elapsed() < STOP_WAIT {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            if p.is_finished() {
                let _ = p.join();
            }
        }
    }
}

impl Drop for ConsoleCapture {
    fn drop(&mut self) {
        self.finish();
    }
}

/// How long stopping a capture waits for its pump.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn pump(stream: Stream, file: &mut File, log: &Mutex<Log>, tx: &watch::Sender<usize>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 16 * 1024];
    let end = loop {
        if stop.load(Ordering::SeqCst) {
            break "capture stopped".to_string();
        }
        match stream.recv(&mut buf) {
            Ok(0) => break "console closed".to_string(),
            Ok(STREAM_AGAIN) => std::thread::sleep(IDLE_POLL),
            Ok(n) if n > 0 => {
                let chunk = &buf[..n as usize];
                let _ = file.write_all(chunk);
                let len = {
                    let mut l = log.lock().unwrap_or_else(|p| p.into_inner());
                    l.bytes.extend_from_slice(chunk);
                    l.last_output = Some(std::time::Instant::now());
                    l.bytes.len()
                };
                tx.send_replace(len);
            }
            Ok(other) => break format!("console stream returned {other}"),
            Err(e) => break format!("console stream failed: {e}"),
        }
    };
    let _ = file.flush();
    // A stream the server ended is left alone (freed when dropped, neither
    // finished nor aborted; the daemon drops its side with the connection):
    // libvirt 9.0's libxl driver hung for good on a finish sent while a
    // guest that had migrated away was torn down on its old host (every
    // later call to that daemon hung: a CI run's migration test stalled),
    // and on an abort sent while a domain was being destroyed.
    if end != "console closed" {
        let _ = stream.abort();
    }
    log.lock().unwrap_or_else(|p| p.into_inner()).ended = Some(end);
    tx.send_modify(|_| {});
}
