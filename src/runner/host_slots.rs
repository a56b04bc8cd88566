//! Guest slots per host, shared by every virtsmoke process on this machine: two
//! CI jobs on one runner must not overcommit a host between them.
//!
//! A host with capacity N has N lock files; a running guest holds one with
//! `flock`. The kernel drops the lock when the process dies, so a killed run
//! never leaves a slot taken.

use std::fs::File;
use std::path::PathBuf;
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

/// Where slot files live: `$VIRTSMOKE_LOCK_DIR` or `/var/lock/virtsmoke`.
pub fn lock_dir() -> PathBuf {
    std::env::var_os("VIRTSMOKE_LOCK_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/lock/virtsmoke"))
}

/// Held slots; dropping them frees the slots.
pub struct Slots(#[allow(dead_code)] Vec<Flock<File>>);

/// Takes `count` slots of the first of `hosts` (`(uri, capacity)`) that has
/// them free, trying from `start` round the list so that cases spread over
/// the hosts; waits while none has. Returns the index of the host taken.
pub async fn acquire_any(hosts: &[(String, u32)], start: usize, count: u32) -> std::io::Result<(usize, Slots)> {
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

/// `count` of the host's slots if that many are free now.
fn try_acquire(uri: &str, capacity: u32, count: u32) -> std::io::Result<Option<Slots>> {
    let digest = Sha256::digest(uri.as_bytes());
    let key: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let dir = lock_dir().join(key);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("uri"), uri)?;
    let capacity = capacity.max(1);
    let count = count.min(capacity).max(1);
    let mut held = Vec::new();
    for slot in 0..capacity {
        if held.len() as u32 == count {
            break;
        }
        let f = File::create(dir.join(format!("slot-{slot}.lock")))?;
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
