//! Reporting the problems of a scenario's expansion, each message once.

use std::collections::BTreeSet;

use super::super::ctx::Cx;
use super::super::yaml::Node;

/// Reports each message once: a problem of a guest template or a host shows
/// in many combinations of the matrix.
pub(super) struct Report<'c, 's> {
    cx: &'c mut Cx<'s>,
    seen: BTreeSet<String>,
}

impl<'c, 's> Report<'c, 's> {
    pub(super) fn new(cx: &'c mut Cx<'s>) -> Self {
        Report { cx, seen: BTreeSet::new() }
    }

    /// Reports the problem (once) and returns `false`, for `ok &= ...`.
    pub fn error(&mut self, at: &Node, message: String, help: String) -> bool {
        if self.seen.insert(message.clone()) {
            self.cx.error(at, message, Some(help));
        }
        false
    }
}
