//! The one entry point of every check kind: the runner calls [`run`] and
//! records what comes back. A new kind is one arm here and one file beside.

use super::env::{CaseEnv, GuestUnderTest, Testcase};
use super::{command, lifecycle, migrate, network};
use crate::plan::{CheckSpec, HostSpec};

/// Runs one check of a case on its guests: the one entry point of every kind.
/// `Boot` is the boot chain, which the runner runs before any check.
pub async fn run(check: &CheckSpec, env: &CaseEnv<'_>, guests: &mut [GuestUnderTest]) -> Vec<Testcase> {
    match check {
        CheckSpec::Boot => Vec::new(),
        CheckSpec::Command { name, run, expect_exit, expect_output, retries } => {
            let spec = command::CommandSpec { run, expect_exit: *expect_exit, expect_output: expect_output.as_deref() };
            vec![command::check(name, &spec, *retries, guests, env.timeouts.command).await]
        }
        CheckSpec::Network(spec) => {
            network::run(&env.view(guests), spec, env.specs).await.into_iter().map(Testcase::from).collect()
        }
        CheckSpec::Migrate(spec) => migrate::check(env, spec, guests).await.into_iter().map(Testcase::from).collect(),
        CheckSpec::Lifecycle(spec) => {
            lifecycle::check(env, *spec, guests).await.into_iter().map(Testcase::from).collect()
        }
    }
}

/// Whether a check reports testcases of its own (`Boot` is reported by the boot chain).
pub fn has_own_testcases(check: &CheckSpec) -> bool {
    !matches!(check, CheckSpec::Boot)
}

/// The hosts of the run a check needs besides its case's own (for example a
/// migration's targets), so the run prepares them too.
pub fn hosts_needed<'a>(check: &CheckSpec, hosts: &'a std::collections::BTreeMap<String, HostSpec>) -> Vec<&'a String> {
    match check {
        CheckSpec::Migrate(spec) => migrate::hosts_needed(spec, hosts),
        _ => Vec::new(),
    }
}
