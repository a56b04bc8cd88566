//! Xen (libvirt's libxl driver): what virtsmoke knows of the family, its
//! domain XML, and the host commands only Xen has (xenstore, `xl`).

use std::fmt::Write as _;
use std::path::PathBuf;

use super::platform::{EntryNote, FactsCommand, Family, LeakSource, LoaderQuery, Platform};
use crate::backend::domain_spec::DomainXmlInput;
use crate::backend::xml_parts::{boot_files, cdrom, disk, esc, header, lifecycle, nic};
use crate::plan::GuestKind;
use crate::shell::quote;

/// The Xen family.
pub struct Xen;

impl Platform for Xen {
    fn family(&self) -> Family {
        Family::Xen
    }

    fn default_bridge(&self) -> &'static str {
        "xenbr0"
    }

    /// Xensource's OUI.
    fn mac_prefix(&self) -> &'static str {
        "00:16:3e"
    }

    fn kernel_console(&self, kind: GuestKind) -> &'static str {
        match kind {
            GuestKind::XenPv | GuestKind::XenPvh => "hvc0",
            _ => "ttyS0",
        }
    }

    fn kind_cmdline(&self, kind: GuestKind) -> &'static str {
        match kind {
            // Without this, a Linux HVM guest uses its PV drivers and becomes PVHVM.
            GuestKind::XenHvm => "xen_nopv",
            _ => "",
        }
    }

    fn required_entry_note(&self, kind: GuestKind) -> Option<EntryNote> {
        match kind {
            GuestKind::XenPv => Some(EntryNote::XenPv),
            GuestKind::XenPvh => Some(EntryNote::XenPvh),
            _ => None,
        }
    }

    fn domain_xml(&self, input: &DomainXmlInput) -> String {
        match input.kind {
            GuestKind::XenPv | GuestKind::XenPvh => build_pv(input),
            _ => build_hvm(input),
        }
    }

    /// HVM guests start in `hvmloader`, whose place differs by distribution
    /// (Debian: /usr/lib/xen-4.17/boot, EL: /usr/lib/xen/boot).
    fn loader_query(&self, kind: GuestKind) -> Option<LoaderQuery> {
        matches!(kind, GuestKind::XenHvm | GuestKind::XenPvhvm).then_some(LoaderQuery {
            virttype: "xen",
            arch: "x86_64",
            machine: "xenfv",
        })
    }

    fn loader_from_capabilities(&self, caps: &str) -> Option<PathBuf> {
        hvmloader_of(caps)
    }

    fn evidence_commands(&self, dom: &str) -> Vec<(&'static str, String)> {
        vec![
            ("xl-dmesg.log", "xl dmesg".to_string()),
            ("libxl.log", format!("cat /var/log/libvirt/libxl/{}.log", quote(dom))),
            ("device-model.log", format!("cat /var/log/xen/qemu-dm-{}.log", quote(dom))),
            ("xen-console.log", format!("cat /var/log/xen/console/guest-{}.log", quote(dom))),
        ]
    }

    /// libvirt says "Failed to send migration data to destination host"; the
    /// reason (`xc: Failed to enable logdirty: 95`) is in libxl's logs.
    fn migration_log_command(&self, dom: &str) -> Option<String> {
        Some(format!(
            "grep -h -i -E 'error|fail' /var/log/libvirt/libxl/libxl-driver.log /var/log/libvirt/libxl/{}.log \
             2>/dev/null | tail -n 40; true",
            quote(dom)
        ))
    }

    fn leak_source(&self) -> Option<LeakSource> {
        Some(LeakSource {
            command: XENSTORE_DOMAINS,
            parse: parse_xenstore_domains,
            destroy: |id| format!("xl destroy {id}"),
        })
    }

    fn facts_commands(&self) -> Vec<FactsCommand> {
        vec![("xl info", parse_xl_info)]
    }

    fn memory_dump_options(&self) -> &'static str {
        ""
    }
}

