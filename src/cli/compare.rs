//! `virtsmoke compare`: what changed between two runs' JSON results, or
//! (`--hosts BASE,OTHER`) between two hosts' cases of one run.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::Args;

use crate::events::Outcome;
use crate::exit;
use crate::report::compare::{self, AcrossHosts, Thresholds};
use crate::report::compare_hosts::{self, without_host};
use crate::report::{history, json};

#[derive(Args)]
pub struct CompareArgs {
    /// The earlier run's JSON results (`virtsmoke run --json`, or `virtsmoke merge`);
    /// with --hosts, the one run whose hosts are compared.
    #[arg(value_name = "OLD.json")]
    old: PathBuf,
    /// The later run's JSON results (not with --hosts).
    #[arg(value_name = "NEW.json", required_unless_present = "hosts", conflicts_with = "hosts")]
    new: Option<PathBuf>,
    /// Compare one run's cases on host OTHER with its cases on host BASE (e.g. two Xen
    /// builds side by side: --hosts xen1,xen2), as if BASE were the earlier run and OTHER
    /// the later: cases are paired on their name without `@HOST`.
    #[arg(long, value_name = "BASE,OTHER", value_parser = host_pair)]
    hosts: Option<AcrossHosts>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// boot_ms or downtime_ms regressed if it grew by more than this percentage (and by more than --regression-min-ms).
    #[arg(long, value_name = "PCT", default_value_t = 20.0, value_parser = percent)]
    boot_regression_pct: f64,
    /// The least growth in milliseconds that counts as a regression.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    regression_min_ms: u64,
    /// Past runs' JSON results (files or directories, as for `virtsmoke history`): a case
    /// newly failing at a step that flips there (flaky) is reported as flaky, not as a
    /// regression (repeatable).
    #[arg(long, value_name = "DIR")]
    history: Vec<PathBuf>,
}

/// The cases of `new` that fail at a step that flips in the history's flaky
/// cases, with their flips and runs. The new run itself, if the history holds
/// it, is left out (it is what is judged); a case failing somewhere it never
/// flipped before is not excused.
fn flaky_in(paths: &[PathBuf], new: &json::Document) -> Result<HashMap<String, (usize, usize)>, history::LoadError> {
    let (mut runs, _) = history::load(paths)?;
    runs.retain(|r| r.run_id != new.run_id);
    let h = history::analyse(&runs);
    let failed_at = |case: &str| {
        let c = new.cases.iter().find(|c| c.name == case)?;
        c.steps.iter().find(|s| matches!(s.outcome, Outcome::Failed | Outcome::Error)).map(|s| s.name.clone())
    };
    Ok(h.cases
        .into_iter()
        .filter(|c| c.flaky)
        .filter(|c| {
            failed_at(&c.case).is_some_and(|step| c.checks.iter().any(|k| k.check == step && k.tally.flips > 0))
        })
        .map(|c| (c.case, (c.tally.flips, c.tally.runs)))
        .collect())
}

fn host_pair(s: &str) -> Result<AcrossHosts, String> {
    match s.split_once(',') {
        Some((base, against)) if !base.is_empty() && !against.is_empty() && !against.contains(',') => {
            Ok(AcrossHosts { base: base.into(), against: against.into() })
        }
        _ => Err("expected two host names, BASE,OTHER (e.g. xen1,xen2)".into()),
    }
}

fn percent(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if p.is_finite() && p >= 0.0 => Ok(p),
        _ => Err("expected a percentage, a number of 0 or more (e.g. 20 or 12.5)".into()),
    }
}

/// 0 when no case newly fails and nothing regressed, 1 otherwise, 2 when an
/// input cannot be read.
pub fn run(args: CompareArgs) -> u8 {
    let mut docs = Vec::new();
    for path in std::iter::once(&args.old).chain(&args.new) {
        match json::read(path) {
            Ok(d) => docs.push(d),
            Err(e) => {
                eprintln!("error: {}", crate::error_chain(&e));
                return exit::BAD_INPUT;
            }
        }
    }
    let thresholds = Thresholds { percent: args.boot_regression_pct, min_ms: args.regression_min_ms };
    let new = docs.last().expect("OLD.json was read");
    let mut cmp = match &args.hosts {
        None => compare::compare(&docs[0], new, thresholds),
        Some(hosts) => match compare_hosts::compare(new, hosts, thresholds) {
            Ok(cmp) => cmp,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::BAD_INPUT;
            }
        },
    };
    if !args.history.is_empty() {
        match flaky_in(&args.history, new) {
            Ok(flaky) => {
                // Across hosts, the cases compared are named without their host.
                let against = args.hosts.as_ref().map_or("", |h| h.against.as_str());
                cmp.apply_history(
                    &flaky.into_iter().map(|(k, v)| (without_host(&k, against).to_string(), v)).collect(),
                );
            }
            Err(e) => {
                eprintln!("error: {}", crate::error_chain(&e));
                return exit::BAD_INPUT;
            }
        }
    }
    if args.json {
        match serde_json::to_string_pretty(&cmp) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: cannot serialize the comparison: {e}");
                return exit::INFRASTRUCTURE;
            }
        }
    } else {
        print!("{}", cmp.render_text());
    }
    if cmp.regressed { exit::CASE_FAILED } else { exit::PASSED }
}
