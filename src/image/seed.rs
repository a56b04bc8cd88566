//! Per-guest cloud-init NoCloud seeds: an ISO 9660 volume labelled `cidata`
//! holding `user-data` (the run's public key, the hostname, the scenario's own
//! cloud-config) and `meta-data` (instance id, hostname), and for a static
//! address `network-config`. Made with Debian's `genisoimage` (or `xorriso`).

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot write {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the NoCloud seed safely")]
    Unsafe(#[source] crate::fsutil::FsError),
    #[error("cannot make the NoCloud seed: neither genisoimage nor xorriso is installed (apt-get install genisoimage)")]
    NoTool,
    #[error("`{tool}` failed to make the NoCloud seed {}: {stderr}", .iso.display())]
    Tool { tool: String, iso: PathBuf, stderr: String },
}

/// A static address for the guest's first NIC, written as `network-config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticNetwork {
    pub mac: String,
    /// `ADDRESS/PREFIX`.
    pub address: String,
    pub gateway: Option<String>,
}

/// What goes into one guest's seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedInput<'a> {
    /// Unique per guest (its domain name): cloud-init runs its per-instance steps once per id.
    pub instance_id: &'a str,
    pub hostname: &'a str,
    /// `ssh-ed25519 AAAA...`: authorised for `user`. `None` when the image
    /// brings its own key (`ssh_key`): the seed then authorises nothing.
    pub public_key: Option<&'a str>,
    /// Who logs in with the key: `root`, or a user the seed creates.
    pub user: &'a str,
    /// The scenario's cloud-config, merged after virtsmoke's.
    pub cloud_config: Option<&'a str>,
    pub network: Option<StaticNetwork>,
}

/// Where a guest's seed lives: in the run's scratch directory, named after its domain.
pub fn seed_path(run_dir: &Path, domain: &str) -> PathBuf {
    run_dir.join(format!("{domain}.seed.iso"))
}

