//! Readiness of a full distribution, after SSH answers: systemd finished
//! booting (`boot.systemd`). It waits inside the guest, so it costs one SSH
//! command, however long the guest takes. `boot.cloud-init` is in
//! `cloud_init.rs`.

use std::time::Duration;

use super::env::StepFailure;
use crate::guest::ssh::{self, SshError, SshTarget};

/// What `boot.systemd` saw, for the case's properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemdState {
    /// `running`, or `degraded` when allowed.
    pub state: String,
    pub failed_units: Vec<String>,
    /// systemd's own "Startup finished in ..." summary, when it gives one.
    pub startup: Option<String>,
}

/// Units `systemctl --failed --no-legend --plain` lists (first column).
pub fn parse_failed_units(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.trim_start_matches(|c: char| c == '●' || c.is_whitespace()).split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The last word `systemctl is-system-running` printed.
fn parse_state(out: &str) -> String {
    out.split_whitespace().last().unwrap_or("").to_string()
}

const FAILED: &str = "systemctl --failed --no-legend --plain 2>/dev/null";

/// Waits inside the guest until systemd's state is settled (systemd 240 and later).
const WAIT: &str = "systemctl is-system-running --wait 2>&1";

/// The same for systemd before 240, which has no `is-system-running --wait`:
/// asks once a second until the state leaves `initializing`/`starting`.
const POLL: &str = "while s=$(systemctl is-system-running 2>&1); \
                    case \"$s\" in initializing|starting) true ;; *) false ;; esac; \
                    do sleep 1; done; echo \"$s\"";

/// Whether `is-system-running --wait` gave no settled state, so the state must
/// be polled: systemd before 232 refuses the option ("unrecognized option
/// '--wait'", EL7's 219), 232 to 239 accept `--wait` but return at once, while
/// the system is still `starting`.
fn must_poll(out: &ssh::ExecOutput) -> bool {
    let text = format!("{}\n{}", out.stdout, out.stderr);
    let refused = out.exit_status != 0
        && ["unrecognized option", "Unknown option", "invalid option"].iter().any(|m| text.contains(m));
    refused || matches!(parse_state(&out.stdout).as_str(), "initializing" | "starting")
}

/// The output of `systemctl is-system-running` once the system settled: with
/// `--wait`, or by polling where systemd has no working `--wait`.
async fn settled_state(target: &SshTarget, timeout: Duration) -> Result<ssh::ExecOutput, StepFailure> {
    let started = std::time::Instant::now();
    let mut out = ssh::exec(target, WAIT, timeout).await;
    if let Ok(o) = &out
        && must_poll(o)
    {
        let left = timeout.saturating_sub(started.elapsed());
        out = ssh::exec(target, POLL, left).await;
    }
    match out {
        Ok(out) => Ok(out),
        Err(SshError::Timeout { .. }) => {
            let jobs = quick(target, "systemctl list-jobs --no-legend --plain 2>/dev/null | head -n 20").await;
            Err(StepFailure::failed(format!(
                "systemd did not finish booting within {}",
                humantime::format_duration(timeout)
            ))
            .with_detail(format!("jobs still queued:\n{}", jobs.trim())))
        }
        Err(e) => Err(StepFailure::failed(crate::error_chain(&e))),
    }
}

/// Waits for systemd to finish booting (`systemctl is-system-running --wait`,
/// polled on systemd before 240); `degraded` passes only with `allow_degraded`.
/// Failed units are named.
pub async fn system_running(
    target: &SshTarget,
    allow_degraded: bool,
    timeout: Duration,
) -> Result<SystemdState, StepFailure> {
    let out = settled_state(target, timeout).await?;
    let state = parse_state(&out.stdout);
    if state.is_empty() {
        return Err(StepFailure::failed(format!(
            "`systemctl is-system-running` printed nothing (exit {}): is systemd the guest's init? {}",
            out.exit_status,
            out.stderr.trim()
        )));
    }
    let failed_units = if state == "running" { Vec::new() } else { parse_failed_units(&quick(target, FAILED).await) };
    let startup = quick(target, "systemd-analyze time 2>/dev/null | head -n 1").await;
    let startup = startup.trim().strip_prefix("Startup finished in ").map(str::to_string);
    let report = SystemdState { state: state.clone(), failed_units, startup };
    match state.as_str() {
        "running" => Ok(report),
        "degraded" if allow_degraded => Ok(report),
        other => {
            let units = if report.failed_units.is_empty() {
                String::new()
            } else {
                format!("; failed units: {}", report.failed_units.join(", "))
            };
            let hint = if other == "degraded" { " (`allow_degraded: true` on the image accepts this)" } else { "" };
            let status = if report.failed_units.is_empty() {
                String::new()
            } else {
                let units: Vec<&str> = report.failed_units.iter().take(5).map(String::as_str).collect();
                quick(target, &format!("systemctl status --no-pager --full --lines=15 {} 2>&1", units.join(" "))).await
            };
            Err(StepFailure::failed(format!("the system is {other}{units}{hint}")).with_detail(status))
        }
    }
}

/// A short diagnostic command: its output, or what went wrong instead.
pub(super) async fn quick(target: &SshTarget, cmd: &str) -> String {
    match ssh::exec(target, cmd, Duration::from_secs(20)).await {
        Ok(out) => out.stdout,
        Err(e) => format!("({})", crate::error_chain(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_units_are_the_first_column() {
        let out = "cloud-config.service loaded failed failed Apply the settings specified in cloud-config\n\
                   ● ssh.service loaded failed failed OpenBSD Secure Shell server\n\n";
        assert_eq!(parse_failed_units(out), ["cloud-config.service", "ssh.service"]);
        assert!(parse_failed_units("").is_empty());
        assert_eq!(parse_state("degraded\n"), "degraded");
    }

    fn output(exit_status: i32, stdout: &str) -> ssh::ExecOutput {
        ssh::ExecOutput { exit_status, stdout: stdout.into(), stderr: String::new() }
    }

    #[test]
    fn systemd_before_240_is_polled() {
        // EL7 (systemd 219), stderr merged by `2>&1`.
        let el7 = output(1, "systemctl: unrecognized option '--wait'\n");
        assert!(must_poll(&el7));
        // systemd's own option parser words it differently.
        let unknown =
            ssh::ExecOutput { exit_status: 1, stdout: String::new(), stderr: "Unknown option --wait\n".into() };
        assert!(must_poll(&unknown));
        // 232..239 accept --wait for `start` only and answer at once.
        assert!(must_poll(&output(1, "starting\n")));
        assert!(must_poll(&output(1, "initializing\n")));
    }

    #[test]
    fn systemd_240_and_later_is_not_polled() {
        assert!(!must_poll(&output(0, "running\n")));
        assert!(!must_poll(&output(1, "degraded\n")));
        assert!(!must_poll(&output(1, "maintenance\n")));
        // The polling loop's own answer is taken as it is.
        assert_eq!(parse_state("degraded\n"), "degraded");
        // A unit named after the message does not make a settled state refused.
        assert!(!must_poll(&output(0, "running\n(unrecognized option)\n")));
    }

    #[test]
    fn the_poll_loop_stops_when_the_state_settles() {
        let dir = tempfile::tempdir().unwrap();
        let states = dir.path().join("states");
        std::fs::write(&states, "initializing\nstarting\nstarting\ndegraded\n").unwrap();
        // A fake systemctl that answers the recorded states in turn.
        let fake = dir.path().join("systemctl");
        std::fs::write(&fake, format!("#!/bin/sh\nhead -n 1 {0}; sed -i 1d {0}\n", states.display())).unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(POLL.replace("sleep 1", "true"))
            .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "degraded\n");
        assert_eq!(std::fs::read_to_string(&states).unwrap(), "");
    }
}
