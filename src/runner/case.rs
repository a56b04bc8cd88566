//! One case, start to finish: provision its guests, run the boot chain and the
//! checks, and tear everything down whatever happened.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc::UnboundedSender;

use super::context::{HostState, ReadyHost, RunContext};
use crate::backend::RunState;
use crate::backend::domain_xml::{self, DomainXmlInput, Ownership};
use crate::checks::{self, GuestUnderTest, StepFailure};
use crate::events::{CaseReport, KeptGuest, Outcome, RunEvent, StepRecord};
use crate::guest::console_scan;
use crate::plan::{Boot, Case, CheckSpec, GuestNetwork, GuestSpec, Image, ImageSpec, SeedKind};

/// Collects a case's steps and announces each as it finishes.
struct Recorder<'a> {
    case: &'a str,
    multi_guest: bool,
    steps: Vec<StepRecord>,
    properties: Vec<(String, String)>,
    tx: &'a UnboundedSender<RunEvent>,
}

impl Recorder<'_> {
    fn step_name(&self, guest: Option<&str>, step: &str) -> String {
        match guest {
            Some(g) if self.multi_guest => format!("{g}: {step}"),
            _ => step.to_string(),
        }
    }

    fn record(&mut self, guest: Option<&str>, step: &str, started: Instant, result: Result<(), StepFailure>) -> bool {
        self.record_with_attempts(guest, step, started, result, Vec::new())
    }

    /// Records a step that was retried: `attempts` are the failures before the last result.
    fn record_with_attempts(
        &mut self,
        guest: Option<&str>,
        step: &str,
        started: Instant,
        result: Result<(), StepFailure>,
        attempts: Vec<crate::events::FailedAttempt>,
    ) -> bool {
        let (outcome, message, detail) = match result {
            Ok(()) => (Outcome::Passed, None, None),
            Err(f) => (f.outcome, Some(f.message), f.detail),
        };
        let rec = StepRecord {
            name: self.step_name(guest, step),
            outcome,
            duration: started.elapsed(),
            message,
            detail,
            attempts,
        };
        let passed = rec.outcome == Outcome::Passed;
        let _ = self.tx.send(RunEvent::StepFinished { case: self.case.to_string(), step: rec.clone() });
        self.steps.push(rec);
        passed
    }

    /// Marks steps that never ran, so every case shows the same testcases.
    fn not_run(&mut self, guest: Option<&str>, step: &str, why: &str) {
        let name = self.step_name(guest, step);
        if self.steps.iter().any(|s| s.name == name) {
            return;
        }
        self.steps.push(StepRecord {
            name,
            outcome: Outcome::Skipped,
            duration: Duration::ZERO,
            message: Some(why.to_string()),
            detail: None,
            attempts: Vec::new(),
        });
    }

    fn property(&mut self, k: impl Into<String>, v: impl ToString) {
        self.properties.push((k.into(), v.to_string()));
    }
}

const BOOT_STEPS: [&str; 5] = ["boot.running", "boot.console", "boot.address", "boot.ssh", "boot.kind"];
/// Readiness steps of full distributions, after `boot.kind`.
const READY_STEPS: [&str; 2] = ["boot.systemd", "boot.cloud-init"];

/// Why a readiness step does not apply to an image, if it does not.
fn readiness_skip(image: &Image, step: &str) -> Option<&'static str> {
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

