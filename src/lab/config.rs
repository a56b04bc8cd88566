//! A lab host's private copy of /etc/libvirt: copied from the machine, stripped
//! of every network, domain and pool definition, and edited for the lab.

use std::fs;
use std::path::{Path, PathBuf};

use super::command::{self, QUICK};
use super::error::LabError;
use super::layout::{DOMAIN, HostLayout, MAX_HOSTS};

/// Where the copied configuration comes from.
pub const SYSTEM_ETC: &str = "/etc/libvirt";

/// Settings appended to the copy's libvirtd.conf (besides `host_uuid`).
/// Paths are as libvirtd sees them inside its mount namespace.
const LIBVIRTD_SETTINGS: &[(&str, &str)] = &[("log_outputs", "\"3:file:/var/log/libvirt/libvirtd.log\"")];

const VIRTLOGD_SETTINGS: &[(&str, &str)] = &[("log_outputs", "\"3:file:/var/log/libvirt/virtlogd.log\"")];

/// Settings for the copy's qemu.conf: QEMU runs as root with its capabilities
/// and no security driver, and libvirt never relabels or chowns files, so a
/// guest can use kernels and disks anywhere (for example `DIR/shared`) without
/// the lab touching them. Lab only: never do this on a real host.
const QEMU_SETTINGS: &[(&str, &str)] = &[
    ("user", "\"root\""),
    ("group", "\"root\""),
    ("security_driver", "\"none\""),
    ("dynamic_ownership", "0"),
    ("remember_owner", "0"),
    ("clear_emulator_capabilities", "0"),
    // No private /dev per guest: fewer moving parts inside a mount namespace.
    ("namespaces", "[ ]"),
];

/// Copies `SYSTEM_ETC` into the host's `etc` directory and edits it, and
/// writes the host's `hosts` file.
pub fn prepare(host: &HostLayout, host_uuid: &str) -> Result<(), LabError> {
    let hosts = host.hosts_file();
    fs::write(&hosts, hosts_file_text()).map_err(|e| LabError::io("write hosts file", &hosts, e))?;
    let etc = host.etc();
    let src = format!("{SYSTEM_ETC}/.");
    command::run(
        "copy libvirt configuration",
        &mut command::command(&["cp", "-a", src.as_str(), &etc.to_string_lossy()]),
        QUICK,
    )?;
    strip_definitions(&etc)?;

    let mut libvirtd: Vec<(&str, String)> = LIBVIRTD_SETTINGS.iter().map(|(k, v)| (*k, v.to_string())).collect();
    libvirtd.push(("host_uuid", quoted(host_uuid)));
    edit_file(&etc.join("libvirtd.conf"), &libvirtd)?;

    edit_file(&etc.join("virtlogd.conf"), &owned(VIRTLOGD_SETTINGS))?;

    let mut qemu = owned(QEMU_SETTINGS);
    // The address a migration to this host goes to, so a plain
    // `virsh migrate` works without --migrateuri.
    qemu.push(("migration_host", quoted(&host.ip())));
    edit_file(&etc.join("qemu.conf"), &qemu)?;
    Ok(())
}

/// The `/etc/hosts` of the daemons (bind-mounted in their mount namespace)
/// and extra hosts of dnsmasq: every possible lab host by name, so libvirt
/// resolves its own host name and guests can resolve the hosts'.
pub fn hosts_file_text() -> String {
    let mut text = String::from("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n");
    for n in 1..=MAX_HOSTS {
        let h = HostLayout::new(Path::new("/"), n);
        // The short name first: it is the canonical one libvirt reports.
        text.push_str(&format!("{} {} {}.{DOMAIN}\n", h.ip(), h.hostname(), h.hostname()));
    }
    text
}

/// Removes definitions the copy must not carry into the lab: networks (above
/// all `default`), domains, storage pools and their autostart links. Returns
/// what it removed.
pub fn strip_definitions(etc: &Path) -> Result<Vec<PathBuf>, LabError> {
    let mut removed = Vec::new();
    for dir in ["qemu/networks/autostart", "qemu/autostart", "storage/autostart"] {
        remove_matching(&etc.join(dir), |_| true, &mut removed)?;
    }
    for dir in ["qemu/networks", "qemu", "storage"] {
        remove_matching(&etc.join(dir), |p| p.extension().is_some_and(|e| e == "xml"), &mut removed)?;
    }
    Ok(removed)
}

fn remove_matching(dir: &Path, wanted: impl Fn(&Path) -> bool, removed: &mut Vec<PathBuf>) -> Result<(), LabError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(LabError::io("strip libvirt definitions", dir, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| LabError::io("strip libvirt definitions", dir, e))?.path();
        // symlink_metadata: autostart entries are links; never follow them.
        let is_dir = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        if is_dir || !wanted(&path) {
            continue;
        }
        fs::remove_file(&path).map_err(|e| LabError::io("strip libvirt definitions", &path, e))?;
        removed.push(path);
    }
    Ok(())
}

