//! The resolved run plan: what the scenario layer hands to the runner.
//!
//! Everything here is already validated: references between hosts, images and
//! guests are resolved, defaults are filled in, and the matrix is expanded into
//! cases with stable names. Nothing in this module talks to a host.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// Which hypervisor family a host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hypervisor {
    Kvm,
    Xen,
}

/// The libvirt domain type to use on a KVM/QEMU host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccelPreference {
    /// Probe the host: `kvm` when a KVM guest can really boot there, `qemu` (TCG) otherwise.
    Auto,
    Kvm,
    /// Software emulation (TCG).
    Qemu,
}

/// How a guest is virtualised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuestKind {
    Kvm,
    XenPv,
    XenPvh,
    XenPvhvm,
    XenHvm,
}

impl GuestKind {
    pub const ALL: [GuestKind; 5] =
        [GuestKind::Kvm, GuestKind::XenPv, GuestKind::XenPvh, GuestKind::XenPvhvm, GuestKind::XenHvm];

    pub fn as_str(self) -> &'static str {
        match self {
            GuestKind::Kvm => "kvm",
            GuestKind::XenPv => "xen-pv",
            GuestKind::XenPvh => "xen-pvh",
            GuestKind::XenPvhvm => "xen-pvhvm",
            GuestKind::XenHvm => "xen-hvm",
        }
    }

    pub fn parse(s: &str) -> Option<GuestKind> {
        GuestKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn hypervisor(self) -> Hypervisor {
        match self {
            GuestKind::Kvm => Hypervisor::Kvm,
            _ => Hypervisor::Xen,
        }
    }
}

impl std::fmt::Display for GuestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Limits the scheduler respects on one host (lock files here, the host's own account: runner/admission.rs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capacity {
    pub guests: u32,
    pub memory_mib: u64,
    /// What a case does when the host says it is full.
    pub when_full: WhenFull,
}

/// What a case does when its host has no room for it: wait (up to `up_to`, then an error), or skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "policy")]
pub enum WhenFull {
    Wait {
        #[serde(with = "humantime_secs")]
        up_to: Duration,
    },
    Skip,
}

impl WhenFull {
    pub const DEFAULT: WhenFull = WhenFull::Wait { up_to: Duration::from_secs(1800) };
}

/// A libvirt host the run may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostSpec {
    /// The key under `hosts:` in the scenario.
    pub name: String,
    pub uri: String,
    pub hypervisor: Hypervisor,
    pub accel: AccelPreference,
    /// Guests of this host are reached from inside this network namespace
    /// (the lab host's), instead of from the root namespace.
    pub netns: Option<String>,
    /// The bridge guests' NICs join on the host.
    pub bridge: String,
    pub capacity: Capacity,
    pub roles: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// An SSH server on the host through which its guests are reached (a Xen dom0,
    /// a host whose guests sit on a private bridge).
    pub jump: Option<JumpSpec>,
}

/// How to log in to a host to reach the guests behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JumpSpec {
    /// `HOST:PORT`.
    pub address: String,
    pub user: String,
    pub key: PathBuf,
    /// Which SSH host key the jump host must offer before virtsmoke logs in.
    pub host_key: JumpHostKey,
}

/// What a jump host's SSH host key must be (`known_hosts:`, `host_key:` or
/// `insecure_host_key: true` in the scenario).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JumpHostKey {
    /// The key an OpenSSH `known_hosts` file on this machine records for the address.
    KnownHosts(PathBuf),
    /// A pinned fingerprint, `SHA256:` and 43 base64 characters (as `ssh-keygen -l` prints it).
    Sha256(String),
    /// Any key: the scenario said `insecure_host_key: true`.
    Insecure,
}

/// Where a guest's bootable bits come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "source")]
pub enum ImageSpec {
    /// An image whose recipe ships with virtsmoke (under `images/NAME`), built and cached on first use.
    Builtin { name: String },
    /// Files already on the host: direct kernel boot, optionally with a disk.
    Files { kernel: Option<PathBuf>, initrd: Option<PathBuf>, disk: Option<PathBuf> },
}

