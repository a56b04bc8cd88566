//! `caps` against capabilities XML as each Debian build's libvirt writes it
//! (testdata/: libxl on bullseye, bookworm and trixie, and a Xen without HVM,
//! as nested Xen on a CPU without VMX exposed).

use super::*;

const BULLSEYE: &str = include_str!("testdata/libxl-7.0.0-xen-4.14.xml");
const NO_HVM: &str = include_str!("testdata/libxl-7.0.0-xen-4.14-no-hvm.xml");
const BOOKWORM: &str = include_str!("testdata/libxl-9.0.0-xen-4.17.xml");
const TRIXIE: &str = include_str!("testdata/libxl-11.3.0-xen-4.20.xml");

fn xen_facts(host: &str, libvirt: &str, caps: &str, xen_caps: &str) -> HostFacts {
    let mut f = HostFacts {
        uri: format!("xen+ssh://root@{host}/system"),
        hostname: host.into(),
        hypervisor: "Xen".into(),
        libvirt_version: libvirt.into(),
        domain_types: vec!["xen".into()],
        guests: guest_offers(caps),
        ..HostFacts::default()
    };
    f.extra.insert("xen_caps".into(), xen_caps.into());
    f
}

#[test]
fn libxl_offers_are_read_per_guest_and_architecture() {
    let offers = guest_offers(BOOKWORM);
    let summary: Vec<String> = offers
        .iter()
        .map(|o| format!("{}/{}/{}/{}", o.os_type, o.arch, o.machines.join("+"), o.domain_types.join("+")))
        .collect();
    assert_eq!(
        summary,
        [
            "xen/x86_64/xenpv/xen",
            "hvm/i686/xenfv/xen",
            "xenpvh/i686/xenpvh/xen",
            "hvm/x86_64/xenfv/xen",
            "xenpvh/x86_64/xenpvh/xen"
        ]
    );
    assert_eq!(guest_offers(TRIXIE), guest_offers(BOOKWORM), "same offers, only paths differ");
    // Xen 4.14 still runs 32-bit PV guests (`xen-3.0-x86_32p`): one more offer.
    assert_eq!(guest_offers(BULLSEYE).len(), 6);
    let bare: Vec<String> = guest_offers(NO_HVM).into_iter().map(|o| o.os_type).collect();
    assert_eq!(bare, ["xen", "xen"]);
}

#[test]
fn machines_with_attributes_and_qemu_domain_types_are_read() {
    let qemu = "<capabilities><guest><os_type>hvm</os_type><arch name='x86_64'><wordsize>64</wordsize>\
        <emulator>/usr/bin/qemu-system-x86_64</emulator><machine maxCpus='288'>pc-q35-7.2</machine>\
        <machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine><domain type='qemu'/><domain type='kvm'/>\
        </arch></guest></capabilities>";
    let o = guest_offers(qemu);
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].machines, ["pc-q35-7.2", "q35"]);
    assert_eq!(o[0].domain_types, ["qemu", "kvm"]);
    let f = HostFacts { hypervisor: "QEMU".into(), guests: o, ..HostFacts::default() };
    assert_eq!(can_run(GuestKind::Kvm, &f), Ok(()));
    assert_eq!(kinds(&f).len(), 1, "a KVM host is asked only about kvm");
}

#[test]
fn every_debian_build_with_hvm_runs_every_xen_kind() {
    for (libvirt, caps) in [("7.0.0", BULLSEYE), ("9.0.0", BOOKWORM), ("11.3.0", TRIXIE)] {
        let f = xen_facts("xen1", libvirt, caps, "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64");
        let verdicts = kinds(&f);
        assert_eq!(verdicts.len(), 4, "{libvirt}");
        assert!(verdicts.iter().all(|(_, r)| r.is_ok()), "{libvirt}: {verdicts:?}");
    }
}

#[test]
fn a_xen_without_hvm_runs_only_pv_and_says_why_not_the_rest() {
    let f = xen_facts("xen-old", "7.0.0", NO_HVM, "xen-3.0-x86_64 xen-3.0-x86_32p");
    assert_eq!(can_run(GuestKind::XenPv, &f), Ok(()));
    assert_eq!(
        can_run(GuestKind::XenPvh, &f),
        Err("libvirt 7.0.0 on xen-old offers no xenpvh machine (Xen's xen_caps: xen-3.0-x86_64 xen-3.0-x86_32p)".into())
    );
    for kind in [GuestKind::XenHvm, GuestKind::XenPvhvm] {
        assert_eq!(
            can_run(kind, &f),
            Err("libvirt 7.0.0 on xen-old offers no xenfv (HVM) machine (Xen's xen_caps: xen-3.0-x86_64 xen-3.0-x86_32p)"
                .into())
        );
    }
    assert_eq!(
        can_run(GuestKind::Kvm, &f),
        Err("libvirt 7.0.0 on xen-old offers no kvm or qemu domain type for x86_64 guests".into())
    );
}

#[test]
fn only_x86_64_guests_count() {
    // An i686-only hvm offer does not run an x86_64 HVM guest.
    let caps = BOOKWORM.replace("<arch name='x86_64'>\n      <wordsize>64</wordsize>\n      <emulator>/usr/lib/xen-4.17/bin/qemu-system-i386</emulator>\n      <loader>", "<arch name='ppc64'>\n      <loader>");
    let f = xen_facts("xen1", "9.0.0", &caps, "");
    assert!(can_run(GuestKind::XenHvm, &f).is_err());
    assert_eq!(can_run(GuestKind::XenPvh, &f), Ok(()));
}

#[test]
fn the_test_driver_stands_in_for_every_kind_and_no_name_falls_back_to_the_uri() {
    let test = HostFacts { hypervisor: "Test".into(), ..HostFacts::default() };
    assert!(GuestKind::ALL.into_iter().all(|k| can_run(k, &test).is_ok()));
    let f = HostFacts {
        uri: "xen:///system".into(),
        hypervisor: "Xen".into(),
        libvirt_version: "9.0.0".into(),
        ..HostFacts::default()
    };
    assert_eq!(can_run(GuestKind::XenPv, &f), Err("libvirt 9.0.0 on xen:///system offers no xenpv machine".into()));
}
