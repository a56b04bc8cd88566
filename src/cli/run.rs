//! `virtsmoke run`.

use std::path::PathBuf;

use clap::Args;

use crate::events::{CaseReport, Outcome, RunEvent};
use crate::exit;
use crate::report::terminal::{ColorChoice, Terminal};
use crate::report::{self, shard::Shard};
use crate::runner::{self, Interruption, RunOptions};

#[derive(Args)]
pub struct RunArgs {
    /// Scenario files.
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    /// Write JUnit XML here.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Write JSON results here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report here.
    #[arg(long, value_name = "PATH")]
    html: Option<PathBuf>,
    /// Run only shard K of N (1-based): the cases whose name hashes to it; the N
    /// shards together run every case once, and a case's shard depends on its name only.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Consoles, domain XML and other evidence go under DIR/RUN-ID.
    #[arg(long, value_name = "DIR", default_value = "virtsmoke-artifacts")]
    artifacts: PathBuf,
    /// Cases run at once (each host's capacity also applies).
    #[arg(long, short = 'j', default_value_t = 4)]
    jobs: usize,
    /// Run only cases whose name matches this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    only: Vec<String>,
    /// Leave a failed case's guests running and print how to reach them.
    #[arg(long)]
    keep_on_failure: bool,
    /// Leave every case's guests running, passed or not, and print how to
    /// reach them (a crashed guest stays crashed for a memory dump).
    #[arg(long)]
    keep: bool,
    /// Print every step, not only the ones that did not pass.
    #[arg(long, short = 'v')]
    verbose: bool,
    /// `human`: lines on stderr (a progress bar on a terminal outside CI).
    /// `json`: additionally every run event as one JSON object per line on
    /// stdout, for machine readers (see docs/results.md).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Colour the outcome labels: `auto` on a terminal unless NO_COLOR is set.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// The run's id instead of a new one (1-64 letters, digits, `.`, `_`,
    /// `-`), e.g. from the CI job's, so that a later job can clean up exactly
    /// this run: `virtsmoke cleanup --run ID`. Refused if a run of that id
    /// left anything on this machine.
    #[arg(long, value_name = "ID", value_parser = parse_run_id)]
    run_id: Option<String>,
}

fn parse_run_id(id: &str) -> Result<String, String> {
    if crate::rundir::is_run_id(id) {
        Ok(id.to_string())
    } else {
        Err("1 to 64 letters, digits, `.`, `_` or `-`, not starting with `.` or `-` (e.g. `nightly-4711`)".into())
    }
}

/// The run's id: `--run-id` if given and unused here, else a new one.
fn choose_run_id(args: &RunArgs) -> Result<String, String> {
    let Some(id) = &args.run_id else { return Ok(crate::rundir::new_run_id()) };
    for dir in [crate::rundir::runs_dir().join(id), args.artifacts.join(id)] {
        if dir.exists() {
            return Err(format!(
                "error: --run-id {id}: a run of that id was here already ({} exists); give another id, \
                 or clean up after it first (`virtsmoke cleanup --run {id}`)",
                dir.display()
            ));
        }
    }
    Ok(id.clone())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

pub fn run(args: RunArgs) -> u8 {
    let mut plan = match crate::scenario::load(&args.scenarios) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return exit::BAD_INPUT;
        }
    };
    if !args.only.is_empty() {
        plan.cases.retain(|c| args.only.iter().any(|g| super::glob::matches(g, &c.name)));
        if plan.cases.is_empty() {
            eprintln!("error: no case matches --only {}", args.only.join(", "));
            return exit::BAD_INPUT;
        }
    }
    let run_id = match choose_run_id(&args) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("{e}");
            return exit::BAD_INPUT;
        }
    };
    if let Some(shard) = args.shard {
        let before = plan.cases.len();
        plan.cases.retain(|c| shard.contains(&c.name));
        if plan.cases.is_empty() {
            // Not an error: a small run cannot fill every shard. The reports are
            // still written, so a merge job finds every shard's files.
            eprintln!("shard {shard}: none of the {before} case(s) falls in this shard");
            return write_reports(&args, &run_id, &[], exit::PASSED);
        }
        eprintln!("shard {shard}: {} of {before} case(s)", plan.cases.len());
    }
    let artifacts = args.artifacts.join(&run_id);
    let opts = RunOptions {
        artifacts: artifacts.clone(),
        jobs: args.jobs,
        keep: runner::Keep::from_flags(args.keep, args.keep_on_failure),
        run_id: run_id.clone(),
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::INFRASTRUCTURE;
        }
    };
    let mut term = Terminal::new(args.verbose, args.color.enabled());
    let json_events = args.format == Format::Json;
    let mut on_event = |ev: &RunEvent| {
        term.handle(ev);
        if json_events {
            // One object per line; a closed pipe is the reader's choice, not our failure.
            let line = serde_json::to_string(ev).unwrap_or_default();
            println!("{line}");
        }
    };
    let result = rt.block_on(runner::run(plan, opts, &mut on_event));
    // A libvirt call that never returned (a hung migration, given up on) must
    // not keep the process from reporting and exiting: the runner has torn down.
    rt.shutdown_timeout(std::time::Duration::from_secs(10));
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", crate::error_chain(&e));
            return exit::INFRASTRUCTURE;
        }
    };
    let code = write_reports(&args, &run_id, &result.cases, verdict(&result.cases, result.interrupted));
    eprint!("{}", term.summary(&result.cases));
    if !result.unusable_hosts.is_empty() {
        eprintln!("unusable hosts: {}", result.unusable_hosts.join(", "));
    }
    eprintln!("artifacts: {}", artifacts.display());
    if let Some(p) = &args.junit {
        eprintln!("junit: {}", p.display());
    }
    if let Some(p) = &args.html {
        eprintln!("html: {}", p.display());
    }
    code
}

