//! What every case of a run shares: the run's identity, key, images and hosts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::backend::Host;
use crate::backend::domain_xml::DomainType;
use crate::events::HostFacts;
use crate::guest::keys::RunKey;
use crate::image::BuiltImage;
use crate::plan::HostSpec;

pub struct ReadyHost {
    pub spec: HostSpec,
    pub host: Host,
    pub facts: HostFacts,
    pub domain_type: DomainType,
    /// The domains the hypervisor's own list (xenstore on Xen) held before the run.
    pub leak_basis: LeakBasis,
}

/// What the hypervisor's own domain list (xenstore on Xen) held before the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeakBasis {
    /// The family keeps no list beside libvirt's (KVM), or no hypervisor is
    /// under the host's libvirt (its `test` driver): nothing to check.
    Absent,
    /// The domains it knew (id → name).
    Known(BTreeMap<u32, String>),
    /// It could not be read (why): the check after the run is skipped, and says so.
    Unavailable(String),
}

pub enum HostState {
    Ready(Box<ReadyHost>),
    Unusable(String),
}

pub struct RunContext {
    pub run_id: String,
    /// Per-run scratch: key, overlays. Removed at the end of the run.
    pub run_dir: PathBuf,
    pub artifacts: PathBuf,
    pub key: RunKey,
    pub images: BTreeMap<String, BuiltImage>,
    pub hosts: BTreeMap<String, HostState>,
    /// Which cases leave their guests running (`--keep`, `--keep-on-failure`).
    pub keep: super::options::Keep,
    /// First signal: stop starting cases, tear down.
    pub cancel: CancellationToken,
    /// Second signal: tear down at once, without gathering failure evidence.
    pub hurry: CancellationToken,
    /// What the run put on remote hosts: image files it copied, hosts it made files on.
    /// Shared with the preparation, whose KVM probe may copy its kernel to a host.
    pub staged: std::sync::Arc<super::staged::Staged>,
    /// Hosts a case found unreachable (cause `host-unreachable`): later cases
    /// on them are not run, and the leak check skips them, saying why.
    pub lost: std::sync::Mutex<BTreeMap<String, LostHost>>,
}

/// A host found unreachable during the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostHost {
    /// `HH:MM:SS` UTC, when it was first seen gone.
    pub since: String,
    /// The cause's summary that said so.
    pub why: String,
}

impl LostHost {
    /// `host NAME unreachable since TIME (WHY)`.
    pub fn describe(&self, name: &str) -> String {
        format!("host {name} unreachable since {} ({})", self.since, self.why)
    }
}

impl RunContext {
    /// The host `name` if a case found it unreachable.
    pub fn lost_host(&self, name: &str) -> Option<LostHost> {
        self.lost.lock().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    /// Notes `name` unreachable (the first finding stays).
    pub fn mark_lost(&self, name: &str, host: LostHost) {
        self.lost.lock().unwrap_or_else(|p| p.into_inner()).entry(name.to_string()).or_insert(host);
    }
}