/// An image as named in the scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    pub name: String,
    pub spec: ImageSpec,
    /// Appended to the kernel command line virtsmoke builds.
    pub cmdline: Option<String>,
    /// A full distribution booted from a disk image (a `disk`, or a builtin
    /// recipe that makes one). Each guest runs on its own qcow2 overlay, and the
    /// boot chain adds `boot.systemd` (and `boot.cloud-init` with a seed).
    pub from_disk: bool,
    /// What the console shows once the guest has booted far enough: the test
    /// image's marker, a `login:` prompt for disk images.
    pub marker: String,
    /// How the run's key and the guest's name reach a guest that does not
    /// read virtsmoke's kernel parameters.
    pub seed: SeedKind,
    /// Extra cloud-config merged into the seed's user-data (a YAML mapping).
    pub cloud_config: Option<String>,
    /// The user SSH logs in as.
    pub user: String,
    /// A private key on this machine that logs in to the image's guests (a
    /// key baked into the image), instead of the run's own key.
    pub ssh_key: Option<std::path::PathBuf>,
    /// `systemctl is-system-running` may say `degraded` (failed units are still reported).
    pub allow_degraded: bool,
    /// cloud-init modules that may fail (`cloud_init: { allow_failed_modules }`):
    /// `boot.cloud-init` passes when every failure is in one of them, and says so.
    pub cloud_init_allowed_failures: Vec<String>,
    /// `builtin: test-image` with `kernel:`: this kernel (a file on this
    /// machine, copied to remote hosts like the image) instead of the test
    /// image's own, booted with the test image's initramfs.
    pub own_kernel: Option<std::path::PathBuf>,
    /// Who loads the kernel.
    pub boot: Boot,
    /// The image's files are on this machine and go to a remote host as
    /// checked copies, once per run (`copy: true`); otherwise they are paths
    /// on the host.
    pub copy: bool,
}

impl Image {
    /// Whether the image's files are on the machine running virtsmoke (a
    /// builtin image is built here), so that a remote host needs copies.
    pub fn files_are_here(&self) -> bool {
        self.copy || matches!(self.spec, ImageSpec::Builtin { .. })
    }
}

/// Who loads a guest's kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Boot {
    /// virtsmoke hands the image's kernel and initramfs to the hypervisor
    /// (direct kernel boot), with its own command line.
    Kernel,
    /// The disk's own boot loader: the BIOS or UEFI firmware starts it (KVM,
    /// Xen HVM), or the host's pygrub reads its configuration (Xen PV).
    Disk,
}

impl Boot {
    pub const ALL: [Boot; 2] = [Boot::Kernel, Boot::Disk];

    pub fn as_str(self) -> &'static str {
        match self {
            Boot::Kernel => "kernel",
            Boot::Disk => "disk",
        }
    }
}

/// A per-guest configuration disk the guest's own tools read at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeedKind {
    /// Nothing attached: the image gets the key some other way (the test image
    /// reads it from the kernel command line).
    None,
    /// A cloud-init NoCloud seed: an ISO 9660 volume `cidata` with `user-data`
    /// and `meta-data`, attached as a CD-ROM.
    Nocloud,
}

impl SeedKind {
    pub const ALL: [SeedKind; 2] = [SeedKind::Nocloud, SeedKind::None];

    pub fn as_str(self) -> &'static str {
        match self {
            SeedKind::None => "none",
            SeedKind::Nocloud => "nocloud",
        }
    }

    pub fn parse(s: &str) -> Option<SeedKind> {
        SeedKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How a guest's NIC is configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "mode")]
pub enum GuestNetwork {
    Dhcp,
    Static { address: String, gateway: Option<String> },
    None,
}

/// One guest of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestSpec {
    /// Unique within the case, e.g. `tiny` or `tiny-2` when `count` > 1.
    pub name: String,
    pub kind: GuestKind,
    pub memory_mib: u64,
    pub vcpus: u32,
    pub image: Image,
    pub network: GuestNetwork,
    pub firmware: Firmware,
}

/// What a KVM guest boots with before its kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Firmware {
    /// SeaBIOS (and hvmloader on Xen HVM).
    Bios,
    /// UEFI (OVMF, chosen by libvirt from the host's firmware descriptors,
    /// without secure boot), with an NVRAM of its own per domain.
    Uefi,
}

/// A check the case runs, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "check")]
pub enum CheckSpec {
    /// Domain running, console marker, address known, SSH exec succeeds.
    Boot,
    /// Run a command over SSH on every guest of the case.
    Command {
        name: String,
        run: String,
        expect_exit: i32,
        expect_output: Option<String>,
        /// Reruns after a failure; a pass on a rerun is reported as flaky, never silently.
        retries: u32,
    },
    /// Addressing, reachability, DNS, MTU and throughput between the host side and
    /// the guests, and between the guests of the case.
    Network(NetworkCheck),
    /// Live-migrate the case's guests to another host and back, proving continuity.
    Migrate(MigrateCheck),
    /// Reboot, shut down, save and restore, or pause and resume every guest.
    Lifecycle(LifecycleCheck),
}

