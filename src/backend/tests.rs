//! The libvirt layer against libvirt's own `test:///default` driver: real
//! libvirt calls, no hypervisor. The real runs are the end-to-end tests.

use super::domain_xml::{self, DomainType, DomainXmlInput, Ownership};
use super::{BackendError, Host, RunState};
use crate::plan::GuestKind;

fn xml(name: &str, run: &str, created: u64) -> String {
    domain_xml::build(&DomainXmlInput {
        name: name.into(),
        kind: GuestKind::Kvm,
        domain_type: DomainType::Qemu,
        memory_mib: 128,
        vcpus: 1,
        kernel: Some("/boot/vmlinuz".into()),
        initrd: None,
        cmdline: "console=ttyS0".into(),
        disk: None,
        seed: None,
        bridge: "vsbr0".into(),
        mac: "52:54:00:00:00:01".into(),
        hvmloader: Default::default(),
        firmware: crate::plan::Firmware::Bios,
        nvram: None,
        restart_on_reboot: false,
        owner: Ownership { run_id: run.into(), case: "s/c@h".into(), guest: "g".into(), created, machine: "m".into() },
    })
}

#[tokio::test]
async fn create_list_owned_and_remove() {
    let host = Host::connect("test", "test:///default").await.unwrap();
    let facts = host.facts().await.unwrap();
    assert_eq!(facts.hypervisor, "TEST");
    assert!(!facts.libvirt_version.is_empty());

    let dom = host.create_paused("vs-t1-0-g", xml("vs-t1-0-g", "t1", 42)).await.unwrap();
    assert_eq!(dom.state().await.unwrap(), RunState::Paused);
    dom.resume().await.unwrap();
    assert_eq!(dom.state().await.unwrap(), RunState::Running);
    assert!(dom.xml().await.unwrap().contains("urn:x-virtsmoke:run:1"));

    let owned = host.owned_domains().await.unwrap();
    let mine: Vec<_> = owned.iter().filter(|d| d.name == "vs-t1-0-g").collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].run_id, "t1");
    assert_eq!(mine[0].created, 42);
    // The driver's own sample domain carries no virtsmoke metadata and is never ours.
    assert!(owned.iter().all(|d| d.name != "test"));
    assert!(host.domain_names().await.unwrap().contains(&"test".to_string()));

    dom.destroy().await.unwrap();
    assert_eq!(dom.state().await.unwrap(), RunState::Gone);
    assert!(!host.remove_domain("vs-t1-0-g").await.unwrap(), "already gone");
}

#[tokio::test]
async fn a_bad_uri_is_a_connect_error() {
    let err = Host::connect("nope", "qemu+unix:///system?socket=/nonexistent/sock").await.err().unwrap();
    let text = crate::error_chain(&err);
    assert!(text.starts_with("cannot connect to libvirt at `qemu+unix:///system?socket=/nonexistent/sock`"), "{text}");
}

#[tokio::test]
async fn a_uri_that_runs_a_local_program_is_refused_before_libvirt_sees_it() {
    let err = Host::connect("x", "test+ext:///default?command=/bin/false").await.err().unwrap();
    assert!(matches!(err, BackendError::RefusedUri(_)), "{err:?}");
    assert!(crate::error_chain(&err).contains("would run a program on this machine"), "{err}");
}

#[tokio::test]
async fn loaders_come_from_the_host_or_are_left_out() {
    let host = Host::connect("t", "test:///default").await.unwrap();
    // KVM and Xen PV name no loader, without asking the host.
    assert_eq!(host.firmware_loader(GuestKind::Kvm).await.unwrap(), None);
    assert_eq!(host.firmware_loader(GuestKind::XenPv).await.unwrap(), None);
    // The test driver is no Xen host: whatever it answers, it names no hvmloader.
    assert_eq!(host.firmware_loader(GuestKind::XenHvm).await.ok().flatten(), None);
}

/// libvirt's schema takes a Xen HVM domain without `<loader>` (libxl then
/// runs its own hvmloader).
#[test]
fn a_xen_hvm_domain_without_a_loader_validates() {
    let mut input = xen_hvm_input();
    input.hvmloader = Default::default();
    let xml = domain_xml::build(&input);
    assert!(!xml.contains("<loader"), "{xml}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.xml");
    std::fs::write(&path, &xml).unwrap();
    let out = std::process::Command::new("virt-xml-validate").arg(&path).arg("domain").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    input.hvmloader = "/usr/lib/xen/boot/hvmloader".into();
    assert!(domain_xml::build(&input).contains("<loader type='rom'>/usr/lib/xen/boot/hvmloader</loader>"));
}

fn xen_hvm_input() -> DomainXmlInput {
    DomainXmlInput {
        name: "vs-v-0-hvm".into(),
        kind: GuestKind::XenHvm,
        domain_type: DomainType::Xen,
        memory_mib: 256,
        vcpus: 1,
        kernel: None,
        initrd: None,
        cmdline: String::new(),
        disk: Some("/var/tmp/o.qcow2".into()),
        seed: None,
        bridge: "br0".into(),
        mac: "00:16:3e:00:00:01".into(),
        hvmloader: Default::default(),
        firmware: crate::plan::Firmware::Bios,
        nvram: None,
        restart_on_reboot: false,
        owner: Ownership { run_id: "r".into(), case: "c".into(), guest: "g".into(), created: 1, machine: "m".into() },
    }
}

#[test]
fn every_kind_validates_against_libvirts_schema() {
    for kind in GuestKind::ALL {
        let dt = if kind == GuestKind::Kvm { DomainType::Qemu } else { DomainType::Xen };
        let mut input = DomainXmlInput {
            name: format!("vs-v-0-{kind}"),
            kind,
            domain_type: dt,
            memory_mib: 256,
            vcpus: 2,
            kernel: Some("/k".into()),
            initrd: Some("/i".into()),
            cmdline: "console=hvc0".into(),
            disk: Some("/var/tmp/o.qcow2".into()),
            seed: None,
            bridge: "br0".into(),
            mac: "00:16:3e:00:00:01".into(),
            hvmloader: "/usr/lib/xen-4.17/boot/hvmloader".into(),
            firmware: crate::plan::Firmware::Bios,
            nvram: None,
            restart_on_reboot: false,
            owner: Ownership {
                run_id: "r".into(),
                case: "c".into(),
                guest: "g".into(),
                created: 1,
                machine: "m".into(),
            },
        };
        for (with_kernel, with_seed) in [(true, false), (true, true), (false, true)] {
            if !with_kernel {
                input.kernel = None;
                input.initrd = None;
            }
            input.seed = with_seed.then(|| "/var/tmp/vs-v-0-g.seed.iso".into());
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("d.xml");
            std::fs::write(&path, domain_xml::build(&input)).unwrap();
            let out = std::process::Command::new("virt-xml-validate").arg(&path).arg("domain").output().unwrap();
            assert!(out.status.success(), "{kind}: {}", String::from_utf8_lossy(&out.stderr));
        }
        if kind == GuestKind::Kvm {
            input.firmware = crate::plan::Firmware::Uefi;
            input.nvram = Some("/var/tmp/vs-v-0-g.nvram.fd".into());
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("d.xml");
            std::fs::write(&path, domain_xml::build(&input)).unwrap();
            let out = std::process::Command::new("virt-xml-validate").arg(&path).arg("domain").output().unwrap();
            assert!(out.status.success(), "uefi: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}
