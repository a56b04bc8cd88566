//! What every measurement of the network check works with: the case's shared
//! context (`Cx`), each guest as the check sees it (`Subject`), and the figures
//! of one testcase (`Figures`). Its own file so the sub-checks' files and the
//! check's entry point depend on it, not on each other.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::host::{self, HostSide};
use super::parse::{self, GuestFacts};
use super::script;
use crate::backend::host_shell::HostShell;
use crate::checks::env::{CheckEnv, GuestUnderTest, StepFailure, SubResult};
use crate::events::Outcome;
use crate::guest::ssh::{self, ExecOutput, SshTarget};
use crate::plan::{GuestNetwork, NetworkCheck};

/// `network.KIND: PATH`, the testcase name.
pub fn testcase(kind: &str, path: &str) -> String {
    format!("network.{kind}: {path}")
}

/// `network.KIND.PATH.FIGURE`, a property name (`host -> a` becomes `host->a`).
pub fn property(kind: &str, path: &str, figure: &str) -> String {
    format!("network.{kind}.{}.{figure}", path.replace(" -> ", "->"))
}

/// The figures of one testcase.
pub(super) struct Figures {
    pub(super) kind: &'static str,
    pub(super) path: String,
    pub(super) props: Vec<(String, String)>,
}

impl Figures {
    pub(super) fn new(kind: &'static str, path: impl Into<String>) -> Figures {
        Figures { kind, path: path.into(), props: Vec::new() }
    }

    /// The testcase: its name, duration, result and these figures.
    pub(super) fn finish(self, started: Instant, result: Result<(), StepFailure>) -> SubResult {
        SubResult { name: testcase(self.kind, &self.path), duration: started.elapsed(), result, properties: self.props }
    }

    pub(super) fn add(&mut self, figure: &str, value: impl ToString) {
        self.props.push((property(self.kind, &self.path, figure), value.to_string()));
    }

    pub(super) fn ping(&mut self, stats: &parse::PingStats) {
        self.add("sent", stats.sent);
        self.add("received", stats.received);
        self.add("loss_pct", format!("{:.1}", stats.loss_pct()));
        if let Some(r) = stats.rtt {
            self.rtt("rtt", r);
        }
    }

    pub(super) fn rtt(&mut self, what: &str, r: parse::Rtt) {
        self.add(&format!("{what}_min_ms"), parse::ms(r.min_ms));
        self.add(&format!("{what}_avg_ms"), parse::ms(r.avg_ms));
        self.add(&format!("{what}_max_ms"), parse::ms(r.max_ms));
    }
}

/// A sub-check that cannot run here, and why.
pub(super) fn skipped(message: impl Into<String>) -> StepFailure {
    StepFailure { outcome: Outcome::Skipped, message: message.into(), detail: None }
}

/// What every measurement of the case shares.
pub(super) struct Cx<'a> {
    pub(super) env: &'a CheckEnv<'a>,
    pub(super) spec: &'a NetworkCheck,
    /// Where host-side probes run, or why they cannot.
    pub(super) side: Result<HostSide, String>,
    /// The jump host's shell, where ping and TCP probes from the host side
    /// run when the guests sit behind it.
    pub(super) jump_shell: Option<HostShell>,
    pub(super) ping_tool: Option<host::PingTool>,
}