/// How a `reboot` check asks the guest to reboot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RebootVia {
    /// `reboot` run inside the guest over SSH.
    Guest,
    /// libvirt's reboot (ACPI or the guest agent on QEMU, the PV control path on Xen).
    Libvirt,
}

/// A lifecycle check: reboot, shutdown, save and restore, pause and resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum LifecycleCheck {
    Reboot { via: RebootVia },
    Shutdown,
    SaveRestore,
    PauseResume,
}

impl LifecycleCheck {
    /// The check's name in scenarios and testcases.
    pub fn name(self) -> &'static str {
        match self {
            LifecycleCheck::Reboot { via: RebootVia::Guest } => "reboot",
            LifecycleCheck::Reboot { via: RebootVia::Libvirt } => "reboot-libvirt",
            LifecycleCheck::Shutdown => "shutdown",
            LifecycleCheck::SaveRestore => "save-restore",
            LifecycleCheck::PauseResume => "pause-resume",
        }
    }
}

impl CheckSpec {
    pub fn name(&self) -> &str {
        match self {
            CheckSpec::Boot => "boot",
            CheckSpec::Command { name, .. } => name,
            CheckSpec::Network(_) => "network",
            CheckSpec::Migrate(_) => "migrate",
            CheckSpec::Lifecycle(l) => l.name(),
        }
    }

    /// Whether the guests' domains must restart when the guest reboots
    /// (`on_reboot`): only a case that reboots them on purpose wants it; any
    /// other reboot ends the domain, which the harness sees.
    pub fn restarts_on_reboot(&self) -> bool {
        matches!(self, CheckSpec::Lifecycle(LifecycleCheck::Reboot { .. }))
    }
}

/// What the `network` check verifies, and with which settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkCheck {
    /// The sub-checks to run, each once, in [`NetworkSubCheck::ALL`] order.
    pub checks: Vec<NetworkSubCheck>,
    /// A name the guests' DNS server should resolve; `dns` is skipped without one.
    pub dns_name: Option<String>,
    /// The guest port that host → guest TCP connects to.
    pub tcp_port: u16,
    /// Probes per measurement: ICMP echoes per ping, TCP connections per direction.
    pub count: u32,
    /// The highest loss, in percent, a ping or TCP measurement may show and pass.
    pub max_loss_pct: u32,
    /// A dnsmasq lease file on the machine running virtsmoke; the `address`
    /// sub-check then compares each DHCP guest's lease with its own view.
    pub lease_file: Option<PathBuf>,
    pub throughput: ThroughputSpec,
}

/// How the `throughput` sub-check measures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThroughputSpec {
    /// How long each measurement sends.
    #[serde(with = "humantime_secs")]
    pub duration: Duration,
    /// Fail below this many Mbit/s; without it the figure is only reported.
    pub min_mbps: Option<u32>,
}

impl Default for ThroughputSpec {
    fn default() -> Self {
        ThroughputSpec { duration: Duration::from_secs(3), min_mbps: None }
    }
}

/// One part of the `network` check, chosen by the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkSubCheck {
    /// The address the host side knows (DHCP lease, console, ARP, static) is the one the guest has.
    Address,
    /// ICMP echo host → guest and guest → host.
    Ping,
    /// TCP connections host → guest and guest → host.
    Tcp,
    /// ICMP echo guest → its default gateway.
    Gateway,
    /// The guest resolves the scenario's `dns_name`.
    Dns,
    /// ICMP echo between every two guests of the case.
    Peers,
    /// A full-size do-not-fragment frame passes at the interface MTU.
    Mtu,
    /// TCP throughput host → guest and guest → guest, in Mbit/s.
    Throughput,
}

impl NetworkSubCheck {
    pub const ALL: [NetworkSubCheck; 8] = [
        NetworkSubCheck::Address,
        NetworkSubCheck::Ping,
        NetworkSubCheck::Tcp,
        NetworkSubCheck::Gateway,
        NetworkSubCheck::Dns,
        NetworkSubCheck::Peers,
        NetworkSubCheck::Mtu,
        NetworkSubCheck::Throughput,
    ];

