//! libvirt's event loop, on a thread of its own. Without it a non-blocking
//! console stream only receives data while some other libvirt call happens to
//! read the connection: console output then arrives late, or (while nothing
//! else calls libvirt, e.g. during SSH retries) not at all.

use std::sync::OnceLock;

static STARTED: OnceLock<Result<(), String>> = OnceLock::new();

/// Registers libvirt's default event implementation and runs it forever on a
/// background thread. Must happen before the first connection is opened; later
/// calls are free.
pub fn ensure_running() -> Result<(), String> {
    STARTED
        .get_or_init(|| {
            virt::event::event_register_default_impl().map_err(|e| e.to_string())?;
            std::thread::Builder::new()
                .name("libvirt-events".into())
                .spawn(|| {
                    loop {
                        // Each call waits for and dispatches one round of events.
                        if virt::event::event_run_default_impl().is_err() {
                            std::thread::sleep(std::time::Duration::from_millis(100));
                        }
                    }
                })
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .clone()
}
