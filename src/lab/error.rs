//! Errors of the lab: each says which step failed and, for commands, what the
//! command printed on stderr.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum LabError {
    /// The options cannot describe a lab.
    #[error("invalid lab options: {0}")]
    Options(String),

    /// A command could not be started at all.
    #[error("{step}: cannot run `{command}`")]
    Spawn {
        step: String,
        command: String,
        #[source]
        source: io::Error,
    },

    /// A command ran and failed.
    #[error("{step}: `{command}` failed ({status}): {stderr}")]
    Failed { step: String, command: String, status: String, stderr: String },

    /// A command did not finish in time and was killed.
    #[error("{step}: `{command}` did not finish within {timeout}")]
    CommandTimeout { step: String, command: String, timeout: String },

    /// A file-system operation failed.
    #[error("{step}: {}", path.display())]
    Io {
        step: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A command printed something the lab cannot read.
    #[error("{step}: unexpected output of `{command}`: {detail}")]
    Parse { step: String, command: String, detail: String },

    /// libvirtd did not answer on its socket in time.
    #[error(
        "{host}: libvirtd did not answer on {} within {timeout} (last attempt: {last}){log_tail}",
        socket.display()
    )]
    NotReady {
        host: String,
        socket: PathBuf,
        timeout: String,
        last: String,
        /// Empty, or "; libvirtd.log ends with: ..." .
        log_tail: String,
    },

    /// A daemon wrote its pid file and then died during start-up.
    #[error("{host}: {daemon} exited during start-up{log_tail}")]
    DaemonExited {
        host: String,
        daemon: String,
        /// Empty, or "; LOG ends with: ..." .
        log_tail: String,
    },

    /// A lab namespace is in use by a lab in another directory.
    #[error(
        "network namespace {netns} belongs to the lab in {} (as libvirtd there says); take that lab down first",
        owner.display()
    )]
    Foreign { netns: String, owner: PathBuf },

    /// `up` finished but some host is still not healthy.
    #[error("lab is not healthy after start-up: {0}")]
    Unhealthy(String),

    /// Processes of a lab host outlived SIGKILL.
    #[error("{host}: processes survived SIGTERM and SIGKILL: {pids:?}")]
    Survivors { host: String, pids: Vec<i32> },

    /// Mount points remain under a directory the lab is about to delete.
    #[error("refusing to remove {}: mount points remain under it: {}", path.display(), mounts.join(", "))]
    MountsRemain { path: PathBuf, mounts: Vec<String> },
}

impl LabError {
    pub(crate) fn io(step: impl Into<String>, path: impl Into<PathBuf>, source: io::Error) -> Self {
        LabError::Io { step: step.into(), path: path.into(), source }
    }
}
