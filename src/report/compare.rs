//! `virtsmoke compare`: what changed between two runs, and the host facts that
//! changed with it.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::events::{CaseReport, Outcome};
use crate::report::facts;
use crate::report::json::Document;

/// Figures compared for regressions, in milliseconds.
pub const TIMED: [&str; 2] = ["boot_ms", "downtime_ms"];

/// A figure regressed when it grew by more than `percent` of its old value and by
/// more than `min_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    pub percent: f64,
    pub min_ms: u64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds { percent: 20.0, min_ms: 1000 }
    }
}

#[derive(Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub old_run_id: String,
    pub new_run_id: String,
    pub thresholds: Thresholds,
    /// True when a case newly fails or a figure regressed (the exit code is then 1).
    pub regressed: bool,
    /// Failed or error now, passed or skipped before (or not there: `old` is null).
    pub newly_failing: Vec<OutcomeChange>,
    /// Passed now, not before.
    pub newly_passing: Vec<OutcomeChange>,
    /// Other changes of outcome (failed to error, passed to skipped, ...).
    pub other_changes: Vec<OutcomeChange>,
    pub added: Vec<CaseBrief>,
    pub removed: Vec<CaseBrief>,
    pub regressions: Vec<Regression>,
    /// Hosts present in both runs whose facts differ.
    pub host_changes: Vec<HostChange>,
    /// Newly failing cases that the history (`--history`) shows as flaky: not
    /// regressions.
    pub flaky: Vec<FlakyFailure>,
    /// Set when one run's hosts were compared (`--hosts BASE,OTHER`, see
    /// `compare_hosts`): `added` is then what ran only on `against`, `removed`
    /// what ran only on `base`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub across_hosts: Option<AcrossHosts>,
}

