//! Domain XML for every guest kind: pure functions, snapshot-tested.
//!
//! One builder per family (KVM/QEMU, Xen PV/PVH, Xen HVM/PVHVM) so that a
//! change for one hypervisor cannot silently alter another's XML.

use std::fmt::Write as _;
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
    pub owner: Ownership,
}

/// The console device a kernel of this kind should print to.
pub fn kernel_console(kind: GuestKind) -> &'static str {
    match kind {
        GuestKind::XenPv | GuestKind::XenPvh => "hvc0",
        GuestKind::Kvm | GuestKind::XenPvhvm | GuestKind::XenHvm => "ttyS0",
    }
}

/// Extra kernel parameters a guest kind needs to really be that kind.
pub fn kind_cmdline(kind: GuestKind) -> &'static str {
    match kind {
        // Without this, a Linux HVM guest uses its PV drivers and becomes PVHVM.
        GuestKind::XenHvm => "xen_nopv",
        _ => "",
    }
}

pub fn build(input: &DomainXmlInput) -> String {
    match input.kind {
        GuestKind::Kvm => build_kvm(input),
        GuestKind::XenPv | GuestKind::XenPvh => build_xen_pv(input),
        GuestKind::XenPvhvm | GuestKind::XenHvm => build_xen_hvm(input),
    }
}

