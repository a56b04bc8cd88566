//! Finds signs of a sick kernel or hypervisor in console output.

/// What a console line revealed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsoleFinding {
    pub kind: FindingKind,
    /// 1-based line number in the console log.
    pub line: usize,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    Panic,
    Oops,
    Bug,
    Warning,
    XenError,
}

impl FindingKind {
    /// Whether the finding alone fails the case.
    pub fn is_fatal(self) -> bool {
        matches!(self, FindingKind::Panic | FindingKind::Oops | FindingKind::Bug)
    }
}

/// What the kernel prints at the start of a message (after its timestamp and
/// log level) when something is wrong.
const KERNEL_PATTERNS: &[(&str, FindingKind)] = &[
    ("Kernel panic - not syncing", FindingKind::Panic),
    ("Oops:", FindingKind::Oops),
    ("BUG:", FindingKind::Bug),
    ("kernel BUG at", FindingKind::Bug),
    ("WARNING: CPU:", FindingKind::Warning),
    ("------------[ cut here ]------------", FindingKind::Warning),
    ("libxl: error", FindingKind::XenError),
];

/// What Xen prints after its `(XEN)` prefix (and its own optional timestamp).
const XEN_PREFIX: &str = "(XEN)";
const XEN_PATTERNS: &[(&str, FindingKind)] =
    &[("Panic on CPU", FindingKind::XenError), ("Assertion '", FindingKind::XenError)];

/// Scans the whole console text; findings in line order. A pattern counts only
/// where a message starts: at the start of a line or right after a kernel
/// timestamp (a kernel message may follow userspace output on the same console
/// line), so `DEBUG:` or a sentence that mentions `BUG:` is no finding.
pub fn scan(text: &str) -> Vec<ConsoleFinding> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if let Some((kind, message)) = message_starts(line).find_map(classify) {
            out.push(ConsoleFinding { kind, line: i + 1, text: message.trim().to_string() });
        }
    }
    out
}

/// The first finding that fails a case, if any.
pub fn first_fatal(text: &str) -> Option<ConsoleFinding> {
    scan(text).into_iter().find(|f| f.kind.is_fatal())
}

/// The finding a message starts with, if any.
fn classify(message: &str) -> Option<(FindingKind, &str)> {
    let (patterns, rest) = match message.strip_prefix(XEN_PREFIX) {
        Some(rest) => (XEN_PATTERNS, strip_prefixes(rest)),
        None => (KERNEL_PATTERNS, message),
    };
    let kind = patterns.iter().find(|(pat, _)| rest.starts_with(pat)).map(|(_, kind)| *kind)?;
    Some((kind, message))
}

/// Where messages start in a console line: the line itself once its prefixes
/// are stripped, then the text after each kernel timestamp further on.
fn message_starts(line: &str) -> impl Iterator<Item = &str> {
    let later = line
        .match_indices('[')
        .filter(|(i, _)| *i > 0)
        .filter_map(|(i, _)| line.get(i..))
        .filter(|rest| timestamp_len(rest).is_some())
        .map(strip_prefixes);
    std::iter::once(strip_prefixes(line)).chain(later)
}

/// Strips what comes before a kernel message: a log level (`<4>`), a timestamp
/// (`[   12.345678]`), a caller id (`[    T1]`, `[  C0]`), another log level,
/// and blanks; each is optional.
fn strip_prefixes(line: &str) -> &str {
    let mut s = strip_level(line.trim_start());
    if let Some(n) = timestamp_len(s) {
        s = &s[n..];
        s = caller_len(s).map_or(s, |n| &s[n..]);
    }
    strip_level(s).trim_start()
}

/// `<N>` at the start (a syslog level as `dmesg -r` and `/dev/kmsg` show it), stripped.
fn strip_level(s: &str) -> &str {
    let Some(rest) = s.strip_prefix('<') else { return s };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    match rest.get(digits..).and_then(|r| r.strip_prefix('>')) {
        Some(after) if (1..=3).contains(&digits) => after,
        _ => s,
    }
}

/// The length of a kernel timestamp `[ SECONDS.MICROS]` at the start of `s`.
fn timestamp_len(s: &str) -> Option<usize> {
    bracketed_len(s, |inner| {
        let (secs, frac) = inner.split_once('.')?;
        let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        (all_digits(secs) && all_digits(frac)).then_some(())
    })
}

/// The length of printk's caller id `[ T123]` or `[ C1]` at the start of `s`.
fn caller_len(s: &str) -> Option<usize> {
    bracketed_len(s, |inner| {
        let digits = inner.strip_prefix('T').or_else(|| inner.strip_prefix('C'))?;
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(())
    })
}

/// The length of `[ INNER]` at the start of `s` (blanks before INNER allowed) when `ok(INNER)`.
fn bracketed_len(s: &str, ok: impl Fn(&str) -> Option<()>) -> Option<usize> {
    let rest = s.strip_prefix('[')?;
    let end = rest.find(']')?;
    ok(rest.get(..end)?.trim_start())?;
    Some(end + 2)
}

