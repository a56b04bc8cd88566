//! `virtsmoke cleanup` on hosts reached over SSH: the run directories
//! (`/var/tmp/virtsmoke/runs/RUNID`, see runner/staging.rs) that runs which
//! died could not remove: copied images, overlays, seeds.

use std::collections::BTreeSet;

use crate::backend::host_shell::HostShell;
use crate::runner::staging::remote_run_dir;

/// What the pass may remove.
pub struct Filter<'a> {
    pub run: Option<&'a str>,
    /// Seconds a directory must be older than.
    pub min_age: u64,
    pub now: u64,
    pub dry_run: bool,
}

/// What became of one run directory on a host.
#[derive(Debug, PartialEq, Eq)]
pub enum Fate {
    Removed,
    WouldRemove,
    /// The run is still going on this machine.
    KeptAlive,
    /// Guests of the run are still on the host: a run going on elsewhere.
    KeptDomains,
    /// `rm` failed.
    Failed,
}

/// Goes over the run directories on the host behind `shell` (none when it is
/// not reached over SSH). `busy_runs` are runs with domains left on the host.
/// `None` when the host cannot be asked.
pub async fn sweep(shell: &HostShell, filter: &Filter<'_>, busy_runs: &BTreeSet<String>) -> Option<Vec<(String, Fate)>> {
    if !matches!(shell, HostShell::Ssh(_)) {
        return Some(Vec::new());
    }
    let root = remote_run_dir("");
    let listing = shell
        .run(&format!("if [ -d {root} ]; then find {root} -mindepth 1 -maxdepth 1 -type d -printf '%f %T@\\n'; fi"))
        .await?;
    let mut out = Vec::new();
    for (run, mtime) in parse_listing(&listing) {
        if filter.run.is_some_and(|r| r != run) || filter.now.saturating_sub(mtime) < filter.min_age {
            continue;
        }
        let fate = if crate::runner::is_alive(&run) {
            Fate::KeptAlive
        } else if busy_runs.contains(&run) {
            Fate::KeptDomains
        } else if filter.dry_run {
            Fate::WouldRemove
        } else if shell.run(&format!("rm -rf '{}'", remote_run_dir(&run))).await.is_some() {
            Fate::Removed
        } else {
            Fate::Failed
        };
        out.push((remote_run_dir(&run), fate));
    }
    Some(out)
}

/// `find -printf '%f %T@'` lines: (run id, modification time in seconds).
/// Names that are not run ids are left alone, so none reaches a shell.
fn parse_listing(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|line| {
            let (name, mtime) = line.split_once(' ')?;
            let valid = !name.is_empty()
                && !name.starts_with('.')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            let secs = mtime.split('.').next()?.parse().ok()?;
            valid.then(|| (name.to_string(), secs))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_keeps_run_ids_only() {
        let text = "20261122093051-b66d 1763800000.1234567890\n.hidden 1\nx;rm -rf / 5\n bad 7\nnoage\nr1 12\n";
        assert_eq!(parse_listing(text), [("20261122093051-b66d".to_string(), 1763800000), ("r1".to_string(), 12)]);
    }
}