/// The `hvmloader` among the loaders of a domain capabilities XML
/// (`<os><loader><value>…</value>`); `None` when it lists none.
pub fn hvmloader_of(caps: &str) -> Option<PathBuf> {
    let os = &caps[caps.find("<os")?..];
    let loader = &os[os.find("<loader")?..];
    let loader = &loader[..loader.find("</loader>").unwrap_or(loader.len())];
    // The `<enum>`s after the paths hold values too (`rom`, `pflash`).
    let paths = &loader[..loader.find("<enum").unwrap_or(loader.len())];
    paths
        .split("<value>")
        .skip(1)
        .filter_map(|v| v.split_once("</value>").map(|(p, _)| p.trim()))
        .find(|p| p.rsplit('/').next() == Some("hvmloader"))
        .map(PathBuf::from)
}

fn build_pv(input: &DomainXmlInput) -> String {
    let mut x = header(input);
    if input.kernel.is_none() {
        // A PV guest has no firmware: without a kernel, the host's pygrub reads
        // the disk's boot loader configuration. A bare name, which libxl finds
        // in Xen's own directory (Debian: /usr/lib/xen-4.17/bin, EL: /usr/lib/xen/bin).
        // The disk's command line names serial consoles a PV guest lacks, so
        // the last `console=` (the one that wins) is added.
        let _ = writeln!(
            x,
            "  <bootloader>pygrub</bootloader>\n  <bootloader_args>--args=console={}</bootloader_args>",
            Xen.kernel_console(input.kind)
        );
    }
    let os_type = match input.kind {
        GuestKind::XenPvh => "<type arch='x86_64' machine='xenpvh'>xenpvh</type>",
        _ => "<type arch='x86_64' machine='xenpv'>linux</type>",
    };
    let _ = writeln!(x, "  <os>\n    {os_type}");
    if input.kernel.is_some() {
        boot_files(&mut x, input);
    }
    x.push_str("  </os>\n");
    lifecycle(&mut x, input);
    x.push_str("  <devices>\n");
    disk(&mut x, input, "xvda", "xen");
    // PV and PVH guests have no emulated CD-ROM: the seed is a second disk.
    // Writable: the seed is the case's own copy, and Xen's qdisk backend (QEMU
    // 7.2 in Debian 12's dom0) refuses a read-only one ("Block node is read-only").
    if let Some(s) = &input.seed {
        let _ = writeln!(
            x,
            "    <disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>\n      \
             <source file='{}'/>\n      <target dev='xvdb' bus='xen'/>\n    </disk>",
            esc(&s.display().to_string())
        );
    }
    nic(&mut x, input, None);
    x.push_str("    <console type='pty'>\n      <target type='xen' port='0'/>\n    </console>\n");
    x.push_str("  </devices>\n</domain>\n");
    x
}

fn build_hvm(input: &DomainXmlInput) -> String {
    let mut x = header(input);
    x.push_str("  <os>\n    <type arch='x86_64' machine='xenfv'>hvm</type>\n");
    // No loader named: libxl runs its own hvmloader.
    if !input.hvmloader.as_os_str().is_empty() {
        let _ = writeln!(x, "    <loader type='rom'>{}</loader>", esc(&input.hvmloader.display().to_string()));
    }
    boot_files(&mut x, input);
    x.push_str("  </os>\n  <features>\n    <acpi/>\n    <apic/>\n    <pae/>\n  </features>\n");
    lifecycle(&mut x, input);
    x.push_str("  <devices>\n");
    disk(&mut x, input, "hda", "ide");
    cdrom(&mut x, input, "hdc", "ide");
    // Plain HVM gets an emulated NIC it cannot unplug; PVHVM keeps the default
    // so the guest's netfront takes over.
    let model = (input.kind == GuestKind::XenHvm).then_some("e1000");
    nic(&mut x, input, model);
    x.push_str(
        "    <serial type='pty'>\n      <target port='0'/>\n    </serial>\n    \
         <console type='pty'>\n      <target type='serial' port='0'/>\n    </console>\n",
    );
    x.push_str("  </devices>\n</domain>\n");
    x
}

/// Every domain xenstore knows, `ID NAME` per line: Xen's own view, which
/// still shows a domain libvirt lost track of.
pub const XENSTORE_DOMAINS: &str = "for d in $(xenstore-list /local/domain); do \
     printf '%s %s\\n' \"$d\" \"$(xenstore-read /local/domain/$d/name 2>/dev/null)\"; done";

