//! The CI templates under `ci/templates/`: they parse, hold each host's CI lock,
//! tell a failed case from an infrastructure error and an interruption, always
//! clean up, compare with the last nightly and read the history, and every
//! virtsmoke flag they use exists. No host, no guest.

mod common;
use common::{root, virtsmoke};

fn template(name: &str) -> String {
    std::fs::read_to_string(root().join("ci/templates").join(name)).unwrap()
}

fn yaml(name: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&template(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn gitlab_locks_each_host_allows_exit_1_only_and_always_cleans_up() {
    let y = yaml("gitlab-ci.yml");
    let base = &y[".virtsmoke-host"];
    assert_eq!(base["interruptible"], true);
    assert_eq!(base["allow_failure"]["exit_codes"], serde_yaml_ng::to_value([1]).unwrap());
    for host in ["lab1", "xen1"] {
        let job = &y[format!("virtsmoke-host-{host}").as_str()];
        assert_eq!(job["resource_group"], format!("virtsmoke-host-{host}").as_str(), "{host}");
        assert_eq!(job["variables"]["HOST"], host);
    }
    let cleanup = &y["virtsmoke-cleanup"];
    assert!(cleanup["rules"].as_sequence().unwrap().iter().all(|r| r["when"] == "always"));
    let script = |job: &str| serde_yaml_ng::to_string(&y[job]["script"]).unwrap();
    assert!(script("virtsmoke-cleanup").contains("virtsmoke cleanup $VIRTSMOKE_SCENARIOS --run"));
    // The job names its run, and its after_script cleans up exactly that run.
    let named = "\"gitlab-${CI_JOB_ID}\"";
    assert!(serde_yaml_ng::to_string(&base["script"]).unwrap().contains(&format!("--run-id {named}")));
    assert!(serde_yaml_ng::to_string(&base["after_script"]).unwrap().contains(&format!("--run {named}")));
    let report = script("virtsmoke-report");
    assert!(report.contains("virtsmoke compare \"$PREVIOUS\" out/merged.json --history history/"), "{report}");
    assert!(report.contains("virtsmoke history history/"), "{report}");
    assert_eq!(y["virtsmoke-report"]["cache"]["when"], "always", "failed nights stay in the history");
}

#[test]
fn github_locks_each_host_with_a_concurrency_group_and_always_cleans_up() {
    let y = yaml("github-actions.yml");
    let host = &y["jobs"]["host"];
    assert_eq!(host["concurrency"]["group"], "virtsmoke-host-${{ matrix.host }}");
    assert_eq!(host["concurrency"]["cancel-in-progress"], false);
    let run = serde_yaml_ng::to_string(&host["steps"]).unwrap();
    assert!(run.contains("if [ \"$rc\" -eq 1 ]; then exit 0; fi"), "{run}");
    assert_eq!(y["jobs"]["cleanup"]["if"], "always()");
    let report = serde_yaml_ng::to_string(&y["jobs"]["report"]["steps"]).unwrap();
    assert!(report.contains("dawidd6/action-download-artifact"), "{report}");
    assert!(report.contains("virtsmoke compare previous/merged.json out/merged.json --history history/"), "{report}");
}

#[test]
fn jenkins_locks_each_host_aborts_on_interruption_and_cleans_up() {
    let j = template("Jenkinsfile");
    for expected in [
        "lock(resource: \"virtsmoke-host-${env.HOST}\")",
        "if (rc == 130 || rc == 143) {\n",
        "currentBuild.result = 'ABORTED'",
        "copyArtifacts projectName: env.JOB_NAME, selector: lastCompleted()",
        "virtsmoke compare previous/out/merged.json out/merged.json --history history/",
        "        cleanup {\n",
    ] {
        assert!(j.contains(expected), "missing {expected:?}");
    }
}

/// Every `virtsmoke SUBCOMMAND ... --flag` in the templates names a flag the subcommand has.
#[test]
fn every_virtsmoke_flag_in_the_templates_exists() {
    let mut checked = 0;
    for name in ["gitlab-ci.yml", "github-actions.yml", "Jenkinsfile", "README.md"] {
        let text = template(name).replace("\\\n", " ").replace(">-\n", " ");
        for line in text.lines() {
            let Some(at) = line.find("virtsmoke ") else { continue };
            let words: Vec<&str> = line[at + "virtsmoke ".len()..].split_whitespace().collect();
            let Some(sub) = words.first().filter(|w| w.chars().all(|c| c.is_ascii_lowercase())) else { continue };
            let help = virtsmoke(&[sub, "--help"]);
            if help.status.code() != Some(0) {
                continue; // prose ("virtsmoke nightly on ...")
            }
            let help = String::from_utf8_lossy(&help.stdout).into_owned();
            for flag in words.iter().filter(|w| w.starts_with("--")) {
                let flag = flag.split('=').next().unwrap().trim_end_matches([',', ')', '`', ';']);
                assert!(help.contains(flag), "{name}: `virtsmoke {sub}` has no {flag}: {line}\n{help}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 30, "only {checked} flags found: the parsing missed the commands");
}
