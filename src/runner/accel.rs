//! Choosing the libvirt domain type: KVM where it really works, TCG otherwise.
//!
//! A host can offer `kvm` and still hang every KVM guest early in boot (nested
//! virtualisation without working MSRs, for one). So `auto` boots the kernel
//! once under KVM and looks for its banner on the console.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::staged::Staged;
use super::staging;
use crate::backend::domain_xml::{self, DomainType, DomainXmlInput, Ownership};
use crate::backend::{BackendError, Host};
use crate::checks::wait::{self, Probe};
use crate::events::HostFacts;
use crate::plan::{AccelPreference, GuestKind, HostSpec, Hypervisor};

const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
const KERNEL_BANNER: &str = "Linux version";

pub struct AccelChoice {
    pub domain_type: DomainType,
    pub reason: String,
}

/// What a KVM probe needs: the kernel it boots (a file of this machine, copied
/// to a remote host the way builtin images are), the run, and where the
/// probe's console log goes.
pub struct ProbeSetup {
    /// `None` when the run built no test image (no KVM host probes).
    pub kernel: Option<PathBuf>,
    pub run_id: String,
    pub scratch: PathBuf,
    pub staged: Arc<Staged>,
}

pub async fn choose(
    host: &Host,
    facts: &HostFacts,
    spec: &HostSpec,
    probe: &ProbeSetup,
) -> Result<AccelChoice, BackendError> {
    let choice = |domain_type, reason: &str| Ok(AccelChoice { domain_type, reason: reason.to_string() });
    // Only KVM hosts choose: a Xen host's domains are Xen's.
    if spec.hypervisor == Hypervisor::Xen {
        return choice(DomainType::Xen, "xen host");
    }
    match spec.accel {
        AccelPreference::Kvm => return choice(DomainType::Kvm, "set in the scenario"),
        AccelPreference::Qemu => return choice(DomainType::Qemu, "set in the scenario"),
        AccelPreference::Auto => {}
    }
    if !facts.domain_types.iter().any(|t| t == "kvm") {
        return choice(DomainType::Qemu, "the host offers no kvm domain type");
    }
    let cache = cache_path(facts);
    if let Some(hit) = cached(&cache) {
        return Ok(hit);
    }
    // The host opens the kernel by its path there: on a remote host, a checked copy.
    let Some(probe_kernel) = &probe.kernel else {
        let (fresh, _) = verdict(Probed::CouldNotTry("the run has no test image to boot".into()));
        return Ok(fresh);
    };
    let probed = match staging::file_on_host(&probe.staged, &probe.run_id, spec, probe_kernel).await {
        Ok(kernel) => run_probe(host, &kernel, &probe.run_id, &probe.scratch).await?,
        Err(f) => Probed::CouldNotTry(format!("its kernel could not be put on the host: {}", f.message)),
    };
    let (fresh, keep) = verdict(probed);
    if keep {
        store(&cache, &fresh);
    }
    Ok(fresh)
}

/// The choice a probe leads to, and whether it may be cached: only a verdict
/// on KVM itself is; a probe that could not even try says nothing of KVM.
fn verdict(probed: Probed) -> (AccelChoice, bool) {
    let choice = |domain_type, reason: String| AccelChoice { domain_type, reason };
    match probed {
        Probed::Booted => (choice(DomainType::Kvm, "a probe guest booted under kvm".into()), true),
        Probed::Hung => (choice(DomainType::Qemu, "kvm is offered but a probe guest hung under it".into()), true),
        Probed::Refused(why) => {
            (choice(DomainType::Qemu, format!("kvm is offered but a probe guest could not start: {why}")), true)
        }
        Probed::CouldNotTry(why) => (
            choice(DomainType::Qemu, format!("kvm is offered but could not be probed (tried again next run): {why}")),
            false,
        ),
    }
}

/// How long a probe verdict is trusted for the same host build.
const CACHE_FOR: Duration = Duration::from_secs(24 * 3600);

/// The verdict holds for one host, libvirt and QEMU build: any change probes again.
fn cache_path(facts: &HostFacts) -> std::path::PathBuf {
    use sha2::{Digest, Sha256};
    let key = format!("{}|{}|{}|{}", facts.uri, facts.hostname, facts.hypervisor_version, facts.libvirt_version);
    let digest = Sha256::digest(key.as_bytes());
    let name: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    crate::image::cache_dir().join("accel").join(format!("{name}.json"))
}

