//! Choosing the libvirt domain type: KVM where it really works, TCG otherwise.
//!
//! A host can offer `kvm` and still hang every KVM guest early in boot (nested
//! virtualisation without working MSRs, for one). So `auto` boots the kernel
//! once under KVM and looks for its banner on the console.

use std::path::Path;
use std::time::Duration;

use crate::backend::domain_xml::{self, DomainType, DomainXmlInput, Ownership};
use crate::backend::{BackendError, Host};
use crate::checks::wait::{self, Probe};
use crate::events::HostFacts;
use crate::plan::{AccelPreference, GuestKind, Hypervisor};

const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
const KERNEL_BANNER: &str = "Linux version";

pub struct AccelChoice {
    pub domain_type: DomainType,
    pub reason: String,
}

pub async fn choose(
    host: &Host,
    facts: &HostFacts,
    hypervisor: Hypervisor,
    pref: AccelPreference,
    probe_kernel: &Path,
    run_id: &str,
    scratch: &Path,
) -> Result<AccelChoice, BackendError> {
    let choice = |domain_type, reason: &str| Ok(AccelChoice { domain_type, reason: reason.to_string() });
    if hypervisor == Hypervisor::Xen {
        return choice(DomainType::Xen, "xen host");
    }
    match pref {
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
    let fresh = match probe(host, probe_kernel, run_id, scratch).await? {
        Probed::Booted => AccelChoice { domain_type: DomainType::Kvm, reason: "a probe guest booted under kvm".into() },
        Probed::Hung => AccelChoice {
            domain_type: DomainType::Qemu,
            reason: "kvm is offered but a probe guest hung under it".into(),
        },
        Probed::Refused(why) => AccelChoice {
            domain_type: DomainType::Qemu,
            reason: format!("kvm is offered but a probe guest could not start: {why}"),
        },
    };
    store(&cache, &fresh);
    Ok(fresh)
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

enum Probed {
    Booted,
    Hung,
    /// libvirt or QEMU would not even start it (e.g. QEMU aborting on an MSR).
    Refused(String),
}

/// Boots the kernel under KVM without disk or NIC and looks for its banner.
async fn probe(host: &Host, kernel: &Path, run_id: &str, scratch: &Path) -> Result<Probed, BackendError> {
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
        owner: Ownership {
            run_id: run_id.to_string(),
            case: "kvm-probe".into(),
            guest: "probe".into(),
            created: crate::unix_now(),
        },
    });
    let dom = match host.create_paused(&name, xml).await {
        Ok(d) => d,
        Err(BackendError::Libvirt { source, .. }) => {
            let msg = source.message().lines().map(str::trim).collect::<Vec<_>>().join(" ");
            return Ok(Probed::Refused(msg));
        }
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
