//! Xen-side evidence read, not only attached: from `xl dmesg`, libvirt's libxl
//! driver log, the device model's log and Xen's copy of the guest console,
//! the lines that matter for one domain (its id or name, the case's time
//! window, and words that say something went wrong), and the rule that names
//! a Xen-side crash from them.

use std::time::SystemTime;

use super::facts::{Facts, cause, quote};
use crate::events::{Cause, CauseId};

/// The logs of one domain's host, as text (empty when not had).
#[derive(Debug, Default, Clone, Copy)]
pub struct XenLogs<'a> {
    pub xl_dmesg: &'a str,
    /// `/var/log/libvirt/libxl/NAME.log`.
    pub libxl: &'a str,
    /// `/var/log/xen/qemu-dm-NAME.log`.
    pub device_model: &'a str,
    /// `/var/log/xen/console/guest-NAME.log`.
    pub console: &'a str,
}

/// The domain the lines are picked for.
#[derive(Debug, Clone, Copy)]
pub struct Domain<'a> {
    /// Xen's domain id, when the domain's XML had one.
    pub id: Option<u32>,
    pub name: &'a str,
}

/// At most this many lines are picked from all logs together.
const MAX_LINES: usize = 16;

/// Words of a line that says something went wrong.
const ERRORISH: &[&str] = &[
    "error",
    "fail",
    "crash",
    "fault",
    "panic",
    "assert",
    "did not start",
    "died",
    "exited",
    "killed",
    "unexpected",
    "unhandled",
    "bad ",
    "timed out",
    "cannot",
];

/// Words Xen and its device model use for a crash of the domain.
pub const CRASH: &[&str] = &[
    "Triple fault",
    "MMIO emulation failed",
    "domain_crash",
    "crashed on cpu",
    "device model did not start",
    "Panic on CPU",
    "Assertion '",
    "qemu-dm exited",
    "device model exited",
    "Device Model died",
    "unhandled exception",
];

/// The lines of `logs` that matter for `dom` between `from` and `to`, each
/// prefixed with the log it came from (`xl dmesg: …`). A line with a time
/// stamp outside the window is left out; one without is judged by its words.
pub fn pick(logs: XenLogs<'_>, dom: Domain<'_>, from: SystemTime, to: SystemTime) -> Vec<String> {
    let within = |l: &str| stamp(l).is_none_or(|t| t >= from && t <= to);
    let mut out = Vec::new();
    for l in logs.xl_dmesg.lines().map(str::trim_end) {
        let global = l.contains("Panic on CPU") || l.contains("Assertion '");
        if within(l) && (global || (mentions(l, dom) && errorish(l))) {
            out.push(format!("xl dmesg: {}", quote(l)));
        }
    }
    for (log, text) in [("libxl", logs.libxl), ("device model", logs.device_model)] {
        for l in text.lines().map(str::trim_end) {
            if within(l) && errorish(l) && !other_domain(l, dom) && !l.contains("terminating on signal") {
                out.push(format!("{log}: {}", quote(l)));
            }
        }
    }
    for f in crate::guest::console_scan::scan(logs.console).into_iter().filter(|f| f.kind.is_fatal()) {
        out.push(format!("xen console: {}", quote(&f.text)));
    }
    out.dedup();
    out.truncate(MAX_LINES);
    out
}

/// Whether `l` speaks of `dom`: `d3`/`d3v0`/`(d3)`, `Domain 3`, `dom3`, or its name.
fn mentions(l: &str, dom: Domain<'_>) -> bool {
    if l.contains(dom.name) {
        return true;
    }
    let Some(id) = dom.id else { return false };
    let tokens =
        [format!("d{id}v"), format!("(d{id})"), format!("Domain {id} "), format!("Domain {id}:"), format!("dom{id} ")];
    tokens.iter().any(|t| l.contains(t.as_str()))
        || l.split_whitespace().any(|w| w.trim_end_matches(':') == format!("d{id}"))
}

/// Whether `l` names another domain id than `dom`'s (`Domain 7:` in libxl's lines).
fn other_domain(l: &str, dom: Domain<'_>) -> bool {
    let (Some(id), Some(i)) = (dom.id, l.find("Domain ")) else { return false };
    let n: String = l[i + 7..].chars().take_while(char::is_ascii_digit).collect();
    n.parse::<u32>().is_ok_and(|n| n != id)
}

fn errorish(l: &str) -> bool {
    let lower = l.to_ascii_lowercase();
    ERRORISH.iter().any(|w| lower.contains(w)) || CRASH.iter().any(|w| l.contains(w))
}

/// The time stamp a line starts with: libxl's `2026-12-02 03:26:19.318+0000:`,
/// or Xen's `(XEN) [2026-12-02 03:26:19.123]` (console_timestamps=date); UTC.
fn stamp(l: &str) -> Option<SystemTime> {
    let s = l.strip_prefix("(XEN) [").unwrap_or(l);
    let date = s.get(..19)?;
    let b = date.as_bytes();
    let shape = b[4] == b'-' && b[7] == b'-' && (b[10] == b' ' || b[10] == b'T') && b[13] == b':' && b[16] == b':';
    if !shape {
        return None;
    }
    humantime::parse_rfc3339_weak(date).ok()
}

/// Xen or its device model says the domain crashed (in the picked lines, or
/// Xen's own lines on the console).
pub fn crash(f: &Facts<'_>) -> Option<Cause> {
    let console = f.console_texts().flat_map(str::lines).filter(|l| l.trim_start().starts_with("(XEN)"));
    let lines: Vec<String> = f
        .xen
        .iter()
        .map(String::as_str)
        .chain(console)
        .filter(|l| CRASH.iter().any(|c| l.contains(c)))
        .map(quote)
        .collect();
    let first = lines.first()?;
    cause(CauseId::XenSideCrash, format!("Xen reports a crash of the domain: {first}"), lines)
}
