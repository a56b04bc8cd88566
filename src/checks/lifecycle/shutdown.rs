//! `shutdown`: a clean shutdown through libvirt (ACPI on KVM and Xen HVM, the
//! PV control path on Xen PV and PVH) ends the domain within the timeout. A
//! guest that ignores the request fails with its console's last lines.

use std::time::Instant;

use super::common::{LifecycleEnv, sub_result, wait_for_state};
use crate::backend::RunState;
use crate::checks::env::{GuestUnderTest, StepFailure, SubResult};

/// Asks the guest to power off and waits for its domain to end.
pub async fn run(guest: &mut GuestUnderTest, env: &LifecycleEnv<'_>, name: String) -> SubResult {
    let t = Instant::now();
    let mut props = Vec::new();
    let result = shutdown(guest, env, &mut props).await;
    if result.is_ok() {
        // Nothing answers any more: later checks must not try.
        guest.ssh = None;
    }
    sub_result(name, t, result, props)
}

async fn shutdown(
    guest: &GuestUnderTest,
    env: &LifecycleEnv<'_>,
    props: &mut Vec<(String, String)>,
) -> Result<(), StepFailure> {
    let t = Instant::now();
    guest.domain.shutdown().await.map_err(|e| StepFailure::backend(&e))?;
    match wait_for_state(guest, &[RunState::Gone, RunState::ShutOff], env.timeout).await {
        Ok(_) => {
            props.push((format!("{}.shutdown_ms", guest.name), t.elapsed().as_millis().to_string()));
            Ok(())
        }
        Err(why) => {
            guest.console.drained(std::time::Duration::from_secs(1)).await;
            Err(StepFailure::failed(format!("the guest did not shut down when asked: {why}"))
                .with_detail(guest.console_excerpt()))
        }
    }
}
