//! The settings of the `network` check.

use std::path::PathBuf;

use crate::plan::{NetworkCheck, NetworkSubCheck, ThroughputSpec};

use super::super::ctx::{Cx, Fields};
use super::super::suggest;
use super::super::yaml::{Node, Value};

pub(crate) const KEYS: &[&str] =
    &["checks", "dns_name", "tcp_port", "count", "max_loss_pct", "lease_file", "throughput"];
pub(crate) const THROUGHPUT_KEYS: &[&str] = &["duration", "min_mbps"];
/// Longest `throughput.duration`: each measurement runs this long, one after another.
const MAX_THROUGHPUT_SECS: u64 = 300;

/// Settings that only matter to one sub-check.
const SETTING_OF: &[(&str, NetworkSubCheck)] = &[
    ("dns_name", NetworkSubCheck::Dns),
    ("tcp_port", NetworkSubCheck::Tcp),
    ("lease_file", NetworkSubCheck::Address),
    ("throughput", NetworkSubCheck::Throughput),
];

/// Reads `- network: { ... }`; unset keys keep [`NetworkCheck::default`].
pub(super) fn settings(cx: &mut Cx<'_>, key: &Node, value: &Node, position: usize) -> Option<NetworkCheck> {
    let before = cx.diags.len();
    let f = cx.fields(key, value, format!("check {position} (`network`)"), KEYS)?;
    let mut spec = NetworkCheck::default();
    if let Some(node) = f.get("checks")
        && let Some(checks) = sub_checks(cx, node, &f.desc("checks"))
    {
        spec.checks = checks;
    }
    if let Some(node) = f.get("dns_name") {
        spec.dns_name = dns_name(cx, node, &f.desc("dns_name"));
    }
    if let Some(node) = f.get("tcp_port")
        && let Some(port) = cx.u32(node, &f.desc("tcp_port"), 1, 65535)
    {
        spec.tcp_port = port as u16;
    }
    if let Some(node) = f.get("count")
        && let Some(count) = cx.u32(node, &f.desc("count"), 1, 100)
    {
        spec.count = count;
    }
    if let Some(node) = f.get("max_loss_pct")
        && let Some(pct) = cx.u32(node, &f.desc("max_loss_pct"), 0, 100)
    {
        spec.max_loss_pct = pct;
    }
    if let Some(node) = f.get("lease_file") {
        spec.lease_file = lease_file(cx, node, &f.desc("lease_file"));
    }
    if let Some(node) = f.get("throughput")
        && let Some(t) = throughput(cx, f.key_node("throughput").unwrap_or(node), node, position)
    {
        spec.throughput = t;
    }
    unused_settings(cx, &f, &spec.checks);
    (cx.diags.len() == before).then_some(spec)
}

/// `checks: [address, ping, ...]`: known names, each once, run in the canonical order.
fn sub_checks(cx: &mut Cx<'_>, node: &Node, subject: &str) -> Option<Vec<NetworkSubCheck>> {
    let items = cx.string_list(node, subject)?;
    if items.is_empty() {
        cx.error(
            node,
            format!("{subject} must name at least one sub-check"),
            Some(format!("sub-checks are: {}", all_names())),
        );
        return None;
    }
    let names: Vec<&str> = NetworkSubCheck::ALL.iter().map(|c| c.as_str()).collect();
    let mut out: Vec<NetworkSubCheck> = Vec::new();
    let mut ok = true;
    for (name, at) in &items {
        match NetworkSubCheck::parse(name) {
            Some(c) if out.contains(&c) => {
                cx.error(at, format!("duplicate sub-check `{name}` in {subject}"), None);
                ok = false;
            }
            Some(c) => out.push(c),
            None => {
                let help = suggest::help_for(name, &names, "sub-checks are");
                cx.error(at, format!("unknown sub-check `{name}` in {subject}"), help);
                ok = false;
            }
        }
    }
    out.sort();
    ok.then_some(out)
}

fn all_names() -> String {
    suggest::list(NetworkSubCheck::ALL.iter().map(|c| c.as_str()))
}

/// A DNS name: it is typed into a shell in the guest, so only name characters pass.
fn dns_name(cx: &mut Cx<'_>, node: &Node, subject: &str) -> Option<String> {
    let name = cx.text(node, subject)?;
    if !is_dns_name(&name) {
        cx.error(
            node,
            format!("invalid DNS name `{name}` for {subject}"),
            Some("use letters, digits, `-` and `_` in dot-separated labels, e.g. `gateway.lab.virtsmoke.test`".into()),
        );
        return None;
    }
    Some(name)
}

pub(crate) fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

fn lease_file(cx: &mut Cx<'_>, node: &Node, subject: &str) -> Option<PathBuf> {
    let path = PathBuf::from(cx.text(node, subject)?);
    if !path.is_absolute() {
        cx.error(
            node,
            format!("{subject} must be an absolute path, found `{}`", path.display()),
            Some("the lab's is `/var/tmp/virtsmoke-lab/h1/dnsmasq.leases` (`virtsmoke lab status`)".into()),
        );
        return None;
    }
    Some(path)
}

/// `throughput: { duration: 3s, min_mbps: 100 }`.
fn throughput(cx: &mut Cx<'_>, key: &Node, value: &Node, position: usize) -> Option<ThroughputSpec> {
    let before = cx.diags.len();
    let f = cx.fields(key, value, format!("`throughput` of check {position} (`network`)"), THROUGHPUT_KEYS)?;
    let mut t = ThroughputSpec::default();
    if let Some(node) = f.get("duration")
        && let Some(d) = cx.duration(node, &f.desc("duration"))
    {
        if d.as_secs() > MAX_THROUGHPUT_SECS {
            cx.error(node, format!("{} must be at most {MAX_THROUGHPUT_SECS}s", f.desc("duration")), None);
        } else {
            t.duration = d;
        }
    }
    if let Some(node) = f.get("min_mbps") {
        match node.value {
            Value::Null => {}
            _ => t.min_mbps = cx.u32(node, &f.desc("min_mbps"), 1, u32::MAX),
        }
    }
    (cx.diags.len() == before).then_some(t)
}

/// A setting for a sub-check the scenario did not choose is a mistake: say so.
fn unused_settings(cx: &mut Cx<'_>, f: &Fields<'_>, checks: &[NetworkSubCheck]) {
    for (setting, sub) in SETTING_OF {
        if checks.contains(sub) {
            continue;
        }
        let Some(at) = f.key_node(setting) else {
            continue;
        };
        let sub = sub.as_str();
        let help = if f.get("checks").is_some() {
            format!("add `{sub}` to `checks`, or remove `{setting}`")
        } else {
            format!(
                "`{sub}` does not run by default: list the sub-checks to run, e.g. `checks: [address, ping, {sub}]`"
            )
        };
        cx.error(at, format!("`{setting}` is set but sub-check `{sub}` does not run in {}", f.what), Some(help));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        for ok in ["gateway.lab.virtsmoke.test", "a", "x-1.example.", "_srv.example"] {
            assert!(is_dns_name(ok), "{ok}");
        }
        for bad in ["", ".", "a..b", "-a.b", "a b", "a;reboot", "$(id)", "a'b", &"x".repeat(64)] {
            assert!(!is_dns_name(bad), "{bad}");
        }
    }
}
