//! Proves from inside the guest that it booted as the kind the case asked for:
//! a Xen PV guest that silently came up as HVM is a failure that says so.

use crate::backend::domain_xml::DomainType;
use crate::plan::GuestKind;

/// The shell command whose output `judge` reads. Sections are separated by `---`.
pub const PROBE: &str = "cat /sys/hypervisor/type 2>/dev/null; echo ---; \
     dmesg 2>/dev/null | grep -E 'Booting (paravirtualized )?kernel on|Hypervisor detected|Xen HVM callback|unplug' | head -n 5; echo ---; \
     d=$(readlink /sys/class/net/eth0/device/driver 2>/dev/null); echo ${d##*/}";

/// What the guest says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Evidence {
    pub hypervisor_type: String,
    pub boot_lines: Vec<String>,
    pub nic_driver: String,
}

impl Evidence {
    /// Reads the probe's output; the console text fills in boot lines dmesg no longer holds.
    pub fn parse(probe_output: &str, console: &str) -> Evidence {
        let mut parts = probe_output.split("---\n");
        let hypervisor_type = parts.next().unwrap_or("").trim().to_string();
        let mut boot_lines: Vec<String> =
            parts.next().unwrap_or("").lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect();
        if !boot_lines.iter().any(|l| booted_on(l).is_some())
            && let Some(l) = console.lines().find(|l| booted_on(l).is_some())
        {
            boot_lines.push(l.trim().to_string());
        }
        let nic_driver = parts.next().unwrap_or("").trim().to_string();
        Evidence { hypervisor_type, boot_lines, nic_driver }
    }

    fn booted_on(&self) -> Option<&str> {
        self.boot_lines.iter().find_map(|l| booted_on(l))
    }

    /// What could not be read, `; `-separated; empty when every part of the probe answered.
    fn missing(&self) -> String {
        let mut gaps = Vec::new();
        if self.hypervisor_type.is_empty() {
            gaps.push("/sys/hypervisor/type was empty or unreadable");
        }
        if self.booted_on().is_none() {
            gaps.push("no \"Booting ... kernel on\" line in dmesg or on the console");
        }
        if self.nic_driver.is_empty() {
            gaps.push("the driver of eth0 could not be read");
        }
        gaps.join("; ")
    }

    fn summary(&self) -> String {
        format!(
            "/sys/hypervisor/type={:?}, booted on {:?}, eth0 driver {:?}",
            self.hypervisor_type,
            self.booted_on().unwrap_or("(unknown)"),
            self.nic_driver
        )
    }
}

/// What a "Booting ... kernel on X" line names: Linux 6.1 says "Booting
/// paravirtualized kernel on" for HVM guests and bare hardware, but "Booting
/// kernel on" for Xen PV and PVH.
fn booted_on(line: &str) -> Option<&str> {
    let rest = &line[line.find("Booting ")? + "Booting ".len()..];
    let rest = rest.strip_prefix("paravirtualized ").unwrap_or(rest);
    rest.strip_prefix("kernel on ").map(str::trim)
}

/// `Ok(summary)` when the evidence matches `kind`; `Err(why)` naming what the
/// guest really is. Without a boot line nothing proves the kind: that fails
/// too, saying what could not be read.
pub fn judge(kind: GuestKind, domain_type: DomainType, ev: &Evidence) -> Result<String, String> {
    let on = ev.booted_on().unwrap_or("");
    let booted = ev.booted_on().is_some();
    let is_xen = ev.hypervisor_type == "xen";
    let seen = ev.summary();
    let verdict = match kind {
        GuestKind::XenPv => is_xen && on == "Xen",
        GuestKind::XenPvh => is_xen && on == "Xen PVH",
        GuestKind::XenPvhvm => is_xen && on == "Xen HVM" && ev.nic_driver != "e1000",
        GuestKind::XenHvm => booted && !on.starts_with("Xen") && ev.nic_driver != "vif",
        GuestKind::Kvm => {
            !is_xen
                && ((booted && domain_type != DomainType::Kvm)
                    || ev.boot_lines.iter().any(|l| l.contains("Hypervisor detected: KVM") || on == "KVM"))
        }
    };
    if verdict {
        return Ok(seen);
    }
    if !booted {
        return Err(format!("the guest gave no evidence that it booted as {kind}: {}", ev.missing()));
    }
    Err(format!("the guest did not boot as {kind}: {seen} ({})", describe(ev)))
}

