//! The HTML page's matrix of guest kinds × hosts, for a run that boots the same
//! kinds on several hosts (several Xen/libvirt builds side by side): one row per
//! case name without its `@HOST` part, one column per host headed by the host's
//! Xen, libvirt and dom0 kernel versions, each cell the case's outcome and boot
//! time, linked to the case on the page.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::events::CaseReport;
use crate::report::compare_hosts::without_host;
use crate::report::facts;
use crate::report::html_text::{badge, esc};

/// The facts shown under each host's name: label, then the facts tried in order.
const HEADLINE_FACTS: [(&str, &[&str]); 3] = [
    ("Xen", &["xen_version", "hypervisor_version"]),
    ("libvirt", &["libvirt_version"]),
    ("kernel", &["dom0_kernel", "host_kernel"]),
];

/// Row (case name without host) → host → index of the case in `cases`. Cases
/// without a host (run-level checks) are left out.
fn cells(cases: &[CaseReport]) -> BTreeMap<&str, BTreeMap<&str, usize>> {
    let mut rows: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for (i, c) in cases.iter().enumerate().filter(|(_, c)| !c.host.is_empty()) {
        rows.entry(without_host(&c.name, &c.host)).or_default().entry(&c.host).or_insert(i);
    }
    rows
}

/// Appends the matrix section when some case runs on more than one host; returns
/// whether it did (the page then links to `#matrix`). Cells link to `#case-INDEX`.
pub fn render(h: &mut String, cases: &[CaseReport]) -> bool {
    let rows = cells(cases);
    if !rows.values().any(|hosts| hosts.len() > 1) {
        return false;
    }
    let facts = facts::by_host(cases);
    let hosts: Vec<&str> = facts.keys().map(String::as_str).collect();
    h.push_str("<section id=\"matrix\">\n<h2>Kinds × hosts</h2>\n<table class=\"matrix\"><tr><th>case</th>");
    for host in &hosts {
        let _ = write!(h, "<th data-host=\"{}\">{}", esc(host), esc(host));
        for (label, names) in HEADLINE_FACTS {
            if let Some(v) = names.iter().find_map(|n| facts[*host].get(*n)) {
                let _ = write!(h, "<br><span class=\"meta\">{} {}</span>", esc(label), esc(v));
            }
        }
        h.push_str("</th>");
    }
    h.push_str("</tr>\n");
    for (row, on) in &rows {
        let _ = write!(h, "<tr><td>{}</td>", esc(row));
        for host in &hosts {
            match on.get(host) {
                Some(&i) => cell(h, i, &cases[i]),
                None => h.push_str("<td class=\"absent\">-</td>"),
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n</section>\n");
    true
}

fn cell(h: &mut String, index: usize, case: &CaseReport) {
    let boot = case
        .property("boot_ms")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|ms| format!(" {:.1} s", ms as f64 / 1000.0))
        .unwrap_or_default();
    let _ = write!(
        h,
        "<td><a href=\"#case-{index}\" title=\"{}\">{}{}</a></td>",
        esc(&case.name),
        badge(case.outcome),
        esc(&boot)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Outcome;
    use crate::report::sample::case;

    fn xen(version: &str, libvirt: &str) -> [(&'static str, String); 3] {
        [
            ("xen_version", version.to_string()),
            ("libvirt_version", libvirt.to_string()),
            ("dom0_kernel", "6.1.0-<37>".to_string()),
        ]
    }

    fn on(name: &str, host: &str, outcome: Outcome, boot_ms: &str, facts: &[(&'static str, String)]) -> CaseReport {
        let mut props: Vec<(&str, &str)> = facts.iter().map(|(k, v)| (*k, v.as_str())).collect();
        props.push(("boot_ms", boot_ms));
        case(name, host, outcome, &props)
    }

    #[test]
    fn kinds_are_rows_hosts_are_columns_headed_by_their_builds() {
        let (f1, f2) = (xen("4.17.5", "9.0.0"), xen("4.20.1", "11.3.0"));
        let cases = vec![
            on("b/tiny-xen-pv@xen1", "xen1", Outcome::Passed, "9000", &f1),
            on("b/tiny-xen-pvh@xen1", "xen1", Outcome::Passed, "8000", &f1),
            on("b/tiny-xen-pv@xen2", "xen2", Outcome::Passed, "12500", &f2),
            on("b/tiny-xen-pvh@xen2", "xen2", Outcome::Failed, "x", &f2),
            on("b/<new>@xen2", "xen2", Outcome::Passed, "7000", &f2),
            case("virtsmoke/leak-check", "", Outcome::Failed, &[]),
        ];
        let mut h = String::new();
        assert!(render(&mut h, &cases));
        assert!(h.contains(
            "<th data-host=\"xen1\">xen1<br><span class=\"meta\">Xen 4.17.5</span><br><span class=\"meta\">libvirt 9.0.0</span><br><span class=\"meta\">kernel 6.1.0-&lt;37&gt;</span></th>"
        ), "{h}");
        assert!(h.contains("<span class=\"meta\">Xen 4.20.1</span><br><span class=\"meta\">libvirt 11.3.0</span>"));
        assert!(h.contains(
            "<tr><td>b/tiny-xen-pv</td><td><a href=\"#case-0\" title=\"b/tiny-xen-pv@xen1\"><span class=\"badge outcome-passed\">PASS</span> 9.0 s</a></td><td><a href=\"#case-2\" title=\"b/tiny-xen-pv@xen2\"><span class=\"badge outcome-passed\">PASS</span> 12.5 s</a></td></tr>"
        ), "{h}");
        assert!(h.contains(
            "<a href=\"#case-3\" title=\"b/tiny-xen-pvh@xen2\"><span class=\"badge outcome-failed\">FAIL</span></a>"
        ));
        assert!(h.contains("<tr><td>b/&lt;new&gt;</td><td class=\"absent\">-</td><td><a href=\"#case-4\""), "{h}");
        assert!(!h.contains("leak-check"), "run-level cases have no host column");
        assert_eq!(h.matches("<tr>").count(), 4, "a header and three kinds");
    }

    #[test]
    fn no_matrix_when_no_kind_runs_on_two_hosts() {
        let cases =
            vec![case("s/kvm@lab1", "lab1", Outcome::Passed, &[]), case("s/xen@xen1", "xen1", Outcome::Passed, &[])];
        let mut h = String::new();
        assert!(!render(&mut h, &cases));
        assert!(h.is_empty());
    }
}
