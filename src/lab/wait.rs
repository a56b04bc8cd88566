//! Bounded waiting: poll a condition at a short interval until it holds or a
//! deadline passes. No caller sleeps for a fixed time.

use std::thread;
use std::time::{Duration, Instant};

/// How often conditions are polled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Calls `cond` until it returns `Ok(true)` (→ `Ok(true)`), an error (→ that
/// error) or `timeout` passes (→ `Ok(false)`). `cond` runs at least once.
pub fn wait_until<E>(
    timeout: Duration,
    interval: Duration,
    mut cond: impl FnMut() -> Result<bool, E>,
) -> Result<bool, E> {
    let deadline = Instant::now() + timeout;
    loop {
        if cond()? {
            return Ok(true);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        thread::sleep(interval.min(deadline - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_true_once_condition_holds() {
        let mut n = 0;
        let r: Result<bool, ()> = wait_until(Duration::from_secs(5), Duration::from_millis(1), || {
            n += 1;
            Ok(n == 3)
        });
        assert_eq!(r, Ok(true));
        assert_eq!(n, 3);
    }

    #[test]
    fn times_out_after_at_least_one_attempt() {
        let mut n = 0;
        let r: Result<bool, ()> = wait_until(Duration::ZERO, Duration::from_millis(1), || {
            n += 1;
            Ok(false)
        });
        assert_eq!(r, Ok(false));
        assert_eq!(n, 1);
    }

    #[test]
    fn stops_at_first_error() {
        let r: Result<bool, &str> = wait_until(Duration::from_secs(5), Duration::from_millis(1), || Err("boom"));
        assert_eq!(r, Err("boom"));
    }
}
