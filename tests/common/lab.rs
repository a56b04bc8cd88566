//! The lab's hosts as `virtsmoke lab status --json` reports them: the tests
//! take URIs, namespaces, dom0's SSH address and key from here, and fill the
//! fixtures' placeholders (`@h1.uri@`, `@xen1.ssh@`, ...) with them, so that
//! nothing of the lab's layout is copied into a test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;

use super::{BIN, text, virtsmoke};

/// `virtsmoke lab status --json`: the KVM lab's fields plus `xen`.
#[derive(Debug, Clone, Deserialize)]
pub struct LabStatus {
    pub dir: PathBuf,
    #[serde(default)]
    pub hosts: Vec<KvmHost>,
    #[serde(default)]
    pub xen: Vec<XenHost>,
}

/// A KVM lab host (a network namespace with its own libvirtd).
#[derive(Debug, Clone, Deserialize)]
pub struct KvmHost {
    /// `h1`
    pub name: String,
    /// `vs-lab-h1`
    pub netns: String,
    /// `qemu+unix:///system?socket=DIR/h1/run/libvirt-sock`
    pub uri: String,
    /// `vsbr0`
    pub bridge: String,
    pub libvirtd_pid: Option<i32>,
    pub virtlogd_pid: Option<i32>,
    /// dnsmasq's lease file (h1 only).
    pub leases: Option<PathBuf>,
    pub healthy: bool,
}

/// A nested Xen lab host, reached over SSH to dom0.
#[derive(Debug, Clone, Deserialize)]
pub struct XenHost {
    /// `xen1`
    pub name: String,
    /// `xen+ssh://root@127.0.0.1:2221/system?keyfile=...&no_tty=1`
    pub uri: String,
    /// dom0's SSH server, `127.0.0.1:2221`: a scenario host's `jump.address`.
    pub ssh: String,
    /// The key that logs in to dom0 as root.
    pub key: PathBuf,
    /// The file that records dom0's host keys: a scenario host's `jump.known_hosts`.
    pub known_hosts: PathBuf,
    /// The build it runs: `{"suite": "trixie", "xen_version": ..., "libvirt_version": ...,
    /// "local_packages": {NAME: VERSION}}`.
    #[serde(default)]
    pub dom0: Option<serde_json::Value>,
    /// The host's QEMU, if it runs.
    #[serde(default)]
    pub qemu_pid: Option<i32>,
    pub healthy: bool,
}

impl LabStatus {
    pub fn parse(json: &str) -> Result<LabStatus, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// Asks the built binary now (pids change when a test restarts a daemon).
    pub fn read() -> LabStatus {
        let out = Command::new(BIN).args(["lab", "status", "--json"]).output().expect("run virtsmoke lab status");
        LabStatus::parse(&String::from_utf8_lossy(&out.stdout))
            .unwrap_or_else(|e| panic!("`virtsmoke lab status --json` is not the lab's status ({e}): {}", text(&out)))
    }

    /// KVM host `name` (`h1`), which must be up.
    pub fn kvm(&self, name: &str) -> &KvmHost {
        self.hosts.iter().find(|h| h.name == name).unwrap_or_else(|| {
            panic!("the lab has no KVM host {name}: `virtsmoke lab up --hosts 2` first (ci/test does): {self:?}")
        })
    }

    /// Xen host `name` (`xen1`), which must be up.
    pub fn xen(&self, name: &str) -> &XenHost {
        self.xen.iter().find(|h| h.name == name).unwrap_or_else(|| {
            panic!("the lab has no Xen host {name}: `virtsmoke lab up --xen 1` first (ci/test does): {self:?}")
        })
    }

    /// `text` with every placeholder `@HOST.FIELD@` replaced by that host's
    /// value (KVM hosts: `uri`, `netns`, `bridge`,
    /// `leases` (h1); Xen hosts: `uri`, `ssh`,
    /// `key`, `known_hosts`). Fails on a placeholder of a host the lab does not have.
    pub fn render(&self, text: &str) -> String {
        let mut out = text.to_string();
        for h in &self.hosts {
            let leases = h.leases.as_ref().map(|p| p.display().to_string());
            for (field, value) in [("uri", Some(&h.uri)), ("netns", Some(&h.netns)), ("bridge", Some(&h.bridge))]
                .into_iter()
                .chain([("leases", leases.as_ref())])
            {
                if let Some(value) = value {
                    out = out.replace(&format!("@{}.{field}@", h.name), value);
                }
            }
        }
        for h in &self.xen {
            let key = h.key.display().to_string();
            let known_hosts = h.known_hosts.display().to_string();
            for (field, value) in [("uri", &h.uri), ("ssh", &h.ssh), ("key", &key), ("known_hosts", &known_hosts)] {
                out = out.replace(&format!("@{}.{field}@", h.name), value);
            }
        }
        if let Some(left) = placeholders(&out).first() {
            panic!("placeholder {left} names no host of the lab: {self:?}");
        }
        out
    }

