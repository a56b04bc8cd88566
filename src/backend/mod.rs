//! Hosts that create domains through libvirt. Every libvirt call runs on tokio's
//! blocking pool: they block, sometimes for long.

pub mod bound;
pub mod console;
pub mod domain;
pub mod domain_spec;
pub mod domain_xml;
pub mod error;
pub mod event_loop;
pub mod facts;
pub mod firmware;
pub mod host;
pub mod host_shell;
pub mod lifecycle;
pub mod load;
pub mod metadata;
pub mod migrate;
pub mod xml_parts;

pub use domain::{GuestDomain, RunState};
pub use error::BackendError;
// The facts are plain data in `events`; re-exported for callers that name them here.
pub use crate::events::HostFacts;
pub use host::Host;

#[cfg(test)]
mod tests;
