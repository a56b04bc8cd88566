//! `virtsmoke history`: flakiness, pass rates and boot-time trends from the JSON
//! results of past runs.

use std::path::PathBuf;

use clap::Args;

use crate::exit;
use crate::report::history;

#[derive(Args)]
pub struct HistoryArgs {
    /// JSON results of past runs, or directories searched for `*.json` (a CI's artifact directory).
    #[arg(required = true, value_name = "RESULTS_DIR_OR_FILE")]
    paths: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Print `known_issues:` entries (scenario format) for the flaky cases, to review and paste.
    #[arg(long, conflicts_with = "json")]
    suggest_known_issues: bool,
}

/// 0 when the history could be read (whatever it says), 2 when it cannot.
pub fn run(args: HistoryArgs) -> u8 {
    let (runs, skipped) = match history::load(&args.paths) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", crate::error_chain(&e));
            return exit::BAD_INPUT;
        }
    };
    for p in &skipped {
        eprintln!("note: skipped {}: JSON, but not virtsmoke results", p.display());
    }
    let h = history::analyse(&runs);
    if args.json {
        match serde_json::to_string_pretty(&h) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: cannot serialize the history: {e}");
                return exit::INFRASTRUCTURE;
            }
        }
    } else if args.suggest_known_issues {
        print!("{}", h.suggest_known_issues(chrono::Utc::now().date_naive()));
    } else {
        print!("{}", h.render_text());
    }
    exit::PASSED
}
