//! Across files: merging hosts, then expanding each scenario's matrix into cases.

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::{Boot, Case, Firmware, GuestKind, GuestSpec, HostSpec, Plan};

use super::ctx::{Cx, SourceFile};
use super::diagnostic::Diagnostic;
use super::file::Scenario;
use super::guest::GuestTemplate;
use super::matrix::HostAxis;
use super::suggest;
use super::yaml::Node;

/// A file's index into the sources and what was read from it.
pub(crate) type Read<'n> = (usize, Scenario<'n>);

/// Builds the plan; problems go to `diags` (the plan is only meaningful when none were added).
pub(crate) fn plan(
    sources: &[SourceFile],
    scenarios: &[Read<'_>],
    diags: &mut Vec<Diagnostic>,
    need_cases: bool,
) -> Plan {
    let mut hosts: BTreeMap<String, (HostSpec, usize)> = BTreeMap::new();
    let mut host_names: BTreeSet<&str> = BTreeSet::new();
    for (fi, s) in scenarios {
        let mut cx = Cx::new(&sources[*fi]);
        host_names.extend(s.host_names.iter().map(String::as_str));
        for (h, key) in &s.hosts {
            match hosts.get(&h.name) {
                Some((existing, origin)) if existing != h => cx.error(
                    key,
                    format!("host `{}` is defined differently in {}", h.name, sources[*origin].path.display()),
                    Some(
                        "hosts with the same name are merged across files and must be identical; rename one of them"
                            .into(),
                    ),
                ),
                Some(_) => {}
                None => {
                    hosts.insert(h.name.clone(), (h.clone(), *fi));
                }
            }
        }
        diags.append(&mut cx.diags);
    }
    let plan_hosts: BTreeMap<String, HostSpec> = hosts.into_iter().map(|(k, (h, _))| (k, h)).collect();
    let mut plan = Plan { hosts: plan_hosts, cases: Vec::new() };

    if host_names.is_empty() {
        // A broken `hosts:` is reported already; only say so when none is written.
        if let Some((fi, s)) = scenarios.first().filter(|_| !scenarios.iter().any(|(_, s)| s.declares_hosts)) {
            let mut cx = Cx::new(&sources[*fi]);
            cx.error(
                s.root,
                "no hosts are defined in any scenario file",
                Some("add a `hosts:` section, e.g. `hosts: { lab1: { uri: \"qemu:///system\" } }`".into()),
            );
            diags.append(&mut cx.diags);
        }
        return plan;
    }

    let mut scenario_names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut case_names: BTreeMap<String, usize> = BTreeMap::new();
    for (fi, s) in scenarios {
        let mut cx = Cx::new(&sources[*fi]);
        let mut expandable = s.valid;
        if let Some((name, node)) = &s.name {
            if let Some(origin) = scenario_names.get(name.as_str()) {
                cx.error(
                    node,
                    format!("scenario name `{name}` is also used by {}", sources[*origin].path.display()),
                    Some("case names start with the scenario name, so it must be unique".into()),
                );
                expandable = false;
            } else {
                scenario_names.insert(name, *fi);
            }
        }
        let axis_hosts = match s.matrix.as_ref().and_then(|m| m.host.as_ref()) {
            Some(HostAxis::Names(values)) => Some(values),
            _ => None,
        };
        for (h, at) in axis_hosts.into_iter().flatten() {
            if !host_names.contains(h.as_str()) {
                let help = suggest::help_for(h, &host_names.iter().copied().collect::<Vec<_>>(), "defined hosts are");
                cx.error(at, format!("`matrix.host` uses undefined host `{h}`"), help);
                expandable = false;
            }
        }
        if expandable && s.has_guests {
            expand(&mut cx, *fi, s, &plan.hosts, &mut case_names, sources, &mut plan.cases);
        }
        diags.append(&mut cx.diags);
    }

    if need_cases
        && plan.cases.is_empty()
        && diags.is_empty()
        && let Some((fi, s)) = scenarios.first()
    {
        let mut cx = Cx::new(&sources[*fi]);
        cx.error(s.root, "the scenario files define no cases", Some("add a `guests:` section".into()));
        diags.append(&mut cx.diags);
    }
    plan
}

/// Where the cases of one `matrix.host` value go.
struct Placement<'h, 'n> {
    /// After `@` in case names: the host's name, `any`, or `pool=nightly`.
    label: String,
    /// The hosts the cases may run on.
    pool: Vec<&'h HostSpec>,
    /// One named host (`host: [a, b]` or no host axis).
    pinned: bool,
    at: Option<&'n Node>,
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
enum GuestSet<'a, 'n> {
    One(&'a GuestTemplate<'n>),
    Cluster(Vec<&'a GuestTemplate<'n>>, &'n Node),
}

impl<'n> GuestSet<'_, 'n> {
    fn templates(&self) -> Vec<&GuestTemplate<'n>> {
        match self {
            GuestSet::One(t) => vec![*t],
            GuestSet::Cluster(ts, _) => ts.clone(),
        }
    }

    fn label(&self) -> String {
        self.templates().iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join("+")
    }

    /// Where problems with the whole set point.
    fn node(&self) -> &'n Node {
        match self {
            GuestSet::One(t) => t.key,
            GuestSet::Cluster(_, n) => n,
        }
    }
}

