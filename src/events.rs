//! What happens during a run, as events. The runner emits them; reporters
//! consume them. Nothing that runs guests prints.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

pub mod known;

/// The result of one step or check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Passed,
    /// A capability is missing; the reason says which.
    Skipped,
    /// Failed as a known issue of the scenario (`known_issues:`) says it does:
    /// reported apart, does not fail the run. The message keeps the real one.
    KnownFailure,
    /// The system under test misbehaved.
    Failed,
    /// Setup or infrastructure failed; the system under test was not judged.
    Error,
}

/// One testcase of a case: a boot step, a check, teardown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    /// `boot.ssh`, or `GUEST: boot.ssh` in a multi-guest case.
    pub name: String,
    pub outcome: Outcome,
    #[serde(with = "millis")]
    pub duration: Duration,
    /// One line: what went wrong (or why skipped).
    pub message: Option<String>,
    /// Longer evidence: console excerpt, command output.
    pub detail: Option<String>,
    /// Earlier attempts that failed before this result (`retries`): a passed step
    /// with attempts here is flaky.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<FailedAttempt>,
}

/// An attempt of a retried step that did not pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedAttempt {
    #[serde(with = "millis")]
    pub duration: Duration,
    pub message: String,
    pub detail: Option<String>,
}

/// Everything known about a finished case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseReport {
    pub name: String,
    pub scenario: String,
    pub host: String,
    pub started: SystemTime,
    #[serde(with = "millis")]
    pub duration: Duration,
    pub outcome: Outcome,
    pub steps: Vec<StepRecord>,
    /// Measured figures and host facts (`boot_ms`, `libvirt_version`, ...).
    pub properties: Vec<(String, String)>,
    /// Console tail per guest.
    pub consoles: Vec<(String, String)>,
    pub artifacts: Vec<PathBuf>,
    /// Guests left running for a human (`--keep-on-failure`).
    pub kept: Vec<KeptGuest>,
    /// Why a failed or errored case did not pass (`crate::cause`); `None`
    /// (and absent from the JSON) otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptGuest {
    /// The scenario's name of the guest (empty in files written before it was recorded).
    pub guest: String,
    pub domain: String,
    pub uri: String,
    /// A shell command that logs in to the guest.
    pub ssh: Option<String>,
    /// The same login as a program and its arguments, for `virtsmoke ssh` to
    /// run without a shell (`None` in files written before it was recorded).
    pub ssh_argv: Option<Vec<String>>,
    /// A shell command that removes the guest and the run's scratch (its key).
    pub remove: String,
}

impl CaseReport {
    /// The worst outcome among the steps.
    pub fn outcome_of(steps: &[StepRecord]) -> Outcome {
        let worst = steps.iter().map(|s| s.outcome).max().unwrap_or(Outcome::Passed);
        // A teardown with nothing to tear down passes: that judges nothing.
        let judged = steps.iter().any(|s| s.outcome == Outcome::Passed && s.name != "teardown");
        if worst == Outcome::Skipped && judged { Outcome::Passed } else { worst }
    }

    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum RunEvent {
    RunStarted {
        run_id: String,
        cases: usize,
        artifacts: PathBuf,
    },
    /// A preparation step of the run (image build, host connection, accelerator probe).
    Preparing {
        what: String,
    },
    HostReady {
        host: String,
        domain_type: String,
        accel_reason: String,
        facts: HostFacts,
    },
    HostUnusable {
        host: String,
        error: String,
    },
    CaseStarted {
        case: String,
        host: String,
    },
    StepFinished {
        case: String,
        step: StepRecord,
    },
    CaseFinished {
        report: CaseReport,
    },
    Interrupted {
        signal: String,
        count: u32,
    },
    RunFinished {
        passed: usize,
        failed: usize,
        errors: usize,
        skipped: usize,
        #[serde(with = "millis")]
        duration: Duration,
    },
}

/// Facts about a host that explain a run's results: recorded on every case.
/// Plain data: the backend reads them (`backend::facts::read`), hostaccess adds to them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFacts {
    pub uri: String,
    pub hostname: String,
    /// libvirt's driver name, e.g. `QEMU` or `Xen`.
    pub hypervisor: String,
    pub hypervisor_version: String,
    /// The libvirt daemon's version (for remote URIs, the remote daemon's).
    pub libvirt_version: String,
    pub cpu_model: String,
    /// Domain types the host offers for x86_64 guests (`kvm`, `qemu`, `xen`).
    pub domain_types: Vec<String>,
    /// The guests the host's libvirt offers (its capabilities XML): which
    /// kinds it can run (`hypervisor::caps::can_run`).
    #[serde(default)]
    pub guests: Vec<GuestOffer>,
    /// Anything else a backend learned (package builds, Xen changeset, ...).
    pub extra: BTreeMap<String, String>,
}

/// One guest a host's libvirt offers: a `<guest>` of its capabilities XML, per architecture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestOffer {
    /// `hvm`, `xen` (Xen PV) or `xenpvh`.
    pub os_type: String,
    pub arch: String,
    /// `xenfv`, `xenpv`, `xenpvh`, `pc-q35-7.2`, ...
    pub machines: Vec<String>,
    /// `kvm`, `qemu`, `xen`.
    pub domain_types: Vec<String>,
}

