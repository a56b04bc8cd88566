//! `virtsmoke reproduce`: the command that reruns one case of a results file on
//! the same host with the same images (checked by hash), keeping its guests if
//! it fails, and how to reach them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::events::{CaseReport, Outcome};
use crate::exit;
use crate::image::identity;
use crate::plan::{Case, Plan};
use crate::report::json;
use crate::shell::word;

#[derive(Args)]
pub struct ReproduceArgs {
    /// The run's JSON results (`virtsmoke run --json`).
    #[arg(value_name = "RESULTS.json")]
    results: PathBuf,
    /// The case's name, as in the results (e.g. `local-kvm/tiny-kvm@lab1`).
    case: String,
    /// Run the command (no shell) and exit with its exit code.
    #[arg(long)]
    run: bool,
    /// The scenario file, when the results do not record it or it has moved.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Another file the run was given beside the scenario (an inventory of hosts); repeatable.
    #[arg(long, value_name = "FILE")]
    with: Vec<PathBuf>,
}

/// 0 (or the rerun's exit code with `--run`); 2 when the case, its scenario
/// or its images cannot be matched.
pub fn run(args: ReproduceArgs) -> u8 {
    match prepare(&args) {
        Ok(plan) => {
            print!("{}", plan.text);
            if !args.run {
                return exit::PASSED;
            }
            eprintln!("running: virtsmoke {}", plan.argv.iter().map(|a| word(a)).collect::<Vec<_>>().join(" "));
            rerun(&plan.argv)
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::BAD_INPUT
        }
    }
}

/// What `reproduce` prints and, with `--run`, runs.
struct Reproduction {
    /// The arguments after `virtsmoke`.
    argv: Vec<String>,
    text: String,
}

fn prepare(args: &ReproduceArgs) -> Result<Reproduction, String> {
    let doc = json::read(&args.results).map_err(|e| crate::error_chain(&e))?;
    let report = find_case(&doc.cases, &args.case, &args.results)?;
    let scenario = match (&args.scenario, report.property("scenario_file")) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => PathBuf::from(p),
        (None, None) => {
            return Err(format!(
                "{} does not record the scenario file of {} (written by an older virtsmoke); give it with --scenario FILE",
                args.results.display(),
                args.case
            ));
        }
    };
    let mut files = vec![scenario];
    files.extend(args.with.iter().cloned());
    let plan = crate::scenario::load(&files).map_err(|e| e.to_string())?;
    let case =
        plan.cases.iter().find(|c| c.name == args.case).ok_or_else(|| {
            format!("{} has no case {} any more (renamed or removed?)", display_files(&files), args.case)
        })?;
    check_host(report, &plan)?;
    let mut checked = check_images(report, case, &plan)?;
    if !case.candidates.is_empty() {
        checked.push(format!(
            "the case is placed when it starts, on any of {} with room: it ran on {}, the rerun may land on another",
            case.candidates.join(", "),
            report.host
        ));
    }
    let argv = command(&files, &case.name);
    Ok(Reproduction { text: explain(report, &plan, &argv, &checked), argv })
}

fn display_files(files: &[PathBuf]) -> String {
    files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
}

fn find_case<'a>(cases: &'a [CaseReport], name: &str, path: &Path) -> Result<&'a CaseReport, String> {
    cases.iter().find(|c| c.name == name).ok_or_else(|| {
        let failed: Vec<&str> = cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Failed | Outcome::Error))
            .map(|c| c.name.as_str())
            .collect();
        let list = if failed.is_empty() { "none".to_string() } else { failed.join(", ") };
        format!("{} has no case {name}; its failed cases: {list}", path.display())
    })
}

/// The arguments of `virtsmoke run` that rerun only `case`, keeping its guests on failure.
fn command(files: &[PathBuf], case: &str) -> Vec<String> {
    let mut argv = vec!["run".to_string()];
    argv.extend(files.iter().map(|f| f.display().to_string()));
    argv.extend(["--only".into(), case.to_string(), "--keep-on-failure".into()]);
    argv
}

