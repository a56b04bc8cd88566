//! A guest's provisioning: its boot files where the host sees them, its
//! scratch disks, its domain XML, and the domain created paused, its console
//! attached, then resumed.

use std::path::{Path, PathBuf};

use super::context::{ReadyHost, RunContext};
use super::names::{domain_name, mac_for};
use super::recorder::Recorder;
use super::staging;
use crate::backend::RunState;
use crate::backend::domain_xml::{self, DomainXmlInput, Ownership};
use crate::checks::{GuestUnderTest, StepFailure};
use crate::hypervisor::EntryNote;
use crate::image::xen_notes;
use crate::plan::{Boot, Case, GuestKind, GuestNetwork, GuestSpec, ImageSpec, SeedKind};

/// Which guest of which case is provisioned, and where its files go.
pub struct GuestSlot<'a> {
    pub ctx: &'a RunContext,
    pub host: &'a ReadyHost,
    pub index: usize,
    pub case: &'a Case,
    pub case_dir: &'a Path,
}

/// What a guest boots from, as this machine sees it.
struct BootFiles {
    kernel: Option<PathBuf>,
    initrd: Option<PathBuf>,
    base_disk: Option<PathBuf>,
    recipe_cmdline: Option<String>,
}

fn boot_files(ctx: &RunContext, spec: &GuestSpec) -> Result<BootFiles, StepFailure> {
    let (kernel, initrd, base_disk, recipe_cmdline) = match &spec.image.spec {
        ImageSpec::Builtin { name } => {
            let img =
                ctx.images.get(name).ok_or_else(|| StepFailure::error(format!("image `{name}` was not built")))?;
            let kernel = spec.image.own_kernel.clone().unwrap_or_else(|| img.kernel.clone());
            (Some(kernel), Some(img.initrd.clone()), img.disk.clone(), img.cmdline.clone())
        }
        ImageSpec::Files { kernel, initrd, disk } => (kernel.clone(), initrd.clone(), disk.clone(), None),
    };
    // Booted by the disk's own loader, the guest gets no kernel from here.
    let (kernel, initrd) = match spec.image.boot {
        Boot::Kernel => (kernel, initrd),
        Boot::Disk => (None, None),
    };
    Ok(BootFiles { kernel, initrd, base_disk, recipe_cmdline })
}

/// Creates the guest's domain paused, attaches the console, then lets it run.
/// The domain XML and the console log are added to `artifacts`; a check
/// beforehand that could not be made is said in a property.
pub async fn provision(
    at: &GuestSlot<'_>,
    spec: &GuestSpec,
    artifacts: &mut Vec<PathBuf>,
    rec: &mut Recorder<'_>,
) -> Result<GuestUnderTest, StepFailure> {
    let (ctx, host) = (at.ctx, at.host);
    let files = boot_files(ctx, spec)?;
    record_image_identity(host, spec, rec).await;
    if let Some(why) = entry_point(files.kernel.as_deref(), spec.kind).await? {
        rec.property(format!("{}.entry_point_check", spec.name), why);
    }
    // Files here (a builtin image, or `copy: true`): a remote host gets checked copies.
    let (kernel, initrd) = if spec.image.files_are_here() {
        (staged(ctx, host, files.kernel).await?, staged(ctx, host, files.initrd).await?)
    } else {
        (files.kernel, files.initrd)
    };
    let name = domain_name(&ctx.run_id, at.index, &spec.name);
    let mac = mac_for(&name, spec.kind);
    let (disk, seed) = scratch_disks(ctx, host, spec, &name, &mac, files.base_disk.as_deref()).await?;
    let xml = domain_xml::build(&DomainXmlInput {
        name: name.clone(),
        kind: spec.kind,
        domain_type: host.domain_type,
        memory_mib: spec.memory_mib,
        vcpus: spec.vcpus,
        kernel,
        initrd,
        cmdline: cmdline(ctx, spec, files.recipe_cmdline),
        disk,
        seed,
        bridge: host.spec.bridge.clone(),
        mac: mac.clone(),
        hvmloader: firmware_loader(host, spec.kind).await,
        firmware: spec.firmware,
        // Beside the overlays, removed with them; a remote host keeps it where libvirt puts it.
        nvram: (spec.firmware == crate::plan::Firmware::Uefi && staging::is_this_machine(&host.spec))
            .then(|| ctx.run_dir.join(format!("{name}.nvram.fd"))),
        restart_on_reboot: at.case.checks.iter().any(crate::plan::CheckSpec::restarts_on_reboot),
        owner: Ownership::now(&ctx.run_id, &at.case.name, &spec.name),
    });
    let xml_path = at.case_dir.join(format!("{}.domain.xml", spec.name));
    std::fs::create_dir_all(at.case_dir)
        .and_then(|_| std::fs::write(&xml_path, &xml))
        .map_err(|e| StepFailure::error(format!("cannot write {}: {e}", xml_path.display())))?;
    artifacts.push(xml_path);
    let console_path = at.case_dir.join(format!("{}.console.log", spec.name));
    start(host, spec, &name, xml, mac, console_path, artifacts).await
}

