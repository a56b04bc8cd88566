//! `virtsmoke compare RUN.json --hosts BASE,OTHER`: one run that booted the same
//! kinds on several hosts (several Xen/libvirt builds side by side), its cases on
//! `OTHER` compared with its cases on `BASE` exactly as a run with an earlier one.
//!
//! Cases are paired on their name without the `@HOST` part. The comparison is
//! `compare::compare` on two derived documents: BASE's cases as the old run and
//! OTHER's as the new, both named without their host and both given OTHER's host
//! name, so that the host facts of the two hosts are compared as one host's.

use crate::events::CaseReport;
use crate::report::compare::{self, AcrossHosts, Comparison, Thresholds};
use crate::report::json::Document;

/// Host facts that name the host rather than its build: they differ between any
/// two hosts and are not reported.
const NAMES: [&str; 2] = ["host", "host_uri"];

/// `SCENARIO/KIND@HOST` without `@HOST`: the name a case has on every host.
pub fn without_host<'a>(name: &'a str, host: &str) -> &'a str {
    name.strip_suffix(host).and_then(|n| n.strip_suffix('@')).filter(|_| !host.is_empty()).unwrap_or(name)
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum HostsError {
    #[error("the hosts compared must differ (both are {0})")]
    Same(String),
    #[error("no case of the run {run_id} ran on host {host} (its hosts: {known})")]
    NoCase { run_id: String, host: String, known: String },
}

/// The cases of `doc` on `host`, without their `@HOST`, given the host name `label`.
fn on_host(doc: &Document, host: &str, label: &str) -> Document {
    Document {
        run_id: format!("{}@{host}", doc.run_id),
        cases: doc
            .cases
            .iter()
            .filter(|c| c.host == host)
            .map(|c| CaseReport { name: without_host(&c.name, host).to_string(), host: label.to_string(), ..c.clone() })
            .collect(),
    }
}

