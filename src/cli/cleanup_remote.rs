//! `virtsmoke cleanup` on hosts reached over SSH (a `jump`): the run
//! directories (`/var/tmp/virtsmoke/runs/RUNID`, see runner/staging.rs) that
//! runs which died could not remove: copied images, overlays, seeds.

use std::collections::BTreeSet;

use super::cleanup::tally::{Fate, Filter, Tally, keep_reason};
use crate::backend::host_shell::HostShell;
use crate::hostaccess;
use crate::plan::HostSpec;
use crate::rundir::remote_run_dir;

/// What the pass found on a host.
pub enum Swept {
    /// Each run directory the filter selects, by path, and what became of it.
    Dirs(Vec<(String, Fate)>),
    /// The host's libvirt runs on this machine: its run directories are this
    /// machine's, which the local pass sees.
    Here,
    /// A remote host with no `jump`: its files cannot be reached.
    NoJump,
    /// The host did not answer over SSH.
    Unreachable,
}

/// Goes over the run directories on the host of `spec`, removing (on a dry
/// run: listing) those the filter selects, unless the run is still going here
/// or is in `busy_runs` (runs with domains left on the host).
pub async fn sweep(spec: &HostSpec, filter: &Filter<'_>, busy_runs: &BTreeSet<String>) -> Swept {
    let shell = hostaccess::shell_for(spec);
    match shell {
        HostShell::Ssh(_) => {}
        HostShell::Local => return Swept::Here,
        // A URI without a host part (`test:///default`) names no remote host.
        HostShell::None if !names_a_host(&spec.uri) => return Swept::Here,
        HostShell::None => return Swept::NoJump,
    }
    let Some(listing) = shell.run(&list_command(&remote_run_dir(""))).await else { return Swept::Unreachable };
    let mut dirs = Vec::new();
    // The directories' times are the host's, against this machine's clock.
    for (run, mtime, machine) in parse_listing(&listing) {
        if !filter.selects(&run, mtime) {
            continue;
        }
        let fate = match keep_reason(&run, Some(busy_runs), crate::rundir::is_alive) {
            Some(kept) => kept,
            None if !filter.may_touch(&run, machine.as_deref()) => Fate::KeptElsewhere,
            None if filter.dry_run => Fate::WouldRemove,
            None if shell.run(&remove_command(&run)).await.is_some() => Fate::Removed,
            None => Fate::Failed,
        };
        dirs.push((remote_run_dir(&run), fate));
    }
    Swept::Dirs(dirs)
}

/// Removes the run directory of `run` (a listed name, quoted all the same).
fn remove_command(run: &str) -> String {
    format!("rm -rf {}", crate::shell::quote(&remote_run_dir(run)))
}

/// Prints what the pass did on `host` into the tally.
pub fn report(tally: &mut Tally, host: &str, swept: Swept) {
    match swept {
        Swept::Dirs(dirs) => dirs.into_iter().for_each(|(path, fate)| tally.run_dir(&format!("{host}:{path}"), fate)),
        Swept::Here => {}
        Swept::NoJump => eprintln!(
            "note: host {host} has no `jump`: run directories left on it are not looked at \
             (name it in a scenario or inventory file that gives its `jump`)"
        ),
        Swept::Unreachable => tally.could_not_look(&format!("host {host}"), "cannot list its run directories over SSH"),
    }
}

/// Lists the directories in `root`, `NAME MTIME MACHINE` a line (the machine
/// from the directory's `owner` file, see runner/staging.rs; empty when it
/// has none); names with characters a run id never has are not listed.
fn list_command(root: &str) -> String {
    let root = crate::shell::quote(root);
    format!(
        "if [ -d {root} ]; then find {root} -mindepth 1 -maxdepth 1 -type d ! -name '*[!A-Za-z0-9._-]*' \
         -printf '%f %T@\\n' | while read -r n t; do \
         m=$(sed -n 's/^machine=//p' {root}/\"$n\"/owner 2>/dev/null | head -n 1); echo \"$n $t $m\"; done; fi"
    )
}

/// `list_command` lines: (run id, modification time in seconds, machine).
/// Names that are not run ids are left alone here too, so none reaches a shell.
fn parse_listing(text: &str) -> Vec<(String, u64, Option<String>)> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.splitn(3, ' ');
            let (name, mtime) = (words.next()?, words.next()?);
            let secs = mtime.split('.').next()?.parse().ok()?;
            let machine = words.next().map(str::trim).filter(|m| !m.is_empty()).map(crate::rundir::machine_name);
            is_run_id(name).then(|| (name.to_string(), secs, machine))
        })
        .collect()
}

use crate::hypervisor::uri_names_a_host as names_a_host;

fn is_run_id(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_uris_with_a_host_part_name_a_remote_host() {
        assert!(names_a_host("xen+ssh://root@127.0.0.1:2221/system?keyfile=/k"));
        assert!(names_a_host("qemu+ssh://xen7.example.org/system"));
        assert!(!names_a_host("test:///default"));
        assert!(!names_a_host("qemu:///system"));
    }

    #[test]
    fn listing_keeps_run_ids_only() {
        let text = "20261122093051-b66d 1763800000.1234567890\n.hidden 1\nx;rm -rf / 5\n bad 7\nnoage\nr1 12\n$(id) 3\na'b 4\n";
        assert_eq!(
            parse_listing(text),
            [("20261122093051-b66d".to_string(), 1763800000, None), ("r1".to_string(), 12, None)]
        );
        let text = "r1 12 ci-7/3f2a9c1b7d4e\nr2 13 \nr3 14 a b\n";
        assert_eq!(
            parse_listing(text),
            [
                ("r1".to_string(), 12, Some("ci-7/3f2a9c1b7d4e".to_string())),
                ("r2".to_string(), 13, None),
                ("r3".to_string(), 14, Some("a_b".to_string()))
            ]
        );
    }

    #[test]
    fn the_listing_names_run_directories_only() {
        let root = tempfile::tempdir().unwrap();
        for name in ["20261122093051-b66d", "r_1.x", "two words", "x;y", "a'b", "new\nline"] {
            std::fs::create_dir(root.path().join(name)).unwrap();
        }
        std::fs::write(root.path().join("a-file"), "").unwrap();
        std::fs::write(root.path().join("r_1.x/owner"), "machine=ci-7/3f2a\nrunner=x\n").unwrap();
        let run = |root: &str| std::process::Command::new("sh").arg("-c").arg(list_command(root)).output().unwrap();
        let out = run(root.path().to_str().unwrap());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut runs: Vec<(String, Option<String>)> =
            parse_listing(&String::from_utf8_lossy(&out.stdout)).into_iter().map(|(r, _, m)| (r, m)).collect();
        runs.sort();
        assert_eq!(
            runs,
            [("20261122093051-b66d".into(), None), ("r_1.x".into(), Some("ci-7/3f2a".into()))],
            "names and the owner's machine"
        );
        // No directory yet: nothing, and no error.
        let out = run(root.path().join("none").to_str().unwrap());
        assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
    }

    #[test]
    fn the_removal_quotes_the_run_directory() {
        assert_eq!(remove_command("r1"), "rm -rf '/var/tmp/virtsmoke/runs/r1'");
        assert_eq!(remove_command("a'b"), r"rm -rf '/var/tmp/virtsmoke/runs/a'\''b'");
    }
}
