//! After every case: no domain of this run may remain on any host (libvirt's
//! view, and the hypervisor's own where it has one: xenstore on Xen hosts),
//! nor its copied image files. A part that could not be checked says so.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::context::{HostState, LeakBasis, ReadyHost, RunContext};
use crate::backend::host_shell::DEADLINE;
use crate::events::{CaseReport, Outcome, StepRecord};
use crate::hostaccess::shell_for;
use crate::hypervisor::{LeakSource, UriFamily};

/// The hypervisor's own domain list on the host of `spec`, before the run.
pub async fn leak_basis(spec: &crate::plan::HostSpec) -> LeakBasis {
    let Some(source) = crate::hypervisor::for_host(spec.hypervisor).leak_source() else { return LeakBasis::Absent };
    if crate::hypervisor::Uri::parse(&spec.uri).is_ok_and(|u| u.family() == UriFamily::Test) {
        return LeakBasis::Absent;
    }
    match shell_for(spec).run_within(source.command, DEADLINE).await {
        Ok(out) => LeakBasis::Known((source.parse)(&out)),
        Err(e) => LeakBasis::Unavailable(crate::error_chain(&e)),
    }
}

/// What the leak check found, host by host.
#[derive(Debug, Default)]
struct Findings {
    /// Leftovers (removed or not).
    found: Vec<String>,
    /// Lists that could not be read after the run.
    unreachable: Vec<String>,
    /// Lists that were not checked at all, and why.
    skipped: Vec<String>,
    /// Hosts not checked because a case found them unreachable, and since when.
    lost: Vec<String>,
}

/// After every case: no domain of this run may remain on any host, nor its
/// copied image files (`unremoved`: those that could not be removed). Anything
/// found is removed and reported as a failed `teardown` testcase of its own;
/// a hypervisor's list that could not be checked is a skipped testcase there.
pub async fn leak_check(ctx: &RunContext, cases: &[CaseReport], unremoved: Vec<String>) -> Option<CaseReport> {
    let t = Instant::now();
    // Guests kept for a human (`--keep`, `--keep-on-failure`) are meant to stay.
    let kept: BTreeSet<&str> = cases.iter().flat_map(|c| c.kept.iter().map(|k| k.domain.as_str())).collect();
    let mut f = Findings { found: unremoved, ..Findings::default() };
    for (name, state) in &ctx.hosts {
        let HostState::Ready(h) = state else { continue };
        if let Some(lost) = ctx.lost_host(name) {
            f.lost.push(lost.describe(name));
            continue;
        }
        match h.host.owned_domains().await {
            Ok(doms) => {
                for d in doms.into_iter().filter(|d| d.run_id == ctx.run_id && !kept.contains(d.name.as_str())) {
                    let removed = h.host.remove_domain(&d.name).await.is_ok();
                    f.found.push(format!(
                        "{} on {name}{}",
                        d.name,
                        if removed { "" } else { " (could not be removed)" }
                    ));
                }
            }
            Err(e) => f.unreachable.push(format!("cannot list the domains of {name}: {}", crate::error_chain(&e))),
        }
        // The hypervisor's own view: a domain libvirt lost track of still shows there.
        match &h.leak_basis {
            LeakBasis::Absent => {}
            LeakBasis::Unavailable(why) => f.skipped.push(format!("{name}: {why}")),
            LeakBasis::Known(basis) => hypervisor_leaks(ctx, h, basis, &kept, &mut f).await,
        }
    }
    let (outcome, steps) = verdict(f, t.elapsed())?;
    Some(CaseReport {
        name: "virtsmoke/leak-check".into(),
        scenario: "virtsmoke".into(),
        host: String::new(),
        started: std::time::SystemTime::now(),
        duration: t.elapsed(),
        outcome,
        steps,
        properties: vec![("run_id".into(), ctx.run_id.clone())],
        consoles: vec![],
        artifacts: vec![],
        kept: vec![],
        cause: None,
    })
}

/// This run's domains the hypervisor knows on `h` beyond `basis`: destroyed and noted.
async fn hypervisor_leaks(
    ctx: &RunContext,
    h: &ReadyHost,
    basis: &BTreeMap<u32, String>,
    kept: &BTreeSet<&str>,
    f: &mut Findings,
) {
    let name = &h.spec.name;
    let Some(LeakSource { command, parse, destroy }) = crate::hypervisor::for_host(h.spec.hypervisor).leak_source()
    else {
        return;
    };
    let ours = format!("vs-{}-", ctx.run_id);
    let shell = shell_for(&h.spec);
    let Some(out) = shell.run(command).await else {
        f.unreachable.push(format!("cannot list the xenstore domains of {name}"));
        return;
    };
    for (id, dom) in parse(&out) {
        if basis.contains_key(&id) || !dom.starts_with(&ours) || kept.contains(dom.as_str()) {
            continue;
        }
        let removed = shell.run(&destroy(id)).await.is_some();
        f.found.push(format!(
            "xenstore domain {id} ({dom}) on {name}{}",
            if removed { "" } else { " (xl destroy failed)" }
        ));
    }
}