impl HostFacts {
    /// The facts as `name → value` pairs for report properties.
    pub fn properties(&self) -> Vec<(String, String)> {
        let mut p = vec![
            ("host".to_string(), self.hostname.clone()),
            ("host_uri".to_string(), self.uri.clone()),
            ("hypervisor".to_string(), self.hypervisor.clone()),
            ("hypervisor_version".to_string(), self.hypervisor_version.clone()),
            ("libvirt_version".to_string(), self.libvirt_version.clone()),
            ("host_cpu_model".to_string(), self.cpu_model.clone()),
        ];
        p.extend(self.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        p
    }
}

// The one named cause of a case that failed or errored: a stable id, one
// human sentence, and the quoted lines that decided it. The rules that
// choose it are in `crate::cause`.

/// Why a case did not pass. Ids are stable: results, dashboards and known
/// issues may match on them (`docs/causes.md` lists each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CauseId {
    /// The guest kernel panicked, oopsed or hit a BUG.
    GuestKernelPanic,
    /// The domain stopped (shut off, crashed, rebooted) while a step waited on it.
    GuestHaltedUnexpectedly,
    /// Firmware or boot loader ran but no kernel ever printed.
    BootLoaderNoKernel,
    /// The kernel booted but no DHCP lease was ever offered.
    NoAddressNoLease,
    /// A lease was offered but the guest did not configure it.
    NoAddressLeaseNotConfigured,
    /// The address is known but nothing accepts connections on port 22.
    SshNotListening,
    /// SSH answered but refused the run's key.
    SshKeyRefused,
    /// SSH answered with a host key the guest did not print.
    SshHostKeyMismatch,
    /// SSH accepted the key but the command failed.
    SshCommandFailed,
    /// The kernel printed, then nothing more came within the step's timeout.
    BootStalled,
    /// The guest is not the kind of guest the case asked for.
    GuestKindWrong,
    /// libvirt or libxl refused to create the domain.
    HypervisorRefusedDomain,
    /// Xen or its device model says the domain crashed.
    XenSideCrash,
    /// The host (or its libvirt connection) went away: infrastructure.
    HostUnreachable,
    /// The run was interrupted by a signal.
    RunInterrupted,
    /// virtsmoke itself failed (a bug, or its own files).
    HarnessError,
    /// No rule matched; the raw facts are quoted.
    #[serde(other)]
    Unclassified,
}

impl CauseId {
    /// Every id, in the order `docs/causes.md` lists them.
    pub const ALL: [CauseId; 17] = [
        CauseId::GuestKernelPanic,
        CauseId::GuestHaltedUnexpectedly,
        CauseId::BootLoaderNoKernel,
        CauseId::NoAddressNoLease,
        CauseId::NoAddressLeaseNotConfigured,
        CauseId::SshNotListening,
        CauseId::SshKeyRefused,
        CauseId::SshHostKeyMismatch,
        CauseId::SshCommandFailed,
        CauseId::BootStalled,
        CauseId::GuestKindWrong,
        CauseId::HypervisorRefusedDomain,
        CauseId::XenSideCrash,
        CauseId::HostUnreachable,
        CauseId::RunInterrupted,
        CauseId::HarnessError,
        CauseId::Unclassified,
    ];

    /// The kebab-case id, as the JSON has it.
    pub fn as_str(self) -> &'static str {
        match self {
            CauseId::GuestKernelPanic => "guest-kernel-panic",
            CauseId::GuestHaltedUnexpectedly => "guest-halted-unexpectedly",
            CauseId::BootLoaderNoKernel => "boot-loader-no-kernel",
            CauseId::NoAddressNoLease => "no-address-no-lease",
            CauseId::NoAddressLeaseNotConfigured => "no-address-lease-not-configured",
            CauseId::SshNotListening => "ssh-not-listening",
            CauseId::SshKeyRefused => "ssh-key-refused",
            CauseId::SshHostKeyMismatch => "ssh-host-key-mismatch",
            CauseId::SshCommandFailed => "ssh-command-failed",
            CauseId::BootStalled => "boot-stalled",
            CauseId::GuestKindWrong => "guest-kind-wrong",
            CauseId::HypervisorRefusedDomain => "hypervisor-refused-domain",
            CauseId::XenSideCrash => "xen-side-crash",
            CauseId::HostUnreachable => "host-unreachable",
            CauseId::RunInterrupted => "run-interrupted",
            CauseId::HarnessError => "harness-error",
            CauseId::Unclassified => "unclassified",
        }
    }

    /// Whether the cause lies outside the system under test: the case is then
    /// an error (exit 3), never a failure.
    pub fn is_infrastructure(self) -> bool {
        matches!(self, CauseId::HostUnreachable | CauseId::RunInterrupted | CauseId::HarnessError)
    }
}

impl std::fmt::Display for CauseId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The cause of a failed or errored case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    pub id: CauseId,
    /// One human sentence.
    pub summary: String,
    /// The lines (quoted as they were) that decided it.
    pub evidence: Vec<String>,
}

impl Cause {
    /// `[id] summary`: how JUnit and the terminal show it.
    pub fn headline(&self) -> String {
        format!("[{}] {}", self.id, self.summary)
    }
}

mod millis {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

#[cfg(test)]
mod cause_tests {
    use super::*;

    #[test]
    fn ids_are_kebab_case_as_serialized_and_unknown_ones_read_as_unclassified() {
        for id in CauseId::ALL {
            assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{}\"", id.as_str()));
            assert_eq!(serde_json::from_str::<CauseId>(&format!("\"{id}\"")).unwrap(), id);
        }
        assert_eq!(serde_json::from_str::<CauseId>("\"a-later-id\"").unwrap(), CauseId::Unclassified);
        let c = Cause { id: CauseId::BootStalled, summary: "s".into(), evidence: vec![] };
        assert_eq!(c.headline(), "[boot-stalled] s");
    }
}