fn edit_file(path: &Path, settings: &[(&str, String)]) -> Result<(), LabError> {
    let step = "edit libvirt configuration";
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(LabError::io(step, path, e)),
    };
    let mut text = text;
    for (key, value) in settings {
        text = set_value(&text, key, value);
    }
    fs::write(path, text).map_err(|e| LabError::io(step, path, e))
}

/// Sets `key = value` in a libvirt configuration file's text: every active
/// assignment of `key` (including a list continued over several lines) is
/// removed and one assignment is appended. Comments are left alone.
pub fn set_value(text: &str, key: &str, value: &str) -> String {
    let mut out = String::with_capacity(text.len() + key.len() + value.len() + 4);
    let mut in_list = false;
    for line in text.lines() {
        if in_list {
            in_list = !line.contains(']');
            continue;
        }
        if let Some(rest) = assignment_value(line, key) {
            in_list = rest.trim_start().starts_with('[') && !rest.contains(']');
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&format!("{key} = {value}\n"));
    out
}

/// If `line` assigns `key`, the text after `=`.
fn assignment_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.trim_start().strip_prefix(key)?;
    rest.trim_start().strip_prefix('=')
}

/// A string value in libvirt's configuration syntax.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn owned(settings: &[(&'static str, &'static str)]) -> Vec<(&'static str, String)> {
    settings.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_value_appends_when_only_commented() {
        let text = "# comment\n#user = \"libvirt-qemu\"\n";
        assert_eq!(set_value(text, "user", "\"root\""), "# comment\n#user = \"libvirt-qemu\"\nuser = \"root\"\n");
    }

    #[test]
    fn set_value_replaces_active_assignments() {
        let text = "user = \"qemu\"\nusername = \"x\"\n  user=\"other\"\nkeep = 1";
        assert_eq!(set_value(text, "user", "\"root\""), "username = \"x\"\nkeep = 1\nuser = \"root\"\n");
    }

    #[test]
    fn set_value_removes_multi_line_lists() {
        let text = "namespaces = [\n  \"mount\",\n]\nafter = 1\nother = [ \"a\" ]\n";
        assert_eq!(set_value(text, "namespaces", "[ ]"), "after = 1\nother = [ \"a\" ]\nnamespaces = [ ]\n");
        assert_eq!(set_value("namespaces = [ \"mount\" ]\nx = 1\n", "namespaces", "[ ]"), "x = 1\nnamespaces = [ ]\n");
    }

    #[test]
    fn host_uuid_is_quoted() {
        let text = set_value("", "host_uuid", &quoted("0b6e4c1e-7d0c-4f4e-9a57-3d1d3c9f1a2b"));
        assert_eq!(text, "host_uuid = \"0b6e4c1e-7d0c-4f4e-9a57-3d1d3c9f1a2b\"\n");
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn hosts_file_names_every_possible_host() {
        let text = hosts_file_text();
        assert!(text.starts_with("127.0.0.1 localhost\n"));
        assert!(text.contains("\n10.77.0.1 vs-lab-h1 vs-lab-h1.lab.virtsmoke.test\n"));
        assert!(text.ends_with("\n10.77.0.8 vs-lab-h8 vs-lab-h8.lab.virtsmoke.test\n"));
    }

    #[test]
    fn strip_definitions_keeps_configuration_files() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path();
        for d in ["qemu/networks/autostart", "qemu/autostart", "storage/autostart", "nwfilter"] {
            fs::create_dir_all(etc.join(d)).unwrap();
        }
        for f in
            ["qemu.conf", "qemu/networks/default.xml", "qemu/vm1.xml", "storage/pool.xml", "nwfilter/clean-traffic.xml"]
        {
            fs::write(etc.join(f), "x").unwrap();
        }
        std::os::unix::fs::symlink("../default.xml", etc.join("qemu/networks/autostart/default.xml")).unwrap();
        std::os::unix::fs::symlink("../vm1.xml", etc.join("qemu/autostart/vm1.xml")).unwrap();

        let mut removed: Vec<_> = strip_definitions(etc)
            .unwrap()
            .into_iter()
            .map(|p| p.strip_prefix(etc).unwrap().to_string_lossy().into_owned())
            .collect();
        removed.sort();
        assert_eq!(
            removed,
            [
                "qemu/autostart/vm1.xml",
                "qemu/networks/autostart/default.xml",
                "qemu/networks/default.xml",
                "qemu/vm1.xml",
                "storage/pool.xml"
            ]
        );
        assert!(etc.join("qemu.conf").exists());
        assert!(etc.join("nwfilter/clean-traffic.xml").exists());
        assert!(etc.join("qemu/networks").is_dir());
    }
}
