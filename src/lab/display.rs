//! The human-readable table of a lab's status.

use std::fmt;

use super::{LabHostStatus, LabStatus};

impl fmt::Display for LabStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hosts.is_empty() {
            return writeln!(f, "lab {}: no hosts", self.dir.display());
        }
        let healthy = self.hosts.iter().filter(|h| h.healthy).count();
        writeln!(
            f,
            "lab {}: {} host{}, {healthy} healthy",
            self.dir.display(),
            self.hosts.len(),
            if self.hosts.len() == 1 { "" } else { "s" },
        )?;
        let header = ["HOST", "NETNS", "ADDRESS", "LIBVIRTD", "VIRTLOGD", "DNSMASQ", "HEALTHY", "URI"];
        let rows: Vec<[String; 8]> = self.hosts.iter().map(row).collect();
        let mut widths = header.map(str::len);
        for r in &rows {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.len());
            }
        }
        write_row(f, &header.map(String::from), &widths)?;
        for r in &rows {
            write_row(f, r, &widths)?;
        }
        for h in &self.hosts {
            for p in &h.problems {
                writeln!(f, "{}: {p}", h.name)?;
            }
            if let Some(leases) = &h.leases {
                writeln!(f, "{}: dhcp leases in {}", h.name, leases.display())?;
            }
        }
        Ok(())
    }
}

fn row(h: &LabHostStatus) -> [String; 8] {
    let pid = |p: Option<i32>| p.map_or_else(|| "-".to_string(), |p| p.to_string());
    [
        h.name.clone(),
        h.netns.clone(),
        h.address.clone(),
        pid(h.libvirtd_pid),
        pid(h.virtlogd_pid),
        pid(h.dnsmasq_pid),
        if h.healthy { "yes" } else { "no" }.to_string(),
        h.uri.clone(),
    ]
}

fn write_row(f: &mut fmt::Formatter<'_>, cells: &[String; 8], widths: &[usize; 8]) -> fmt::Result {
    let mut line = String::new();
    for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
        if i + 1 == cells.len() {
            line.push_str(cell);
        } else {
            line.push_str(&format!("{cell:<w$}  "));
        }
    }
    writeln!(f, "{}", line.trim_end())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn host(n: u32, healthy: bool) -> LabHostStatus {
        LabHostStatus {
            name: format!("h{n}"),
            netns: format!("vs-lab-h{n}"),
            uri: format!("qemu+unix:///system?socket=/lab/h{n}/run/libvirt-sock"),
            bridge: "vsbr0".into(),
            address: format!("10.77.0.{n}/24"),
            libvirtd_pid: healthy.then_some(100 + n as i32),
            virtlogd_pid: healthy.then_some(200 + n as i32),
            dnsmasq_pid: (n == 1).then_some(300),
            leases: (n == 1).then(|| PathBuf::from("/lab/h1/dnsmasq.leases")),
            healthy,
            problems: if healthy { vec![] } else { vec!["libvirtd is not running".into()] },
        }
    }

    #[test]
    fn table() {
        let status = LabStatus { dir: "/lab".into(), hosts: vec![host(1, true), host(2, false)] };
        let expected = "\
lab /lab: 2 hosts, 1 healthy
HOST  NETNS      ADDRESS       LIBVIRTD  VIRTLOGD  DNSMASQ  HEALTHY  URI
h1    vs-lab-h1  10.77.0.1/24  101       201       300      yes      qemu+unix:///system?socket=/lab/h1/run/libvirt-sock
h2    vs-lab-h2  10.77.0.2/24  -         -         -        no       qemu+unix:///system?socket=/lab/h2/run/libvirt-sock
h1: dhcp leases in /lab/h1/dnsmasq.leases
h2: libvirtd is not running
";
        assert_eq!(status.to_string(), expected);
    }

    #[test]
    fn empty_lab() {
        let status = LabStatus { dir: "/lab".into(), hosts: vec![] };
        assert_eq!(status.to_string(), "lab /lab: no hosts\n");
    }
}
