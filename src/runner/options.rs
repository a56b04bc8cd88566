//! What a run is asked to do, how it ends, and how it fails.

use std::path::PathBuf;

use crate::events::CaseReport;

pub struct RunOptions {
    pub artifacts: PathBuf,
    pub jobs: usize,
    pub keep: Keep,
    pub run_id: String,
}

/// Which cases leave their guests running for a human, instead of destroying them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Keep {
    /// Every guest is destroyed at its case's end.
    #[default]
    Never,
    /// The guests of a case that failed or errored (`--keep-on-failure`).
    OnFailure,
    /// The guests of every case, passed or not (`--keep`).
    Always,
}

impl Keep {
    /// Whether a case's guests stay, given whether the case did not pass.
    pub fn keeps(self, did_not_pass: bool) -> bool {
        match self {
            Keep::Never => false,
            Keep::OnFailure => did_not_pass,
            Keep::Always => true,
        }
    }

    /// From the two flags of `virtsmoke run`; `--keep` includes `--keep-on-failure`.
    pub fn from_flags(keep: bool, keep_on_failure: bool) -> Keep {
        match (keep, keep_on_failure) {
            (true, _) => Keep::Always,
            (false, true) => Keep::OnFailure,
            (false, false) => Keep::Never,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Keep;

    #[test]
    fn keep_keeps_every_case_and_keep_on_failure_only_the_failed() {
        assert_eq!(Keep::from_flags(true, false), Keep::Always);
        assert_eq!(Keep::from_flags(true, true), Keep::Always);
        assert_eq!(Keep::from_flags(false, true), Keep::OnFailure);
        assert_eq!(Keep::from_flags(false, false), Keep::Never);
        assert!(Keep::Always.keeps(false) && Keep::Always.keeps(true));
        assert!(!Keep::OnFailure.keeps(false) && Keep::OnFailure.keeps(true));
        assert!(!Keep::Never.keeps(true));
    }
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
