//! What every check shares: the guest under test, how a step fails, the
//! environment of a case, and what a check returns. Checks import these from
//! here (not from `checks/mod.rs`, which dispatches to them).
use std::net::IpAddr;
use std::time::Duration;

use crate::backend::{GuestDomain, Host, RunState, console::ConsoleCapture};
use crate::events::{FailedAttempt, Outcome};
use crate::guest::console_scan;
use crate::guest::ssh::SshTarget;
use crate::plan::{GuestSpec, HostSpec, Timeouts};

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
    /// A libvirt call on the guest that did not succeed: the guest's failure,
    /// unless the host (its connection, or a call it never answered) is to
    /// blame, which is an error led by [`crate::backend::error::CONNECTION_LOST`].
    pub fn backend(e: &crate::backend::BackendError) -> Self {
        if e.connection_lost() { Self::error(e.described()) } else { Self::failed(crate::error_chain(e)) }
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
        let unreadable = |e: crate::backend::BackendError| {
            StepFailure::error(format!("cannot read the domain state: {}", e.described()))
        };
        match self.domain.state().await {
            Ok(RunState::Running) => Ok(()),
            Ok(state) => {
                // Why it stopped is usually in the last lines it printed.
                self.console.drained(CONSOLE_DRAIN).await;
                // "No state" is no evidence that the guest stopped (a daemon
                // being killed can answer so): asked again, libvirt says what it knows.
                let state = match state {
                    RunState::Other => self.domain.state().await.map_err(unreadable)?,
                    s => s,
                };
                if state == RunState::Running {
                    return Ok(());
                }
                let text = self.console.text();
                let why = console_scan::first_fatal(&text)
                    .map(|f| format!(" after console line {}: {}", f.line, f.text))
                    .unwrap_or_default();
                Err(StepFailure::failed(format!("the domain is no longer running (state: {state:?}){why}"))
                    .with_detail(console_scan::tail(&text, CONSOLE_EXCERPT_LINES)))
            }
            Err(e) => Err(unreadable(e)),
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
    /// The host's own shell when the guests are reached through its `jump`
    /// (a dom0): host-side probes run there.
    pub jump_shell: Option<crate::backend::host_shell::HostShell>,
    /// This run's directory as the host sees it (files a host-side probe writes there).
    pub run_dir_on_host: &'a std::path::Path,
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

/// A testcase a check produced, with the failed attempts before its result
/// (a retried check that passed on a rerun is flaky, and says so).
#[derive(Debug, Clone, PartialEq)]
pub struct Testcase {
    pub result: SubResult,
    pub attempts: Vec<FailedAttempt>,
}

impl From<SubResult> for Testcase {
    fn from(result: SubResult) -> Self {
        Testcase { result, attempts: Vec::new() }
    }
}

/// A usable host of the run, as the checks see it.
#[derive(Clone, Copy)]
pub struct HostRef<'a> {
    pub spec: &'a HostSpec,
    pub host: &'a Host,
    pub domain_type: crate::backend::domain_xml::DomainType,
    /// What the host said of itself when the run began (its builds).
    pub facts: &'a crate::events::HostFacts,
}

/// Everything a check of a case may use besides its guests.
pub struct CaseEnv<'a> {
    /// The guests' specs, in the order of the guests.
    pub specs: &'a [GuestSpec],
    /// The host the case runs on.
    pub home: HostRef<'a>,
    /// The other usable hosts of the run, in name order (migration targets).
    pub others: Vec<HostRef<'a>>,
    pub timeouts: &'a Timeouts,
    /// Where the case's evidence goes (consoles, domain XML).
    pub case_dir: &'a std::path::Path,
    /// This run's directory as the case's host sees it (here, or on the host).
    pub run_dir_on_host: std::path::PathBuf,
}

impl<'a> CaseEnv<'a> {
    /// The view of checks that only read their guests.
    pub fn view<'b>(&'b self, guests: &'b [GuestUnderTest]) -> CheckEnv<'b> {
        let jump_shell = self.home.spec.jump.is_some().then(|| crate::hostaccess::shell_for(self.home.spec));
        CheckEnv {
            guests,
            host_netns: self.home.spec.netns.as_deref(),
            jump_shell,
            run_dir_on_host: &self.run_dir_on_host,
            timeouts: self.timeouts,
        }
    }
}
