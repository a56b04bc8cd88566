//! `hosts:` entries.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::hypervisor::{Uri, UriError};
use crate::plan::{AccelPreference, Capacity, HostSpec, Hypervisor, JumpHostKey, JumpSpec};

use super::ctx::{Cx, Fields};
use super::yaml::{Node, Value};

pub(crate) const KEYS: &[&str] =
    &["uri", "hypervisor", "accel", "netns", "bridge", "capacity", "roles", "labels", "jump"];

pub(crate) const DEFAULT_CAPACITY: Capacity =
    Capacity { guests: 4, memory_mib: 8192, when_full: crate::plan::WhenFull::DEFAULT };

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

/// The keys of a `jump:` mapping.
const JUMP_KEYS: &[&str] = &["address", "user", "key", "known_hosts", "host_key", "insecure_host_key"];

fn jump(cx: &mut Cx<'_>, key: &Node, value: &Node, host: &str) -> Option<JumpSpec> {
    let f = cx.fields(key, value, format!("`jump` of host `{host}`"), JUMP_KEYS)?;
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
        Some(n) => {
            cx.text(n, &f.desc("key")).map(PathBuf::from).and_then(|p| file_here(cx, n, &f, ("key", KEY_HELP), p))
        }
        None => {
            cx.missing(&f, "key", Some("the private key that logs in to the host".into()));
            None
        }
    };
    let host_key = host_key(cx, &f, host);
    Some(JumpSpec { address: address?, user: user?, key: key_path?, host_key: host_key? })
}

const KEY_HELP: &str =
    "`key` is the private key virtsmoke logs in to the host with, read where virtsmoke runs (not on the libvirt host)";
const KNOWN_HOSTS_HELP: &str = "`known_hosts` is an OpenSSH known_hosts file on the machine running virtsmoke \
     that records the jump host's key (`virtsmoke lab status --json` names the lab's)";

/// How the jump host's SSH host key is checked: exactly one of `known_hosts`
/// and `host_key`, or `insecure_host_key: true` alone.
fn host_key(cx: &mut Cx<'_>, f: &Fields<'_>, host: &str) -> Option<JumpHostKey> {
    let insecure = match f.get("insecure_host_key") {
        None => false,
        Some(n) => match n.value {
            Value::Bool(b) => b,
            _ => {
                cx.wrong_type(n, &f.desc("insecure_host_key"), "`true` or `false`");
                return None;
            }
        },
    };
    match (f.get("known_hosts"), f.get("host_key")) {
        (Some(_), Some(pinned)) => {
            cx.error(
                f.key_node("host_key").unwrap_or(pinned),
                format!("the jump host of `{host}` has both `known_hosts` and `host_key`"),
                Some("keep one: the key is checked against a known_hosts file or a pinned fingerprint".into()),
            );
            None
        }
        (Some(n), None) | (None, Some(n)) if insecure => {
            let at = f.get("insecure_host_key").unwrap_or(n);
            cx.error(
                at,
                format!("the jump host of `{host}` has `insecure_host_key: true` and a key to check"),
                Some("remove `insecure_host_key` to check the key, or the check to accept any key".into()),
            );
            None
        }
        (Some(n), None) => cx
            .text(n, &f.desc("known_hosts"))
            .and_then(|p| file_here(cx, n, f, ("known_hosts", KNOWN_HOSTS_HELP), PathBuf::from(p)))
            .map(JumpHostKey::KnownHosts),
        (None, Some(n)) => {
            let pinned = cx.text(n, &f.desc("host_key"))?;
            fingerprint(&pinned).map(JumpHostKey::Sha256).or_else(|| {
                cx.error(
                    n,
                    format!("{} `{pinned}` is not a SHA256 fingerprint", f.desc("host_key")),
                    Some("`SHA256:` and 43 base64 characters, as `ssh-keygen -lf KEY.pub` prints it".into()),
                );
                None
            })
        }
        (None, None) if insecure => Some(JumpHostKey::Insecure),
        (None, None) => {
            cx.missing(
                f,
                "known_hosts",
                Some(
                    "virtsmoke checks the jump host's SSH key before it logs in: name a known_hosts file that records \
                     it (`known_hosts: PATH`), or pin it (`host_key: \"SHA256:...\"`); `insecure_host_key: true` \
                     accepts any key"
                        .into(),
                ),
            );
            None
        }
    }
}

/// `SHA256:` and the 43 unpadded base64 characters of 32 bytes (one `=` of
/// padding is accepted and dropped).
fn fingerprint(text: &str) -> Option<String> {
    let b64 = text.strip_prefix("SHA256:")?;
    let b64 = b64.strip_suffix('=').unwrap_or(b64);
    let ok = b64.len() == 43 && b64.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/');
    ok.then(|| format!("SHA256:{b64}"))
}

/// Files of a jump host (its login key, its known_hosts) are read where
/// virtsmoke runs: each must be a file here, or every SSH login would fail later.
fn file_here(cx: &mut Cx<'_>, n: &Node, f: &Fields<'_>, (key, help): (&str, &str), path: PathBuf) -> Option<PathBuf> {
    if path.is_file() {
        return Some(path);
    }
    cx.error(n, format!("{} `{}` is not a file on this machine", f.desc(key), path.display()), Some(help.into()));
    None
}

fn capacity(cx: &mut Cx<'_>, key: &Node, value: &Node, host: &str) -> Option<Capacity> {
    let f = cx.fields(
        key,
        value,
        format!("`capacity` of host `{host}`"),
        &["guests", "memory_mib", "when_full", "wait_up_to"],
    )?;
    let guests = match f.get("guests") {
        None => Some(DEFAULT_CAPACITY.guests),
        Some(n) => cx.u32(n, &f.desc("guests"), 1, u32::MAX),
    };
    let memory_mib = match f.get("memory_mib") {
        None => Some(DEFAULT_CAPACITY.memory_mib),
        Some(n) => cx.u64(n, &f.desc("memory_mib"), 64),
    };
    let when_full = when_full(cx, &f)?;
    Some(Capacity { guests: guests?, memory_mib: memory_mib?, when_full })
}

/// `when_full: wait | skip` and `wait_up_to: DURATION` (with `wait` only).
fn when_full(cx: &mut Cx<'_>, f: &super::ctx::Fields<'_>) -> Option<crate::plan::WhenFull> {
    use crate::plan::WhenFull;
    let policy = match f.get("when_full") {
        None => "wait",
        Some(n) => cx.choice(n, &f.desc("when_full"), &["wait", "skip"])?,
    };
    let up_to = match f.get("wait_up_to") {
        None => None,
        Some(n) => Some(cx.duration(n, &f.desc("wait_up_to"))?),
    };
    match (policy, up_to) {
        ("skip", Some(_)) => {
            let n = f.key_node("wait_up_to")?;
            cx.error(n, format!("{} applies only with `when_full: wait`", f.desc("wait_up_to")), None);
            None
        }
        ("skip", None) => Some(WhenFull::Skip),
        (_, Some(up_to)) => Some(WhenFull::Wait { up_to }),
        (_, None) => Some(WhenFull::DEFAULT),
    }
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
