//! Run directories: where a run keeps its scratch on this machine and on remote
//! hosts, how runs are named, and whether a run is still alive. Used by the
//! runner (which makes them) and by `cleanup` (which removes what is left).

use std::path::{Path, PathBuf};

/// A fresh run id: sortable by time, unique enough across concurrent runs.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    format!("{}-{:04x}", now.format("%Y%m%d%H%M%S"), run_suffix())
}

/// 16 bits that differ between runs started in the same second: std's
/// randomly keyed hasher over the process id and the time in nanoseconds.
fn run_suffix() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    (h.finish() & 0xffff) as u16
}

/// Where per-run scratch lives on this machine.
pub fn runs_dir() -> PathBuf {
    std::env::var_os("VIRTSMOKE_RUN_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/tmp/virtsmoke/runs"))
}

/// The run's directory on a remote host.
pub fn remote_run_dir(run_id: &str) -> String {
    format!("/var/tmp/virtsmoke/runs/{run_id}")
}

/// Locks `RUN_DIR/alive` for as long as the returned guard lives.
pub fn mark_alive(run_dir: &Path) -> std::io::Result<nix::fcntl::Flock<std::fs::File>> {
    let f = std::fs::File::create(run_dir.join("alive"))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|(_, e)| e.into())
}

/// Whether the run `run_id` is still going on this machine (its scratch lock is held).
pub fn is_alive(run_id: &str) -> bool {
    alive_in(&runs_dir().join(run_id))
}

fn alive_in(run_dir: &Path) -> bool {
    let Ok(f) = std::fs::File::open(run_dir.join("alive")) else { return false };
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockSharedNonblock).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_time_and_differ() {
        let (a, b) = (new_run_id(), new_run_id());
        assert_eq!(a.len(), "20261201053240-abcd".len(), "{a}");
        assert!(a[..14].chars().all(|c| c.is_ascii_digit()), "{a}");
        assert!(a[15..].chars().all(|c| c.is_ascii_hexdigit()), "{a}");
        // Two ids of one second share their first part; the suffixes may collide
        // (16 bits), but a hundred of them hardly all do.
        let ids: std::collections::BTreeSet<String> = (0..100).map(|_| new_run_id()).collect();
        assert!(ids.len() > 1, "{a} {b}");
    }

    #[test]
    fn a_run_is_alive_while_its_lock_is_held() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!alive_in(dir.path()));
        let guard = mark_alive(dir.path()).unwrap();
        // flock locks belong to the open file: another open of it sees the lock.
        assert!(alive_in(dir.path()));
        drop(guard);
        assert!(!alive_in(dir.path()));
    }
}
