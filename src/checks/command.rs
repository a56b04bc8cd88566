//! Runs a scenario-given command in the guest and judges exit status and output.

use std::time::Duration;

use super::StepFailure;
use crate::guest::ssh::{self, SshTarget};

pub async fn run(
    target: &SshTarget,
    command: &str,
    expect_exit: i32,
    expect_output: Option<&str>,
    timeout: Duration,
) -> Result<String, StepFailure> {
    let out = ssh::exec(target, command, timeout).await.map_err(|e| StepFailure::failed(crate::error_chain(&e)))?;
    let evidence = format!("exit status {}\n--- stdout\n{}\n--- stderr\n{}", out.exit_status, out.stdout, out.stderr);
    if out.exit_status != expect_exit {
        return Err(StepFailure::failed(format!(
            "`{command}` exited with {}, expected {expect_exit}",
            out.exit_status
        ))
        .with_detail(evidence));
    }
    if let Some(want) = expect_output
        && !out.stdout.contains(want)
    {
        return Err(
            StepFailure::failed(format!("the output of `{command}` does not contain `{want}`")).with_detail(evidence)
        );
    }
    Ok(out.stdout)
}
