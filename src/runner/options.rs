//! What a run is asked to do, how it ends, and how it fails.

use std::path::PathBuf;

use crate::events::CaseReport;

pub struct RunOptions {
    pub artifacts: PathBuf,
    pub jobs: usize,
    pub keep_on_failure: bool,
    pub run_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot prepare the run directory {}", .0.display())]
    RunDir(PathBuf, #[source] std::io::Error),
    #[error(transparent)]
    Fs(#[from] crate::fsutil::FsError),
    #[error(transparent)]
    Key(#[from] crate::guest::keys::KeyError),
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    #[error("the image worker died")]
    Worker(#[from] tokio::task::JoinError),
}

/// The signal that first interrupted a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interruption {
    Sigint,
    Sigterm,
}

impl Interruption {
    /// The conventional exit status: 128 + the signal's number.
    pub fn exit_code(self) -> u8 {
        match self {
            Interruption::Sigint => crate::exit::SIGINT,
            Interruption::Sigterm => crate::exit::SIGTERM,
        }
    }
}

pub struct RunResult {
    pub cases: Vec<CaseReport>,
    /// The first signal, when one interrupted the run.
    pub interrupted: Option<Interruption>,
    /// Hosts that could not be used at all.
    pub unusable_hosts: Vec<String>,
}
