//! Checks run against booted guests. Checks never print: they return results.

pub mod boot;
pub mod cloud_init;
pub mod command;
mod dispatch;
pub mod env;
pub mod guest_kind;
pub mod lifecycle;
pub mod migrate;
pub mod network;
pub mod probe;
pub mod probe_remote;
pub mod systemd;
pub mod wait;

pub use dispatch::{has_own_testcases, hosts_needed, run};
pub use env::*;