pub async fn execute(ctx: Arc<RunContext>, index: usize, case: Case, tx: UnboundedSender<RunEvent>) -> CaseReport {
    let started = SystemTime::now();
    let t0 = Instant::now();
    let _ = tx.send(RunEvent::CaseStarted { case: case.name.clone(), host: case.host.clone() });
    let case_dir = ctx.artifacts.join(slug(&case.name));
    let mut rec = Recorder {
        case: &case.name,
        multi_guest: case.guests.len() > 1,
        steps: Vec::new(),
        properties: Vec::new(),
        tx: &tx,
    };
    rec.property("run_id", &ctx.run_id);
    let mut guests: Vec<GuestUnderTest> = Vec::new();
    let mut artifacts: Vec<PathBuf> = Vec::new();

    let host = match ctx.hosts.get(&case.host) {
        Some(HostState::Ready(h)) => Some(h),
        Some(HostState::Unusable(why)) => {
            let why = format!("host `{}` is unusable: {why}", case.host);
            rec.record(None, "host", Instant::now(), Err(StepFailure::error(why)));
            None
        }
        None => {
            rec.record(None, "host", Instant::now(), Err(StepFailure::error(format!("host `{}` unknown", case.host))));
            None
        }
    };

    if let Some(host) = host {
        rec.property("domain_type", host.domain_type.as_str());
        for (k, v) in host.facts.properties() {
            rec.property(k, v);
        }
        let body = run_body(&ctx, host, index, &case, &case_dir, &mut guests, &mut artifacts, &mut rec);
        tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => {
                rec.record(None, "interrupted", Instant::now(), Err(StepFailure::error("the run was interrupted")));
            }
            r = tokio::time::timeout(case.timeouts.case, body) => if r.is_err() {
                rec.record(None, "case", t0, Err(StepFailure::failed(format!(
                    "the case did not finish within {}", humantime::format_duration(case.timeouts.case)))));
            }
        }
    }

    for g in &case.guests {
        for step in BOOT_STEPS {
            rec.not_run(Some(&g.name), step, "not run: an earlier step did not pass");
        }
        for step in READY_STEPS {
            let why = readiness_skip(&g.image, step).unwrap_or("not run: an earlier step did not pass");
            rec.not_run(Some(&g.name), step, why);
        }
    }
    for check in &case.checks {
        // Checks with several testcases name them `CHECK.something`; none of them
        // having run means the check itself did not run.
        let prefix = format!("{}.", check.name());
        if *check != CheckSpec::Boot && !rec.steps.iter().any(|s| s.name.starts_with(&prefix)) {
            rec.not_run(None, check.name(), "not run: an earlier step did not pass");
        }
    }

    let outcome_before_teardown = CaseReport::outcome_of(&rec.steps);
    let keep = ctx.keep_on_failure && matches!(outcome_before_teardown, Outcome::Failed | Outcome::Error);
    if matches!(outcome_before_teardown, Outcome::Failed | Outcome::Error)
        && let Some(HostState::Ready(host)) = ctx.hosts.get(&case.host) {
            // A second signal wants the guests gone now: the evidence waits for nobody.
            let gather = async {
                let mut found = Vec::new();
                for g in &guests {
                    found.extend(super::evidence::collect(host, g, &case_dir).await);
                }
                found
            };
            tokio::select! {
                biased;
                _ = ctx.hurry.cancelled() => {}
                found = gather => artifacts.extend(found),
            }
        }
    let (consoles, kept) = teardown(&ctx, index, guests, keep, &mut rec).await;

    let mut report = CaseReport {
        name: case.name.clone(),
        scenario: case.scenario.clone(),
        host: case.host.clone(),
        started,
        duration: t0.elapsed(),
        outcome: Outcome::Passed,
        steps: rec.steps,
        properties: rec.properties,
        consoles,
        artifacts,
        kept,
    };
    report.outcome = CaseReport::outcome_of(&report.steps);
    report
}

