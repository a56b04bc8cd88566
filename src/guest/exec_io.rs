//! Reading a remote command's stdout and stderr at once, against one deadline.
//! Reading one stream to its end before the other stalls a command that
//! writes much to the other: SSH's flow control stops the server once the
//! unread stream's window is full, so the command never ends.

use std::io::{self, ErrorKind};
use std::time::{Duration, Instant};

/// The two output streams of a running command, read without blocking.
pub(crate) trait CommandOutput {
    /// What stdout has now: `Ok(0)` at its end, `WouldBlock` when nothing yet.
    fn read_stdout(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// The same for stderr.
    fn read_stderr(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Waits, at most `max`, until either stream may have more.
    fn wait(&mut self, max: Duration) -> io::Result<()>;
}

#[derive(Debug)]
pub(crate) enum DrainError {
    /// The deadline passed before both streams ended.
    Timeout,
    Io(io::Error),
}

/// Everything both streams said.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Drained {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

#[derive(Default)]
struct Stream {
    data: Vec<u8>,
    done: bool,
}

impl Stream {
    /// One read; whether it made progress.
    fn pull(&mut self, read: impl FnOnce(&mut [u8]) -> io::Result<usize>, buf: &mut [u8]) -> Result<bool, DrainError> {
        if self.done {
            return Ok(false);
        }
        match read(buf) {
            Ok(0) => self.done = true,
            Ok(n) => self.data.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::TimedOut => return Err(DrainError::Timeout),
            Err(e) => return Err(DrainError::Io(e)),
        }
        Ok(true)
    }
}

/// Reads both streams, alternating, until both end or `deadline` passes.
pub(crate) fn drain(src: &mut impl CommandOutput, deadline: Instant) -> Result<Drained, DrainError> {
    let mut buf = vec![0u8; 32 << 10];
    let (mut out, mut err) = (Stream::default(), Stream::default());
    while !(out.done && err.done) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(DrainError::Timeout);
        }
        let got_out = out.pull(|b| src.read_stdout(b), &mut buf)?;
        let got_err = err.pull(|b| src.read_stderr(b), &mut buf)?;
        if !got_out && !got_err {
            src.wait(left).map_err(DrainError::Io)?;
        }
    }
    Ok(Drained { stdout: out.data, stderr: err.data })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    /// A command that writes 1 MiB to stderr before any stdout, behind a
    /// flow-control window: stdout has nothing while stderr's unread bytes
    /// fill the window, as an SSH server stops sending.
    struct StderrFirst {
        window: usize,
        stderr_left: usize,
        unread_stderr: usize,
        stdout: Vec<u8>,
        waits: usize,
    }

    impl StderrFirst {
        fn new() -> Self {
            StderrFirst { window: 64 << 10, stderr_left: MIB, unread_stderr: 0, stdout: b"done\n".to_vec(), waits: 0 }
        }

        /// The server sends what the window allows.
        fn server_sends(&mut self) {
            let n = self.stderr_left.min(self.window - self.unread_stderr);
            self.stderr_left -= n;
            self.unread_stderr += n;
        }
    }

    impl CommandOutput for StderrFirst {
        fn read_stdout(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.server_sends();
            if self.stderr_left > 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            let n = self.stdout.len().min(buf.len());
            buf[..n].copy_from_slice(&self.stdout[..n]);
            self.stdout.drain(..n);
            Ok(n)
        }

        fn read_stderr(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.server_sends();
            if self.unread_stderr == 0 {
                return if self.stderr_left == 0 { Ok(0) } else { Err(ErrorKind::WouldBlock.into()) };
            }
            let n = self.unread_stderr.min(buf.len());
            buf[..n].fill(b'e');
            self.unread_stderr -= n;
            Ok(n)
        }

        fn wait(&mut self, _max: Duration) -> io::Result<()> {
            self.waits += 1;
            Ok(())
        }
    }

    /// The old way: stdout to its end, then stderr, giving up at the deadline.
    fn sequential(src: &mut StderrFirst, deadline: Instant) -> Result<Drained, DrainError> {
        let mut buf = vec![0u8; 32 << 10];
        let mut s = Stream::default();
        while !s.done {
            if Instant::now() >= deadline || src.waits > 1000 {
                return Err(DrainError::Timeout);
            }
            if !s.pull(|b| src.read_stdout(b), &mut buf)? {
                src.wait(Duration::ZERO).map_err(DrainError::Io)?;
            }
        }
        Ok(Drained { stdout: s.data, stderr: Vec::new() })
    }

    #[test]
    fn much_stderr_before_stdout_does_not_stall() {
        let deadline = Instant::now() + Duration::from_secs(30);
        // The model stalls a reader that waits for stdout first.
        assert!(matches!(sequential(&mut StderrFirst::new(), deadline), Err(DrainError::Timeout)));
        let mut cmd = StderrFirst::new();
        let got = drain(&mut cmd, deadline).unwrap();
        assert_eq!(got.stdout, b"done\n");
        assert_eq!(got.stderr.len(), MIB);
        assert!(got.stderr.iter().all(|b| *b == b'e'));
    }

    /// A command that never ends: output forever, nothing to wait for.
    struct Endless;

    impl CommandOutput for Endless {
        fn read_stdout(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf[0] = b'y';
            Ok(1)
        }
        fn read_stderr(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
            Err(ErrorKind::WouldBlock.into())
        }
        fn wait(&mut self, _max: Duration) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_deadline_covers_the_whole_command() {
        // Output keeps coming, so no single read ever times out: the deadline still ends it.
        let started = Instant::now();
        let r = drain(&mut Endless, started + Duration::from_millis(50));
        assert!(matches!(r, Err(DrainError::Timeout)), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(drain(&mut StderrFirst::new(), Instant::now()), Err(DrainError::Timeout)));
    }

    #[test]
    fn read_errors_are_passed_on() {
        struct Broken;
        impl CommandOutput for Broken {
            fn read_stdout(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("connection reset"))
            }
            fn read_stderr(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
                Ok(0)
            }
            fn wait(&mut self, _max: Duration) -> io::Result<()> {
                Ok(())
            }
        }
        let r = drain(&mut Broken, Instant::now() + Duration::from_secs(5));
        assert!(matches!(r, Err(DrainError::Io(ref e)) if e.to_string() == "connection reset"), "{r:?}");
    }
}
