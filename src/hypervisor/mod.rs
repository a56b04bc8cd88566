//! What virtsmoke knows of each hypervisor family, one module per family
//! (kvm.rs, xen.rs) behind one trait (platform.rs), and the libvirt URI type
//! that tells which family a host runs (uri.rs).
//!
//! A third family (bhyve, cloud-hypervisor) is one new module, one `Family`
//! variant and its arm in `platform` below.

pub mod caps;
pub mod kvm;
pub mod platform;
pub mod pygrub;
pub mod uri;
pub mod xen;

use crate::plan::GuestKind;

pub use platform::{EntryNote, Family, LeakSource, LoaderQuery, Platform, memory_dump_command};
pub use uri::{Transport, Uri, UriError, UriFamily};

/// The module of a family.
/// Whether a libvirt URI names a host (`xen+ssh://root@xen7/system`), not a
/// driver of this machine (`test:///default`, `qemu:///system`); an URI that
/// does not parse names none.
pub fn uri_names_a_host(uri: &str) -> bool {
    Uri::parse(uri).is_ok_and(|u| u.names_a_host())
}

pub fn platform(family: Family) -> &'static dyn Platform {
    match family {
        Family::Kvm => &kvm::Kvm,
        Family::Xen => &xen::Xen,
    }
}

/// The module of the family a guest kind belongs to.
pub fn for_kind(kind: GuestKind) -> &'static dyn Platform {
    platform(Family::of_kind(kind))
}

/// The module of a plan's host.
pub fn for_host(h: crate::plan::Hypervisor) -> &'static dyn Platform {
    platform(Family::of(h))
}

/// The MAC prefix of guests of `kind` (replaces the runner's own choice).
pub fn mac_prefix(kind: GuestKind) -> &'static str {
    for_kind(kind).mac_prefix()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reaches_its_family() {
        for kind in GuestKind::ALL {
            assert_eq!(for_kind(kind).family().plan(), kind.hypervisor(), "{kind}");
        }
        assert_eq!(mac_prefix(GuestKind::Kvm), "52:54:00");
        assert_eq!(mac_prefix(GuestKind::XenHvm), "00:16:3e");
        assert_eq!(for_host(crate::plan::Hypervisor::Xen).family(), Family::Xen);
        assert_eq!(platform(Family::Kvm).default_bridge(), "virbr0");
        assert_eq!(platform(Family::Xen).default_bridge(), "xenbr0");
    }

    #[test]
    fn consoles_and_command_lines_by_kind() {
        let console: Vec<_> = GuestKind::ALL.into_iter().map(|k| for_kind(k).kernel_console(k)).collect();
        assert_eq!(console, ["ttyS0", "hvc0", "hvc0", "ttyS0", "ttyS0"]);
        let extra: Vec<_> = GuestKind::ALL.into_iter().map(|k| for_kind(k).kind_cmdline(k)).collect();
        assert_eq!(extra, ["", "", "", "", "xen_nopv"]);
    }

    #[test]
    fn a_kept_guests_memory_dump_command_fits_its_family() {
        let kvm = memory_dump_command(platform(Family::Kvm), "qemu:///system", "vs-r1-0-tiny", "/var/tmp/vs.core");
        assert_eq!(kvm, "virsh -c 'qemu:///system' dump --memory-only 'vs-r1-0-tiny' '/var/tmp/vs.core'");
        let xen = memory_dump_command(platform(Family::Xen), "xen:///system", "vs-r1-0-pv", "/var/tmp/vs.core");
        assert_eq!(xen, "virsh -c 'xen:///system' dump 'vs-r1-0-pv' '/var/tmp/vs.core'");
    }

    #[test]
    fn only_directly_booted_pv_kinds_need_an_entry_note() {
        let notes: Vec<_> = GuestKind::ALL.into_iter().map(|k| for_kind(k).required_entry_note(k)).collect();
        assert_eq!(notes, [None, Some(EntryNote::XenPv), Some(EntryNote::XenPvh), None, None]);
    }
}