#[allow(clippy::too_many_arguments)]
async fn run_body(
    ctx: &RunContext,
    host: &ReadyHost,
    index: usize,
    case: &Case,
    case_dir: &Path,
    guests: &mut Vec<GuestUnderTest>,
    artifacts: &mut Vec<PathBuf>,
    rec: &mut Recorder<'_>,
) {
    // Provision every guest first, so a multi-guest case boots them side by side.
    let boot_started = Instant::now();
    for spec in &case.guests {
        let t = Instant::now();
        match provision(ctx, host, index, case, spec, case_dir, artifacts).await {
            Ok(g) => {
                guests.push(g);
                rec.property(format!("{}.running_ms", spec.name), t.elapsed().as_millis());
                rec.record(Some(&spec.name), "boot.running", t, Ok(()));
            }
            Err(f) => {
                rec.record(Some(&spec.name), "boot.running", t, Err(f));
                return;
            }
        }
    }
    let mut boot_ms: u128 = 0;
    for (g, spec) in guests.iter_mut().zip(&case.guests) {
        let t = Instant::now();
        let r = checks::boot::console_marker(g, case.timeouts.console).await;
        rec.property(format!("{}.console_ms", spec.name), t.elapsed().as_millis());
        if !rec.record(Some(&spec.name), "boot.console", t, r) {
            return;
        }
        let t = Instant::now();
        let static_addr = match &spec.network {
            GuestNetwork::Static { address, .. } => address.split('/').next().and_then(|a| a.parse::<IpAddr>().ok()),
            _ => None,
        };
        let addr = match checks::boot::address(g, static_addr, case.timeouts.address).await {
            Ok(a) => a,
            Err(f) => {
                rec.record(Some(&spec.name), "boot.address", t, Err(f));
                return;
            }
        };
        g.address = Some(addr);
        rec.property(format!("{}.address", spec.name), addr);
        rec.property(format!("{}.address_ms", spec.name), t.elapsed().as_millis());
        rec.record(Some(&spec.name), "boot.address", t, Ok(()));

        let t = Instant::now();
        let key = spec.image.ssh_key.as_deref().unwrap_or(&ctx.key.private);
        let mut target = checks::boot::target(addr, host.spec.netns.as_deref(), key, &spec.image.user);
        if let Some(j) = &host.spec.jump {
            match jump_host(j, host.spec.netns.as_deref()) {
                Ok(jh) => target.jump = Some(jh),
                Err(f) => {
                    rec.record(Some(&spec.name), "boot.ssh", Instant::now(), Err(f));
                    return;
                }
            }
        }
        // Full distributions make their own host keys and (with cloud-init) print
        // them on the console; the test image's are fresh at every boot and unprinted.
        let policy = if spec.image.from_disk || spec.image.seed == SeedKind::Nocloud {
            checks::boot::HostKeyPolicy::Console { wait: spec.image.seed == SeedKind::Nocloud }
        } else {
            checks::boot::HostKeyPolicy::Any
        };
        let ready = match checks::boot::ssh_ready(g, &target, policy, case.timeouts.ssh).await {
            Ok(ready) => ready,
            Err(f) => {
                rec.record(Some(&spec.name), "boot.ssh", t, Err(f));
                return;
            }
        };
        rec.property(format!("{}.ssh_ms", spec.name), t.elapsed().as_millis());
        rec.property(format!("{}.kernel", spec.name), &ready.kernel);
        match &ready.host_key {
            Some(checks::boot::HostKeyTrust::Console { sha256 }) => {
                rec.property(
                    format!("{}.host_key", spec.name),
                    "verified: one of the fingerprints the guest printed on its console",
                );
                rec.property(format!("{}.host_key_sha256", spec.name), format!("SHA256:{sha256}"));
            }
            Some(checks::boot::HostKeyTrust::FirstUse { sha256 }) => {
                rec.property(
                    format!("{}.host_key", spec.name),
                    "trust-on-first-use: the guest printed no host key fingerprints on its console",
                );
                rec.property(format!("{}.host_key_sha256", spec.name), format!("SHA256:{sha256}"));
            }
            None => {}
        }
        rec.record(Some(&spec.name), "boot.ssh", t, Ok(()));
        boot_ms = boot_ms.max(boot_started.elapsed().as_millis());
        let target = ready.target;
        let t = Instant::now();
        let verdict = match crate::guest::ssh::exec(&target, checks::guest_kind::PROBE, case.timeouts.command).await {
            Ok(out) => {
                let ev = checks::guest_kind::Evidence::parse(&out.stdout, &g.console.text());
                let observed = checks::guest_kind::observed(host.domain_type, &ev);
                // Recorded whatever the verdict: a wrong kind is what a reader wants to see.
                if case.guests.len() == 1 {
                    rec.property("guest_kind_observed", observed);
                } else {
                    rec.property(format!("{}.guest_kind_observed", spec.name), observed);
                }
                checks::guest_kind::judge(spec.kind, host.domain_type, &ev)
                    .map(|seen| rec.property(format!("{}.kind_evidence", spec.name), seen))
                    .map_err(|why| StepFailure::failed(why).with_detail(g.console_excerpt()))
            }
            Err(e) => Err(StepFailure::failed(crate::error_chain(&e))),
        };
        g.ssh = Some(target.clone());
        if !rec.record(Some(&spec.name), "boot.kind", t, verdict) {
            return;
        }
        if !readiness(spec, &target, case.timeouts.console, rec).await {
            return;
        }
    }
    rec.property("boot_ms", boot_ms);

    for check in &case.checks {
        match check {
            CheckSpec::Boot => {}
            CheckSpec::Command { name, run, expect_exit, expect_output, retries } => {
                let t = Instant::now();
                let mut attempts = Vec::new();
                let result = loop {
                    let at = Instant::now();
                    let mut result = Ok(());
                    for g in guests.iter() {
                        let Some(target) = &g.ssh else { continue };
                        if let Err(mut f) = checks::command::run(
                            target,
                            run,
                            *expect_exit,
                            expect_output.as_deref(),
                            case.timeouts.command,
                        )
                        .await
                        {
                            if guests.len() > 1 {
                                f.message = format!("{}: {}", g.name, f.message);
                            }
                            result = Err(f);
                            break;
                        }
                    }
                    match result {
                        Err(f) if (attempts.len() as u32) < *retries => attempts.push(crate::events::FailedAttempt {
                            duration: at.elapsed(),
                            message: f.message,
                            detail: f.detail,
                        }),
                        r => break r,
                    }
                };
                rec.record_with_attempts(None, name, t, result, attempts);
            }
            CheckSpec::Network(spec) => {
                let env = checks::CheckEnv {
                    guests: guests.as_slice(),
                    host_netns: host.spec.netns.as_deref(),
                    timeouts: &case.timeouts,
                };
                let results = checks::network::run(&env, spec, &case.guests).await;
                record_sub_results(rec, results);
            }
            CheckSpec::Migrate(spec) => {
                let t = Instant::now();
                let Some(away) = migration_target(ctx, host, spec.target.as_deref()) else {
                    let why = match &spec.target {
                        Some(t) => format!("migration target host `{t}` is not usable in this run"),
                        None => "no other usable host has the role `migration-target`".to_string(),
                    };
                    rec.record(None, "migrate", t, Err(StepFailure::error(why)));
                    continue;
                };
                let ends = checks::migrate::Endpoints {
                    home: &host.host,
                    away: &away.host,
                    probe_netns: host.spec.netns.as_deref(),
                };
                for g in guests.iter_mut() {
                    let console = case_dir.join(format!("{}.console.log", g.name));
                    let results = checks::migrate::run(g, &ends, spec, &console).await;
                    let failed = results.iter().any(|r| r.result.is_err());
                    record_sub_results(rec, results);
                    if failed {
                        break;
                    }
                }
            }
        }
    }
}

