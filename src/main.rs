//! The `virtsmoke` command: everything lives in the library; this is its entry point.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(virtsmoke::cli::main())
}
