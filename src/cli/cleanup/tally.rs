//! What `virtsmoke cleanup` may remove, what became of each run directory,
//! and the tally of it all: shared by the passes (cleanup.rs, local.rs,
//! cleanup_remote.rs), which do not import one another for it.

use crate::exit;

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

    /// One more leftover removed (or, on a dry run, to remove).
    pub fn count_removed(&mut self) {
        self.removed += 1;
    }

    /// Says if nothing was found; the exit code.
    pub fn finish(&self) -> u8 {
        if self.removed == 0 {
            println!("nothing to clean up");
        }
        if self.failed { exit::INFRASTRUCTURE } else { exit::PASSED }
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
