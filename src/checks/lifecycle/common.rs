//! What the lifecycle checks share: their environment, the guest's facts,
//! testcase naming, waiting for a domain state.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::backend::domain_xml::DomainType;
use crate::backend::host_shell::HostShell;
use crate::backend::{Host, RunState};
use crate::checks::boot::HostKeyPolicy;
use crate::checks::env::{GuestUnderTest, POLL, StepFailure, SubResult};
use crate::plan::GuestKind;

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
            Ok(_) => tokio::time::sleep(POLL).await,
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
