//! Errors of the libvirt layer.

/// A libvirt call that failed, with what virtsmoke was doing.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("cannot connect to libvirt at `{uri}`")]
    Connect {
        uri: String,
        #[source]
        source: virt::error::Error,
    },
    #[error("{op} failed on `{target}`")]
    Libvirt {
        op: &'static str,
        target: String,
        #[source]
        source: virt::error::Error,
    },
    #[error("console capture of `{domain}` could not start")]
    Console {
        domain: String,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing to connect")]
    RefusedUri(#[source] crate::hypervisor::UriError),
    #[error("the libvirt worker thread died")]
    Worker(#[from] tokio::task::JoinError),
}

impl BackendError {
    pub fn libvirt(op: &'static str, target: impl Into<String>) -> impl FnOnce(virt::error::Error) -> Self {
        let target = target.into();
        move |source| BackendError::Libvirt { op, target, source }
    }
}
