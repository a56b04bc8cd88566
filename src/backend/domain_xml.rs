//! Domain XML for every guest kind: pure functions, snapshot-tested.
//!
//! One builder per family, in the family's module (hypervisor/kvm.rs for
//! KVM/QEMU, hypervisor/xen.rs for Xen PV/PVH and HVM/PVHVM), so that a change
//! for one hypervisor cannot silently alter another's XML. The input types
//! live in domain_spec.rs, the shared pieces in xml_parts.rs; this file keeps
//! the names the runner uses.

use crate::hypervisor;
use crate::plan::GuestKind;

pub use super::domain_spec::{DomainType, DomainXmlInput, METADATA_NS, METADATA_PREFIX, Ownership};
pub use super::xml_parts::esc;

/// The console device a kernel of this kind should print to.
pub fn kernel_console(kind: GuestKind) -> &'static str {
    hypervisor::for_kind(kind).kernel_console(kind)
}

/// Extra kernel parameters a guest kind needs to really be that kind.
pub fn kind_cmdline(kind: GuestKind) -> &'static str {
    hypervisor::for_kind(kind).kind_cmdline(kind)
}

/// The domain XML of `input`, by its kind's family.
pub fn build(input: &DomainXmlInput) -> String {
    hypervisor::for_kind(input.kind).domain_xml(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Firmware;

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
            restart_on_reboot: false,
            owner: Ownership {
                run_id: "r1".into(),
                case: "local-kvm/tiny@lab1".into(),
                guest: "tiny".into(),
                created: 1_700_000_000,
                machine: "ci-7/3f2a9c1b7d4e".into(),
            },
        }
    }

    #[test]
    fn kvm_tcg() {
        insta::assert_snapshot!(build(&input(GuestKind::Kvm, DomainType::Qemu)));
    }

    #[test]
    fn a_guest_rebooted_on_purpose_restarts_on_every_family() {
        for (kind, ty) in [
            (GuestKind::Kvm, DomainType::Qemu),
            (GuestKind::XenPv, DomainType::Xen),
            (GuestKind::XenHvm, DomainType::Xen),
        ] {
            let mut i = input(kind, ty);
            assert!(build(&i).contains("<on_reboot>destroy</on_reboot>"), "{kind:?}");
            i.restart_on_reboot = true;
            let xml = build(&i);
            assert!(xml.contains("<on_reboot>restart</on_reboot>") && !xml.contains("<on_reboot>destroy"), "{kind:?}");
        }
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
