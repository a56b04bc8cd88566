//! `guests:` templates.

use std::net::IpAddr;

use crate::plan::{Firmware, GuestKind, GuestNetwork};

use super::ctx::Cx;
use super::suggest;
use super::yaml::{Node, Value};

pub(crate) const KEYS: &[&str] = &["kind", "image", "memory_mib", "vcpus", "count", "network", "firmware"];

pub(crate) const DEFAULT_MEMORY_MIB: u64 = 256;
pub(crate) const DEFAULT_VCPUS: u32 = 1;

/// A validated guest template; references to images are checked.
#[derive(Debug)]
pub(crate) struct GuestTemplate<'n> {
    pub name: String,
    pub key: &'n Node,
    pub kind: GuestKind,
    /// The `kind:` value, where kind/host mismatches point.
    pub kind_node: &'n Node,
    pub image: String,
    pub memory_mib: u64,
    pub vcpus: u32,
    pub count: u32,
    pub network: GuestNetwork,
    /// With the `firmware:` value, where a firmware the kind lacks points.
    pub firmware: (Firmware, Option<&'n Node>),
}

pub(crate) fn kind_names() -> Vec<&'static str> {
    GuestKind::ALL.iter().map(|k| k.as_str()).collect()
}

/// Reads one guest template; `None` if anything in it is wrong (all of it reported).
/// `images` are the names defined under `images:`.
pub(crate) fn guest<'n>(
    cx: &mut Cx<'_>,
    name: &str,
    key: &'n Node,
    value: &'n Node,
    images: &[&str],
) -> Option<GuestTemplate<'n>> {
    let before = cx.diags.len();
    cx.name(key, name, "guest name");
    let f = cx.fields(key, value, format!("guest `{name}`"), KEYS)?;

    let kind = match f.get("kind") {
        Some(n) => cx.choice(n, &f.desc("kind"), &kind_names()).and_then(GuestKind::parse).map(|k| (k, n)),
        None => {
            let help = format!("expected one of {}", suggest::list(kind_names()));
            cx.missing(&f, "kind", Some(help));
            None
        }
    };
    let image = match f.get("image") {
        Some(n) => cx
            .text(n, &f.desc("image"))
            .and_then(|i| image_ref(cx, n, &i, &format!("guest `{name}`"), images).then_some(i)),
        None => {
            let help = if images.is_empty() {
                "define an image under `images:` and name it here, e.g. `image: tiny`".to_owned()
            } else {
                format!("defined images are: {}", suggest::list(images.iter().copied()))
            };
            cx.missing(&f, "image", Some(help));
            None
        }
    };
    let memory_mib = f.get("memory_mib").map_or(Some(DEFAULT_MEMORY_MIB), |n| cx.u64(n, &f.desc("memory_mib"), 64));
    let vcpus = f.get("vcpus").map_or(Some(DEFAULT_VCPUS), |n| cx.u32(n, &f.desc("vcpus"), 1, 64));
    let count = f.get("count").map_or(Some(1), |n| cx.u32(n, &f.desc("count"), 1, 64));
    let network =
        f.get("network").map_or(Some(GuestNetwork::Dhcp), |n| network(cx, f.key_node("network").unwrap_or(n), n, name));
    let firmware = match f.get("firmware") {
        None => Some((Firmware::Bios, None)),
        Some(n) => cx
            .choice(n, &f.desc("firmware"), &["bios", "uefi"])
            .map(|c| (if c == "uefi" { Firmware::Uefi } else { Firmware::Bios }, Some(n))),
    };
    if let (Some(GuestNetwork::Static { .. }), Some(c @ 2..)) = (&network, count) {
        cx.error(
            f.get("network").unwrap_or(key),
            format!("guest `{name}` has a static address but `count: {c}`"),
            Some("every instance would get the same address; use `dhcp` or one template per address".into()),
        );
    }

    if cx.diags.len() > before {
        return None;
    }
    let (kind, kind_node) = kind?;
    Some(GuestTemplate {
        name: name.to_owned(),
        key,
        kind,
        kind_node,
        image: image?,
        memory_mib: memory_mib?,
        vcpus: vcpus?,
        count: count?,
        network: network?,
        firmware: firmware?,
    })
}

/// Checks that `image` names a defined image, reporting it with a suggestion otherwise.
pub(crate) fn image_ref(cx: &mut Cx<'_>, at: &Node, image: &str, user: &str, images: &[&str]) -> bool {
    if images.contains(&image) {
        return true;
    }
    let help = if images.is_empty() {
        Some("no images are defined in this file; add an `images:` section".to_owned())
    } else {
        suggest::help_for(image, images, "defined images are")
    };
    cx.error(at, format!("{user} uses undefined image `{image}`"), help);
    false
}

const NETWORK_EXPECTED: &str = "`dhcp`, `none` or a mapping like `{ static: 10.0.0.5/24, gateway: 10.0.0.1 }`";

fn network(cx: &mut Cx<'_>, key: &Node, value: &Node, guest: &str) -> Option<GuestNetwork> {
    let subject = format!("`network` in guest `{guest}`");
    match &value.value {
        Value::Str(s) => match s.as_str() {
            "dhcp" => Some(GuestNetwork::Dhcp),
            "none" => Some(GuestNetwork::None),
            other => {
                let help = suggest::did_you_mean(other, ["dhcp", "none", "static"]);
                cx.error(value, format!("invalid value `{other}` for {subject}: expected {NETWORK_EXPECTED}"), help);
                None
            }
        },
        Value::Map(_) => {
            let f = cx.fields(key, value, subject, &["static", "gateway"])?;
            let address = match f.get("static") {
                Some(n) => cx.text(n, &f.desc("static")).and_then(|a| {
                    let ok = parse_cidr(&a);
                    if !ok {
                        cx.error(
                            n,
                            format!("invalid address `{a}` for {}", f.desc("static")),
                            Some("expected ADDRESS/PREFIX, e.g. `10.0.0.5/24`".into()),
                        );
                    }
                    ok.then_some(a)
                }),
                None => {
                    cx.missing(&f, "static", Some("e.g. `{ static: 10.0.0.5/24, gateway: 10.0.0.1 }`".into()));
                    None
                }
            };
            let gateway = match f.get("gateway") {
                None => Some(None),
                Some(n) => cx.text(n, &f.desc("gateway")).and_then(|g| {
                    let ok = g.parse::<IpAddr>().is_ok();
                    if !ok {
                        cx.error(
                            n,
                            format!("invalid address `{g}` for {}", f.desc("gateway")),
                            Some("expected an IP address, e.g. `10.0.0.1`".into()),
                        );
                    }
                    ok.then_some(Some(g))
                }),
            };
            Some(GuestNetwork::Static { address: address?, gateway: gateway? })
        }
        _ => {
            cx.wrong_type(value, &subject, NETWORK_EXPECTED);
            None
        }
    }
}

fn parse_cidr(s: &str) -> bool {
    let Some((addr, prefix)) = s.split_once('/') else {
        return false;
    };
    let Ok(addr) = addr.parse::<IpAddr>() else {
        return false;
    };
    let Ok(prefix) = prefix.parse::<u8>() else {
        return false;
    };
    prefix <= if addr.is_ipv4() { 32 } else { 128 }
}
