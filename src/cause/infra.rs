//! Rules for what lies outside the guest: virtsmoke itself, the run being
//! interrupted, the host going away, the hypervisor refusing the domain.

use super::facts::{Facts, cause, clock, quote, step_kind};
use crate::events::{Cause, CauseId};

/// What libvirt's client says when its connection to the daemon is gone (or
/// cannot be made), what virtsmoke says when it cannot reach the host, and
/// what the runner records for a case on a host already found unreachable.
/// Each is matched where it starts, and what follows is the reason.
pub const HOST_LOST: &[&str] = &[
    crate::backend::error::CONNECTION_LOST,
    "Cannot recv data",
    "End of file while reading data",
    "client socket is closed",
    "connection closed due to keepalive timeout",
    "Cannot write data",
    "Failed to connect socket to",
    "unable to connect to server at",
    "cannot connect to libvirt at",
    "cannot connect to jump host",
    "ssh to jump host",
    "over SSH failed",
    "is unusable:",
    "unreachable since",
];

/// The case's own task died, or virtsmoke could not do its own part.
pub fn harness(f: &Facts<'_>) -> Option<Cause> {
    const OWN: &[&str] = &["a bug in virtsmoke", "worker thread died", "the case's task ended early", "was not built"];
    let s = f.failing().find(|s| {
        step_kind(&s.name) == "harness" || s.message.as_deref().is_some_and(|m| OWN.iter().any(|o| m.contains(o)))
    })?;
    let m = s.message.as_deref().unwrap_or("");
    cause(CauseId::HarnessError, format!("virtsmoke itself failed in {}: {}", s.name, quote(m)), vec![quote(m)])
}

/// The run was interrupted while the case ran (or before it started), and
/// nothing had failed before.
pub fn interrupted(f: &Facts<'_>) -> Option<Cause> {
    let s = f.primary().filter(|s| step_kind(&s.name) == "interrupted")?;
    let m = s.message.as_deref().unwrap_or("the run was interrupted");
    cause(CauseId::RunInterrupted, format!("{m}: the case was not judged"), vec![quote(m)])
}

/// What a guest step says when its host may have gone away beneath it: a
/// domain that stopped answering, a wait that ran out, a connection refused.
const SYMPTOMS: &[&str] = &["no longer running", "cannot read the domain state", " within ", "cannot connect to "];

/// The host, or the libvirt connection to it, went away: whatever the guest
/// steps said before that (a domain "no longer running", a wait that ran out)
/// is a symptom. A definite verdict on the guest before it (a wrong kind, a
/// refused key) stays the guest's.
pub fn host_unreachable(f: &Facts<'_>) -> Option<Cause> {
    let (step, at, reason) = f.failing().find_map(|s| {
        let m = s.message.as_deref()?;
        let at = HOST_LOST.iter().filter_map(|p| m.find(p)).min()?;
        Some((s, at, m))
    })?;
    let primary = f.primary()?;
    let symptom = primary.message.as_deref().is_some_and(|m| SYMPTOMS.iter().any(|p| m.contains(p)));
    if !std::ptr::eq(primary, step) && !symptom {
        return None;
    }
    let host = &f.report.host;
    let reason = quote(&reason[at..]);
    let summary = if reason.starts_with("unreachable since") || reason.starts_with("is unusable:") {
        format!("host {host} {reason}")
    } else {
        format!("host {host} became unreachable at {} ({reason})", clock(f.time_of(step)))
    };
    let evidence = vec![quote(&format!("{}: {}", step.name, step.message.as_deref().unwrap_or("")))];
    cause(CauseId::HostUnreachable, summary, evidence)
}

/// libvirt (or libxl beneath it) refused to create the domain.
pub fn hypervisor_refused(f: &Facts<'_>) -> Option<Cause> {
    const REFUSED: &[&str] = &["creating the domain failed on", "pausing the new domain failed on"];
    let (kind, m) = f.primary_kind()?;
    if kind != "boot.running" || !REFUSED.iter().any(|r| m.contains(r)) {
        return None;
    }
    // libvirt's own words follow the domain's name: "… failed on `NAME`: WORDS".
    let words = m.split_once("`: ").map_or(m, |(_, w)| w);
    let element = named_element(words).map(|e| format!(" (domain XML element <{e}>)")).unwrap_or_default();
    let summary = format!("the hypervisor refused the domain{element}: {}", quote(words));
    cause(CauseId::HypervisorRefusedDomain, summary, vec![quote(m)])
}

/// The domain XML element a libvirt message names: `element 'NAME'`,
/// `'NAME' element`, `<NAME>`, or `element NAME`.
fn named_element(m: &str) -> Option<&str> {
    let word = |s: &str| -> Option<usize> {
        let n = s.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_').count();
        (n > 0).then_some(n)
    };
    if let Some(i) = m.find("element '") {
        let rest = &m[i + 9..];
        return word(rest).map(|n| &rest[..n]);
    }
    if let Some(i) = m.find("' element") {
        let start = m[..i].rfind('\'')? + 1;
        return Some(&m[start..i]);
    }
    if let Some(i) = m.find('<') {
        let rest = &m[i + 1..];
        return word(rest).filter(|n| rest[*n..].starts_with('>') || rest[*n..].starts_with(' ')).map(|n| &rest[..n]);
    }
    None
}

#[cfg(test)]
pub fn named_element_for_tests(m: &str) -> Option<&str> {
    named_element(m)
}
