//! virtsmoke: boots guests through libvirt on real hosts, checks them, and
//! writes JUnit that CI systems show.

mod backend;
mod checks;
mod cli;
mod events;
mod guest;
mod image;
mod lab;
mod plan;
mod report;
mod runner;
mod scenario;

use std::process::ExitCode;

/// Exit codes: one place maps outcomes and errors to them.
pub mod exit {
    pub const PASSED: u8 = 0;
    pub const CASE_FAILED: u8 = 1;
    pub const BAD_INPUT: u8 = 2;
    pub const INFRASTRUCTURE: u8 = 3;
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

fn main() -> ExitCode {
    ExitCode::from(cli::main())
}
