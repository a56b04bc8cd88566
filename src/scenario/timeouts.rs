//! `timeouts:`, per-step deadlines.

use crate::plan::Timeouts;

use super::ctx::Cx;
use super::yaml::Node;

pub(crate) const KEYS: &[&str] = &["running", "console", "address", "ssh", "command", "case"];

/// Reads `timeouts:`; unset ones keep [`Timeouts::default`].
pub(crate) fn timeouts(cx: &mut Cx<'_>, key: &Node, value: &Node) -> Option<Timeouts> {
    let before = cx.diags.len();
    let f = cx.fields(key, value, "`timeouts`", KEYS)?;
    let mut t = Timeouts::default();
    for (name, slot) in [
        ("running", &mut t.running),
        ("console", &mut t.console),
        ("address", &mut t.address),
        ("ssh", &mut t.ssh),
        ("command", &mut t.command),
        ("case", &mut t.case),
    ] {
        if let Some(n) = f.get(name)
            && let Some(d) = cx.duration(n, &format!("`timeouts.{name}`"))
        {
            *slot = d;
        }
    }
    (cx.diags.len() == before).then_some(t)
}
