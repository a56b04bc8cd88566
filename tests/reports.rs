//! Results in, reports out: the built binary's `merge`, `compare`, HTML and
//! `--shard` on the JSON fixtures under `tests/fixtures/results/` (two shards of
//! a nightly run, the previous night, and broken inputs). No host, no guest.
//!
//! The fixtures: `previous.json` passed everything but `xen-hvm`; `shard-1.json`
//! and `shard-2.json` are the next night on a newer Xen and libvirt, where
//! `xen-pv` panics, `kvm-disk` boots 3.5 s slower, `xen-pvh`'s downtime grew
//! from 400 to 1900 ms, `kvm-new` appeared and `xen-hvm` is gone.
//! `tests/fixtures/history/` and `flaky-red.json` feed `history` and
//! `compare --history` (see their tests). `xen-builds.json` (one run on two Xen
//! builds) feeds `tests/builds.rs`.

mod common;
use common::{chromium, fixture, json, text, xmllint_schema};

use std::path::Path;
use std::process::Output;

fn results(name: &str) -> String {
    fixture("results").join(name).to_string_lossy().into_owned()
}

/// Runs virtsmoke in `dir` (relative artifact paths in the fixtures resolve there).
fn virtsmoke(dir: &Path, args: &[&str]) -> Output {
    common::virtsmoke_in(dir, args)
}

/// Merges both shards in a fresh directory with every output; returns the directory.
fn merged() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let o = virtsmoke(
        dir.path(),
        &[
            "merge",
            "out/merged.json",
            &results("shard-1.json"),
            &results("shard-2.json"),
            "--junit",
            "out/junit.xml",
            "--html",
            "out/report.html",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("merged 5 case(s) from 2 file(s) into out/merged.json"),
        "{}",
        text(&o)
    );
    dir
}