/// `boot.systemd` and `boot.cloud-init` for a full distribution (each skipped,
/// with the reason, where it does not apply); false when one of them failed.
async fn readiness(
    spec: &GuestSpec,
    target: &crate::guest::ssh::SshTarget,
    timeout: Duration,
    rec: &mut Recorder<'_>,
) -> bool {
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
    if let Some(why) = readiness_skip(&spec.image, "boot.cloud-init") {
        rec.record(Some(g), "boot.cloud-init", Instant::now(), Err(skipped(why)));
    } else {
        let t = Instant::now();
        let r = checks::systemd::cloud_init_done(target, timeout).await;
        rec.property(format!("{g}.cloud_init_ms"), t.elapsed().as_millis());
        let r = r.map(|s| {
            rec.property(format!("{g}.cloud_init_status"), &s.status);
            if let Some(d) = &s.detail {
                rec.property(format!("{g}.cloud_init_detail"), d);
            }
        });
        ok &= rec.record(Some(g), "boot.cloud-init", t, r);
    }
    ok
}

/// The host a `migrate` check moves guests to: the named one, or the first other
/// ready host with the role `migration-target`.
fn migration_target<'a>(ctx: &'a RunContext, home: &ReadyHost, named: Option<&str>) -> Option<&'a ReadyHost> {
    ctx.hosts.iter().find_map(|(name, state)| match state {
        HostState::Ready(h) if *name != home.spec.name => {
            let wanted = match named {
                Some(n) => name == n,
                None => h.spec.roles.iter().any(|r| r == "migration-target"),
            };
            wanted.then_some(&**h)
        }
        _ => None,
    })
}

