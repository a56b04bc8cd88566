//! The boot chain of a case's guests: every guest provisioned first (so a
//! multi-guest case boots them side by side), then for each `boot.running` ..
//! `boot.kind` and the readiness of full distributions. The first step that
//! does not pass ends the chain.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::provision::{GuestSlot, provision};
use super::recorder::Recorder;
use crate::checks::{self, GuestUnderTest, StepFailure};
use crate::events::Outcome;
use crate::guest::ssh::SshTarget;
use crate::plan::{GuestNetwork, GuestSpec, Image, SeedKind};

pub const BOOT_STEPS: [&str; 5] = ["boot.running", "boot.console", "boot.address", "boot.ssh", "boot.kind"];
/// Readiness steps of full distributions, after `boot.kind`.
pub const READY_STEPS: [&str; 2] = ["boot.systemd", "boot.cloud-init"];

/// Why a readiness step does not apply to an image, if it does not.
pub fn readiness_skip(image: &Image, step: &str) -> Option<&'static str> {
    match step {
        _ if !image.from_disk => {
            Some("not applicable: only disk images boot a full distribution (systemd, cloud-init)")
        }
        "boot.cloud-init" if image.seed == SeedKind::None => {
            Some("not applicable: the image has no seed (`seed: none`)")
        }
        _ => None,
    }
}

fn skipped(why: &str) -> StepFailure {
    StepFailure { outcome: Outcome::Skipped, message: why.to_string(), detail: None }
}

/// The time from the start of provisioning until the last guest answered SSH.
struct BootClock {
    started: Instant,
    ms: u128,
}

impl BootClock {
    fn mark(&mut self) {
        self.ms = self.ms.max(self.started.elapsed().as_millis());
    }
}

/// Provisions and boots every guest of the case; false when a step did not pass.
pub async fn boot_all(
    at: &GuestSlot<'_>,
    guests: &mut Vec<GuestUnderTest>,
    artifacts: &mut Vec<PathBuf>,
    rec: &mut Recorder<'_>,
) -> bool {
    let mut clock = BootClock { started: Instant::now(), ms: 0 };
    for spec in &at.case.guests {
        let t = Instant::now();
        match provision(at, spec, artifacts, rec).await {
            Ok(g) => {
                guests.push(g);
                rec.property(format!("{}.running_ms", spec.name), t.elapsed().as_millis());
                rec.record(Some(&spec.name), "boot.running", t, Ok(()));
            }
            Err(f) => {
                rec.record(Some(&spec.name), "boot.running", t, Err(f));
                return false;
            }
        }
    }
    for (g, spec) in guests.iter_mut().zip(&at.case.guests) {
        if !boot_one(at, g, spec, &mut clock, rec).await {
            return false;
        }
    }
    rec.property("boot_ms", clock.ms);
    true
}

/// `boot.console` .. `boot.kind` and readiness for one running guest.
async fn boot_one(
    at: &GuestSlot<'_>,
    g: &mut GuestUnderTest,
    spec: &GuestSpec,
    clock: &mut BootClock,
    rec: &mut Recorder<'_>,
) -> bool {
    let timeouts = &at.case.timeouts;
    let t = Instant::now();
    let r = checks::boot::console_marker(g, timeouts.console).await;
    rec.property(format!("{}.console_ms", spec.name), t.elapsed().as_millis());
    if !rec.record(Some(&spec.name), "boot.console", t, r) {
        return false;
    }
    let Some(addr) = address_step(g, spec, timeouts.address, rec).await else { return false };
    let Some(target) = ssh_step(at, g, spec, addr, rec).await else { return false };
    clock.mark();
    let t = Instant::now();
    let verdict = kind_verdict(at, g, spec, &target, rec).await;
    g.ssh = Some(target.clone());
    if !rec.record(Some(&spec.name), "boot.kind", t, verdict) {
        return false;
    }
    readiness(spec, &target, timeouts.console, rec).await
}

