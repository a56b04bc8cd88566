//! The human view of a run: plain lines (CI logs), a progress bar on a TTY, and a summary.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::events::{CaseReport, Outcome, RunEvent};

pub struct Terminal {
    bar: Option<ProgressBar>,
    verbose: bool,
    color: bool,
}

/// When outcome labels are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set (to anything but empty).
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

impl Terminal {
    /// A progress bar only on an interactive terminal outside CI: indicatif drops
    /// lines silently when stderr is not a TTY, so CI gets plain lines only.
    pub fn new(verbose: bool, color: bool) -> Terminal {
        let interactive = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        let bar = interactive.then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} cases {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Terminal { bar, verbose, color }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
        }
    }

    pub fn handle(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted { run_id, cases, artifacts } => {
                if let Some(bar) = &self.bar {
                    bar.set_length(*cases as u64);
                }
                self.line(&format!("run {run_id}: {cases} case(s), artifacts in {}", artifacts.display()));
            }
            RunEvent::Preparing { what } => self.line(&format!("  prepare  {what}")),
            RunEvent::HostReady { host, domain_type, accel_reason, facts } => self.line(&format!(
                "  host     {host}: {} {} (libvirt {}), domain type {domain_type} ({accel_reason})",
                facts.hypervisor, facts.hypervisor_version, facts.libvirt_version
            )),
            RunEvent::HostUnusable { host, error } => self.line(&format!("  host     {host}: UNUSABLE: {error}")),
            RunEvent::CaseStarted { case, host } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(case.clone());
                }
                self.line(&format!("  start    {case} on {host}"));
            }
            RunEvent::StepFinished { case, step } => {
                if self.verbose || step.outcome != Outcome::Passed {
                    self.line(&format!(
                        "    {} {case} {} ({} ms){}",
                        self.label(step.outcome),
                        step.name,
                        step.duration.as_millis(),
                        step.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
                    ));
                }
            }
            RunEvent::CaseFinished { report } => {
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
                self.line(&format!(
                    "  {}  {} [{:.1}s]",
                    self.label(report.outcome),
                    report.name,
                    report.duration.as_secs_f64()
                ));
                if let Some(cause) = &report.cause {
                    self.line(&format!("    cause {}", cause.headline()));
                }
                for line in kept_lines(report) {
                    self.line(&line);
                }
            }
            RunEvent::Interrupted { signal, count } => self.line(&format!(
                "  {signal} received ({count}): stopping; tearing down every guest of the run{}",
                if *count > 1 { " now" } else { "" }
            )),
            RunEvent::RunFinished { .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
            }
        }
    }

    /// Counts, then the slowest cases, then each failure with its message.
    pub fn summary(&self, cases: &[CaseReport]) -> String {
        let count = |o| cases.iter().filter(|c| c.outcome == o).count();
        let mut out = format!(
            "\n{} case(s): {} passed, {} failed, {} errors, {} skipped\n",
            cases.len(),
            count(Outcome::Passed),
            count(Outcome::Failed),
            count(Outcome::Error),
            count(Outcome::Skipped)
        );
        let known = count(Outcome::KnownFailure);
        if known > 0 {
            // Counted apart: not failed, not passed, and not hidden.
            out.insert_str(out.len() - 1, &format!(", {known} known failure{}", if known == 1 { "" } else { "s" }));
        }
        let mut slow: Vec<&CaseReport> = cases.iter().collect();
        slow.sort_by_key(|c| std::cmp::Reverse(c.duration));
        if !slow.is_empty() {
            out.push_str("slowest:\n");
            for c in slow.iter().take(5) {
                let boot = c.property("boot_ms").map(|b| format!(", boot {b} ms")).unwrap_or_default();
                out.push_str(&format!("  {:>7.1}s  {}{boot}\n", c.duration.as_secs_f64(), c.name));
            }
        }
        for c in cases.iter().filter(|c| !c.kept.is_empty()) {
            out.push_str(&format!("kept by {}:\n", c.name));
            for line in kept_lines(c) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        self.failures(cases, &mut out);
        out
    }

    /// Each failed case's cause, then its steps that did not pass. What was
    /// said already for an earlier case (a host gone under several cases) is
    /// referred to, not repeated.
    fn failures(&self, cases: &[CaseReport], out: &mut String) {
        let listed = |o| matches!(o, Outcome::Failed | Outcome::Error | Outcome::KnownFailure);
        let mut said: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        let mut refer = |text: String, place: String| match said.get(&text) {
            Some(first) => format!("(same as {first})"),
            None => {
                said.insert(text.clone(), place);
                text
            }
        };
        for c in cases.iter().filter(|c| listed(c.outcome)) {
            // The cause first: the one answer to "why", then the steps it explains.
            if let Some(cause) = &c.cause {
                let text = refer(cause.headline(), c.name.clone());
                let text = if text.starts_with("(same as") { format!("[{}] {text}", cause.id) } else { text };
                out.push_str(&format!("{} {} {}\n", self.label(c.outcome), c.name, text));
            }
            for s in c.steps.iter().filter(|s| listed(s.outcome)) {
                let message = s.message.clone().unwrap_or_default();
                let message =
                    if message.len() < 60 { message } else { refer(message, format!("{} {}", c.name, s.name)) };
                out.push_str(&format!("{} {} {}: {message}\n", self.label(s.outcome), c.name, s.name));
            }
        }
    }
}

