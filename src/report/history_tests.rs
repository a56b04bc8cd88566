use super::*;
use crate::report::sample::{at, case};

fn run(id: &str, secs: u64, cases: Vec<CaseReport>) -> Run {
    let mut cases = cases;
    for c in &mut cases {
        c.started = at(secs);
    }
    Run { path: format!("{id}.json").into(), run_id: id.into(), started: at(secs), cases, causes: HashMap::new() }
}

fn kvm(outcome: Outcome, libvirt: &str, boot: &str) -> CaseReport {
    case("s/a@h1", "h1", outcome, &[("libvirt_version", libvirt), ("boot_ms", boot), ("tiny.image_recipe_hash", "abc")])
}

#[test]
fn tally_counts_runs_passes_and_flips_without_skips() {
    use Outcome::*;
    let t = tally([Passed, Failed, Skipped, Failed, KnownFailure, Error]);
    assert_eq!(t, Tally { runs: 5, passed: 2, pass_rate: 40.0, flips: 3 });
    assert_eq!(tally([]), Tally::default());
    assert_eq!(tally([Passed, Passed, Passed]).pass_rate, 100.0);
    assert_eq!(tally([Passed, Failed, Failed]).pass_rate, 33.3);
}

#[test]
fn trend_compares_the_newer_half_with_the_older() {
    let t = trend(&[9_000, 10_000, 12_000, 14_000]).unwrap();
    assert_eq!(t, Trend { median: 11_000, first_half: Some(9_500), second_half: Some(13_000), change_pct: Some(36.8) });
    let one = trend(&[5_000]).unwrap();
    assert_eq!((one.median, one.first_half, one.second_half, one.change_pct), (5_000, None, None, None));
    assert_eq!(trend(&[]), None);
    assert_eq!(trend(&[1, 3, 2]).unwrap().median, 2);
}

#[test]
fn flips_with_the_same_facts_make_a_case_flaky_and_changed_facts_do_not() {
    let flaky = [
        run("r1", 0, vec![kvm(Outcome::Passed, "9.0", "9000")]),
        run("r2", 10, vec![kvm(Outcome::Failed, "9.0", "9100")]),
        run("r3", 20, vec![kvm(Outcome::Passed, "9.0", "9200")]),
    ];
    let h = analyse(&flaky);
    let c = &h.cases[0];
    assert_eq!((c.tally.runs, c.tally.flips, c.flips_same_facts, c.flaky), (3, 2, 2, true));
    assert_eq!(c.last_failure.as_ref().unwrap().run_id, "r2");
    assert_eq!(c.last_failure.as_ref().unwrap().step.as_deref(), Some("boot.ssh"));
    let broke = [
        run("r1", 0, vec![kvm(Outcome::Passed, "9.0", "9000")]),
        run("r2", 10, vec![kvm(Outcome::Failed, "10.0", "9000")]),
        run("r3", 20, vec![kvm(Outcome::Failed, "10.0", "9000")]),
    ];
    let c = &analyse(&broke).cases[0];
    assert_eq!((c.tally.flips, c.flips_same_facts, c.flaky), (1, 0, false));
    let mut image_changed = kvm(Outcome::Failed, "9.0", "9000");
    image_changed.properties[2].1 = "def".into();
    let c =
        &analyse(&[run("r1", 0, vec![kvm(Outcome::Passed, "9.0", "1")]), run("r2", 5, vec![image_changed])]).cases[0];
    assert!(!c.flaky, "a new image explains the flip");
}

#[test]
fn the_text_names_flaky_cases_failed_checks_causes_and_the_trend() {
    let mut runs = vec![
        run("r1", 0, vec![kvm(Outcome::Passed, "9.0", "9000")]),
        run("r2", 10, vec![kvm(Outcome::Failed, "9.0", "9000")]),
        run("r3", 20, vec![kvm(Outcome::Passed, "9.0", "12000")]),
        run("r4", 30, vec![kvm(Outcome::Passed, "9.0", "12000")]),
    ];
    runs[1].causes.insert("s/a@h1".into(), Cause { id: "ssh.refused".into(), summary: Some("port 22 closed".into()) });
    let text = analyse(&runs).render_text();
    assert!(
        text.starts_with("history: 4 run(s), 2023-11-14T22:13:20Z .. 2023-11-14T22:13:50Z, 1 case(s), 1 flaky\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "s/a@h1 on h1: 4 run(s), 75% passed, 2 flip(s), boot median 10500 ms (older half 9000 -> newer half 12000 ms, +33.3%)  FLAKY (2 flip(s) with the same host facts and images)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "  last failure (run r2): boot.ssh: no answer <within> 9 s [cause ssh.refused: port 22 closed]\n"
        ),
        "{text}"
    );
    assert!(text.contains("  boot.ssh: 4 run(s), 75% passed, 2 flip(s)\n"), "{text}");
    assert!(!text.contains("  boot.running:"), "checks that never failed are left out: {text}");
}

