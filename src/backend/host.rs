//! A libvirt host: one connection, domains created on it, facts read from it.
//! What makes a domain on it (`create_paused`) and asks its state lives with
//! the domain, in domain.rs, so this file does not depend on that one.

use std::sync::{Arc, Mutex};

use virt::connect::Connect;

use super::error::BackendError;
use super::facts;
use crate::events::HostFacts;
use crate::hypervisor::{Uri, UriError};

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
    /// Connects to `uri`; one that would run a program on this machine
    /// (libvirt's `ext` transport, `command=`) is refused before libvirt sees it.
    pub async fn connect(name: &str, uri: &str) -> Result<Host, BackendError> {
        if let Err(e @ UriError::RunsLocalProgram { .. }) = Uri::parse(uri) {
            return Err(BackendError::RefusedUri(e));
        }
        let uri_owned = uri.to_string();
        let conn = super::bound::call(uri, move || open(&uri_owned)).await?;
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
        super::bound::call(&self.uri, move || f(&*host.live_conn()?)).await
    }

    pub async fn facts(&self) -> Result<HostFacts, BackendError> {
        let target = self.uri.clone();
        self.call(move |c| facts::read(c, &target)).await
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
                let Some(meta) = super::metadata::of(&d) else { continue };
                let name = d.name().map_err(BackendError::libvirt("reading a domain name", target.clone()))?;
                owned.push(OwnedDomain {
                    name,
                    run_id: super::metadata::field(&meta, "run").unwrap_or_default(),
                    created: super::metadata::field(&meta, "created").and_then(|s| s.parse().ok()).unwrap_or(0),
                    active: d.is_active().unwrap_or(false),
                    machine: super::metadata::field(&meta, "machine"),
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
    /// The machine whose run made it (absent on domains made by older virtsmoke).
    pub machine: Option<String>,
}
