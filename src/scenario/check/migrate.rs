//! The settings of the `migrate` check.

use crate::plan::{MigrateCheck, SshContinuity};

use super::super::ctx::Cx;
use super::super::yaml::{Node, Value};

pub(crate) const KEYS: &[&str] = &[
    "target",
    "rounds",
    "live",
    "peer_to_peer",
    "tunnelled",
    "persistent",
    "undefine_source",
    "copy_storage",
    "bandwidth_mib_s",
    "allowed_downtime_ms",
    "max_downtime_ms",
    "ssh",
    "timeout",
];

/// How long one move may take by default: paused moves under nested
/// emulation take about a minute and a half, live ones up to three.
pub(crate) const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

pub(crate) fn defaults() -> MigrateCheck {
    MigrateCheck {
        target: None,
        rounds: 2,
        live: true,
        peer_to_peer: false,
        tunnelled: false,
        persistent: false,
        undefine_source: false,
        copy_storage: false,
        bandwidth_mib_s: None,
        allowed_downtime_ms: None,
        max_downtime_ms: None,
        ssh: SshContinuity::Keep,
        timeout: DEFAULT_TIMEOUT,
    }
}

/// A `migrate` check and where its settings were written, for the checks
/// that need the hosts of a case (its target, what the host's driver honours).
#[derive(Debug, Clone)]
pub(crate) struct MigrateAt<'n> {
    /// The check's number in `checks:`, 1-based, for messages.
    pub position: usize,
    pub spec: MigrateCheck,
    /// The check itself (`- migrate` or its key).
    pub at: &'n Node,
    /// The `target:` value.
    pub target: Option<&'n Node>,
    /// The `copy_storage` key, when it is `true`.
    pub copy_storage: Option<&'n Node>,
    /// The `bandwidth_mib_s` key.
    pub bandwidth: Option<&'n Node>,
}

impl<'n> MigrateAt<'n> {
    pub(super) fn bare(position: usize, at: &'n Node) -> Self {
        MigrateAt { position, spec: defaults(), at, target: None, copy_storage: None, bandwidth: None }
    }
}

/// Reads `- migrate: { ... }`; unset keys keep [`defaults`].
pub(super) fn settings<'n>(cx: &mut Cx<'_>, key: &'n Node, value: &'n Node, position: usize) -> Option<MigrateAt<'n>> {
    let before = cx.diags.len();
    let f = cx.fields(key, value, format!("check {position} (`migrate`)"), KEYS)?;
    let mut spec = defaults();
    if let Some(n) = f.get("target") {
        spec.target = cx.text(n, &f.desc("target"));
    }
    if let Some(n) = f.get("rounds") {
        spec.rounds = cx.u32(n, &f.desc("rounds"), 1, 100).unwrap_or(spec.rounds);
    }
    let mut flag = |name: &str, slot: &mut bool| {
        if let Some(n) = f.get(name) {
            match n.value {
                Value::Bool(b) => *slot = b,
                _ => cx.wrong_type(n, &f.desc(name), "`true` or `false`"),
            }
        }
    };
    flag("live", &mut spec.live);
    flag("peer_to_peer", &mut spec.peer_to_peer);
    flag("tunnelled", &mut spec.tunnelled);
    flag("persistent", &mut spec.persistent);
    flag("undefine_source", &mut spec.undefine_source);
    flag("copy_storage", &mut spec.copy_storage);
    if let Some(n) = f.get("bandwidth_mib_s") {
        spec.bandwidth_mib_s = cx.u64(n, &f.desc("bandwidth_mib_s"), 1);
    }
    if let Some(n) = f.get("allowed_downtime_ms") {
        spec.allowed_downtime_ms = cx.u64(n, &f.desc("allowed_downtime_ms"), 1);
    }
    if let Some(n) = f.get("max_downtime_ms") {
        spec.max_downtime_ms = cx.u64(n, &f.desc("max_downtime_ms"), 1);
    }
    if let Some(n) = f.get("ssh") {
        spec.ssh = match cx.choice(n, &f.desc("ssh"), &["keep", "reconnect"]) {
            Some("reconnect") => SshContinuity::Reconnect,
            _ => SshContinuity::Keep,
        };
    }
    if let Some(n) = f.get("timeout") {
        spec.timeout = cx.duration(n, &f.desc("timeout")).unwrap_or(spec.timeout);
    }
    let copy_storage = f.key_node("copy_storage").filter(|_| spec.copy_storage);
    let at = MigrateAt {
        position,
        spec,
        at: key,
        target: f.get("target"),
        copy_storage,
        bandwidth: f.key_node("bandwidth_mib_s"),
    };
    (cx.diags.len() == before).then_some(at)
}
