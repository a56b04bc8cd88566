//! `virtsmoke history`: the JSON results of past runs read together, per case
//! and per check: runs, pass rate, flips, the last failure, boot time and its
//! trend, and which cases are flaky (their outcome flips while the host's facts
//! and the guests' images stay the same).
//!
//! Nothing here prints; `cli/history.rs` renders what [`analyse`] returns.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::events::{CaseReport, Outcome};
use crate::report::facts;
use crate::report::json::{self, ReadError};

/// One past run, as read from its JSON results.
#[derive(Debug, Clone)]
pub struct Run {
    pub path: PathBuf,
    pub run_id: String,
    /// The earliest start of its cases: runs are ordered by it.
    pub started: SystemTime,
    pub cases: Vec<CaseReport>,
    /// Case name → the `cause` a newer virtsmoke records for a failed case (absent in older files).
    pub causes: HashMap<String, Cause>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cause {
    pub id: String,
    pub summary: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot list {}", .0.display())]
    Dir(PathBuf, #[source] std::io::Error),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("no JSON results found in {0}")]
    Nothing(String),
}

/// The runs found in files and directories (searched recursively for
/// `*.json`), oldest first, and the JSON files in directories that are not
/// virtsmoke results (skipped). A file named directly must be results; a file
/// that is not JSON at all is an error wherever it is.
pub fn load(paths: &[PathBuf]) -> Result<(Vec<Run>, Vec<PathBuf>), LoadError> {
    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut files = Vec::new();
            json_files(path, &mut files)?;
            for file in files {
                match read_run(&file) {
                    Ok(run) => runs.push(run),
                    Err(ReadError::Parse(p, e)) if e.classify() == serde_json::error::Category::Data => {
                        skipped.push(p);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        } else {
            runs.push(read_run(path)?);
        }
    }
    if runs.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(LoadError::Nothing(names.join(", ")));
    }
    runs.sort_by(|a, b| a.started.cmp(&b.started).then_with(|| a.run_id.cmp(&b.run_id)));
    Ok((runs, skipped))
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Dir(dir.to_path_buf(), e))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            json_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    Ok(())
}

fn read_run(path: &Path) -> Result<Run, ReadError> {
    let doc = json::read(path)?;
    let started = doc.cases.iter().map(|c| c.started).min().unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(Run { path: path.to_path_buf(), run_id: doc.run_id, started, cases: doc.cases, causes: causes(path) })
}

/// The optional `cause: {id, summary}` of each case: read beside
/// [`json::read`], which does not know the field.
fn causes(path: &Path) -> HashMap<String, Cause> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let mut out = HashMap::new();
    for c in v["cases"].as_array().into_iter().flatten() {
        if let (Some(name), Some(id)) = (c["name"].as_str(), c["cause"]["id"].as_str()) {
            let summary = c["cause"]["summary"].as_str().map(String::from);
            out.insert(name.to_string(), Cause { id: id.to_string(), summary });
        }
    }
    out
}

#[derive(Debug, Serialize)]
pub struct History {
    pub runs: Vec<RunBrief>,
    pub cases: Vec<CaseHistory>,
}

#[derive(Debug, Serialize)]
pub struct RunBrief {
    pub run_id: String,
    pub path: PathBuf,
    /// RFC 3339, UTC.
    pub started: String,
}

#[derive(Debug, Serialize)]
pub struct CaseHistory {
    pub case: String,
    pub host: String,
    #[serde(flatten)]
    pub tally: Tally,
    /// Flips between two consecutive runs whose host facts and images are the same.
    pub flips_same_facts: usize,
    pub flaky: bool,
    pub last_failure: Option<LastFailure>,
    pub boot_ms: Option<Trend>,
    pub checks: Vec<CheckHistory>,
}

/// Runs in which a case or check passed or failed (skipped ones are not counted).
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Tally {
    pub runs: usize,
    /// Passed or known failure.
    pub passed: usize,
    /// Percent, one decimal.
    pub pass_rate: f64,
    /// Changes between passing and failing from one counted run to the next.
    pub flips: usize,
}

#[derive(Debug, Serialize)]
pub struct CheckHistory {
    pub check: String,
    #[serde(flatten)]
    pub tally: Tally,
}

#[derive(Debug, Serialize)]
pub struct LastFailure {
    pub run_id: String,
    /// The first step that failed, and its message.
    pub step: Option<String>,
    pub message: Option<String>,
    pub cause: Option<Cause>,
}

