//! `hosts:` entries.

use std::collections::BTreeMap;

use crate::hypervisor::{Uri, UriError};
use crate::plan::{AccelPreference, Capacity, HostSpec, Hypervisor, JumpSpec};

use super::ctx::{Cx, Fields};
use super::yaml::{Node, Value};

pub(crate) const KEYS: &[&str] =
    &["uri", "hypervisor", "accel", "netns", "bridge", "capacity", "roles", "labels", "jump"];

pub(crate) const DEFAULT_CAPACITY: Capacity = Capacity { guests: 4, memory_mib: 8192 };

/// The hypervisor a libvirt URI implies, if its driver says.
fn hypervisor_of_uri(uri: &str) -> Option<Hypervisor> {
    Uri::parse(uri).ok()?.family().hypervisor().map(crate::hypervisor::Family::plan)
}

/// Whether `uri` may be used: one that would run a program on this machine is
/// reported at `at` (a uri virtsmoke cannot read is left to libvirt).
fn uri_allowed(cx: &mut Cx<'_>, at: &Node, uri: &str) -> bool {
    match Uri::parse(uri) {
        Err(e @ UriError::RunsLocalProgram { .. }) => {
            cx.error(at, e.to_string(), Some("a scenario file may not start programs on this machine".into()));
            false
        }
        _ => true,
    }
}

fn hypervisor_name(h: Hypervisor) -> &'static str {
    match h {
        Hypervisor::Kvm => "kvm",
        Hypervisor::Xen => "xen",
    }
}

/// Reads one host; `None` if anything in it is wrong (all of it reported).
pub(crate) fn host(cx: &mut Cx<'_>, name: &str, key: &Node, value: &Node) -> Option<HostSpec> {
    let before = cx.diags.len();
    cx.name(key, name, "host name");
    let f = cx.fields(key, value, format!("host `{name}`"), KEYS)?;

    let uri = match f.get("uri") {
        Some(n) => cx.text(n, &f.desc("uri")).filter(|u| uri_allowed(cx, n, u)),
        None => {
            cx.missing(&f, "uri", Some("e.g. `uri: qemu:///system`".into()));
            None
        }
    };
    let implied = uri.as_deref().and_then(hypervisor_of_uri);
    let hypervisor = match f.get("hypervisor") {
        Some(n) => match cx.choice(n, &f.desc("hypervisor"), &["kvm", "xen"]) {
            Some(h) => {
                let h = if h == "kvm" { Hypervisor::Kvm } else { Hypervisor::Xen };
                if let (Some(implied), Some(uri)) = (implied, &uri)
                    && implied != h
                {
                    cx.error(
                        n,
                        format!(
                            "host `{name}` says `hypervisor: {}` but its uri `{uri}` is a {} uri",
                            hypervisor_name(h),
                            hypervisor_name(implied)
                        ),
                        Some("`qemu…` uris manage kvm hosts; `xen…` and `libxl…` uris manage xen hosts".into()),
                    );
                }
                Some(h)
            }
            None => None,
        },
        None => match (implied, &uri) {
            (Some(h), _) => Some(h),
            (None, Some(uri)) => {
                cx.missing(
                    &f,
                    "hypervisor",
                    Some(format!("it cannot be told from uri `{uri}`; set `hypervisor: kvm` or `hypervisor: xen`")),
                );
                None
            }
            (None, None) => None,
        },
    };
    let accel = accel(cx, &f, name, hypervisor);
    let netns = match f.get("netns") {
        None => Some(None),
        Some(n) => cx.text(n, &f.desc("netns")).map(Some),
    };
    let bridge = bridge(cx, &f, hypervisor);
    let capacity = match f.get("capacity") {
        None => Some(DEFAULT_CAPACITY),
        Some(n) => capacity(cx, f.key_node("capacity").unwrap_or(n), n, name),
    };
    let roles = match f.get("roles") {
        None => Some(Vec::new()),
        Some(n) => cx.string_list(n, &f.desc("roles")).map(|v| v.into_iter().map(|(s, _)| s).collect()),
    };
    let labels = f.get("labels").map_or(Some(BTreeMap::new()), |n| labels(cx, n, name));
    let jump = match f.get("jump") {
        None => Some(None),
        Some(n) => jump(cx, f.key_node("jump").unwrap_or(n), n, name).map(Some),
    };

    if cx.diags.len() > before {
        return None;
    }
    Some(HostSpec {
        name: name.to_owned(),
        uri: uri?,
        hypervisor: hypervisor?,
        accel: accel?,
        netns: netns?,
        bridge: bridge?,
        capacity: capacity?,
        roles: roles?,
        labels: labels?,
        jump: jump?,
    })
}