/// Records what a multi-testcase check produced.
fn record_sub_results(rec: &mut Recorder<'_>, results: Vec<checks::SubResult>) {
    for r in results {
        let started = Instant::now() - r.duration;
        for (k, v) in r.properties {
            rec.property(k, v);
        }
        rec.record(None, &r.name, started, r.result);
    }
}

/// Creates the guest's domain paused, attaches the console, then lets it run.
async fn provision(
    ctx: &RunContext,
    host: &ReadyHost,
    index: usize,
    case: &Case,
    spec: &GuestSpec,
    case_dir: &Path,
    artifacts: &mut Vec<PathBuf>,
) -> Result<GuestUnderTest, StepFailure> {
    let (kernel, initrd, base_disk, recipe_cmdline) = match &spec.image.spec {
        ImageSpec::Builtin { name } => {
            let img =
                ctx.images.get(name).ok_or_else(|| StepFailure::error(format!("image `{name}` was not built")))?;
            (Some(img.kernel.clone()), Some(img.initrd.clone()), img.disk.clone(), img.cmdline.clone())
        }
        ImageSpec::Files { kernel, initrd, disk } => (kernel.clone(), initrd.clone(), disk.clone(), None),
    };
    // Booted by the disk's own loader, the guest gets no kernel from here.
    let (kernel, initrd) = match spec.image.boot {
        Boot::Kernel => (kernel, initrd),
        Boot::Disk => (None, None),
    };
    let marker = spec.image.marker.clone();
    if let Some(k) = kernel.as_ref().filter(|k| k.is_file()) {
        pv_capable(k, spec.kind).await?;
    }
    // Files here (a builtin image, or `copy: true`): a remote host gets checked copies.
    let (kernel, initrd) = if spec.image.files_are_here() {
        (staged(ctx, host, kernel).await?, staged(ctx, host, initrd).await?)
    } else {
        (kernel, initrd)
    };
    let name = domain_name(&ctx.run_id, index, &spec.name);
    let mac = mac_for(&name, spec.kind);
    let (disk, seed) = scratch_disks(ctx, host, spec, &name, &mac, base_disk.as_deref()).await?;
    let mut cmdline = vec![format!("console={}", domain_xml::kernel_console(spec.kind))];
    // The test image (and kernels made like it) take the key, name and network
    // from the command line; full distributions get them from their seed.
    if !spec.image.from_disk {
        cmdline.push(ctx.key.cmdline_param());
        cmdline.push(format!("virtsmoke.hostname={}", spec.name));
        match &spec.network {
            GuestNetwork::Dhcp => {}
            GuestNetwork::None => cmdline.push("virtsmoke.net=none".into()),
            GuestNetwork::Static { address, gateway } => {
                cmdline.push(format!("virtsmoke.net=static,{address},{}", gateway.clone().unwrap_or_default()));
            }
        }
    }
    let extra = domain_xml::kind_cmdline(spec.kind);
    if !extra.is_empty() {
        cmdline.push(extra.to_string());
    }
    if let Some(c) = recipe_cmdline {
        cmdline.push(c);
    }
    if let Some(c) = &spec.image.cmdline {
        cmdline.push(c.clone());
    }
    let xml = domain_xml::build(&DomainXmlInput {
        name: name.clone(),
        kind: spec.kind,
        domain_type: host.domain_type,
        memory_mib: spec.memory_mib,
        vcpus: spec.vcpus,
        kernel,
        initrd,
        cmdline: cmdline.join(" "),
        disk,
        seed,
        bridge: host.spec.bridge.clone(),
        mac: mac.clone(),
        hvmloader: "/usr/lib/xen-4.17/boot/hvmloader".into(),
        firmware: spec.firmware,
        // Beside the overlays, removed with them; a remote host keeps it where libvirt puts it.
        nvram: (spec.firmware == crate::plan::Firmware::Uefi && super::staging::is_this_machine(&host.spec))
            .then(|| ctx.run_dir.join(format!("{name}.nvram.fd"))),
        owner: Ownership {
            run_id: ctx.run_id.clone(),
            case: case.name.clone(),
            guest: spec.name.clone(),
            created: crate::unix_now(),
        },
    });
    let infra = |e: crate::backend::BackendError| StepFailure::error(crate::error_chain(&e));
    let xml_path = case_dir.join(format!("{}.domain.xml", spec.name));
    std::fs::create_dir_all(case_dir)
        .and_then(|_| std::fs::write(&xml_path, &xml))
        .map_err(|e| StepFailure::error(format!("cannot write {}: {e}", xml_path.display())))?;
    artifacts.push(xml_path);

    let domain = host.host.create_paused(&name, xml).await.map_err(infra)?;
    let console_path = case_dir.join(format!("{}.console.log", spec.name));
    let console = match domain.open_console(console_path.clone()).await {
        Ok(c) => c,
        Err(e) => {
            let _ = domain.destroy().await;
            return Err(infra(e));
        }
    };
    artifacts.push(console_path);
    let guest =
        GuestUnderTest { name: spec.name.clone(), domain, console, mac, address: None, ssh: None, boot_marker: marker };
    // From here on the caller owns the guest and tears it down, even if resuming fails.
    if let Err(e) = guest.domain.resume().await {
        let _ = guest.domain.destroy().await;
        return Err(infra(e));
    }
    match guest.domain.state().await {
        Ok(RunState::Running) => Ok(guest),
        Ok(other) => {
            let _ = guest.domain.destroy().await;
            Err(StepFailure::failed(format!("the domain is {other:?} right after starting")))
        }
        Err(e) => {
            let _ = guest.domain.destroy().await;
            Err(infra(e))
        }
    }
}

