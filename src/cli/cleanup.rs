//! `virtsmoke cleanup`: removes what crashed runs left on hosts and on disk:
//! domains, run directories here (cleanup/local.rs), and run directories on
//! hosts reached over SSH (cleanup_remote.rs).
//! Only objects carrying virtsmoke's ownership metadata are ever touched.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::cleanup_remote::{self, Swept};
use crate::backend::host::OwnedDomain;
use crate::backend::{BackendError, Host};
use crate::exit;
use crate::plan::HostSpec;

mod local;

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

/// Which leftovers the command may remove.
pub struct Filter<'a> {
    pub run: Option<&'a str>,
    /// Seconds a leftover must be older than.
    pub min_age: u64,
    /// Now, in seconds since the epoch.
    pub now: u64,
    pub dry_run: bool,
}

impl Filter<'_> {
    /// Whether a leftover of run `run`, made at `made` (seconds since the
    /// epoch), is one to remove (unless something else keeps it).
    pub fn selects(&self, run: &str, made: u64) -> bool {
        self.run.is_none_or(|r| r == run) && self.now.saturating_sub(made) >= self.min_age
    }
}

/// What became of one run directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Removed,
    WouldRemove,
    /// The run is still going on this machine.
    KeptAlive,
    /// Guests of the run are still on the host: a run going on elsewhere.
    KeptDomains,
    /// The removal failed.
    Failed,
}

impl Fate {
    /// The verb of its line, and why, where something was kept.
    fn words(self) -> (&'static str, &'static str) {
        match self {
            Fate::Removed => ("removed", ""),
            Fate::WouldRemove => ("would remove", ""),
            Fate::KeptAlive => ("kept", " (the run is still going)"),
            Fate::KeptDomains => ("kept", " (guests of the run are still on the host)"),
            Fate::Failed => ("could not remove", ""),
        }
    }
}

/// What the command removed (or would remove) and whether anything failed.
#[derive(Default)]
pub struct Tally {
    removed: usize,
    failed: bool,
}

impl Tally {
    /// Prints the line of the run directory at `place` and counts it.
    pub fn run_dir(&mut self, place: &str, fate: Fate) {
        match fate {
            Fate::Removed | Fate::WouldRemove => self.removed += 1,
            Fate::Failed => self.failed = true,
            Fate::KeptAlive | Fate::KeptDomains => {}
        }
        let (verb, why) = fate.words();
        println!("{verb} run directory {place}{why}");
    }

    /// A host (or what is on it) could not be cleaned.
    pub fn error(&mut self, host: &str, what: &str) {
        eprintln!("error: host {host}: {what}");
        self.failed = true;
    }

    /// Says if nothing was found; the exit code.
    fn finish(&self) -> u8 {
        if self.removed == 0 {
            println!("nothing to clean up");
        }
        if self.failed { exit::INFRASTRUCTURE } else { exit::PASSED }
    }
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
    };
    let mut tally = Tally::default();
    for spec in targets {
        match rt.block_on(clean_host(&spec, &filter)) {
            Ok((gone, swept)) => {
                report_domains(&mut tally, &spec.name, &gone, filter.dry_run);
                cleanup_remote::report(&mut tally, &spec.name, swept);
            }
            Err(e) => tally.error(&spec.name, &crate::error_chain(&e)),
        }
    }
    local::sweep(&mut tally, &filter);
    tally.finish()
}

/// Removes the leftover domains of a host, then its leftover run directories.
async fn clean_host(spec: &HostSpec, filter: &Filter<'_>) -> Result<(Vec<OwnedDomain>, Swept), BackendError> {
    let host = Host::connect(&spec.name, &spec.uri).await?;
    let gone = remove_domains(&host, filter).await?;
    // A run with guests left on the host keeps its directory there; on a dry
    // run, the guests that would go do not count.
    let busy: BTreeSet<String> = host
        .owned_domains()
        .await?
        .into_iter()
        .filter(|d| !gone.iter().any(|g| g.name == d.name))
        .map(|d| d.run_id)
        .collect();
    Ok((gone, cleanup_remote::sweep(spec, filter, &busy).await))
}

/// Removes (on a dry run: lists) the domains the filter selects; never those
/// of a run still going on this machine.
async fn remove_domains(host: &Host, filter: &Filter<'_>) -> Result<Vec<OwnedDomain>, BackendError> {
    let mut gone = Vec::new();
    for d in host.owned_domains().await? {
        if !filter.selects(&d.run_id, d.created) || crate::rundir::is_alive(&d.run_id) {
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
        tally.removed += 1;
        println!("{verb} domain {} (run {}) on {host}", d.name, d.run_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_selects_by_run_and_age() {
        let any = Filter { run: None, min_age: 3600, now: 10_000, dry_run: false };
        assert!(any.selects("r1", 10_000 - 3600));
        assert!(!any.selects("r1", 10_000 - 3599), "younger than --older-than");
        assert!(any.selects("r1", 0));
        assert!(!any.selects("r1", 20_000), "a clock ahead of ours is no age");
        let one = Filter { run: Some("r1"), min_age: 0, now: 10_000, dry_run: false };
        assert!(one.selects("r1", 10_000));
        assert!(!one.selects("r2", 0), "another run");
    }
}
