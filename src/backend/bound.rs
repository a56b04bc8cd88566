//! The bound on every libvirt call. A daemon whose event loop still answers
//! libvirt's keepalive can leave one call unanswered for ever (a driver stuck
//! on a hypervisor operation: libvirt 9.0's libxl driver after a console
//! finish raced a departed guest; QEMU's driver waiting on a stopped QEMU's
//! monitor). libvirt cannot cancel a call, so the run stops waiting for it:
//! the call is left to its thread and the host is reported unresponsive (an
//! infrastructure error), so that the run ends instead of hanging.

use std::sync::OnceLock;
use std::time::Duration;

use super::error::BackendError;

/// How long one libvirt call may take unless `VIRTSMOKE_LIBVIRT_CALL_LIMIT`
/// (a duration, e.g. `20m`) says otherwise. Migration has its own limit
/// (the check's `timeout`).
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(10 * 60);

/// The limit of this process.
pub fn limit() -> Duration {
    static LIMIT: OnceLock<Duration> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var("VIRTSMOKE_LIBVIRT_CALL_LIMIT")
            .ok()
            .and_then(|v| humantime::parse_duration(v.trim()).ok())
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_LIMIT)
    })
}

/// Runs the blocking libvirt work `f` on a thread, waiting for it at most
/// [`limit`]; `target` names the host or domain for the error.
pub async fn call<T, F>(target: &str, f: F) -> Result<T, BackendError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, BackendError> + Send + 'static,
{
    within(limit(), target, f).await
}

pub(super) async fn within<T, F>(limit: Duration, target: &str, f: F) -> Result<T, BackendError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, BackendError> + Send + 'static,
{
    match tokio::time::timeout(limit, tokio::task::spawn_blocking(f)).await {
        Ok(joined) => joined?,
        Err(_) => Err(BackendError::Unresponsive { target: target.to_string(), limit }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_past_the_limit_is_an_unresponsive_host() {
        let quick = within(Duration::from_secs(5), "h", || Ok(7)).await.unwrap();
        assert_eq!(quick, 7);
        let slow = within(Duration::from_millis(50), "qemu:///system", || {
            std::thread::sleep(Duration::from_millis(500));
            Ok(())
        })
        .await
        .unwrap_err();
        assert!(slow.connection_lost(), "{slow:?}");
        let said = slow.described();
        assert!(said.starts_with(crate::backend::error::CONNECTION_LOST), "{said}");
        assert!(said.contains("`qemu:///system` did not answer a libvirt call within 50ms"), "{said}");
        assert_eq!(limit(), DEFAULT_LIMIT);
    }
}
