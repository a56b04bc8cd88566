//! One self-contained HTML page per run: failures first (messages, evidence,
//! consoles), a matrix of kinds × hosts when the same kinds ran on several hosts
//! (`html_matrix`), a timeline of every case's phases per host, every case, the host
//! facts, and links to the artifacts. Inline CSS only; no script at all.
//!
//! Everything taken from the results is escaped, and terminal escape sequences
//! and control characters (consoles are full of them) are removed first.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::events::{CaseReport, Outcome};
use crate::report::facts;
use crate::report::html_matrix;
use crate::report::html_text::{badge, class_outcome};
pub use crate::report::html_text::{esc, strip_terminal};

/// Where links are resolved from: relative artifact paths are relative to `cwd`
/// (the directory virtsmoke ran in); artifacts under `html_dir` get relative links.
pub struct Links {
    pub html_dir: PathBuf,
    pub cwd: PathBuf,
}

/// Writes the page (beside, then renamed, so a reader never sees half of it).
pub fn write(path: &Path, run_id: &str, cases: &[CaseReport]) -> std::io::Result<()> {
    let cwd = std::env::current_dir()?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let links = Links { html_dir: cwd.join(dir), cwd };
    let tmp = path.with_extension("html.partial");
    std::fs::write(&tmp, render(run_id, cases, &links))?;
    std::fs::rename(&tmp, path)
}

