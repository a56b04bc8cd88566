//! Before the first case: the images the plan needs (built once, cached), and
//! every host it uses connected, its facts read and its accelerator chosen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use tokio::task::JoinSet;

use super::accel::{self, AccelChoice, ProbeSetup};
use super::context::{HostState, LeakBasis, ReadyHost};
use super::leak::leak_basis;
use super::options::RunError;
use super::staged::Staged;
use crate::backend::{BackendError, Host};
use crate::events::HostFacts;
use crate::events::RunEvent;
use crate::image::BuiltImage;
use crate::plan::{HostSpec, ImageSpec, Plan};

/// The builtin images of the plan, built or taken from the cache. The test
/// image is among them whenever a KVM host of the run chooses its
/// accelerator (`accel: auto`): the KVM probe boots it. A run on Xen hosts
/// only builds nothing it does not boot (in a dom0 without a network, the
/// build could not even fetch its packages).
pub async fn images(plan: &Plan, emit: &mut impl FnMut(&RunEvent)) -> Result<BTreeMap<String, BuiltImage>, RunError> {
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    if needs_kvm_probe(plan) {
        wanted.insert("test-image".to_string());
    }
    for case in &plan.cases {
        for g in &case.guests {
            if let ImageSpec::Builtin { name } = &g.image.spec {
                wanted.insert(name.clone());
            }
        }
    }
    let mut images = BTreeMap::new();
    for name in wanted {
        if crate::image::cached(&name)?.is_none() {
            emit(&RunEvent::Preparing { what: format!("building image {name} (first use; cached afterwards)") });
        }
        let n = name.clone();
        let img = tokio::task::spawn_blocking(move || crate::image::ensure(&n, false)).await??;
        images.insert(name, img);
    }
    Ok(images)
}

/// Whether a host of the run may probe KVM (a KVM host with `accel: auto`).
pub fn needs_kvm_probe(plan: &Plan) -> bool {
    hosts_used(plan)
        .into_iter()
        .filter_map(|n| plan.hosts.get(n))
        .any(|h| h.hypervisor == crate::plan::Hypervisor::Kvm && h.accel == crate::plan::AccelPreference::Auto)
}

/// The hosts the plan's cases run on, and those their checks need besides.
fn hosts_used(plan: &Plan) -> BTreeSet<&String> {
    let mut used: BTreeSet<&String> =
        plan.cases.iter().flat_map(|c| std::iter::once(&c.host).chain(&c.candidates)).collect();
    for check in plan.cases.iter().flat_map(|c| &c.checks) {
        used.extend(crate::checks::hosts_needed(check, &plan.hosts));
    }
    used
}

/// Where a run prepares its hosts from.
pub struct HostPrep<'a> {
    pub run_id: &'a str,
    pub run_dir: &'a Path,
    /// The kernel the KVM probe boots (none when no host of the run probes).
    pub probe_kernel: Option<&'a Path>,
    /// Where a copy of it to a remote host is noted, for the run's end to remove.
    pub staged: &'a Arc<Staged>,
}

type Connected = (Host, HostFacts, AccelChoice, LeakBasis);

/// Every host used, concurrently; returns their states and the names of those
/// that could not be used at all.
pub async fn hosts(
    plan: &Plan,
    prep: &HostPrep<'_>,
    emit: &mut impl FnMut(&RunEvent),
) -> Result<(BTreeMap<String, HostState>, Vec<String>), RunError> {
    let mut set = JoinSet::new();
    for name in hosts_used(plan) {
        let Some(spec) = plan.hosts.get(name).cloned() else { continue };
        let probe = ProbeSetup {
            kernel: prep.probe_kernel.map(Path::to_path_buf),
            run_id: prep.run_id.to_string(),
            scratch: prep.run_dir.to_path_buf(),
            staged: Arc::clone(prep.staged),
        };
        emit(&RunEvent::Preparing { what: format!("connecting to host {} ({})", spec.name, spec.uri) });
        set.spawn(async move {
            let r = connect(&spec, &probe).await;
            (spec, r)
        });
    }
    let mut hosts = BTreeMap::new();
    let mut unusable = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (spec, r) = joined?;
        match r {
            Ok((host, facts, choice, leak_basis)) => {
                emit(&RunEvent::HostReady {
                    host: spec.name.clone(),
                    domain_type: choice.domain_type.as_str().to_string(),
                    accel_reason: choice.reason.clone(),
                    facts: facts.clone(),
                });
                let ready = ReadyHost { spec, host, facts, domain_type: choice.domain_type, leak_basis };
                hosts.insert(ready.spec.name.clone(), HostState::Ready(Box::new(ready)));
            }
            Err(e) => {
                let msg = crate::error_chain(&e);
                emit(&RunEvent::HostUnusable { host: spec.name.clone(), error: msg.clone() });
                unusable.push(spec.name.clone());
                hosts.insert(spec.name.clone(), HostState::Unusable(msg));
            }
        }
    }
    Ok((hosts, unusable))
}

/// One host: connect, read facts, choose the accelerator, note the hypervisor's own domains.
async fn connect(spec: &HostSpec, probe: &ProbeSetup) -> Result<Connected, BackendError> {
    let host = Host::connect(&spec.name, &spec.uri).await?;
    let mut facts = host.facts().await?;
    crate::hostaccess::enrich(spec, &mut facts).await;
    let choice = accel::choose(&host, &facts, spec, probe).await?;
    let basis = leak_basis(spec).await;
    Ok((host, facts, choice, basis))
}
