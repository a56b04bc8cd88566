//! `virtsmoke cleanup` on this machine: the scratch directories runs that
//! died left under `runs_dir()` (key, overlays, seeds).

use std::path::Path;

use super::tally::{Fate, Filter, Tally};

/// Removes (on a dry run: lists) the run directories here that the filter
/// selects, unless the run is still going.
pub fn sweep(tally: &mut Tally, filter: &Filter<'_>) {
    let Ok(entries) = std::fs::read_dir(crate::runner::runs_dir()) else { return };
    for e in entries.flatten() {
        let run = e.file_name().to_string_lossy().into_owned();
        let made =
            e.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        if !filter.selects(&run, made.map_or(filter.now, |d| d.as_secs())) {
            continue;
        }
        let path = e.path();
        let fate = if crate::runner::is_alive(&run) {
            Fate::KeptAlive
        } else if filter.dry_run {
            Fate::WouldRemove
        } else {
            remove(&path)
        };
        tally.run_dir(&path.display().to_string(), fate);
    }
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