/// How to reach, dump and remove each guest `report` kept: the console, the
/// login, the memory dump recorded as `GUEST.memory_dump`, the cleanup.
fn kept_lines(report: &CaseReport) -> Vec<String> {
    let mut lines = Vec::new();
    for kept in &report.kept {
        lines.push(format!("    kept {} on {}", kept.domain, kept.uri));
        lines.push(format!("      console: virsh -c '{}' console {}", kept.uri, kept.domain));
        if let Some(ssh) = &kept.ssh {
            lines.push(format!("      shell:   {ssh}"));
        }
        let dump = (!kept.guest.is_empty()).then(|| report.property(&format!("{}.memory_dump", kept.guest))).flatten();
        if let Some(dump) = dump {
            lines.push(format!("      dump:    {dump}"));
        }
        lines.push(format!("      remove:  {}", kept.remove));
    }
    lines
}

impl Terminal {
    /// `PASS`, `FAIL`, `ERROR`, `SKIP`, `KNOWN`, padded to 7 columns, coloured when enabled
    /// (padding outside the escape codes, so columns line up either way).
    fn label(&self, o: Outcome) -> String {
        let (text, code) = match o {
            Outcome::Passed => ("PASS", "32"),
            Outcome::Failed => ("FAIL", "31"),
            Outcome::Error => ("ERROR", "1;31"),
            Outcome::Skipped => ("SKIP", "33"),
            Outcome::KnownFailure => ("KNOWN", "35"),
        };
        let pad = " ".repeat(7 - text.len());
        if self.color { format!("\x1b[{code}m{text}\x1b[0m{pad}") } else { format!("{text}{pad}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_coloured_only_when_asked_and_keep_their_width() {
        let plain = Terminal { bar: None, verbose: false, color: false };
        let coloured = Terminal { bar: None, verbose: false, color: true };
        assert_eq!(plain.label(Outcome::Failed), "FAIL   ");
        assert_eq!(coloured.label(Outcome::Failed), "\x1b[31mFAIL\x1b[0m   ");
        assert_eq!(coloured.label(Outcome::Error), "\x1b[1;31mERROR\x1b[0m  ");
        assert!(!plain.summary(&[]).contains('\x1b'));
        assert_eq!(plain.label(Outcome::KnownFailure), "KNOWN  ");
    }

    #[test]
    fn a_case_s_cause_is_listed_before_its_steps() {
        use crate::events::{Cause, CauseId};
        let plain = Terminal { bar: None, verbose: false, color: false };
        let mut c = crate::report::sample::case("s/pvh@xen1", "xen1", Outcome::Error, &[]);
        c.steps[1].outcome = Outcome::Error;
        c.steps[1].message = Some("cannot read the domain state: Cannot recv data".into());
        c.cause = Some(Cause {
            id: CauseId::HostUnreachable,
            summary: "host xen1 became unreachable".into(),
            evidence: vec![],
        });
        let out = plain.summary(&[c]);
        let cause = out.find("ERROR   s/pvh@xen1 [host-unreachable] host xen1 became unreachable\n").expect(&out);
        let step = out.find("ERROR   s/pvh@xen1 boot.ssh: cannot read").expect(&out);
        assert!(cause < step, "{out}");
    }

    #[test]
    fn what_was_said_for_one_case_is_referred_to_for_the_next() {
        let lost =
            "libvirt lost its connection to the host: cannot recv data: Connection reset by peer (a long message)";
        use crate::events::{Cause, CauseId};
        let case = |name: &str| {
            let mut c = crate::report::sample::case(name, "xen1", Outcome::Error, &[]);
            c.cause = Some(Cause {
                id: CauseId::HostUnreachable,
                summary: "host xen1 became unreachable".into(),
                evidence: vec![],
            });
            c.steps[0].name = "teardown".into();
            c.steps[0].outcome = Outcome::Error;
            c.steps[0].message = Some(lost.into());
            c.steps[1].message = Some("short".into());
            c
        };
        let out = Terminal::new(false, false).summary(&[case("s/a@xen1"), case("s/b@xen1")]);
        assert_eq!(out.matches(lost).count(), 1, "{out}");
        assert_eq!(out.matches("host xen1 became unreachable").count(), 1, "{out}");
        assert!(out.contains("ERROR   s/b@xen1 [host-unreachable] (same as s/a@xen1)\n"), "{out}");
        assert!(out.contains("s/b@xen1 teardown: (same as s/a@xen1 teardown)\n"), "{out}");
        assert_eq!(out.matches(": short\n").count(), 2, "short messages are said again: {out}");
    }

    #[test]
    fn known_failures_are_counted_apart_and_listed() {
        let plain = Terminal { bar: None, verbose: false, color: false };
        let mut known = crate::report::sample::case("s/pv@xen1", "xen1", Outcome::KnownFailure, &[]);
        known.steps[1].message = Some("known failure: Xen 4.17 (https://bugs.example/1): logdirty: 95".into());
        let ok = crate::report::sample::case("s/kvm@lab1", "lab1", Outcome::Passed, &[]);
        let out = plain.summary(&[ok.clone(), known]);
        assert!(out.starts_with("\n2 case(s): 1 passed, 0 failed, 0 errors, 0 skipped, 1 known failure\n"), "{out}");
        assert!(
            out.contains(
                "KNOWN   s/pv@xen1 boot.ssh: known failure: Xen 4.17 (https://bugs.example/1): logdirty: 95\n"
            )
        );
        assert!(plain.summary(&[ok]).starts_with("\n1 case(s): 1 passed, 0 failed, 0 errors, 0 skipped\n"));
    }

    #[test]
    fn each_kept_guest_s_memory_dump_command_is_in_the_summary() {
        let plain = Terminal { bar: None, verbose: false, color: false };
        let dump = "virsh -c 'xen:///system' dump 'vs-r1-0-pv' '/var/tmp/vs-r1-0-pv.core'";
        let mut c = crate::report::sample::case("s/pv@xen1", "xen1", Outcome::Failed, &[("pv.memory_dump", dump)]);
        let kept = |guest: &str, domain: &str| crate::events::KeptGuest {
            guest: guest.into(),
            domain: domain.into(),
            uri: "xen:///system".into(),
            ssh: None,
            ssh_argv: None,
            remove: "virtsmoke cleanup --uri xen:///system --run r1".into(),
        };
        c.kept = vec![kept("pv", "vs-r1-0-pv"), kept("", "vs-r1-0-old")];
        let out = plain.summary(&[c]);
        assert!(
            out.contains(&format!(
                "kept by s/pv@xen1:\n    kept vs-r1-0-pv on xen:///system\n      console: virsh -c 'xen:///system' \
                 console vs-r1-0-pv\n      dump:    {dump}\n      remove:  virtsmoke cleanup"
            )),
            "{out}"
        );
        // A guest recorded without its scenario name (an older file) has no dump line to find.
        assert_eq!(out.matches("dump:").count(), 1, "{out}");
    }
}