/// A figure's median over all runs, and over the older and newer half of them.
#[derive(Debug, PartialEq, Serialize)]
pub struct Trend {
    pub median: u64,
    pub first_half: Option<u64>,
    pub second_half: Option<u64>,
    /// Second half against first, percent, one decimal.
    pub change_pct: Option<f64>,
}

fn red(o: Outcome) -> Option<bool> {
    match o {
        Outcome::Passed | Outcome::KnownFailure => Some(false),
        Outcome::Failed | Outcome::Error => Some(true),
        Outcome::Skipped => None,
    }
}

/// Counts a series of outcomes, oldest first.
pub fn tally(outcomes: impl IntoIterator<Item = Outcome>) -> Tally {
    let reds: Vec<bool> = outcomes.into_iter().filter_map(red).collect();
    let runs = reds.len();
    let passed = reds.iter().filter(|r| !**r).count();
    let flips = reds.windows(2).filter(|w| w[0] != w[1]).count();
    let pass_rate = if runs == 0 { 0.0 } else { (passed as f64 * 1000.0 / runs as f64).round() / 10.0 };
    Tally { runs, passed, pass_rate, flips }
}

/// What must stay the same for a flip to count as flaky: the host's facts and the guests' images.
fn facts_of(case: &CaseReport) -> BTreeMap<&str, &str> {
    case.properties
        .iter()
        .filter(|(k, _)| facts::is_host_fact(k) || crate::image::identity::is_image_fact(k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Flips between consecutive counted runs with identical facts.
fn flips_same_facts(series: &[&CaseReport]) -> usize {
    let counted: Vec<(&CaseReport, bool)> = series.iter().filter_map(|c| red(c.outcome).map(|r| (*c, r))).collect();
    counted.windows(2).filter(|w| w[0].1 != w[1].1 && facts_of(w[0].0) == facts_of(w[1].0)).count()
}

fn median(values: &[u64]) -> Option<u64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2),
    }
}

/// Median of all values, and the newer half's median against the older half's.
pub fn trend(values: &[u64]) -> Option<Trend> {
    let all = median(values)?;
    let (first, second) = values.split_at(values.len() / 2);
    let (first_half, second_half) = (median(first), median(second).filter(|_| !first.is_empty()));
    let change_pct = match (first_half, second_half) {
        (Some(a), Some(b)) if a > 0 => Some(((b as f64 - a as f64) * 1000.0 / a as f64).round() / 10.0),
        _ => None,
    };
    Some(Trend { median: all, first_half, second_half, change_pct })
}

/// Every case of `runs` (oldest first), in the order cases first appear.
pub fn analyse(runs: &[Run]) -> History {
    let mut order: Vec<&str> = Vec::new();
    let mut series: HashMap<&str, Vec<(&Run, &CaseReport)>> = HashMap::new();
    // A case of one run found twice (a shard's results and the merged file both
    // in the directory) counts once: the same name, run id and start.
    let mut seen = std::collections::HashSet::new();
    for run in runs {
        for case in &run.cases {
            let origin = case.property("run_id").unwrap_or(&run.run_id);
            if !seen.insert((case.name.as_str(), origin, case.started)) {
                continue;
            }
            let s = series.entry(case.name.as_str()).or_default();
            if s.is_empty() {
                order.push(case.name.as_str());
            }
            s.push((run, case));
        }
    }
    let cases = order.iter().map(|name| case_history(&series[name])).collect();
    let runs = runs
        .iter()
        .map(|r| RunBrief {
            run_id: r.run_id.clone(),
            path: r.path.clone(),
            started: chrono::DateTime::<chrono::Utc>::from(r.started).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        })
        .collect();
    History { runs, cases }
}

fn case_history(series: &[(&Run, &CaseReport)]) -> CaseHistory {
    let reports: Vec<&CaseReport> = series.iter().map(|(_, c)| *c).collect();
    let last = reports[reports.len() - 1];
    let same = flips_same_facts(&reports);
    let last_failure = series.iter().rev().find(|(_, c)| red(c.outcome) == Some(true)).map(|(run, c)| {
        let step = c.steps.iter().find(|s| red(s.outcome) == Some(true));
        LastFailure {
            run_id: run.run_id.clone(),
            step: step.map(|s| s.name.clone()),
            message: step.and_then(|s| s.message.clone()),
            cause: run.causes.get(&c.name).cloned(),
        }
    });
    let boots: Vec<u64> =
        reports.iter().filter_map(|c| c.property("boot_ms").and_then(|v| v.trim().parse().ok())).collect();
    let mut check_names: Vec<&str> = Vec::new();
    for c in &reports {
        for s in &c.steps {
            if !check_names.contains(&s.name.as_str()) {
                check_names.push(&s.name);
            }
        }
    }
    let checks = check_names
        .into_iter()
        .map(|name| CheckHistory {
            check: name.to_string(),
            tally: tally(reports.iter().filter_map(|c| c.steps.iter().find(|s| s.name == name).map(|s| s.outcome))),
        })
        .collect();
    CaseHistory {
        case: last.name.clone(),
        host: last.host.clone(),
        tally: tally(reports.iter().map(|c| c.outcome)),
        flips_same_facts: same,
        flaky: same > 0,
        last_failure,
        boot_ms: trend(&boots),
        checks,
    }
}

