//! Names, paths, ports and URIs of the Xen lab. Pure: nothing here touches
//! the system.

use std::path::{Path, PathBuf};

/// Most hosts a Xen lab can have (each takes `qemu::HOST_MEMORY_MIB`).
pub const MAX_HOSTS: u32 = 4;
/// Host N's dom0 SSH is forwarded from `127.0.0.1:(PORT_BASE + N)`.
pub const PORT_BASE: u16 = 2220;
/// Host N listens on `127.0.0.1:(LINK_PORT_BASE + N)` for host N+1's link
/// (QEMU socket netdevs): the hosts' guest bridges form one layer-2 segment.
pub const LINK_PORT_BASE: u16 = 2240;
/// The guests' bridge in every dom0 (see `images/xen-dom0/`). All hosts'
/// bridges are one segment, `10.88.0.0/16`: host N's dom0 is `10.88.0.N`
/// and its DHCP server hands out `10.88.N.10`-`10.88.N.250`.
pub const BRIDGE: &str = "xenbr0";
/// Unix socket paths must fit in `sun_path`.
const SOCKET_PATH_MAX: usize = 107;

/// `DIR/xen`: the lab's key pair and one directory per host.
pub fn lab_root(dir: &Path) -> PathBuf {
    dir.join("xen")
}

/// The private key that logs in to every dom0 as root.
pub fn key(dir: &Path) -> PathBuf {
    lab_root(dir).join("id_ed25519")
}

/// Its public half, passed to dom0 on its kernel command line.
pub fn public_key(dir: &Path) -> PathBuf {
    lab_root(dir).join("id_ed25519.pub")
}

/// dom0s' SSH host keys, recorded at `lab up` (see `known_hosts.rs`): the
/// `known_hosts` of the scenarios' jump hosts.
pub fn known_hosts(dir: &Path) -> PathBuf {
    lab_root(dir).join("known_hosts")
}

/// Where host N of a lab in `DIR` keeps its state, and how it is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XenHostLayout {
    pub index: u32,
    /// `DIR/xen`
    pub lab: PathBuf,
    /// `DIR/xen/xenN`
    pub root: PathBuf,
}

impl XenHostLayout {
    pub fn new(dir: &Path, index: u32) -> Self {
        let lab = lab_root(dir);
        XenHostLayout { index, root: lab.join(format!("xen{index}")), lab }
    }

    /// `xenN`: also dom0's host name.
    pub fn name(&self) -> String {
        format!("xen{}", self.index)
    }

    pub fn port(&self) -> u16 {
        PORT_BASE + self.index as u16
    }

    /// `127.0.0.1:PORT`
    pub fn ssh_address(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }

    pub fn key(&self) -> PathBuf {
        self.lab.join("id_ed25519")
    }

    /// The lab's known_hosts file (one for all its hosts).
    pub fn known_hosts(&self) -> PathBuf {
        self.lab.join("known_hosts")
    }

    /// `xen+ssh://root@127.0.0.1:PORT/system?keyfile=KEY&no_tty=1`: libvirt runs
    /// `ssh`, which checks dom0's key against `~/.ssh/known_hosts` (recorded
    /// there at `lab up`); `no_tty=1` makes it `BatchMode=yes`, so a key it
    /// does not know fails at once instead of asking on a terminal.
    pub fn uri(&self) -> String {
        format!("xen+ssh://root@127.0.0.1:{}/system?keyfile={}&no_tty=1", self.port(), self.key().display())
    }

    /// The qcow2 overlay dom0 runs on (its backing file is the built image's
    /// `dom0.qcow2`).
    pub fn overlay(&self) -> PathBuf {
        self.root.join("dom0.qcow2")
    }
    pub fn serial_log(&self) -> PathBuf {
        self.root.join("serial.log")
    }
    /// The serial console as a socket (`socat - UNIX:PATH` to type into it).
    pub fn serial_socket(&self) -> PathBuf {
        self.root.join("serial.sock")
    }
    pub fn monitor_socket(&self) -> PathBuf {
        self.root.join("monitor.sock")
    }
    pub fn pid_file(&self) -> PathBuf {
        self.root.join("qemu.pid")
    }
    /// What QEMU printed while starting (before it daemonized).
    pub fn qemu_log(&self) -> PathBuf {
        self.root.join("qemu.log")
    }
    /// What this host was started from: the dom0 image's directory and the
    /// lab's public key, one a line.
    pub fn started_from(&self) -> PathBuf {
        self.root.join("started-from")
    }

    /// MAC address of dom0's `xenbr0` (locally administered, "xen", N): two
    /// hosts from one image must not share it.
    pub fn bridge_mac(&self) -> String {
        format!("02:78:65:6e:00:{:02x}", self.index)
    }

    /// dom0's address on the guests' bridge: `10.88.0.N/16`.
    pub fn bridge_address(&self) -> String {
        format!("10.88.0.{}/16", self.index)
    }

    /// The first and last address dom0's DHCP server hands out.
    pub fn dhcp_range(&self) -> (String, String) {
        (format!("10.88.{}.10", self.index), format!("10.88.{}.250", self.index))
    }

