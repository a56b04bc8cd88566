//! `virtsmoke console` and `virtsmoke ssh`: reach a guest a run kept
//! (`--keep`, `--keep-on-failure`) by the names of its results file and case,
//! without copying commands out of a report. Both run their program without a
//! shell, so nothing the results or the scenario hold is read by one.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;

use crate::events::{CaseReport, KeptGuest};
use crate::exit;
use crate::report::json;

#[derive(Args)]
pub struct ConsoleArgs {
    /// The run's JSON results (`virtsmoke run --json`).
    #[arg(value_name = "RESULTS.json")]
    results: PathBuf,
    /// The case's name, as in the results (e.g. `local-kvm/tiny-kvm@lab1`).
    case: String,
    /// The guest (its scenario name or its domain); needed when the case kept several.
    guest: Option<String>,
}

#[derive(Args)]
pub struct SshArgs {
    #[command(flatten)]
    which: ConsoleArgs,
    /// A command to run in the guest instead of a login shell (after `--`).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// Runs `virsh -c URI console DOMAIN` for the kept guest.
pub fn console(args: ConsoleArgs) -> u8 {
    match kept(&args).map(|k| console_argv(&k)) {
        Ok(argv) => exec(&argv),
        Err(e) => refuse(&e),
    }
}

/// Runs the kept guest's recorded login, with `command` after it.
pub fn ssh(args: SshArgs) -> u8 {
    match kept(&args.which).and_then(|k| ssh_argv(&k, &args.command)) {
        Ok(argv) => {
            if argv.iter().any(|a| a == "StrictHostKeyChecking=accept-new") {
                eprintln!(
                    "note: virtsmoke could not verify this guest's host key when it kept it; ssh trusts the first it sees"
                );
            }
            exec(&argv)
        }
        Err(e) => refuse(&e),
    }
}

fn refuse(e: &str) -> u8 {
    eprintln!("error: {e}");
    exit::BAD_INPUT
}

/// The kept guest `args` name, or why there is none.
fn kept(args: &ConsoleArgs) -> Result<KeptGuest, String> {
    let doc = json::read(&args.results).map_err(|e| crate::error_chain(&e))?;
    let case = find_case(&doc.cases, &args.case, &args.results)?;
    pick(case, args.guest.as_deref())
}

fn find_case<'a>(cases: &'a [CaseReport], name: &str, path: &Path) -> Result<&'a CaseReport, String> {
    cases.iter().find(|c| c.name == name).ok_or_else(|| {
        let kept: Vec<&str> = cases.iter().filter(|c| !c.kept.is_empty()).map(|c| c.name.as_str()).collect();
        let list = if kept.is_empty() { "none".to_string() } else { kept.join(", ") };
        format!("{} has no case {name}; its cases with kept guests: {list}", path.display())
    })
}

/// The guest of `case` named `guest` (scenario name or domain), or its only kept guest.
fn pick(case: &CaseReport, guest: Option<&str>) -> Result<KeptGuest, String> {
    if case.kept.is_empty() {
        return Err(format!(
            "case {} kept no guest ({:?}): its guests were removed at its end; rerun it with --keep \
             (every case) or --keep-on-failure (`virtsmoke reproduce` prints the command)",
            case.name, case.outcome
        ));
    }
    let names = || case.kept.iter().map(label).collect::<Vec<_>>().join(", ");
    match guest {
        Some(g) => case
            .kept
            .iter()
            .find(|k| k.guest == g || k.domain == g)
            .cloned()
            .ok_or_else(|| format!("case {} kept no guest {g}; it kept {}", case.name, names())),
        None if case.kept.len() == 1 => Ok(case.kept[0].clone()),
        None => Err(format!("case {} kept {} guests: name one of {}", case.name, case.kept.len(), names())),
    }
}

fn label(k: &KeptGuest) -> String {
    if k.guest.is_empty() { k.domain.clone() } else { format!("{} ({})", k.guest, k.domain) }
}