#[test]
fn suggested_known_issues_parse_as_the_scenario_format_expects() {
    let runs = [
        run("r1", 0, vec![kvm(Outcome::Failed, "9.0", "9000"), case("s/b@h1", "h1", Outcome::Passed, &[])]),
        run("r2", 10, vec![kvm(Outcome::Passed, "9.0", "9000"), case("s/b@h1", "h1", Outcome::Passed, &[])]),
    ];
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    let yaml = analyse(&runs).suggest_known_issues(today);
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let entries = v["known_issues"].as_sequence().unwrap();
    assert_eq!(entries.len(), 1, "{yaml}");
    let e = &entries[0];
    assert_eq!(e["case"], "s/a@h1");
    assert_eq!(e["step"], "boot.ssh");
    assert_eq!(e["message"], "no answer <within> 9 s");
    assert_eq!(e["expires"], "2027-01-01");
    assert!(e["reason"].as_str().unwrap().starts_with("flaky: 1 flip(s) in 2 runs"));
    let none = analyse(&runs[..1]).suggest_known_issues(today);
    assert!(none.ends_with("known_issues: []\n"), "{none}");
}

#[test]
fn directories_are_searched_other_json_skipped_and_broken_files_named() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("nightly-2");
    std::fs::create_dir_all(&nested).unwrap();
    let mut newer = kvm(Outcome::Failed, "9", "1");
    newer.started = at(10);
    json::write(&dir.path().join("r2.json"), "r2", &[newer]).unwrap();
    json::write(&nested.join("r1.json"), "r1", &[kvm(Outcome::Passed, "9", "1")]).unwrap();
    std::fs::write(dir.path().join("manifest.json"), r#"{"kernel":"vmlinuz"}"#).unwrap();
    let (runs, skipped) = load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["r1", "r2"]);
    assert_eq!(skipped, [dir.path().join("manifest.json")]);
    std::fs::write(nested.join("broken.json"), "{ not json").unwrap();
    let e = load(&[dir.path().to_path_buf()]).unwrap_err();
    assert!(e.to_string().contains("broken.json"), "{e}");
    let empty = tempfile::tempdir().unwrap();
    let e = load(&[empty.path().to_path_buf()]).unwrap_err();
    assert_eq!(e.to_string(), format!("no JSON results found in {}", empty.path().display()));
    let e = load(&[dir.path().join("manifest.json")]).unwrap_err();
    assert!(e.to_string().contains("is not virtsmoke JSON results"), "{e}");
}

#[test]
fn runs_are_ordered_by_start_and_causes_read_when_present() {
    let dir = tempfile::tempdir().unwrap();
    let mut late = kvm(Outcome::Failed, "9", "1");
    late.started = at(100);
    json::write(&dir.path().join("a.json"), "late", &[late]).unwrap();
    json::write(&dir.path().join("b.json"), "early", &[kvm(Outcome::Passed, "9", "1")]).unwrap();
    let a = dir.path().join("a.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
    v["cases"][0]["cause"] = serde_json::json!({"id": "guest.panic", "summary": "Kernel panic", "evidence": []});
    std::fs::write(&a, v.to_string()).unwrap();
    let (runs, _) = load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["early", "late"]);
    let h = analyse(&runs);
    let cause = h.cases[0].last_failure.as_ref().unwrap().cause.as_ref().unwrap();
    assert_eq!(cause.id, "guest.panic");
}

#[test]
fn a_case_found_in_a_shard_and_in_the_merged_file_counts_once() {
    let mut tiny = kvm(Outcome::Failed, "9.0", "9000");
    tiny.properties.push(("run_id".into(), "r1".into()));
    let shard = run("r1", 0, vec![tiny.clone()]);
    let merged = run("nightly-1", 0, vec![tiny]);
    let h = analyse(&[shard, merged, run("r2", 10, vec![kvm(Outcome::Passed, "9.0", "9000")])]);
    assert_eq!(h.cases[0].tally.runs, 2, "{:?}", h.cases[0].tally);
}