/// Where the host sees a file of this machine, if there is one.
async fn staged(ctx: &RunContext, host: &ReadyHost, local: Option<PathBuf>) -> Result<Option<PathBuf>, StepFailure> {
    match local {
        Some(path) => Ok(Some(super::staging::on_host(ctx, host, &path).await?)),
        None => Ok(None),
    }
}

/// The guest's files in the run's scratch directory, named after its domain: a
/// qcow2 overlay of the base disk (which is never written) and the NoCloud seed.
/// Teardown removes them.
async fn scratch_disks(
    ctx: &RunContext,
    host: &ReadyHost,
    spec: &GuestSpec,
    domain: &str,
    mac: &str,
    base: Option<&Path>,
) -> Result<(Option<PathBuf>, Option<PathBuf>), StepFailure> {
    let wants_seed = spec.image.seed == SeedKind::Nocloud;
    if base.is_none() && !wants_seed {
        return Ok((None, None));
    }
    // On a remote host the overlay is made there, on a checked copy of the
    // base, and the seed (made here) is copied there.
    let remote = !super::staging::is_this_machine(&host.spec);
    let disk = match base {
        None => None,
        Some(base) if remote => {
            let base = if spec.image.files_are_here() {
                super::staging::Base::Local(base)
            } else {
                super::staging::Base::OnHost(base)
            };
            Some(super::staging::overlay_on_host(ctx, host, base, domain).await?)
        }
        Some(base) => {
            let overlay = crate::image::overlay::overlay_path(&ctx.run_dir, domain);
            crate::image::overlay::create(base, &overlay)
                .await
                .map_err(|e| StepFailure::error(crate::error_chain(&e)))?;
            Some(overlay)
        }
    };
    let seed = if wants_seed {
        let iso = crate::image::seed::seed_path(&ctx.run_dir, domain);
        let network = match &spec.network {
            GuestNetwork::Static { address, gateway } => Some(crate::image::seed::StaticNetwork {
                mac: mac.to_string(),
                address: address.clone(),
                gateway: gateway.clone(),
            }),
            _ => None,
        };
        let input = crate::image::seed::SeedInput {
            instance_id: domain,
            hostname: &spec.name,
            public_key: spec.image.ssh_key.is_none().then_some(ctx.key.public.as_str()),
            user: &spec.image.user,
            cloud_config: spec.image.cloud_config.as_deref(),
            network,
        };
        crate::image::seed::write(&input, &iso).await.map_err(|e| StepFailure::error(crate::error_chain(&e)))?;
        Some(if remote { super::staging::on_host(ctx, host, &iso).await? } else { iso })
    } else {
        None
    };
    Ok((disk, seed))
}