    /// The port this host listens on for the next host's link.
    pub fn link_port(&self) -> u16 {
        LINK_PORT_BASE + self.index as u16
    }

    /// The port of the previous host's link this host connects to (none for `xen1`).
    pub fn uplink_port(&self) -> Option<u16> {
        (self.index > 1).then(|| LINK_PORT_BASE + self.index as u16 - 1)
    }

    /// MAC address of the link NIC `k` (1: to the next host, 2: to the previous).
    pub fn link_mac(&self, k: u8) -> String {
        format!("02:78:65:6e:{:02x}:{k:02x}", self.index)
    }

    /// The machine's SMBIOS UUID (libvirt's host UUID): distinct per host, or
    /// libvirt refuses a migration "to the same host".
    pub fn uuid(&self) -> String {
        format!("6c61622d-7865-6e00-8000-{:012x}", self.index)
    }
}

/// Every lab host's name and bridge address (`xen1`, `10.88.0.1`), for dom0's
/// `/etc/hosts`: libxl's migration stream goes to the target's host name.
pub fn peers() -> Vec<(String, String)> {
    (1..=MAX_HOSTS).map(|n| (format!("xen{n}"), format!("10.88.0.{n}"))).collect()
}

/// The host number of a host directory name (`xen3` → 3).
pub fn host_of_dir(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("xen")?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Checks the lab directory and host count. The directory ends up in URIs,
/// QEMU options (where `,` and spaces are separators) and unix socket paths.
pub fn validate(dir: &Path, count: u32) -> Result<(), String> {
    if !(1..=MAX_HOSTS).contains(&count) {
        return Err(format!("hosts must be between 1 and {MAX_HOSTS}, not {count}"));
    }
    let text = dir.to_str().unwrap_or("");
    let plain = text.starts_with('/')
        && text.len() > 1
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
        && !text.split('/').any(|part| part == "." || part == "..");
    if !plain {
        return Err(format!(
            "dir must be an absolute path of letters, digits and '/._-' without '.' or '..' parts, not {dir:?}"
        ));
    }
    let socket = XenHostLayout::new(dir, MAX_HOSTS).monitor_socket();
    if socket.as_os_str().len() > SOCKET_PATH_MAX {
        return Err(format!("dir is too long: the socket path {} exceeds {SOCKET_PATH_MAX} bytes", socket.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_and_uri() {
        let h = XenHostLayout::new(Path::new("/var/tmp/virtsmoke-lab"), 2);
        assert_eq!(h.name(), "xen2");
        assert_eq!(h.port(), 2222);
        assert_eq!(h.ssh_address(), "127.0.0.1:2222");
        assert_eq!(
            h.uri(),
            "xen+ssh://root@127.0.0.1:2222/system?keyfile=/var/tmp/virtsmoke-lab/xen/id_ed25519&no_tty=1"
        );
        assert_eq!(h.overlay(), Path::new("/var/tmp/virtsmoke-lab/xen/xen2/dom0.qcow2"));
        assert_eq!(h.key(), key(Path::new("/var/tmp/virtsmoke-lab")));
        assert_eq!(h.bridge_mac(), "02:78:65:6e:00:02");
        assert_eq!(h.bridge_address(), "10.88.0.2/16");
        assert_eq!(h.dhcp_range(), ("10.88.2.10".to_string(), "10.88.2.250".to_string()));
        assert_eq!((h.link_port(), h.uplink_port()), (2242, Some(2241)));
        assert_eq!(XenHostLayout::new(Path::new("/l"), 1).uplink_port(), None);
        assert_eq!(h.link_mac(1), "02:78:65:6e:02:01");
        assert_ne!(h.uuid(), XenHostLayout::new(Path::new("/l"), 1).uuid());
        assert_eq!(peers()[3], ("xen4".to_string(), "10.88.0.4".to_string()));
    }

    #[test]
    fn host_numbers_from_directory_names() {
        assert_eq!(host_of_dir("xen1"), Some(1));
        assert_eq!(host_of_dir("xen12"), Some(12));
        for bad in ["xen", "xen0", "xen01", "xenx", "h1", "id_ed25519"] {
            assert_eq!(host_of_dir(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_options_and_their_messages() {
        let long = format!("/{}", "a".repeat(90));
        let cases = [
            ("/lab", 0, "hosts must be between 1 and 4, not 0".to_string()),
            ("/lab", 5, "hosts must be between 1 and 4, not 5".to_string()),
            (
                "lab",
                1,
                "dir must be an absolute path of letters, digits and '/._-' without '.' or '..' parts, not \"lab\"".to_string(),
            ),
            (
                "/var/tmp/a,b",
                1,
                "dir must be an absolute path of letters, digits and '/._-' without '.' or '..' parts, not \"/var/tmp/a,b\"".to_string(),
            ),
            (
                &long,
                1,
                format!("dir is too long: the socket path {long}/xen/xen4/monitor.sock exceeds 107 bytes"),
            ),
        ];
        for (dir, count, msg) in cases {
            assert_eq!(validate(Path::new(dir), count).unwrap_err(), msg);
        }
        validate(Path::new("/var/tmp/virtsmoke-lab"), 1).unwrap();
    }
}
