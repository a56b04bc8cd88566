//! `virtsmoke cleanup` on this machine: the scratch directories runs that
//! died left under `runs_dir()` (key, overlays, NVRAM, seeds).

use std::collections::BTreeSet;
use std::path::Path;

use super::tally::{Fate, Filter, Tally, keep_reason};

/// Removes (on a dry run: lists) the run directories here that the filter
/// selects, unless the run is still going or has guests left on a host
/// (`busy`; `None`: a host could not be asked, so every directory stays).
pub fn sweep(tally: &mut Tally, filter: &Filter<'_>, busy: Option<&BTreeSet<String>>) {
    let root = crate::rundir::runs_dir();
    match sweep_in(&root, filter, busy, crate::rundir::is_alive) {
        Ok(dirs) => dirs.into_iter().for_each(|(path, fate)| tally.run_dir(&path, fate)),
        Err(e) => tally.could_not_look("this machine", &format!("cannot read {}: {e}", root.display())),
    }
}

/// The pass over the run directories in `root`: each selected one and what
/// became of it. A `root` that does not exist holds nothing.
fn sweep_in(
    root: &Path,
    filter: &Filter<'_>,
    busy: Option<&BTreeSet<String>>,
    alive: impl Fn(&str) -> bool,
) -> std::io::Result<Vec<(String, Fate)>> {
    let entries = match std::fs::read_dir(root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        r => r?,
    };
    let mut dirs = Vec::new();
    for e in entries {
        let e = e?;
        let run = e.file_name().to_string_lossy().into_owned();
        let made =
            e.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        if !filter.selects(&run, made.map_or(filter.now, |d| d.as_secs())) {
            continue;
        }
        let path = e.path();
        let fate = match keep_reason(&run, busy, &alive) {
            Some(kept) => kept,
            None if filter.dry_run => Fate::WouldRemove,
            None => remove(&path),
        };
        dirs.push((path.display().to_string(), fate));
    }
    dirs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(dirs)
}

/// Removes the directory at `path`; one already gone counts as removed.
fn remove(path: &Path) -> Fate {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            eprintln!("error: cannot remove {}: {e}", path.display());
            Fate::Failed
        }
        _ => Fate::Removed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(dry_run: bool) -> Filter<'static> {
        Filter { run: None, min_age: 0, now: crate::unix_now() + 10, dry_run, any_machine: false, here: "m" }
    }

    fn fates(dirs: &[(String, Fate)]) -> Vec<(&str, Fate)> {
        dirs.iter().map(|(p, f)| (p.rsplit('/').next().unwrap(), *f)).collect()
    }

    #[test]
    fn a_run_with_guests_on_a_host_keeps_its_directory() {
        let root = tempfile::tempdir().unwrap();
        for run in ["r1", "r2", "r3"] {
            std::fs::create_dir(root.path().join(run)).unwrap();
            std::fs::write(root.path().join(run).join("o.overlay.qcow2"), "").unwrap();
        }
        let busy = BTreeSet::from(["r2".to_string()]);
        let alive = |run: &str| run == "r1";
        let dirs = sweep_in(root.path(), &filter(false), Some(&busy), alive).unwrap();
        assert_eq!(fates(&dirs), [("r1", Fate::KeptAlive), ("r2", Fate::KeptDomains), ("r3", Fate::Removed)]);
        assert!(root.path().join("r2/o.overlay.qcow2").exists(), "the overlay of a guest still on a host");
        assert!(!root.path().join("r3").exists());
    }

    #[test]
    fn when_a_host_could_not_be_asked_every_directory_stays() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("r3")).unwrap();
        let dirs = sweep_in(root.path(), &filter(false), None, |_| false).unwrap();
        assert_eq!(fates(&dirs), [("r3", Fate::KeptUnsure)]);
        assert!(root.path().join("r3").exists());
        let dirs = sweep_in(root.path(), &filter(true), Some(&BTreeSet::new()), |_| false).unwrap();
        assert_eq!(fates(&dirs), [("r3", Fate::WouldRemove)]);
    }

    #[test]
    fn an_unreadable_runs_dir_is_an_error_and_a_missing_one_is_empty() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("not-a-dir");
        std::fs::write(&file, "").unwrap();
        let e = sweep_in(&file, &filter(false), None, |_| false).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotADirectory);
        assert_eq!(sweep_in(&root.path().join("none"), &filter(false), None, |_| false).unwrap(), []);
    }
}
