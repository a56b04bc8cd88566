//! What virtsmoke knows of each hypervisor family, one module per family, and
//! the libvirt URI type that tells which family a host runs.

pub mod uri;

pub use uri::{Transport, Uri, UriError, UriFamily};

/// A hypervisor family virtsmoke drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Kvm,
    Xen,
}

impl Family {
    /// The family of a plan's host.
    pub fn of(h: crate::plan::Hypervisor) -> Family {
        match h {
            crate::plan::Hypervisor::Kvm => Family::Kvm,
            crate::plan::Hypervisor::Xen => Family::Xen,
        }
    }

    /// The plan's name for the family.
    pub fn plan(self) -> crate::plan::Hypervisor {
        match self {
            Family::Kvm => crate::plan::Hypervisor::Kvm,
            Family::Xen => crate::plan::Hypervisor::Xen,
        }
    }

    /// The family of a guest kind.
    pub fn of_kind(kind: crate::plan::GuestKind) -> Family {
        Family::of(kind.hypervisor())
    }
}
