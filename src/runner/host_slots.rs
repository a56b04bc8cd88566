//! Guest slots per host, shared by every virtsmoke process on this machine: two
//! CI jobs on one runner must not overcommit a host between them.
//!
//! A host with capacity N has N lock files; a running guest holds one with
//! `flock`. The kernel drops the lock when the process dies, so a killed run
//! never leaves a slot taken.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

use crate::fsutil::{self, FsError};

/// Where slot files live: `$VIRTSMOKE_LOCK_DIR` or `/var/lock/virtsmoke`.
pub fn lock_dir() -> PathBuf {
    std::env::var_os("VIRTSMOKE_LOCK_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/lock/virtsmoke"))
}

/// Held slots; dropping them frees the slots.
pub struct Slots(#[allow(dead_code)] Vec<Flock<File>>);

/// Takes `count` slots of the first of `hosts` (`(uri, capacity)`) that has
/// them free, trying from `start` round the list so that cases spread over
/// the hosts; waits while none has. Returns the index of the host taken.
pub async fn acquire_any(hosts: &[(String, u32)], start: usize, count: u32) -> Result<(usize, Slots), FsError> {
    loop {
        for i in (0..hosts.len()).map(|k| (start + k) % hosts.len()) {
            let (uri, capacity) = &hosts[i];
            if let Some(slots) = try_acquire(uri, *capacity, count)? {
                return Ok((i, slots));
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

const RETRY: Duration = Duration::from_millis(250);

/// Lock files: only virtsmoke processes of the same user take slots.
const LOCK_MODE: u32 = 0o600;

/// Replaces the text of the shared file `path` (a note of which host the
/// directory is for), not following a link planted there.
fn write_shared(path: &Path, text: &str) -> Result<(), FsError> {
    use std::io::Write;
    let err = |source| FsError::Create { path: path.to_path_buf(), source };
    let mut f = fsutil::open_shared(path, LOCK_MODE)?;
    f.set_len(0).map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)
}

/// `count` of the host's slots if that many are free now.
fn try_acquire(uri: &str, capacity: u32, count: u32) -> Result<Option<Slots>, FsError> {
    try_acquire_in(&lock_dir(), uri, capacity, count)
}

/// The name of the directory of `uri`'s slots.
fn hex_key(uri: &str) -> String {
    Sha256::digest(uri.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn try_acquire_in(root: &Path, uri: &str, capacity: u32, count: u32) -> Result<Option<Slots>, FsError> {
    let dir = root.join(hex_key(uri));
    // Debian's /var/lock is a link to /run/lock, which secure_dir accepts on the way.
    fsutil::secure_dir(&dir)?;
    write_shared(&dir.join("uri"), uri)?;
    let capacity = capacity.max(1);
    let count = count.min(capacity).max(1);
    let mut held = Vec::new();
    for slot in 0..capacity {
        if held.len() as u32 == count {
            break;
        }
        let f = fsutil::open_shared(&dir.join(format!("slot-{slot}.lock")), LOCK_MODE)?;
        if let Ok(lock) = Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            held.push(lock);
        }
    }
    // Not enough free: what was taken goes back (dropped), so two waiters cannot deadlock.
    Ok((held.len() as u32 == count).then_some(Slots(held)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_directory_others_may_write_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let key = hex_key("test:///open");
        let open = crate::fsutil::world_writable_dir(tmp.path(), &key);
        let err = try_acquire_in(tmp.path(), "test:///open", 1, 1).err().expect("refused");
        assert!(matches!(err, FsError::Writable { ref path, .. } if *path == open), "{err}");
        // A planted link as a slot file is not followed either.
        let fine = tmp.path().join("fine");
        std::fs::create_dir(&fine).unwrap();
        let dir = fine.join(hex_key("test:///link"));
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("target"), dir.join("slot-0.lock")).unwrap();
        assert!(matches!(try_acquire_in(&fine, "test:///link", 1, 1), Err(FsError::Open { .. })));
        assert!(!tmp.path().join("target").exists());
        assert!(try_acquire_in(&fine, "test:///ok", 2, 1).unwrap().is_some());
    }

    #[tokio::test]
    async fn slots_are_exclusive_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: tests in this module are the only users of this variable.
        unsafe { std::env::set_var("VIRTSMOKE_LOCK_DIR", dir.path()) };
        let one = vec![("test:///slots".to_string(), 2)];
        let a = acquire_any(&one, 0, 2).await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(600), acquire_any(&one, 0, 1)).await;
        assert!(waiting.is_err(), "both slots are held");
        drop(a);
        let b = tokio::time::timeout(Duration::from_secs(5), acquire_any(&one, 0, 1)).await;
        assert!(b.is_ok(), "a freed slot is taken");

        // Placement: the first host with room, starting from the given one.
        let hosts = vec![("test:///p1".to_string(), 1), ("test:///p2".to_string(), 1)];
        let (i, first) = acquire_any(&hosts, 0, 1).await.unwrap();
        assert_eq!(i, 0);
        let (j, second) = acquire_any(&hosts, 0, 1).await.unwrap();
        assert_eq!(j, 1, "p1 is full");
        let waiting = tokio::time::timeout(Duration::from_millis(600), acquire_any(&hosts, 1, 1)).await;
        assert!(waiting.is_err(), "both hosts are full");
        drop(second);
        let (k, _third) =
            tokio::time::timeout(Duration::from_secs(5), acquire_any(&hosts, 0, 1)).await.unwrap().unwrap();
        assert_eq!(k, 1);
        drop(first);
    }
}
