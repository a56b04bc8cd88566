//! Files of builtin images on hosts that are not this machine (`xen+ssh://`,
//! `qemu+ssh://` with a `jump`): libvirt opens a kernel by its path on the
//! host, so the run copies each file there once, into the run's directory on
//! the host, and checks it by sha256 before any guest uses it. The run's end
//! removes that directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::context::{HostState, ReadyHost, RunContext};
use super::staged::Staged;
use crate::backend::host_shell::HostShell;
use crate::checks::StepFailure;
use crate::guest::ssh;
use crate::hostaccess::shell_for;
use crate::plan::HostSpec;
use crate::rundir::remote_run_dir;
use crate::shell::quote;

/// A copy over a nested or distant host's SSH: generous.
const COPY_TIMEOUT: Duration = Duration::from_secs(300);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

// Whether the host's libvirt runs on this machine (a local socket, no jump
// host), so that files made here are files it can open.
pub use crate::hostaccess::is_this_machine;

/// The path under which `host` sees the local file `local`: itself on this
/// machine, otherwise a checked copy in the run's directory on the host.
pub async fn on_host(ctx: &RunContext, host: &ReadyHost, local: &Path) -> Result<PathBuf, StepFailure> {
    file_on_host(&ctx.staged, &ctx.run_id, &host.spec, local).await
}

/// [`on_host`] for a host not ready yet (the KVM probe's kernel): the copy is
/// noted in `staged`, which the run's context takes over.
pub async fn file_on_host(
    staged: &Staged,
    run_id: &str,
    spec: &HostSpec,
    local: &Path,
) -> Result<PathBuf, StepFailure> {
    if is_this_machine(spec) {
        return Ok(local.to_path_buf());
    }
    let HostShell::Ssh(target) = shell_for(spec) else {
        return Err(StepFailure::error(format!(
            "{} must be copied to host `{}`, which has no `jump` (SSH) to copy it over; give the host a `jump`, \
             or name files already on the host in the image",
            local.display(),
            spec.name
        )));
    };
    // Before the copy: a half-made copy goes with the run's directory too.
    staged.touch(&spec.name);
    let remote = staged.copy_once(&spec.name, local, || copy_checked(run_id, &spec.name, &target, local)).await?;
    Ok(PathBuf::from(remote))
}

/// Copies `local` into the run's directory on the host, under a name with its
/// sha256, and checks the copy there.
async fn copy_checked(run_id: &str, host: &str, target: &ssh::SshTarget, local: &Path) -> Result<String, StepFailure> {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        StepFailure::error(format!("cannot copy {} to host `{host}`: {what}: {e}", local.display()))
    };
    let path = local.to_path_buf();
    let sha = tokio::task::spawn_blocking(move || crate::image::identity::sha256_file(&path))
        .await
        .map_err(|e| failed("reading it", &e))?
        .map_err(|e| failed("reading it", &e))?;
    let name = local.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
    let dir = format!("{}/images", remote_run_dir(run_id));
    // Named after the file first, so that a case's files share its domains' prefix.
    let remote = format!("{dir}/{}.{}", super::names::slug(&name), &sha[..16]);
    let mkdir = ssh::exec(target, &mkdir_command(&dir), COMMAND_TIMEOUT).await;
    match mkdir {
        Ok(o) if o.exit_status == 0 => {}
        Ok(o) => return Err(failed("mkdir", &o.stderr.trim())),
        Err(e) => return Err(failed("mkdir", &crate::error_chain(&e))),
    }
    // Copied under a temporary name and renamed once checked: the final name
    // only ever holds a complete, verified file. The name is this copy's own:
    // two local files alike in name and content may be copied at once.
    static COPIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    // It ends in `.part`, never in a digit of the sha, so no glob for final
    // names (`NAME.SHA16`) matches a copy under way.
    let part = format!("{remote}.{}.part", COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    ssh::upload(target, local, &part, COPY_TIMEOUT).await.map_err(|e| failed("scp", &crate::error_chain(&e)))?;
    let check = ssh::exec(target, &format!("sha256sum {}", quote(&part)), COMMAND_TIMEOUT)
        .await
        .map_err(|e| failed("sha256sum", &crate::error_chain(&e)))?;
    let seen = check.stdout.split_whitespace().next().unwrap_or("");
    if seen != sha {
        return Err(failed("checksum", &format!("sha256 on the host is {seen:?}, here {sha}")));
    }
    match ssh::exec(target, &format!("mv -f {} {}", quote(&part), quote(&remote)), COMMAND_TIMEOUT).await {
        Ok(o) if o.exit_status == 0 => Ok(remote),
        Ok(o) => Err(failed("mv", &o.stderr.trim())),
        Err(e) => Err(failed("mv", &crate::error_chain(&e))),
    }
}

