//! The command line: parsing, dispatch, and the mapping of results to exit codes.

mod cleanup;
mod cleanup_remote;
mod compare;
mod console;
pub(crate) mod glob;
mod history;
mod hosts;
mod lab;
mod merge;
mod reproduce;
mod run;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit;

#[derive(Parser)]
#[command(
    name = "virtsmoke",
    version,
    about = "Hypervisor smoke tests: boot guests through libvirt, check them, write JUnit."
)]
#[command(
    after_help = "Exit codes: 0 all passed (known failures aside), 1 a case failed, 2 bad input or usage, 3 infrastructure unusable, 130/143 interrupted by SIGINT/SIGTERM."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the cases of one or more scenarios.
    Run(run::RunArgs),
    /// Check scenario files and report every problem, without touching any host.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Show the cases the scenarios expand into.
    List {
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// Print JSON instead of one name per line.
        #[arg(long)]
        json: bool,
    },
    /// Manage the local lab: KVM hosts (libvirtd in network namespaces) and nested Xen hosts.
    #[command(subcommand)]
    Lab(lab::LabCommand),
    /// Build or locate the images whose recipes ship with virtsmoke.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Print the facts of the hosts in the scenarios (hypervisor, libvirt, versions).
    Facts(hosts::FactsArgs),
    /// Print the JSON Schema of scenario files (for editors: yaml-language-server).
    Schema,
    /// Remove domains and files that crashed or killed runs left behind, here and on hosts reached over SSH.
    Cleanup(cleanup::CleanupArgs),
    /// Combine the JSON results of several runs (shards) into one; optionally JUnit and HTML too.
    Merge(merge::MergeArgs),
    /// What changed between two runs, or between two hosts of one run (--hosts): newly failing or passing cases, timing regressions, host facts.
    Compare(compare::CompareArgs),
    /// Per case and check over past runs: pass rate, flips, last failure, boot-time trend; flaky cases.
    History(history::HistoryArgs),
    /// Print (or, with --run, run) the command that reruns one case of a results file on the same host and images.
    Reproduce(reproduce::ReproduceArgs),
    /// Attach to the serial console of a guest a run kept (`--keep`, `--keep-on-failure`): `virsh console`.
    Console(console::ConsoleArgs),
    /// Log in to a guest a run kept, or run `-- COMMAND...` in it, with the run's key and host key.
    Ssh(console::SshArgs),
    /// Print a shell completion script: `virtsmoke completions bash > /etc/bash_completion.d/virtsmoke`.
    Completions { shell: clap_complete::Shell },
    /// Print the man page virtsmoke(1), or write one page per command into DIR.
    Man {
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Build an image (default: test-image) unless its recipe's build is cached.
    Build(ImageArgs),
    /// Print the directory of a built image (building it first if needed).
    Path(ImageArgs),
}

#[derive(Args)]
struct ImageArgs {
    #[arg(default_value = "test-image")]
    name: String,
    /// Rebuild even if cached.
    #[arg(long)]
    force: bool,
    /// xen-dom0 only: the Debian suite of the dom0, as `lab up --dom0`
    /// (default bookworm; xen-dom0 is always built as the lab uses it).
    #[arg(long, value_name = "SUITE")]
    dom0: Option<String>,
    /// xen-dom0 only: a directory of .deb packages installed over the suite's,
    /// as `lab up --debs` (repeatable).
    #[arg(long, value_name = "DIR")]
    debs: Vec<PathBuf>,
}

pub fn main() -> u8 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { exit::BAD_INPUT } else { exit::PASSED };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate { scenarios } => match crate::scenario::load(&scenarios) {
            Ok(plan) => {
                println!("ok: {} case(s) on {} host(s)", plan.cases.len(), plan.hosts.len());
                exit::PASSED
            }
            Err(e) => {
                eprintln!("{e}");
                exit::BAD_INPUT
            }
        },
        Command::List { scenarios, json } => match crate::scenario::load(&scenarios) {
            Ok(plan) => {
                if json {
                    println!("{}", serde_json::to_string_pretty(&plan.cases).unwrap_or_default());
                } else {
                    for c in &plan.cases {
                        let guests: Vec<String> = c.guests.iter().map(|g| format!("{}({})", g.name, g.kind)).collect();
                        let host = if c.candidates.is_empty() {
                            c.host.clone()
                        } else {
                            format!("any of {}", c.candidates.join(","))
                        };
                        println!("{}\thost={host}\tguests={}", c.name, guests.join(","));
                    }
                }
                exit::PASSED
            }
            Err(e) => {
                eprintln!("{e}");
                exit::BAD_INPUT
            }
        },
        Command::Lab(cmd) => lab::run(cmd),
        Command::Image(ImageCommand::Build(a)) | Command::Image(ImageCommand::Path(a)) => image(&a),
        Command::Facts(args) => hosts::facts(args),
        Command::Cleanup(args) => cleanup::run(args),
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&crate::scenario::schema::scenario()).unwrap_or_default());
            exit::PASSED
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "virtsmoke", &mut std::io::stdout());
            exit::PASSED
        }
        Command::Man { out_dir } => man(out_dir),
        Command::Merge(args) => merge::run(args),
        Command::Compare(args) => compare::run(args),
        Command::History(args) => history::run(args),
        Command::Reproduce(args) => reproduce::run(args),
        Command::Console(args) => console::console(args),
        Command::Ssh(args) => console::ssh(args),
    }
}

fn man(out_dir: Option<PathBuf>) -> u8 {
    let cmd = <Cli as clap::CommandFactory>::command();
    let written = match &out_dir {
        Some(dir) => std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(cmd, dir)),
        None => clap_mangen::Man::new(cmd).render(&mut std::io::stdout()),
    };
    match written {
        Ok(()) => exit::PASSED,
        Err(e) => {
            eprintln!("error: cannot write the man pages: {e}");
            exit::INFRASTRUCTURE
        }
    }
}

/// `image build|path`: builds the image unless cached, prints its directory.
fn image(a: &ImageArgs) -> u8 {
    let variant = match image_variant(a) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_INPUT;
        }
    };
    match crate::image::ensure_variant(&a.name, &variant, a.force) {
        Ok(img) => {
            println!("{}", img.dir.display());
            exit::PASSED
        }
        Err(e @ crate::image::ImageError::Unknown { .. }) => {
            eprintln!("error: {e}");
            exit::BAD_INPUT
        }
        Err(e) => {
            eprintln!("error: {}", crate::error_chain(&e));
            exit::INFRASTRUCTURE
        }
    }
}

/// The variant `image build|path` builds: the lab's for xen-dom0 (its suite
/// and local packages), the plain recipe for any other image.
fn image_variant(a: &ImageArgs) -> Result<crate::image::Variant, String> {
    use crate::lab::xen::{build, debs};
    if a.name != "xen-dom0" {
        if a.dom0.is_some() || !a.debs.is_empty() {
            return Err(format!("--dom0 and --debs are for the xen-dom0 image, not `{}`", a.name));
        }
        return Ok(crate::image::Variant::default());
    }
    let suite = a.dom0.clone().unwrap_or_else(|| build::DEFAULT_SUITE.to_string());
    let suite = build::per_host(1, &[suite])?.remove(0);
    let local = if a.debs.is_empty() { Vec::new() } else { debs::collect(&a.debs)? };
    Ok(build::image_variant(&suite, &local))
}