fn build_kvm(input: &DomainXmlInput) -> String {
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
    lifecycle(&mut x);
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

fn build_xen_pv(input: &DomainXmlInput) -> String {
    let mut x = header(input);
    if input.kernel.is_none() {
        // A PV guest has no firmware: without a kernel, the host's pygrub reads
        // the disk's boot loader configuration. A bare name, which libxl finds
        // in Xen's own directory (Debian: /usr/lib/xen-4.17/bin, EL: /usr/lib/xen/bin).
        // The disk's command line names serial consoles a PV guest lacks, so
        // the last `console=` (the one that wins) is added.
        let _ = writeln!(
            x,
            "  <bootloader>pygrub</bootloader>\n  <bootloader_args>--args=console={}</bootloader_args>",
            kernel_console(input.kind)
        );
    }
    let os_type = match input.kind {
        GuestKind::XenPvh => "<type arch='x86_64' machine='xenpvh'>xenpvh</type>",
        _ => "<type arch='x86_64' machine='xenpv'>linux</type>",
    };
    let _ = writeln!(x, "  <os>\n    {os_type}");
    if input.kernel.is_some() {
        boot_files(&mut x, input);
    }
    x.push_str("  </os>\n");
    lifecycle(&mut x);
    x.push_str("  <devices>\n");
    disk(&mut x, input, "xvda", "xen");
    // PV and PVH guests have no emulated CD-ROM: the seed is a second disk.
    // Writable: the seed is the case's own copy, and Xen's qdisk backend (QEMU
    // 7.2 in Debian 12's dom0) refuses a read-only one ("Block node is read-only").
    if let Some(s) = &input.seed {
        let _ = writeln!(
            x,
            "    <disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>\n      \
             <source file='{}'/>\n      <target dev='xvdb' bus='xen'/>\n    </disk>",
            esc(&s.display().to_string())
        );
    }
    nic(&mut x, input, None);
    x.push_str("    <console type='pty'>\n      <target type='xen' port='0'/>\n    </console>\n");
    x.push_str("  </devices>\n</domain>\n");
    x
}

fn build_xen_hvm(input: &DomainXmlInput) -> String {
    let mut x = header(input);
    let _ = writeln!(
        x,
        "  <os>\n    <type arch='x86_64' machine='xenfv'>hvm</type>\n    <loader type='rom'>{}</loader>",
        esc(&input.hvmloader.display().to_string())
    );
    boot_files(&mut x, input);
    x.push_str("  </os>\n  <features>\n    <acpi/>\n    <apic/>\n    <pae/>\n  </features>\n");
    lifecycle(&mut x);
    x.push_str("  <devices>\n");
    disk(&mut x, input, "hda", "ide");
    cdrom(&mut x, input, "hdc", "ide");
    // Plain HVM gets an emulated NIC it cannot unplug; PVHVM keeps the default
    // so the guest's netfront takes over.
    let model = (input.kind == GuestKind::XenHvm).then_some("e1000");
    nic(&mut x, input, model);
    x.push_str(
        "    <serial type='pty'>\n      <target port='0'/>\n    </serial>\n    \
         <console type='pty'>\n      <target type='serial' port='0'/>\n    </console>\n",
    );
    x.push_str("  </devices>\n</domain>\n");
    x
}

fn header(input: &DomainXmlInput) -> String {
    let o = &input.owner;
    format!(
        "<domain type='{ty}'>\n  <name>{name}</name>\n  <metadata>\n    \
         <{p}:owner xmlns:{p}='{ns}'>\n      <{p}:run>{run}</{p}:run>\n      \
         <{p}:case>{case}</{p}:case>\n      <{p}:guest>{guest}</{p}:guest>\n      \
         <{p}:created>{created}</{p}:created>\n    </{p}:owner>\n  </metadata>\n  \
         <memory unit='MiB'>{mem}</memory>\n  <vcpu>{vcpus}</vcpu>\n",
        ty = input.domain_type.as_str(),
        name = esc(&input.name),
        p = METADATA_PREFIX,
        ns = METADATA_NS,
        run = esc(&o.run_id),
        case = esc(&o.case),
        guest = esc(&o.guest),
        created = o.created,
        mem = input.memory_mib,
        vcpus = input.vcpus,
    )
}

fn boot_files(x: &mut String, input: &DomainXmlInput) {
    if let Some(k) = &input.kernel {
        let _ = writeln!(x, "    <kernel>{}</kernel>", esc(&k.display().to_string()));
        if let Some(i) = &input.initrd {
            let _ = writeln!(x, "    <initrd>{}</initrd>", esc(&i.display().to_string()));
        }
        let _ = writeln!(x, "    <cmdline>{}</cmdline>", esc(&input.cmdline));
    } else {
        x.push_str("    <boot dev='hd'/>\n");
    }
}

fn lifecycle(x: &mut String) {
    // A guest that powers off or reboots on its own ends its domain, which the
    // harness sees as a distinct outcome; a crash is kept for inspection.
    x.push_str(
        "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n  \
         <on_crash>preserve</on_crash>\n",
    );
}

fn disk(x: &mut String, input: &DomainXmlInput, dev: &str, bus: &str) {
    if let Some(d) = &input.disk {
        let _ = writeln!(
            x,
            "    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n      \
             <source file='{}'/>\n      <target dev='{dev}' bus='{bus}'/>\n    </disk>",
            esc(&d.display().to_string())
        );
    }
}

fn cdrom(x: &mut String, input: &DomainXmlInput, dev: &str, bus: &str) {
    if let Some(s) = &input.seed {
        let _ = writeln!(
            x,
            "    <disk type='file' device='cdrom'>\n      <driver name='qemu' type='raw'/>\n      \
             <source file='{}'/>\n      <target dev='{dev}' bus='{bus}'/>\n      <readonly/>\n    </disk>",
            esc(&s.display().to_string())
        );
    }
}

fn nic(x: &mut String, input: &DomainXmlInput, model: Option<&str>) {
    let _ = write!(
        x,
        "    <interface type='bridge'>\n      <source bridge='{}'/>\n      <mac address='{}'/>\n",
        esc(&input.bridge),
        esc(&input.mac)
    );
    if let Some(m) = model {
        let _ = writeln!(x, "      <model type='{m}'/>");
    }
    x.push_str("    </interface>\n");
}

/// Escapes text for XML content and single-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(kind: GuestKind, domain_type: DomainType) -> DomainXmlInput {
        DomainXmlInput {
            name: "vs-r1-0-tiny".into(),
            kind,
            domain_type,
            memory_mib: 256,
            vcpus: 1,
            kernel: Some("/var/cache/virtsmoke/images/test-image-abc/vmlinuz".into()),
            initrd: Some("/var/cache/virtsmoke/images/test-image-abc/initrd.img".into()),
            cmdline: format!("console={} virtsmoke.hostname=tiny", kernel_console(kind)),
            disk: None,
            seed: None,
            bridge: "vsbr0".into(),
            mac: "52:54:00:12:34:56".into(),
            hvmloader: "/usr/lib/xen-4.17/boot/hvmloader".into(),
            firmware: Firmware::Bios,
            nvram: None,
            owner: Ownership {
                run_id: "r1".into(),
                case: "local-kvm/tiny@lab1".into(),
                guest: "tiny".into(),
                created: 1_700_000_000,
            },
        }
    }

    #[test]
    fn kvm_tcg() {
        insta::assert_snapshot!(build(&input(GuestKind::Kvm, DomainType::Qemu)));
    }

    #[test]
    fn kvm_uefi_has_its_own_nvram_and_no_secure_boot() {
        let mut i = input(GuestKind::Kvm, DomainType::Qemu);
        i.firmware = Firmware::Uefi;
        i.nvram = Some("/var/tmp/virtsmoke/runs/r1/vs-r1-0-tiny.nvram.fd".into());
        insta::assert_snapshot!(build(&i));
    }

    #[test]
    fn kvm_accelerated_passes_host_cpu() {
        let xml = build(&input(GuestKind::Kvm, DomainType::Kvm));
        assert!(xml.starts_with("<domain type='kvm'>"));
        assert!(xml.contains("<cpu mode='host-passthrough'/>"));
    }

    #[test]
    fn kvm_with_disk_and_no_kernel_boots_from_disk() {
        let mut i = input(GuestKind::Kvm, DomainType::Qemu);
        i.kernel = None;
        i.initrd = None;
        i.disk = Some("/var/tmp/run/overlay.qcow2".into());
        insta::assert_snapshot!(build(&i));
    }

    #[test]
    fn kvm_disk_image_with_kernel_and_seed() {
        let mut i = input(GuestKind::Kvm, DomainType::Qemu);
        i.cmdline = "console=ttyS0 root=LABEL=vs-debian rw net.ifnames=0".into();
        i.disk = Some("/var/tmp/virtsmoke/runs/r1/vs-r1-0-tiny.overlay.qcow2".into());
        i.seed = Some("/var/tmp/virtsmoke/runs/r1/vs-r1-0-tiny.seed.iso".into());
        insta::assert_snapshot!(build(&i));
    }

    #[test]
    fn xen_pv_seed_is_a_second_disk() {
        let mut i = input(GuestKind::XenPv, DomainType::Xen);
        i.disk = Some("/r/vs-r1-0-tiny.overlay.qcow2".into());
        i.seed = Some("/r/vs-r1-0-tiny.seed.iso".into());
        let xml = build(&i);
        assert!(
            xml.contains(
                "<source file='/r/vs-r1-0-tiny.seed.iso'/>\n      <target dev='xvdb' bus='xen'/>\n    </disk>"
            ),
            "{xml}"
        );
        assert!(!xml.contains("cdrom"), "{xml}");
        let mut h = input(GuestKind::XenHvm, DomainType::Xen);
        h.seed = i.seed.clone();
        assert!(build(&h).contains("<disk type='file' device='cdrom'>"));
    }

    /// A guest booted by its disk's own boot loader: no kernel, a disk and a seed.
    fn disk_boot(kind: GuestKind, domain_type: DomainType) -> DomainXmlInput {
        let mut i = input(kind, domain_type);
        i.kernel = None;
        i.initrd = None;
        i.disk = Some("/r/vs-r1-0-tiny.overlay.qcow2".into());
        i.seed = Some("/r/vs-r1-0-tiny.seed.iso".into());
        i
    }

    #[test]
    fn xen_pv_from_disk_runs_pygrub_with_the_pv_console() {
        insta::assert_snapshot!(build(&disk_boot(GuestKind::XenPv, DomainType::Xen)));
    }

    #[test]
    fn xen_pvhvm_from_disk_boots_the_disk() {
        insta::assert_snapshot!(build(&disk_boot(GuestKind::XenPvhvm, DomainType::Xen)));
    }

    #[test]
    fn kvm_uefi_from_disk_boots_the_disk() {
        let mut i = disk_boot(GuestKind::Kvm, DomainType::Qemu);
        i.firmware = Firmware::Uefi;
        insta::assert_snapshot!(build(&i));
    }

    #[test]
    fn xen_pv() {
        insta::assert_snapshot!(build(&input(GuestKind::XenPv, DomainType::Xen)));
    }

    #[test]
    fn xen_pvh() {
        insta::assert_snapshot!(build(&input(GuestKind::XenPvh, DomainType::Xen)));
    }

    #[test]
    fn xen_pvhvm() {
        insta::assert_snapshot!(build(&input(GuestKind::XenPvhvm, DomainType::Xen)));
    }

    #[test]
    fn xen_hvm_uses_emulated_nic() {
        insta::assert_snapshot!(build(&input(GuestKind::XenHvm, DomainType::Xen)));
    }

    #[test]
    fn text_is_escaped() {
        let mut i = input(GuestKind::Kvm, DomainType::Qemu);
        i.cmdline = "a<b & 'c'".into();
        i.owner.case = "x</virtsmoke:case>".into();
        let xml = build(&i);
        assert!(xml.contains("<cmdline>a&lt;b &amp; &apos;c&apos;</cmdline>"));
        assert!(xml.contains("x&lt;/virtsmoke:case&gt;"));
    }
}
