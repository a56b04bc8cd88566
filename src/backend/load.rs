//! What a host carries now, by its own account through libvirt: the running
//! domains virtsmoke made (from any run, on any machine) and the memory they
//! were given, and the node's free memory. The runner admits a case on it
//! (`runner/admission.rs`), so that runners on different machines sharing a
//! pool of hosts do not overcommit one.

use std::collections::BTreeSet;

use virt::sys;

use super::error::BackendError;
use super::host::Host;

/// A host's load, read when a case is placed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostLoad {
    /// Running domains carrying virtsmoke's metadata.
    pub guests: u32,
    /// The memory those domains were given, MiB.
    pub memory_mib: u64,
    /// The node's free memory (libvirt's node info), MiB, where the driver tells.
    pub free_mib: Option<u64>,
    /// The runs those domains belong to.
    pub runs: BTreeSet<String>,
}

impl Host {
    /// The host's load now (see [`HostLoad`]).
    pub async fn load(&self) -> Result<HostLoad, BackendError> {
        let target = self.uri.clone();
        // libvirt's test driver makes its node's memory up (3 MiB free): not an account.
        let made_up = self.uri.starts_with("test:");
        self.call(move |c| {
            let active = sys::VIR_CONNECT_LIST_DOMAINS_ACTIVE;
            let doms = c.list_all_domains(active).map_err(BackendError::libvirt("listing domains", target.clone()))?;
            let free_mib = if made_up { None } else { c.free_memory().ok().map(|b| b / (1024 * 1024)) };
            let mut load = HostLoad { free_mib, ..HostLoad::default() };
            for d in doms {
                let Some(meta) = super::metadata::of(&d) else { continue };
                load.guests += 1;
                // A domain that went between the list and this call held nothing.
                load.memory_mib += d.info().map_or(0, |i| i.max_mem / 1024);
                load.runs.insert(super::metadata::field(&meta, "run").unwrap_or_default());
            }
            Ok(load)
        })
        .await
    }
}