/// The host the case ran on must still be the scenario's host of that name.
fn check_host(report: &CaseReport, plan: &Plan) -> Result<(), String> {
    let Some(spec) = plan.hosts.get(&report.host) else {
        return Err(format!("the scenario has no host {} any more", report.host));
    };
    match report.property("host_uri") {
        Some(was) if was != spec.uri => Err(format!(
            "host {} is {} in the scenario now, but the run used {was}; refusing to reproduce on another host",
            report.host, spec.uri
        )),
        _ => Ok(()),
    }
}

/// Compares each guest's recorded image identity with the image now; a
/// difference is refused. Returns the lines that say what was checked.
fn check_images(report: &CaseReport, case: &Case, plan: &Plan) -> Result<Vec<String>, String> {
    // A placed case (`host: any`) has its host from the results, where it ran.
    let here = plan.hosts.get(&report.host).is_some_and(crate::hostaccess::is_this_machine);
    let mut said = Vec::new();
    for g in &case.guests {
        let recorded: BTreeMap<&str, &str> = identity::PROPERTIES
            .iter()
            .filter_map(|k| report.property(&format!("{}.{k}", g.name)).map(|v| (*k, v)))
            .collect();
        if recorded.is_empty() {
            said.push(format!(
                "guest {}: the results record no image identity (an older virtsmoke), so its image is not checked",
                g.name
            ));
            continue;
        }
        let now = identity::of(&g.image, g.image.files_are_here() || here)
            .map_err(|e| format!("guest {}: cannot check its image: {e}", g.name))?;
        let now: BTreeMap<&str, String> = now.into_iter().collect();
        for (k, was) in &recorded {
            match now.get(k) {
                Some(is) if is == was => {}
                Some(is) => {
                    return Err(format!(
                        "guest {}: the image differs from the run's ({k} was {was}, is now {is}); \
                         refusing to reproduce with another image",
                        g.name
                    ));
                }
                None => {
                    return Err(format!(
                        "guest {}: the run recorded {k} {was}, which cannot be checked here (the image's files are \
                         not on this machine); refusing to reproduce unchecked",
                        g.name
                    ));
                }
            }
        }
        let list: Vec<String> =
            recorded.iter().filter(|(k, _)| **k != "image").map(|(k, v)| format!("{k} {v}")).collect();
        let name = recorded.get("image").copied().unwrap_or(&g.image.name);
        said.push(format!("guest {}: image {name} unchanged ({})", g.name, list.join(", ")));
    }
    Ok(said)
}

fn explain(report: &CaseReport, plan: &Plan, argv: &[String], checked: &[String]) -> String {
    let uri = report
        .property("host_uri")
        .map(String::from)
        .or_else(|| plan.hosts.get(&report.host).map(|h| h.uri.clone()))
        .unwrap_or_default();
    let mut out =
        format!("# {} ({:?} in run {}) on host {} ({uri})\n", report.name, report.outcome, run_of(report), report.host);
    for line in checked {
        out.push_str(&format!("# {line}\n"));
    }
    out.push_str("# rerun only this case, keeping its guests if it fails:\n");
    out.push_str(&format!("virtsmoke {}\n", argv.iter().map(|a| word(a)).collect::<Vec<_>>().join(" ")));
    out.push_str(&format!(
        "# if it fails, the run prints for each kept guest (domain vs-RUNID-N-GUEST):\n\
         #   console: virsh -c {} console DOMAIN\n\
         #   shell:   the `ssh` line it prints (the run's key, and the host's namespace or jump)\n\
         #   remove:  virtsmoke cleanup --uri {} --run RUNID\n\
         # or, given --json RESULTS.json: virtsmoke console|ssh RESULTS.json CASE [GUEST]\n",
        word(&uri),
        word(&uri)
    ));
    for k in &report.kept {
        out.push_str(&format!(
            "# kept by that run, if not removed since: virsh -c {} console {}\n",
            word(&k.uri),
            k.domain
        ));
        if let Some(ssh) = &k.ssh {
            out.push_str(&format!("#   shell: {ssh}\n"));
        }
    }
    out
}