/// A YAML scalar that stays a string whatever it holds (JSON strings are YAML).
fn q(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

pub fn meta_data(input: &SeedInput<'_>) -> String {
    format!("instance-id: {}\nlocal-hostname: {}\n", q(input.instance_id), q(input.hostname))
}

/// virtsmoke's own cloud-config: hostname, the key for the login user, no passwords.
fn virtsmoke_config(input: &SeedInput<'_>) -> String {
    let mut c = format!(
        "#cloud-config\n# virtsmoke: guest {}\nhostname: {}\npreserve_hostname: false\nssh_pwauth: false\n",
        input.instance_id,
        q(input.hostname)
    );
    let Some(key) = input.public_key.map(q) else {
        return c;
    };
    if input.user == "root" {
        // Without this, cloud-init makes root's key print "login as the default user".
        c.push_str(&format!("disable_root: false\nssh_authorized_keys:\n  - {key}\n"));
    } else {
        c.push_str(&format!(
            "users:\n  - name: {}\n    lock_passwd: true\n    shell: /bin/sh\n    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n    ssh_authorized_keys:\n      - {key}\n",
            q(input.user)
        ));
    }
    c
}

const BOUNDARY: &str = "==virtsmoke-seed==";

/// `user-data`: virtsmoke's cloud-config alone, or a MIME multipart with the
/// scenario's cloud-config after it. The scenario's part merges into virtsmoke's
/// (lists append, mappings merge, its scalars win), so its own `users`,
/// `runcmd` or `ssh_authorized_keys` add to the run's rather than replace them.
pub fn user_data(input: &SeedInput<'_>) -> String {
    let ours = virtsmoke_config(input);
    let Some(theirs) = input.cloud_config else { return ours };
    let theirs = if theirs.trim_start().starts_with("#cloud-config") {
        theirs.to_string()
    } else {
        format!("#cloud-config\n{theirs}")
    };
    let part = |name: &str, merge: Option<&str>, body: &str| {
        let merge = merge.map(|m| format!("Merge-Type: {m}\n")).unwrap_or_default();
        format!(
            "--{BOUNDARY}\nContent-Type: text/cloud-config; charset=\"utf-8\"\nMIME-Version: 1.0\n\
             Content-Transfer-Encoding: 8bit\n{merge}Content-Disposition: attachment; filename=\"{name}\"\n\n{}\n",
            body.trim_end()
        )
    };
    format!(
        "Content-Type: multipart/mixed; boundary=\"{BOUNDARY}\"\nMIME-Version: 1.0\n\n{}{}--{BOUNDARY}--\n",
        part("virtsmoke.cfg", None, &ours),
        part("scenario.cfg", Some("dict(recurse_array,recurse_dict,replace)+list(append)+str()"), &theirs),
    )
}

/// `network-config` (version 2) for a static address, matched by MAC.
pub fn network_config(net: &StaticNetwork) -> String {
    let mut c = format!(
        "version: 2\nethernets:\n  nic0:\n    match:\n      macaddress: {}\n    addresses:\n      - {}\n",
        q(&net.mac.to_ascii_lowercase()),
        q(&net.address)
    );
    if let Some(gw) = &net.gateway {
        let key = if gw.contains(':') { "gateway6" } else { "gateway4" };
        c.push_str(&format!("    {key}: {}\n", q(gw)));
    }
    c
}

/// Writes the seed's files and packs them into the ISO `iso` (volume `cidata`).
/// The seed carries the scenario's cloud-config: its staging directory is
/// 0700, its files and the ISO 0600, and none is written through a symbolic
/// link someone planted.
pub async fn write(input: &SeedInput<'_>, iso: &Path) -> Result<(), SeedError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let staging = iso.with_extension("d");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SeedError::Io { path, source }
    };
    // remove_dir_all removes a link, not what it points to.
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::DirBuilder::new().mode(0o700).create(&staging).map_err(io(&staging))?;
    let mut files = vec![("user-data", user_data(input)), ("meta-data", meta_data(input))];
    if let Some(net) = &input.network {
        files.push(("network-config", network_config(net)));
    }
    for (name, text) in &files {
        crate::fsutil::write_new(&staging.join(name), text.as_bytes(), 0o600).map_err(SeedError::Unsafe)?;
    }
    let _ = std::fs::remove_file(iso);
    // The packer opens the ISO by name: it is made here first, so that it never follows a link.
    let result = match crate::fsutil::create_new(iso, 0o600) {
        Ok(_) => pack(&staging, files.iter().map(|(n, _)| *n), iso).await,
        Err(e) => Err(SeedError::Unsafe(e)),
    };
    let _ = std::fs::remove_dir_all(&staging);
    result?;
    std::fs::set_permissions(iso, std::fs::Permissions::from_mode(0o600)).map_err(io(iso))
}

