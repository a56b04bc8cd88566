//! `virtsmoke merge`: the JSON results of several runs (shards) as one, plus the
//! merged JUnit and HTML.

use std::path::PathBuf;

use clap::Args;

use crate::exit;
use crate::report::merge::{self, Input};
use crate::report::{self, json};

#[derive(Args)]
pub struct MergeArgs {
    /// Write the merged JSON results here.
    #[arg(value_name = "OUT.json")]
    out: PathBuf,
    /// JSON results written by `virtsmoke run --json` (one per shard).
    #[arg(required = true, value_name = "IN.json")]
    inputs: Vec<PathBuf>,
    /// Also write the merged JUnit XML here.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Also write the merged HTML report here.
    #[arg(long, value_name = "PATH")]
    html: Option<PathBuf>,
    /// Run id of the merged results (default: the inputs' run ids joined with `+`).
    #[arg(long, value_name = "ID")]
    run_id: Option<String>,
}

/// 0 when written, 2 when an input is unreadable or two inputs disagree about a
/// case, 3 when an output cannot be written. The cases' outcomes do not matter.
pub fn run(args: MergeArgs) -> u8 {
    let mut inputs = Vec::new();
    for path in &args.inputs {
        match json::read(path) {
            Ok(doc) => inputs.push(Input { path: path.clone(), doc }),
            Err(e) => {
                eprintln!("error: {}", crate::error_chain(&e));
                return exit::BAD_INPUT;
            }
        }
    }
    let doc = match merge::merge(&inputs, args.run_id.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_INPUT;
        }
    };
    let outputs = report::Outputs { junit: args.junit.clone(), json: Some(args.out.clone()), html: args.html.clone() };
    let data = report::RunData { run_id: &doc.run_id, cases: &doc.cases };
    let code = if super::run::write_files(&outputs, &data) { exit::PASSED } else { exit::INFRASTRUCTURE };
    if code == exit::PASSED {
        eprintln!("merged {} case(s) from {} file(s) into {}", doc.cases.len(), inputs.len(), args.out.display());
    }
    code
}
