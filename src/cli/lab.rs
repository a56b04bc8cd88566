//! `virtsmoke lab up|down|status`: the KVM hosts (network namespaces) and the
//! nested Xen hosts, reported together.

use std::fmt;
use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};
use serde::Serialize;

use crate::exit;
use crate::lab::xen::{self, XenHostStatus};
use crate::lab::{self, LabOptions, LabStatus};

#[derive(Subcommand)]
pub enum LabCommand {
    /// Start the lab's hosts (harmless when already up): KVM hosts with
    /// `--hosts N` (the default, one host), nested Xen hosts with `--xen N`.
    Up(UpArgs),
    /// Stop the whole lab, KVM and Xen hosts, and remove every trace: daemons,
    /// guests, namespaces, bridges, nested hosts, overlays, keys, state.
    Down(CommonArgs),
    /// Show each lab host, KVM and Xen, and whether it is healthy.
    Status(CommonArgs),
}

#[derive(Args)]
pub struct CommonArgs {
    /// Where the lab keeps its state.
    #[arg(long, default_value = "/var/tmp/virtsmoke-lab")]
    dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(group(ArgGroup::new("xen_hosts").args(["xen", "dom0"]).multiple(true)))]
pub struct UpArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// How many KVM hosts (1-8). Default: 1, or none when only `--xen` is given.
    #[arg(long, value_name = "N")]
    hosts: Option<u32>,
    /// How many nested Xen hosts (1-4): Xen with a Debian dom0 under QEMU,
    /// dom0's SSH on 127.0.0.1:2220+N. Builds the dom0 image on first use.
    /// Default with --dom0: one host per suite.
    #[arg(long, value_name = "N")]
    xen: Option<u32>,
    /// The Debian suite of each Xen host's dom0, hence its Xen and libvirt
    /// build: bookworm (default; Xen 4.17, libvirt 9.0), trixie (4.20, 11.3),
    /// bullseye (4.14, 7.0). One for every host, or one per host in order
    /// (`--dom0 bookworm,trixie`). A host whose suite changes is restarted.
    #[arg(long, value_name = "SUITE[,SUITE...]", value_delimiter = ',')]
    dom0: Vec<String>,
    /// A directory of your own .deb packages (a rebuilt Xen or libvirt),
    /// installed in every Xen host's dom0 over its suite's packages
    /// (repeatable). The image is cached by the packages' names and contents:
    /// a changed package is a new image, and its hosts are restarted.
    /// `lab status` lists them as local packages.
    #[arg(long, value_name = "DIR", requires = "xen_hosts")]
    debs: Vec<PathBuf>,
}

/// Both kinds of lab host. JSON: the KVM lab's fields plus `xen`.
#[derive(Serialize)]
struct LabReport {
    #[serde(flatten)]
    kvm: LabStatus,
    xen: Vec<XenHostStatus>,
}

impl LabReport {
    /// There is a host, and every host is healthy.
    fn usable(&self) -> bool {
        let kvm = self.kvm.hosts.iter().map(|h| h.healthy);
        let xen = self.xen.iter().map(|h| h.healthy);
        let all: Vec<bool> = kvm.chain(xen).collect();
        !all.is_empty() && all.iter().all(|&h| h)
    }
}

#[derive(Debug, thiserror::Error)]
enum LabCommandError {
    #[error(transparent)]
    Kvm(Box<lab::LabError>),
    #[error(transparent)]
    Xen(Box<xen::XenLabError>),
}

impl From<lab::LabError> for LabCommandError {
    fn from(e: lab::LabError) -> Self {
        LabCommandError::Kvm(Box::new(e))
    }
}

impl From<xen::XenLabError> for LabCommandError {
    fn from(e: xen::XenLabError) -> Self {
        LabCommandError::Xen(Box::new(e))
    }
}

pub fn run(cmd: LabCommand) -> u8 {
    // `down` succeeds when everything is gone; it prints what was there.
    let (json, must_be_usable, result) = match cmd {
        LabCommand::Up(a) => (a.common.json, true, up(&a)),
        LabCommand::Down(a) => (a.json, false, down(&a)),
        LabCommand::Status(a) => (a.json, true, status(&a)),
    };
    match result {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                print!("{report}");
            }
            if !must_be_usable || report.usable() { exit::PASSED } else { exit::INFRASTRUCTURE }
        }
        Err(e) => {
            eprintln!("error: {}", crate::error_chain(&e));
            exit::INFRASTRUCTURE
        }
    }
}

fn options(dir: &std::path::Path, hosts: u32) -> LabOptions {
    LabOptions { dir: dir.to_path_buf(), hosts }
}

fn up(a: &UpArgs) -> Result<LabReport, LabCommandError> {
    let dir = &a.common.dir;
    // Checked (and hashed) before any host starts.
    let local = match a.debs.as_slice() {
        [] => Vec::new(),
        dirs => xen::debs::collect(dirs).map_err(xen::XenLabError::Options)?,
    };
    let xen_hosts = a.xen.or((!a.dom0.is_empty()).then_some(a.dom0.len() as u32));
    let kvm_hosts = match (a.hosts, xen_hosts) {
        (Some(n), _) => Some(n),
        (None, None) => Some(1),
        (None, Some(_)) => None,
    };
    let kvm = match kvm_hosts {
        Some(n) => lab::up(&options(dir, n))?,
        None => lab::status_found(dir)?,
    };
    let xen = match xen_hosts {
        Some(n) => xen::up(dir, n, &a.dom0, &local)?,
        None => xen::status(dir)?,
    };
    Ok(LabReport { kvm, xen })
}

fn down(a: &CommonArgs) -> Result<LabReport, LabCommandError> {
    // Both, even when the first fails: `down` must leave nothing it can remove.
    let kvm = lab::down(&options(&a.dir, 1));
    let xen = xen::down(&a.dir);
    Ok(LabReport { kvm: kvm?, xen: xen? })
}

fn status(a: &CommonArgs) -> Result<LabReport, LabCommandError> {
    Ok(LabReport { kvm: lab::status_found(&a.dir)?, xen: xen::status(&a.dir)? })
}

impl fmt::Display for LabReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.kvm.hosts.is_empty() || self.xen.is_empty() {
            write!(f, "{}", self.kvm)?;
        }
        if self.xen.is_empty() {
            return Ok(());
        }
        let healthy = self.xen.iter().filter(|h| h.healthy).count();
        writeln!(
            f,
            "xen lab: {} host{}, {healthy} healthy",
            self.xen.len(),
            if self.xen.len() == 1 { "" } else { "s" }
        )?;
        for h in &self.xen {
            let pid = h.qemu_pid.map_or_else(|| "-".to_string(), |p| p.to_string());
            let build = h.dom0.as_ref().map_or_else(|| "build unknown".to_string(), |b| b.summary());
            writeln!(
                f,
                "{}  qemu {pid}  ssh {}  healthy {}  {build}  {}",
                h.name,
                h.ssh,
                if h.healthy { "yes" } else { "no" },
                h.uri
            )?;
        }
        for h in &self.xen {
            for p in &h.problems {
                writeln!(f, "{}: {p}", h.name)?;
            }
        }
        Ok(())
    }
}