fn expand(
    cx: &mut Cx<'_>,
    fi: usize,
    s: &Scenario<'_>,
    hosts: &BTreeMap<String, HostSpec>,
    case_names: &mut BTreeMap<String, usize>,
    sources: &[SourceFile],
    out: &mut Vec<Case>,
) {
    let Some((scenario, _)) = &s.name else { return };
    let matrix = s.matrix.as_ref();

    let placements: Vec<Placement<'_, '_>> = match matrix.and_then(|m| m.host.as_ref()) {
        Some(HostAxis::Names(values)) => {
            let found: Vec<_> =
                values.iter().filter_map(|(h, at)| hosts.get(h).map(|h| Placement::pinned(h, Some(*at)))).collect();
            if found.len() != values.len() {
                return; // a referenced host is itself invalid, and reported
            }
            found
        }
        Some(HostAxis::Placed { labels, at }) => {
            let pool: Vec<&HostSpec> =
                hosts.values().filter(|h| labels.iter().all(|(k, v)| h.labels.get(k) == Some(v))).collect();
            let label = placement_label(labels);
            if pool.is_empty() {
                let defined: Vec<String> = hosts.values().map(|h| format!("{} {:?}", h.name, h.labels)).collect();
                cx.error(
                    at,
                    format!("no host matches `{label}`"),
                    Some(format!("hosts and their labels: {}", defined.join(", "))),
                );
                return;
            }
            vec![Placement { label, pool, pinned: false, at: Some(*at) }]
        }
        None => hosts.values().map(|h| Placement::pinned(h, None)).collect(),
    };
    let sets: Vec<GuestSet<'_, '_>> = match (&s.cluster, matrix.and_then(|m| m.guest.as_ref())) {
        (Some((names, at)), _) => {
            let Some(ts) = names.iter().map(|(n, _)| s.guests.get(n)).collect::<Option<Vec<_>>>() else {
                return;
            };
            vec![GuestSet::Cluster(ts, at)]
        }
        (None, Some(names)) => {
            let Some(ts) = names.iter().map(|(n, _)| s.guests.get(n)).collect::<Option<Vec<_>>>() else {
                return;
            };
            ts.into_iter().map(GuestSet::One).collect()
        }
        (None, None) => s.guests.values().map(GuestSet::One).collect(),
    };
    let kinds: Vec<Option<(GuestKind, &Node)>> = match matrix.and_then(|m| m.kind.as_ref()) {
        Some(values) => values.iter().map(|(k, at)| Some((*k, *at))).collect(),
        None => vec![None],
    };
    let images: Vec<Option<(&str, &Node)>> = match matrix.and_then(|m| m.image.as_ref()) {
        Some(values) => values.iter().map(|(i, at)| Some((i.as_str(), *at))).collect(),
        None => vec![None],
    };

    let mut reported: BTreeSet<String> = BTreeSet::new();
    let mut report = |cx: &mut Cx<'_>, at: &Node, message: String, help: String| {
        if reported.insert(message.clone()) {
            cx.error(at, message, Some(help));
        }
    };

    // A `kind` axis value combines only with the hosts of its hypervisor, so
    // one matrix can name KVM and Xen hosts; a value that fits none is an error.
    let mut kinds_used: BTreeSet<GuestKind> = BTreeSet::new();
    for placement in &placements {
        let host_node = placement.at;
        for set in &sets {
            for &kind in &kinds {
                // The hosts of the placement that can run this kind: one for a
                // pinned case, those of the right hypervisor for a placed one.
                let pool: Vec<&HostSpec> = match kind {
                    Some((k, _)) => placement.pool.iter().copied().filter(|h| h.hypervisor == k.hypervisor()).collect(),
                    None => placement.pool.clone(),
                };
                if let Some((k, _)) = kind {
                    if pool.is_empty() {
                        continue;
                    }
                    kinds_used.insert(k);
                }
                let host = pool[0];
                for &image in &images {
                    let mut name = format!("{scenario}/{}", set.label());
                    let mut axes = BTreeMap::from([("host".to_owned(), placement.label.clone())]);
                    match set {
                        GuestSet::One(_) => axes.insert("guest".to_owned(), set.label()),
                        GuestSet::Cluster(..) => axes.insert("cluster".to_owned(), set.label()),
                    };
                    if let Some((k, _)) = kind {
                        name.push('-');
                        name.push_str(k.as_str());
                        axes.insert("kind".to_owned(), k.as_str().to_owned());
                    }
                    if let Some((i, _)) = image {
                        name.push('-');
                        name.push_str(i);
                        axes.insert("image".to_owned(), i.to_owned());
                    }
                    name.push('@');
                    name.push_str(&placement.label);

                    let mut ok = true;
                    let templates = set.templates();
                    let mut totals: BTreeMap<&str, u32> = BTreeMap::new();
                    for t in &templates {
                        *totals.entry(t.name.as_str()).or_default() += t.count;
                    }
                    let mut numbered: BTreeMap<&str, u32> = BTreeMap::new();
                    let mut guests: Vec<GuestSpec> = Vec::new();
                    for t in &templates {
                        let guest_kind = kind.map_or(t.kind, |(k, _)| k);
                        if placement.pinned && guest_kind.hypervisor() != host.hypervisor {
                            let at = kind.map(|(_, n)| n).or(host_node).unwrap_or(t.kind_node);
                            let host_kind = if host.hypervisor == crate::plan::Hypervisor::Kvm { "kvm" } else { "xen" };
                            report(
                                cx,
                                at,
                                format!("guest `{}` of kind `{guest_kind}` cannot run on {host_kind} host `{}`", t.name, host.name),
                                "kvm guests need a kvm host and xen-* guests a xen host; pick compatible hosts with `matrix.host`, or split the scenario".into(),
                            );
                            ok = false;
                        }
                        if let (Firmware::Uefi, Some(at)) = t.firmware
                            && guest_kind != GuestKind::Kvm
                        {
                            report(
                                cx,
                                at,
                                format!("guest `{}` of kind `{guest_kind}` cannot boot with `firmware: uefi`", t.name),
                                "UEFI is supported for kvm guests; Xen HVM guests boot with hvmloader's BIOS".into(),
                            );
                            ok = false;
                        }
                        let image_name = image.map_or(t.image.as_str(), |(i, _)| i);
                        let Some(img) = s.images.get(image_name) else {
                            return;
                        };
                        if img.boot == Boot::Disk && guest_kind == GuestKind::XenPvh {
                            report(
                                cx,
                                kind.map(|(_, n)| n).unwrap_or(t.kind_node),
                                format!("guest `{}` of kind `xen-pvh` cannot boot image `{image_name}` from its disk (`boot: disk`)", t.name),
                                "a PVH guest starts the kernel virtsmoke gives it: use `boot: kernel` with a `kernel`, or kind xen-pv (pygrub), xen-pvhvm, xen-hvm or kvm".into(),
                            );
                            ok = false;
                        }
                        for _ in 0..t.count {
                            let n = numbered.entry(t.name.as_str()).or_default();
                            *n += 1;
                            let guest_name =
                                if totals[t.name.as_str()] > 1 { format!("{}-{n}", t.name) } else { t.name.clone() };
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
                    for (i, g) in guests.iter().enumerate() {
                        if guests[..i].iter().any(|o| o.name == g.name) {
                            report(
                                cx,
                                set.node(),
                                format!("two guests of case `{name}` would be named `{}`", g.name),
                                format!(
                                    "instances are numbered `NAME-1`, `NAME-2`, ...; rename the guest template `{}`",
                                    g.name
                                ),
                            );
                            ok = false;
                        }
                    }
                    let count = guests.len() as u64;
                    let memory: u64 = guests.iter().map(|g| g.memory_mib).fold(0, u64::saturating_add);
                    // A placed case may go to any host of its pool that can run
                    // all its guests and has the capacity for them.
                    let candidates: Vec<&HostSpec> = if placement.pinned {
                        vec![host]
                    } else {
                        let fit: Vec<&HostSpec> = pool
                            .iter()
                            .copied()
                            .filter(|h| {
                                guests.iter().all(|g| g.kind.hypervisor() == h.hypervisor)
                                    && count <= u64::from(h.capacity.guests)
                                    && memory <= h.capacity.memory_mib
                            })
                            .collect();
                        if fit.is_empty() {
                            report(
                                cx,
                                host_node.unwrap_or(set.node()),
                                format!(
                                    "no host of `{}` can run case `{name}` ({count} guest(s), {memory} MiB)",
                                    placement.label
                                ),
                                "hosts must be of the guests' hypervisor and have the capacity; check `capacity` and `labels` of the hosts".into(),
                            );
                            ok = false;
                        }
                        fit
                    };
                    if placement.pinned && count > u64::from(host.capacity.guests) {
                        report(
                            cx,
                            host_node.unwrap_or(set.node()),
                            format!(
                                "case `{name}` boots {count} guests but host `{}` takes at most {}",
                                host.name, host.capacity.guests
                            ),
                            format!("raise `capacity.guests` of host `{}`, or boot fewer guests", host.name),
                        );
                        ok = false;
                    }
                    if placement.pinned && memory > host.capacity.memory_mib {
                        report(
                            cx,
                            host_node.unwrap_or(set.node()),
                            format!(
                                "case `{name}` needs {memory} MiB but host `{}` has {} MiB",
                                host.name, host.capacity.memory_mib
                            ),
                            format!(
                                "raise `capacity.memory_mib` of host `{}`, or give the guests less memory",
                                host.name
                            ),
                        );
                        ok = false;
                    }
                    if let Some(origin) = case_names.get(&name) {
                        let help = if *origin == fi {
                            "two matrix combinations give the same name; rename a guest or an image".to_owned()
                        } else {
                            format!("also produced by {}", sources[*origin].path.display())
                        };
                        report(cx, set.node(), format!("case `{name}` is defined twice"), help);
                        ok = false;
                    }
                    if !ok {
                        continue;
                    }
                    case_names.insert(name.clone(), fi);
                    out.push(Case {
                        name,
                        scenario: scenario.clone(),
                        source: sources[fi].path.clone(),
                        host: candidates.first().map_or_else(|| host.name.clone(), |h| h.name.clone()),
                        candidates: if placement.pinned {
                            Vec::new()
                        } else {
                            candidates.iter().map(|h| h.name.clone()).collect()
                        },
                        guests,
                        checks: s.checks.clone(),
                        timeouts: s.timeouts,
                        matrix: axes,
                    });
                }
            }
        }
    }
    for (k, at) in kinds.iter().flatten() {
        if !kinds_used.contains(k) {
            let names: Vec<&str> = placements.iter().flat_map(|p| p.pool.iter().map(|h| h.name.as_str())).collect();
            let wanted = if k.hypervisor() == crate::plan::Hypervisor::Kvm { "kvm" } else { "xen" };
            report(
                cx,
                at,
                format!("kind `{k}` fits none of the hosts ({})", names.join(", ")),
                format!("a `{k}` guest needs a {wanted} host: add one to `matrix.host`, or remove `{k}`"),
            );
        }
    }
}
