//! Evidence gathered from the host when a case did not pass, before its guests
//! go: the domain as libvirt last saw it and, on Xen hosts, the hypervisor's
//! and toolstack's logs for the domain.

use std::path::{Path, PathBuf};

use super::context::ReadyHost;
use super::host_facts::shell_for;
use crate::checks::GuestUnderTest;
use crate::plan::Hypervisor;

/// Writes what can be had into `dir`; returns the files written.
pub async fn collect(host: &ReadyHost, guest: &GuestUnderTest, dir: &Path) -> Vec<PathBuf> {
    let mut written = Vec::new();
    let mut save = |name: String, text: &str| {
        let path = dir.join(name);
        if !text.trim().is_empty() && std::fs::write(&path, text).is_ok() {
            written.push(path);
        }
    };
    if let Ok(xml) = guest.domain.xml().await {
        save(format!("{}.live.xml", guest.name), &xml);
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
                save(format!("{}.{suffix}", guest.name), &text);
            }
        }
    }
    written
}
