//! A domain virtsmoke created, and what the harness does with it.

use std::path::PathBuf;
use std::sync::Arc;

use virt::connect::Connect;
use virt::domain::{Domain, DomainState};
use virt::sys;

use super::console::ConsoleCapture;
use super::error::BackendError;
use super::host::Host;
use crate::hypervisor::{Uri, UriFamily};

/// The lifecycle states the harness distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    Running,
    Paused,
    ShutOff,
    Crashed,
    /// libvirt no longer knows the domain (a transient domain that stopped).
    Gone,
    Other,
}

pub struct GuestDomain {
    pub host: Host,
    pub name: String,
    pub(super) dom: Arc<Domain>,
}

impl GuestDomain {
    pub(super) fn new(host: Host, name: String, dom: Domain) -> Self {
        GuestDomain { host, name, dom: Arc::new(dom) }
    }

    /// Runs a blocking call on the domain handle.
    pub(super) async fn call<T, F>(&self, f: F) -> Result<T, BackendError>
    where
        T: Send + 'static,
        F: FnOnce(&Domain, &str) -> Result<T, BackendError> + Send + 'static,
    {
        let dom = Arc::clone(&self.dom);
        let name = self.name.clone();
        super::bound::call(&format!("{} (domain {})", self.host.uri, self.name), move || f(&dom, &name)).await
    }

    pub async fn resume(&self) -> Result<(), BackendError> {
        self.call(|d, n| d.resume().map_err(BackendError::libvirt("resuming the domain", n))).await
    }

    pub async fn state(&self) -> Result<RunState, BackendError> {
        self.host.domain_state(&self.name).await
    }

    pub async fn xml(&self) -> Result<String, BackendError> {
        self.call(|d, n| d.xml_desc(0).map_err(BackendError::libvirt("reading the domain XML", n))).await
    }

    /// Addresses libvirt sees for the guest from the host's ARP table.
    /// libxl does not implement that source: on Xen hosts the answer is none,
    /// without asking (each refusal would otherwise land in libxl's log).
    pub async fn arp_addresses(&self) -> Result<Vec<(String, String)>, BackendError> {
        if Uri::parse(&self.host.uri).is_ok_and(|u| u.family() == UriFamily::Xen) {
            return Ok(Vec::new());
        }
        self.call(|d, n| {
            let ifaces = d
                .interface_addresses(sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP, 0)
                .map_err(BackendError::libvirt("reading interface addresses", n))?;
            Ok(ifaces
                .into_iter()
                .flat_map(|i| {
                    let mac = i.hwaddr.unwrap_or_default();
                    i.addrs.into_iter().map(move |a| (mac.clone(), a.addr))
                })
                .collect())
        })
        .await
    }

    pub async fn open_console(&self, path: PathBuf) -> Result<ConsoleCapture, BackendError> {
        self.attach_console(path, false).await
    }

    /// Attaches to the console and appends to `path` (after a migration).
    pub async fn reopen_console(&self, path: PathBuf) -> Result<ConsoleCapture, BackendError> {
        self.attach_console(path, true).await
    }

    async fn attach_console(&self, path: PathBuf, append: bool) -> Result<ConsoleCapture, BackendError> {
        let host = self.host.clone();
        let dom = Arc::clone(&self.dom);
        let name = self.name.clone();
        let target = format!("{} (domain {name})", host.uri);
        super::bound::call(&target, move || ConsoleCapture::start(&*host.conn()?, &dom, &name, path, append)).await
    }

    /// Hard stop; a domain that is already gone is not an error.
    pub async fn destroy(&self) -> Result<(), BackendError> {
        self.host.remove_domain(&self.name).await.map(|_| ())
    }
}

impl Host {
    /// Creates and starts a transient domain, paused so the console can be attached
    /// before the first byte is printed.
    pub async fn create_paused(&self, name: &str, xml: String) -> Result<GuestDomain, BackendError> {
        let target = name.to_string();
        let dom = self
            .call(move |c| {
                match c.create_domain_xml(&xml, sys::VIR_DOMAIN_START_PAUSED) {
                    // Drivers without START_PAUSED (libvirt's test driver): start, then pause.
                    Err(e) if e.code() == virt::enumutil::Enum::Known(virt::error::ErrorNumber::InvalidArg) => {
                        let d = c
                            .create_domain_xml(&xml, 0)
                            .map_err(BackendError::libvirt("creating the domain", target.clone()))?;
                        d.suspend().map_err(BackendError::libvirt("pausing the new domain", target))?;
                        Ok(d)
                    }
                    r => r.map_err(BackendError::libvirt("creating the domain", target)),
                }
            })
            .await?;
        Ok(GuestDomain::new(self.clone(), name.to_string(), dom))
    }

    /// The state of a domain by name (`Gone` when the host does not know it).
    pub async fn domain_state(&self, name: &str) -> Result<RunState, BackendError> {
        let name = name.to_string();
        self.call(move |c| state_by_name(c, &name)).await
    }
}

/// The state of the domain called `name`, looked up afresh: a transient domain
/// that stopped is gone, and an old handle would only report an error.
pub(super) fn state_by_name(conn: &Connect, name: &str) -> Result<RunState, BackendError> {
    let d = match conn.lookup_domain_by_name(name) {
        Ok(d) => d,
        Err(e) if e.code() == virt::enumutil::Enum::Known(virt::error::ErrorNumber::NoDomain) => {
            return Ok(RunState::Gone);
        }
        Err(e) => {
            return Err(BackendError::Libvirt { op: "looking up the domain", target: name.to_string(), source: e });
        }
    };
    let (state, _) = d.state().map_err(BackendError::libvirt("reading the domain state", name))?;
    Ok(match state.unwrap_or(DomainState::NoState) {
        DomainState::Running | DomainState::Blocked => RunState::Running,
        DomainState::Paused | DomainState::PMSuspended => RunState::Paused,
        DomainState::Shutoff | DomainState::Shutdown => RunState::ShutOff,
        DomainState::Crashed => RunState::Crashed,
        _ => RunState::Other,
    })
}
