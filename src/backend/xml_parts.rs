//! Pieces of domain XML every family's builder shares (hypervisor/kvm.rs,
//! hypervisor/xen.rs): header with ownership metadata, boot files, disks,
//! NIC, escaping.

use std::fmt::Write as _;

use super::domain_spec::{DomainXmlInput, METADATA_NS, METADATA_PREFIX};

pub(crate) fn header(input: &DomainXmlInput) -> String {
    let o = &input.owner;
    format!(
        "<domain type='{ty}'>\n  <name>{name}</name>\n  <metadata>\n    \
         <{p}:owner xmlns:{p}='{ns}'>\n      <{p}:run>{run}</{p}:run>\n      \
         <{p}:case>{case}</{p}:case>\n      <{p}:guest>{guest}</{p}:guest>\n      \
         <{p}:created>{created}</{p}:created>\n      <{p}:machine>{machine}</{p}:machine>\n    </{p}:owner>\n  </metadata>\n  \
         <memory unit='MiB'>{mem}</memory>\n  <vcpu>{vcpus}</vcpu>\n",
        ty = input.domain_type.as_str(),
        name = esc(&input.name),
        p = METADATA_PREFIX,
        ns = METADATA_NS,
        run = esc(&o.run_id),
        case = esc(&o.case),
        guest = esc(&o.guest),
        created = o.created,
        machine = esc(&o.machine),
        mem = input.memory_mib,
        vcpus = input.vcpus,
    )
}

pub(crate) fn boot_files(x: &mut String, input: &DomainXmlInput) {
    if let Some(k) = &input.kernel {
        let _ = writeln!(x, "    <kernel>{}</kernel>", esc(&k.display().to_string()));
        if let Some(i) = &input.initrd {
            let _ = writeln!(x, "    <initrd>{}</initrd>", esc(&i.display().to_string()));
        }
        let _ = writeln!(x, "    <cmdline>{}</cmdline>", esc(&input.cmdline));
    } else {
        x.push_str("    <boot dev='hd'/>\n");
    }
}

pub(crate) fn lifecycle(x: &mut String, input: &DomainXmlInput) {
    // A guest that powers off or reboots on its own ends its domain, which the
    // harness sees as a distinct outcome (unless the case reboots it on
    // purpose); a crash is kept for inspection.
    let on_reboot = if input.restart_on_reboot { "restart" } else { "destroy" };
    let _ = write!(
        x,
        "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>{on_reboot}</on_reboot>\n  \
         <on_crash>preserve</on_crash>\n"
    );
}

pub(crate) fn disk(x: &mut String, input: &DomainXmlInput, dev: &str, bus: &str) {
    if let Some(d) = &input.disk {
        let _ = writeln!(
            x,
            "    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n      \
             <source file='{}'/>\n      <target dev='{dev}' bus='{bus}'/>\n    </disk>",
            esc(&d.display().to_string())
        );
    }
}

pub(crate) fn cdrom(x: &mut String, input: &DomainXmlInput, dev: &str, bus: &str) {
    if let Some(s) = &input.seed {
        let _ = writeln!(
            x,
            "    <disk type='file' device='cdrom'>\n      <driver name='qemu' type='raw'/>\n      \
             <source file='{}'/>\n      <target dev='{dev}' bus='{bus}'/>\n      <readonly/>\n    </disk>",
            esc(&s.display().to_string())
        );
    }
}

pub(crate) fn nic(x: &mut String, input: &DomainXmlInput, model: Option<&str>) {
    let _ = write!(
        x,
        "    <interface type='bridge'>\n      <source bridge='{}'/>\n      <mac address='{}'/>\n",
        esc(&input.bridge),
        esc(&input.mac)
    );
    if let Some(m) = model {
        let _ = writeln!(x, "      <model type='{m}'/>");
    }
    x.push_str("    </interface>\n");
}

/// Escapes text for XML content and single-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}
