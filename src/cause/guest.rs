//! Rules for the guest: what its console and the boot chain's steps say.

use super::facts::{Facts, cause, quote};
use crate::events::{Cause, CauseId};
use crate::guest::console_scan::{self, FindingKind};

/// How many lines of a panic's block are quoted.
const BLOCK_LINES: usize = 6;

/// A panic, Oops or BUG on a console (the first one), with the first lines of its block.
pub fn kernel_panic(f: &Facts<'_>) -> Option<Cause> {
    let (text, finding) = f.console_texts().find_map(|t| console_scan::first_fatal(t).map(|x| (t, x)))?;
    let what = match finding.kind {
        FindingKind::Panic => "panicked",
        FindingKind::Oops => "oopsed",
        _ => "hit a BUG",
    };
    let block: Vec<String> = text
        .lines()
        .skip(finding.line - 1)
        .map(|l| l.trim_end_matches('\r').trim())
        .filter(|l| !l.is_empty())
        .take(BLOCK_LINES)
        .map(quote)
        .collect();
    cause(CauseId::GuestKernelPanic, format!("the guest kernel {what}: {}", quote(&finding.text)), block)
}

/// The domain stopped (or never ran) while a step waited on it.
pub fn halted(f: &Facts<'_>) -> Option<Cause> {
    const STOPPED: &[&str] = &["the domain is no longer running (state: ", "right after starting"];
    let s = f.failing().find(|s| s.message.as_deref().is_some_and(|m| STOPPED.iter().any(|p| m.contains(p))))?;
    let m = s.message.as_deref().unwrap_or("");
    let mut evidence = vec![quote(&format!("{}: {m}", s.name))];
    let last = f.last_console_line();
    let how = match f.console_texts().find_map(|t| t.lines().find(|l| l.contains("reboot: ")).map(str::trim)) {
        Some(l) => {
            evidence.push(quote(l));
            format!("the guest went down by itself ({})", quote(l))
        }
        None => "the guest stopped unexpectedly".to_string(),
    };
    evidence.extend(last.as_ref().map(|l| format!("last console line: {l}")));
    let last = last.map(|l| format!("; its last console line: {l}")).unwrap_or_default();
    cause(CauseId::GuestHaltedUnexpectedly, format!("{how} while {} waited: {}{last}", s.name, quote(m)), evidence)
}

/// Whether a console shows that a Linux kernel ran: its banner, a kernel
/// timestamp, or the test image's markers.
fn kernel_printed(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start_matches(|c: char| c == '<' || c.is_ascii_digit() || c == '>');
        l.contains("Linux version") || l.contains("VIRTSMOKE-MARKER") || is_kernel_timestamp(l)
    })
}

