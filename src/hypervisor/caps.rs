//! What a host can run, from what its libvirt says it offers (the guests of its
//! capabilities XML) and, on Xen, `xl info`'s `xen_caps`: decided before a
//! case defines any domain, so a kind the host cannot run is skipped with the
//! host's reason rather than failing its boot minutes later. Pure functions:
//! nothing here talks to a host.

use crate::events::{GuestOffer, HostFacts};
use crate::plan::GuestKind;

/// The only guest architecture virtsmoke boots.
const ARCH: &str = "x86_64";

/// The guests a capabilities XML (`virConnectGetCapabilities`) offers: one per
/// `<guest>` and architecture, with its OS type, machines and domain types.
/// libvirt's libxl driver derives them from Xen's `xen_caps`: `xen` (machine
/// `xenpv`) per PV architecture, `hvm` (`xenfv`) per HVM one and, since
/// libvirt 4.10 when built against a Xen with PVH, a `xenpvh` (`xenpvh`) beside
/// each `hvm` (PVH needs hardware virtualization like HVM).
pub fn guest_offers(caps: &str) -> Vec<GuestOffer> {
    let mut offers = Vec::new();
    for guest in caps.split("<guest>").skip(1) {
        let guest = guest.split("</guest>").next().unwrap_or(guest);
        let os_type = between(guest, "<os_type>", "</os_type>").unwrap_or_default().trim().to_string();
        for arch in guest.split("<arch name='").skip(1) {
            let Some((name, body)) = arch.split_once('\'') else { continue };
            offers.push(GuestOffer {
                os_type: os_type.clone(),
                arch: name.to_string(),
                machines: elements(body, "<machine", "</machine>"),
                domain_types: attributes(body, "<domain type='"),
            });
        }
    }
    offers
}

/// Whether the host whose facts are `facts` can run guests of `kind`; `Err`
/// says why not in the host's terms ("libvirt 7.0.0 on xen-old offers no
/// xenpvh machine"). libvirt's `test` driver stands in for every kind.
pub fn can_run(kind: GuestKind, facts: &HostFacts) -> Result<(), String> {
    if facts.hypervisor.eq_ignore_ascii_case("test") {
        return Ok(());
    }
    let (os_type, machine, domain_types, what): (&str, &str, &[&str], &str) = match kind {
        GuestKind::Kvm => ("hvm", "", &["kvm", "qemu"], "no kvm or qemu domain type for x86_64 guests"),
        GuestKind::XenPv => ("xen", "xenpv", &["xen"], "no xenpv machine"),
        GuestKind::XenPvh => ("xenpvh", "xenpvh", &["xen"], "no xenpvh machine"),
        GuestKind::XenPvhvm | GuestKind::XenHvm => ("hvm", "xenfv", &["xen"], "no xenfv (HVM) machine"),
    };
    let offered = facts.guests.iter().any(|g| {
        g.arch == ARCH
            && g.os_type == os_type
            && (machine.is_empty() || g.machines.iter().any(|m| m == machine))
            && g.domain_types.iter().any(|t| domain_types.contains(&t.as_str()))
    });
    if offered {
        return Ok(());
    }
    let mut why = format!("libvirt {} on {} offers {what}", facts.libvirt_version, host_name(facts));
    if let Some(caps) = facts.extra.get("xen_caps")
        && kind != GuestKind::Kvm
    {
        why.push_str(&format!(" (Xen's xen_caps: {caps})"));
    }
    Err(why)
}

/// Every kind, and whether `facts`' host can run it: what `virtsmoke facts` prints.
pub fn kinds(facts: &HostFacts) -> Vec<(GuestKind, Result<(), String>)> {
    GuestKind::ALL.into_iter().filter(|k| k.hypervisor() == family_of(facts)).map(|k| (k, can_run(k, facts))).collect()
}

/// The family the facts describe: Xen when libvirt's driver is Xen's, else KVM.
fn family_of(facts: &HostFacts) -> crate::plan::Hypervisor {
    if facts.hypervisor.eq_ignore_ascii_case("xen") || facts.domain_types.iter().any(|t| t == "xen") {
        crate::plan::Hypervisor::Xen
    } else {
        crate::plan::Hypervisor::Kvm
    }
}

fn host_name(facts: &HostFacts) -> &str {
    if facts.hostname.is_empty() { &facts.uri } else { &facts.hostname }
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let end = s[start..].find(close)?;
    Some(&s[start..start + end])
}

/// The texts of every `<machine …>TEXT</machine>` (attributes such as
/// `maxCpus` ignored).
fn elements(s: &str, open: &str, close: &str) -> Vec<String> {
    s.split(open)
        .skip(1)
        .filter_map(|part| {
            let text = &part[part.find('>')? + 1..];
            Some(text[..text.find(close)?].trim().to_string())
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// The values of every attribute opened by `open` (`<domain type='`), once each.
fn attributes(s: &str, open: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in s.split(open).skip(1) {
        if let Some((v, _)) = part.split_once('\'')
            && !out.iter().any(|o| o == v)
        {
            out.push(v.to_string());
        }
    }
    out
}

/// An x86_64 Xen guest offer of OS type `os_type` and machine `machine`, for tests.
#[cfg(test)]
pub fn xen_offer(os_type: &str, machine: &str) -> GuestOffer {
    GuestOffer {
        os_type: os_type.into(),
        arch: ARCH.into(),
        machines: vec![machine.into()],
        domain_types: vec!["xen".into()],
    }
}

#[cfg(test)]
#[path = "caps_tests.rs"]
mod tests;
