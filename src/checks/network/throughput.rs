//! The `throughput` sub-check: zeros sent for a while from the host side (here,
//! in the lab host's namespace, or from a jump host) or from one guest to the
//! next, counted by the receiving guest (`nc | wc -c`).

use std::net::SocketAddr;
use std::time::Duration;

use super::subject::{Cx, Figures, Ready, Subject, blocking};
use super::{host, jump_tcp, parse, script};
use crate::checks::env::StepFailure;
use crate::guest::ssh::{self, ExecOutput};

/// Guest port of host → guest throughput.
const HOST_TO_GUEST_PORT: u16 = 5201;
/// Guest port of guest → guest throughput (another one, in case a receiver of the
/// host's measurement is still giving up).
const GUEST_TO_GUEST_PORT: u16 = 5202;
/// How long a sender waits for its receiver to listen.
const RECEIVER_START: Duration = Duration::from_secs(10);
/// Tools a guest needs to take part in a throughput measurement.
const TRANSFER_TOOLS: [&str; 4] = ["nc", "timeout", "wc", "mkfifo"];

/// The figures of a transfer, and the `min_mbps` verdict.
fn judge_throughput(
    cx: &Cx<'_>,
    fig: &mut Figures,
    bytes: u64,
    elapsed: Duration,
    what: &str,
) -> Result<(), StepFailure> {
    let mbps = parse::mbps(bytes, elapsed);
    fig.add("bytes", bytes);
    fig.add("seconds", format!("{:.3}", elapsed.as_secs_f64()));
    fig.add("mbps", format!("{mbps:.1}"));
    if bytes == 0 {
        return Err(StepFailure::failed(format!("{what}: no data arrived")));
    }
    match cx.spec.throughput.min_mbps {
        Some(min) if mbps < f64::from(min) => {
            Err(StepFailure::failed(format!("{what}: {mbps:.1} Mbit/s, below the required {min} Mbit/s")))
        }
        _ => Ok(()),
    }
}

/// Runs `command` on `g` in the background (a receiver), to be awaited later.
fn spawn_exec(
    r: &Ready,
    command: String,
    timeout: Duration,
) -> tokio::task::JoinHandle<Result<ExecOutput, ssh::SshError>> {
    let target = r.ssh.clone();
    tokio::spawn(async move { ssh::exec(&target, &command, timeout).await })
}

async fn receiver_output(
    g: &Subject<'_>,
    handle: tokio::task::JoinHandle<Result<ExecOutput, ssh::SshError>>,
) -> Result<ExecOutput, StepFailure> {
    handle
        .await
        .map_err(|e| StepFailure::error(format!("the receiver task died: {e}")))?
        .map_err(|e| StepFailure::failed(format!("the receiver on `{}`: {}", g.name, crate::error_chain(&e))))
}

/// Where the host side's sender runs.
enum SendFrom {
    Jump(crate::backend::host_shell::HostShell),
    Here(host::HostSide),
}

impl SendFrom {
    fn of(cx: &Cx<'_>) -> Result<SendFrom, StepFailure> {
        match &cx.jump_shell {
            Some(shell) => Ok(SendFrom::Jump(shell.clone())),
            None => Ok(SendFrom::Here(cx.side()?.clone())),
        }
    }
}

pub(super) async fn from_host(cx: &Cx<'_>, g: &Subject<'_>, fig: &mut Figures) -> Result<(), StepFailure> {
    let r = g.with_tools(&TRANSFER_TOOLS)?;
    let from = SendFrom::of(cx)?;
    let duration = cx.spec.throughput.duration;
    let limit = duration + RECEIVER_START + Duration::from_secs(10);
    let receiver = spawn_exec(r, script::receiver(HOST_TO_GUEST_PORT, limit), limit + Duration::from_secs(10));
    let target = SocketAddr::new(r.addr, HOST_TO_GUEST_PORT);
    let sent = match from {
        SendFrom::Jump(shell) => {
            fig.add("from", "jump host");
            jump_tcp::send_for(&shell, target, duration, RECEIVER_START).await
        }
        SendFrom::Here(side) => blocking(move || host::send_for(&side, target, duration, RECEIVER_START))
            .await
            .map_err(|e| StepFailure::failed(format!("cannot send to `{}` at {target}: {e}", g.name))),
    };
    let sent = match sent {
        Ok(s) => s,
        Err(f) => {
            // The receiver gives up on its own after `limit`; do not wait for it.
            receiver.abort();
            return Err(f);
        }
    };
    let out = receiver_output(g, receiver).await?;
    let received = parse::byte_count(&out.stdout).ok_or_else(|| {
        StepFailure::failed(format!("the receiver on `{}` reported no byte count", g.name))
            .with_detail(format!("{}{}", out.stdout, out.stderr))
    })?;
    fig.add("sent_bytes", sent.bytes);
    judge_throughput(cx, fig, received, sent.elapsed, &format!("host -> `{}`", g.name))
}

pub(super) async fn between(
    cx: &Cx<'_>,
    a: &Subject<'_>,
    b: &Subject<'_>,
    fig: &mut Figures,
) -> Result<(), StepFailure> {
    a.with_tools(&TRANSFER_TOOLS)?;
    let rb = b.with_tools(&TRANSFER_TOOLS)?;
    let duration = cx.spec.throughput.duration;
    let limit = duration + RECEIVER_START + Duration::from_secs(10);
    let receiver = spawn_exec(rb, script::receiver(GUEST_TO_GUEST_PORT, limit), limit + Duration::from_secs(10));
    let sender = a
        .exec(&script::sender(rb.addr, GUEST_TO_GUEST_PORT, duration.as_secs().max(1)), limit + Duration::from_secs(10))
        .await;
    let sender = match sender {
        Ok(out) => out,
        Err(f) => {
            receiver.abort();
            return Err(f);
        }
    };
    let what = format!("`{}` -> `{}`", a.name, b.name);
    let Some(report) = parse::sender_report(&sender.stdout).filter(|r| r.exit == 143) else {
        receiver.abort();
        return Err(StepFailure::failed(format!(
            "{what}: the sender could not send to {}:{GUEST_TO_GUEST_PORT}",
            rb.addr
        ))
        .with_detail(sender.stdout));
    };
    let out = receiver_output(b, receiver).await?;
    let received = parse::byte_count(&out.stdout).ok_or_else(|| {
        StepFailure::failed(format!("{what}: the receiver reported no byte count"))
            .with_detail(format!("{}{}", out.stdout, out.stderr))
    })?;
    judge_throughput(cx, fig, received, report.elapsed, &what)
}
