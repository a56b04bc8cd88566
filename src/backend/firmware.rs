//! The firmware loader a guest names in its domain XML, as the host's libvirt
//! says (domain capabilities), not as a path written into virtsmoke.

use std::path::PathBuf;

use super::error::BackendError;
use super::host::Host;
use crate::hypervisor;
use crate::plan::GuestKind;

impl Host {
    /// The loader for guests of `kind` from the host's domain capabilities
    /// (`virConnectGetDomainCapabilities`). `Ok(None)`: leave `<loader>` out of
    /// the XML (the family needs none named, or the host lists none, and libxl
    /// then runs its own hvmloader).
    pub async fn firmware_loader(&self, kind: GuestKind) -> Result<Option<PathBuf>, BackendError> {
        let platform = hypervisor::for_kind(kind);
        let Some(q) = platform.loader_query(kind) else { return Ok(None) };
        let target = self.uri.clone();
        let caps = self
            .call(move |c| {
                c.domain_capabilities(None, Some(q.arch), Some(q.machine), Some(q.virttype), 0)
                    .map_err(BackendError::libvirt("reading the domain capabilities", target))
            })
            .await?;
        Ok(platform.loader_from_capabilities(&caps))
    }
}
