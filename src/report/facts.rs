//! Which case properties are facts about the host (versions, kernels, packages)
//! rather than measurements of the case, and the facts of each host of a run.

use std::collections::BTreeMap;

use crate::events::CaseReport;

const HOST_FACTS: [&str; 10] = [
    "host",
    "host_uri",
    "hypervisor",
    "hypervisor_version",
    "libvirt_version",
    "host_cpu_model",
    "host_kernel",
    "dom0_kernel",
    "distro",
    "domain_type",
];

/// Host facts: the names above, `xen_*` (from `xl info`) and `pkg.*` (package builds).
pub fn is_host_fact(property: &str) -> bool {
    HOST_FACTS.contains(&property) || property.starts_with("xen_") || property.starts_with("pkg.")
}

/// Host name (the scenario's, `CaseReport::host`) → fact → value, from the first
/// case of the host that records the fact. Cases without a host (run-level
/// checks) are left out.
pub fn by_host(cases: &[CaseReport]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut hosts: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for case in cases.iter().filter(|c| !c.host.is_empty()) {
        let facts = hosts.entry(case.host.clone()).or_default();
        for (k, v) in case.properties.iter().filter(|(k, _)| is_host_fact(k)) {
            facts.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Outcome;
    use crate::report::sample;

    #[test]
    fn facts_are_versions_and_packages_not_figures() {
        for fact in ["libvirt_version", "xen_changeset", "pkg.qemu-system-x86", "dom0_kernel", "domain_type"] {
            assert!(is_host_fact(fact), "{fact}");
        }
        for figure in ["boot_ms", "run_id", "tiny.address", "tiny.ssh_ms", "downtime_ms"] {
            assert!(!is_host_fact(figure), "{figure}");
        }
    }

    #[test]
    fn first_value_per_host_wins_and_hostless_cases_are_skipped() {
        let a = sample::case("s/a", "h1", Outcome::Passed, &[("libvirt_version", "9"), ("boot_ms", "1")]);
        let b = sample::case("s/b", "h1", Outcome::Passed, &[("libvirt_version", "10"), ("pkg.xen", "4.17")]);
        let c = sample::case("virtsmoke/leak-check", "", Outcome::Failed, &[("libvirt_version", "1")]);
        let hosts = by_host(&[a, b, c]);
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts["h1"]["libvirt_version"], "9");
        assert_eq!(hosts["h1"]["pkg.xen"], "4.17");
        assert!(!hosts["h1"].contains_key("boot_ms"));
    }
}
