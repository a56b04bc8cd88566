//! Lifecycle checks: a guest reboots, shuts down, is saved and restored, is
//! paused and resumed, and stays itself where it should (the Xen tools' own
//! test system runs every guest through these on every build). Each returns one
//! testcase per guest with its timings as properties; none prints.

pub mod common;
pub mod continuity;
pub mod pause_resume;
pub mod reboot;
pub mod save_restore;
pub mod shutdown;

use crate::checks::boot::HostKeyPolicy;
use crate::checks::env::{CaseEnv, GuestUnderTest, SubResult};
use crate::plan::LifecycleCheck;
use common::{GuestFacts, LifecycleEnv, testcase};

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