/// `XENSTORE_DOMAINS` output into domain id → name.
pub fn parse_xenstore_domains(out: &str) -> std::collections::BTreeMap<u32, String> {
    out.lines()
        .filter_map(|l| {
            let (id, name) = l.trim().split_once(' ').unwrap_or((l.trim(), ""));
            Some((id.parse().ok()?, name.trim().to_string()))
        })
        .collect()
}

/// The facts of `xl info` worth recording.
pub fn parse_xl_info(out: &str) -> Vec<(String, String)> {
    let mut facts = Vec::new();
    let mut major = String::new();
    let mut minor = String::new();
    let mut extra = String::new();
    for line in out.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let (k, v) = (k.trim(), v.trim().to_string());
        match k {
            "xen_major" => major = v,
            "xen_minor" => minor = v,
            "xen_extra" => {
                extra = v.clone();
                facts.push(("xen_extra".into(), v));
            }
            "xen_changeset" => facts.push(("xen_changeset".into(), v)),
            "xen_commandline" => facts.push(("xen_commandline".into(), v)),
            "xen_caps" => facts.push(("xen_caps".into(), v)),
            "virt_caps" => facts.push(("xen_virt_caps".into(), v)),
            _ => {}
        }
    }
    if !major.is_empty() {
        facts.insert(0, ("xen_version".into(), format!("{major}.{minor}{extra}")));
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xenstore_domains_are_read_by_id() {
        let m = parse_xenstore_domains("0 Domain-0\n7 vs-20261122-1-0-tiny\n9 \nnot-a-domain x\n");
        assert_eq!(m.len(), 3);
        assert_eq!(m[&0], "Domain-0");
        assert_eq!(m[&7], "vs-20261122-1-0-tiny");
        assert_eq!(m[&9], "");
    }

    #[test]
    fn xl_info_facts() {
        let out = "host                   : xen1\nxen_major              : 4\nxen_minor              : 17\n\
                   xen_extra              : .5\nxen_version            : 4.17.5\nxen_caps               : xen-3.0-x86_64 hvm-3.0-x86_64\n\
                   virt_caps              : pv hvm hap\nxen_changeset          : Tue Oct 1 2024 +0200 git:430ce6cd93\n\
                   xen_commandline        : dom0_mem=1024M,max:1024M console=com1\n";
        let f = parse_xl_info(out);
        assert_eq!(f[0], ("xen_version".into(), "4.17.5".into()));
        assert!(f.contains(&("xen_changeset".into(), "Tue Oct 1 2024 +0200 git:430ce6cd93".into())));
        assert!(f.contains(&("xen_commandline".into(), "dom0_mem=1024M,max:1024M console=com1".into())));
        assert!(f.contains(&("xen_virt_caps".into(), "pv hvm hap".into())));
    }

    #[test]
    fn the_hvmloader_comes_from_the_domain_capabilities() {
        let caps = "<domainCapabilities><path>/usr/lib/xen-4.17/bin/qemu-system-i386</path><domain>xen</domain>\
            <machine>xenfv</machine><arch>x86_64</arch><os supported='yes'><loader supported='yes'>\
            <value>/usr/lib/xen-4.17/boot/hvmloader</value><value>/usr/share/OVMF/OVMF.fd</value>\
            <enum name='type'><value>rom</value><value>pflash</value></enum></loader></os></domainCapabilities>";
        assert_eq!(hvmloader_of(caps), Some(PathBuf::from("/usr/lib/xen-4.17/boot/hvmloader")));
        assert_eq!(Xen.loader_from_capabilities(caps), hvmloader_of(caps));
        let ovmf_only = "<domainCapabilities><os><loader supported='yes'><value>/usr/share/OVMF/OVMF.fd</value>\
            <enum name='type'><value>hvmloader</value></enum></loader></os></domainCapabilities>";
        assert_eq!(hvmloader_of(ovmf_only), None);
        assert_eq!(hvmloader_of("<domainCapabilities><os supported='no'/></domainCapabilities>"), None);
        assert_eq!(Xen.loader_query(GuestKind::XenPv), None, "PV guests have no firmware");
        assert!(Xen.loader_query(GuestKind::XenHvm).is_some());
    }
}
