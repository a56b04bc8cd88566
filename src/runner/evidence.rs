//! Evidence gathered from the host when a case did not pass, before its guests
//! go: the domain as libvirt last saw it and, on Xen hosts, the hypervisor's
//! and toolstack's logs for the domain. Gathered into memory first and written
//! only once complete, so a gathering that is abandoned leaves nothing behind.

use std::path::{Path, PathBuf};

use super::context::ReadyHost;
use crate::checks::GuestUnderTest;
use crate::hostaccess::shell_for;
use crate::plan::Hypervisor;

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
    if host.spec.hypervisor == Hypervisor::Xen {
        let shell = shell_for(&host.spec);
        let dom = &guest.domain.name;
        let logs = [
            ("xl-dmesg.log", "xl dmesg".to_string()),
            ("libxl.log", format!("cat /var/log/libvirt/libxl/{dom}.log")),
            ("device-model.log", format!("cat /var/log/xen/qemu-dm-{dom}.log")),
            ("xen-console.log", format!("cat /var/log/xen/console/guest-{dom}.log")),
        ];
        for (suffix, cmd) in logs {
            if let Some(text) = shell.run(&cmd).await {
                found.push(Piece { file: format!("{}.{suffix}", guest.name), text });
            }
        }
    }
    found
}

/// Writes the pieces with something in them into `dir`; returns the files written.
pub fn write(pieces: Vec<Piece>, dir: &Path) -> Vec<PathBuf> {
    let mut written = Vec::new();
    for p in pieces {
        let path = dir.join(p.file);
        if !p.text.trim().is_empty() && std::fs::write(&path, &p.text).is_ok() {
            written.push(path);
        }
    }
    written
}