fn console_argv(k: &KeptGuest) -> Vec<String> {
    ["virsh", "-c", &k.uri, "console", &k.domain].map(String::from).to_vec()
}

/// The recorded login and `command` after it; a file that holds only the
/// shell line (an older virtsmoke) is refused rather than given to a shell.
fn ssh_argv(k: &KeptGuest, command: &[String]) -> Result<Vec<String>, String> {
    match (&k.ssh_argv, &k.ssh) {
        (Some(argv), _) if !argv.is_empty() => Ok(argv.iter().chain(command).cloned().collect()),
        (_, Some(line)) => Err(format!(
            "the results record {}'s login only as a shell line (written by an older virtsmoke); \
             read it and run it yourself: {line}",
            k.domain
        )),
        _ => Err(format!(
            "{} was kept before it answered on SSH (no address or no login): use `virtsmoke console`",
            k.domain
        )),
    }
}

/// Runs `argv` in place of virtsmoke (its exit code is the command's); 3 when it cannot start.
fn exec(argv: &[String]) -> u8 {
    use std::os::unix::process::CommandExt;
    let err = Command::new(&argv[0]).args(&argv[1..]).exec();
    eprintln!("error: cannot run {}: {err}", argv[0]);
    exit::INFRASTRUCTURE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Outcome;
    use crate::report::sample;

    fn guest(name: &str, argv: Option<&[&str]>) -> KeptGuest {
        KeptGuest {
            guest: name.into(),
            domain: format!("vs-r1-0-{name}"),
            uri: "qemu:///system".into(),
            ssh: Some(format!("ssh root@{name}")),
            ssh_argv: argv.map(|a| a.iter().map(|s| s.to_string()).collect()),
            remove: String::new(),
        }
    }

    #[test]
    fn a_case_without_kept_guests_says_how_to_keep_them() {
        let c = sample::case("s/tiny@lab1", "lab1", Outcome::Failed, &[]);
        let e = pick(&c, None).unwrap_err();
        assert!(e.contains("case s/tiny@lab1 kept no guest (Failed)") && e.contains("--keep-on-failure"), "{e}");
        assert!(e.contains("--keep (every case)"), "{e}");
    }

    #[test]
    fn the_guest_is_named_by_scenario_name_or_domain_and_must_be_when_several() {
        let mut c = sample::case("s/pair@lab1", "lab1", Outcome::Failed, &[]);
        c.kept = vec![guest("a", None), guest("b", None)];
        assert_eq!(pick(&c, Some("b")).unwrap().domain, "vs-r1-0-b");
        assert_eq!(pick(&c, Some("vs-r1-0-a")).unwrap().guest, "a");
        let e = pick(&c, None).unwrap_err();
        assert_eq!(e, "case s/pair@lab1 kept 2 guests: name one of a (vs-r1-0-a), b (vs-r1-0-b)");
        assert!(pick(&c, Some("c")).unwrap_err().contains("kept no guest c; it kept a (vs-r1-0-a)"));
        c.kept.truncate(1);
        assert_eq!(pick(&c, None).unwrap().guest, "a");
    }

    #[test]
    fn the_console_and_the_login_are_argv_never_a_shell_line() {
        let mut k = guest("a", Some(&["ssh", "-i", "/k; rm -rf /", "--", "root@10.0.0.5"]));
        k.domain = "vs-r1-0-a b".into();
        assert_eq!(console_argv(&k), ["virsh", "-c", "qemu:///system", "console", "vs-r1-0-a b"]);
        let argv = ssh_argv(&k, &["uname".into(), "-r".into()]).unwrap();
        assert_eq!(argv, ["ssh", "-i", "/k; rm -rf /", "--", "root@10.0.0.5", "uname", "-r"]);
        k.ssh_argv = None;
        let e = ssh_argv(&k, &[]).unwrap_err();
        assert!(e.contains("only as a shell line") && e.ends_with(": ssh root@a"), "{e}");
        k.ssh = None;
        assert!(ssh_argv(&k, &[]).unwrap_err().contains("use `virtsmoke console`"));
    }
}