/// The leak-check case's outcome and testcases; `None` when all was checked
/// and nothing found.
fn verdict(f: Findings, took: std::time::Duration) -> Option<(Outcome, Vec<StepRecord>)> {
    let step = |name: &str, outcome, message: String| StepRecord {
        name: name.into(),
        outcome,
        duration: took,
        message: Some(message),
        detail: None,
        attempts: vec![],
    };
    let mut steps = Vec::new();
    if !f.found.is_empty() {
        steps.push(step("teardown", Outcome::Failed, format!("the run left domains behind: {}", f.found.join("; "))));
    } else if !f.unreachable.is_empty() {
        let message = format!("the run's leftovers could not be checked: {}", f.unreachable.join("; "));
        steps.push(step("teardown", Outcome::Error, message));
    } else if !f.lost.is_empty() {
        // Said once, by the case that found the host gone: not a failure here.
        steps.push(step("teardown", Outcome::Skipped, format!("not checked: {}", f.lost.join("; "))));
    }
    if !f.skipped.is_empty() {
        let message = format!(
            "the hypervisor's own domain list could not be read before the run, so domains libvirt lost \
             track of are not looked for: {}",
            f.skipped.join("; ")
        );
        steps.push(step("teardown.hypervisor-domains", Outcome::Skipped, message));
    }
    let outcome = steps.first()?.outcome;
    Some((outcome, steps))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(found: &[&str], unreachable: &[&str], skipped: &[&str]) -> Findings {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        Findings { found: v(found), unreachable: v(unreachable), skipped: v(skipped), lost: vec![] }
    }

    fn outcomes(f: Findings) -> Option<(Outcome, Vec<(String, Outcome)>)> {
        let (o, steps) = verdict(f, std::time::Duration::ZERO)?;
        Some((o, steps.into_iter().map(|s| (s.name, s.outcome)).collect()))
    }

    #[test]
    fn an_unread_hypervisor_list_is_a_skipped_testcase_with_its_reason() {
        assert!(verdict(findings(&[], &[], &[]), Default::default()).is_none(), "all checked, nothing found");
        let skipped = findings(&[], &[], &["xen1: `xenstore-list` failed"]);
        let (outcome, steps) = verdict(skipped, Default::default()).unwrap();
        assert_eq!(outcome, Outcome::Skipped);
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].outcome, Outcome::Skipped);
        assert!(steps[0].message.as_deref().unwrap().ends_with("not looked for: xen1: `xenstore-list` failed"));
        let both = outcomes(findings(&["vs-r-0-g on h"], &[], &["xen1: no way in"])).unwrap();
        let expected = [("teardown".into(), Outcome::Failed), ("teardown.hypervisor-domains".into(), Outcome::Skipped)];
        assert_eq!(both, (Outcome::Failed, expected.to_vec()));
        let error = outcomes(findings(&[], &["cannot list"], &[])).unwrap();
        assert_eq!(error, (Outcome::Error, vec![("teardown".into(), Outcome::Error)]));
    }

    #[test]
    fn a_host_found_unreachable_makes_the_leak_check_a_skip_with_the_reason() {
        let mut f = findings(&[], &[], &[]);
        f.lost.push("host xen1 unreachable since 03:26:19 (found by s/c@xen1)".into());
        let (outcome, steps) = verdict(f, Default::default()).unwrap();
        assert_eq!((outcome, steps.len()), (Outcome::Skipped, 1));
        assert_eq!(
            steps[0].message.as_deref(),
            Some("not checked: host xen1 unreachable since 03:26:19 (found by s/c@xen1)")
        );
        let mut f = findings(&["vs-r-0-g on kvm1"], &[], &[]);
        f.lost.push("host xen1 unreachable since 03:26:19 (found by s/c@xen1)".into());
        assert_eq!(verdict(f, Default::default()).unwrap().0, Outcome::Failed, "a leftover elsewhere still fails");
    }

    fn spec(uri: &str, hypervisor: crate::plan::Hypervisor) -> crate::plan::HostSpec {
        crate::plan::HostSpec {
            name: "h".into(),
            uri: uri.into(),
            hypervisor,
            accel: crate::plan::AccelPreference::Auto,
            netns: None,
            bridge: "br0".into(),
            capacity: crate::plan::Capacity { guests: 1, memory_mib: 1024, when_full: crate::plan::WhenFull::DEFAULT },
            roles: vec![],
            labels: Default::default(),
            jump: None,
        }
    }

    #[tokio::test]
    async fn a_xen_host_without_a_shell_has_its_basis_unavailable() {
        use crate::plan::Hypervisor;
        assert_eq!(leak_basis(&spec("qemu:///system", Hypervisor::Kvm)).await, LeakBasis::Absent);
        assert_eq!(leak_basis(&spec("test:///default", Hypervisor::Xen)).await, LeakBasis::Absent);
        let LeakBasis::Unavailable(why) = leak_basis(&spec("xen+ssh://root@xen7/system", Hypervisor::Xen)).await else {
            panic!("a remote Xen host without a `jump` has no shell")
        };
        assert!(why.contains("no way to run commands on the host"), "{why}");
    }
}
