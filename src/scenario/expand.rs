//! Across files: merging hosts, then expanding each scenario's matrix into
//! cases. The matrix is a product of axes ([`axes`]); each combination passes
//! small named validators ([`rules`]) that report every problem they find.

mod axes;
mod report;
mod rules;
mod scope;

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::{Case, HostSpec, Plan};

use super::ctx::{Cx, SourceFile};
use super::diagnostic::Diagnostic;
use super::file::Scenario;
use super::matrix::HostAxis;
use super::suggest;

use axes::{Axes, Combination};
use report::Report;
use scope::Scope;

/// A file's index into the sources and what was read from it.
pub(crate) type Read<'n> = (usize, Scenario<'n>);

/// Builds the plan; problems go to `diags` (the plan is only meaningful when none were added).
pub(crate) fn plan(
    sources: &[SourceFile],
    scenarios: &[Read<'_>],
    diags: &mut Vec<Diagnostic>,
    need_cases: bool,
) -> Plan {
    let hosts = merge_hosts(sources, scenarios, diags);
    let host_names: BTreeSet<&str> =
        scenarios.iter().flat_map(|(_, s)| s.host_names.iter().map(String::as_str)).collect();
    let mut plan = Plan { hosts, cases: Vec::new() };
    if host_names.is_empty() {
        no_hosts(sources, scenarios, diags);
        return plan;
    }
    let mut scenario_names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut case_names: BTreeMap<String, usize> = BTreeMap::new();
    for (fi, s) in scenarios {
        let mut cx = Cx::new(&sources[*fi]);
        let unique = unique_scenario_name(&mut cx, sources, &mut scenario_names, *fi, s);
        let hosts_known = matrix_hosts_defined(&mut cx, s, &host_names);
        migrate_targets_defined(&mut cx, s, &host_names);
        if s.valid && unique && hosts_known && s.has_guests {
            let scope = Scope { s, hosts: &plan.hosts, fi: *fi, sources };
            let first = plan.cases.len();
            expand(&mut cx, &scope, &mut case_names, &mut plan.cases);
            if cx.diags.is_empty() {
                super::known::attach(&mut cx, &s.known_issues, &mut plan.cases[first..]);
            }
        }
        diags.append(&mut cx.diags);
    }
    if need_cases && plan.cases.is_empty() && diags.is_empty() {
        no_cases(sources, scenarios, diags);
    }
    plan
}

/// Hosts by name across files; a name defined differently twice is an error.
fn merge_hosts(
    sources: &[SourceFile],
    scenarios: &[Read<'_>],
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, HostSpec> {
    let mut hosts: BTreeMap<String, (HostSpec, usize)> = BTreeMap::new();
    for (fi, s) in scenarios {
        let mut cx = Cx::new(&sources[*fi]);
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
    hosts.into_iter().map(|(k, (h, _))| (k, h)).collect()
}

/// No file names a host. A broken `hosts:` is reported already; only say so when none is written.
fn no_hosts(sources: &[SourceFile], scenarios: &[Read<'_>], diags: &mut Vec<Diagnostic>) {
    if let Some((fi, s)) = scenarios.first().filter(|_| !scenarios.iter().any(|(_, s)| s.declares_hosts)) {
        let mut cx = Cx::new(&sources[*fi]);
        cx.error(
            s.root,
            "no hosts are defined in any scenario file",
            Some("add a `hosts:` section, e.g. `hosts: { lab1: { uri: \"qemu:///system\" } }`".into()),
        );
        diags.append(&mut cx.diags);
    }
}

fn no_cases(sources: &[SourceFile], scenarios: &[Read<'_>], diags: &mut Vec<Diagnostic>) {
    if let Some((fi, s)) = scenarios.first() {
        let mut cx = Cx::new(&sources[*fi]);
        cx.error(s.root, "the scenario files define no cases", Some("add a `guests:` section".into()));
        diags.append(&mut cx.diags);
    }
}

/// Case names start with the scenario name, so it must be unique across files.
fn unique_scenario_name<'a>(
    cx: &mut Cx<'_>,
    sources: &[SourceFile],
    seen: &mut BTreeMap<&'a str, usize>,
    fi: usize,
    s: &'a Scenario<'_>,
) -> bool {
    let Some((name, node)) = &s.name else { return true };
    if let Some(origin) = seen.get(name.as_str()) {
        cx.error(
            node,
            format!("scenario name `{name}` is also used by {}", sources[*origin].path.display()),
            Some("case names start with the scenario name, so it must be unique".into()),
        );
        return false;
    }
    seen.insert(name, fi);
    true
}

/// Every host named by `matrix.host` is defined in some file.
fn matrix_hosts_defined(cx: &mut Cx<'_>, s: &Scenario<'_>, host_names: &BTreeSet<&str>) -> bool {
    let Some(HostAxis::Names(values)) = s.matrix.as_ref().and_then(|m| m.host.as_ref()) else {
        return true;
    };
    let mut ok = true;
    for (h, at) in values {
        if !host_names.contains(h.as_str()) {
            let help = suggest::help_for(h, &host_names.iter().copied().collect::<Vec<_>>(), "defined hosts are");
            cx.error(at, format!("`matrix.host` uses undefined host `{h}`"), help);
            ok = false;
        }
    }
    ok
}

/// Every host named by a `migrate` check's `target` is defined in some file.
fn migrate_targets_defined(cx: &mut Cx<'_>, s: &Scenario<'_>, host_names: &BTreeSet<&str>) {
    for m in &s.migrates {
        let (Some(target), Some(at)) = (&m.spec.target, m.target) else { continue };
        if !host_names.contains(target.as_str()) {
            let help = suggest::help_for(target, &host_names.iter().copied().collect::<Vec<_>>(), "defined hosts are");
            let message = format!("`target` of check {} (`migrate`) uses undefined host `{target}`", m.position);
            cx.error(at, message, help);
        }
    }
}

/// The cases of one scenario, appended to `out`.
fn expand(cx: &mut Cx<'_>, scope: &Scope<'_, '_>, case_names: &mut BTreeMap<String, usize>, out: &mut Vec<Case>) {
    let Some((scenario, _)) = &scope.s.name else { return };
    let mut rep = Report::new(cx);
    let Some(axes) = Axes::of(&mut rep, scope.s, scope.hosts) else { return };
    let combinations = axes.product();
    for c in &combinations {
        match rules::case(&mut rep, scope, scenario, c, case_names) {
            None => return, // an image a guest needs is itself invalid, and reported
            Some(Some(case)) => {
                case_names.insert(case.name.clone(), scope.fi);
                out.push(case);
            }
            Some(None) => {}
        }
    }
    kinds_used(&mut rep, &axes, &combinations);
}

/// A `kind` axis value that fits none of the hosts is an error.
fn kinds_used(rep: &mut Report<'_, '_>, axes: &Axes<'_, '_, '_>, combinations: &[Combination<'_, '_, '_, '_>]) {
    for (k, at) in axes.kinds.iter().flatten() {
        if combinations.iter().any(|c| c.kind.is_some_and(|(used, _)| used == *k)) {
            continue;
        }
        let names: Vec<&str> = axes.placements.iter().flat_map(|p| p.pool.iter().map(|h| h.name.as_str())).collect();
        let wanted = if k.hypervisor() == crate::plan::Hypervisor::Kvm { "kvm" } else { "xen" };
        rep.error(
            at,
            format!("kind `{k}` fits none of the hosts ({})", names.join(", ")),
            format!("a `{k}` guest needs a {wanted} host: add one to `matrix.host`, or remove `{k}`"),
        );
    }
}
