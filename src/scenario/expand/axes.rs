//! The axes of a scenario's matrix and their product: every combination of
//! placement, guest set, kind and image that becomes a case.

use std::collections::BTreeMap;

use crate::plan::{GuestKind, HostSpec};

use super::super::file::Scenario;
use super::super::guest::GuestTemplate;
use super::super::matrix::HostAxis;
use super::super::suggest;
use super::super::yaml::Node;
use super::report::Report;

/// Where the cases of one `matrix.host` value go.
pub(super) struct Placement<'h, 'n> {
    /// After `@` in case names: the host's name, `any`, or `pool=nightly`.
    pub label: String,
    /// The hosts the cases may run on.
    pub pool: Vec<&'h HostSpec>,
    /// One named host (`host: [a, b]` or no host axis).
    pub pinned: bool,
    pub at: Option<&'n Node>,
}

impl<'h, 'n> Placement<'h, 'n> {
    fn pinned(host: &'h HostSpec, at: Option<&'n Node>) -> Self {
        Placement { label: host.name.clone(), pool: vec![host], pinned: true, at }
    }
}

/// `any`, or the labels as `k=v,k2=v2` (sorted by key).
fn placement_label(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "any".into();
    }
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// The guests booted together in one case.
pub(super) enum GuestSet<'a, 'n> {
    One(&'a GuestTemplate<'n>),
    Cluster(Vec<&'a GuestTemplate<'n>>, &'n Node),
}

impl<'n> GuestSet<'_, 'n> {
    pub fn templates(&self) -> Vec<&GuestTemplate<'n>> {
        match self {
            GuestSet::One(t) => vec![*t],
            GuestSet::Cluster(ts, _) => ts.clone(),
        }
    }

    pub fn label(&self) -> String {
        self.templates().iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join("+")
    }

    /// Where problems with the whole set point.
    pub fn node(&self) -> &'n Node {
        match self {
            GuestSet::One(t) => t.key,
            GuestSet::Cluster(_, n) => n,
        }
    }
}

/// A `kind` axis value, or none (each guest keeps its template's kind).
pub(super) type KindValue<'n> = Option<(GuestKind, &'n Node)>;
/// An `image` axis value, or none (each guest keeps its template's image).
pub(super) type ImageValue<'s, 'n> = Option<(&'s str, &'n Node)>;

/// The values of every axis of one scenario.
pub(super) struct Axes<'s, 'h, 'n> {
    pub placements: Vec<Placement<'h, 'n>>,
    pub sets: Vec<GuestSet<'s, 'n>>,
    pub kinds: Vec<KindValue<'n>>,
    pub images: Vec<ImageValue<'s, 'n>>,
}

/// One case to be: a value of every axis, and the hosts that can run its kind.
pub(super) struct Combination<'x, 's, 'h, 'n> {
    pub placement: &'x Placement<'h, 'n>,
    pub set: &'x GuestSet<'s, 'n>,
    pub kind: KindValue<'n>,
    pub image: ImageValue<'s, 'n>,
    /// The hosts of the placement that can run this kind: one for a pinned
    /// case, those of the right hypervisor for a placed one.
    pub pool: Vec<&'h HostSpec>,
}