/// The image's identity as properties (`GUEST.image_recipe_hash`, ...), which
/// `virtsmoke reproduce` checks and `virtsmoke history` compares; an identity
/// that cannot be read is said instead.
async fn record_image_identity(host: &ReadyHost, spec: &GuestSpec, rec: &mut Recorder<'_>) {
    let image = spec.image.clone();
    let here = image.files_are_here() || staging::is_this_machine(&host.spec);
    match tokio::task::spawn_blocking(move || crate::image::identity::of(&image, here)).await {
        Ok(Ok(props)) => {
            for (k, v) in props {
                rec.property(format!("{}.{k}", spec.name), v);
            }
        }
        Ok(Err(why)) => rec.property(format!("{}.image_identity", spec.name), why),
        Err(e) => rec.property(format!("{}.image_identity", spec.name), e),
    }
}

/// The guest's kernel command line.
fn cmdline(ctx: &RunContext, spec: &GuestSpec, recipe_cmdline: Option<String>) -> String {
    let family = crate::hypervisor::for_kind(spec.kind);
    let mut cmdline = vec![format!("console={}", family.kernel_console(spec.kind))];
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
    let extra = family.kind_cmdline(spec.kind);
    if !extra.is_empty() {
        cmdline.push(extra.to_string());
    }
    if let Some(c) = recipe_cmdline {
        cmdline.push(c);
    }
    if let Some(c) = &spec.image.cmdline {
        cmdline.push(c.clone());
    }
    cmdline.join(" ")
}

/// The firmware loader the host's libvirt names for `kind` (Xen HVM:
/// `hvmloader`, whose place differs by distribution and Xen version); empty
/// (no `<loader>`: the toolstack's own) when the family needs none named, or
/// the host's domain capabilities cannot be read or list none.
async fn firmware_loader(host: &ReadyHost, kind: crate::plan::GuestKind) -> PathBuf {
    host.host.firmware_loader(kind).await.ok().flatten().unwrap_or_default()
}

fn infra(e: crate::backend::BackendError) -> StepFailure {
    StepFailure::error(e.described())
}

/// Why the host refused to create the domain. A Xen PV guest booted from its
/// disk goes through pygrub first, of whose failure libvirt says only that
/// libxl could not create the domain: libxl's log for the domain and the
/// bootloader log it names say what pygrub found.
async fn refused(host: &ReadyHost, spec: &GuestSpec, name: &str, e: crate::backend::BackendError) -> StepFailure {
    if spec.kind != GuestKind::XenPv || spec.image.boot != Boot::Disk {
        return infra(e);
    }
    let shell = crate::hostaccess::shell_for(&host.spec);
    let libxl_path = format!("/var/log/libvirt/libxl/{name}.log");
    let libxl = shell.run(&format!("tail -n 40 {}", crate::shell::quote(&libxl_path))).await.unwrap_or_default();
    let bootloader = match crate::hypervisor::pygrub::bootloader_logfile(&libxl) {
        Some(path) => shell.run(&format!("tail -n 20 {}", crate::shell::quote(path))).await.unwrap_or_default(),
        None => String::new(),
    };
    match crate::hypervisor::pygrub::failure(&libxl, &bootloader) {
        Some(why) => StepFailure::failed(why).with_detail(format!(
            "{}\n\n{libxl_path} (last lines):\n{}\n\nbootloader log (last lines):\n{}",
            crate::error_chain(&e),
            libxl.trim(),
            bootloader.trim()
        )),
        None => infra(e),
    }
}