impl<'a> Cx<'a> {
    pub(super) fn new(env: &'a CheckEnv<'a>, spec: &'a NetworkCheck) -> Cx<'a> {
        let jump = env.guests.iter().any(|g| g.ssh.as_ref().is_some_and(|s| s.jump.is_some()));
        let side = if jump {
            Err("the guests are reached through a jump host, so this machine is not on their network".to_string())
        } else {
            Ok(env.host_netns.map_or(HostSide::Local, |ns| HostSide::Netns(ns.to_string())))
        };
        let jump_shell = if jump { env.jump_shell.clone() } else { None };
        Cx { env, spec, side, jump_shell, ping_tool: host::ping_tool() }
    }

    pub(super) fn side(&self) -> Result<&HostSide, StepFailure> {
        self.side.as_ref().map_err(|why| skipped(why.clone()))
    }

    pub(super) fn command_timeout(&self) -> Duration {
        self.env.timeouts.command
    }

    pub(super) fn loss_allowed(&self, loss_pct: f64) -> bool {
        loss_pct <= f64::from(self.spec.max_loss_pct) + 1e-9
    }
}

/// A guest as this check sees it.
pub(super) struct Subject<'a> {
    pub(super) name: String,
    pub(super) guest: &'a GuestUnderTest,
    pub(super) network: Option<&'a GuestNetwork>,
    /// Everything guest-side work needs, or why it cannot run.
    pub(super) ready: Result<Ready, StepFailure>,
}

pub(super) struct Ready {
    pub(super) ssh: SshTarget,
    /// The address the boot check reached the guest at.
    pub(super) addr: IpAddr,
    pub(super) facts: GuestFacts,
    /// The host side's own address towards this guest.
    pub(super) host_addr: Result<IpAddr, StepFailure>,
}

impl<'a> Subject<'a> {
    pub(super) async fn new(cx: &Cx<'_>, guest: &'a GuestUnderTest, network: Option<&'a GuestNetwork>) -> Subject<'a> {
        let ready = Self::prepare(cx, guest, network).await;
        Subject { name: guest.name.clone(), guest, network, ready }
    }

    pub(super) async fn prepare(
        cx: &Cx<'_>,
        guest: &GuestUnderTest,
        network: Option<&GuestNetwork>,
    ) -> Result<Ready, StepFailure> {
        if network == Some(&GuestNetwork::None) {
            return Err(skipped(format!("networking is disabled for `{}` (`network: none`)", guest.name)));
        }
        let (Some(ssh), Some(addr)) = (guest.ssh.clone(), guest.address) else {
            return Err(skipped(format!("not run: `{}` did not pass its boot check", guest.name)));
        };
        let out = ssh::exec(&ssh, script::PROBE, cx.command_timeout()).await.map_err(|e| {
            StepFailure::failed(format!(
                "cannot look at the network of `{}` over SSH: {}",
                guest.name,
                crate::error_chain(&e)
            ))
        })?;
        let facts = parse::guest_facts(&out.stdout);
        let host_addr = match (&cx.jump_shell, cx.side()) {
            (Some(shell), _) => super::remote::address_towards(shell, addr, cx.command_timeout()).await,
            (None, Err(f)) => Err(f),
            (None, Ok(side)) => {
                let side = side.clone();
                blocking(move || host::address_towards(&side, addr)).await.map_err(|e| {
                    StepFailure::error(format!("cannot find the host side's own address towards {addr}: {e}"))
                })
            }
        };
        Ok(Ready { ssh, addr, facts, host_addr })
    }

    pub(super) fn ready(&self) -> Result<&Ready, StepFailure> {
        self.ready.as_ref().map_err(Clone::clone)
    }

    /// The guest, once it has every one of `tools`.
    pub(super) fn with_tools(&self, tools: &[&str]) -> Result<&Ready, StepFailure> {
        let r = self.ready()?;
        let missing: Vec<String> = tools.iter().filter(|t| !r.facts.has(t)).map(|t| format!("`{t}`")).collect();
        if missing.is_empty() {
            Ok(r)
        } else {
            Err(skipped(format!("`{}` has no {} (the image lacks the tool)", self.name, missing.join(", "))))
        }
    }

    pub(super) async fn exec(&self, command: &str, timeout: Duration) -> Result<ExecOutput, StepFailure> {
        let r = self.ready()?;
        ssh::exec(&r.ssh, command, timeout)
            .await
            .map_err(|e| StepFailure::failed(format!("on `{}`: {}", self.name, crate::error_chain(&e))))
    }
}

/// Runs blocking host-side work off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(std::io::Error::other)?
}