/// The last `n` lines of a console log, for reports.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_panic_oops_bug_warning() {
        let log = "[    0.000000] Linux version 6.1\n\
                   [    1.2] Oops: 0002 [#1] PREEMPT SMP\n\
                   [    1.3] BUG: kernel NULL pointer dereference\n\
                   [    1.4] WARNING: CPU: 0 PID: 1 at foo.c:1\n\
                   [    1.5] Kernel panic - not syncing: sysrq triggered crash\n";
        let kinds: Vec<_> = scan(log).into_iter().map(|f| (f.kind, f.line)).collect();
        assert_eq!(
            kinds,
            vec![(FindingKind::Oops, 2), (FindingKind::Bug, 3), (FindingKind::Warning, 4), (FindingKind::Panic, 5)]
        );
        assert_eq!(first_fatal(log).unwrap().kind, FindingKind::Oops);
    }

    #[test]
    fn clean_boot_has_no_findings() {
        assert!(scan("Linux version 6.1\nVIRTSMOKE-MARKER boot\nbugfix: nothing\n").is_empty());
    }

    /// A clean Debian boot on a serial console, with lines that mention the
    /// patterns without being the kernel's report of them.
    const NOISY_CLEAN_BOOT: &str = "\
[    0.000000] Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)
[    0.000000] Command line: console=ttyS0 root=/dev/vda1 ro
[    0.412345] ACPI BIOS Error (bug): Could not resolve symbol [\\_SB.PCI0.LPCB.H_EC.ECAV], AE_NOT_FOUND (20220331/psargs-330)
[    1.234000] DEBUG: foo
[    1.300000] usb 1-1: Oops: device descriptor read/64, error -71
[    1.400000] xhci_hcd 0000:00:14.0: WARNING: Host System Error
[    1.500000] i915 0000:00:02.0: [drm] *ERROR* CPU pipe A FIFO underrun: kernel BUG at nothing
Begin: Loading essential drivers ... done.
[  OK  ] Started systemd-journald.service - Journal Service.
         Starting systemd-udev-trigger.service - Coldplug All udev Devices...
[    3.500000] systemd[1]: myapp.service: Reporting BUG: nope, just a sentence
[    3.600000] audit: type=1400 msg='Kernel panic - not syncing in a quoted string'
<6>[    3.700000] NET: Registered PF_PACKET protocol family
[  OK  ] Reached target multi-user.target - Multi-User System.
myapp[412]: DEBUG: WARNING: CPU: said in passing
(XEN) Xen version 4.17.3 (Debian 4.17.3+10-g091466ba55-1~deb12u1)
(XEN) [    0.123456] Assertions are compiled out in this build
Debian GNU/Linux 12 deb ttyS0
";

    #[test]
    fn patterns_inside_other_words_or_sentences_are_no_findings() {
        let found = scan(NOISY_CLEAN_BOOT);
        assert_eq!(found, [], "{found:#?}");
        assert_eq!(first_fatal(NOISY_CLEAN_BOOT), None);
        assert!(scan("[    1.234] DEBUG: foo\nsomething BUG: nope\nACPI BIOS Error (bug): x\n").is_empty());
    }

    #[test]
    fn real_kernel_reports_are_found_in_their_line_formats() {
        let log = "\
[   12.345678] BUG: kernel NULL pointer dereference, address: 0000000000000000
[   12.345700] #PF: supervisor write access in kernel mode
[   12.345730] Oops: 0002 [#1] PREEMPT SMP NOPTI
[   12.345740] CPU: 0 PID: 1 Comm: sh Not tainted 6.1.0-18-amd64 #1  Debian 6.1.76-1
[   12.346000] Kernel panic - not syncing: Fatal exception
[   12.346100] ---[ end Kernel panic - not syncing: Fatal exception ]---
<4>[    2.000000] ------------[ cut here ]------------
<4>[    2.000001] WARNING: CPU: 0 PID: 1 at drivers/gpu/drm/drm_atomic.c:123 drm_atomic_check_only+0x1/0x2
[    2.000003] ---[ end trace 0000000000000000 ]---
[    3.100000][    T1] kernel BUG at mm/slub.c:379!
<0>Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)
Begin: Loading essential drivers ... [    1.500000] BUG: unable to handle page fault for address: ffff888000000000
(XEN) Panic on CPU 0:
(XEN) [    5.000000] Assertion 'v->is_running' failed at arch/x86/domain.c:2000
libxl: error: libxl_create.c:1234:domcreate_launch_dm: Domain 3:device model did not start: -3
";
        let found: Vec<_> = scan(log).into_iter().map(|f| (f.kind, f.line)).collect();
        use FindingKind::*;
        assert_eq!(
            found,
            [
                (Bug, 1),
                (Oops, 3),
                (Panic, 5),
                (Warning, 7),
                (Warning, 8),
                (Bug, 10),
                (Panic, 11),
                (Bug, 12),
                (XenError, 13),
                (XenError, 14),
                (XenError, 15)
            ]
        );
        let texts: Vec<_> = scan(log).into_iter().map(|f| f.text).collect();
        assert_eq!(texts[0], "BUG: kernel NULL pointer dereference, address: 0000000000000000");
        assert_eq!(texts[5], "kernel BUG at mm/slub.c:379!");
        assert_eq!(texts[7], "BUG: unable to handle page fault for address: ffff888000000000");
        assert_eq!(first_fatal(log).unwrap().line, 1);
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("", 5), "");
    }
}