/// `accel:`, for kvm hosts only.
fn accel(cx: &mut Cx<'_>, f: &Fields<'_>, name: &str, hypervisor: Option<Hypervisor>) -> Option<AccelPreference> {
    let Some(n) = f.get("accel") else {
        return Some(AccelPreference::Auto);
    };
    let accel = cx.choice(n, &f.desc("accel"), &["auto", "kvm", "qemu"]).map(|a| match a {
        "kvm" => AccelPreference::Kvm,
        "qemu" => AccelPreference::Qemu,
        _ => AccelPreference::Auto,
    });
    if hypervisor == Some(Hypervisor::Xen) {
        let at = f.key_node("accel").unwrap_or(n);
        cx.error(
            at,
            format!("`accel` is set on xen host `{name}`"),
            Some("`accel` only applies to kvm hosts; remove it".into()),
        );
    }
    accel
}

/// `bridge:`, by default the hypervisor's usual one.
fn bridge(cx: &mut Cx<'_>, f: &Fields<'_>, hypervisor: Option<Hypervisor>) -> Option<String> {
    match f.get("bridge") {
        Some(n) => cx.text(n, &f.desc("bridge")),
        None => hypervisor.map(|h| match h {
            Hypervisor::Kvm => "virbr0".to_owned(),
            Hypervisor::Xen => "xenbr0".to_owned(),
        }),
    }
}

fn jump(cx: &mut Cx<'_>, key: &Node, value: &Node, host: &str) -> Option<JumpSpec> {
    let f = cx.fields(key, value, format!("`jump` of host `{host}`"), &["address", "user", "key"])?;
    let address = match f.get("address") {
        Some(n) => {
            let a = cx.text(n, &f.desc("address"))?;
            if a.rsplit_once(':').is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err()) {
                cx.error(
                    n,
                    format!("`address` of the jump host of `{host}` must be HOST:PORT, found `{a}`"),
                    Some("e.g. `address: \"127.0.0.1:2221\"` or `address: \"qa7.example:22\"`".into()),
                );
                None
            } else {
                Some(a)
            }
        }
        None => {
            cx.missing(&f, "address", Some("e.g. `address: \"127.0.0.1:2221\"`".into()));
            None
        }
    };
    let user = match f.get("user") {
        Some(n) => cx.text(n, &f.desc("user")),
        None => Some("root".to_owned()),
    };
    let key_path = match f.get("key") {
        Some(n) => cx.text(n, &f.desc("key")).map(std::path::PathBuf::from).and_then(|p| key_here(cx, n, &f, p)),
        None => {
            cx.missing(&f, "key", Some("the private key that logs in to the host".into()));
            None
        }
    };
    Some(JumpSpec { address: address?, user: user?, key: key_path? })
}

/// The jump host's key is read where virtsmoke runs: it must be a file here
/// (like an image's `ssh_key`), or every SSH login would fail later.
fn key_here(cx: &mut Cx<'_>, n: &Node, f: &Fields<'_>, path: std::path::PathBuf) -> Option<std::path::PathBuf> {
    if path.is_file() {
        return Some(path);
    }
    cx.error(
        n,
        format!("{} `{}` is not a file on this machine", f.desc("key"), path.display()),
        Some("`key` is the private key virtsmoke logs in to the host with, read where virtsmoke runs (not on the libvirt host)".into()),
    );
    None
}

fn capacity(cx: &mut Cx<'_>, key: &Node, value: &Node, host: &str) -> Option<Capacity> {
    let f = cx.fields(key, value, format!("`capacity` of host `{host}`"), &["guests", "memory_mib"])?;
    let guests = match f.get("guests") {
        None => Some(DEFAULT_CAPACITY.guests),
        Some(n) => cx.u32(n, &f.desc("guests"), 1, u32::MAX),
    };
    let memory_mib = match f.get("memory_mib") {
        None => Some(DEFAULT_CAPACITY.memory_mib),
        Some(n) => cx.u64(n, &f.desc("memory_mib"), 64),
    };
    Some(Capacity { guests: guests?, memory_mib: memory_mib? })
}

fn labels(cx: &mut Cx<'_>, value: &Node, host: &str) -> Option<BTreeMap<String, String>> {
    let entries = cx.named_entries(value, &format!("`labels` of host `{host}`"))?;
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (k, _, v) in entries {
        match &v.value {
            Value::Str(s) => {
                out.insert(k.to_owned(), s.clone());
            }
            Value::Int(i) => {
                out.insert(k.to_owned(), i.to_string());
            }
            _ => {
                cx.wrong_type(v, &format!("label `{k}` of host `{host}`"), "a string");
                ok = false;
            }
        }
    }
    ok.then_some(out)
}