fn cached(path: &Path) -> Option<AccelChoice> {
    let age = path.metadata().ok()?.modified().ok()?.elapsed().ok()?;
    if age > CACHE_FOR {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let domain_type = match v["domain_type"].as_str()? {
        "kvm" => DomainType::Kvm,
        "qemu" => DomainType::Qemu,
        _ => return None,
    };
    Some(AccelChoice { domain_type, reason: format!("{} (probed earlier)", v["reason"].as_str()?) })
}

fn store(path: &Path, c: &AccelChoice) {
    let doc = serde_json::json!({ "domain_type": c.domain_type.as_str(), "reason": c.reason });
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(path, doc.to_string());
}

#[derive(Debug, PartialEq, Eq)]
enum Probed {
    Booted,
    Hung,
    /// libvirt or QEMU would not start it under KVM (e.g. QEMU aborting on an MSR).
    Refused(String),
    /// The probe could not even be tried: its kernel missing or unreadable
    /// on the host, the connection failing. Says nothing of KVM.
    CouldNotTry(String),
}

/// A refusal to create the probe guest: KVM's, or one that never got to KVM.
fn refusal(source: &virt::error::Error) -> Probed {
    use virt::enumutil::Enum::Known;
    use virt::error::{ErrorDomain, ErrorNumber};
    let connection = matches!(
        source.code(),
        Known(ErrorNumber::NoConnect | ErrorNumber::AuthFailed | ErrorNumber::OperationTimeout)
    ) || matches!(source.domain(), Known(ErrorDomain::Rpc));
    classify(connection, source.message())
}

/// Messages of failures to reach or read a file, which come before KVM.
const NOT_TRIED: [&str; 5] =
    ["No such file", "Permission denied", "could not open kernel", "Cannot access storage file", "cannot open"];

fn classify(connection: bool, message: &str) -> Probed {
    let msg = message.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    if connection || NOT_TRIED.iter().any(|m| msg.contains(m)) {
        Probed::CouldNotTry(msg)
    } else {
        Probed::Refused(msg)
    }
}

/// Boots the kernel under KVM without disk or NIC and looks for its banner.
async fn run_probe(host: &Host, kernel: &Path, run_id: &str, scratch: &Path) -> Result<Probed, BackendError> {
    let name = format!("vs-{run_id}-kvm-probe");
    let xml = domain_xml::build(&DomainXmlInput {
        name: name.clone(),
        kind: GuestKind::Kvm,
        domain_type: DomainType::Kvm,
        memory_mib: 128,
        vcpus: 1,
        kernel: Some(kernel.to_path_buf()),
        initrd: None,
        cmdline: "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1".to_string(),
        disk: None,
        seed: None,
        bridge: String::new(),
        mac: String::new(),
        hvmloader: Default::default(),
        firmware: crate::plan::Firmware::Bios,
        nvram: None,
        restart_on_reboot: false,
        owner: Ownership::now(run_id, "kvm-probe", "probe"),
    });
    let dom = match host.create_paused(&name, xml).await {
        Ok(d) => d,
        Err(BackendError::Libvirt { source, .. }) => return Ok(refusal(&source)),
        Err(e) => return Err(e),
    };
    let result = async {
        let console = dom.open_console(scratch.join(format!("{name}.console.log"))).await?;
        dom.resume().await?;
        let booted = wait::until(PROBE_TIMEOUT, Duration::from_millis(200), Some(console.subscribe()), || async {
            if console.text().contains(KERNEL_BANNER) { Probe::Ready(()) } else { Probe::NotYet }
        })
        .await
        .is_ok();
        console.stop();
        Ok(if booted { Probed::Booted } else { Probed::Hung })
    }
    .await;
    dom.destroy().await?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_verdicts_on_kvm_itself_are_cached() {
        let kept = |p| verdict(p).1;
        assert!(kept(Probed::Booted) && kept(Probed::Hung) && kept(Probed::Refused("MSR".into())));
        let (choice, keep) = verdict(Probed::CouldNotTry("no jump".into()));
        assert!(!keep);
        assert_eq!(choice.domain_type, DomainType::Qemu);
        assert!(
            choice.reason.contains("could not be probed") && choice.reason.ends_with("no jump"),
            "{}",
            choice.reason
        );
    }

    #[test]
    fn a_kernel_the_host_cannot_open_or_a_lost_connection_is_no_verdict() {
        let remote_kernel = "internal error: qemu unexpectedly closed the monitor: qemu-system-x86_64: \
                             could not open kernel file '/root/.cache/virtsmoke/vmlinuz': No such file or directory";
        assert!(matches!(classify(false, remote_kernel), Probed::CouldNotTry(_)));
        assert!(matches!(classify(true, "End of file while reading data"), Probed::CouldNotTry(_)));
        let msr = "internal error: qemu unexpectedly closed the monitor:\n  kvm: error: failed to set MSR 0x48b to 0x0";
        assert_eq!(
            classify(false, msr),
            Probed::Refused(
                "internal error: qemu unexpectedly closed the monitor: kvm: error: failed to set MSR 0x48b to 0x0"
                    .into()
            )
        );
    }
}