/// The cases on `hosts.against` compared with those on `hosts.base`. Cases on
/// other hosts and run-level cases (no host) are left out, and so are the facts
/// `host` and `host_uri` (names, not builds).
pub fn compare(doc: &Document, hosts: &AcrossHosts, thresholds: Thresholds) -> Result<Comparison, HostsError> {
    if hosts.base == hosts.against {
        return Err(HostsError::Same(hosts.base.clone()));
    }
    for host in [&hosts.base, &hosts.against] {
        if !doc.cases.iter().any(|c| &c.host == host) {
            let mut known: Vec<&str> = doc.cases.iter().map(|c| c.host.as_str()).filter(|h| !h.is_empty()).collect();
            known.sort();
            known.dedup();
            let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
            return Err(HostsError::NoCase { run_id: doc.run_id.clone(), host: host.clone(), known });
        }
    }
    let old = on_host(doc, &hosts.base, &hosts.against);
    let new = on_host(doc, &hosts.against, &hosts.against);
    let mut cmp = compare::compare(&old, &new, thresholds);
    for only_on_base in &mut cmp.removed {
        only_on_base.host = hosts.base.clone();
    }
    for h in &mut cmp.host_changes {
        h.facts.retain(|f| !NAMES.contains(&f.fact.as_str()));
    }
    cmp.host_changes.retain(|h| !h.facts.is_empty());
    cmp.across_hosts = Some(hosts.clone());
    Ok(cmp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Outcome;
    use crate::report::sample::case;

    fn hosts() -> AcrossHosts {
        AcrossHosts { base: "xen1".into(), against: "xen2".into() }
    }

    fn builds() -> Document {
        let xen1 = [
            ("host", "bookworm"),
            ("xen_version", "4.17.5"),
            ("libvirt_version", "9.0.0"),
            ("dom0_kernel", "6.1.0-37-amd64"),
        ];
        let xen2 = [
            ("host", "trixie"),
            ("xen_version", "4.20.1"),
            ("libvirt_version", "11.3.0"),
            ("dom0_kernel", "6.1.0-37-amd64"),
        ];
        let with = |facts: &[(&'static str, &'static str)], boot: &'static str| {
            let mut p = facts.to_vec();
            p.push(("boot_ms", boot));
            p
        };
        Document {
            run_id: "r1".into(),
            cases: vec![
                case("b/tiny-xen-pv@xen1", "xen1", Outcome::Passed, &with(&xen1, "9000")),
                case("b/tiny-xen-pvh@xen1", "xen1", Outcome::Passed, &with(&xen1, "8000")),
                case("b/tiny-xen-hvm@xen1", "xen1", Outcome::Failed, &with(&xen1, "0")),
                case("b/old-only@xen1", "xen1", Outcome::Passed, &xen1),
                case("b/tiny-xen-pv@xen2", "xen2", Outcome::Passed, &with(&xen2, "12500")),
                case("b/tiny-xen-pvh@xen2", "xen2", Outcome::Failed, &xen2),
                case("b/tiny-xen-hvm@xen2", "xen2", Outcome::Passed, &with(&xen2, "900")),
                case("b/new-only@xen2", "xen2", Outcome::Passed, &xen2),
                case("b/tiny-xen-pv@xen3", "xen3", Outcome::Failed, &[]),
                case("virtsmoke/leak-check", "", Outcome::Failed, &[]),
            ],
        }
    }

    #[test]
    fn names_lose_only_their_own_host() {
        assert_eq!(without_host("s/tiny-xen-pv@xen1", "xen1"), "s/tiny-xen-pv");
        assert_eq!(without_host("s/tiny-xen-pv@xen1", "en1"), "s/tiny-xen-pv@xen1");
        assert_eq!(without_host("s/tiny-xen-pv", "xen1"), "s/tiny-xen-pv");
        assert_eq!(without_host("virtsmoke/leak-check", ""), "virtsmoke/leak-check");
    }

    #[test]
    fn the_other_host_is_compared_with_the_base_as_a_new_run_with_an_old_one() {
        let c = compare(&builds(), &hosts(), Thresholds::default()).unwrap();
        let names = |l: &[compare::OutcomeChange]| l.iter().map(|c| c.case.clone()).collect::<Vec<_>>();
        assert_eq!(names(&c.newly_failing), ["b/tiny-xen-pvh"]);
        assert_eq!(c.newly_failing[0].host, "xen2");
        assert_eq!(names(&c.newly_passing), ["b/tiny-xen-hvm"]);
        assert_eq!(c.regressions.len(), 1);
        assert_eq!(
            (c.regressions[0].case.as_str(), c.regressions[0].old_ms, c.regressions[0].new_ms),
            ("b/tiny-xen-pv", 9000, 12500)
        );
        assert_eq!(
            c.added.iter().map(|a| (a.case.as_str(), a.host.as_str())).collect::<Vec<_>>(),
            [("b/new-only", "xen2")]
        );
        assert_eq!(
            c.removed.iter().map(|a| (a.case.as_str(), a.host.as_str())).collect::<Vec<_>>(),
            [("b/old-only", "xen1")]
        );
        assert_eq!(c.host_changes.len(), 1);
        let facts: Vec<(&str, Option<&str>, Option<&str>)> =
            c.host_changes[0].facts.iter().map(|f| (f.fact.as_str(), f.old.as_deref(), f.new.as_deref())).collect();
        assert_eq!(
            facts,
            [("libvirt_version", Some("9.0.0"), Some("11.3.0")), ("xen_version", Some("4.17.5"), Some("4.20.1"))]
        );
        assert!(c.regressed);
        assert_eq!((c.old_run_id.as_str(), c.new_run_id.as_str()), ("r1@xen1", "r1@xen2"));
    }

    #[test]
    fn the_text_names_both_hosts_and_the_cases_only_on_one() {
        let text = compare(&builds(), &hosts(), Thresholds::default()).unwrap().render_text();
        for expected in [
            "compare r1@xen1 -> r1@xen2: 1 newly failing, 1 regression(s), 1 newly passing, 1 only on xen2, 1 only on xen1\n",
            "newly failing:\n  b/tiny-xen-pvh on xen1 -> xen2: passed -> failed: boot.ssh: no answer <within> 9 s\n      xen2 differs from xen1 in: libvirt_version, xen_version\n",
            "  b/tiny-xen-pv on xen1 -> xen2: boot_ms 9000 -> 12500 ms (+38.9%)\n",
            "only on xen2:\n  b/new-only on xen2 (passed)\n",
            "only on xen1:\n  b/old-only on xen1 (passed)\n",
            "host facts that differ:\n  xen1 -> xen2:\n    libvirt_version: 9.0.0 -> 11.3.0\n    xen_version: 4.17.5 -> 4.20.1\n",
            "result: regressed\n",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains("xen3") && !text.contains("leak-check"), "{text}");
    }

    #[test]
    fn the_json_says_which_hosts_and_the_two_run_form_does_not() {
        let c = compare(&builds(), &hosts(), Thresholds::default()).unwrap();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["across_hosts"]["base"], "xen1");
        assert_eq!(v["across_hosts"]["against"], "xen2");
        let two_runs = compare::compare(&builds(), &builds(), Thresholds::default());
        assert!(serde_json::to_value(&two_runs).unwrap().get("across_hosts").is_none());
    }

    #[test]
    fn unknown_or_equal_hosts_are_refused() {
        let same = AcrossHosts { base: "xen1".into(), against: "xen1".into() };
        assert_eq!(compare(&builds(), &same, Thresholds::default()), Err(HostsError::Same("xen1".into())));
        let unknown = AcrossHosts { base: "xen1".into(), against: "xen9".into() };
        let e = compare(&builds(), &unknown, Thresholds::default()).unwrap_err();
        assert_eq!(e.to_string(), "no case of the run r1 ran on host xen9 (its hosts: xen1, xen2, xen3)");
    }
}
