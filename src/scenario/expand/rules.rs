//! One combination of the matrix into a case, through small named validators.
//! Each validator reports every problem it finds and says whether there was none.

use std::collections::BTreeMap;

use crate::plan::{Boot, Case, Firmware, GuestKind, GuestSpec, HostSpec};

use super::super::file::Scenario;
use super::super::guest::GuestTemplate;
use super::axes::{Combination, GuestSet};
use super::report::Report;
use super::scope::{Scope, hypervisor_name};

mod refs;

impl Combination<'_, '_, '_, '_> {
    /// The host a pinned case runs on; the first of the pool for a placed one.
    fn host(&self) -> &HostSpec {
        self.pool[0]
    }

    /// `scenario/guest[-kind][-image]@placement`.
    fn name(&self, scenario: &str) -> String {
        let mut name = format!("{scenario}/{}", self.set.label());
        if let Some((k, _)) = self.kind {
            name.push('-');
            name.push_str(k.as_str());
        }
        if let Some((i, _)) = self.image {
            name.push('-');
            name.push_str(i);
        }
        name.push('@');
        name.push_str(&self.placement.label);
        name
    }

    /// The case's `matrix` property: the value of every axis.
    fn axes(&self) -> BTreeMap<String, String> {
        let mut axes = BTreeMap::from([("host".to_owned(), self.placement.label.clone())]);
        match self.set {
            GuestSet::One(_) => axes.insert("guest".to_owned(), self.set.label()),
            GuestSet::Cluster(..) => axes.insert("cluster".to_owned(), self.set.label()),
        };
        if let Some((k, _)) = self.kind {
            axes.insert("kind".to_owned(), k.as_str().to_owned());
        }
        if let Some((i, _)) = self.image {
            axes.insert("image".to_owned(), i.to_owned());
        }
        axes
    }
}

/// The case of one combination: `None` to stop expanding the scenario (an
/// image it needs is invalid, and reported), `Some(None)` when the case has
/// problems (all reported).
pub(super) fn case(
    rep: &mut Report<'_, '_>,
    scope: &Scope<'_, '_>,
    scenario: &str,
    c: &Combination<'_, '_, '_, '_>,
    case_names: &BTreeMap<String, usize>,
) -> Option<Option<Case>> {
    let name = c.name(scenario);
    let (guests, mut ok) = guests(rep, scope.s, c)?;
    ok &= distinct_guest_names(rep, c.set, &name, &guests);
    let candidates = if c.placement.pinned { vec![c.host()] } else { fitting_hosts(rep, c, &name, &guests) };
    ok &= !candidates.is_empty();
    ok &= within_capacity(rep, c, &name, &guests);
    ok &= unique_case_name(rep, scope, c, &name, case_names);
    ok &= refs::migrations(rep, scope, c, &candidates);
    ok &= refs::staging(rep, c, &guests, &candidates);
    if !ok {
        return Some(None);
    }
    Some(Some(Case {
        name,
        scenario: scenario.to_owned(),
        source: scope.sources[scope.fi].path.clone(),
        host: candidates.first().map_or_else(|| c.host().name.clone(), |h| h.name.clone()),
        candidates: if c.placement.pinned { Vec::new() } else { candidates.iter().map(|h| h.name.clone()).collect() },
        guests,
        checks: scope.s.checks.clone(),
        timeouts: scope.s.timeouts,
        matrix: c.axes(),
        known_issues: Vec::new(),
    }))
}

/// The guests of the case, instances numbered, and whether each fits;
/// `None` when an image is missing (invalid, and reported).
fn guests(
    rep: &mut Report<'_, '_>,
    s: &Scenario<'_>,
    c: &Combination<'_, '_, '_, '_>,
) -> Option<(Vec<GuestSpec>, bool)> {
    let templates = c.set.templates();
    let mut totals: BTreeMap<&str, u32> = BTreeMap::new();
    for t in &templates {
        *totals.entry(t.name.as_str()).or_default() += t.count;
    }
    let mut numbered: BTreeMap<&str, u32> = BTreeMap::new();
    let mut guests: Vec<GuestSpec> = Vec::new();
    let mut ok = true;
    for t in &templates {
        let guest_kind = c.kind.map_or(t.kind, |(k, _)| k);
        ok &= kind_fits_host(rep, c, t, guest_kind);
        ok &= firmware_fits_kind(rep, t, guest_kind);
        let image_name = c.image.map_or(t.image.as_str(), |(i, _)| i);
        let img = s.images.get(image_name)?;
        ok &= image_boots_kind(rep, c, t, guest_kind, image_name, img.boot);
        for _ in 0..t.count {
            let n = numbered.entry(t.name.as_str()).or_default();
            *n += 1;
            let guest_name = if totals[t.name.as_str()] > 1 { format!("{}-{n}", t.name) } else { t.name.clone() };
            guests.push(GuestSpec {
                name: guest_name,
                kind: guest_kind,
                memory_mib: t.memory_mib,
                vcpus: t.vcpus,
                image: img.clone(),
                network: t.network.clone(),
                firmware: t.firmware.0,
            });
        }
    }
    Some((guests, ok))
}

