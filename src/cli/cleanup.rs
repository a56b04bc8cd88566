//! `virtsmoke cleanup`: removes what crashed runs left on hosts and on disk:
//! domains, run directories here (cleanup/local.rs), and run directories on
//! hosts reached over SSH (cleanup_remote.rs).
//! Only objects carrying virtsmoke's ownership metadata are ever touched.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use self::tally::{Filter, Tally};
use super::cleanup_remote::{self, Swept};
use crate::backend::host::OwnedDomain;
use crate::backend::{BackendError, Host};
use crate::exit;
use crate::plan::HostSpec;

mod local;
pub mod tally;

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
    /// Also leftovers of runs other machines started (by default only the
    /// run named with `--run` reaches those). Whether such a run is still
    /// going cannot be seen from here: pair it with `--older-than`.
    #[arg(long)]
    any_machine: bool,
}

pub fn run(args: CleanupArgs) -> u8 {
    let targets = match super::hosts::targets(&args.scenarios, &args.uri) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let Ok(rt) = tokio::runtime::Runtime::new() else { return exit::INFRASTRUCTURE };
    let filter = Filter {
        run: args.run.as_deref(),
        min_age: args.older_than.map_or(0, |d| d.as_secs()),
        now: crate::unix_now(),
        dry_run: args.dry_run,
        any_machine: args.any_machine,
        here: crate::rundir::this_machine(),
    };
    let mut tally = Tally::default();
    // The runs with guests left on some host; `None` once a host could not be asked.
    let mut busy = Some(BTreeSet::new());
    for spec in targets {
        match rt.block_on(clean_host(&spec, &filter)) {
            Ok(found) => {
                report_domains(&mut tally, &spec.name, &found.gone, filter.dry_run);
                cleanup_remote::report(&mut tally, &spec.name, found.swept);
                if let Some(b) = busy.as_mut() {
                    b.extend(found.busy);
                }
            }
            Err(e) => {
                tally.could_not_look(&format!("host {}", spec.name), &crate::error_chain(&e));
                busy = None;
            }
        }
    }
    local::sweep(&mut tally, &filter, busy.as_ref());
    tally.finish()
}

/// What the pass over one host found.
struct HostPass {
    /// Domains removed (on a dry run: to remove).
    gone: Vec<OwnedDomain>,
    swept: Swept,
    /// Runs with guests still on the host.
    busy: BTreeSet<String>,
}

/// Removes the leftover domains of a host, then its leftover run directories.
async fn clean_host(spec: &HostSpec, filter: &Filter<'_>) -> Result<HostPass, BackendError> {
    let host = Host::connect(&spec.name, &spec.uri).await?;
    let gone = remove_domains(&host, filter).await?;
    // A run with guests left on the host keeps its directories; on a dry
    // run, the guests that would go do not count.
    let busy: BTreeSet<String> = host
        .owned_domains()
        .await?
        .into_iter()
        .filter(|d| !gone.iter().any(|g| g.name == d.name))
        .map(|d| d.run_id)
        .collect();
    let swept = cleanup_remote::sweep(spec, filter, &busy).await;
    Ok(HostPass { gone, swept, busy })
}

/// Removes (on a dry run: lists) the domains the filter selects; never those
/// of a run still going on this machine, nor (unless named or asked for)
/// those of another machine's runs, which are said to stay.
async fn remove_domains(host: &Host, filter: &Filter<'_>) -> Result<Vec<OwnedDomain>, BackendError> {
    let mut gone = Vec::new();
    for d in host.owned_domains().await? {
        if !filter.selects(&d.run_id, d.created) || crate::rundir::is_alive(&d.run_id) {
            continue;
        }
        if !filter.may_touch(&d.run_id, d.machine.as_deref()) {
            println!(
                "kept domain {} (run {} of machine {}, perhaps still going there: `--run {}` or `--any-machine` to remove)",
                d.name,
                d.run_id,
                d.machine.as_deref().unwrap_or("?"),
                d.run_id
            );
            continue;
        }
        if !filter.dry_run {
            host.remove_domain(&d.name).await?;
        }
        gone.push(d);
    }
    Ok(gone)
}

fn report_domains(tally: &mut Tally, host: &str, gone: &[OwnedDomain], dry_run: bool) {
    let verb = if dry_run { "would remove" } else { "removed" };
    for d in gone {
        tally.count_removed();
        println!("{verb} domain {} (run {}) on {host}", d.name, d.run_id);
    }
}