fn run_of(report: &CaseReport) -> &str {
    report.property("run_id").unwrap_or("?")
}

/// Runs `virtsmoke ARGV` (this binary, no shell); its exit code, or 128 + the
/// signal that ended it.
fn rerun(argv: &[String]) -> u8 {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("virtsmoke"));
    match std::process::Command::new(exe).args(argv).status() {
        Ok(status) => match (status.code(), std::os::unix::process::ExitStatusExt::signal(&status)) {
            (Some(code), _) => u8::try_from(code).unwrap_or(exit::INFRASTRUCTURE),
            (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(exit::INFRASTRUCTURE),
            (None, None) => exit::INFRASTRUCTURE,
        },
        Err(e) => {
            eprintln!("error: cannot start virtsmoke run: {e}");
            exit::INFRASTRUCTURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    fn plan() -> Plan {
        let text = include_str!("../../tests/fixtures/scenarios/good-minimal.yaml");
        crate::scenario::load_str(Path::new("good-minimal.yaml"), text).unwrap()
    }

    #[test]
    fn the_command_reruns_only_the_case_and_keeps_its_guests() {
        let argv = command(&["a.yaml".into(), "inv.yaml".into()], "s/tiny@h1");
        assert_eq!(argv, ["run", "a.yaml", "inv.yaml", "--only", "s/tiny@h1", "--keep-on-failure"]);
    }

    #[test]
    fn a_different_image_is_refused_and_the_same_one_said() {
        let plan = plan();
        let case = &plan.cases[0];
        let hash = crate::image::recipe_hash("test-image").unwrap();
        let same = sample::case(
            &case.name,
            "h1",
            Outcome::Failed,
            &[("tiny.image", "test-image"), ("tiny.image_recipe_hash", &hash)],
        );
        let said = check_images(&same, case, &plan).unwrap();
        assert_eq!(said, [format!("guest tiny: image test-image unchanged (image_recipe_hash {hash})")]);
        let other = sample::case(&case.name, "lab1", Outcome::Failed, &[("tiny.image_recipe_hash", "0000")]);
        let e = check_images(&other, case, &plan).unwrap_err();
        assert_eq!(
            e,
            format!(
                "guest tiny: the image differs from the run's (image_recipe_hash was 0000, is now {hash}); refusing to reproduce with another image"
            )
        );
        let old = sample::case(&case.name, "lab1", Outcome::Failed, &[]);
        assert!(check_images(&old, case, &plan).unwrap()[0].contains("record no image identity"));
    }

    #[test]
    fn the_rerun_exits_with_the_childs_exit_code() {
        // In a unit test this binary is the test harness: `--list` exits 0, an unknown flag 101.
        assert_eq!(rerun(&["--list".into(), "--exact".into(), "no-such-test".into()]), 0);
        assert_eq!(rerun(&["--no-such-flag".into()]), 101);
    }

    #[test]
    fn another_host_behind_the_same_name_is_refused() {
        let plan = plan();
        let same = sample::case("minimal/tiny@lab1", "lab1", Outcome::Failed, &[("host_uri", "qemu:///system")]);
        assert_eq!(check_host(&same, &plan), Ok(()));
        let moved = sample::case("minimal/tiny@lab1", "lab1", Outcome::Failed, &[("host_uri", "qemu+ssh://h/system")]);
        assert_eq!(
            check_host(&moved, &plan).unwrap_err(),
            "host lab1 is qemu:///system in the scenario now, but the run used qemu+ssh://h/system; refusing to reproduce on another host"
        );
        let gone = sample::case("minimal/tiny@lab9", "lab9", Outcome::Failed, &[]);
        assert_eq!(check_host(&gone, &plan).unwrap_err(), "the scenario has no host lab9 any more");
    }

    #[test]
    fn an_unknown_case_lists_the_failed_ones() {
        let cases = sample::cases();
        let e = find_case(&cases, "nope", Path::new("r.json")).unwrap_err();
        assert_eq!(e, "r.json has no case nope; its failed cases: local-kvm/tiny-panic@lab1");
    }
}
