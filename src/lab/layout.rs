//! Names and paths of one lab host. Pure: nothing here touches the system.

use std::path::{Path, PathBuf};

/// Network namespaces of lab hosts are this prefix plus the host number.
pub const NETNS_PREFIX: &str = "vs-lab-h";
/// The bridge in every host's namespace.
pub const BRIDGE: &str = "vsbr0";
/// Host N's bridge has address `SUBNET.N/24`; DHCP hands out `.100`–`.199`.
pub const SUBNET: &str = "10.77.0";
/// DNS domain served by the lab's dnsmasq.
pub const DOMAIN: &str = "lab.virtsmoke.test";
/// Most hosts a lab can have.
pub const MAX_HOSTS: u32 = 8;

/// Where one lab host keeps its state, and how it is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLayout {
    pub index: u32,
    /// `DIR/hN`
    pub root: PathBuf,
}

impl HostLayout {
    pub fn new(lab_dir: &Path, index: u32) -> Self {
        HostLayout { index, root: lab_dir.join(format!("h{index}")) }
    }

    /// `hN`
    pub fn name(&self) -> String {
        format!("h{}", self.index)
    }

    /// `vs-lab-hN`
    pub fn netns(&self) -> String {
        format!("{NETNS_PREFIX}{}", self.index)
    }

    /// The host name libvirtd sees in its UTS namespace: same as the netns.
    pub fn hostname(&self) -> String {
        self.netns()
    }

    pub fn etc(&self) -> PathBuf {
        self.root.join("etc")
    }
    pub fn run(&self) -> PathBuf {
        self.root.join("run")
    }
    pub fn lib(&self) -> PathBuf {
        self.root.join("lib")
    }
    pub fn log(&self) -> PathBuf {
        self.root.join("log")
    }
    pub fn cache(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// The state directories and where each is bind-mounted for the daemons.
    pub fn binds(&self) -> [(PathBuf, &'static str); 5] {
        [
            (self.run(), "/run/libvirt"),
            (self.lib(), "/var/lib/libvirt"),
            (self.etc(), "/etc/libvirt"),
            (self.log(), "/var/log/libvirt"),
            (self.cache(), "/var/cache/libvirt"),
        ]
    }

    /// The `/etc/hosts` the daemons see: every lab host's name and address.
    pub fn hosts_file(&self) -> PathBuf {
        self.root.join("hosts")
    }

    pub fn socket(&self) -> PathBuf {
        self.run().join("libvirt-sock")
    }

    pub fn uri(&self) -> String {
        format!("qemu+unix:///system?socket={}", self.socket().display())
    }

    pub fn libvirtd_pid_file(&self) -> PathBuf {
        self.run().join("libvirtd.pid")
    }
    pub fn virtlogd_pid_file(&self) -> PathBuf {
        self.run().join("virtlogd.pid")
    }
    pub fn libvirtd_log(&self) -> PathBuf {
        self.log().join("libvirtd.log")
    }
    /// Output of the commands that start this host's daemons.
    pub fn start_log(&self) -> PathBuf {
        self.log().join("lab-start.log")
    }

    pub fn dnsmasq_pid_file(&self) -> PathBuf {
        self.root.join("dnsmasq.pid")
    }
    pub fn dnsmasq_leases(&self) -> PathBuf {
        self.root.join("dnsmasq.leases")
    }
    pub fn dnsmasq_log(&self) -> PathBuf {
        self.root.join("dnsmasq.log")
    }

    /// `10.77.0.N`
    pub fn ip(&self) -> String {
        format!("{SUBNET}.{}", self.index)
    }

    /// `10.77.0.N/24`
    pub fn address(&self) -> String {
        format!("{}/24", self.ip())
    }

    /// The bridge's fixed MAC address (locally administered). Without one, a
    /// Linux bridge takes the lowest MAC of its ports and changes it whenever
    /// a port comes or goes (a guest's tap during a migration, say), and the
    /// other hosts' ARP entries for this host go stale.
    pub fn bridge_mac(&self) -> String {
        format!("02:76:73:6c:00:{:02x}", self.index)
    }

    /// The veth end in this host's namespace that leads to host `peer`.
    pub fn veth_to(&self, peer: u32) -> String {
        format!("vs-h{}-{peer}", self.index)
    }
}

/// `DIR/shared`: images and disks every host sees under the same path.
pub fn shared_dir(lab_dir: &Path) -> PathBuf {
    lab_dir.join("shared")
}

/// The host number of a lab namespace name (`vs-lab-h3` → 3).
pub fn host_of_netns(name: &str) -> Option<u32> {
    parse_index(name.strip_prefix(NETNS_PREFIX)?)
}

/// The host number of a lab state directory name (`h3` → 3).
pub fn host_of_dir(name: &str) -> Option<u32> {
    parse_index(name.strip_prefix('h')?)
}

fn parse_index(digits: &str) -> Option<u32> {
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        let h = HostLayout::new(Path::new("/var/tmp/virtsmoke-lab"), 2);
        assert_eq!(h.name(), "h2");
        assert_eq!(h.netns(), "vs-lab-h2");
        assert_eq!(h.hostname(), "vs-lab-h2");
        assert_eq!(h.address(), "10.77.0.2/24");
        assert_eq!(h.uri(), "qemu+unix:///system?socket=/var/tmp/virtsmoke-lab/h2/run/libvirt-sock");
        assert_eq!(h.libvirtd_pid_file(), Path::new("/var/tmp/virtsmoke-lab/h2/run/libvirtd.pid"));
        assert_eq!(h.veth_to(1), "vs-h2-1");
        assert_eq!(h.bridge_mac(), "02:76:73:6c:00:02");
        assert_eq!(HostLayout::new(Path::new("/x"), 1).veth_to(8), "vs-h1-8");
    }

    #[test]
    fn host_numbers_from_names() {
        assert_eq!(host_of_netns("vs-lab-h1"), Some(1));
        assert_eq!(host_of_netns("vs-lab-h12"), Some(12));
        for bad in ["vs-lab-h", "vs-lab-h0", "vs-lab-h01", "vs-lab-hx", "vs-lab-h1a", "other"] {
            assert_eq!(host_of_netns(bad), None, "{bad}");
        }
        assert_eq!(host_of_dir("h3"), Some(3));
        assert_eq!(host_of_dir("shared"), None);
        assert_eq!(host_of_dir("h"), None);
    }
}
