//! `pause-resume`: the guest's vCPUs stop and start again; it is the same,
//! running guest afterwards.

use std::time::Instant;

use super::common::{LifecycleEnv, ssh_of, sub_result, wait_for_state};
use super::continuity;
use crate::backend::RunState;
use crate::checks::env::{GuestUnderTest, StepFailure, SubResult};

/// Pauses, proves the domain is paused, resumes, proves continuity.
pub async fn run(guest: &GuestUnderTest, env: &LifecycleEnv<'_>, name: String) -> SubResult {
    let t = Instant::now();
    let mut props = Vec::new();
    let result = pause_resume(guest, env, &mut props).await;
    sub_result(name, t, result, props)
}

async fn pause_resume(
    guest: &GuestUnderTest,
    env: &LifecycleEnv<'_>,
    props: &mut Vec<(String, String)>,
) -> Result<(), StepFailure> {
    let target = ssh_of(guest)?;
    let marks = continuity::plant(&target, env.command_timeout).await.map_err(StepFailure::error)?;
    let t = Instant::now();
    guest.domain.suspend().await.map_err(|e| StepFailure::backend(&e))?;
    let paused = wait_for_state(guest, &[RunState::Paused], env.timeout).await;
    props.push((format!("{}.pause_ms", guest.name), t.elapsed().as_millis().to_string()));
    // Resumed whatever the pause showed: the guest must not stay paused.
    let t = Instant::now();
    let resumed = guest.domain.resume().await;
    props.push((format!("{}.resume_ms", guest.name), t.elapsed().as_millis().to_string()));
    paused.map_err(|why| StepFailure::failed(format!("the domain did not pause: {why}")))?;
    resumed.map_err(|e| StepFailure::backend(&e))?;
    wait_for_state(guest, &[RunState::Running], env.timeout)
        .await
        .map_err(|why| StepFailure::failed(format!("the domain did not run again: {why}")))?;
    continuity::verify(&target, &marks, env.command_timeout)
        .await
        .map_err(|why| StepFailure::failed(why).with_detail(guest.console_excerpt()))
}