impl<'s, 'h, 'n> Axes<'s, 'h, 'n> {
    /// The axes of `s`; `None` when a value refers to something invalid
    /// (reported already) or no host matches a placement.
    pub fn of(rep: &mut Report<'_, '_>, s: &'s Scenario<'n>, hosts: &'h BTreeMap<String, HostSpec>) -> Option<Self>
    where
        'n: 's,
    {
        let matrix = s.matrix.as_ref();
        let placements = placements(rep, matrix.and_then(|m| m.host.as_ref()), hosts)?;
        let sets = guest_sets(s)?;
        let kinds = match matrix.and_then(|m| m.kind.as_ref()) {
            Some(values) => values.iter().map(|(k, at)| Some((*k, *at))).collect(),
            None => vec![None],
        };
        let images = match matrix.and_then(|m| m.image.as_ref()) {
            Some(values) => values.iter().map(|(i, at)| Some((i.as_str(), *at))).collect(),
            None => vec![None],
        };
        Some(Axes { placements, sets, kinds, images })
    }

    /// Every combination, in axis order (host, guest, kind, image). A `kind`
    /// value combines only with the hosts of its hypervisor, so one matrix can
    /// name KVM and Xen hosts.
    pub fn product(&self) -> Vec<Combination<'_, 's, 'h, 'n>> {
        let mut out = Vec::new();
        for placement in &self.placements {
            for set in &self.sets {
                for &kind in &self.kinds {
                    let pool: Vec<&HostSpec> = match kind {
                        Some((k, _)) => {
                            placement.pool.iter().copied().filter(|h| h.hypervisor == k.hypervisor()).collect()
                        }
                        None => placement.pool.clone(),
                    };
                    if pool.is_empty() {
                        continue;
                    }
                    for &image in &self.images {
                        out.push(Combination { placement, set, kind, image, pool: pool.clone() });
                    }
                }
            }
        }
        out
    }
}

fn placements<'h, 'n>(
    rep: &mut Report<'_, '_>,
    axis: Option<&HostAxis<'n>>,
    hosts: &'h BTreeMap<String, HostSpec>,
) -> Option<Vec<Placement<'h, 'n>>> {
    match axis {
        Some(HostAxis::Names(values)) => {
            let found: Vec<_> =
                values.iter().filter_map(|(h, at)| hosts.get(h).map(|h| Placement::pinned(h, Some(*at)))).collect();
            // A referenced host that is itself invalid is reported already.
            (found.len() == values.len()).then_some(found)
        }
        Some(HostAxis::Placed { labels, at }) => {
            let pool: Vec<&HostSpec> =
                hosts.values().filter(|h| labels.iter().all(|(k, v)| h.labels.get(k) == Some(v))).collect();
            let label = placement_label(labels);
            if pool.is_empty() {
                let defined: Vec<String> = hosts.values().map(|h| format!("{} {:?}", h.name, h.labels)).collect();
                let mut help = format!("hosts and their labels: {}", defined.join(", "));
                if let Some(near) = near_label(labels, hosts) {
                    help = format!("{near}; {help}");
                }
                rep.error(at, format!("no host matches `{label}`"), help);
                return None;
            }
            Some(vec![Placement { label, pool, pinned: false, at: Some(*at) }])
        }
        None => Some(hosts.values().map(|h| Placement::pinned(h, None)).collect()),
    }
}

/// `did you mean `k=v`?` for the first wanted label no host has, when a
/// label of some host is close to it.
fn near_label(labels: &BTreeMap<String, String>, hosts: &BTreeMap<String, HostSpec>) -> Option<String> {
    let have: Vec<String> = hosts.values().flat_map(|h| h.labels.iter().map(|(k, v)| format!("{k}={v}"))).collect();
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .find(|wanted| !have.contains(wanted))
        .and_then(|wanted| suggest::did_you_mean(&wanted, have.iter().map(String::as_str)))
}

fn guest_sets<'s, 'n>(s: &'s Scenario<'n>) -> Option<Vec<GuestSet<'s, 'n>>> {
    let matrix = s.matrix.as_ref();
    let templates =
        |names: &[(String, &'n Node)]| names.iter().map(|(n, _)| s.guests.get(n)).collect::<Option<Vec<_>>>();
    match (&s.cluster, matrix.and_then(|m| m.guest.as_ref())) {
        (Some((names, at)), _) => Some(vec![GuestSet::Cluster(templates(names)?, at)]),
        (None, Some(names)) => Some(templates(names)?.into_iter().map(GuestSet::One).collect()),
        (None, None) => Some(s.guests.values().map(GuestSet::One).collect()),
    }
}
