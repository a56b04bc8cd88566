//! `virtsmoke cleanup`: removes what crashed runs left on hosts and on disk:
//! domains, run directories here, and run directories on hosts reached over
//! SSH (cleanup_remote.rs).
//! Only objects carrying virtsmoke's ownership metadata are ever touched.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use std::collections::BTreeSet;

use super::cleanup_remote::{Fate, Filter, sweep};
use crate::backend::Host;
use crate::exit;
use crate::runner::host_facts;

#[derive(Args)]
pub struct CleanupArgs {
    /// Scenario or inventory files whose hosts to clean.
    scenarios: Vec<PathBuf>,
    /// A libvirt URI to clean (repeatable).
    #[arg(long)]
    uri: Vec<String>,
    /// Only leftovers of this run.
    #[arg(long)]
    run: Option<String>,
    /// Only leftovers created longer ago than this (e.g. `2h`).
    #[arg(long, value_parser = humantime::parse_duration)]
    older_than: Option<Duration>,
    /// List what would be removed, remove nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: CleanupArgs) -> u8 {
    let targets = match super::hosts::targets(&args.scenarios, &args.uri) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let Ok(rt) = tokio::runtime::Runtime::new() else { return exit::INFRASTRUCTURE };
    let now = crate::unix_now();
    let min_age = args.older_than.map(|d| d.as_secs()).unwrap_or(0);
    let mut code = exit::PASSED;
    let mut removed = 0;
    let filter = Filter { run: args.run.as_deref(), min_age, now, dry_run: args.dry_run };
    for spec in targets {
        let (name, uri) = (spec.name.clone(), spec.uri.clone());
        let r = rt.block_on(async {
            let host = Host::connect(&name, &uri).await?;
            let mut gone = Vec::new();
            for d in host.owned_domains().await? {
                if args.run.as_ref().is_some_and(|r| *r != d.run_id) || now.saturating_sub(d.created) < min_age {
                    continue;
                }
                // A run still going on this machine owns its guests.
                if crate::runner::is_alive(&d.run_id) {
                    continue;
                }
                if !args.dry_run {
                    host.remove_domain(&d.name).await?;
                }
                gone.push(d);
            }
            // What stays (and, on a dry run, what would go) keeps its run's directory.
            let busy: BTreeSet<String> = host.owned_domains().await?.into_iter().map(|d| d.run_id).collect();
            let dirs = sweep(&host_facts::shell_for(&spec), &filter, &busy).await;
            Ok::<_, crate::backend::BackendError>((gone, dirs))
        });
        match r {
            Ok((gone, dirs)) => {
                for d in gone {
                    removed += 1;
                    let verb = if args.dry_run { "would remove" } else { "removed" };
                    println!("{verb} domain {} (run {}) on {name}", d.name, d.run_id);
                }
                let Some(dirs) = dirs else {
                    eprintln!("error: host {name}: cannot list its run directories over SSH");
                    code = exit::INFRASTRUCTURE;
                    continue;
                };
                for (path, fate) in dirs {
                    match fate {
                        Fate::Removed | Fate::WouldRemove => removed += 1,
                        Fate::Failed => code = exit::INFRASTRUCTURE,
                        Fate::KeptAlive | Fate::KeptDomains => {}
                    }
                    let (verb, why) = fate_words(&fate);
                    println!("{verb} run directory {name}:{path}{why}");
                }
            }
            Err(e) => {
                eprintln!("error: host {name}: {}", crate::error_chain(&e));
                code = exit::INFRASTRUCTURE;
            }
        }
    }
    // Scratch directories of runs (keys, overlays) on this machine.
    if let Ok(entries) = std::fs::read_dir(crate::runner::runs_dir()) {
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().to_string();
            if args.run.as_ref().is_some_and(|r| *r != id) {
                continue;
            }
            if crate::runner::is_alive(&id) {
                println!("kept run directory {} (the run is still going)", e.path().display());
                continue;
            }
            let age = e.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).map(|d| d.as_secs()).unwrap_or(0);
            if age < min_age {
                continue;
            }
            if !args.dry_run {
                let _ = std::fs::remove_dir_all(e.path());
            }
            removed += 1;
            println!("{} run directory {}", if args.dry_run { "would remove" } else { "removed" }, e.path().display());
        }
    }
    if removed == 0 {
        println!("nothing to clean up");
    }
    code
}

fn fate_words(fate: &Fate) -> (&'static str, &'static str) {
    match fate {
        Fate::Removed => ("removed", ""),
        Fate::WouldRemove => ("would remove", ""),
        Fate::KeptAlive => ("kept", " (the run is still going)"),
        Fate::KeptDomains => ("kept", " (guests of the run are still on the host)"),
        Fate::Failed => ("could not remove", ""),
    }
}
