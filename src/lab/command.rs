//! Running external commands (`ip`, `unshare`, `virsh`, `dnsmasq`) with a
//! time limit, checked exit codes and stderr in the error.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::Duration;

use super::error::LabError;
use super::wait::{POLL_INTERVAL, wait_until};

/// Time limit for quick commands (`ip`, `cp`).
pub const QUICK: Duration = Duration::from_secs(30);

/// Most of a long stderr that goes into an error.
const STDERR_LIMIT: usize = 2000;

/// Builds a command from a program and its arguments.
pub fn command<S: AsRef<str>>(argv: &[S]) -> Command {
    let mut cmd = Command::new(argv[0].as_ref());
    cmd.args(argv[1..].iter().map(|a| a.as_ref()));
    cmd
}

/// Runs `cmd` to completion, capturing stdout and stderr, and fails unless it
/// exits with status 0 within `timeout`.
pub fn run(step: &str, cmd: &mut Command, timeout: Duration) -> Result<Output, LabError> {
    let output = run_unchecked(step, cmd, timeout)?;
    if !output.status.success() {
        return Err(failed(step, cmd, output.status, &String::from_utf8_lossy(&output.stderr)));
    }
    Ok(output)
}

/// Like [`run`] but returns the output whatever the exit status.
pub fn run_unchecked(step: &str, cmd: &mut Command, timeout: Duration) -> Result<Output, LabError> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = spawn(step, cmd)?;
    let stdout = reader(child.stdout.take());
    let stderr = reader(child.stderr.take());
    let status = wait_child(step, cmd, &mut child, timeout)?;
    Ok(Output { status, stdout: stdout.join().unwrap_or_default(), stderr: stderr.join().unwrap_or_default() })
}

/// Runs a command that starts daemons. Its stdout and stderr go to `log`
/// (appended) rather than pipes, because a daemon that keeps an inherited pipe
/// open would keep a reader waiting for ever. On failure the tail of `log` is
/// the error's stderr.
pub fn run_daemonizing(step: &str, cmd: &mut Command, log: &Path, timeout: Duration) -> Result<(), LabError> {
    let open = || -> io::Result<File> { OpenOptions::new().create(true).append(true).open(log) };
    let out = open().map_err(|e| LabError::io(format!("{step}: open log"), log, e))?;
    let err = out.try_clone().map_err(|e| LabError::io(format!("{step}: open log"), log, e))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    let mut child = spawn(step, cmd)?;
    let status = wait_child(step, cmd, &mut child, timeout)?;
    if !status.success() {
        return Err(failed(step, cmd, status, &file_tail(log, STDERR_LIMIT)));
    }
    Ok(())
}

/// The command as a shell-like string for messages.
pub fn describe(cmd: &Command) -> String {
    let mut words = vec![quote(&cmd.get_program().to_string_lossy())];
    words.extend(cmd.get_args().map(|a| quote(&a.to_string_lossy())));
    words.join(" ")
}

/// The last `limit` bytes of a file (lossy, trimmed), or "" if unreadable.
pub fn file_tail(path: &Path, limit: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => tail(&String::from_utf8_lossy(&bytes), limit),
        Err(_) => String::new(),
    }
}

/// The last `limit` bytes of `text`, trimmed, on a char boundary.
pub fn tail(text: &str, limit: usize) -> String {
    let text = text.trim();
    if text.len() <= limit {
        return text.to_string();
    }
    let mut start = text.len() - limit;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &text[start..])
}

fn quote(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain { word.to_string() } else { crate::shell::quote(word) }
}

fn spawn(step: &str, cmd: &mut Command) -> Result<Child, LabError> {
    cmd.spawn().map_err(|source| LabError::Spawn { step: step.to_string(), command: describe(cmd), source })
}

fn wait_child(step: &str, cmd: &Command, child: &mut Child, timeout: Duration) -> Result<ExitStatus, LabError> {
    let mut status = None;
    let waited = wait_until(timeout, POLL_INTERVAL, || {
        status = child.try_wait()?;
        Ok::<bool, io::Error>(status.is_some())
    });
    match waited {
        Ok(true) => Ok(status.expect("try_wait returned a status")),
        Ok(false) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(LabError::CommandTimeout {
                step: step.to_string(),
                command: describe(cmd),
                timeout: humantime::format_duration(timeout).to_string(),
            })
        }
        Err(source) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(LabError::Spawn { step: step.to_string(), command: describe(cmd), source })
        }
    }
}

fn failed(step: &str, cmd: &Command, status: ExitStatus, stderr: &str) -> LabError {
    let stderr = tail(stderr, STDERR_LIMIT);
    LabError::Failed {
        step: step.to_string(),
        command: describe(cmd),
        status: status.to_string(),
        stderr: if stderr.is_empty() { "no output on stderr".to_string() } else { stderr },
    }
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_quotes_only_what_needs_it() {
        let cmd = command(&["ip", "-n", "vs-lab-h1", "link", "set", "lo", "up"]);
        assert_eq!(describe(&cmd), "ip -n vs-lab-h1 link set lo up");
        let cmd = command(&["sh", "-c", "echo 'hi' there", ""]);
        assert_eq!(describe(&cmd), r#"sh -c 'echo '\''hi'\'' there' ''"#);
    }

    #[test]
    fn tail_keeps_the_end_on_a_char_boundary() {
        assert_eq!(tail("  short\n", 10), "short");
        assert_eq!(tail("abcdefgh", 3), "...fgh");
        assert_eq!(tail("aé", 1), "...");
        assert_eq!(tail("aéb", 2), "...b");
    }

    #[test]
    fn run_reports_exit_status_and_stderr() {
        let err = run("testing", &mut command(&["sh", "-c", "echo oops >&2; exit 3"]), QUICK).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("testing: `sh -c 'echo oops >&2; exit 3'` failed"), "{msg}");
        assert!(msg.ends_with(": oops"), "{msg}");
    }

    #[test]
    fn run_captures_stdout() {
        let out = run("testing", &mut command(&["echo", "hello"]), QUICK).unwrap();
        assert_eq!(out.stdout, b"hello\n");
    }

    #[test]
    fn run_kills_on_timeout() {
        let err = run("testing", &mut command(&["sleep", "10"]), Duration::from_millis(50)).unwrap_err();
        assert_eq!(err.to_string(), "testing: `sleep 10` did not finish within 50ms");
    }

    #[test]
    fn run_daemonizing_reports_log_tail() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("start.log");
        let mut cmd = command(&["sh", "-c", "echo started; echo broken >&2; exit 1"]);
        let err = run_daemonizing("starting", &mut cmd, &log, QUICK).unwrap_err();
        assert!(err.to_string().ends_with(": started\nbroken"), "{err}");
    }
}
