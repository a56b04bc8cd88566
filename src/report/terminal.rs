//! The human view of a run: plain lines (CI logs), a progress bar on a TTY, and a summary.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::events::{CaseReport, Outcome, RunEvent};

pub struct Terminal {
    bar: Option<ProgressBar>,
    verbose: bool,
}

impl Terminal {
    /// A progress bar only on an interactive terminal outside CI: indicatif drops
    /// lines silently when stderr is not a TTY, so CI gets plain lines only.
    pub fn new(verbose: bool) -> Terminal {
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
        Terminal { bar, verbose }
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
                        "    {:<7} {case} {} ({} ms){}",
                        label(step.outcome),
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
                    "  {:<7}  {} [{:.1}s]",
                    label(report.outcome),
                    report.name,
                    report.duration.as_secs_f64()
                ));
                for kept in &report.kept {
                    self.line(&format!("    kept {} on {}", kept.domain, kept.uri));
                    self.line(&format!("      console: virsh -c '{}' console {}", kept.uri, kept.domain));
                    if let Some(ssh) = &kept.ssh {
                        self.line(&format!("      shell:   {ssh}"));
                    }
                    self.line(&format!("      remove:  {}", kept.remove));
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
        let mut slow: Vec<&CaseReport> = cases.iter().collect();
        slow.sort_by(|a, b| b.duration.cmp(&a.duration));
        if !slow.is_empty() {
            out.push_str("slowest:\n");
            for c in slow.iter().take(5) {
                let boot = c.property("boot_ms").map(|b| format!(", boot {b} ms")).unwrap_or_default();
                out.push_str(&format!("  {:>7.1}s  {}{boot}\n", c.duration.as_secs_f64(), c.name));
            }
        }
        for c in cases.iter().filter(|c| matches!(c.outcome, Outcome::Failed | Outcome::Error)) {
            for s in c.steps.iter().filter(|s| matches!(s.outcome, Outcome::Failed | Outcome::Error)) {
                out.push_str(&format!(
                    "{} {} {}: {}\n",
                    label(s.outcome),
                    c.name,
                    s.name,
                    s.message.as_deref().unwrap_or("")
                ));
            }
        }
        out
    }
}

fn label(o: Outcome) -> &'static str {
    match o {
        Outcome::Passed => "PASS",
        Outcome::Failed => "FAIL",
        Outcome::Error => "ERROR",
        Outcome::Skipped => "SKIP",
    }
}
