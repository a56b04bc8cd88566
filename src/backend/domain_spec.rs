//! What describes a guest to libvirt, before any XML: the input of the
//! per-family builders (hypervisor/kvm.rs, hypervisor/xen.rs).

use std::path::PathBuf;

use crate::plan::{Firmware, GuestKind};

/// The XML namespace of virtsmoke's domain metadata; `cleanup` finds its domains by it.
pub const METADATA_NS: &str = "urn:x-virtsmoke:run:1";
pub const METADATA_PREFIX: &str = "virtsmoke";

/// libvirt's `<domain type=...>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DomainType {
    Kvm,
    /// QEMU with software emulation (TCG).
    Qemu,
    Xen,
}

impl DomainType {
    pub fn as_str(self) -> &'static str {
        match self {
            DomainType::Kvm => "kvm",
            DomainType::Qemu => "qemu",
            DomainType::Xen => "xen",
        }
    }
}

/// Who created the domain: written into `<metadata>` so leftovers can be traced to a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    pub run_id: String,
    pub case: String,
    pub guest: String,
    /// Seconds since the epoch.
    pub created: u64,
    /// The machine that runs the run ([`crate::rundir::this_machine`]).
    pub machine: String,
}

impl Ownership {
    /// A domain made now, by this machine.
    pub fn now(run_id: &str, case: &str, guest: &str) -> Ownership {
        Ownership {
            run_id: run_id.to_string(),
            case: case.to_string(),
            guest: guest.to_string(),
            created: crate::unix_now(),
            machine: crate::rundir::this_machine().to_string(),
        }
    }
}

/// Everything needed to describe one guest to libvirt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainXmlInput {
    pub name: String,
    pub kind: GuestKind,
    pub domain_type: DomainType,
    pub memory_mib: u64,
    pub vcpus: u32,
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    /// Complete kernel command line (console and virtsmoke parameters included).
    pub cmdline: String,
    /// A qcow2 overlay (never the base image).
    pub disk: Option<PathBuf>,
    /// A NoCloud seed (ISO 9660, `cidata`), attached read-only: a CD-ROM on
    /// IDE for emulated machines, a second `xvd` disk for Xen PV/PVH.
    pub seed: Option<PathBuf>,
    pub bridge: String,
    pub mac: String,
    /// `hvmloader` for Xen HVM guests.
    pub hvmloader: PathBuf,
    /// KVM guests: BIOS, or UEFI with this NVRAM file (`None`: libvirt's default place).
    pub firmware: Firmware,
    pub nvram: Option<PathBuf>,
    /// `on_reboot=restart` instead of `destroy` (a case that reboots the guest on purpose).
    pub restart_on_reboot: bool,
    pub owner: Ownership,
}