/// Where the base image of a remote overlay is.
pub enum Base<'a> {
    /// A file here (a builtin image, or `copy: true`): copied to the host first.
    Local(&'a Path),
    /// A path on the host already (a `disk:` of the scenario): used as it is.
    OnHost(&'a Path),
}

/// A qcow2 overlay on the host for a guest of domain `domain`.
pub async fn overlay_on_host(
    ctx: &RunContext,
    host: &ReadyHost,
    base: Base<'_>,
    domain: &str,
) -> Result<PathBuf, StepFailure> {
    let HostShell::Ssh(target) = shell_for(&host.spec) else {
        return Err(StepFailure::error(format!(
            "host `{}` has no `jump` (SSH) to create an overlay on",
            host.spec.name
        )));
    };
    let (format, remote_base) = match base {
        Base::Local(path) => {
            let format = crate::image::overlay::base_format(path)
                .await
                .map_err(|e| StepFailure::error(crate::error_chain(&e)))?;
            (format, on_host(ctx, host, path).await?)
        }
        Base::OnHost(path) => {
            let info = format!("qemu-img info -U --output=json {}", quote(&path.to_string_lossy()));
            let out = ssh::exec(&target, &info, COMMAND_TIMEOUT)
                .await
                .map_err(|e| StepFailure::error(crate::error_chain(&e)))?;
            let format = serde_json::from_str::<serde_json::Value>(&out.stdout)
                .ok()
                .and_then(|v| v.get("format")?.as_str().map(str::to_string))
                .filter(|f| f == "qcow2" || f == "raw")
                .ok_or_else(|| {
                    StepFailure::error(format!(
                        "cannot use {} on host `{}` as a base image (qcow2 or raw): {}",
                        path.display(),
                        host.spec.name,
                        out.stderr.trim()
                    ))
                })?;
            (format, path.to_path_buf())
        }
    };
    let dir = format!("{}/images", remote_run_dir(&ctx.run_id));
    let overlay = format!("{dir}/{domain}.overlay.qcow2");
    let command = overlay_command(&dir, &format, &remote_base.to_string_lossy(), &overlay);
    ctx.staged.touch(&host.spec.name);
    match ssh::exec(&target, &command, COMMAND_TIMEOUT).await {
        Ok(o) if o.exit_status == 0 => Ok(PathBuf::from(overlay)),
        Ok(o) => Err(StepFailure::error(format!(
            "cannot create the overlay on host `{}`: `{command}` says: {}",
            host.spec.name,
            o.stderr.trim()
        ))),
        Err(e) => Err(StepFailure::error(crate::error_chain(&e))),
    }
}

/// Makes the run's directory `dir` on a host (and what is missing above it)
/// for its owner only: it gets seeds with the guests' keys.
fn mkdir_command(dir: &str) -> String {
    // 0711, and so every directory -p makes: QEMU's unprivileged user on a
    // KVM host must pass through to the files (each 0600, relabelled by libvirt).
    // The run's directory (above `dir`) names the machine running the run in
    // its `owner` file, so that `cleanup` elsewhere leaves it alone.
    let owner = quote(&format!("{}/owner", dir.trim_end_matches('/').trim_end_matches("/images")));
    let machine = quote(crate::rundir::this_machine());
    format!(
        "(umask 066 && mkdir -m 0711 -p {} && {{ [ -e {owner} ] || printf 'machine=%s\\n' {machine} > {owner}; }})",
        quote(dir)
    )
}

/// Makes the qcow2 overlay `overlay` (in `dir`) over `base` (of `format`).
fn overlay_command(dir: &str, format: &str, base: &str, overlay: &str) -> String {
    format!(
        "{} && qemu-img create -q -f qcow2 -F {} -b {} {}",
        mkdir_command(dir),
        quote(format),
        quote(base),
        quote(overlay)
    )
}

/// Removes a case's files (those named with `prefix`: its overlays and
/// seeds) from every host the run made files on; returns what failed.
pub async fn remove_case_files(ctx: &RunContext, prefix: &str) -> Vec<String> {
    let files = format!("{}/images/{prefix}", remote_run_dir(&ctx.run_id));
    on_every_host(ctx, &format!("rm -f {}*", quote(&files)), &format!("{files}*")).await
}

/// Removes the run's directory from every host the run made files on.
pub async fn remove_all(ctx: &RunContext) -> Vec<String> {
    let dir = remote_run_dir(&ctx.run_id);
    on_every_host(ctx, &format!("rm -rf {}", quote(&dir)), &dir).await
}

/// Runs the removal `command` on every host the run made files on; says
/// where `what` could not be removed.
async fn on_every_host(ctx: &RunContext, command: &str, what: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for name in ctx.staged.hosts_touched() {
        let Some(HostState::Ready(h)) = ctx.hosts.get(&name) else { continue };
        // An unreachable host is not asked again: the leak check says it was not checked.
        if ctx.lost_host(&name).is_some() {
            continue;
        }
        if shell_for(&h.spec).run(command).await.is_none() {
            problems.push(format!("cannot remove {what} on host `{name}`"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `command` with `sh -c`, `qemu-img` being a stand-in that prints its arguments a line each.
    fn run_with_fake_qemu_img(command: &str) -> String {
        let bin = tempfile::tempdir().unwrap();
        let fake = bin.path().join("qemu-img");
        std::fs::write(&fake, "#!/bin/sh\nprintf '%s\\n' \"$@\"\n").unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
        let out = std::process::Command::new("/bin/sh").arg("-c").arg(command).env("PATH", path).output().unwrap();
        assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn hostile_paths_reach_the_tools_unchanged() {
        let tmp = tempfile::tempdir().unwrap();
        let evil = "x'; touch pwned; '";
        let dir = tmp.path().join(evil).join("images");
        let dir = dir.to_str().unwrap();
        let base = format!("/data/{evil}.qcow2");
        let overlay = format!("{dir}/vs-r1-0-g.overlay.qcow2");
        let printed = run_with_fake_qemu_img(&overlay_command(dir, "qcow2; id", &base, &overlay));
        let args: Vec<&str> = printed.lines().collect();
        assert_eq!(args, ["create", "-q", "-f", "qcow2", "-F", "qcow2; id", "-b", &base, &overlay]);
        assert!(std::path::Path::new(dir).is_dir(), "mkdir made the directory as named");
        let mode = std::os::unix::fs::MetadataExt::mode(&std::fs::metadata(dir).unwrap()) & 0o777;
        assert_eq!(mode, 0o711);
        assert!(!std::path::Path::new("pwned").exists() && !tmp.path().join("pwned").exists());
    }

    #[test]
    fn the_run_directory_names_the_machine_once() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("r1");
        let images = run.join("images");
        let mk = || {
            let out = std::process::Command::new("sh").arg("-c").arg(mkdir_command(images.to_str().unwrap())).output();
            assert!(out.unwrap().status.success());
        };
        mk();
        let owner = std::fs::read_to_string(run.join("owner")).unwrap();
        assert_eq!(owner, format!("machine={}\n", crate::rundir::this_machine()));
        std::fs::write(run.join("owner"), "machine=first\n").unwrap();
        mk();
        assert_eq!(std::fs::read_to_string(run.join("owner")).unwrap(), "machine=first\n", "never rewritten");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&images).unwrap().permissions().mode() & 0o777, 0o711);
    }

    #[test]
    fn disk_images_need_the_host_to_be_this_machine() {
        use crate::plan::{AccelPreference, Capacity, HostSpec, Hypervisor, JumpHostKey, JumpSpec};
        let host = |uri: &str, jump: bool| HostSpec {
            name: "h".into(),
            uri: uri.into(),
            hypervisor: Hypervisor::Kvm,
            accel: AccelPreference::Auto,
            netns: None,
            bridge: "br0".into(),
            capacity: Capacity { guests: 1, memory_mib: 1024, when_full: crate::plan::WhenFull::DEFAULT },
            roles: vec![],
            labels: Default::default(),
            jump: jump.then(|| JumpSpec {
                address: "127.0.0.1:2221".into(),
                user: "root".into(),
                key: "/k".into(),
                host_key: JumpHostKey::Insecure,
            }),
        };
        assert!(is_this_machine(&host("qemu:///system", false)));
        assert!(is_this_machine(&host("qemu+unix:///system?socket=/var/tmp/virtsmoke-lab/h1/run/libvirt-sock", false)));
        assert!(is_this_machine(&host("xen:///system", false)));
        assert!(!is_this_machine(&host("qemu+ssh://root@kvm1/system", false)));
        assert!(!is_this_machine(&host("xen+ssh://root@127.0.0.1:2221/system", true)));
        assert!(!is_this_machine(&host("qemu:///system", true)));
    }
}
