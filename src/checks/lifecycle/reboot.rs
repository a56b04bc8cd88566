//! `reboot`: the guest reboots, from inside (`reboot` over SSH) or through
//! libvirt's reboot, and comes back as itself: a new boot id, the same kind
//! (`boot.kind`'s evidence again), SSH working with a host key trusted the way
//! `boot.ssh` trusted the first. The domain must be defined with
//! `on_reboot=restart` (the plan asks for it when a case has this check).

use std::time::{Duration, Instant};

use super::common::{GuestFacts, LifecycleEnv, ssh_of, sub_result};
use crate::backend::RunState;
use crate::checks::env::{GuestUnderTest, StepFailure, SubResult};
use crate::checks::{boot, guest_kind};
use crate::guest::ssh::{self, SshTarget};
use crate::plan::RebootVia;

const BOOT_ID: &str = "cat /proc/sys/kernel/random/boot_id";
/// How often the guest is asked whether it booted again.
const ASK_EVERY: Duration = Duration::from_secs(1);

/// Reboots the guest and proves it came back as itself.
pub async fn run(
    guest: &mut GuestUnderTest,
    env: &LifecycleEnv<'_>,
    facts: GuestFacts,
    via: RebootVia,
    name: String,
) -> SubResult {
    let t = Instant::now();
    let mut props = Vec::new();
    let result = reboot(guest, env, facts, via, &mut props).await;
    sub_result(name, t, result, props)
}

async fn reboot(
    guest: &mut GuestUnderTest,
    env: &LifecycleEnv<'_>,
    facts: GuestFacts,
    via: RebootVia,
    props: &mut Vec<(String, String)>,
) -> Result<(), StepFailure> {
    let target = ssh_of(guest)?;
    let old = ssh::exec(&target, BOOT_ID, env.command_timeout)
        .await
        .map_err(|e| {
            StepFailure::error(format!("the guest did not answer before rebooting: {}", crate::error_chain(&e)))
        })?
        .stdout
        .trim()
        .to_string();
    let t = Instant::now();
    trigger(guest, &target, via, env).await?;
    // Each question may take as long as any command: through a jump host
    // under emulation, a login alone takes seconds.
    let new = new_boot(guest, &target, &old, env.timeout, env.command_timeout).await?;
    props.push((format!("{}.{}_boot_id", guest.name, stem(via)), new));
    // The console of the new boot (a Xen domain that rebooted is a new domain).
    let console = env.case_dir.join(format!("{}.console.log", guest.name));
    if let Ok(c) = guest.domain.reopen_console(console).await {
        drop(std::mem::replace(&mut guest.console, c));
    }
    let unpinned = SshTarget { host_key_sha256: None, ..target };
    let ready = boot::ssh_ready(guest, &unpinned, facts.host_key_policy, env.timeout).await?;
    props.push((format!("{}.{}_ms", guest.name, stem(via)), t.elapsed().as_millis().to_string()));
    guest.ssh = Some(ready.target.clone());
    same_kind(guest, &ready.target, facts, via, env, props).await
}

/// The stem of the figures' names: `reboot_ms`, `reboot_libvirt_ms`, ...
fn stem(via: RebootVia) -> &'static str {
    match via {
        RebootVia::Guest => "reboot",
        RebootVia::Libvirt => "reboot_libvirt",
    }
}

async fn trigger(
    guest: &GuestUnderTest,
    target: &SshTarget,
    via: RebootVia,
    env: &LifecycleEnv<'_>,
) -> Result<(), StepFailure> {
    match via {
        // Detached, so the command returns before the connection drops.
        RebootVia::Guest => ssh::exec(target, "(sleep 1; reboot) </dev/null >/dev/null 2>&1 &", env.command_timeout)
            .await
            .map(|_| ())
            .map_err(|e| StepFailure::error(format!("cannot ask the guest to reboot: {}", crate::error_chain(&e)))),
        RebootVia::Libvirt => guest.domain.reboot().await.map_err(|e| StepFailure::backend(&e)),
    }
}

/// Waits until the guest answers with another boot id. Read without checking
/// the host key, which a guest may make anew at every boot: trust is
/// established again by `boot::ssh_ready` before anything else is run.
async fn new_boot(
    guest: &GuestUnderTest,
    target: &SshTarget,
    old: &str,
    timeout: Duration,
    ask_timeout: Duration,
) -> Result<String, StepFailure> {
    let probe = SshTarget { host_key_sha256: None, ..target.clone() };
    let deadline = Instant::now() + timeout;
    loop {
        // A Xen domain that restarts is destroyed and built anew by libxl: it
        // is shut off (or unknown) for a while, which under emulation lasts
        // minutes. Only a crash ends the wait early; a domain still ended at
        // the deadline did not restart.
        let state = guest.domain.state().await;
        match &state {
            Ok(RunState::Crashed) => {
                guest.console.drained(Duration::from_secs(1)).await;
                return Err(
                    StepFailure::failed("the domain crashed instead of rebooting").with_detail(guest.console_excerpt())
                );
            }
            Err(e) => {
                return Err(StepFailure::error(format!("cannot read the domain state: {}", crate::error_chain(e))));
            }
            Ok(_) => {}
        }
        if let Ok(out) = ssh::exec(&probe, BOOT_ID, ask_timeout).await {
            let id = out.stdout.trim();
            if !id.is_empty() && id != old {
                return Ok(id.to_string());
            }
        }
        if Instant::now() >= deadline {
            let why = match state {
                Ok(s @ (RunState::Gone | RunState::ShutOff)) => {
                    format!("the domain ended instead of rebooting ({s:?})")
                }
                _ => format!("the guest did not come back with a new boot (boot id still {old} or no answer)"),
            };
            return Err(StepFailure::failed(format!("{why} within {}", humantime::format_duration(timeout)))
                .with_detail(guest.console_excerpt()));
        }
        tokio::time::sleep(ASK_EVERY).await;
    }
}

/// `boot.kind` again: a guest must not come back as another kind.
async fn same_kind(
    guest: &GuestUnderTest,
    target: &SshTarget,
    facts: GuestFacts,
    facts_via: RebootVia,
    env: &LifecycleEnv<'_>,
    props: &mut Vec<(String, String)>,
) -> Result<(), StepFailure> {
    let out = ssh::exec(target, guest_kind::PROBE, env.command_timeout)
        .await
        .map_err(|e| StepFailure::failed(format!("after the reboot: {}", crate::error_chain(&e))))?;
    let ev = guest_kind::Evidence::parse(&out.stdout, &guest.console.text());
    let seen = guest_kind::judge(facts.kind, env.domain_type, &ev)
        .map_err(|why| StepFailure::failed(format!("after the reboot, {why}")).with_detail(guest.console_excerpt()))?;
    props.push((format!("{}.kind_after_{}", guest.name, stem(facts_via)), seen));
    Ok(())
}
