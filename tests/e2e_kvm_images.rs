//! End-to-end on the KVM lab: full distributions from disk images
//! (`virtsmoke lab up`). The builtin `debian-disk` image (built on first use,
//! about a minute) boots under TCG with its run's key in a cloud-init NoCloud
//! seed, on a per-guest overlay that must vanish with the run while the base
//! image stays byte for byte the same; and the SSH host key is checked against
//! what the guest printed, or pinned on first use when it printed nothing.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

/// `sha256sum` (the debug build's own SHA-256 is slow on a 120 MB image).
fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("run sha256sum");
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}

/// The built `debian-disk` image's directory (built here if the cache lacks it).
fn debian_disk() -> PathBuf {
    let out = virtsmoke(&["image", "build", "debian-disk"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn debian_disk_boots_with_seed_verified_host_key_and_leaves_its_base_alone() {
    let base = debian_disk().join("disk.qcow2");
    let before = sha256(&base);
    let ran = run_scenario("scenarios/local-debian.yaml", &[]);
    assert_eq!(ran.out.status.code(), Some(0), "{}", text(&ran.out));
    let (run, arts) = (ran.run_id(), &ran.artifacts);
    xmllint_schema(&ran.junit);

    let xml = std::fs::read_to_string(&ran.junit).unwrap();
    assert!(xml.contains("<testsuite name=\"local-debian/debian@lab1\""), "{xml}");
    let doc = ran.json();
    let c = case(&doc, "local-debian/debian@lab1");
    assert_eq!(c["outcome"], "passed", "{c:#}");
    for s in [
        "boot.running",
        "boot.console",
        "boot.address",
        "boot.ssh",
        "boot.kind",
        "boot.systemd",
        "boot.cloud-init",
        "hostname",
        "scenario-cloud-config",
        "root-filesystem",
        "teardown",
    ] {
        assert_eq!(step(c, s)["outcome"], "passed", "{s}: {c:#}");
        assert!(xml.contains(&format!("<testcase name=\"{s}\"")), "missing testcase {s}");
    }
    // Readiness, host key and seed, as the case's properties say.
    assert_eq!(prop(c, "debian.systemd_state"), "running");
    assert_eq!(prop(c, "debian.cloud_init_status"), "done");
    assert!(prop(c, "debian.cloud_init_detail").contains("DataSourceNoCloud"), "{c:#}");
    assert!(prop(c, "debian.host_key").starts_with("verified"), "{c:#}");
    assert!(prop(c, "debian.host_key_sha256").starts_with("SHA256:"), "{c:#}");
    assert!(prop(c, "debian.kernel").ends_with("-cloud-amd64"), "{c:#}");
    assert!(prop(c, "debian.address").starts_with("10.77.0."), "{c:#}");

    // The guest ran on an overlay and a seed in the run's scratch directory...
    let domain_xml = walk(arts).into_iter().find(|p| p.ends_with("debian.domain.xml")).expect("domain XML artifact");
    let domain_xml = std::fs::read_to_string(domain_xml).unwrap();
    let scratch = format!("/var/tmp/virtsmoke/runs/{run}/vs-{run}-0-debian");
    assert!(domain_xml.contains(&format!("<source file='{scratch}.overlay.qcow2'/>")), "{domain_xml}");
    assert!(domain_xml.contains(&format!("<source file='{scratch}.seed.iso'/>")), "{domain_xml}");
    assert!(domain_xml.contains("<disk type='file' device='cdrom'>"), "{domain_xml}");
    assert!(!domain_xml.contains(&base.display().to_string()), "the base is never attached: {domain_xml}");
    // ...which went with the run; the base image was not written.
    assert_no_leftovers(&run);
    assert_eq!(sha256(&base), before, "{} changed", base.display());
}

/// Two guests side by side: one whose cloud-init prints no fingerprints (the
/// key seen first is trusted and recorded as such), one that prints forged
/// fingerprints (SSH refuses the real key, `boot.ssh` fails and says why).
#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn host_keys_are_pinned_on_first_use_or_refused_when_forged() {
    let base = debian_disk().join("disk.qcow2");
    let before = sha256(&base);
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("host-keys.yaml");
    std::fs::write(
        &scenario,
        format!(
            r#"version: 1
name: e2e-host-keys
hosts:
  lab1:
    uri: "{uri}"
    hypervisor: kvm
    accel: qemu
    netns: {netns}
    bridge: {bridge}
    capacity: {{ guests: 2, memory_mib: 2048 }}
images:
  quiet:
    builtin: debian-disk
    cloud_config: |
      ssh:
        emit_keys_to_console: false
  forged:
    builtin: debian-disk
    cloud_config: |
      ssh:
        emit_keys_to_console: false
      runcmd:
        - printf '%s\n' '-----BEGIN SSH HOST KEY FINGERPRINTS-----' '256 SHA256:Zm9yZ2VkZm9yZ2VkZm9yZ2VkZm9yZ2VkZm9yZ2VkZm9yZ2U root@x (ED25519)' '-----END SSH HOST KEY FINGERPRINTS-----' > /dev/console
guests:
  g: {{ kind: kvm, image: quiet, memory_mib: 512 }}
timeouts: {{ console: 5m, ssh: 3m, case: 12m }}
matrix: {{ image: [quiet, forged] }}
"#,
            uri = h1().uri,
            netns = h1().netns,
            bridge = h1().bridge,
        ),
    )
    .unwrap();
    let ran = run_scenario(scenario.to_str().unwrap(), &["-j", "2"]);
    assert_eq!(ran.out.status.code(), Some(1), "{}", text(&ran.out));
    let doc = ran.json();

    let quiet = case(&doc, "e2e-host-keys/g-quiet@lab1");
    assert_eq!(quiet["outcome"], "passed", "{quiet:#}");
    assert!(prop(quiet, "g.host_key").starts_with("trust-on-first-use"), "{quiet:#}");
    assert!(prop(quiet, "g.host_key_sha256").starts_with("SHA256:"), "{quiet:#}");

    let forged = case(&doc, "e2e-host-keys/g-forged@lab1");
    let ssh = step(forged, "boot.ssh");
    assert_eq!(ssh["outcome"], "failed", "{forged:#}");
    let msg = ssh["message"].as_str().unwrap();
    assert!(msg.contains("none of the fingerprints the guest printed on its console"), "{msg}");
    assert!(msg.contains("SHA256:Zm9yZ2VkZm9yZ2VkZm9yZ2VkZm9yZ2VkZm9yZ2VkZm9yZ2U"), "{msg}");
    assert_eq!(step(forged, "boot.systemd")["outcome"], "skipped", "{forged:#}");
    assert_eq!(step(forged, "teardown")["outcome"], "passed", "{forged:#}");

    assert_no_leftovers(&ran.run_id());
    assert_eq!(sha256(&base), before, "{} changed", base.display());
}

/// The disk's own boot loaders, no kernel from virtsmoke: SeaBIOS runs the
/// disk's GRUB from its MBR, OVMF the disk's GRUB from its EFI partition. Each passes the
/// command line written on the disk, the seed still reaches cloud-init, and
/// nothing of either guest (overlay, seed, UEFI NVRAM) outlives the run.
#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn debian_disk_boots_through_its_own_bios_and_uefi_loaders() {
    let base = debian_disk().join("disk.qcow2");
    let before = sha256(&base);
    let ran = run_scenario("scenarios/local-debian-boot-loaders.yaml", &[]);
    assert_eq!(ran.out.status.code(), Some(0), "{}", text(&ran.out));
    xmllint_schema(&ran.junit);
    let (run, arts, doc) = (ran.run_id(), &ran.artifacts, ran.json());
    for guest in ["bios", "uefi"] {
        let c = case(&doc, &format!("local-debian-boot-loaders/{guest}@lab1"));
        for s in ["boot.ssh", "boot.systemd", "boot.cloud-init", "disk-command-line", "root-filesystem"] {
            assert_eq!(step(c, s)["outcome"], "passed", "{guest} {s}: {c:#}");
        }
        assert!(prop(c, &format!("{guest}.cloud_init_detail")).contains("DataSourceNoCloud"), "{c:#}");
        assert!(prop(c, &format!("{guest}.host_key")).starts_with("verified"), "{c:#}");
        let file = |suffix: &str| {
            let p = walk(arts).into_iter().find(|p| p.ends_with(format!("{guest}.{suffix}"))).expect(suffix);
            // Firmware output is not always UTF-8.
            String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned()
        };
        let xml = file("domain.xml");
        assert!(!xml.contains("<kernel>") && xml.contains("<boot dev='hd'/>"), "{xml}");
        let console = file("console.log");
        // The disk's grub.cfg ran: its menu entry's words, before the kernel's.
        let loader_at =
            console.find("Loading Linux ...").unwrap_or_else(|| panic!("no GRUB entry on {guest}'s console"));
        let kernel_at = console.find("Linux version").expect("kernel banner");
        assert!(loader_at < kernel_at, "GRUB should print before the kernel starts");
    }
    assert_no_leftovers(&run);
    assert_eq!(sha256(&base), before, "{} changed", base.display());
}

/// An image that carries its own login key (here written into root's
/// `authorized_keys` by the scenario's cloud-config, as a vendor image would
/// ship it): with `ssh_key` the run logs in with that key and its seed
/// authorises no key of its own, so a wrong `ssh_key` is refused and the
/// failure names it.
#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn an_image_with_its_own_key_is_logged_in_with_the_scenarios_key() {
    let dir = tempfile::tempdir().unwrap();
    let keygen = |name: &str| {
        let key = dir.path().join(name);
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        key
    };
    let (baked, other) = (keygen("id_baked"), keygen("id_other"));
    let public = std::fs::read_to_string(baked.with_extension("pub")).unwrap();
    let scenario = dir.path().join("own-key.yaml");
    let image = |key: &Path| {
        format!(
            "\n    builtin: debian-disk\n    ssh_key: {}\n    cloud_config: |\n      write_files:\n        \
             - path: /root/.ssh/authorized_keys\n          permissions: '0600'\n          content: {}\n",
            key.display(),
            public.trim()
        )
    };
    std::fs::write(
        &scenario,
        format!(
            "version: 1\nname: e2e-own-key\nhosts:\n  lab1: {{ uri: \"{}\", hypervisor: kvm, accel: qemu, netns: {}, bridge: {}, \
             capacity: {{ guests: 2, memory_mib: 2048 }} }}\nimages:\n  baked:{}  wrong:{}\
             guests:\n  g: {{ kind: kvm, image: baked, memory_mib: 512 }}\n\
             timeouts: {{ console: 5m, ssh: 3m, case: 12m }}\nmatrix: {{ image: [baked, wrong] }}\n",
            h1().uri,
            h1().netns,
            h1().bridge,
            image(&baked),
            image(&other)
        ),
    )
    .unwrap();
    let ran = run_scenario(scenario.to_str().unwrap(), &["-j", "2"]);
    assert_eq!(ran.out.status.code(), Some(1), "{}", text(&ran.out));
    let doc = ran.json();

    let good = case(&doc, "e2e-own-key/g-baked@lab1");
    assert_eq!(good["outcome"], "passed", "{good:#}");
    assert!(prop(good, "g.host_key").starts_with("verified"), "{good:#}");

    let wrong = case(&doc, "e2e-own-key/g-wrong@lab1");
    let ssh = step(wrong, "boot.ssh");
    assert_eq!(ssh["outcome"], "failed", "{wrong:#}");
    let msg = ssh["message"].as_str().unwrap();
    assert!(msg.contains(&format!("refused the key {}", other.display())), "{msg}");

    assert_no_leftovers(&ran.run_id());
}
