//! Lifecycle checks: a guest reboots, shuts down, is saved and restored, is
//! paused and resumed, and stays itself where it should (the Xen tools' own
//! test system runs every guest through these on every build). Each returns one
//! testcase per guest with its timings as properties; none prints.

pub mod continuity;
pub mod pause_resume;
pub mod reboot;
pub mod save_restore;
pub mod shutdown;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::boot::HostKeyPolicy;
use super::{CaseEnv, GuestUnderTest, StepFailure, SubResult};
use crate::backend::domain_xml::DomainType;
use crate::backend::host_shell::HostShell;
use crate::backend::{Host, RunState};
use crate::plan::{GuestKind, LifecycleCheck};

/// Runs one lifecycle check on every guest of the case, in order; one
/// testcase per guest. A guest whose check failed is not tried further, but
/// the others are.
pub async fn check(env: &CaseEnv<'_>, spec: LifecycleCheck, guests: &mut [GuestUnderTest]) -> Vec<SubResult> {
    let shell = crate::hostaccess::shell_for(env.home.spec);
    let life = LifecycleEnv {
        host: env.home.host,
        shell: &shell,
        domain_type: env.home.domain_type,
        save_dir: env.run_dir_on_host.clone(),
        case_dir: env.case_dir.to_path_buf(),
        // As long as a boot may take: a reboot is one.
        timeout: env.timeouts.console + env.timeouts.ssh,
        command_timeout: env.timeouts.command,
    };
    let multi = guests.len() > 1;
    let mut out = Vec::new();
    for (guest, gspec) in guests.iter_mut().zip(env.specs) {
        let name = testcase(spec.name(), &guest.name, multi);
        let facts = GuestFacts { kind: gspec.kind, host_key_policy: HostKeyPolicy::for_image(&gspec.image) };
        out.push(match spec {
            LifecycleCheck::Reboot { via } => reboot::run(guest, &life, facts, via, name).await,
            LifecycleCheck::Shutdown => shutdown::run(guest, &life, name).await,
            LifecycleCheck::SaveRestore => save_restore::run(guest, &life, name).await,
            LifecycleCheck::PauseResume => pause_resume::run(guest, &life, name).await,
        });
    }
    out
}

/// What a lifecycle check needs beyond the guest.
pub struct LifecycleEnv<'a> {
    /// The host the guest runs on.
    pub host: &'a Host,
    /// Commands on that host (to size and remove a save file there).
    pub shell: &'a HostShell,
    pub domain_type: DomainType,
    /// Where save files go on that host: the run's directory there.
    pub save_dir: PathBuf,
    /// The case's directory here, where each guest's console log is.
    pub case_dir: PathBuf,
    /// How long the guest may take to come back or go away.
    pub timeout: Duration,
    /// How long one command in the guest may take.
    pub command_timeout: Duration,
}

/// What the checks know of one guest's spec.
#[derive(Debug, Clone, Copy)]
pub struct GuestFacts {
    pub kind: GuestKind,
    /// How `boot.ssh` trusted its host key; a reboot trusts the new one the same way.
    pub host_key_policy: HostKeyPolicy,
}

/// The testcase name for `check` on `guest`: plain for a one-guest case.
pub fn testcase(check: &str, guest: &str, multi_guest: bool) -> String {
    if multi_guest { format!("{check}.{guest}") } else { check.to_string() }
}

/// A finished testcase, its duration measured from `started`.
pub fn sub_result(
    name: String,
    started: Instant,
    result: Result<(), StepFailure>,
    properties: Vec<(String, String)>,
) -> SubResult {
    SubResult { name, duration: started.elapsed(), result, properties }
}

/// The guest's SSH target, or the error that says why there is none.
pub fn ssh_of(guest: &GuestUnderTest) -> Result<crate::guest::ssh::SshTarget, StepFailure> {
    guest.ssh.clone().ok_or_else(|| StepFailure::error("the guest has no SSH access (boot.ssh did not pass)"))
}

/// Waits until the domain is in one of `wanted` states; `Err` with the last
/// state seen when `timeout` passes.
pub async fn wait_for_state(
    guest: &GuestUnderTest,
    wanted: &[RunState],
    timeout: Duration,
) -> Result<RunState, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match guest.domain.state().await {
            Ok(s) if wanted.contains(&s) => return Ok(s),
            Ok(s) if Instant::now() >= deadline => {
                return Err(format!("the domain is still {s:?} after {}", humantime::format_duration(timeout)));
            }
            Err(e) => return Err(format!("cannot read the domain state: {}", crate::error_chain(&e))),
            Ok(_) => tokio::time::sleep(super::POLL).await,
        }
    }
}

/// The console's last lines, for a failure's detail.
pub fn console_tail(guest: &GuestUnderTest) -> String {
    guest.console_excerpt()
}

/// `'…'`-quotes a word for a POSIX shell.
pub fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn testcase_names_carry_the_guest_only_when_there_are_several() {
        assert_eq!(testcase("reboot", "tiny", false), "reboot");
        assert_eq!(testcase("reboot", "tiny", true), "reboot.tiny");
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(sh_quote("a'b"), "'a'\\''b'");
        assert_eq!(sh_quote(""), "''");
    }
}
