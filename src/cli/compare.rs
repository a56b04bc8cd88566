//! `virtsmoke compare`: what changed between two runs' JSON results.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::Args;

use crate::events::Outcome;
use crate::exit;
use crate::report::compare::{self, Thresholds};
use crate::report::{history, json};

#[derive(Args)]
pub struct CompareArgs {
    /// The earlier run's JSON results (`virtsmoke run --json`, or `virtsmoke merge`).
    #[arg(value_name = "OLD.json")]
    old: PathBuf,
    /// The later run's JSON results.
    #[arg(value_name = "NEW.json")]
    new: PathBuf,
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
    for path in [&args.old, &args.new] {
        match json::read(path) {
            Ok(d) => docs.push(d),
            Err(e) => {
                eprintln!("error: {}", crate::error_chain(&e));
                return exit::BAD_INPUT;
            }
        }
    }
    let thresholds = Thresholds { percent: args.boot_regression_pct, min_ms: args.regression_min_ms };
    let mut cmp = compare::compare(&docs[0], &docs[1], thresholds);
    if !args.history.is_empty() {
        match flaky_in(&args.history, &docs[1]) {
            Ok(flaky) => cmp.apply_history(&flaky),
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
