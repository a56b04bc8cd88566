//! What the validators of a scenario's cases share.

use std::collections::BTreeMap;

use crate::plan::{HostSpec, Hypervisor};

use super::super::ctx::SourceFile;
use super::super::file::Scenario;

/// What every case of one scenario shares.
pub(super) struct Scope<'a, 'n> {
    pub s: &'a Scenario<'n>,
    /// Every valid host of every file.
    pub hosts: &'a BTreeMap<String, HostSpec>,
    /// The scenario's file, an index into `sources`.
    pub fi: usize,
    pub sources: &'a [SourceFile],
}

pub(super) fn hypervisor_name(h: Hypervisor) -> &'static str {
    if h == Hypervisor::Kvm { "kvm" } else { "xen" }
}