/// Writes the requested JUnit, JSON and HTML files; a file that cannot be written
/// raises `code` to 3.
fn write_reports(args: &RunArgs, run_id: &str, cases: &[CaseReport], code: u8) -> u8 {
    let outputs = report::Outputs { junit: args.junit.clone(), json: args.json.clone(), html: args.html.clone() };
    if write_files(&outputs, &report::RunData { run_id, cases }) { code } else { code.max(exit::INFRASTRUCTURE) }
}

/// Writes the requested report files (`report::write_all`, for `run` and
/// `merge`) and prints every file that could not be written; false if any could not.
pub(super) fn write_files(outputs: &report::Outputs, data: &report::RunData) -> bool {
    match report::write_all(outputs, data) {
        Ok(_) => true,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {}", crate::error_chain(e));
            }
            false
        }
    }
}

/// 130/143 if a signal interrupted the run (so CI shows it aborted, not
/// failed); 1 if anything failed; 3 if nothing failed but infrastructure
/// errors stopped cases; else 0 (known failures, `known_issues:` in the
/// scenario, are not failures).
fn verdict(cases: &[CaseReport], interrupted: Option<Interruption>) -> u8 {
    if let Some(signal) = interrupted {
        signal.exit_code()
    } else if cases.iter().any(|c| c.outcome == Outcome::Failed) {
        exit::CASE_FAILED
    } else if cases.iter().any(|c| c.outcome == Outcome::Error) {
        exit::INFRASTRUCTURE
    } else {
        exit::PASSED
    }
}

#[cfg(test)]
mod verdict_tests {
    use super::*;

    fn case(outcome: Outcome) -> CaseReport {
        CaseReport {
            name: "s/c@h".into(),
            scenario: "s".into(),
            host: "h".into(),
            started: std::time::SystemTime::UNIX_EPOCH,
            duration: std::time::Duration::ZERO,
            outcome,
            steps: vec![],
            properties: vec![],
            consoles: vec![],
            artifacts: vec![],
            kept: vec![],
            cause: None,
        }
    }

    #[test]
    fn known_failures_alone_exit_0() {
        assert_eq!(verdict(&[case(Outcome::Passed), case(Outcome::KnownFailure)], None), exit::PASSED);
        assert_eq!(verdict(&[case(Outcome::KnownFailure), case(Outcome::Failed)], None), exit::CASE_FAILED);
    }

    #[test]
    fn an_interrupted_run_exits_with_128_plus_the_signal() {
        let cases = [case(Outcome::Failed), case(Outcome::Error)];
        assert_eq!(verdict(&cases, Some(Interruption::Sigint)), 130);
        assert_eq!(verdict(&cases, Some(Interruption::Sigterm)), 143);
        assert_eq!(verdict(&[], Some(Interruption::Sigterm)), 143);
    }
}
