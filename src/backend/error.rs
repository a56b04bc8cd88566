//! Errors of the libvirt layer.

use virt::enumutil::Enum;
use virt::error::{ErrorDomain, ErrorNumber};

/// What a step's message starts with when libvirt lost its connection to the host.
pub const CONNECTION_LOST: &str = "libvirt lost its connection to the host";

/// libvirt's RPC layer failed (the socket, the SSH tunnel, the daemon gone),
/// or there is no connection at all.
fn connection_lost(code: ErrorNumber, domain: ErrorDomain) -> bool {
    domain == ErrorDomain::Rpc || matches!(code, ErrorNumber::NoConnect | ErrorNumber::Rpc)
}

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
    /// A call that had not returned when its time was up.
    #[error("{op} on `{target}` did not finish within {}; {aborted}", humantime::format_duration(*.limit))]
    TimedOut { op: &'static str, target: String, limit: std::time::Duration, aborted: String },
    /// A call still unanswered at [`super::bound::limit`]: the daemon is hung
    /// (or the host is), which libvirt's keepalive does not see.
    #[error(
        "`{target}` did not answer a libvirt call within {}: its libvirt daemon or hypervisor is hung \
         (the call is abandoned; VIRTSMOKE_LIBVIRT_CALL_LIMIT sets the limit)",
        humantime::format_duration(*.limit)
    )]
    Unresponsive { target: String, limit: std::time::Duration },
    #[error("the libvirt worker thread died")]
    Worker(#[from] tokio::task::JoinError),
}

impl BackendError {
    /// Whether libvirt says its connection to the host is gone (or was never
    /// had): the host, not the guest. Read from libvirt's error code and
    /// domain, not its words.
    pub fn connection_lost(&self) -> bool {
        match self {
            BackendError::Connect { .. } | BackendError::Unresponsive { .. } => true,
            BackendError::Libvirt { source, .. } => match (source.code(), source.domain()) {
                (Enum::Known(code), Enum::Known(domain)) => connection_lost(code, domain),
                _ => false,
            },
            _ => false,
        }
    }

    /// The error's chain, led by [`CONNECTION_LOST`] when [`Self::connection_lost`]:
    /// how steps word a libvirt error, so that the cause of the case can tell.
    pub fn described(&self) -> String {
        let chain = crate::error_chain(self);
        if self.connection_lost() && !matches!(self, BackendError::Connect { .. }) {
            format!("{CONNECTION_LOST}: {chain}")
        } else {
            chain
        }
    }

    pub fn libvirt(op: &'static str, target: impl Into<String>) -> impl FnOnce(virt::error::Error) -> Self {
        let target = target.into();
        move |source| BackendError::Libvirt { op, target, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_lost_by_libvirts_rpc_layer_or_no_connection_not_by_a_refusal() {
        assert!(connection_lost(ErrorNumber::SystemError, ErrorDomain::Rpc), "Cannot recv data");
        assert!(connection_lost(ErrorNumber::InternalError, ErrorDomain::Rpc), "client socket is closed");
        assert!(connection_lost(ErrorNumber::NoConnect, ErrorDomain::None));
        assert!(!connection_lost(ErrorNumber::ConfigUnsupported, ErrorDomain::Libxl), "a refused domain");
        assert!(!connection_lost(ErrorNumber::NoDomain, ErrorDomain::Qemu), "a domain gone");
    }
}