/// Creates the domain paused, attaches its console (whose log becomes an
/// artifact), resumes it and checks it runs.
async fn start(
    host: &ReadyHost,
    spec: &GuestSpec,
    name: &str,
    xml: String,
    mac: String,
    console_path: PathBuf,
    artifacts: &mut Vec<PathBuf>,
) -> Result<GuestUnderTest, StepFailure> {
    let domain = match host.host.create_paused(name, xml).await {
        Ok(d) => d,
        Err(e) => return Err(refused(host, spec, name, e).await),
    };
    let console = match domain.open_console(console_path.clone()).await {
        Ok(c) => c,
        Err(e) => {
            let _ = domain.destroy().await;
            return Err(infra(e));
        }
    };
    artifacts.push(console_path);
    let marker = spec.image.marker.clone();
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
        Some(path) => Ok(Some(staging::on_host(ctx, host, &path).await?)),
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
    let remote = !staging::is_this_machine(&host.spec);
    let disk = match base {
        None => None,
        Some(base) if remote => {
            let base =
                if spec.image.files_are_here() { staging::Base::Local(base) } else { staging::Base::OnHost(base) };
            Some(staging::overlay_on_host(ctx, host, base, domain).await?)
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
        Some(if remote { staging::on_host(ctx, host, &iso).await? } else { iso })
    } else {
        None
    };
    Ok((disk, seed))
}

/// A kernel booted directly as `kind` must declare the entry point the kind
/// needs (Xen PV, PVH): checked at once instead of waiting for a console that
/// will stay silent. `Ok(Some(why))`: it could not be checked beforehand.
async fn entry_point(kernel: Option<&Path>, kind: GuestKind) -> Result<Option<String>, StepFailure> {
    let Some(note) = crate::hypervisor::for_kind(kind).required_entry_note(kind) else { return Ok(None) };
    match kernel {
        // Booted by the disk's own loader: no kernel of ours to look at.
        None => Ok(None),
        Some(k) if !k.is_file() => Ok(Some(format!(
            "not checked: the kernel {} is not a file on this machine; the boot will tell",
            k.display()
        ))),
        Some(k) => has_note(k, note).await,
    }
}

async fn has_note(kernel: &Path, note: EntryNote) -> Result<Option<String>, StepFailure> {
    let path = kernel.to_path_buf();
    let entries = match tokio::task::spawn_blocking(move || xen_notes::read_entries(&path))
        .await
        .map_err(|e| StepFailure::error(e.to_string()))?
    {
        Ok(entries) => entries,
        Err(e @ xen_notes::NotesError::Unsupported(..)) => {
            return Ok(Some(format!("not checked: {}; the boot will tell", crate::error_chain(&e))));
        }
        Err(e) => {
            return Err(StepFailure::failed(format!("cannot read the kernel's Xen notes: {}", crate::error_chain(&e))));
        }
    };
    let ok = match note {
        EntryNote::XenPv => entries.pv,
        EntryNote::XenPvh => entries.pvh,
    };
    if ok {
        Ok(None)
    } else {
        Err(StepFailure::failed(format!(
            "kernel {} has no {} entry point (no such Xen ELF note)",
            kernel.display(),
            note.what()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_kinds_whose_family_wants_an_entry_note_are_checked() {
        let not_a_xen_kernel = Some(Path::new("/bin/sh"));
        for kind in [GuestKind::Kvm, GuestKind::XenHvm, GuestKind::XenPvhvm] {
            assert_eq!(entry_point(not_a_xen_kernel, kind).await.ok(), Some(None), "{kind}");
        }
        let pvh = entry_point(not_a_xen_kernel, GuestKind::XenPvh).await.unwrap_err();
        assert!(pvh.message.contains("has no Xen PVH entry point"), "{}", pvh.message);
        let pv = entry_point(not_a_xen_kernel, GuestKind::XenPv).await.unwrap_err();
        assert!(pv.message.contains("has no Xen PV entry point"), "{}", pv.message);
        assert_eq!(entry_point(None, GuestKind::XenPv).await.ok(), Some(None), "booted by the disk's loader");
    }

    #[tokio::test]
    async fn a_kernel_that_cannot_be_looked_at_here_is_said_to_be_unchecked() {
        let why = entry_point(Some(Path::new("/boot/on-the-xen-host/vmlinuz")), GuestKind::XenPv).await.unwrap();
        assert_eq!(
            why.as_deref(),
            Some(
                "not checked: the kernel /boot/on-the-xen-host/vmlinuz is not a file on this machine; the boot will tell"
            )
        );
        let kvm = entry_point(Some(Path::new("/boot/on-the-host/vmlinuz")), GuestKind::Kvm).await.unwrap();
        assert_eq!(kvm, None);
    }
}
