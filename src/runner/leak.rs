//! After every case: no domain of this run may remain on any host (libvirt's
//! view, and xenstore's on Xen hosts), nor its copied image files.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::context::{HostState, RunContext};
use crate::events::{CaseReport, Outcome};
use crate::hostaccess::shell_for;

/// The domains xenstore knows on a Xen host (id → name); `None` elsewhere or
/// when the host's shell cannot be reached.
pub async fn xenstore_domains(spec: &crate::plan::HostSpec) -> Option<BTreeMap<u32, String>> {
    if spec.hypervisor != crate::plan::Hypervisor::Xen {
        return None;
    }
    let out = shell_for(spec).run(crate::backend::host_shell::XENSTORE_DOMAINS).await?;
    Some(crate::backend::host_shell::parse_xenstore_domains(&out))
}

/// After every case: no domain of this run may remain on any host, nor its
/// copied image files (`unremoved`: those that could not be removed). Anything
/// found is removed and reported as a failed `teardown` testcase of its own.
pub async fn leak_check(ctx: &RunContext, cases: &[CaseReport], unremoved: Vec<String>) -> Option<CaseReport> {
    let t = Instant::now();
    // Guests kept for a human (`--keep-on-failure`) are meant to stay.
    let kept: BTreeSet<&str> = cases.iter().flat_map(|c| c.kept.iter().map(|k| k.domain.as_str())).collect();
    let mut found = unremoved;
    let mut unreachable = Vec::new();
    for (name, state) in &ctx.hosts {
        let HostState::Ready(h) = state else { continue };
        match h.host.owned_domains().await {
            Ok(doms) => {
                for d in doms.into_iter().filter(|d| d.run_id == ctx.run_id && !kept.contains(d.name.as_str())) {
                    let removed = h.host.remove_domain(&d.name).await.is_ok();
                    found.push(format!("{} on {name}{}", d.name, if removed { "" } else { " (could not be removed)" }));
                }
            }
            Err(e) => unreachable.push(format!("cannot list the domains of {name}: {}", crate::error_chain(&e))),
        }
        // Xen's own view: a domain libvirt lost track of still shows in xenstore.
        if let Some(basis) = &h.xenstore_basis {
            let ours = format!("vs-{}-", ctx.run_id);
            match xenstore_domains(&h.spec).await {
                Some(now) => {
                    let shell = shell_for(&h.spec);
                    for (id, dom) in now {
                        if basis.contains_key(&id) || !dom.starts_with(&ours) || kept.contains(dom.as_str()) {
                            continue;
                        }
                        let removed = shell.run(&format!("xl destroy {id}")).await.is_some();
                        found.push(format!(
                            "xenstore domain {id} ({dom}) on {name}{}",
                            if removed { "" } else { " (xl destroy failed)" }
                        ));
                    }
                }
                None => unreachable.push(format!("cannot list the xenstore domains of {name}")),
            }
        }
    }
    let (outcome, message) = if !found.is_empty() {
        (Outcome::Failed, format!("the run left domains behind: {}", found.join("; ")))
    } else if !unreachable.is_empty() {
        (Outcome::Error, format!("the run's leftovers could not be checked: {}", unreachable.join("; ")))
    } else {
        return None;
    };
    let step = crate::events::StepRecord {
        name: "teardown".into(),
        outcome,
        duration: t.elapsed(),
        message: Some(message),
        detail: None,
        attempts: vec![],
    };
    Some(CaseReport {
        name: "virtsmoke/leak-check".into(),
        scenario: "virtsmoke".into(),
        host: String::new(),
        started: std::time::SystemTime::now(),
        duration: t.elapsed(),
        outcome,
        steps: vec![step],
        properties: vec![("run_id".into(), ctx.run_id.clone())],
        consoles: vec![],
        artifacts: vec![],
        kept: vec![],
    })
}