    /// The fixture at `path` (relative to the repository) with its placeholders
    /// filled, as a temporary file.
    pub fn render_file(&self, path: &str) -> tempfile::TempPath {
        let source = super::root().join(path);
        let text = std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        let mut file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
        std::io::Write::write_all(&mut file, self.render(&text).as_bytes()).unwrap();
        file.into_temp_path()
    }
}

/// The `@HOST.FIELD@` placeholders left in `text`.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (start, _) in text.match_indices('@') {
        let rest = &text[start + 1..];
        let Some(end) = rest.find('@') else { break };
        let inner = &rest[..end];
        let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if let Some((host, field)) = inner.split_once('.')
            && word(host)
            && word(field)
        {
            found.push(format!("@{inner}@"));
        }
    }
    found
}

/// The lab as it was when a test of this binary first asked.
pub fn lab() -> &'static LabStatus {
    static LAB: OnceLock<LabStatus> = OnceLock::new();
    LAB.get_or_init(LabStatus::read)
}

/// The first KVM host, `h1`.
pub fn h1() -> &'static KvmHost {
    lab().kvm("h1")
}

/// The first Xen host, `xen1`.
pub fn xen1() -> &'static XenHost {
    lab().xen("xen1")
}

/// A lab fixture (`tests/fixtures/e2e/NAME`) filled in for the lab that is up.
pub fn lab_fixture(name: &str) -> tempfile::TempPath {
    lab().render_file(&format!("tests/fixtures/e2e/{name}"))
}

impl XenHost {
    /// dom0's SSH server as (address, port).
    pub fn ssh_address(&self) -> (&str, &str) {
        self.ssh.rsplit_once(':').unwrap_or_else(|| panic!("no port in dom0's SSH address {}", self.ssh))
    }

    /// The options `ssh` and `scp` take to log in to dom0 as root.
    fn ssh_options(&self) -> Vec<String> {
        let mut args = vec!["-i".to_string(), self.key.display().to_string()];
        let known = format!("UserKnownHostsFile={}", self.known_hosts.display());
        for o in ["BatchMode=yes", "StrictHostKeyChecking=yes", &known, "LogLevel=ERROR"] {
            args.extend(["-o".to_string(), o.to_string()]);
        }
        args
    }

    /// Runs `script` in dom0 as root, which must succeed; its stdout.
    pub fn dom0(&self, script: &str) -> String {
        let (address, port) = self.ssh_address();
        let out = Command::new("ssh")
            .args(["-p", port])
            .args(self.ssh_options())
            .arg(format!("root@{address}"))
            .arg(script)
            .output()
            .expect("run ssh");
        assert!(out.status.success(), "in dom0 of {}: {script}: {}", self.name, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Copies a file of this machine to `remote` in dom0.
    pub fn scp_to(&self, local: &Path, remote: &str) {
        let (address, port) = self.ssh_address();
        let out = Command::new("scp")
            .args(["-q", "-P", port])
            .args(self.ssh_options())
            .arg(local)
            .arg(format!("root@{address}:{remote}"))
            .output()
            .expect("run scp");
        assert!(out.status.success(), "scp {}: {}", local.display(), String::from_utf8_lossy(&out.stderr));
    }

    /// `virsh -c URI ARGS`, which must succeed.
    pub fn virsh(&self, args: &[&str]) {
        let out = Command::new("virsh").args(["-c", &self.uri]).args(args).output().expect("run virsh");
        assert!(out.status.success(), "virsh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// A scenario host's `jump:` mapping that reaches dom0.
    pub fn jump_yaml(&self) -> String {
        format!(
            "{{ address: \"{}\", user: root, key: {}, known_hosts: {} }}",
            self.ssh,
            self.key.display(),
            self.known_hosts.display()
        )
    }

    /// Nothing of the run is left on the host: no domain, no run directory in dom0.
    pub fn assert_no_leftovers(&self, run: &str) {
        let out = virtsmoke(&["cleanup", "--uri", &self.uri, "--run", run, "--dry-run"]);
        let listed = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && listed.contains("nothing to clean up"),
            "leftovers of run {run}: {}",
            text(&out)
        );
        let files = self.dom0(&format!("ls -d /var/tmp/virtsmoke/runs/{run} 2>/dev/null || true"));
        assert!(files.trim().is_empty(), "the run's directory is left in dom0: {files}");
    }
}
