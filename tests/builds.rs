//! One run that booted the same kinds on two Xen builds, side by side:
//! `compare --hosts` and the HTML page's matrix of kinds × hosts, on
//! `tests/fixtures/results/xen-builds.json` (`xen1`: Xen 4.17.5, libvirt 9.0.0;
//! `xen2`: Xen 4.20.1, libvirt 11.3.0), where `tiny-xen-pvh` fails on xen2,
//! `tiny-xen-hvm` boots 5.5 s slower there and `tiny-xen-pvshim` ran on xen2
//! only. No host, no guest.

mod common;
use common::{chromium, fixture, json, text};

use std::path::Path;
use std::process::Output;

fn results(name: &str) -> String {
    fixture("results").join(name).to_string_lossy().into_owned()
}

fn virtsmoke(dir: &Path, args: &[&str]) -> Output {
    common::virtsmoke_in(dir, args)
}

#[test]
fn compare_across_hosts_says_which_build_broke_a_kind() {
    let dir = tempfile::tempdir().unwrap();
    let run = results("xen-builds.json");
    let o = virtsmoke(dir.path(), &["compare", &run, "--hosts", "xen1,xen2"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for expected in [
        "compare 20260301020000-xbld@xen1 -> 20260301020000-xbld@xen2: 1 newly failing, 1 regression(s), 0 newly passing, 1 only on xen2, 0 only on xen1\n",
        "newly failing:\n  local-xen-builds/tiny-xen-pvh on xen1 -> xen2: passed -> failed: boot.console: no console output within 60 s\n      xen2 differs from xen1 in: distro, dom0_kernel, hypervisor_version, libvirt_version, pkg.xen-hypervisor-4.17-amd64, pkg.xen-hypervisor-4.20-amd64, xen_version\n",
        "  local-xen-builds/tiny-xen-hvm on xen1 -> xen2: boot_ms 14000 -> 19500 ms (+39.3%)\n",
        "only on xen2:\n  local-xen-builds/tiny-xen-pvshim on xen2 (passed)\n",
        "host facts that differ:\n  xen1 -> xen2:\n",
        "    libvirt_version: 9.0.0 -> 11.3.0\n",
        "    xen_version: 4.17.5 -> 4.20.1\n",
        "result: regressed\n",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    assert!(!out.contains("tiny-xen-pv on"), "9.1 s -> 9.4 s is no regression:\n{out}");
    assert!(!out.contains("    host:"), "host names are not build facts:\n{out}");
    let o = virtsmoke(dir.path(), &["compare", &run, "--hosts", "xen1,xen2", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["across_hosts"]["base"], "xen1");
    assert_eq!(v["newly_failing"][0]["case"], "local-xen-builds/tiny-xen-pvh");
    assert_eq!(v["newly_failing"][0]["host"], "xen2");
    assert_eq!(v["added"][0]["case"], "local-xen-builds/tiny-xen-pvshim");
    // The other way round, xen1 lacks a kind and nothing regressed: exit 0.
    let o = virtsmoke(dir.path(), &["compare", &run, "--hosts", "xen2,xen1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("  local-xen-builds/tiny-xen-pvh on xen2 -> xen1: failed -> passed"), "{out}");
    assert!(out.contains("only on xen2:\n  local-xen-builds/tiny-xen-pvshim on xen2 (passed)\n"), "{out}");
}

#[test]
fn compare_across_hosts_refuses_unknown_hosts_and_a_second_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = results("xen-builds.json");
    let o = virtsmoke(dir.path(), &["compare", &run, "--hosts", "xen1,xen7"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("no case of the run 20260301020000-xbld ran on host xen7 (its hosts: xen1, xen2)"),
        "{}",
        text(&o)
    );
    for args in [
        vec!["compare", &run, &run, "--hosts", "xen1,xen2"],
        vec!["compare", &run, "--hosts", "xen1"],
        vec!["compare", &run],
    ] {
        let o = virtsmoke(dir.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
    }
}

/// The run of `xen-builds.json` as an HTML page (through `merge`); returns the directory.
fn builds_page() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let o = virtsmoke(dir.path(), &["merge", "out/m.json", &results("xen-builds.json"), "--html", "out/report.html"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    dir
}

#[test]
fn html_shows_a_matrix_of_kinds_and_builds() {
    let dir = builds_page();
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.contains("<a href=\"#matrix\">"), "linked from the navigation");
    assert!(html.contains(
        "<th data-host=\"xen1\">xen1<br><span class=\"meta\">Xen 4.17.5</span><br><span class=\"meta\">libvirt 9.0.0</span><br><span class=\"meta\">kernel 6.1.0-37-amd64</span></th>"
    ), "{html}");
    assert!(html.contains("<span class=\"meta\">Xen 4.20.1</span><br><span class=\"meta\">libvirt 11.3.0</span><br><span class=\"meta\">kernel 6.12.38+deb13-amd64</span>"));
    let row = |kind: &str| {
        let start = html.find(&format!("<tr><td>local-xen-builds/{kind}</td>")).expect(kind);
        html[start..start + html[start..].find("</tr>").unwrap()].to_string()
    };
    let pvh = row("tiny-xen-pvh");
    assert!(
        pvh.contains(
            "title=\"local-xen-builds/tiny-xen-pvh@xen1\"><span class=\"badge outcome-passed\">PASS</span> 8.2 s</a>"
        ),
        "{pvh}"
    );
    assert!(
        pvh.contains(
            "title=\"local-xen-builds/tiny-xen-pvh@xen2\"><span class=\"badge outcome-failed\">FAIL</span></a>"
        ),
        "{pvh}"
    );
    assert!(row("tiny-xen-pvshim").contains("<td class=\"absent\">-</td>"));
    // Each cell links to its case's section on the page.
    let href = pvh.split("href=\"#").nth(2).unwrap().split('"').next().unwrap();
    assert!(html.contains(&format!("id=\"{href}\"")), "{href}");
}

#[test]
fn the_matrix_renders_in_headless_chromium() {
    let dir = builds_page();
    let page = format!("file://{}", dir.path().join("out/report.html").display());
    let dom = chromium(&["--dump-dom", &page]);
    assert!(dom.status.success(), "{}", text(&dom));
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<section id=\"matrix\">"), "{dom}");
    assert_eq!(dom.matches("<td class=\"absent\">").count(), 1, "{dom}");
}

#[test]
fn compare_across_hosts_with_history_excuses_a_kind_flaky_on_the_other_host() {
    let dir = tempfile::tempdir().unwrap();
    let run = results("xen-builds.json");
    // Two earlier runs where tiny-xen-pvh@xen2 failed at the same step, then passed.
    let base = json(Path::new(&run));
    for (i, failed) in [(1, true), (2, false)] {
        let mut v = base.clone();
        let run_id = format!("2026022{i}020000-old{i}");
        v["run_id"] = run_id.clone().into();
        for c in v["cases"].as_array_mut().unwrap() {
            c["started"]["secs_since_epoch"] =
                (c["started"]["secs_since_epoch"].as_u64().unwrap() - 86_400 * (3 - i)).into();
            c["properties"].as_array_mut().unwrap().retain(|p| p[0] != "run_id");
            c["properties"].as_array_mut().unwrap().push(serde_json::json!(["run_id", run_id]));
        }
        if !failed {
            let pvh = v["cases"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|c| c["name"] == "local-xen-builds/tiny-xen-pvh@xen2")
                .unwrap();
            pvh["outcome"] = "passed".into();
            for s in pvh["steps"].as_array_mut().unwrap() {
                s["outcome"] = "passed".into();
            }
        }
        std::fs::write(dir.path().join(format!("old{i}.json")), v.to_string()).unwrap();
    }
    let o = virtsmoke(
        dir.path(),
        &[
            "compare",
            &run,
            "--hosts",
            "xen1,xen2",
            "--history",
            dir.path().to_str().unwrap(),
            "--regression-min-ms",
            "9000",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("failing now, flaky in the history (not a regression):\n  local-xen-builds/tiny-xen-pvh on xen1 -> xen2: passed -> failed: boot.console: no console output within 60 s: flaky (1 flips in 2 runs)\n"),
        "{}",
        text(&o)
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
