//! Which lab directory a running host belongs to. Namespace names are fixed,
//! so a lab in another directory (a test's temporary lab, say) would
//! otherwise tear down the machine's default lab, guests and all. The answer
//! comes from libvirtd's own mount table: the source of its `/run/libvirt`.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::LabError;
use super::host::unescape_octal;
use super::layout::HostLayout;
use super::net;
use super::process::{self, NsId};

/// Fails if `host`'s namespace holds a libvirtd whose state lives in another
/// lab directory. A namespace without libvirtd belongs to nobody.
pub fn check(host: &HostLayout) -> Result<(), LabError> {
    let Some(ns) = NsId::of(&net::netns_path(&host.netns())) else {
        return Ok(());
    };
    for pid in process::pids_in(&[ns]) {
        if process::comm(pid).as_deref() != Some("libvirtd") {
            continue;
        }
        let Ok(info) = fs::read_to_string(format!("/proc/{pid}/mountinfo")) else {
            continue;
        };
        if let Some(source) = bind_source(&info, "/run/libvirt")
            && !belongs(host, &source)
        {
            return Err(LabError::Foreign {
                netns: host.netns(),
                owner: source.ancestors().nth(2).map(Path::to_path_buf).unwrap_or(source),
            });
        }
    }
    Ok(())
}

/// The source directory (fourth field: the path inside its file system) of
/// the mount at `mount_point` in a mountinfo text.
pub fn bind_source(mountinfo: &str, mount_point: &str) -> Option<PathBuf> {
    mountinfo.lines().rev().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        (fields.get(4).map(|m| unescape_octal(m)).as_deref() == Some(mount_point))
            .then(|| PathBuf::from(unescape_octal(fields[3])))
    })
}

/// The source is this host's `run` directory. It is a path inside its file
/// system, so when the lab directory is on a separate mount it is a suffix
/// of the full path.
fn belongs(host: &HostLayout, source: &Path) -> bool {
    host.run().ends_with(source.strip_prefix("/").unwrap_or(source))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
44 50 0:40 / /run rw,relatime - tmpfs vs-lab-run rw,mode=755
45 44 254:0 /var/tmp/virtsmoke-lab/h1/run /run/libvirt rw,relatime - ext4 /dev/vda rw
46 44 254:0 /var/tmp/virtsmoke-lab/h1/lib /var/lib/libvirt rw,relatime - ext4 /dev/vda rw
";

    #[test]
    fn finds_the_bind_source() {
        assert_eq!(bind_source(INFO, "/run/libvirt"), Some(PathBuf::from("/var/tmp/virtsmoke-lab/h1/run")));
        assert_eq!(bind_source(INFO, "/etc/libvirt"), None);
    }

    #[test]
    fn ownership() {
        let mine = HostLayout::new(Path::new("/var/tmp/virtsmoke-lab"), 1);
        assert!(belongs(&mine, Path::new("/var/tmp/virtsmoke-lab/h1/run")));
        // Lab directory on its own mount (/var/tmp a tmpfs, say).
        assert!(belongs(&mine, Path::new("/virtsmoke-lab/h1/run")));
        let other = HostLayout::new(Path::new("/tmp/.tmpAb12/lab"), 1);
        assert!(!belongs(&other, Path::new("/var/tmp/virtsmoke-lab/h1/run")));
        let h2 = HostLayout::new(Path::new("/var/tmp/virtsmoke-lab"), 2);
        assert!(!belongs(&h2, Path::new("/var/tmp/virtsmoke-lab/h1/run")));
    }
}
