//! KVM/QEMU: what virtsmoke knows of the family, and its domain XML.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::platform::{EntryNote, FactsCommand, Family, LeakSource, LoaderQuery, Platform};
use crate::backend::domain_spec::{DomainType, DomainXmlInput};
use crate::backend::xml_parts::{boot_files, cdrom, disk, esc, header, lifecycle, nic};
use crate::plan::{Firmware, GuestKind};

/// The KVM/QEMU family.
pub struct Kvm;

impl Platform for Kvm {
    fn family(&self) -> Family {
        Family::Kvm
    }

    fn default_bridge(&self) -> &'static str {
        "virbr0"
    }

    /// QEMU's own OUI.
    fn mac_prefix(&self) -> &'static str {
        "52:54:00"
    }

    fn kernel_console(&self, _kind: GuestKind) -> &'static str {
        "ttyS0"
    }

    fn kind_cmdline(&self, _kind: GuestKind) -> &'static str {
        ""
    }

    fn required_entry_note(&self, _kind: GuestKind) -> Option<EntryNote> {
        None
    }

    fn domain_xml(&self, input: &DomainXmlInput) -> String {
        build(input)
    }

    /// BIOS is QEMU's default and UEFI is chosen by libvirt from the host's
    /// firmware descriptors (`<os firmware='efi'>`): nothing to name.
    fn loader_query(&self, _kind: GuestKind) -> Option<LoaderQuery> {
        None
    }

    fn loader_from_capabilities(&self, _caps: &str) -> Option<PathBuf> {
        None
    }

    fn evidence_commands(&self, _domain: &str) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    fn leak_source(&self) -> Option<LeakSource> {
        None
    }

    fn facts_commands(&self) -> Vec<FactsCommand> {
        Vec::new()
    }
}

fn build(input: &DomainXmlInput) -> String {
    let mut x = header(input);
    if input.firmware == Firmware::Uefi {
        // libvirt picks OVMF from the host's firmware descriptors (Debian's
        // /usr/share/OVMF, EL's /usr/share/edk2), without secure boot, whose
        // builds need SMM and enrolled keys.
        x.push_str(
            "  <os firmware='efi'>\n    <type arch='x86_64' machine='pc'>hvm</type>\n    \
             <firmware>\n      <feature enabled='no' name='secure-boot'/>\n    </firmware>\n",
        );
        if let Some(nvram) = &input.nvram {
            let _ = writeln!(x, "    <nvram>{}</nvram>", esc(&nvram.display().to_string()));
        }
    } else {
        x.push_str("  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n");
    }
    boot_files(&mut x, input);
    x.push_str("  </os>\n  <features>\n    <acpi/>\n    <apic/>\n  </features>\n");
    if input.domain_type == DomainType::Kvm {
        x.push_str("  <cpu mode='host-passthrough'/>\n");
    }
    lifecycle(&mut x, input);
    x.push_str("  <devices>\n");
    disk(&mut x, input, "vda", "virtio");
    if input.firmware == Firmware::Uefi {
        // After OVMF, Linux's ata_piix finds no ATAPI device on the IDE bus
        // (measured: Debian 12's cloud kernel, QEMU 7.2), and that kernel has
        // no AHCI driver: the seed goes on virtio-scsi, which both drive.
        if input.seed.is_some() {
            x.push_str("    <controller type='scsi' index='0' model='virtio-scsi'/>\n");
        }
        cdrom(&mut x, input, "sda", "scsi");
    } else {
        cdrom(&mut x, input, "hdc", "ide");
    }
    if !input.bridge.is_empty() {
        nic(&mut x, input, Some("virtio"));
    }
    x.push_str(
        "    <serial type='pty'>\n      <target port='0'/>\n    </serial>\n    \
         <console type='pty'>\n      <target type='serial' port='0'/>\n    </console>\n    \
         <rng model='virtio'>\n      <backend model='random'>/dev/urandom</backend>\n    </rng>\n    \
         <memballoon model='none'/>\n",
    );
    x.push_str("  </devices>\n</domain>\n");
    x
}
