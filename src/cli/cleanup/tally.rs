//! What `virtsmoke cleanup` may remove, what became of each run directory,
//! and the tally of it all: shared by the passes (cleanup.rs, local.rs,
//! cleanup_remote.rs), which do not import one another for it.

use std::collections::BTreeSet;

use crate::exit;

/// Which leftovers the command may remove.
pub struct Filter<'a> {
    pub run: Option<&'a str>,
    /// Seconds a leftover must be older than.
    pub min_age: u64,
    /// Now, in seconds since the epoch.
    pub now: u64,
    pub dry_run: bool,
    /// Leftovers of other machines' runs too (`--any-machine`).
    pub any_machine: bool,
    /// The machine running this command ([`crate::rundir::this_machine`]).
    pub here: &'a str,
}

impl Filter<'_> {
    /// Whether a leftover of run `run`, made at `made` (seconds since the
    /// epoch), is one to remove (unless something else keeps it).
    pub fn selects(&self, run: &str, made: u64) -> bool {
        self.run.is_none_or(|r| r == run) && self.now.saturating_sub(made) >= self.min_age
    }

    /// Whether a leftover of run `run`, made by `machine` (unknown for what
    /// older versions made), may be touched from here: one of this machine,
    /// or the run named with `--run`, or any with `--any-machine`. Whether a
    /// run on another machine is still going cannot be seen from here.
    pub fn may_touch(&self, run: &str, machine: Option<&str>) -> bool {
        self.any_machine || self.run == Some(run) || machine.is_none_or(|m| m == self.here)
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
    /// A host could not be asked whether guests of the run remain there.
    KeptUnsure,
    /// A run another machine started (it may still be going there).
    KeptElsewhere,
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
            Fate::KeptUnsure => ("kept", " (not every host could be asked whether guests of the run remain)"),
            Fate::KeptElsewhere => {
                ("kept", " (a run of another machine, perhaps still going: `--run RUN` or `--any-machine` to remove)")
            }
            Fate::Failed => ("could not remove", ""),
        }
    }
}

/// Why the run directory of `run` stays, if it does: the run is still going
/// here, or has guests left on a host (`busy`: the runs with guests left;
/// `None` when some host could not be asked).
pub fn keep_reason(run: &str, busy: Option<&BTreeSet<String>>, alive: impl Fn(&str) -> bool) -> Option<Fate> {
    match busy {
        _ if alive(run) => Some(Fate::KeptAlive),
        None => Some(Fate::KeptUnsure),
        Some(b) if b.contains(run) => Some(Fate::KeptDomains),
        Some(_) => None,
    }
}

/// What the command removed (or would remove), whether anything failed, and
/// where it could not look.
#[derive(Default)]
pub struct Tally {
    removed: usize,
    failed: bool,
    unlooked: Vec<String>,
}

impl Tally {
    /// Prints the line of the run directory at `place` and counts it.
    pub fn run_dir(&mut self, place: &str, fate: Fate) {
        match fate {
            Fate::Removed | Fate::WouldRemove => self.removed += 1,
            Fate::Failed => self.failed = true,
            Fate::KeptAlive | Fate::KeptDomains | Fate::KeptUnsure | Fate::KeptElsewhere => {}
        }
        let (verb, why) = fate.words();
        println!("{verb} run directory {place}{why}");
    }

    /// Leftovers at `place` (a host, or this machine) could not be looked for.
    pub fn could_not_look(&mut self, place: &str, what: &str) {
        eprintln!("error: {place}: {what}");
        self.failed = true;
        self.unlooked.push(place.to_string());
    }

    /// One more leftover removed (or, on a dry run, to remove).
    pub fn count_removed(&mut self) {
        self.removed += 1;
    }

    /// The closing line, if one is due: "nothing" only when every place was looked at.
    pub fn summary(&self) -> Option<String> {
        if !self.unlooked.is_empty() {
            let found = if self.removed == 0 { "nothing" } else { "the above" };
            return Some(format!(
                "could not look for leftovers on: {}; found {found} where it could look",
                self.unlooked.join(", ")
            ));
        }
        (self.removed == 0).then(|| "nothing to clean up".to_string())
    }

    /// Prints the summary; the exit code.
    pub fn finish(&self) -> u8 {
        if let Some(line) = self.summary() {
            println!("{line}");
        }
        if self.failed { exit::INFRASTRUCTURE } else { exit::PASSED }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_selects_by_run_and_age() {
        let any = Filter { run: None, min_age: 3600, now: 10_000, dry_run: false, any_machine: false, here: "m1" };
        assert!(any.selects("r1", 10_000 - 3600));
        assert!(!any.selects("r1", 10_000 - 3599), "younger than --older-than");
        assert!(any.selects("r1", 0));
        assert!(!any.selects("r1", 20_000), "a clock ahead of ours is no age");
        let one = Filter { run: Some("r1"), min_age: 0, now: 10_000, dry_run: false, any_machine: false, here: "m1" };
        assert!(one.selects("r1", 10_000));
        assert!(!one.selects("r2", 0), "another run");
    }

    #[test]
    fn another_machines_runs_are_touched_only_when_named_or_asked_for() {
        let mut f = Filter { run: None, min_age: 0, now: 10, dry_run: false, any_machine: false, here: "m1" };
        assert!(f.may_touch("r1", Some("m1")));
        assert!(f.may_touch("r1", None), "made before machines were recorded");
        assert!(!f.may_touch("r1", Some("m2")));
        f.run = Some("r1");
        assert!(f.may_touch("r1", Some("m2")), "the run named with --run");
        f.run = None;
        f.any_machine = true;
        assert!(f.may_touch("r1", Some("m2")));
    }

    #[test]
    fn nothing_to_clean_up_only_when_every_place_was_looked_at() {
        let mut t = Tally::default();
        assert_eq!(t.summary().as_deref(), Some("nothing to clean up"));
        assert_eq!(t.finish(), exit::PASSED);
        t.could_not_look("host h1", "cannot connect to libvirt");
        let s = t.summary().unwrap();
        assert!(s.starts_with("could not look for leftovers on: host h1;"), "{s}");
        assert!(!s.contains("nothing to clean up"), "{s}");
        assert_eq!(t.finish(), exit::INFRASTRUCTURE);
        let mut t = Tally::default();
        t.count_removed();
        assert_eq!(t.summary(), None);
        assert_eq!(t.finish(), exit::PASSED);
    }

    #[test]
    fn a_live_run_or_one_with_guests_keeps_its_directory() {
        let busy = BTreeSet::from(["r2".to_string()]);
        let alive = |run: &str| run == "r1";
        assert_eq!(keep_reason("r1", Some(&busy), alive), Some(Fate::KeptAlive));
        assert_eq!(keep_reason("r2", Some(&busy), alive), Some(Fate::KeptDomains));
        assert_eq!(keep_reason("r3", Some(&busy), alive), None);
        assert_eq!(keep_reason("r3", None, alive), Some(Fate::KeptUnsure), "a host could not be asked");
        assert_eq!(keep_reason("r1", None, alive), Some(Fate::KeptAlive));
    }
}