    /// What runs when the scenario does not choose: everything but `throughput`.
    pub fn defaults() -> Vec<NetworkSubCheck> {
        NetworkSubCheck::ALL.into_iter().filter(|c| *c != NetworkSubCheck::Throughput).collect()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NetworkSubCheck::Address => "address",
            NetworkSubCheck::Ping => "ping",
            NetworkSubCheck::Tcp => "tcp",
            NetworkSubCheck::Gateway => "gateway",
            NetworkSubCheck::Dns => "dns",
            NetworkSubCheck::Peers => "peers",
            NetworkSubCheck::Mtu => "mtu",
            NetworkSubCheck::Throughput => "throughput",
        }
    }

    pub fn parse(s: &str) -> Option<NetworkSubCheck> {
        NetworkSubCheck::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl Default for NetworkCheck {
    fn default() -> Self {
        NetworkCheck {
            checks: NetworkSubCheck::defaults(),
            dns_name: None,
            tcp_port: 22,
            count: 3,
            max_loss_pct: 0,
            lease_file: None,
            throughput: ThroughputSpec::default(),
        }
    }
}

/// Per-step deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    /// Defining and starting the domain until libvirt reports it running.
    #[serde(with = "humantime_secs")]
    pub running: Duration,
    /// Domain running until the boot marker shows on the console.
    #[serde(with = "humantime_secs")]
    pub console: Duration,
    /// Marker until the guest's address is known.
    #[serde(with = "humantime_secs")]
    pub address: Duration,
    /// Address known until an SSH command succeeds.
    #[serde(with = "humantime_secs")]
    pub ssh: Duration,
    /// One check command over SSH.
    #[serde(with = "humantime_secs")]
    pub command: Duration,
    /// The whole case, teardown excluded.
    #[serde(with = "humantime_secs")]
    pub case: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            running: Duration::from_secs(60),
            console: Duration::from_secs(120),
            address: Duration::from_secs(120),
            ssh: Duration::from_secs(120),
            command: Duration::from_secs(60),
            case: Duration::from_secs(900),
        }
    }
}

mod humantime_secs {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

/// One unit of work: guests booted on one host, checks run on them, torn down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Case {
    /// Stable and readable, e.g. `local-kvm/tiny-kvm@lab1`.
    pub name: String,
    /// The scenario's `name`.
    pub scenario: String,
    /// Path of the scenario file the case came from.
    pub source: PathBuf,
    /// Key into `Plan::hosts`: where the case runs. For a placed case
    /// (`matrix.host: any` or by labels) the runner sets it when the case
    /// starts, to whichever of `candidates` has room.
    pub host: String,
    /// The hosts a placed case may run on; empty for a case pinned to `host`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    pub guests: Vec<GuestSpec>,
    pub checks: Vec<CheckSpec>,
    pub timeouts: Timeouts,
    /// The matrix values that produced this case, for reports (`kind=kvm`, ...).
    pub matrix: BTreeMap<String, String>,
    /// The scenario's `known_issues` whose `case` pattern matches this case's name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub known_issues: Vec<KnownIssue>,
}

/// Everything a run needs, loaded from one or more scenario files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub hosts: BTreeMap<String, HostSpec>,
    pub cases: Vec<Case>,
}

/// A failure the scenario expects (`known_issues:`): a failed step it matches is
/// reported as a known failure; a selected step that passes fails the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnownIssue {
    /// Shell-style pattern (`*`, `?`) over case names.
    pub case: String,
    /// Shell-style pattern over step (testcase) names, e.g. `migrate.round-1: *`.
    pub step: String,
    /// A substring the failure message must contain.
    pub message: String,
    pub reason: String,
    pub link: Option<String>,
    /// `YYYY-MM-DD`: from that day on the entry is an error.
    pub expires: Option<String>,
}

/// The `migrate` check: live-migrates the case's guests away and back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrateCheck {
    /// A host name, or `None` for the first other host with role `migration-target`.
    pub target: Option<String>,
    /// There-and-back pairs are `rounds` moves: 1 = there, 2 = there and back, ...
    pub rounds: u32,
    pub live: bool,
    pub peer_to_peer: bool,
    pub tunnelled: bool,
    pub persistent: bool,
    pub undefine_source: bool,
    pub copy_storage: bool,
    pub bandwidth_mib_s: Option<u64>,
    /// libvirt's allowed downtime (`virDomainMigrateSetMaxDowntime`: a tuning, not a verdict).
    pub allowed_downtime_ms: Option<u64>,
    /// Fail a round whose measured probe gap exceeds this; without it downtime is only reported.
    pub max_downtime_ms: Option<u64>,
    /// After migrating, the SSH connection opened before must still work (`keep`),
    /// or a new one must succeed (`reconnect`).
    pub ssh: SshContinuity,
    /// How long one move may take before libvirt's job is aborted and the round fails.
    #[serde(with = "humantime_secs")]
    pub timeout: Duration,
}

impl MigrateCheck {
    /// What its testcases and figures are named after: `migrate`, or
    /// `migrate-offline` for a non-live one (so that a scenario can have both).
    pub fn name(&self) -> &'static str {
        if self.live { "migrate" } else { "migrate-offline" }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SshContinuity {
    Keep,
    Reconnect,
}
