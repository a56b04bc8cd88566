//! A libvirt host: one connection, domains created on it, facts read from it.

use std::sync::{Arc, Mutex};

use virt::connect::Connect;
use virt::sys;

use super::domain::GuestDomain;
use super::error::BackendError;
use super::facts::HostFacts;

/// A connection to one libvirt host. Cheap to clone; every call runs on the blocking pool.
#[derive(Clone)]
pub struct Host {
    pub name: String,
    pub uri: String,
    /// Replaced when the daemon went away and came back (libvirtd restarted
    /// by systemd after a crash): the clones share the replacement.
    conn: Arc<Mutex<Arc<Connect>>>,
}

impl Host {
    pub async fn connect(name: &str, uri: &str) -> Result<Host, BackendError> {
        let uri_owned = uri.to_string();
        let conn = tokio::task::spawn_blocking(move || open(&uri_owned)).await??;
        Ok(Host { name: name.to_string(), uri: uri.to_string(), conn: Arc::new(Mutex::new(Arc::new(conn))) })
    }

    /// The connection, opened anew first if the old one died (its socket was
    /// closed: libvirtd crashed or restarted). Blocking.
    fn live_conn(&self) -> Result<Arc<Connect>, BackendError> {
        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if !slot.is_alive().unwrap_or(false) {
            *slot = Arc::new(open(&self.uri)?);
        }
        Ok(Arc::clone(&slot))
    }

    /// Runs a blocking libvirt call on this host's connection.
    pub(super) async fn call<T, F>(&self, f: F) -> Result<T, BackendError>
    where
        T: Send + 'static,
        F: FnOnce(&Connect) -> Result<T, BackendError> + Send + 'static,
    {
        let host = self.clone();
        tokio::task::spawn_blocking(move || f(&*host.live_conn()?)).await?
    }

    pub async fn facts(&self) -> Result<HostFacts, BackendError> {
        let target = self.uri.clone();
        self.call(move |c| HostFacts::read(c, &target)).await
    }

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
    pub async fn domain_state(&self, name: &str) -> Result<super::RunState, BackendError> {
        let name = name.to_string();
        self.call(move |c| super::domain::state_by_name(c, &name)).await
    }

    /// Names of every domain (running or defined) on the host.
    #[cfg(test)]
    pub async fn domain_names(&self) -> Result<Vec<String>, BackendError> {
        let target = self.uri.clone();
        self.call(move |c| {
            let doms = c.list_all_domains(0).map_err(BackendError::libvirt("listing domains", target.clone()))?;
            doms.iter()
                .map(|d| d.name().map_err(BackendError::libvirt("reading a domain name", target.clone())))
                .collect()
        })
        .await
    }

    /// Every domain on the host whose metadata says virtsmoke created it, with that metadata.
    pub async fn owned_domains(&self) -> Result<Vec<OwnedDomain>, BackendError> {
        let target = self.uri.clone();
        self.call(move |c| {
            let doms = c.list_all_domains(0).map_err(BackendError::libvirt("listing domains", target.clone()))?;
            let mut owned = Vec::new();
            for d in doms {
                let Ok(meta) =
                    d.metadata(sys::VIR_DOMAIN_METADATA_ELEMENT as i32, Some(super::domain_xml::METADATA_NS), 0)
                else {
                    continue; // no virtsmoke metadata: not ours
                };
                let name = d.name().map_err(BackendError::libvirt("reading a domain name", target.clone()))?;
                owned.push(OwnedDomain {
                    name,
                    run_id: super::metadata::field(&meta, "run").unwrap_or_default(),
                    created: super::metadata::field(&meta, "created").and_then(|s| s.parse().ok()).unwrap_or(0),
                    active: d.is_active().unwrap_or(false),
                });
            }
            Ok(owned)
        })
        .await
    }

    /// Destroys (and undefines, if persistent) a domain by name. Absent domains are fine.
    pub async fn remove_domain(&self, name: &str) -> Result<bool, BackendError> {
        let name = name.to_string();
        self.call(move |c| {
            let d = match c.lookup_domain_by_name(&name) {
                Ok(d) => d,
                Err(e) if e.code() == virt::enumutil::Enum::Known(virt::error::ErrorNumber::NoDomain) => {
                    return Ok(false);
                }
                Err(e) => return Err(BackendError::Libvirt { op: "looking up the domain", target: name, source: e }),
            };
            // A domain that vanishes between lookup and destroy is just as gone.
            let gone = |e: &virt::error::Error| {
                e.code() == virt::enumutil::Enum::Known(virt::error::ErrorNumber::NoDomain)
                    || e.code() == virt::enumutil::Enum::Known(virt::error::ErrorNumber::OperationInvalid)
            };
            if d.is_active().unwrap_or(false) {
                match d.destroy() {
                    Err(e) if gone(&e) => return Ok(false),
                    r => r.map_err(BackendError::libvirt("destroying the domain", name.clone()))?,
                }
            }
            if d.is_persistent().unwrap_or(false) {
                match d.undefine() {
                    Err(e) if gone(&e) => {}
                    r => r.map_err(BackendError::libvirt("undefining the domain", name.clone()))?,
                }
            }
            Ok(true)
        })
        .await
    }

    /// The current connection (blocking: it may reconnect).
    pub(super) fn conn(&self) -> Result<Arc<Connect>, BackendError> {
        self.live_conn()
    }
}

fn open(uri: &str) -> Result<Connect, BackendError> {
    // libvirt would otherwise print every error itself, on top of ours.
    virt::error::clear_error_callback();
    // Console streams need it; a failure only makes consoles slower.
    let _ = super::event_loop::ensure_running();
    Connect::open(Some(uri)).map_err(|source| BackendError::Connect { uri: uri.to_string(), source })
}

/// A domain carrying virtsmoke's ownership metadata.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OwnedDomain {
    pub name: String,
    pub run_id: String,
    pub created: u64,
    pub active: bool,
}