/// A PV or PVH guest needs a kernel with that Xen entry point: say so at once
/// instead of waiting for a console that will stay silent.
async fn pv_capable(kernel: &Path, kind: crate::plan::GuestKind) -> Result<(), StepFailure> {
    use crate::image::xen_notes;
    use crate::plan::GuestKind;
    if !matches!(kind, GuestKind::XenPv | GuestKind::XenPvh) {
        return Ok(());
    }
    let path = kernel.to_path_buf();
    let entries = match tokio::task::spawn_blocking(move || xen_notes::read_entries(&path))
        .await
        .map_err(|e| StepFailure::error(e.to_string()))?
    {
        Ok(entries) => entries,
        // Cannot be checked beforehand: the boot will tell.
        Err(xen_notes::NotesError::Unsupported(..)) => return Ok(()),
        Err(e) => {
            return Err(StepFailure::failed(format!("cannot read the kernel's Xen notes: {}", crate::error_chain(&e))));
        }
    };
    let (ok, what) = match kind {
        GuestKind::XenPv => (entries.pv, "Xen PV"),
        _ => (entries.pvh, "Xen PVH"),
    };
    if ok {
        Ok(())
    } else {
        Err(StepFailure::failed(format!(
            "kernel {} has no {what} entry point (no such Xen ELF note)",
            kernel.display()
        )))
    }
}

/// Everything the console scan saw, fatal or not (warnings do not fail a case,
/// but a reader of the report should see them).
fn record_findings(rec: &mut Recorder<'_>, guest: &str, console: &str) {
    let findings = console_scan::scan(console);
    rec.property(format!("{guest}.console_findings"), findings.len());
    for (i, f) in findings.iter().take(10).enumerate() {
        rec.property(
            format!("{guest}.console_finding.{}", i + 1),
            format!("line {} ({:?}): {}", f.line, f.kind, f.text),
        );
    }
}

/// Destroys every guest (unless kept), proves each is gone, and records it.
async fn teardown(
    ctx: &RunContext,
    index: usize,
    guests: Vec<GuestUnderTest>,
    keep: bool,
    rec: &mut Recorder<'_>,
) -> (Vec<(String, String)>, Vec<KeptGuest>) {
    let t = Instant::now();
    let mut consoles = Vec::new();
    let mut kept = Vec::new();
    // Domains that outlived teardown are failures; a host we can no longer ask is
    // an infrastructure error (nothing is proven either way).
    let mut problems = Vec::new();
    let mut unreachable = Vec::new();
    for g in guests {
        if keep {
            kept.push(KeptGuest {
                domain: g.domain.name.clone(),
                uri: g.domain.host.uri.clone(),
                remove: format!("virtsmoke cleanup --uri '{}' --run {}", g.domain.host.uri, ctx.run_id),
                ssh: g.ssh.as_ref().map(|s| {
                    let ns = s.netns.as_deref().map(|n| format!("ip netns exec {n} ")).unwrap_or_default();
                    let jump = s
                        .jump
                        .as_ref()
                        .map(|j| format!("-o ProxyJump={}@{}:{} ", j.user, j.addr.ip(), j.addr.port()))
                        .unwrap_or_default();
                    format!(
                        "{ns}ssh {jump}-i {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null {}@{}",
                        s.private_key.display(),
                        s.user,
                        s.addr.ip()
                    )
                }),
            });
            record_findings(rec, &g.name, &g.console.text());
            consoles.push((g.name.clone(), console_scan::tail(&g.console.text(), 60)));
            continue;
        }
        if let Err(e) = g.domain.destroy().await {
            unreachable.push(format!("{}: {}", g.domain.name, crate::error_chain(&e)));
        }
        match g.domain.state().await {
            Ok(RunState::Gone) => {}
            Ok(s) => problems.push(format!("{} survived teardown ({s:?})", g.domain.name)),
            Err(e) => unreachable.push(format!("{}: {}", g.domain.name, crate::error_chain(&e))),
        }
        let text = g.console.stop();
        record_findings(rec, &g.name, &text);
        consoles.push((g.name.clone(), console_scan::tail(&text, 60)));
    }
    // A case cancelled mid-provisioning may have a domain it never got a handle for.
    if !keep {
        // Every host of the run: a migrated guest may sit on another host than the case's.
        for host in ctx.hosts.values().filter_map(|h| if let HostState::Ready(h) = h { Some(h) } else { None }) {
            let prefix = format!("vs-{}-{index}-", ctx.run_id);
            match host.host.owned_domains().await {
                Ok(doms) => {
                    for d in doms.into_iter().filter(|d| d.run_id == ctx.run_id && d.name.starts_with(&prefix)) {
                        problems.push(format!("{} was left without a handle and is now removed", d.name));
                        let _ = host.host.remove_domain(&d.name).await;
                    }
                }
                Err(e) => {
                    unreachable.push(format!("cannot list domains to prove teardown: {}", crate::error_chain(&e)));
                }
            }
        }
    }
    // The case's overlays and seeds (named after its domains) go with the domains.
    if !keep {
        let prefix = format!("vs-{}-{index}-", ctx.run_id);
        unreachable.extend(crate::image::overlay::remove_scratch(&ctx.run_dir, &prefix));
        unreachable.extend(super::staging::remove_case_files(ctx, &prefix).await);
    }
    let result = if !problems.is_empty() {
        Err(StepFailure::failed(format!("teardown left resources behind: {}", problems.join("; "))))
    } else if !unreachable.is_empty() {
        Err(StepFailure::error(format!("teardown could not be proven: {}", unreachable.join("; "))))
    } else {
        Ok(())
    };
    rec.record(None, "teardown", t, result);
    (consoles, kept)
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
        host_key: crate::guest::jump::HostKeyPolicy::None,
    })
}