/// The base host (as the old run) and the host compared with it (as the new run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcrossHosts {
    pub base: String,
    pub against: String,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct FlakyFailure {
    #[serde(flatten)]
    pub change: OutcomeChange,
    /// Flips and counted runs of the case in the history.
    pub flips: usize,
    pub runs: usize,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct OutcomeChange {
    pub case: String,
    pub host: String,
    pub old: Option<Outcome>,
    pub new: Outcome,
    /// The first step that did not pass in the new run: `STEP: MESSAGE`.
    pub reason: Option<String>,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct CaseBrief {
    pub case: String,
    pub host: String,
    pub outcome: Outcome,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct Regression {
    pub case: String,
    pub host: String,
    pub property: String,
    pub old_ms: u64,
    pub new_ms: u64,
    /// Growth in percent of the old value, one decimal (null when the old value was 0).
    pub percent: Option<f64>,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct HostChange {
    pub host: String,
    pub facts: Vec<FactChange>,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct FactChange {
    pub fact: String,
    /// Null when only the other run records it.
    pub old: Option<String>,
    pub new: Option<String>,
}

fn bad(o: Outcome) -> bool {
    matches!(o, Outcome::Failed | Outcome::Error)
}

fn reason(case: &CaseReport) -> Option<String> {
    let step = case
        .steps
        .iter()
        .find(|s| bad(s.outcome))
        .or_else(|| case.steps.iter().find(|s| s.outcome != Outcome::Passed))?;
    Some(match &step.message {
        Some(m) => format!("{}: {m}", step.name),
        None => step.name.clone(),
    })
}

pub fn compare(old: &Document, new: &Document, thresholds: Thresholds) -> Comparison {
    let old_by_name: HashMap<&str, &CaseReport> = old.cases.iter().map(|c| (c.name.as_str(), c)).collect();
    let new_names: HashMap<&str, ()> = new.cases.iter().map(|c| (c.name.as_str(), ())).collect();
    let mut cmp = Comparison {
        old_run_id: old.run_id.clone(),
        new_run_id: new.run_id.clone(),
        thresholds,
        regressed: false,
        newly_failing: vec![],
        newly_passing: vec![],
        other_changes: vec![],
        added: vec![],
        removed: vec![],
        regressions: vec![],
        host_changes: vec![],
        flaky: vec![],
        across_hosts: None,
    };
    for n in &new.cases {
        let change = |old: Option<Outcome>| OutcomeChange {
            case: n.name.clone(),
            host: n.host.clone(),
            old,
            new: n.outcome,
            reason: reason(n),
        };
        let Some(o) = old_by_name.get(n.name.as_str()) else {
            cmp.added.push(CaseBrief { case: n.name.clone(), host: n.host.clone(), outcome: n.outcome });
            if bad(n.outcome) {
                cmp.newly_failing.push(change(None));
            }
            continue;
        };
        if bad(n.outcome) && !bad(o.outcome) {
            cmp.newly_failing.push(change(Some(o.outcome)));
        } else if n.outcome == Outcome::Passed && o.outcome != Outcome::Passed {
            cmp.newly_passing.push(change(Some(o.outcome)));
        } else if n.outcome != o.outcome {
            cmp.other_changes.push(change(Some(o.outcome)));
        }
        for property in TIMED {
            let ms = |c: &CaseReport| c.property(property).and_then(|v| v.trim().parse::<u64>().ok());
            let (Some(old_ms), Some(new_ms)) = (ms(o), ms(n)) else { continue };
            if let Some(percent) = regression(old_ms, new_ms, thresholds) {
                cmp.regressions.push(Regression {
                    case: n.name.clone(),
                    host: n.host.clone(),
                    property: property.to_string(),
                    old_ms,
                    new_ms,
                    percent,
                });
            }
        }
    }
    for o in old.cases.iter().filter(|o| !new_names.contains_key(o.name.as_str())) {
        cmp.removed.push(CaseBrief { case: o.name.clone(), host: o.host.clone(), outcome: o.outcome });
    }
    cmp.host_changes = host_changes(&facts::by_host(&old.cases), &facts::by_host(&new.cases));
    cmp.regressed = !cmp.newly_failing.is_empty() || !cmp.regressions.is_empty();
    cmp
}

/// `Some(growth percent)` when `new_ms` regressed from `old_ms`.
fn regression(old_ms: u64, new_ms: u64, t: Thresholds) -> Option<Option<f64>> {
    let grew = new_ms.checked_sub(old_ms).filter(|&d| d > t.min_ms)?;
    if old_ms == 0 {
        return Some(None);
    }
    let percent = grew as f64 * 100.0 / old_ms as f64;
    (percent > t.percent).then_some(Some((percent * 10.0).round() / 10.0))
}

type Facts = BTreeMap<String, BTreeMap<String, String>>;

fn host_changes(old: &Facts, new: &Facts) -> Vec<HostChange> {
    let mut out = Vec::new();
    for (host, new_facts) in new {
        let Some(old_facts) = old.get(host) else { continue };
        let mut names: Vec<&String> = old_facts.keys().chain(new_facts.keys()).collect();
        names.sort();
        names.dedup();
        let facts: Vec<FactChange> = names
            .into_iter()
            .filter(|f| old_facts.get(*f) != new_facts.get(*f))
            .map(|f| FactChange { fact: f.clone(), old: old_facts.get(f).cloned(), new: new_facts.get(f).cloned() })
            .collect();
        if !facts.is_empty() {
            out.push(HostChange { host: host.clone(), facts });
        }
    }
    out
}

fn label(o: Outcome) -> &'static str {
    match o {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Error => "error",
        Outcome::Skipped => "skipped",
        Outcome::KnownFailure => "known failure",
    }
}

impl Comparison {
    /// Moves the newly failing cases that are flaky in a history (case name →
    /// (flips, runs)) to `flaky`, where they no longer make the comparison regressed.
    pub fn apply_history(&mut self, flaky: &HashMap<String, (usize, usize)>) {
        let (moved, kept): (Vec<OutcomeChange>, Vec<OutcomeChange>) =
            std::mem::take(&mut self.newly_failing).into_iter().partition(|c| flaky.contains_key(&c.case));
        self.newly_failing = kept;
        self.flaky = moved
            .into_iter()
            .map(|change| {
                let (flips, runs) = flaky[&change.case];
                FlakyFailure { change, flips, runs }
            })
            .collect();
        self.regressed = !self.newly_failing.is_empty() || !self.regressions.is_empty();
    }

    /// The human view: a headline, then only the sections that have something.
    pub fn render_text(&self) -> String {
        let (added, removed) = self.added_removed_titles();
        let mut out = format!(
            "compare {} -> {}: {} newly failing, {} regression(s), {} newly passing, {} {added}, {} {removed}\n",
            self.old_run_id,
            self.new_run_id,
            self.newly_failing.len(),
            self.regressions.len(),
            self.newly_passing.len(),
            self.added.len(),
            self.removed.len()
        );
        let changed_hosts: HashMap<&str, &HostChange> =
            self.host_changes.iter().map(|h| (h.host.as_str(), h)).collect();
        let host_note = |host: &str| match changed_hosts.get(host) {
            Some(h) => {
                let names = h.facts.iter().map(|f| f.fact.as_str()).collect::<Vec<_>>().join(", ");
                match &self.across_hosts {
                    Some(a) => format!("\n      {} differs from {} in: {names}", a.against, a.base),
                    None => format!("\n      host {host} changed: {names}"),
                }
            }
            None => String::new(),
        };
        let outcome_section = |out: &mut String, title: &str, list: &[OutcomeChange], note: bool| {
            if list.is_empty() {
                return;
            }
            out.push_str(&format!("\n{title}:\n"));
            for c in list {
                let was = c.old.map(label).unwrap_or("new case");
                out.push_str(&format!("  {} on {}: {} -> {}", c.case, self.place(&c.host), was, label(c.new)));
                if let Some(r) = &c.reason {
                    out.push_str(&format!(": {r}"));
                }
                if note {
                    out.push_str(&host_note(&c.host));
                }
                out.push('\n');
            }
        };
        outcome_section(&mut out, "newly failing", &self.newly_failing, true);
        self.render_flaky(&mut out);
        self.render_regressions(&mut out, &host_note);
        outcome_section(&mut out, "newly passing", &self.newly_passing, false);
        outcome_section(&mut out, "other outcome changes", &self.other_changes, false);
        for (title, list) in [(added, &self.added), (removed, &self.removed)] {
            if !list.is_empty() {
                out.push_str(&format!("\n{title}:\n"));
                for c in list {
                    out.push_str(&format!("  {} on {} ({})\n", c.case, host_or_run(&c.host), label(c.outcome)));
                }
            }
        }
        self.render_host_changes(&mut out);
        out.push_str(if self.regressed {
            "\nresult: regressed\n"
        } else {
            "\nresult: no newly failing case and no regression\n"
        });
        out
    }
    /// What `added` and `removed` are called: cases only on one host when hosts
    /// are compared.
    fn added_removed_titles(&self) -> (String, String) {
        match &self.across_hosts {
            Some(a) => (format!("only on {}", a.against), format!("only on {}", a.base)),
            None => ("added".into(), "removed".into()),
        }
    }

    /// Where a change happened: its host, or `BASE -> OTHER` when hosts are compared.
    fn place(&self, host: &str) -> String {
        match &self.across_hosts {
            Some(a) if a.against == host => format!("{} -> {}", a.base, a.against),
            _ => host_or_run(host).to_string(),
        }
    }

    /// The timing regressions, each with what changed on its host.
    fn render_regressions(&self, out: &mut String, host_note: &dyn Fn(&str) -> String) {
        if self.regressions.is_empty() {
            return;
        }
        out.push_str(&format!(
            "\nregressions (up by more than {}% and more than {} ms):\n",
            self.thresholds.percent, self.thresholds.min_ms
        ));
        for r in &self.regressions {
            let pct = r.percent.map(|p| format!(" (+{p:.1}%)")).unwrap_or_default();
            out.push_str(&format!(
                "  {} on {}: {} {} -> {} ms{pct}{}\n",
                r.case,
                self.place(&r.host),
                r.property,
                r.old_ms,
                r.new_ms,
                host_note(&r.host)
            ));
        }
    }

    /// Newly failing but flaky in the history: said, not counted.
    fn render_flaky(&self, out: &mut String) {
        if self.flaky.is_empty() {
            return;
        }
        out.push_str("\nfailing now, flaky in the history (not a regression):\n");
        for f in &self.flaky {
            let c = &f.change;
            let was = c.old.map(label).unwrap_or("new case");
            out.push_str(&format!("  {} on {}: {} -> {}", c.case, self.place(&c.host), was, label(c.new)));
            if let Some(r) = &c.reason {
                out.push_str(&format!(": {r}"));
            }
            out.push_str(&format!(": flaky ({} flips in {} runs)\n", f.flips, f.runs));
        }
    }

    /// The host facts that differ between the runs (or between the hosts).
    fn render_host_changes(&self, out: &mut String) {
        if !self.host_changes.is_empty() {
            let verb = if self.across_hosts.is_some() { "differ" } else { "changed" };
            out.push_str(&format!("\nhost facts that {verb}:\n"));
            for h in &self.host_changes {
                out.push_str(&format!("  {}:\n", self.place(&h.host)));
                for f in &h.facts {
                    let v = |v: &Option<String>| v.clone().unwrap_or_else(|| "(not recorded)".into());
                    out.push_str(&format!("    {}: {} -> {}\n", f.fact, v(&f.old), v(&f.new)));
                }
            }
        }
    }
}

fn host_or_run(host: &str) -> &str {
    if host.is_empty() { "the run" } else { host }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::case;

    fn doc(run_id: &str, cases: Vec<CaseReport>) -> Document {
        Document { run_id: run_id.into(), cases }
    }

    #[test]
    fn regression_needs_both_the_percentage_and_the_absolute_growth() {
        let t = Thresholds::default();
        assert_eq!(regression(9_000, 12_000, t), Some(Some(33.3)));
        assert_eq!(regression(9_000, 10_500, t), None, "16.7% is within 20%");
        assert_eq!(regression(2_000, 2_900, t), None, "45% but only 900 ms");
        assert_eq!(regression(5_000, 6_000, t), None, "exactly 1000 ms is not more than 1000 ms");
        assert_eq!(regression(5_000, 6_001, t), Some(Some(20.0)));
        assert_eq!(regression(0, 1_500, t), Some(None));
        assert_eq!(regression(12_000, 9_000, t), None);
        assert_eq!(regression(10_000, 12_500, Thresholds { percent: 30.0, min_ms: 1000 }), None);
    }

    #[test]
    fn outcome_changes_are_classified() {
        let old = doc(
            "r1",
            vec![
                case("s/ok-then-fail", "h1", Outcome::Passed, &[]),
                case("s/fail-then-ok", "h1", Outcome::Failed, &[]),
                case("s/fail-then-error", "h1", Outcome::Failed, &[]),
                case("s/skip-then-error", "h1", Outcome::Skipped, &[]),
                case("s/gone", "h2", Outcome::Passed, &[]),
                case("s/same", "h1", Outcome::Passed, &[]),
            ],
        );
        let new = doc(
            "r2",
            vec![
                case("s/ok-then-fail", "h1", Outcome::Failed, &[]),
                case("s/fail-then-ok", "h1", Outcome::Passed, &[]),
                case("s/fail-then-error", "h1", Outcome::Error, &[]),
                case("s/skip-then-error", "h1", Outcome::Error, &[]),
                case("s/same", "h1", Outcome::Passed, &[]),
                case("s/new-ok", "h1", Outcome::Passed, &[]),
                case("s/new-bad", "h1", Outcome::Failed, &[]),
            ],
        );
        let c = compare(&old, &new, Thresholds::default());
        let names = |l: &[OutcomeChange]| l.iter().map(|c| c.case.clone()).collect::<Vec<_>>();
        assert_eq!(names(&c.newly_failing), ["s/ok-then-fail", "s/skip-then-error", "s/new-bad"]);
        assert_eq!(c.newly_failing[2].old, None);
        assert_eq!(c.newly_failing[0].reason.as_deref(), Some("boot.ssh: no answer <within> 9 s"));
        assert_eq!(names(&c.newly_passing), ["s/fail-then-ok"]);
        assert_eq!(names(&c.other_changes), ["s/fail-then-error"]);
        assert_eq!(c.added.iter().map(|a| a.case.as_str()).collect::<Vec<_>>(), ["s/new-ok", "s/new-bad"]);
        assert_eq!(c.removed.iter().map(|a| a.case.as_str()).collect::<Vec<_>>(), ["s/gone"]);
        assert!(c.regressed);
    }

    #[test]
    fn fixed_cases_and_faster_boots_are_not_regressions() {
        let old = doc("r1", vec![case("s/a", "h1", Outcome::Failed, &[("boot_ms", "20000")])]);
        let new = doc("r2", vec![case("s/a", "h1", Outcome::Passed, &[("boot_ms", "9000")])]);
        let c = compare(&old, &new, Thresholds::default());
        assert!(!c.regressed);
        assert!(c.render_text().ends_with("result: no newly failing case and no regression\n"));
    }

    #[test]
    fn timing_regressions_come_with_the_host_facts_that_changed() {
        let old = doc(
            "r1",
            vec![case(
                "s/a",
                "h1",
                Outcome::Passed,
                &[
                    ("boot_ms", "9000"),
                    ("downtime_ms", "200"),
                    ("libvirt_version", "9.0.0"),
                    ("pkg.qemu", "1"),
                    ("run_id", "r1"),
                ],
            )],
        );
        let new = doc(
            "r2",
            vec![case(
                "s/a",
                "h1",
                Outcome::Passed,
                &[
                    ("boot_ms", "12000"),
                    ("downtime_ms", "1500"),
                    ("libvirt_version", "9.1.0"),
                    ("xen_version", "4.19"),
                    ("run_id", "r2"),
                ],
            )],
        );
        let c = compare(&old, &new, Thresholds::default());
        assert!(c.regressed);
        assert_eq!(c.regressions.len(), 2);
        assert_eq!(c.regressions[1].property, "downtime_ms");
        assert_eq!(c.regressions[1].percent, Some(650.0));
        assert_eq!(
            c.host_changes,
            [HostChange {
                host: "h1".into(),
                facts: vec![
                    FactChange { fact: "libvirt_version".into(), old: Some("9.0.0".into()), new: Some("9.1.0".into()) },
                    FactChange { fact: "pkg.qemu".into(), old: Some("1".into()), new: None },
                    FactChange { fact: "xen_version".into(), old: None, new: Some("4.19".into()) },
                ]
            }]
        );
        let text = c.render_text();
        assert!(text.contains("  s/a on h1: boot_ms 9000 -> 12000 ms (+33.3%)\n      host h1 changed: libvirt_version, pkg.qemu, xen_version\n"), "{text}");
        assert!(text.contains("    pkg.qemu: 1 -> (not recorded)\n"), "{text}");
        assert!(text.ends_with("result: regressed\n"));
    }

    #[test]
    fn a_newly_failing_case_flaky_in_history_is_said_and_does_not_regress() {
        let old = doc("r1", vec![case("s/a", "h1", Outcome::Passed, &[]), case("s/b", "h1", Outcome::Passed, &[])]);
        let new = doc("r2", vec![case("s/a", "h1", Outcome::Failed, &[]), case("s/b", "h1", Outcome::Failed, &[])]);
        let mut c = compare(&old, &new, Thresholds::default());
        c.apply_history(&HashMap::from([("s/a".to_string(), (3, 8))]));
        assert!(c.regressed, "s/b still newly fails");
        assert_eq!(c.newly_failing.iter().map(|c| c.case.as_str()).collect::<Vec<_>>(), ["s/b"]);
        let text = c.render_text();
        assert!(
            text.contains("\nfailing now, flaky in the history (not a regression):\n  s/a on h1: passed -> failed: boot.ssh: no answer <within> 9 s: flaky (3 flips in 8 runs)\n"),
            "{text}"
        );
        let mut only_flaky =
            compare(&old, &doc("r3", vec![case("s/a", "h1", Outcome::Failed, &[])]), Thresholds::default());
        only_flaky.apply_history(&HashMap::from([("s/a".to_string(), (1, 2))]));
        assert!(!only_flaky.regressed);
        let v = serde_json::to_value(&only_flaky).unwrap();
        assert_eq!(v["flaky"][0]["case"], "s/a");
        assert_eq!(v["flaky"][0]["flips"], 1);
    }

    #[test]
    fn the_json_form_names_every_section() {
        let c = compare(&doc("a", vec![]), &doc("b", vec![]), Thresholds::default());
        let v = serde_json::to_value(&c).unwrap();
        for key in [
            "newly_failing",
            "newly_passing",
            "other_changes",
            "added",
            "removed",
            "regressions",
            "host_changes",
            "flaky",
        ] {
            assert!(v[key].is_array(), "{key}");
        }
        assert_eq!(v["regressed"], false);
        assert_eq!(v["thresholds"]["percent"], 20.0);
    }
}
