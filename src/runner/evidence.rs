//! Evidence gathered from the host when a case did not pass, before its guests
//! go: the domain as libvirt last saw it and, on Xen hosts, the hypervisor's
//! and toolstack's logs for the domain. Gathered into memory first and written
//! only once complete, so a gathering that is abandoned leaves nothing behind.

use std::path::{Path, PathBuf};

use super::context::ReadyHost;
use crate::checks::GuestUnderTest;
use crate::hostaccess::shell_for;

/// Evidence files are read by whoever reads the case's reports.
const EVIDENCE_MODE: u32 = 0o644;

/// One piece of evidence: the file it goes to (in the case's directory) and its text.
pub struct Piece {
    pub file: String,
    pub text: String,
}

/// What can be had about `guest` from its host.
pub async fn gather(host: &ReadyHost, guest: &GuestUnderTest) -> Vec<Piece> {
    let mut found = Vec::new();
    if let Ok(xml) = guest.domain.xml().await {
        found.push(Piece { file: format!("{}.live.xml", guest.name), text: xml });
    }
    let commands = crate::hypervisor::for_host(host.spec.hypervisor).evidence_commands(&guest.domain.name);
    if commands.is_empty() {
        return found;
    }
    let shell = shell_for(&host.spec);
    for (suffix, cmd) in commands {
        if let Some(text) = shell.run(&cmd).await {
            found.push(Piece { file: format!("{}.{suffix}", guest.name), text });
        }
    }
    found
}

/// Writes the pieces with something in them into `dir` as new files (a name
/// already there, a planted symbolic link included, is left alone); returns
/// the files written.
pub fn write(pieces: Vec<Piece>, dir: &Path) -> Vec<PathBuf> {
    let mut written = Vec::new();
    for p in pieces {
        let path = dir.join(p.file);
        if !p.text.trim().is_empty() && crate::fsutil::write_new(&path, p.text.as_bytes(), EVIDENCE_MODE).is_ok() {
            written.push(path);
        }
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_goes_to_new_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("g.libxl.log")).unwrap();
        let piece = |file: &str, text: &str| Piece { file: file.into(), text: text.into() };
        let pieces = vec![piece("g.libxl.log", "log"), piece("g.live.xml", "<domain/>"), piece("g.empty.log", " \n")];
        let written = write(pieces, dir.path());
        assert_eq!(written, [dir.path().join("g.live.xml")]);
        assert_eq!(std::fs::read(&target).unwrap(), b"keep", "a planted link is not followed");
        assert_eq!(std::fs::read_to_string(dir.path().join("g.live.xml")).unwrap(), "<domain/>");
    }

    #[test]
    fn a_domain_name_reaches_the_log_paths_unchanged() {
        let dom = "vs-x'; touch /tmp/pwned; '";
        let commands = crate::hypervisor::for_host(crate::plan::Hypervisor::Xen).evidence_commands(dom);
        let logs: Vec<String> =
            commands.into_iter().filter_map(|(_, c)| c.strip_prefix("cat ").map(str::to_string)).collect();
        assert_eq!(logs.len(), 3);
        for path in logs {
            let out =
                std::process::Command::new("/bin/sh").arg("-c").arg(format!("printf %s {path}")).output().unwrap();
            let printed = String::from_utf8(out.stdout).unwrap();
            assert!(printed.starts_with("/var/log/") && printed.contains(&format!("{dom}.log")), "{printed}");
        }
    }
}