const CSS: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:0 1em 3em;color:#222}
h1{font-size:1.5em;margin:.8em 0 .2em}h2{border-bottom:1px solid #ccc;margin-top:1.6em}h3{margin:.8em 0 .3em}
nav a{margin-right:1em}
.counts span{margin-right:1em}
.badge{display:inline-block;min-width:3.5em;text-align:center;border-radius:3px;color:#fff;font-size:.8em;padding:0 .4em;margin-right:.4em}
.outcome-passed{background:#2e7d32}.outcome-failed{background:#c62828}.outcome-error{background:#ef6c00}.outcome-skipped{background:#9e9e9e}.outcome-known-failure{background:#6a1b9a}
.case{border:1px solid #ddd;border-left-width:6px;border-radius:4px;padding:.2em .8em .6em;margin:.8em 0}
.case.failed{border-left-color:#c62828}.case.error{border-left-color:#ef6c00}.case.passed{border-left-color:#2e7d32}.case.skipped{border-left-color:#9e9e9e}.case.known-failure{border-left-color:#6a1b9a}
.cause{background:#fff3e0;padding:.3em .6em;margin:.3em 0}.cause code{font-weight:bold}.cause pre.evidence{margin:.2em 0;white-space:pre-wrap}
.meta{color:#555;font-size:.9em}
.message{font-weight:600}
pre{background:#f6f6f6;border:1px solid #e0e0e0;padding:.5em;overflow:auto;max-height:30em;white-space:pre-wrap;word-break:break-all;font-size:12px}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ddd;padding:.15em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right}
.timeline{margin:.4em 0 1.2em}
.axis{display:flex;justify-content:space-between;margin-left:16em;color:#777;font-size:.8em}
.lane{display:flex;align-items:center;height:1.5em}
.lane-label{width:16em;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-size:.85em;padding-right:.5em}
.track{position:relative;flex:1;height:1.1em;background:#fafafa;border-left:1px solid #ccc;border-right:1px solid #ccc}
.case-bar{position:absolute;top:0;bottom:0;background:#e8e8e8;border-radius:2px;overflow:hidden}
.phase{position:absolute;top:0;bottom:0;border-right:1px solid #fff;overflow:hidden;color:#fff;font-size:10px;line-height:1.1em;white-space:nowrap}
.phase:nth-child(even){opacity:.75}
.legend span{margin-right:1em;font-size:.85em}
.legend i{display:inline-block;width:1em;height:.8em;margin-right:.3em;vertical-align:middle}
";

pub fn render(run_id: &str, cases: &[CaseReport], links: &Links) -> String {
    let mut h = String::new();
    let title = format!("virtsmoke run {run_id}");
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    counts(&mut h, cases);
    let mut matrix = String::new();
    let matrix_link =
        if html_matrix::render(&mut matrix, cases) { "<a href=\"#matrix\">Kinds × hosts</a>" } else { "" };
    let _ = writeln!(
        h,
        "<nav><a href=\"#failures\">Failures</a>{matrix_link}<a href=\"#timeline\">Timeline</a><a href=\"#cases\">All cases</a><a href=\"#hosts\">Host facts</a></nav>"
    );

    let failing: Vec<usize> = (0..cases.len()).filter(|&i| is_bad(cases[i].outcome)).collect();
    let _ = writeln!(h, "<section id=\"failures\">\n<h2>Failures ({})</h2>", failing.len());
    if failing.is_empty() {
        h.push_str("<p>No case failed.</p>\n");
    }
    for &i in &failing {
        case_detail(&mut h, i, &cases[i], links);
    }
    h.push_str("</section>\n");

    h.push_str(&matrix);
    timeline(&mut h, cases);

    h.push_str("<section id=\"cases\">\n<h2>All cases</h2>\n");
    case_table(&mut h, cases);
    for (i, case) in cases.iter().enumerate().filter(|(_, c)| !is_bad(c.outcome)) {
        let _ = writeln!(
            h,
            "<details class=\"case-details\"><summary>{} {}</summary>",
            badge(case.outcome),
            esc(&case.name)
        );
        case_detail(&mut h, i, case, links);
        h.push_str("</details>\n");
    }
    h.push_str("</section>\n");

    host_facts(&mut h, cases);
    h.push_str("</body>\n</html>\n");
    h
}

fn counts(h: &mut String, cases: &[CaseReport]) {
    let count = |o| cases.iter().filter(|c| c.outcome == o).count();
    let _ = write!(h, "<p class=\"counts\"><span>{} case(s)</span>", cases.len());
    for o in shown(cases) {
        let _ = write!(h, "<span>{} {}</span>", badge(o), count(o));
    }
    if let Some(first) = cases.iter().map(|c| c.started).min() {
        let _ = write!(h, "<span>started {}</span>", esc(&timestamp(first)));
    }
    h.push_str("</p>\n");
}

fn case_detail(h: &mut String, index: usize, case: &CaseReport, links: &Links) {
    let _ = writeln!(h, "<article class=\"case {}\" id=\"case-{index}\">", class(case.outcome));
    let _ = writeln!(h, "<h3>{}{}</h3>", badge(case.outcome), esc(&case.name));
    let _ = writeln!(
        h,
        "<p class=\"meta\">host {} &middot; scenario {} &middot; started {} &middot; {}</p>",
        esc(or_dash(&case.host)),
        esc(&case.scenario),
        esc(&timestamp(case.started)),
        seconds(case.duration)
    );
    if let Some(c) = &case.cause {
        let _ =
            writeln!(h, "<div class=\"cause\"><p>cause <code>{}</code>: {}</p>", esc(c.id.as_str()), esc(&c.summary));
        if !c.evidence.is_empty() {
            h.push_str("<pre class=\"evidence\">");
            for line in &c.evidence {
                let _ = writeln!(h, "{}", esc(line));
            }
            h.push_str("</pre>");
        }
        h.push_str("</div>\n");
    }
    for step in case.steps.iter().filter(|s| is_bad(s.outcome) || s.outcome == Outcome::KnownFailure) {
        let _ = writeln!(
            h,
            "<div class=\"failure\"><p>{}<b>{}</b>: <span class=\"message\">{}</span></p>",
            badge(step.outcome),
            esc(&step.name),
            esc(step.message.as_deref().unwrap_or("(no message)"))
        );
        if let Some(d) = &step.detail {
            let _ = writeln!(h, "<pre class=\"detail\">{}</pre>", esc(d));
        }
        h.push_str("</div>\n");
    }
    h.push_str("<table class=\"steps\"><tr><th>step</th><th>outcome</th><th>ms</th><th>message</th></tr>\n");
    for s in &case.steps {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&s.name),
            badge(s.outcome),
            s.duration.as_millis(),
            esc(s.message.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</table>\n");
    let figures: Vec<&(String, String)> = case.properties.iter().filter(|(k, _)| !facts::is_host_fact(k)).collect();
    if !figures.is_empty() {
        h.push_str("<table class=\"figures\"><tr><th>figure</th><th>value</th></tr>\n");
        for (k, v) in figures {
            let _ = writeln!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(v));
        }
        h.push_str("</table>\n");
    }
    let open = if is_bad(case.outcome) { " open" } else { "" };
    for (guest, tail) in &case.consoles {
        let _ = writeln!(
            h,
            "<details class=\"console\"{open}><summary>console of {} (last lines)</summary><pre>{}</pre></details>",
            esc(guest),
            esc(tail)
        );
    }
    if !case.artifacts.is_empty() {
        h.push_str("<p class=\"artifacts\">artifacts:");
        for a in &case.artifacts {
            let _ = write!(h, " <a href=\"{}\">{}</a>", esc(&href(a, links)), esc(&a.to_string_lossy()));
        }
        h.push_str("</p>\n");
    }
    for k in &case.kept {
        let _ = write!(h, "<p class=\"kept\">kept {} on {}", esc(&k.domain), esc(&k.uri));
        if let Some(ssh) = &k.ssh {
            let _ = write!(h, "; shell: <code>{}</code>", esc(ssh));
        }
        let _ = writeln!(h, "; remove: <code>{}</code></p>", esc(&k.remove));
    }
    h.push_str("</article>\n");
}

fn case_table(h: &mut String, cases: &[CaseReport]) {
    h.push_str("<table class=\"cases\"><tr><th>case</th><th>host</th><th>outcome</th><th>started</th><th>s</th><th>boot ms</th><th>cause</th></tr>\n");
    for (i, c) in cases.iter().enumerate() {
        let _ = writeln!(
            h,
            "<tr><td><a href=\"#case-{i}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&c.name),
            esc(or_dash(&c.host)),
            badge(c.outcome),
            esc(&timestamp(c.started)),
            c.duration.as_secs_f64(),
            esc(c.property("boot_ms").unwrap_or("")),
            c.cause.as_ref().map(|k| format!("<code>{}</code>", esc(k.id.as_str()))).unwrap_or_default()
        );
    }
    h.push_str("</table>\n");
}

/// Per host, one lane per case: the case's span from its start, and inside it
/// each step laid end to end in the order it ran.
fn timeline(h: &mut String, cases: &[CaseReport]) {
    h.push_str("<section id=\"timeline\">\n<h2>Timeline</h2>\n<p class=\"legend\">");
    for o in shown(cases) {
        let _ = write!(h, "<span><i class=\"{}\"></i>{}</span>", class_outcome(o), label(o));
    }
    h.push_str("<span>grey: time outside the steps (setup, other checks)</span></p>\n");
    let mut hosts: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in cases.iter().enumerate() {
        hosts.entry(c.host.as_str()).or_default().push(i);
    }
    for (host, indexes) in hosts {
        let start = indexes.iter().map(|&i| cases[i].started).min().unwrap_or(SystemTime::UNIX_EPOCH);
        let end = indexes
            .iter()
            .map(|&i| cases[i].started + cases[i].duration.max(step_total(&cases[i])))
            .max()
            .unwrap_or(start);
        let span = end.duration_since(start).unwrap_or_default().max(Duration::from_millis(1));
        let _ = writeln!(
            h,
            "<div class=\"timeline\" data-host=\"{}\">\n<h3>{}</h3>\n<div class=\"axis\"><span>0 s</span><span>{}</span></div>",
            esc(host),
            esc(if host.is_empty() { "(the run)" } else { host }),
            seconds(span)
        );
        for i in indexes {
            let c = &cases[i];
            let offset = c.started.duration_since(start).unwrap_or_default();
            let length = c.duration.max(step_total(c)).max(Duration::from_millis(1));
            let _ = write!(
                h,
                "<div class=\"lane\"><a class=\"lane-label\" href=\"#case-{i}\" title=\"{}\">{}</a><div class=\"track\"><div class=\"case-bar\" style=\"left:{};width:{}\" title=\"{}\">",
                esc(&c.name),
                esc(&c.name),
                pct(offset, span),
                pct(length, span),
                esc(&format!(
                    "{}: {} ({}), started +{}",
                    c.name,
                    label(c.outcome),
                    seconds(c.duration),
                    seconds(offset)
                ))
            );
            let mut at = Duration::ZERO;
            for s in &c.steps {
                if !s.duration.is_zero() {
                    let _ = write!(
                        h,
                        "<div class=\"phase {}\" style=\"left:{};width:{}\" title=\"{}\">{}</div>",
                        class_outcome(s.outcome),
                        pct(at, length),
                        pct(s.duration, length),
                        esc(&format!("{}: {}, {} ms", s.name, label(s.outcome), s.duration.as_millis())),
                        esc(&s.name)
                    );
                }
                at += s.duration;
            }
            h.push_str("</div></div></div>\n");
        }
        h.push_str("</div>\n");
    }
    h.push_str("</section>\n");
}

fn host_facts(h: &mut String, cases: &[CaseReport]) {
    h.push_str("<section id=\"hosts\">\n<h2>Host facts</h2>\n");
    let hosts = facts::by_host(cases);
    if hosts.is_empty() {
        h.push_str("<p>No host facts recorded.</p>\n");
    }
    for (host, facts) in hosts {
        let _ = writeln!(h, "<h3>{}</h3>\n<table class=\"facts\"><tr><th>fact</th><th>value</th></tr>", esc(&host));
        for (k, v) in facts {
            let _ = writeln!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(&k), esc(&v));
        }
        h.push_str("</table>\n");
    }
    h.push_str("</section>\n");
}

fn step_total(c: &CaseReport) -> Duration {
    c.steps.iter().map(|s| s.duration).sum()
}

fn pct(part: Duration, whole: Duration) -> String {
    format!("{:.3}%", part.as_secs_f64() * 100.0 / whole.as_secs_f64())
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn timestamp(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// The outcomes counted and in the legend: known failures only when there are some.
fn shown(cases: &[CaseReport]) -> Vec<Outcome> {
    let mut out = vec![Outcome::Passed, Outcome::Failed, Outcome::Error, Outcome::Skipped];
    if cases.iter().flat_map(|c| &c.steps).any(|s| s.outcome == Outcome::KnownFailure) {
        out.push(Outcome::KnownFailure);
    }
    out
}

fn is_bad(o: Outcome) -> bool {
    matches!(o, Outcome::Failed | Outcome::Error)
}

fn label(o: Outcome) -> &'static str {
    match o {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Error => "error",
        Outcome::Skipped => "skipped",
        Outcome::KnownFailure => "known-failure",
    }
}

fn class(o: Outcome) -> &'static str {
    label(o)
}

/// A link to an artifact: relative when it lies under the page's directory
/// (so the page and its artifacts can move together), else a `file://` URL.
pub fn href(artifact: &Path, links: &Links) -> String {
    let absolute = normalize(&links.cwd.join(artifact));
    let base = normalize(&links.html_dir);
    match absolute.strip_prefix(&base) {
        Ok(rel) if !rel.as_os_str().is_empty() => percent_encode(&rel.to_string_lossy()),
        _ => format!("file://{}", percent_encode(&absolute.to_string_lossy())),
    }
}

/// Resolves `.` and `..` without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c.as_os_str()),
        }
    }
    out
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    fn links() -> Links {
        Links { html_dir: "/work/out".into(), cwd: "/work".into() }
    }

    #[test]
    fn links_are_relative_inside_the_page_directory() {
        let l = links();
        assert_eq!(href(Path::new("out/artifacts/r/c/g.console.log"), &l), "artifacts/r/c/g.console.log");
        assert_eq!(href(Path::new("/work/out/a b#1.log"), &l), "a%20b%231.log");
        assert_eq!(href(Path::new("/work/out/./x/../y:z.log"), &l), "y%3Az.log");
        assert_eq!(href(Path::new("/var/tmp/x.log"), &l), "file:///var/tmp/x.log");
        assert_eq!(href(Path::new("virtsmoke-artifacts/r/x.log"), &l), "file:///work/virtsmoke-artifacts/r/x.log");
        assert_eq!(href(Path::new("/work/outside.log"), &l), "file:///work/outside.log");
    }

    #[test]
    fn the_page_puts_failures_first_and_escapes_everything() {
        let html = render("run-1", &sample::cases(), &links());
        assert!(html.starts_with("<!DOCTYPE html>"));
        let failures = html.find("id=\"failures\"").unwrap();
        let timeline = html.find("id=\"timeline\"").unwrap();
        let all = html.find("id=\"cases\"").unwrap();
        assert!(failures < timeline && timeline < all);
        let panic_case = html.find("local-kvm/tiny-panic@lab1").unwrap();
        assert!(failures < panic_case && panic_case < timeline, "the failing case is listed under failures");
        assert!(html.contains("kernel panic on the console"));
        assert!(html.contains("console says &lt;oops&gt; &amp; &quot;quoted&quot;\nend"));
        assert!(html.contains("VIRTSMOKE-MARKER boot ]]&gt;"));
        assert!(!html.contains("<oops>"));
        assert!(!html.contains('\u{1b}'));
        assert!(!html.contains('\u{0}'));
        assert!(!html.contains("<script"));
        assert!(!html.contains("http://") && !html.contains("https://"), "no external assets");
        assert!(html.contains("href=\"file:///tmp/a/console.log\""));
        assert!(html.contains("<td>libvirt_version</td><td>9.0.0</td>"));
    }

    #[test]
    fn a_case_s_cause_comes_before_its_failed_steps() {
        use crate::events::{Cause, CauseId};
        let mut cases = sample::cases();
        let failing = cases.iter_mut().find(|c| c.outcome == Outcome::Failed).unwrap();
        failing.cause = Some(Cause {
            id: CauseId::GuestKernelPanic,
            summary: "the guest kernel panicked: <VFS>".into(),
            evidence: vec!["[ 1.9] Kernel panic - not syncing: <VFS>".into(), "[ 1.9] CPU: 0".into()],
        });
        let html = render("run-1", &cases, &links());
        let cause = html.find("<div class=\"cause\"><p>cause <code>guest-kernel-panic</code>: the guest kernel panicked: &lt;VFS&gt;</p>").expect(&html);
        assert!(
            html.contains(
                "<pre class=\"evidence\">[ 1.9] Kernel panic - not syncing: &lt;VFS&gt;\n[ 1.9] CPU: 0\n</pre>"
            ),
            "{html}"
        );
        assert!(cause < html.find("kernel panic on the console").unwrap(), "the cause leads");
        assert!(html.contains("<td class=\"num\"></td><td><code>guest-kernel-panic</code></td></tr>"), "{html}");
    }

    #[test]
    fn the_timeline_lays_each_cases_steps_end_to_end_from_its_start() {
        let html = render("run-1", &sample::cases(), &links());
        assert!(html.contains("<div class=\"timeline\" data-host=\"lab1\">"));
        // lab1 spans 12 s: the passing case from 0, the failing one from +2 s for 3 s.
        assert!(html.contains("<div class=\"case-bar\" style=\"left:0.000%;width:100.000%\""), "{html}");
        assert!(html.contains("<div class=\"case-bar\" style=\"left:16.667%;width:25.000%\""));
        assert!(html.contains("<div class=\"phase outcome-passed\" style=\"left:0.000%;width:12.500%\" title=\"boot.running: passed, 1500 ms\">"));
        assert!(html.contains("<div class=\"phase outcome-passed\" style=\"left:12.500%;width:75.000%\" title=\"boot.ssh: passed, 9000 ms\">"));
        // The skipped step took no time and is not drawn; teardown follows the console step.
        assert!(html.contains(
            "<div class=\"phase outcome-error\" style=\"left:66.667%;width:16.667%\" title=\"teardown: error, 500 ms\">"
        ));
        assert_eq!(html.matches("class=\"phase ").count(), 4);
    }

    #[test]
    fn kinds_on_two_hosts_get_a_matrix_after_the_failures() {
        let mut cases = sample::cases();
        assert!(!render("run-1", &cases, &links()).contains("id=\"matrix\""), "one host: no matrix");
        cases.push(sample::case("local-kvm/tiny@lab2", "lab2", Outcome::Passed, &[("libvirt_version", "11.3.0")]));
        let html = render("run-1", &cases, &links());
        assert!(html.contains("<a href=\"#failures\">Failures</a><a href=\"#matrix\">Kinds × hosts</a>"));
        let (failures, matrix, timeline) = (
            html.find("id=\"failures\"").unwrap(),
            html.find("id=\"matrix\"").unwrap(),
            html.find("id=\"timeline\"").unwrap(),
        );
        assert!(failures < matrix && matrix < timeline);
        assert!(
            html.contains("<th data-host=\"lab2\">lab2<br><span class=\"meta\">libvirt 11.3.0</span></th>"),
            "{html}"
        );
        assert!(html.contains("<tr><td>local-kvm/tiny</td><td><a href=\"#case-0\""), "{html}");
    }

    #[test]
    fn an_empty_run_still_renders() {
        let html = render("empty", &[], &links());
        assert!(html.contains("No case failed."));
        assert!(html.contains("No host facts recorded."));
        assert!(html.ends_with("</html>\n"));
    }
}