/// `boot.address`: the guest's address, set on the guest and recorded.
async fn address_step(
    g: &mut GuestUnderTest,
    spec: &GuestSpec,
    timeout: Duration,
    rec: &mut Recorder<'_>,
) -> Option<IpAddr> {
    let t = Instant::now();
    let static_addr = match &spec.network {
        GuestNetwork::Static { address, .. } => address.split('/').next().and_then(|a| a.parse::<IpAddr>().ok()),
        _ => None,
    };
    let addr = match checks::boot::address(g, static_addr, timeout).await {
        Ok(a) => a,
        Err(f) => {
            rec.record(Some(&spec.name), "boot.address", t, Err(f));
            return None;
        }
    };
    g.address = Some(addr);
    rec.property(format!("{}.address", spec.name), addr);
    rec.property(format!("{}.address_ms", spec.name), t.elapsed().as_millis());
    rec.record(Some(&spec.name), "boot.address", t, Ok(()));
    Some(addr)
}

/// `boot.ssh`: SSH answers, with the host key checked as the image allows;
/// returns the target with the host key pinned.
async fn ssh_step(
    at: &GuestSlot<'_>,
    g: &GuestUnderTest,
    spec: &GuestSpec,
    addr: IpAddr,
    rec: &mut Recorder<'_>,
) -> Option<SshTarget> {
    let (ctx, host) = (at.ctx, at.host);
    let t = Instant::now();
    let key = spec.image.ssh_key.as_deref().unwrap_or(&ctx.key.private);
    let mut target = checks::boot::target(addr, host.spec.netns.as_deref(), key, &spec.image.user);
    if let Some(j) = &host.spec.jump {
        match jump_host(j, host.spec.netns.as_deref()) {
            Ok(jh) => target.jump = Some(jh),
            Err(f) => {
                rec.record(Some(&spec.name), "boot.ssh", Instant::now(), Err(f));
                return None;
            }
        }
    }
    let policy = checks::boot::HostKeyPolicy::for_image(&spec.image);
    let ready = match checks::boot::ssh_ready(g, &target, policy, at.case.timeouts.ssh).await {
        Ok(ready) => ready,
        Err(f) => {
            rec.record(Some(&spec.name), "boot.ssh", t, Err(f));
            return None;
        }
    };
    rec.property(format!("{}.ssh_ms", spec.name), t.elapsed().as_millis());
    rec.property(format!("{}.kernel", spec.name), &ready.kernel);
    record_host_key(rec, &spec.name, ready.host_key.as_ref());
    rec.record(Some(&spec.name), "boot.ssh", t, Ok(()));
    Some(ready.target)
}

/// How the guest's host key was trusted, for the report.
fn record_host_key(rec: &mut Recorder<'_>, guest: &str, trust: Option<&checks::boot::HostKeyTrust>) {
    let (how, sha256) = match trust {
        Some(checks::boot::HostKeyTrust::Console { sha256 }) => {
            ("verified: one of the fingerprints the guest printed on its console", sha256)
        }
        Some(checks::boot::HostKeyTrust::FirstUse { sha256 }) => {
            ("trust-on-first-use: the guest printed no host key fingerprints on its console", sha256)
        }
        None => return,
    };
    rec.property(format!("{guest}.host_key"), how);
    rec.property(format!("{guest}.host_key_sha256"), format!("SHA256:{sha256}"));
}

/// `boot.kind`: the guest is the kind of guest the case asked for.
async fn kind_verdict(
    at: &GuestSlot<'_>,
    g: &GuestUnderTest,
    spec: &GuestSpec,
    target: &SshTarget,
    rec: &mut Recorder<'_>,
) -> Result<(), StepFailure> {
    let domain_type = at.host.domain_type;
    match crate::guest::ssh::exec(target, checks::guest_kind::PROBE, at.case.timeouts.command).await {
        Ok(out) => {
            let ev = checks::guest_kind::Evidence::parse(&out.stdout, &g.console.text());
            let observed = checks::guest_kind::observed(domain_type, &ev);
            // Recorded whatever the verdict: a wrong kind is what a reader wants to see.
            if at.case.guests.len() == 1 {
                rec.property("guest_kind_observed", observed);
            } else {
                rec.property(format!("{}.guest_kind_observed", spec.name), observed);
            }
            checks::guest_kind::judge(spec.kind, domain_type, &ev)
                .map(|seen| rec.property(format!("{}.kind_evidence", spec.name), seen))
                .map_err(|why| StepFailure::failed(why).with_detail(g.console_excerpt()))
        }
        Err(e) => Err(StepFailure::failed(crate::error_chain(&e))),
    }
}

