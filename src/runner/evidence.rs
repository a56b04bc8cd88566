//! Evidence gathered from the host when a case did not pass, before its guests
//! go: the domain as libvirt last saw it and, on Xen hosts, the hypervisor's
//! and toolstack's logs for the domain. Gathered into memory first and written
//! only once complete, so a gathering that is abandoned leaves nothing behind.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::context::ReadyHost;
use crate::cause::xen::{Domain, XenLogs, pick};
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

/// The lines of the Xen logs among `pieces` (gathered for `guest`, whose
/// domain is `domain`) that matter for it since `started` (`cause::xen::pick`);
/// empty where none were gathered (KVM hosts).
pub fn xen_lines(pieces: &[Piece], guest: &str, domain: &str, started: SystemTime) -> Vec<String> {
    let text = |suffix: &str| {
        let file = format!("{guest}.{suffix}");
        pieces.iter().find(|p| p.file == file).map_or("", |p| p.text.as_str())
    };
    let logs = XenLogs {
        xl_dmesg: text("xl-dmesg.log"),
        libxl: text("libxl.log"),
        device_model: text("device-model.log"),
        console: text("xen-console.log"),
    };
    if logs.xl_dmesg.is_empty() && logs.libxl.is_empty() && logs.device_model.is_empty() && logs.console.is_empty() {
        return Vec::new();
    }
    let id = domain_id(text("live.xml"));
    pick(logs, Domain { id, name: domain }, started, SystemTime::now())
}

/// The `id` of a running domain's XML (`<domain type='xen' id='5'>`).
fn domain_id(xml: &str) -> Option<u32> {
    let open = &xml[xml.find("<domain")?..];
    let open = &open[..open.find('>')?];
    let rest = &open[open.find(" id=")? + 5..];
    rest.split(['\'', '"']).next()?.parse().ok()
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
    fn xen_lines_are_picked_from_the_gathered_logs_of_the_domain_id_in_its_xml() {
        let piece = |file: &str, text: &str| Piece { file: file.into(), text: text.into() };
        let pieces = vec![
            piece("g.live.xml", "<domain type='xen' id='5'>\n  <name>vs-1-0-g</name>\n</domain>"),
            piece(
                "g.xl-dmesg.log",
                "(XEN) d4v0 Triple fault\n(XEN) d5v0 Triple fault - invoking HVM shutdown action 1\n",
            ),
            piece("other.xl-dmesg.log", "(XEN) d5v0 MMIO emulation failed\n"),
        ];
        let started = SystemTime::UNIX_EPOCH;
        let lines = xen_lines(&pieces, "g", "vs-1-0-g", started);
        assert_eq!(lines, ["xl dmesg: (XEN) d5v0 Triple fault - invoking HVM shutdown action 1"]);
        assert!(xen_lines(&pieces[..1], "g", "vs-1-0-g", started).is_empty(), "no Xen logs, nothing picked");
        assert_eq!(domain_id("<domain type=\"xen\" id=\"12\">"), Some(12));
        assert_eq!(domain_id("<domain type='kvm'>"), None);
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