/// `vs-RUNID-INDEX-GUEST`: unique per run, traceable to the case.
pub fn domain_name(run_id: &str, index: usize, guest: &str) -> String {
    format!("vs-{run_id}-{index}-{}", slug(guest))
}

/// A locally administered MAC derived from the domain name (stable for reruns of a name).
pub fn mac_for(name: &str, kind: crate::plan::GuestKind) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(name.as_bytes());
    let prefix = if kind == crate::plan::GuestKind::Kvm { "52:54:00" } else { "00:16:3e" };
    format!("{prefix}:{:02x}:{:02x}:{:02x}", h[0] & 0x7f, h[1], h[2])
}

/// A name safe for files and domains.
pub fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_and_stable() {
        assert_eq!(slug("local-kvm/tiny@lab1"), "local-kvm_tiny_lab1");
        assert_eq!(domain_name("r1", 3, "tiny-2"), "vs-r1-3-tiny-2");
        let a = mac_for("vs-r1-0-tiny", crate::plan::GuestKind::Kvm);
        assert_eq!(a, mac_for("vs-r1-0-tiny", crate::plan::GuestKind::Kvm));
        assert!(a.starts_with("52:54:00:"));
        assert!(mac_for("x", crate::plan::GuestKind::XenPv).starts_with("00:16:3e:"));
    }

    #[test]
    fn disk_images_need_the_host_to_be_this_machine() {
        use crate::plan::{AccelPreference, Capacity, HostSpec, Hypervisor, JumpSpec};
        let host = |uri: &str, jump: bool| HostSpec {
            name: "h".into(),
            uri: uri.into(),
            hypervisor: Hypervisor::Kvm,
            accel: AccelPreference::Auto,
            netns: None,
            bridge: "br0".into(),
            capacity: Capacity { guests: 1, memory_mib: 1024 },
            roles: vec![],
            labels: Default::default(),
            jump: jump.then(|| JumpSpec { address: "127.0.0.1:2221".into(), user: "root".into(), key: "/k".into() }),
        };
        assert!(super::super::staging::is_this_machine(&host("qemu:///system", false)));
        assert!(super::super::staging::is_this_machine(&host(
            "qemu+unix:///system?socket=/var/tmp/virtsmoke-lab/h1/run/libvirt-sock",
            false
        )));
        assert!(super::super::staging::is_this_machine(&host("xen:///system", false)));
        assert!(!super::super::staging::is_this_machine(&host("qemu+ssh://root@kvm1/system", false)));
        assert!(!super::super::staging::is_this_machine(&host("xen+ssh://root@127.0.0.1:2221/system", true)));
        assert!(!super::super::staging::is_this_machine(&host("qemu:///system", true)));
    }
}