/// `boot.systemd` and `boot.cloud-init` for a full distribution (each skipped,
/// with the reason, where it does not apply); false when one of them failed.
async fn readiness(spec: &GuestSpec, target: &SshTarget, timeout: Duration, rec: &mut Recorder<'_>) -> bool {
    let mut ok = true;
    let g = spec.name.as_str();
    if let Some(why) = readiness_skip(&spec.image, "boot.systemd") {
        rec.record(Some(g), "boot.systemd", Instant::now(), Err(skipped(why)));
    } else {
        let t = Instant::now();
        let r = checks::systemd::system_running(target, spec.image.allow_degraded, timeout).await;
        rec.property(format!("{g}.systemd_ms"), t.elapsed().as_millis());
        let r = r.map(|s| {
            rec.property(format!("{g}.systemd_state"), &s.state);
            if !s.failed_units.is_empty() {
                rec.property(format!("{g}.failed_units"), s.failed_units.join(", "));
            }
            if let Some(startup) = &s.startup {
                rec.property(format!("{g}.systemd_startup"), startup);
            }
        });
        ok &= rec.record(Some(g), "boot.systemd", t, r);
    }
    ok &= cloud_init_step(spec, target, timeout, rec).await;
    ok
}

/// `boot.cloud-init` (skipped where the image has no seed); a pass with
/// tolerated module failures says so in its message and properties.
async fn cloud_init_step(spec: &GuestSpec, target: &SshTarget, timeout: Duration, rec: &mut Recorder<'_>) -> bool {
    let g = spec.name.as_str();
    if let Some(why) = readiness_skip(&spec.image, "boot.cloud-init") {
        rec.record(Some(g), "boot.cloud-init", Instant::now(), Err(skipped(why)));
        return true;
    }
    let t = Instant::now();
    let r = checks::cloud_init::done(target, &spec.image.cloud_init_allowed_failures, timeout).await;
    rec.property(format!("{g}.cloud_init_ms"), t.elapsed().as_millis());
    let s = match r {
        Ok(s) => s,
        Err(f) => return rec.record(Some(g), "boot.cloud-init", t, Err(f)),
    };
    rec.property(format!("{g}.cloud_init_status"), &s.status);
    if let Some(d) = &s.detail {
        rec.property(format!("{g}.cloud_init_detail"), d);
    }
    let Some(note) = s.tolerated_note() else {
        return rec.record(Some(g), "boot.cloud-init", t, Ok(()));
    };
    rec.property(format!("{g}.cloud_init_tolerated"), s.tolerated_modules());
    let detail: Vec<String> = s.tolerated.iter().map(|f| format!("{}: {}", f.module, f.error)).collect();
    rec.passed_with_note(Some(g), "boot.cloud-init", t, note, Some(detail.join("\n")))
}

/// The jump host of a host spec, resolved.
fn jump_host(j: &crate::plan::JumpSpec, netns: Option<&str>) -> Result<crate::guest::jump::JumpHost, StepFailure> {
    use std::net::ToSocketAddrs;
    let addr = j
        .address
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| StepFailure::error(format!("cannot resolve the jump host address `{}`", j.address)))?;
    Ok(crate::guest::jump::JumpHost {
        addr,
        user: j.user.clone(),
        private_key: j.key.clone(),
        netns: netns.map(str::to_string),
        host_key: crate::hostaccess::jump_key_policy(j),
    })
}

#[cfg(test)]
mod tests {
    use crate::guest::jump::HostKeyPolicy;
    use crate::plan::{JumpHostKey, JumpSpec};

    #[test]
    fn the_jump_host_carries_the_scenario_key_policy() {
        let mut j = JumpSpec {
            address: "127.0.0.1:2221".into(),
            user: "root".into(),
            key: "/k".into(),
            host_key: JumpHostKey::KnownHosts("/lab/known_hosts".into()),
        };
        let jump = super::jump_host(&j, Some("ns")).unwrap();
        assert_eq!(jump.host_key, HostKeyPolicy::KnownHosts("/lab/known_hosts".into()));
        assert_eq!((jump.addr, jump.netns.as_deref()), ("127.0.0.1:2221".parse().unwrap(), Some("ns")));
        j.host_key = JumpHostKey::Sha256("SHA256:abc".into());
        assert_eq!(super::jump_host(&j, None).unwrap().host_key, HostKeyPolicy::Sha256("SHA256:abc".into()));
        j.host_key = JumpHostKey::Insecure;
        assert_eq!(super::jump_host(&j, None).unwrap().host_key, HostKeyPolicy::None);
    }
}
