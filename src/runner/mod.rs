//! The run: prepares images and hosts, schedules cases within host capacity,
//! listens for signals, and hands every event to the reporters. The only place
//! that spawns tasks.
//!
//! Files by phase: `prepare` (images, hosts), `dispatch` (scheduling, signals,
//! the tasks), `case` (one case), `provision` and `boot_chain` (its guests up),
//! checks through `crate::checks::run`, `teardown` (evidence, destroy, proof),
//! `leak` (what the run left anywhere), `recorder` (a case's steps).

mod accel;
mod admission;
mod boot_chain;
mod case;
mod context;
mod dispatch;
mod evidence;
mod host_slots;
mod known_hosts;
mod leak;
mod names;
mod options;
mod prepare;
mod provision;
mod recorder;
mod staged;
mod staging;
mod teardown;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::events::{Outcome, RunEvent};
use crate::guest::keys::RunKey;
use crate::plan::Plan;
use crate::rundir::{make_run_dir, mark_alive};
use context::RunContext;
pub use options::{Interruption, Keep, RunError, RunOptions, RunResult};

pub async fn run(plan: Plan, opts: RunOptions, mut emit: impl FnMut(&RunEvent)) -> Result<RunResult, RunError> {
    let t0 = Instant::now();
    let run_dir = make_run_dir(&opts.run_id)?;
    // Held while the run lives, so `cleanup` leaves a running run alone.
    let _alive = mark_alive(&run_dir)?;
    std::fs::create_dir_all(&opts.artifacts).map_err(|e| RunError::RunDir(opts.artifacts.clone(), e))?;
    emit(&RunEvent::RunStarted {
        run_id: opts.run_id.clone(),
        cases: plan.cases.len(),
        artifacts: opts.artifacts.clone(),
    });

    let result = prepare_and_run(plan, &opts, &run_dir, &mut emit).await;
    // The run's scratch (key, overlays) goes, unless guests were kept for a human.
    let kept_any = result.as_ref().map(|r| r.cases.iter().any(|c| !c.kept.is_empty())).unwrap_or(false);
    if !kept_any {
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    if let Ok(r) = &result {
        let count = |o| r.cases.iter().filter(|c| c.outcome == o).count();
        emit(&RunEvent::RunFinished {
            passed: count(Outcome::Passed),
            failed: count(Outcome::Failed),
            errors: count(Outcome::Error),
            skipped: count(Outcome::Skipped),
            duration: t0.elapsed(),
        });
    }
    result
}

async fn prepare_and_run(
    plan: Plan,
    opts: &RunOptions,
    run_dir: &Path,
    emit: &mut impl FnMut(&RunEvent),
) -> Result<RunResult, RunError> {
    let key = RunKey::generate(run_dir, &format!("virtsmoke-run-{}", opts.run_id))?;
    let images = prepare::images(&plan, emit).await?;
    let staged = Arc::new(staged::Staged::default());
    let prep = prepare::HostPrep {
        run_id: &opts.run_id,
        run_dir,
        probe_kernel: images.get("test-image").map(|i| i.kernel.as_path()),
        staged: &staged,
    };
    let (hosts, unusable_hosts) = prepare::hosts(&plan, &prep, emit).await?;

    let ctx = Arc::new(RunContext {
        run_id: opts.run_id.clone(),
        run_dir: run_dir.to_path_buf(),
        artifacts: opts.artifacts.clone(),
        key,
        images,
        hosts,
        keep: opts.keep,
        cancel: CancellationToken::new(),
        hurry: CancellationToken::new(),
        staged,
        lost: Default::default(),
    });
    let (mut cases, interrupted) = dispatch::schedule(&ctx, &plan, opts.jobs.max(1), emit).await;
    let unremoved = staging::remove_all(&ctx).await;
    if let Some(leaks) = leak::leak_check(&ctx, &cases, unremoved).await {
        emit(&RunEvent::CaseFinished { report: leaks.clone() });
        cases.push(leaks);
    }
    Ok(RunResult { cases, interrupted, unusable_hosts })
}
