//! The one interface every hypervisor family implements (modelled on kola's
//! platform interfaces): what differs between KVM and Xen is answered by a
//! family's module (kvm.rs, xen.rs), never by `if xen` elsewhere.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::backend::domain_spec::DomainXmlInput;
use crate::plan::GuestKind;

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

/// The entry point a kernel must declare (an ELF note) to boot as a kind:
/// checked before the boot, which would otherwise fail without a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryNote {
    /// `XEN_ELFNOTE_ENTRY`: a Xen PV kernel.
    XenPv,
    /// `XEN_ELFNOTE_PHYS32_ENTRY`: a Xen PVH kernel.
    XenPvh,
}

impl EntryNote {
    pub fn what(self) -> &'static str {
        match self {
            EntryNote::XenPv => "Xen PV",
            EntryNote::XenPvh => "Xen PVH",
        }
    }
}

/// The libvirt domain capabilities to ask for a kind's firmware loader
/// (`virConnectGetDomainCapabilities`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoaderQuery {
    pub virttype: &'static str,
    pub arch: &'static str,
    pub machine: &'static str,
}

/// A hypervisor's own list of domains, which still shows one libvirt lost
/// track of (xenstore on Xen).
#[derive(Debug, Clone, Copy)]
pub struct LeakSource {
    /// Host command printing the domains.
    pub command: &'static str,
    /// Its output into domain id → name.
    pub parse: fn(&str) -> BTreeMap<u32, String>,
    /// The host command that removes domain `id`.
    pub destroy: fn(u32) -> String,
}

/// A host command whose output becomes facts, and how to read them.
pub type FactsCommand = (&'static str, fn(&str) -> Vec<(String, String)>);

/// What virtsmoke knows of one hypervisor family.
pub trait Platform: Send + Sync {
    fn family(&self) -> Family;

    /// The bridge guests join when a host names none.
    fn default_bridge(&self) -> &'static str;

    /// The first three octets of the MACs guests get.
    fn mac_prefix(&self) -> &'static str;

    /// The console device a kernel of `kind` prints to.
    fn kernel_console(&self, kind: GuestKind) -> &'static str;

    /// Kernel parameters `kind` needs to really be that kind ("" for none).
    fn kind_cmdline(&self, kind: GuestKind) -> &'static str;

    /// The entry point a kernel booted directly as `kind` must declare, if any.
    fn required_entry_note(&self, kind: GuestKind) -> Option<EntryNote>;

    /// The domain XML of `input` (whose kind is of this family).
    fn domain_xml(&self, input: &DomainXmlInput) -> String;

    /// Which domain capabilities name the firmware loader of `kind`; `None`
    /// when libvirt picks the firmware itself.
    fn loader_query(&self, kind: GuestKind) -> Option<LoaderQuery>;

    /// The loader to name in the domain XML, from the domain capabilities
    /// XML; `None`: leave `<loader>` out.
    fn loader_from_capabilities(&self, caps: &str) -> Option<PathBuf>;

    /// Host commands whose output explains a guest's failure: (file suffix,
    /// command) for domain `domain`.
    fn evidence_commands(&self, domain: &str) -> Vec<(&'static str, String)>;

    /// A host command printing the error lines of the hypervisor's own logs
    /// for a migration of `domain` (each line starting with its UTC time,
    /// `YYYY-MM-DD HH:MM:SS`), where libvirt's error says less than they do.
    fn migration_log_command(&self, _domain: &str) -> Option<String> {
        None
    }

    /// The hypervisor's own domain list, where it has one beside libvirt's.
    fn leak_source(&self) -> Option<LeakSource>;

    /// Host commands whose output are facts of the host (`xl info`).
    fn facts_commands(&self) -> Vec<FactsCommand>;

    /// The `virsh dump` options that write a guest's memory in the form a
    /// kernel debugger reads: QEMU's `--memory-only` ELF (for `crash`); libxl
    /// takes no `--memory-only` (it accepts only `--live` and `--crash`) and
    /// writes Xen's own core format.
    fn memory_dump_options(&self) -> &'static str {
        "--memory-only"
    }
}

/// The command a human runs to dump a kept guest's memory to `file` (a path
/// on the libvirt host: libvirtd writes it).
pub fn memory_dump_command(platform: &dyn Platform, uri: &str, domain: &str, file: &str) -> String {
    let options = platform.memory_dump_options();
    let options = if options.is_empty() { String::new() } else { format!(" {options}") };
    format!(
        "virsh -c {} dump{options} {} {}",
        crate::shell::quote(uri),
        crate::shell::quote(domain),
        crate::shell::quote(file)
    )
}