/// `[    0.123456]` at the start of `l`.
fn is_kernel_timestamp(l: &str) -> bool {
    let Some(rest) = l.strip_prefix('[') else { return false };
    let Some((inner, _)) = rest.split_once(']') else { return false };
    let Some((secs, frac)) = inner.trim_start().split_once('.') else { return false };
    !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 6
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// `boot.console` failed and no kernel ever printed: firmware or the boot loader stopped.
pub fn no_kernel(f: &Facts<'_>) -> Option<Cause> {
    let (kind, m) = f.primary_kind()?;
    if kind != "boot.console" || f.console_texts().any(kernel_printed) {
        return None;
    }
    let (said, evidence) = match f.last_console_line() {
        Some(l) => (format!("its last console line: {l}"), vec![format!("last console line: {l}")]),
        None => ("the console stayed empty".to_string(), vec![quote(m)]),
    };
    cause(
        CauseId::BootLoaderNoKernel,
        format!("the firmware or boot loader never reached the kernel; {said}"),
        evidence,
    )
}

/// `boot.console` timed out after the kernel printed: the last line is where it stopped.
pub fn stalled(f: &Facts<'_>) -> Option<Cause> {
    let (kind, m) = f.primary_kind()?;
    if !kind.starts_with("boot.") || !m.contains(" within ") {
        return None;
    }
    let last = f.last_console_line().unwrap_or_else(|| "(nothing)".into());
    // The step says how long the console had been quiet (`; no console output for the last N s`).
    let quiet =
        m.split_once("; no console output for the last ").map(|(_, q)| format!(", no console progress for {q}"));
    let summary = format!(
        "the boot stalled at {kind}{}; the console's last line: {last}",
        quiet.unwrap_or_else(|| format!(" ({})", quote(m)))
    );
    cause(CauseId::BootStalled, summary, vec![quote(m), format!("last console line: {last}")])
}

/// What DHCP clients print when a lease was offered and taken.
const LEASE_TAKEN: &[&str] = &["udhcpc-script: bound", "lease of ", "DHCPACK", "DHCPv4 address", "bound to "];
/// What they print while no lease comes.
const NO_LEASE: &[&str] = &["sending discover", "no lease", "leasefail", "DHCPDISCOVER", "net-failed"];

/// `boot.address` failed: was a lease offered at all?
pub fn no_address(f: &Facts<'_>) -> Option<Cause> {
    let (kind, m) = f.primary_kind()?;
    if kind != "boot.address" {
        return None;
    }
    let lines = |pats: &[&str]| -> Vec<String> {
        let mut found: Vec<String> = f
            .console_texts()
            .flat_map(str::lines)
            .map(str::trim)
            .filter(|l| pats.iter().any(|p| l.contains(p)))
            .map(quote)
            .collect();
        found.dedup();
        found
    };
    let taken = lines(LEASE_TAKEN);
    if let Some(l) = taken.last() {
        let summary = format!("the guest was offered a lease ({l}) but its address never became known: {}", quote(m));
        return cause(CauseId::NoAddressLeaseNotConfigured, summary, taken);
    }
    let mut waiting = lines(NO_LEASE);
    if waiting.is_empty() {
        return never_asked(f, kind, m);
    }
    let tail = waiting.len().saturating_sub(3);
    waiting.drain(..tail);
    waiting.insert(0, quote(m));
    let summary = format!("the guest's kernel booted but no DHCP lease was offered: {}", quote(m));
    cause(CauseId::NoAddressNoLease, summary, waiting)
}

/// What a guest prints once its boot is over (the test image's marker, a login prompt).
const BOOT_DONE: &[&str] = &["VIRTSMOKE-MARKER ssh-ready", "login:"];

/// No DHCP client ever printed on the console. A guest whose boot went on to
/// its end never asked for an address; one whose console fell silent on the
/// way stalled there (a hang is not a missing lease).
fn never_asked(f: &Facts<'_>, kind: &str, m: &str) -> Option<Cause> {
    let last = f.last_console_line().unwrap_or_else(|| "(nothing)".into());
    let done = f.console_texts().flat_map(str::lines).any(|l| BOOT_DONE.iter().any(|d| l.trim_end().ends_with(d)));
    let quiet = m.split_once("; no console output for the last ").map(|(_, q)| q.to_string());
    match quiet {
        Some(q) if !done => {
            let summary = format!(
                "the boot stalled before the guest asked for an address (no DHCP client on its console), \
                 no console progress for {q}; the console's last line: {last}"
            );
            cause(CauseId::BootStalled, summary, vec![quote(m), format!("last console line: {last}")])
        }
        _ => {
            let summary = format!(
                "the guest booted but never asked for an address: no DHCP client output on its console \
                 ({kind}: {}); its last line: {last}",
                quote(m)
            );
            cause(CauseId::NoAddressNoLease, summary, vec![quote(m), format!("last console line: {last}")])
        }
    }
}

/// `boot.ssh` failed, or a command over SSH did: which part of SSH?
pub fn ssh(f: &Facts<'_>) -> Option<Cause> {
    let (kind, m) = f.primary_kind()?;
    let id = if m.contains(" refused the key ") {
        CauseId::SshKeyRefused
    } else if m.contains("none of the fingerprints the guest printed") {
        CauseId::SshHostKeyMismatch
    } else if m.contains("` exited with ") {
        CauseId::SshCommandFailed
    } else if kind == "boot.ssh" && (m.contains("cannot connect to ") || m.contains("did not answer within")) {
        CauseId::SshNotListening
    } else {
        return None;
    };
    let summary = match id {
        CauseId::SshKeyRefused => "SSH answered but refused the run's key",
        CauseId::SshHostKeyMismatch => "SSH answered with a host key the guest did not print on its console",
        CauseId::SshCommandFailed => "SSH accepted the key but the command failed",
        _ => "the guest's address is known but nothing accepted SSH connections",
    };
    cause(id, format!("{summary}: {}", quote(m)), vec![quote(m)])
}

/// `boot.kind` found another kind of guest than the case asked for, or
/// `boot.running` found that the kernel cannot boot as that kind at all (no
/// Xen ELF note for its entry point: the provisioning's typed `NotesError` check).
pub fn kind_wrong(f: &Facts<'_>) -> Option<Cause> {
    let (kind, m) = f.primary_kind()?;
    let booted_wrong =
        kind == "boot.kind" && (m.contains("did not boot as") || m.contains("no evidence that it booted as"));
    let cannot_boot = kind == "boot.running" && m.contains("entry point (no such Xen ELF note)");
    if !(booted_wrong || cannot_boot) {
        return None;
    }
    let summary =
        if cannot_boot { format!("the kernel cannot boot as the kind asked for: {}", quote(m)) } else { quote(m) };
    cause(CauseId::GuestKindWrong, summary, vec![quote(m)])
}
