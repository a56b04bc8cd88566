//! `save-restore`: libvirt saves the guest to a file in the run's directory on
//! its host and restores it; the guest is the same boot, its uptime did not go
//! back, a process started before is alive and SSH reconnects. The file is
//! removed whatever happens.

use std::path::Path;
use std::time::Instant;

use super::common::{LifecycleEnv, sh_quote, ssh_of, sub_result};
use super::continuity;
use crate::backend::host_shell::HostShell;
use crate::checks::env::{GuestUnderTest, StepFailure, SubResult};

/// Saves, restores, proves continuity; removes the file.
pub async fn run(guest: &mut GuestUnderTest, env: &LifecycleEnv<'_>, name: String) -> SubResult {
    let t = Instant::now();
    let mut props = Vec::new();
    let file = env.save_dir.join(format!("{}.save", guest.domain.name));
    let mut result = save_restore(guest, env, &file, &mut props).await;
    if let Err(why) = remove(env.shell, &file).await
        && result.is_ok()
    {
        result = Err(StepFailure::error(why));
    }
    sub_result(name, t, result, props)
}

async fn save_restore(
    guest: &mut GuestUnderTest,
    env: &LifecycleEnv<'_>,
    file: &Path,
    props: &mut Vec<(String, String)>,
) -> Result<(), StepFailure> {
    if matches!(env.shell, HostShell::None) {
        // The file could not be removed afterwards: do not make it.
        return Err(StepFailure::error(format!(
            "cannot run commands on host `{}` to remove a save file there: give the host a `jump`",
            env.host.name
        )));
    }
    let target = ssh_of(guest)?;
    let marks = continuity::plant(&target, env.command_timeout).await.map_err(StepFailure::error)?;
    prepare_dir(env.shell, &env.save_dir).await?;
    let g = guest.name.clone();
    let t = Instant::now();
    guest.domain.save(file).await.map_err(|e| StepFailure::backend(&e))?;
    props.push((format!("{g}.save_ms"), t.elapsed().as_millis().to_string()));
    if let Some(size) = size_of(env.shell, file).await {
        props.push((format!("{g}.save_bytes"), size.to_string()));
    }
    let t = Instant::now();
    let restored = env.host.restore(file, &guest.domain.name).await.map_err(|e| {
        StepFailure::failed(format!("the saved guest could not be restored: {}", crate::error_chain(&e)))
    })?;
    props.push((format!("{g}.restore_ms"), t.elapsed().as_millis().to_string()));
    let console = env.case_dir.join(format!("{g}.console.log"));
    // The old console ended with the saved domain; the restored one appends.
    match restored.reopen_console(console).await {
        Ok(c) => drop(std::mem::replace(&mut guest.console, c)),
        Err(e) => {
            return Err(StepFailure::error(format!(
                "cannot attach to the restored console: {}",
                crate::error_chain(&e)
            )));
        }
    }
    guest.domain = restored;
    continuity::verify(&target, &marks, env.command_timeout)
        .await
        .map_err(|why| StepFailure::failed(why).with_detail(guest.console_excerpt()))
}

async fn prepare_dir(shell: &HostShell, dir: &Path) -> Result<(), StepFailure> {
    let d = sh_quote(&dir.display().to_string());
    shell
        .run(&format!("mkdir -p {d} && chmod 0700 {d}"))
        .await
        .map(|_| ())
        .ok_or_else(|| StepFailure::error(format!("cannot make the directory {} for the save file", dir.display())))
}

async fn size_of(shell: &HostShell, file: &Path) -> Option<u64> {
    shell.run(&format!("stat -c %s {}", sh_quote(&file.display().to_string()))).await?.trim().parse().ok()
}

/// Removes the save file and proves it is gone.
async fn remove(shell: &HostShell, file: &Path) -> Result<(), String> {
    let f = sh_quote(&file.display().to_string());
    match shell.run(&format!("rm -f {f} && ! test -e {f}")).await {
        Some(_) => Ok(()),
        None if matches!(shell, HostShell::None) => Ok(()),
        None => Err(format!("the save file {} could not be removed", file.display())),
    }
}
