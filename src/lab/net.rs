//! The lab's network, all of it inside the hosts' network namespaces: `lo`, the
//! bridge with the host's address, and the veth pairs that join every host's
//! bridge to h1's into one L2 segment. Nothing is ever created in the root
//! namespace: a veth is created in h1's namespace with its peer placed
//! directly into the other host's.

use std::path::Path;

use serde::Deserialize;

use super::command::{self, QUICK};
use super::error::LabError;
use super::layout::{BRIDGE, HostLayout};

/// Names of the network namespaces `ip netns list` shows.
pub fn list_netns() -> Result<Vec<String>, LabError> {
    let out = command::run("list network namespaces", &mut command::command(&["ip", "netns", "list"]), QUICK)?;
    Ok(parse_netns_list(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses `ip netns list`: one namespace a line, `name` or `name (id: N)`.
pub fn parse_netns_list(text: &str) -> Vec<String> {
    text.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect()
}

/// The file `ip netns` keeps a namespace alive with.
pub fn netns_path(name: &str) -> std::path::PathBuf {
    Path::new("/run/netns").join(name)
}

/// `ip` argument vectors that create host N's namespace, `lo` and bridge.
pub fn host_setup_commands(host: &HostLayout) -> Vec<Vec<String>> {
    let ns = host.netns();
    let ipn = |rest: &[&str]| -> Vec<String> {
        ["ip", "-n", ns.as_str()].iter().chain(rest).map(|s| s.to_string()).collect()
    };
    let address = host.address();
    let mac = host.bridge_mac();
    vec![
        vec!["ip".into(), "netns".into(), "add".into(), ns.clone()],
        ipn(&["link", "set", "lo", "up"]),
        // A fixed MAC (see `HostLayout::bridge_mac`); no STP and no
        // forwarding delay, so a new port (a guest's tap, a veth) forwards at
        // once.
        ipn(&[
            "link",
            "add",
            BRIDGE,
            "address",
            mac.as_str(),
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ]),
        ipn(&["addr", "add", address.as_str(), "dev", BRIDGE]),
        ipn(&["link", "set", BRIDGE, "up"]),
    ]
}

/// `ip` argument vectors that join host `peer`'s bridge to `h1`'s bridge.
pub fn link_commands(h1: &HostLayout, peer: &HostLayout) -> Vec<Vec<String>> {
    let (a, b) = (h1.veth_to(peer.index), peer.veth_to(h1.index));
    let (ns1, nsp) = (h1.netns(), peer.netns());
    let v = |args: &[&str]| args.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        v(&["ip", "-n", &ns1, "link", "add", &a, "type", "veth", "peer", "name", &b, "netns", &nsp]),
        v(&["ip", "-n", &ns1, "link", "set", &a, "master", BRIDGE, "up"]),
        v(&["ip", "-n", &nsp, "link", "set", &b, "master", BRIDGE, "up"]),
    ]
}

/// Runs `ip` argument vectors in order.
pub fn run_all(step: &str, commands: &[Vec<String>]) -> Result<(), LabError> {
    for argv in commands {
        command::run(step, &mut command::command(argv), QUICK)?;
    }
    Ok(())
}

/// One interface in a namespace, as `ip -j addr show` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Link {
    #[serde(rename = "ifname")]
    pub name: String,
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub master: Option<String>,
    /// The MAC address.
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub addr_info: Vec<AddrInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AddrInfo {
    pub family: String,
    pub local: String,
    pub prefixlen: u8,
}

impl Link {
    /// Administratively up.
    pub fn is_up(&self) -> bool {
        self.flags.iter().any(|f| f == "UP")
    }

    /// Has `address` (`a.b.c.d/len`).
    pub fn has_address(&self, address: &str) -> bool {
        self.addr_info.iter().any(|a| format!("{}/{}", a.local, a.prefixlen) == address)
    }

    /// A port of `bridge` and up.
    pub fn is_port_of(&self, bridge: &str) -> bool {
        self.is_up() && self.master.as_deref() == Some(bridge)
    }
}

/// The interfaces in namespace `ns`.
pub fn links(ns: &str) -> Result<Vec<Link>, LabError> {
    let step = format!("list interfaces in {ns}");
    let mut cmd = command::command(&["ip", "-j", "-n", ns, "addr", "show"]);
    let out = command::run(&step, &mut cmd, QUICK)?;
    parse_links(&out.stdout).map_err(|e| LabError::Parse {
        step,
        command: command::describe(&cmd),
        detail: e.to_string(),
    })
}

pub fn parse_links(json: &[u8]) -> Result<Vec<Link>, serde_json::Error> {
    serde_json::from_slice(json)
}

/// Deletes interface `name` in `ns` (for a veth, both ends go).
pub fn delete_link(ns: &str, name: &str) -> Result<(), LabError> {
    command::run(
        &format!("delete {name} in {ns}"),
        &mut command::command(&["ip", "-n", ns, "link", "del", name]),
        QUICK,
    )
    .map(drop)
}

/// Deletes namespace `ns` and with it every interface in it.
pub fn delete_netns(ns: &str) -> Result<(), LabError> {
    command::run(&format!("delete network namespace {ns}"), &mut command::command(&["ip", "netns", "del", ns]), QUICK)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netns_list_with_and_without_ids() {
        assert_eq!(
            parse_netns_list("vs-lab-h2 (id: 1)\nvs-lab-h1 (id: 0)\nother\n\n"),
            ["vs-lab-h2", "vs-lab-h1", "other"]
        );
        assert!(parse_netns_list("").is_empty());
    }

    #[test]
    fn host_setup_never_leaves_the_namespace() {
        let h = HostLayout::new(Path::new("/lab"), 2);
        let cmds = host_setup_commands(&h);
        assert_eq!(cmds[0], ["ip", "netns", "add", "vs-lab-h2"]);
        for c in &cmds[1..] {
            assert_eq!(&c[..3], ["ip", "-n", "vs-lab-h2"], "{c:?}");
        }
        assert_eq!(
            cmds[2].join(" "),
            "ip -n vs-lab-h2 link add vsbr0 address 02:76:73:6c:00:02 type bridge stp_state 0 forward_delay 0"
        );
        assert_eq!(cmds[3], ["ip", "-n", "vs-lab-h2", "addr", "add", "10.77.0.2/24", "dev", "vsbr0"]);
    }

    #[test]
    fn veth_is_born_in_h1_with_peer_in_the_other_namespace() {
        let lab = Path::new("/lab");
        let cmds = link_commands(&HostLayout::new(lab, 1), &HostLayout::new(lab, 3));
        assert_eq!(cmds[0].join(" "), "ip -n vs-lab-h1 link add vs-h1-3 type veth peer name vs-h3-1 netns vs-lab-h3");
        assert_eq!(cmds[1].join(" "), "ip -n vs-lab-h1 link set vs-h1-3 master vsbr0 up");
        assert_eq!(cmds[2].join(" "), "ip -n vs-lab-h3 link set vs-h3-1 master vsbr0 up");
    }

    #[test]
    fn parses_ip_json() {
        let json = br#"[{"ifindex":2,"ifname":"vsbr0","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"mtu":1500,"address":"02:76:73:6c:00:01","operstate":"DOWN","addr_info":[{"family":"inet","local":"10.77.0.1","prefixlen":24,"scope":"global"}]},
            {"ifindex":4,"link":"vs-b","ifname":"vs-h1-2","flags":["BROADCAST","UP","M-DOWN"],"master":"vsbr0","operstate":"LOWERLAYERDOWN","addr_info":[]},
            {"ifindex":5,"ifname":"vs-h1-3","flags":["BROADCAST"],"master":"vsbr0","addr_info":[]}]"#;
        let links = parse_links(json).unwrap();
        assert_eq!(links.len(), 3);
        assert!(links[0].is_up() && links[0].has_address("10.77.0.1/24"));
        assert_eq!(links[0].address.as_deref(), Some("02:76:73:6c:00:01"));
        assert!(!links[0].has_address("10.77.0.2/24"));
        assert!(links[1].is_port_of("vsbr0"));
        assert!(!links[2].is_port_of("vsbr0"), "down port");
    }
}