fn case_names(doc: &serde_json::Value) -> Vec<String> {
    doc["cases"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn merge_keeps_every_case_of_every_shard_in_the_same_schema() {
    let dir = merged();
    let doc = json(&dir.path().join("out/merged.json"));
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["run_id"], "20250301020000-aaaa+20250301020001-bbbb");
    assert_eq!(
        case_names(&doc),
        [
            "nightly/kvm-tiny@lab1",
            "nightly/xen-pv@xen1",
            "nightly/kvm-disk@lab1",
            "nightly/xen-pvh@xen1",
            "nightly/kvm-new@lab1"
        ]
    );
    // Nothing of a case is lost on the way through.
    let shard1 = json(&fixture("results/shard-1.json"));
    assert_eq!(doc["cases"][1], shard1["cases"][1]);

    // Merging the merged file with a shard again changes nothing.
    let o = virtsmoke(
        dir.path(),
        &["merge", "again.json", "out/merged.json", &results("shard-1.json"), "--run-id", "nightly"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let again = json(&dir.path().join("again.json"));
    assert_eq!(again["run_id"], "nightly");
    assert_eq!(again["cases"], doc["cases"]);
}

#[test]
fn merged_junit_validates_and_keeps_the_attachments() {
    let dir = merged();
    let path = dir.path().join("out/junit.xml");
    xmllint_schema(&path);
    let xml = std::fs::read_to_string(&path).unwrap();
    assert_eq!(xml.matches("<testsuite ").count(), 5);
    assert!(xml.contains("<testsuites name=\"virtsmoke run 20250301020000-aaaa+20250301020001-bbbb\""), "{xml}");
    assert!(xml.contains("[[ATTACHMENT|out/artifacts/20250301020000-aaaa/nightly_xen-pv_xen1/pv.console.log]]"));
    assert!(xml.contains("<property name=\"downtime_ms\" value=\"1900\"/>"));
    assert!(!xml.contains('\u{1b}'));
}

#[test]
fn merge_refuses_conflicting_or_unreadable_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let table = [
        (results("conflict.json"), "case nightly/kvm-tiny@lab1 is in", "with different results (outcomes differ)"),
        (results("missing.json"), "error: cannot read", "No such file or directory"),
        (results("not-results.json"), "is not virtsmoke JSON results", "missing field `scenario`"),
        (results("future.json"), "has schema_version 2", "this virtsmoke reads version 1"),
    ];
    for (input, start, end) in table {
        let o = virtsmoke(dir.path(), &["merge", "out.json", &results("shard-1.json"), &input, "--junit", "out.xml"]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{input}: {}", text(&o));
        assert!(stderr.contains(start) && stderr.contains(end), "{input}: {}", text(&o));
        assert!(!dir.path().join("out.json").exists() && !dir.path().join("out.xml").exists(), "nothing is written");
    }
    let o = virtsmoke(dir.path(), &["merge", "out.json"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn html_shows_failures_first_escaped_with_a_timeline_and_relative_links() {
    let dir = merged();
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script src="), "no external script");
    assert!(!html.contains("<link"), "no external stylesheet");
    assert!(!html.contains('\u{1b}') && !html.contains('\u{7}') && !html.contains('\r'));
    // The failure, its message escaped, and its console, before everything else.
    let failures = html.find("<section id=\"failures\">").unwrap();
    let timeline = html.find("<section id=\"timeline\">").unwrap();
    let message = html.find("kernel panic on the console: &lt;VFS: Unable to mount root fs&gt;").unwrap();
    assert!(failures < message && message < timeline);
    assert!(html.contains("<h2>Failures (1)</h2>"));
    assert!(html.contains("[    1.234] Kernel panic - not syncing"));
    assert!(html.contains("swapper/0 &lt;not tainted&gt;"));
    // One timeline per host, one lane per case, one bar per step that took time.
    assert!(html.contains("<div class=\"timeline\" data-host=\"lab1\">"));
    assert!(html.contains("<div class=\"timeline\" data-host=\"xen1\">"));
    assert_eq!(html.matches("<div class=\"lane\">").count(), 5);
    assert!(html.contains("class=\"phase outcome-failed\""));
    assert!(html.contains("title=\"migrate: passed, 9000 ms\""));
    // Artifacts under the page's directory are linked relatively.
    assert!(html.contains("href=\"artifacts/20250301020000-aaaa/nightly_xen-pv_xen1/pv.console.log\""));
    // Host facts.
    assert!(html.contains("<td>xen_changeset</td><td>def456</td>"));
}

#[test]
fn html_renders_in_headless_chromium_without_errors() {
    let dir = merged();
    let page = format!("file://{}", dir.path().join("out/report.html").display());
    let shot = dir.path().join("report.png");
    let out = chromium(&[&format!("--screenshot={}", shot.display()), "--window-size=1280,900", &page]);
    assert!(out.status.success(), "{}", text(&out));
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let (width, height) =
        (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()));
    assert_eq!((width, height), (1280, 900));
    // A blank page compresses to almost nothing; the rendered report does not.
    assert!(png.len() > 20_000, "{} bytes", png.len());
    let log = String::from_utf8_lossy(&out.stderr);
    for bad in ["Uncaught", "Failed to load resource", "Refused to", "net::ERR_"] {
        assert!(!log.lines().any(|l| l.contains(bad)), "chromium reported `{bad}`:\n{log}");
    }
    // The DOM as rendered: the failure section and every case are there.
    let dom = chromium(&["--dump-dom", &page]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<h2>Failures (1)</h2>"), "{dom}");
    assert_eq!(dom.matches("<div class=\"lane\">").count(), 5);
}

#[test]
fn compare_reports_what_changed_and_exits_1_on_regressions() {
    let dir = merged();
    let o = virtsmoke(dir.path(), &["compare", &results("previous.json"), "out/merged.json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for expected in [
        "1 newly failing, 2 regression(s), 0 newly passing, 1 added, 1 removed",
        "  nightly/xen-pv@xen1 on xen1: passed -> failed: boot.console: kernel panic on the console",
        "      host xen1 changed: hypervisor_version, pkg.xen-hypervisor-4.17-amd64, xen_changeset, xen_version",
        "  nightly/kvm-disk@lab1 on lab1: boot_ms 9200 -> 12700 ms (+38.0%)",
        "  nightly/xen-pvh@xen1 on xen1: downtime_ms 400 -> 1900 ms (+375.0%)",
        "added:\n  nightly/kvm-new@lab1 on lab1 (passed)",
        "removed:\n  nightly/xen-hvm@xen1 on xen1 (failed)",
        "  lab1:\n    libvirt_version: 9.0.0 -> 9.1.0\n",
        "    xen_version: 4.17.5 -> 4.19.1\n",
        "result: regressed",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    assert!(!out.contains("nightly/kvm-tiny@lab1"), "300 ms slower is no regression:\n{out}");
}

#[test]
fn compare_json_is_machine_readable() {
    let dir = merged();
    let o = virtsmoke(dir.path(), &["compare", &results("previous.json"), "out/merged.json", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["regressed"], true);
    assert_eq!(v["newly_failing"][0]["case"], "nightly/xen-pv@xen1");
    assert_eq!(v["newly_failing"][0]["old"], "passed");
    assert_eq!(v["newly_failing"][0]["new"], "failed");
    assert_eq!(v["regressions"][0]["property"], "boot_ms");
    assert_eq!(v["regressions"][0]["old_ms"], 9200);
    assert_eq!(v["regressions"][0]["new_ms"], 12700);
    assert_eq!(v["regressions"][1]["property"], "downtime_ms");
    assert_eq!(v["added"][0]["case"], "nightly/kvm-new@lab1");
    assert_eq!(v["removed"][0]["case"], "nightly/xen-hvm@xen1");
    let xen = v["host_changes"].as_array().unwrap().iter().find(|h| h["host"] == "xen1").unwrap();
    assert!(
        xen["facts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["fact"] == "xen_changeset" && f["old"] == "abc123" && f["new"] == "def456")
    );
}

#[test]
fn compare_thresholds_and_clean_runs_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let prev = results("previous.json");
    let o = virtsmoke(dir.path(), &["compare", &prev, &prev]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("result: no newly failing case and no regression"));
    // Shard 2 alone: no newly failing case, two regressions at the default thresholds...
    let o = virtsmoke(dir.path(), &["compare", &prev, &results("shard-2.json")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // ...and none when 400% and 2 s are tolerated.
    let o = virtsmoke(
        dir.path(),
        &["compare", &prev, &results("shard-2.json"), "--boot-regression-pct", "400", "--regression-min-ms", "2000"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = virtsmoke(dir.path(), &["compare", &prev, &results("shard-2.json"), "--boot-regression-pct", "-5"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = virtsmoke(dir.path(), &["compare", &prev, &results("not-results.json")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not virtsmoke JSON results"), "{}", text(&o));
}

#[test]
fn invalid_shard_specs_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = fixture("scenarios/good-minimal.yaml");
    let scenario = scenario.to_str().unwrap();
    for (spec, message) in [
        ("0/3", "K must be between 1 and N (shards are numbered 1 to 3)"),
        ("4/3", "K must be between 1 and N (shards are numbered 1 to 3)"),
        ("1/0", "the shard count must be at least 1"),
        ("x", "expected K/N (shard K of N, e.g. 2/4)"),
    ] {
        let o = virtsmoke(dir.path(), &["run", scenario, "--shard", spec]);
        assert_eq!(o.status.code(), Some(2), "{spec}: {}", text(&o));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(&format!("invalid value '{spec}' for '--shard <K/N>': {message}")), "{spec}: {stderr}");
    }
}

/// FNV-1a of the case name, as `--shard` documents: pinned here so that a change
/// of the hash (which would move cases between nightly shards) fails a test.
fn shard_of(name: &str, count: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h % count + 1
}

#[test]
fn an_empty_shard_runs_nothing_and_still_writes_its_reports() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = fixture("scenarios/good-minimal.yaml");
    // good-minimal.yaml has the one case minimal/tiny@lab1: every other shard is empty.
    let count = 3;
    let empty = (shard_of("minimal/tiny@lab1", count) % count) + 1;
    let shard = format!("{empty}/{count}");
    let o = virtsmoke(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--shard",
            &shard,
            "--junit",
            "j.xml",
            "--json",
            "r.json",
            "--html",
            "r.html",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains(&format!("shard {shard}: none of the 1 case(s) falls in this shard"))
    );
    assert_eq!(json(&dir.path().join("r.json"))["cases"], serde_json::json!([]));
    xmllint_schema(&dir.path().join("j.xml"));
    assert!(std::fs::read_to_string(dir.path().join("r.html")).unwrap().contains("No case failed."));
    assert!(!dir.path().join("virtsmoke-artifacts").exists(), "nothing ran");
}

/// `known-failure.json`: the night after `previous.json`, where `xen-pv`'s live
/// migration fails as the scenario's known issue says it does.
#[test]
fn a_known_failure_is_skipped_in_junit_kept_in_json_and_shown_apart_in_html() {
    let dir = tempfile::tempdir().unwrap();
    let o = virtsmoke(
        dir.path(),
        &["merge", "out.json", &results("known-failure.json"), "--junit", "junit.xml", "--html", "report.html"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let junit = dir.path().join("junit.xml");
    xmllint_schema(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let tc = &xml[xml.find("<testcase name=\"migrate.round-1: xen1 -&gt; xen2\"").expect(&xml)..];
    let tc = &tc[..tc.find("</testcase>").unwrap()];
    assert!(
        tc.contains(
            "<skipped message=\"known failure: Xen 4.17 cannot live-migrate PV guests \
             (https://bugs.example/xen/logdirty): migration failed: libxl: Failed to enable logdirty: 95\""
        ),
        "{tc}"
    );
    assert!(!xml.contains("<failure"), "{xml}");
    let doc = json(&dir.path().join("out.json"));
    let pv = common::case(&doc, "nightly/xen-pv@xen1");
    assert_eq!(pv["outcome"], "known-failure");
    assert_eq!(common::step(pv, "migrate.round-1: xen1 -> xen2")["outcome"], "known-failure");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("<span class=\"badge outcome-known-failure\">KNOWN</span> 1</span>"), "{html}");
    assert!(html.contains("<h2>Failures (0)</h2>"), "a known failure is not listed as a failure");
}

#[test]
fn compare_does_not_count_a_known_failure_as_newly_failing() {
    let dir = tempfile::tempdir().unwrap();
    let o = virtsmoke(dir.path(), &["compare", &results("previous.json"), &results("known-failure.json")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("0 newly failing"), "{out}");
    assert!(out.contains("nightly/xen-pv@xen1 on xen1: passed -> known failure"), "{out}");
}

/// `tests/fixtures/history/`: three nights of `nightly/kvm-tiny@lab1` (passed,
/// failed with a `cause`, passed) on the same host build and image, and
/// `nightly/xen-hvm@xen1` failing every night; `flaky-red.json` is a fourth
/// night where `kvm-tiny` fails again.
#[test]
fn history_marks_a_case_that_flips_on_unchanged_facts_as_flaky() {
    let dir = tempfile::tempdir().unwrap();
    let history = fixture("history");
    let o = virtsmoke(dir.path(), &["history", history.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for expected in [
        "history: 3 run(s), 2025-02-28T02:00:00Z .. 2025-03-02T02:00:00Z, 2 case(s), 1 flaky\n",
        "nightly/kvm-tiny@lab1 on lab1: 3 run(s), 66.7% passed, 2 flip(s), boot median 9100 ms (older half 9000 -> newer half 9450 ms, +5.0%)  FLAKY (2 flip(s) with the same host facts and images)\n",
        "  last failure (run 20250302020000-0002): boot.ssh: no answer from 10.77.0.12:22 within 60 s [cause ssh.no-listener: the address answers but nothing listens on port 22]\n",
        "  boot.ssh: 3 run(s), 66.7% passed, 2 flip(s)\n",
        "nightly/xen-hvm@xen1 on xen1: 3 run(s), 0% passed, 0 flip(s)",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    let o = virtsmoke(dir.path(), &["history", history.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tiny = &v["cases"][0];
    assert_eq!(
        (tiny["case"].as_str(), tiny["flaky"].as_bool(), tiny["flips"].as_u64()),
        (Some("nightly/kvm-tiny@lab1"), Some(true), Some(2))
    );
    assert_eq!(tiny["last_failure"]["cause"]["id"], "ssh.no-listener");
    assert_eq!(v["cases"][1]["flaky"], false);
    let o = virtsmoke(dir.path(), &["history", history.to_str().unwrap(), "--suggest-known-issues"]);
    let yaml = String::from_utf8_lossy(&o.stdout);
    assert!(yaml.contains("known_issues:\n  - case: \"nightly/kvm-tiny@lab1\"\n    step: \"boot.ssh\"\n    message: \"no answer from 10.77.0.12:22 within 60 s\"\n"), "{yaml}");
    assert!(!yaml.contains("xen-hvm"), "{yaml}");
}

#[test]
fn history_refuses_what_it_cannot_read_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let o = virtsmoke(dir.path(), &["history", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no JSON results found in"), "{}", text(&o));
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"schema_version\": 1,").unwrap();
    let o = virtsmoke(dir.path(), &["history", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("{} is not virtsmoke JSON results", broken.display())),
        "{}",
        text(&o)
    );
}

#[test]
fn compare_with_history_reports_a_flaky_case_as_flaky_not_as_a_regression() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (fixture("history/nightly-3.json"), results("flaky-red.json"));
    let old = old.to_str().unwrap();
    let o = virtsmoke(dir.path(), &["compare", old, &new]);
    assert_eq!(o.status.code(), Some(1), "without history it is newly failing: {}", text(&o));
    let history = fixture("history");
    let o = virtsmoke(dir.path(), &["compare", old, &new, "--history", history.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("0 newly failing"), "{out}");
    assert!(
        out.contains("failing now, flaky in the history (not a regression):\n  nightly/kvm-tiny@lab1 on lab1: passed -> failed: boot.ssh: no answer from 10.77.0.12:22 within 60 s: flaky (2 flips in 3 runs)\n"),
        "{out}"
    );
    // Failing at a step that never flipped in the history is not excused.
    let mut v = json(Path::new(&new));
    for s in v["cases"][0]["steps"].as_array_mut().unwrap() {
        if s["name"] == "boot.console" {
            s["outcome"] = "failed".into();
            s["message"] = "kernel panic on the console".into();
        }
    }
    let elsewhere = dir.path().join("elsewhere.json");
    std::fs::write(&elsewhere, v.to_string()).unwrap();
    let o =
        virtsmoke(dir.path(), &["compare", old, elsewhere.to_str().unwrap(), "--history", history.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 newly failing"), "{}", text(&o));
    let empty = tempfile::tempdir().unwrap();
    let o = virtsmoke(dir.path(), &["compare", old, &new, "--history", empty.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "an empty history is bad input: {}", text(&o));
}
