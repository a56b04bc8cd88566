//! Waiting for a condition with a deadline, woken by console output or a short poll.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// One look at the condition.
pub enum Probe<T> {
    Ready(T),
    NotYet,
    /// The condition can no longer become true.
    Fail(String),
}

#[derive(Debug, PartialEq, Eq)]
pub enum WaitError {
    Timeout(Duration),
    Failed(String),
}

/// Calls `probe` until it is ready, fails, or `timeout` passes. Wakes on every
/// `updates` change (new console output) and at least every `poll`.
pub async fn until<T, F, Fut>(
    timeout: Duration,
    poll: Duration,
    mut updates: Option<watch::Receiver<usize>>,
    mut probe: F,
) -> Result<T, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Probe<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Probe::Ready(t) => return Ok(t),
            Probe::Fail(m) => return Err(WaitError::Failed(m)),
            Probe::NotYet => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(WaitError::Timeout(timeout));
        }
        let nap = poll.min(deadline - now);
        match updates.as_mut() {
            Some(rx) => {
                tokio::select! {
                    changed = rx.changed() => if changed.is_err() { updates = None },
                    _ = tokio::time::sleep(nap) => {}
                }
            }
            None => tokio::time::sleep(nap).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_after_some_polls() {
        let mut n = 0;
        let r = until(Duration::from_secs(5), Duration::from_millis(1), None, || {
            n += 1;
            let v = n;
            async move { if v >= 3 { Probe::Ready(v) } else { Probe::NotYet } }
        })
        .await;
        assert_eq!(r, Ok(3));
    }

    #[tokio::test]
    async fn times_out_and_fails() {
        let r: Result<(), _> =
            until(Duration::from_millis(20), Duration::from_millis(5), None, || async { Probe::NotYet }).await;
        assert_eq!(r, Err(WaitError::Timeout(Duration::from_millis(20))));
        let r: Result<(), _> =
            until(Duration::from_secs(5), Duration::from_millis(5), None, || async { Probe::Fail("gone".into()) })
                .await;
        assert_eq!(r, Err(WaitError::Failed("gone".into())));
    }

    #[tokio::test]
    async fn wakes_on_updates() {
        let (tx, rx) = watch::channel(0usize);
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let s = seen.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            s.store(1, std::sync::atomic::Ordering::SeqCst);
            tx.send_replace(1);
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        // A one-hour poll: only the update can wake it in time.
        let r = until(Duration::from_secs(5), Duration::from_secs(3600), Some(rx), || {
            let v = seen.load(std::sync::atomic::Ordering::SeqCst);
            async move { if v == 1 { Probe::Ready(()) } else { Probe::NotYet } }
        })
        .await;
        assert_eq!(r, Ok(()));
    }
}
