//! Checks run against booted guests. Checks never print: they return results.

pub mod boot;
pub mod command;
pub mod guest_kind;
pub mod lifecycle;
pub mod migrate;
pub mod network;
pub mod probe;
pub mod systemd;
pub mod wait;

use std::net::IpAddr;
use std::time::Duration;

use crate::backend::{GuestDomain, RunState, console::ConsoleCapture};
use crate::events::Outcome;
use crate::guest::console_scan;
use crate::guest::ssh::SshTarget;

/// A guest as the checks see it, once its domain exists.
pub struct GuestUnderTest {
    pub name: String,
    pub domain: GuestDomain,
    pub console: ConsoleCapture,
    pub mac: String,
    /// Set by the boot check once known.
    pub address: Option<IpAddr>,
    /// Set by the boot check once SSH answers.
    pub ssh: Option<SshTarget>,
    /// What the guest's own console marker should say once it is up.
    pub boot_marker: String,
}

/// Why a step did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    pub outcome: Outcome,
    pub message: String,
    pub detail: Option<String>,
}

impl StepFailure {
    pub fn failed(message: impl Into<String>) -> Self {
        StepFailure { outcome: Outcome::Failed, message: message.into(), detail: None }
    }
    pub fn error(message: impl Into<String>) -> Self {
        StepFailure { outcome: Outcome::Error, message: message.into(), detail: None }
    }
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// The console lines shown with a failure.
pub const CONSOLE_EXCERPT_LINES: usize = 40;

impl GuestUnderTest {
    /// Fails when the guest can no longer pass: a fatal console finding, or the domain stopped.
    pub async fn health(&self) -> Result<(), StepFailure> {
        let text = self.console.text();
        if let Some(f) = console_scan::first_fatal(&text) {
            return Err(StepFailure::failed(format!("console line {}: {}", f.line, f.text))
                .with_detail(console_scan::tail(&text, CONSOLE_EXCERPT_LINES)));
        }
        match self.domain.state().await {
            Ok(RunState::Running) => Ok(()),
            Ok(state) => {
                // Why it stopped is usually in the last lines it printed.
                self.console.drained(CONSOLE_DRAIN).await;
                let text = self.console.text();
                let why = console_scan::first_fatal(&text)
                    .map(|f| format!(" after console line {}: {}", f.line, f.text))
                    .unwrap_or_default();
                Err(StepFailure::failed(format!("the domain is no longer running (state: {state:?}){why}"))
                    .with_detail(console_scan::tail(&text, CONSOLE_EXCERPT_LINES)))
            }
            Err(e) => Err(StepFailure::error(format!("cannot read the domain state: {}", crate::error_chain(&e)))),
        }
    }

    pub fn console_excerpt(&self) -> String {
        console_scan::tail(&self.console.text(), CONSOLE_EXCERPT_LINES)
    }
}

/// How long a stopped guest's console gets to deliver its last lines.
const CONSOLE_DRAIN: Duration = Duration::from_secs(3);

/// How often a wait re-checks when nothing wakes it.
pub const POLL: Duration = Duration::from_millis(250);

/// What a check sees of its case.
pub struct CheckEnv<'a> {
    pub guests: &'a [GuestUnderTest],
    /// The network namespace the host side of the guests' network is reached from
    /// (the lab host's), `None` for the root namespace.
    pub host_netns: Option<&'a str>,
    pub timeouts: &'a crate::plan::Timeouts,
}

/// One testcase a check produced, with the figures it measured.
#[derive(Debug, Clone, PartialEq)]
pub struct SubResult {
    /// Testcase name, e.g. `network.mtu` or `network.ping: a -> b`.
    pub name: String,
    pub duration: Duration,
    pub result: Result<(), StepFailure>,
    /// Measured figures, e.g. (`network.rtt_ms`, `0.41`).
    pub properties: Vec<(String, String)>,
}