/// The kind the evidence shows, in the scenario's words where one fits:
/// `xen-pv`, `xen-pvh`, `xen-pvhvm`, `xen-hvm`, `kvm`, `qemu` (emulation
/// without KVM), `xen-hvm-pv-extensions` (Xen HVM, PV extensions, emulated
/// NIC) or `unknown`.
pub fn observed(domain_type: DomainType, ev: &Evidence) -> &'static str {
    let is_xen = ev.hypervisor_type == "xen";
    match ev.booted_on() {
        Some("Xen") if is_xen => "xen-pv",
        Some("Xen PVH") if is_xen => "xen-pvh",
        Some("Xen HVM") if ev.nic_driver == "vif" => "xen-pvhvm",
        Some("Xen HVM") => "xen-hvm-pv-extensions",
        Some("KVM") => "kvm",
        Some(_) if domain_type == DomainType::Xen => "xen-hvm",
        Some(_) if domain_type == DomainType::Qemu => "qemu",
        _ => "unknown",
    }
}

/// What the evidence says the guest is.
fn describe(ev: &Evidence) -> String {
    match (ev.hypervisor_type.as_str(), ev.booted_on()) {
        ("xen", Some("Xen")) => "it is a Xen PV guest".into(),
        ("xen", Some("Xen PVH")) => "it is a Xen PVH guest".into(),
        ("xen", Some("Xen HVM")) if ev.nic_driver == "vif" => "it is a Xen PVHVM guest".into(),
        ("xen", Some("Xen HVM")) => "it is Xen HVM with PV extensions but an emulated NIC".into(),
        (_, Some("KVM")) => "it is a KVM guest".into(),
        (_, Some("bare hardware")) if ev.nic_driver == "e1000" => "it is a fully emulated (HVM) guest".into(),
        (_, Some(other)) => format!("its kernel booted on {other}"),
        _ => "its kind could not be determined".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ty: &str, line: &str, nic: &str) -> Evidence {
        Evidence::parse(&format!("{ty}\n---\n{line}\n---\n{nic}\n"), "")
    }

    #[test]
    fn each_kind_is_recognised() {
        let pv = ev("xen", "[0.0] Booting paravirtualized kernel on Xen", "vif");
        let pvh = ev("xen", "[0.0] Booting paravirtualized kernel on Xen PVH", "vif");
        let pvhvm = ev("xen", "[0.0] Booting paravirtualized kernel on Xen HVM", "vif");
        let hvm = ev("", "[0.0] Booting paravirtualized kernel on bare hardware", "e1000");
        let kvm = ev("", "[0.0] Booting paravirtualized kernel on KVM\n[0.0] Hypervisor detected: KVM", "virtio_net");
        let tcg = ev("", "[0.0] Booting paravirtualized kernel on bare hardware", "virtio_net");
        judge(GuestKind::XenPv, DomainType::Xen, &pv).unwrap();
        judge(GuestKind::XenPvh, DomainType::Xen, &pvh).unwrap();
        judge(GuestKind::XenPvhvm, DomainType::Xen, &pvhvm).unwrap();
        judge(GuestKind::XenHvm, DomainType::Xen, &hvm).unwrap();
        judge(GuestKind::Kvm, DomainType::Kvm, &kvm).unwrap();
        judge(GuestKind::Kvm, DomainType::Qemu, &tcg).unwrap();
        assert!(judge(GuestKind::Kvm, DomainType::Kvm, &tcg).is_err(), "kvm requested, no KVM seen");
        assert_eq!(observed(DomainType::Xen, &pv), "xen-pv");
        assert_eq!(observed(DomainType::Xen, &pvh), "xen-pvh");
        assert_eq!(observed(DomainType::Xen, &pvhvm), "xen-pvhvm");
        assert_eq!(observed(DomainType::Xen, &hvm), "xen-hvm");
        assert_eq!(observed(DomainType::Kvm, &kvm), "kvm");
        assert_eq!(observed(DomainType::Qemu, &tcg), "qemu");
        assert_eq!(observed(DomainType::Xen, &ev("xen", "", "vif")), "unknown");
    }

    #[test]
    fn the_wrong_kind_says_what_it_is() {
        let pvhvm = ev("xen", "Booting paravirtualized kernel on Xen HVM", "vif");
        let err = judge(GuestKind::XenPv, DomainType::Xen, &pvhvm).unwrap_err();
        assert!(err.contains("did not boot as xen-pv") && err.contains("it is a Xen PVHVM guest"), "{err}");
        let err = judge(GuestKind::XenHvm, DomainType::Xen, &pvhvm).unwrap_err();
        assert!(err.contains("PVHVM"), "{err}");
    }

    #[test]
    fn pv_and_pvh_kernels_say_booting_kernel_on() {
        // What Linux 6.1 prints as a Xen PV and a PVH guest (seen on the nested Xen lab).
        let pv = ev("xen", "[    0.000000] Booting kernel on Xen", "vif");
        let pvh = ev("xen", "[    0.000000] Booting kernel on Xen PVH", "vif");
        judge(GuestKind::XenPv, DomainType::Xen, &pv).unwrap();
        judge(GuestKind::XenPvh, DomainType::Xen, &pvh).unwrap();
        judge(GuestKind::XenPv, DomainType::Xen, &pvh).unwrap_err();
    }

    #[test]
    fn no_evidence_is_a_failure_that_says_what_could_not_be_read() {
        // The probe's output when nothing answered: three empty sections.
        let nothing = ev("", "", "");
        for (kind, domain) in [
            (GuestKind::XenHvm, DomainType::Xen),
            (GuestKind::Kvm, DomainType::Qemu),
            (GuestKind::XenPv, DomainType::Xen),
            (GuestKind::Kvm, DomainType::Kvm),
        ] {
            let err = judge(kind, domain, &nothing).unwrap_err();
            assert!(err.contains(&format!("no evidence that it booted as {kind}")), "{err}");
            assert!(err.contains("/sys/hypervisor/type") && err.contains("Booting") && err.contains("eth0"), "{err}");
        }
        // Empty probe output and an empty console: nothing at all.
        let err = judge(GuestKind::XenHvm, DomainType::Xen, &Evidence::parse("", "")).unwrap_err();
        assert!(err.contains("no evidence"), "{err}");
        // The message names only what is missing.
        let err = judge(GuestKind::XenPv, DomainType::Xen, &ev("", "", "vif")).unwrap_err();
        assert!(err.contains("/sys/hypervisor/type") && !err.contains("eth0"), "{err}");
        judge(GuestKind::XenHvm, DomainType::Xen, &ev("", "Booting paravirtualized kernel on bare hardware", ""))
            .unwrap();
    }

    #[test]
    fn console_fills_in_rotated_dmesg() {
        let e = Evidence::parse("xen\n---\n---\nvif\n", "[ 0.0] Booting paravirtualized kernel on Xen PVH\n");
        judge(GuestKind::XenPvh, DomainType::Xen, &e).unwrap();
    }

    /// The table of docs/guest-kinds.md for a guest booted on `Xen HVM`.
    #[test]
    fn the_hvm_kinds_by_nic_driver_as_documented() {
        let line = "[0.0] Booting paravirtualized kernel on Xen HVM";
        for (nic, pvhvm, observed_as) in [
            ("vif", true, "xen-pvhvm"),
            ("e1000", false, "xen-hvm-pv-extensions"),
            ("8139cp", true, "xen-hvm-pv-extensions"),
            ("", true, "xen-hvm-pv-extensions"),
        ] {
            let e = ev("xen", line, nic);
            assert_eq!(judge(GuestKind::XenPvhvm, DomainType::Xen, &e).is_ok(), pvhvm, "{nic:?}");
            assert!(judge(GuestKind::XenHvm, DomainType::Xen, &e).is_err(), "{nic:?}");
            assert_eq!(observed(DomainType::Xen, &e), observed_as, "{nic:?}");
        }
        // xen-hvm does not look at /sys/hypervisor/type.
        judge(GuestKind::XenHvm, DomainType::Xen, &ev("xen", "Booting kernel on bare hardware", "e1000")).unwrap();
    }
}