/// A pinned case's guests are of its host's hypervisor.
fn kind_fits_host(
    rep: &mut Report<'_, '_>,
    c: &Combination<'_, '_, '_, '_>,
    t: &GuestTemplate<'_>,
    kind: GuestKind,
) -> bool {
    let host = c.host();
    if !c.placement.pinned || kind.hypervisor() == host.hypervisor {
        return true;
    }
    let at = c.kind.map(|(_, n)| n).or(c.placement.at).unwrap_or(t.kind_node);
    rep.error(
        at,
        format!(
            "guest `{}` of kind `{kind}` cannot run on {} host `{}`",
            t.name,
            hypervisor_name(host.hypervisor),
            host.name
        ),
        "kvm guests need a kvm host and xen-* guests a xen host; pick compatible hosts with `matrix.host`, or split the scenario".into(),
    )
}

/// UEFI only for kvm guests.
fn firmware_fits_kind(rep: &mut Report<'_, '_>, t: &GuestTemplate<'_>, kind: GuestKind) -> bool {
    let (Firmware::Uefi, Some(at)) = t.firmware else { return true };
    if kind == GuestKind::Kvm {
        return true;
    }
    rep.error(
        at,
        format!("guest `{}` of kind `{kind}` cannot boot with `firmware: uefi`", t.name),
        "UEFI is supported for kvm guests; Xen HVM guests boot with hvmloader's BIOS".into(),
    )
}

/// A PVH guest cannot boot through a disk's own boot loader.
fn image_boots_kind(
    rep: &mut Report<'_, '_>,
    c: &Combination<'_, '_, '_, '_>,
    t: &GuestTemplate<'_>,
    kind: GuestKind,
    image: &str,
    boot: Boot,
) -> bool {
    if boot != Boot::Disk || kind != GuestKind::XenPvh {
        return true;
    }
    rep.error(
        c.kind.map(|(_, n)| n).unwrap_or(t.kind_node),
        format!("guest `{}` of kind `xen-pvh` cannot boot image `{image}` from its disk (`boot: disk`)", t.name),
        "a PVH guest starts the kernel virtsmoke gives it: use `boot: kernel` with a `kernel`, or kind xen-pv (pygrub), xen-pvhvm, xen-hvm or kvm".into(),
    )
}

/// Numbered instances of a cluster's templates must not collide.
fn distinct_guest_names(rep: &mut Report<'_, '_>, set: &GuestSet<'_, '_>, name: &str, guests: &[GuestSpec]) -> bool {
    let mut ok = true;
    for (i, g) in guests.iter().enumerate() {
        if guests[..i].iter().any(|o| o.name == g.name) {
            ok &= rep.error(
                set.node(),
                format!("two guests of case `{name}` would be named `{}`", g.name),
                format!("instances are numbered `NAME-1`, `NAME-2`, ...; rename the guest template `{}`", g.name),
            );
        }
    }
    ok
}

fn totals(guests: &[GuestSpec]) -> (u64, u64) {
    let count = guests.len() as u64;
    let memory: u64 = guests.iter().map(|g| g.memory_mib).fold(0, u64::saturating_add);
    (count, memory)
}

/// A placed case may go to any host of its pool that can run all its guests
/// and has the capacity for them; none is an error.
fn fitting_hosts<'h>(
    rep: &mut Report<'_, '_>,
    c: &Combination<'_, '_, 'h, '_>,
    name: &str,
    guests: &[GuestSpec],
) -> Vec<&'h HostSpec> {
    let (count, memory) = totals(guests);
    let fit: Vec<&HostSpec> = c
        .pool
        .iter()
        .copied()
        .filter(|h| {
            guests.iter().all(|g| g.kind.hypervisor() == h.hypervisor)
                && count <= u64::from(h.capacity.guests)
                && memory <= h.capacity.memory_mib
        })
        .collect();
    if fit.is_empty() {
        rep.error(
            c.placement.at.unwrap_or(c.set.node()),
            format!("no host of `{}` can run case `{name}` ({count} guest(s), {memory} MiB)", c.placement.label),
            "hosts must be of the guests' hypervisor and have the capacity; check `capacity` and `labels` of the hosts"
                .into(),
        );
    }
    fit
}

/// A pinned case fits its host's `capacity`.
fn within_capacity(
    rep: &mut Report<'_, '_>,
    c: &Combination<'_, '_, '_, '_>,
    name: &str,
    guests: &[GuestSpec],
) -> bool {
    if !c.placement.pinned {
        return true;
    }
    let (host, at) = (c.host(), c.placement.at.unwrap_or(c.set.node()));
    let (count, memory) = totals(guests);
    let mut ok = true;
    if count > u64::from(host.capacity.guests) {
        ok &= rep.error(
            at,
            format!(
                "case `{name}` boots {count} guests but host `{}` takes at most {}",
                host.name, host.capacity.guests
            ),
            format!("raise `capacity.guests` of host `{}`, or boot fewer guests", host.name),
        );
    }
    if memory > host.capacity.memory_mib {
        ok &= rep.error(
            at,
            format!("case `{name}` needs {memory} MiB but host `{}` has {} MiB", host.name, host.capacity.memory_mib),
            format!("raise `capacity.memory_mib` of host `{}`, or give the guests less memory", host.name),
        );
    }
    ok
}

/// No two combinations, in this file or another, give the same case name.
fn unique_case_name(
    rep: &mut Report<'_, '_>,
    scope: &Scope<'_, '_>,
    c: &Combination<'_, '_, '_, '_>,
    name: &str,
    case_names: &BTreeMap<String, usize>,
) -> bool {
    let Some(origin) = case_names.get(name) else { return true };
    let help = if *origin == scope.fi {
        "two matrix combinations give the same name; rename a guest or an image".to_owned()
    } else {
        format!("also produced by {}", scope.sources[*origin].path.display())
    };
    rep.error(c.set.node(), format!("case `{name}` is defined twice"), help)
}
