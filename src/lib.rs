//! virtsmoke: boots guests through libvirt on real hosts, checks them, and
//! writes JUnit that CI systems show.
//!
//! The library holds every module; `src/main.rs` is only the CLI's entry point,
//! so integration tests can use the types (plan, events, results) directly.

// The CLI prints with these instead of std's, which panic when the reader of a
// pipe goes away (`virtsmoke list x.yaml | head`): stdout then ends the process
// quietly, as other Unix tools do; stderr output is dropped.
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
macro_rules! eprint {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

pub mod backend;
pub mod cause;
pub mod checks;
pub mod cli;
pub mod events;
pub mod fsutil;
pub mod guest;
pub mod hostaccess;
pub mod hypervisor;
pub mod image;
pub mod lab;
pub mod plan;
pub mod report;
pub mod rundir;
pub mod runner;
pub mod scenario;
pub mod shell;

/// Exit codes: one place maps outcomes and errors to them.
pub mod exit {
    pub const PASSED: u8 = 0;
    pub const CASE_FAILED: u8 = 1;
    pub const BAD_INPUT: u8 = 2;
    pub const INFRASTRUCTURE: u8 = 3;
    /// Interrupted by SIGINT (128 + 2), as shells and CI systems expect.
    pub const SIGINT: u8 = 130;
    /// Interrupted by SIGTERM (128 + 15).
    pub const SIGTERM: u8 = 143;
}

/// An error and all its sources, `: `-separated, as one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
