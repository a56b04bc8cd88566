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

const PATTERNS: &[(&str, FindingKind)] = &[
    ("Kernel panic - not syncing", FindingKind::Panic),
    ("Oops:", FindingKind::Oops),
    ("BUG:", FindingKind::Bug),
    ("kernel BUG at", FindingKind::Bug),
    ("WARNING: CPU:", FindingKind::Warning),
    ("------------[ cut here ]------------", FindingKind::Warning),
    ("(XEN) Panic on CPU", FindingKind::XenError),
    ("(XEN) Assertion", FindingKind::XenError),
    ("libxl: error", FindingKind::XenError),
];

/// Scans the whole console text; findings in line order.
pub fn scan(text: &str) -> Vec<ConsoleFinding> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = strip_timestamp(raw.trim_end_matches('\r'));
        for (pat, kind) in PATTERNS {
            if line.contains(pat) {
                out.push(ConsoleFinding { kind: *kind, line: i + 1, text: line.trim().to_string() });
                break;
            }
        }
    }
    out
}

/// The first finding that fails a case, if any.
pub fn first_fatal(text: &str) -> Option<ConsoleFinding> {
    scan(text).into_iter().find(|f| f.kind.is_fatal())
}

fn strip_timestamp(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix('[')
        && let Some(end) = rest.find(']')
    {
        return &rest[end + 1..];
    }
    line
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

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("", 5), "");
    }
}