impl History {
    /// The human view: a headline, then a paragraph per case; checks only when
    /// they ever failed.
    pub fn render_text(&self) -> String {
        let span = match (self.runs.first(), self.runs.last()) {
            (Some(a), Some(b)) => format!(", {} .. {}", a.started, b.started),
            _ => String::new(),
        };
        let flaky = self.cases.iter().filter(|c| c.flaky).count();
        let mut out =
            format!("history: {} run(s){span}, {} case(s), {flaky} flaky\n", self.runs.len(), self.cases.len());
        for c in &self.cases {
            out.push_str(&format!(
                "\n{} on {}: {}",
                c.case,
                if c.host.is_empty() { "the run" } else { &c.host },
                brief(&c.tally)
            ));
            if let Some(t) = &c.boot_ms {
                out.push_str(&format!(", boot median {} ms", t.median));
                if let (Some(a), Some(b), Some(p)) = (t.first_half, t.second_half, t.change_pct) {
                    out.push_str(&format!(" (older half {a} -> newer half {b} ms, {p:+.1}%)"));
                }
            }
            if c.flaky {
                out.push_str(&format!("  FLAKY ({} flip(s) with the same host facts and images)", c.flips_same_facts));
            }
            out.push('\n');
            if let Some(f) = &c.last_failure {
                out.push_str(&format!("  last failure (run {}): {}", f.run_id, failure_text(f)));
                if let Some(cause) = &f.cause {
                    out.push_str(&format!(
                        " [cause {}{}]",
                        cause.id,
                        cause.summary.as_deref().map(|s| format!(": {s}")).unwrap_or_default()
                    ));
                }
                out.push('\n');
            }
            for k in c.checks.iter().filter(|k| k.tally.passed < k.tally.runs) {
                out.push_str(&format!("  {}: {}\n", k.check, brief(&k.tally)));
            }
        }
        out
    }

    /// `known_issues:` entries (the scenario format) for the flaky cases, to
    /// review before pasting into a scenario.
    pub fn suggest_known_issues(&self, today: chrono::NaiveDate) -> String {
        let flaky: Vec<&CaseHistory> = self.cases.iter().filter(|c| c.flaky).collect();
        let mut out = String::from(
            "# Suggested by `virtsmoke history` for the cases that flipped with the same host facts and images.\n\
             # A known issue fails the case (`known-issue: fixed`) when its step passes: while a case is flaky\n\
             # it passes too, so keep an entry only for a run you expect to fail, and let it expire.\n",
        );
        if flaky.is_empty() {
            out.push_str("known_issues: []\n");
            return out;
        }
        let expires = today + chrono::Days::new(30);
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        out.push_str("known_issues:\n");
        for c in flaky {
            let f = c.last_failure.as_ref();
            let step = f.and_then(|f| f.step.as_deref()).unwrap_or("*");
            let message = f.and_then(|f| f.message.as_deref()).map(first_line).unwrap_or_default();
            out.push_str(&format!(
                "  - case: {}\n    step: {}\n    message: {}\n    reason: {}\n    expires: \"{expires}\"\n",
                q(&c.case),
                q(step),
                q(&message),
                q(&format!(
                    "flaky: {} flip(s) in {} runs with the same host facts and images",
                    c.tally.flips, c.tally.runs
                )),
            ));
        }
        out
    }
}

fn brief(t: &Tally) -> String {
    format!("{} run(s), {}% passed, {} flip(s)", t.runs, t.pass_rate, t.flips)
}

fn failure_text(f: &LastFailure) -> String {
    match (&f.step, &f.message) {
        (Some(s), Some(m)) => format!("{s}: {}", first_line(m)),
        (Some(s), None) => s.clone(),
        _ => "(no failed step recorded)".into(),
    }
}

/// The first line, at most 120 characters: enough for a known issue's `message` to match.
fn first_line(m: &str) -> String {
    m.lines().next().unwrap_or("").chars().take(120).collect()
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
