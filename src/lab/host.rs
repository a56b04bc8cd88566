//! Creating and removing lab hosts, and repairing the parts that can be
//! repaired in place (links to h1, dnsmasq).

use std::fs;
use std::path::Path;

use super::config;
use super::daemon;
use super::error::LabError;
use super::layout::{BRIDGE, HostLayout};
use super::net;
use super::process::{self, NsId};

/// Creates host `host` from nothing: state directories, configuration,
/// namespace with `lo` and bridge, and its daemons. Does not wait for
/// libvirtd to answer.
pub fn create(host: &HostLayout) -> Result<(), LabError> {
    let step = format!("{}: create state directories", host.name());
    for (dir, _) in host.binds() {
        fs::create_dir_all(&dir).map_err(|e| LabError::io(&step, &dir, e))?;
    }
    let uuid_path = Path::new("/proc/sys/kernel/random/uuid");
    let uuid = fs::read_to_string(uuid_path)
        .map_err(|e| LabError::io(format!("{}: make host uuid", host.name()), uuid_path, e))?;
    config::prepare(host, uuid.trim())?;
    net::run_all(&format!("{}: create network", host.name()), &net::host_setup_commands(host))?;
    daemon::start_libvirt(host)
}

/// Stops every process of `hosts` (whatever runs in their namespaces, and
/// the daemons their pid files name even if their namespace is gone), deletes
/// their namespaces (and with them bridges, veths and taps) and removes their
/// state directories. Returns the pids it stopped.
pub fn remove(hosts: &[HostLayout]) -> Result<Vec<i32>, LabError> {
    let names = net::list_netns()?;
    // Never the machine's own namespace, whatever a stale pid file says.
    let forbidden: Vec<NsId> =
        ["/proc/self/ns/net", "/proc/1/ns/net"].iter().filter_map(|p| NsId::of(Path::new(p))).collect();
    let mut namespaces = Vec::new();
    for host in hosts {
        if names.contains(&host.netns())
            && let Some(ns) = NsId::of(&net::netns_path(&host.netns()))
        {
            namespaces.push(ns);
        }
        let daemons = [
            (host.libvirtd_pid_file(), "libvirtd"),
            (host.virtlogd_pid_file(), "virtlogd"),
            (host.dnsmasq_pid_file(), "dnsmasq"),
        ];
        for (pid_file, name) in daemons {
            if let Some(ns) = process::daemon_pid(&pid_file, None, name).and_then(NsId::of_pid) {
                namespaces.push(ns);
            }
        }
    }
    let mut unique: Vec<NsId> = Vec::new();
    for ns in namespaces {
        if !forbidden.contains(&ns) && !unique.contains(&ns) {
            unique.push(ns);
        }
    }
    let namespaces = unique;

    let pids = process::pids_in(&namespaces);
    let survivors = process::terminate(&pids);
    if !survivors.is_empty() {
        let names: Vec<String> = hosts.iter().map(HostLayout::name).collect();
        return Err(LabError::Survivors { host: names.join(","), pids: survivors });
    }

    for host in hosts {
        if names.contains(&host.netns()) {
            net::delete_netns(&host.netns())?;
        }
        remove_tree(&host.root)?;
    }
    Ok(pids)
}

/// Removes a directory tree, after making sure no mount point lies inside it
/// (in this process's mount namespace).
/// Removes `dir` if it is empty; one that is gone or still holds something
/// (another lab's hosts) is left as it is.
pub fn remove_dir_if_empty(step: &'static str, dir: &Path) -> Result<(), LabError> {
    match fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::DirectoryNotEmpty) => Ok(()),
        Err(e) => Err(LabError::io(step, dir, e)),
    }
}

pub fn remove_tree(dir: &Path) -> Result<(), LabError> {
    let mounts = mounts_under(dir);
    if !mounts.is_empty() {
        return Err(LabError::MountsRemain { path: dir.to_path_buf(), mounts });
    }
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LabError::io("remove lab directory", dir, e)),
    }
}

/// Mount points at or below `dir`, from `/proc/self/mountinfo`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mount_points(&info).into_iter().filter(|m| Path::new(m).starts_with(dir)).collect()
}

/// The mount points (fifth field, octal escapes undone) of a mountinfo text.
pub fn mount_points(mountinfo: &str) -> Vec<String> {
    mountinfo.lines().filter_map(|l| l.split(' ').nth(4)).map(unescape_octal).collect()
}

pub(super) fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1..i + 4).is_some_and(|d| d.iter().all(|c| (b'0'..=b'7').contains(c))) {
            let d = &b[i + 1..i + 4];
            out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Makes sure the veth pair between h1's bridge and `peer`'s bridge exists,
/// with both ends up ports of the bridges; recreates it otherwise.
pub fn ensure_link(h1: &HostLayout, peer: &HostLayout) -> Result<(), LabError> {
    let (a, b) = (h1.veth_to(peer.index), peer.veth_to(h1.index));
    let links1 = net::links(&h1.netns())?;
    let links_p = net::links(&peer.netns())?;
    let find = |links: &[net::Link], name: &str| links.iter().find(|l| l.name == name).cloned();
    let (end_a, end_b) = (find(&links1, &a), find(&links_p, &b));
    if end_a.as_ref().is_some_and(|l| l.is_port_of(BRIDGE)) && end_b.as_ref().is_some_and(|l| l.is_port_of(BRIDGE)) {
        return Ok(());
    }
    // Deleting one end of a veth deletes both.
    if end_a.is_some() {
        net::delete_link(&h1.netns(), &a)?;
    } else if end_b.is_some() {
        net::delete_link(&peer.netns(), &b)?;
    }
    net::run_all(&format!("link {} to {}", h1.name(), peer.name()), &net::link_commands(h1, peer))
}

/// Makes sure dnsmasq runs in h1's namespace.
pub fn ensure_dnsmasq(h1: &HostLayout) -> Result<(), LabError> {
    let ns = NsId::of(&net::netns_path(&h1.netns()));
    if process::daemon_pid(&h1.dnsmasq_pid_file(), ns, "dnsmasq").is_some() {
        return Ok(());
    }
    daemon::start_dnsmasq(h1).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_points_with_escapes() {
        let info = "\
22 1 0:21 / / rw,relatime - ext4 /dev/vda rw
35 22 0:30 / /var/tmp/my\\040lab/h1 rw - tmpfs tmpfs rw
36 22 0:31 / /run/netns/vs-lab-h1 rw - nsfs nsfs rw
";
        assert_eq!(mount_points(info), ["/", "/var/tmp/my lab/h1", "/run/netns/vs-lab-h1"]);
    }

    #[test]
    fn unescape_leaves_plain_backslashes() {
        assert_eq!(unescape_octal(r"a\134b"), r"a\b");
        assert_eq!(unescape_octal(r"a\9"), r"a\9");
        assert_eq!(unescape_octal(r"end\04"), r"end\04");
    }

    #[test]
    fn no_mounts_under_a_fresh_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(mounts_under(dir.path()).is_empty());
        assert!(!mounts_under(Path::new("/")).is_empty());
    }
}
