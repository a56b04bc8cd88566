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

/// Takes `count` of the `capacity` slots of the host at `uri`, waiting while others hold them.
pub async fn acquire(uri: &str, capacity: u32, count: u32) -> std::io::Result<Slots> {
    let digest = Sha256::digest(uri.as_bytes());
    let key: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let dir = lock_dir().join(key);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("uri"), uri)?;
    let count = count.min(capacity).max(1);
    loop {
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
        if held.len() as u32 == count {
            return Ok(Slots(held));
        }
        // Not enough free: give back what we took (so two waiters cannot deadlock)
        // and look again shortly; slots free up when guests finish.
        drop(held);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_are_exclusive_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: tests in this module are the only users of this variable.
        unsafe { std::env::set_var("VIRTSMOKE_LOCK_DIR", dir.path()) };
        let a = acquire("test:///slots", 2, 2).await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(600), acquire("test:///slots", 2, 1)).await;
        assert!(waiting.is_err(), "both slots are held");
        drop(a);
        let b = tokio::time::timeout(Duration::from_secs(5), acquire("test:///slots", 2, 1)).await;
        assert!(b.is_ok(), "a freed slot is taken");
    }
}
