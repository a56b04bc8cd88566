//! Reaching into guests: SSH with deadlines, sockets from inside namespaces,
//! console scanning.

pub mod base64;
pub mod console_scan;
mod exec_io;
pub mod jump;
pub mod keys;
pub mod netns;
pub mod ssh;