/// `genisoimage -output ISO -volid cidata -joliet -rock FILES` (or the same through `xorriso -as mkisofs`).
async fn pack(dir: &Path, files: impl Iterator<Item = &str> + Clone, iso: &Path) -> Result<(), SeedError> {
    for (tool, pre) in [("genisoimage", &[][..]), ("xorriso", &["-as", "mkisofs"][..])] {
        let out = tokio::process::Command::new(tool)
            .args(pre)
            .args(["-quiet", "-volid", "cidata", "-joliet", "-rock", "-output"])
            .arg(iso)
            .args(files.clone())
            .current_dir(dir)
            .output()
            .await;
        match out {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(SeedError::Io { path: PathBuf::from(tool), source: e }),
            Ok(o) if o.status.success() => return Ok(()),
            Ok(o) => {
                return Err(SeedError::Tool {
                    tool: tool.to_string(),
                    iso: iso.to_path_buf(),
                    stderr: String::from_utf8_lossy(&o.stderr).trim().to_string(),
                });
            }
        }
    }
    Err(SeedError::NoTool)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SeedInput<'static> {
        SeedInput {
            instance_id: "vs-r1-0-deb",
            hostname: "deb",
            public_key: Some("ssh-ed25519 AAAAC3Nza"),
            user: "root",
            cloud_config: None,
            network: None,
        }
    }

    #[test]
    fn root_gets_the_key_and_no_password() {
        assert_eq!(meta_data(&input()), "instance-id: \"vs-r1-0-deb\"\nlocal-hostname: \"deb\"\n");
        assert_eq!(
            user_data(&input()),
            "#cloud-config\n# virtsmoke: guest vs-r1-0-deb\nhostname: \"deb\"\npreserve_hostname: false\nssh_pwauth: false\n\
             disable_root: false\nssh_authorized_keys:\n  - \"ssh-ed25519 AAAAC3Nza\"\n"
        );
    }

    #[test]
    fn another_user_is_created_with_the_key() {
        let ud = user_data(&SeedInput { user: "tester", ..input() });
        assert!(ud.contains("users:\n  - name: \"tester\"\n"), "{ud}");
        assert!(ud.contains("      - \"ssh-ed25519 AAAAC3Nza\"\n"), "{ud}");
        assert!(!ud.contains("disable_root"), "{ud}");
        let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&ud).unwrap();
        assert_eq!(parsed["users"][0]["ssh_authorized_keys"][0].as_str(), Some("ssh-ed25519 AAAAC3Nza"));
    }

    #[test]
    fn an_image_with_its_own_key_gets_none_authorised() {
        for user in ["root", "tester"] {
            let ud = user_data(&SeedInput { public_key: None, user, ..input() });
            assert!(!ud.contains("ssh_authorized_keys") && !ud.contains("users:"), "{ud}");
            assert!(ud.contains("hostname: \"deb\"") && ud.contains("ssh_pwauth: false"), "{ud}");
        }
    }

    #[test]
    fn scenario_config_is_a_second_part_merged_in() {
        let ud = user_data(&SeedInput { cloud_config: Some("runcmd:\n  - touch /x\n"), ..input() });
        assert!(ud.starts_with("Content-Type: multipart/mixed; boundary=\"==virtsmoke-seed==\"\n"), "{ud}");
        let parts: Vec<&str> = ud.split("--==virtsmoke-seed==").collect();
        assert_eq!(parts.len(), 4, "{ud}");
        assert!(parts[1].contains("filename=\"virtsmoke.cfg\"\n\n#cloud-config\n"), "{}", parts[1]);
        assert!(parts[2].contains("Merge-Type: dict(recurse_array,recurse_dict,replace)+list(append)+str()\n"));
        assert!(parts[2].ends_with("\n\n#cloud-config\nruncmd:\n  - touch /x\n"), "{}", parts[2]);
        assert_eq!(parts[3], "--\n");
    }

    #[test]
    fn static_address_is_matched_by_mac() {
        let net = StaticNetwork {
            mac: "52:54:00:AA:00:01".into(),
            address: "10.0.0.5/24".into(),
            gateway: Some("10.0.0.1".into()),
        };
        let nc = network_config(&net);
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&nc).unwrap();
        assert_eq!(v["ethernets"]["nic0"]["match"]["macaddress"].as_str(), Some("52:54:00:aa:00:01"));
        assert_eq!(v["ethernets"]["nic0"]["addresses"][0].as_str(), Some("10.0.0.5/24"));
        assert_eq!(v["ethernets"]["nic0"]["gateway4"].as_str(), Some("10.0.0.1"));
    }

    #[tokio::test]
    async fn the_iso_is_labelled_cidata() {
        let dir = tempfile::tempdir().unwrap();
        let iso = seed_path(dir.path(), "vs-r1-0-deb");
        match write(&input(), &iso).await {
            Err(SeedError::NoTool) => {
                eprintln!("skipped: no genisoimage or xorriso");
                return;
            }
            r => r.unwrap(),
        }
        let bytes = std::fs::read(&iso).unwrap();
        // The primary volume descriptor at sector 16: the volume id at offset 40.
        assert_eq!(&bytes[16 * 2048 + 1..16 * 2048 + 6], b"CD001");
        assert_eq!(&bytes[16 * 2048 + 40..16 * 2048 + 46], b"cidata");
        assert!(bytes.windows(9).any(|w| w == b"user-data" || w == b"meta-data"));
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["vs-r1-0-deb.seed.iso"], "the staging directory is removed");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&iso).unwrap().permissions().mode() & 0o7777, 0o600, "it holds the cloud-config");
    }

    #[tokio::test]
    async fn a_link_planted_for_the_staging_files_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let iso = seed_path(dir.path(), "vs-r1-0-deb");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        // The staging directory itself planted as a link to a directory holding a link named user-data.
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&victim, elsewhere.join("user-data")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, iso.with_extension("d")).unwrap();
        match write(&input(), &iso).await {
            Err(SeedError::NoTool) => eprintln!("no genisoimage or xorriso: only the files are checked"),
            r => r.unwrap(),
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert!(elsewhere.join("user-data").is_symlink(), "what the link pointed into is left alone");
    }
}
