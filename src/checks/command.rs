//! Runs a scenario-given command in the guest and judges exit status and output.

use std::time::{Duration, Instant};

use super::env::{GuestUnderTest, StepFailure, SubResult, Testcase};
use crate::events::FailedAttempt;
use crate::guest::ssh::{self, SshTarget};

/// What a `command` check runs and expects.
pub struct CommandSpec<'a> {
    pub run: &'a str,
    pub expect_exit: i32,
    pub expect_output: Option<&'a str>,
}

/// The `command` check: runs the command on every guest with SSH access, and
/// again up to `retries` times after a failure; the failures before the last
/// result are its attempts.
pub async fn check(
    name: &str,
    spec: &CommandSpec<'_>,
    retries: u32,
    guests: &[GuestUnderTest],
    timeout: Duration,
) -> Testcase {
    let t = Instant::now();
    let (result, attempts) = retrying(retries, || on_every_guest(spec, guests, timeout)).await;
    Testcase {
        result: SubResult { name: name.to_string(), duration: t.elapsed(), result, properties: vec![] },
        attempts,
    }
}

/// Makes `attempt` up to `1 + retries` times, until it passes; returns the
/// last result and the failures before it.
pub async fn retrying<F, Fut>(retries: u32, mut attempt: F) -> (Result<(), StepFailure>, Vec<FailedAttempt>)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), StepFailure>>,
{
    let mut attempts = Vec::new();
    loop {
        let at = Instant::now();
        match attempt().await {
            Err(f) if (attempts.len() as u32) < retries => {
                attempts.push(FailedAttempt { duration: at.elapsed(), message: f.message, detail: f.detail });
            }
            r => return (r, attempts),
        }
    }
}

/// One attempt: the first guest that fails ends it.
async fn on_every_guest(
    spec: &CommandSpec<'_>,
    guests: &[GuestUnderTest],
    timeout: Duration,
) -> Result<(), StepFailure> {
    for g in guests {
        let Some(target) = &g.ssh else { continue };
        if let Err(mut f) = run(target, spec.run, spec.expect_exit, spec.expect_output, timeout).await {
            if guests.len() > 1 {
                f.message = format!("{}: {}", g.name, f.message);
            }
            return Err(f);
        }
    }
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pass_on_a_rerun_keeps_the_failed_attempts() {
        let calls = std::cell::Cell::new(0);
        let (r, attempts) = retrying(3, || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move { if n < 3 { Err(StepFailure::failed(format!("try {n}"))) } else { Ok(()) } }
        })
        .await;
        assert_eq!(r, Ok(()));
        assert_eq!(attempts.iter().map(|a| a.message.as_str()).collect::<Vec<_>>(), ["try 1", "try 2"]);
    }

    #[tokio::test]
    async fn retries_stop_at_the_limit_with_the_last_failure() {
        let calls = std::cell::Cell::new(0);
        let (r, attempts) = retrying(1, || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move { Err::<(), _>(StepFailure::failed(format!("try {n}"))) }
        })
        .await;
        assert_eq!(r, Err(StepFailure::failed("try 2")));
        assert_eq!(attempts.len(), 1);
        assert_eq!(calls.get(), 2);
    }
}
