//! Hosts: defaults, URIs and hypervisors, capacity, merging across files.

use super::*;
use crate::plan::JumpHostKey;

/// (what, input, exact diagnostics)
const BAD: &[(&str, &str, &str)] = &[
    (
        "accel on a xen host",
        r#"version: 1
name: t
hosts:
  x1:
    uri: "xen:///system"
    accel: kvm
"#,
        r#"error: `accel` is set on xen host `x1`
 --> x.yaml:6:5
  |
6 |     accel: kvm
  |     ^^^^^
  = help: `accel` only applies to kvm hosts; remove it
"#,
    ),
    (
        "hypervisor cannot be inferred from the uri",
        r#"version: 1
name: t
hosts:
  t1:
    uri: "test:///default"
"#,
        r#"error: missing required key `hypervisor` in host `t1`
 --> x.yaml:4:3
  |
4 |   t1:
  |   ^^
  = help: it cannot be told from uri `test:///default`; set `hypervisor: kvm` or `hypervisor: xen`
"#,
    ),
    (
        "hypervisor contradicts the uri",
        r#"version: 1
name: t
hosts:
  k1:
    uri: "qemu:///system"
    hypervisor: xen
"#,
        r#"error: host `k1` says `hypervisor: xen` but its uri `qemu:///system` is a kvm uri
 --> x.yaml:6:17
  |
6 |     hypervisor: xen
  |                 ^^^
  = help: `qemu…` uris manage kvm hosts; `xen…` and `libxl…` uris manage xen hosts
"#,
    ),
    (
        "host capacity exceeded by a cluster",
        r#"version: 1
name: t
hosts:
  lab1: { uri: "qemu:///system", capacity: { guests: 2 } }
images: { tiny: { builtin: test-image } }
guests: { tiny: { kind: kvm, image: tiny } }
cluster: [tiny, tiny, tiny]
"#,
        r#"error: case `t/tiny+tiny+tiny@lab1` boots 3 guests but host `lab1` takes at most 2
 --> x.yaml:7:1
  |
7 | cluster: [tiny, tiny, tiny]
  | ^^^^^^^
  = help: raise `capacity.guests` of host `lab1`, or boot fewer guests
"#,
    ),
    (
        "jump key that is not a file here",
        r#"version: 1
name: t
hosts:
  lab1:
    uri: "qemu+ssh://root@127.0.0.1:2221/system"
    jump: { address: "127.0.0.1:2221", key: /nonexistent/id_ed25519, insecure_host_key: true }
images: { tiny: { kernel: /srv/vmlinuz } }
guests: { tiny: { kind: kvm, image: tiny } }
"#,
        r#"error: `key` in `jump` of host `lab1` `/nonexistent/id_ed25519` is not a file on this machine
 --> x.yaml:6:45
  |
6 |     jump: { address: "127.0.0.1:2221", key: /nonexistent/id_ed25519, insecure_host_key: true }
  |                                             ^^^^^^^^^^^^^^^^^^^^^^^
  = help: `key` is the private key virtsmoke logs in to the host with, read where virtsmoke runs (not on the libvirt host)
"#,
    ),
    (
        "jump address without a port",
        r#"version: 1
name: t
hosts:
  lab1:
    uri: "qemu+ssh://root@qa7.example/system"
    jump: { address: qa7.example, key: /nonexistent/id_ed25519, insecure_host_key: true }
images: { tiny: { kernel: /srv/vmlinuz } }
guests: { tiny: { kind: kvm, image: tiny } }
"#,
        r#"error: `address` of the jump host of `lab1` must be HOST:PORT, found `qa7.example`
 --> x.yaml:6:22
  |
6 |     jump: { address: qa7.example, key: /nonexistent/id_ed25519, insecure_host_key: true }
  |                      ^^^^^^^^^^^
  = help: e.g. `address: "127.0.0.1:2221"` or `address: "qa7.example:22"`

error: `key` in `jump` of host `lab1` `/nonexistent/id_ed25519` is not a file on this machine
 --> x.yaml:6:40
  |
6 |     jump: { address: qa7.example, key: /nonexistent/id_ed25519, insecure_host_key: true }
  |                                        ^^^^^^^^^^^^^^^^^^^^^^^
  = help: `key` is the private key virtsmoke logs in to the host with, read where virtsmoke runs (not on the libvirt host)
"#,
    ),
    (
        "jump host key not checked",
        r#"version: 1
name: t
hosts:
  lab1:
    uri: "qemu+ssh://root@127.0.0.1:2221/system"
    jump: { address: "127.0.0.1:2221", key: /etc/passwd }
images: { tiny: { kernel: /srv/vmlinuz } }
guests: { tiny: { kind: kvm, image: tiny } }
"#,
        r#"error: missing required key `known_hosts` in `jump` of host `lab1`
 --> x.yaml:6:5
  |
6 |     jump: { address: "127.0.0.1:2221", key: /etc/passwd }
  |     ^^^^
  = help: virtsmoke checks the jump host's SSH key before it logs in: name a known_hosts file that records it (`known_hosts: PATH`), or pin it (`host_key: "SHA256:..."`); `insecure_host_key: true` accepts any key
"#,
    ),
    (
        "jump host key checked two ways",
        r#"version: 1
name: t
hosts:
  lab1:
    uri: "qemu+ssh://root@127.0.0.1:2221/system"
    jump: { address: "127.0.0.1:2221", key: /etc/passwd, known_hosts: /etc/passwd, host_key: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU" }
images: { tiny: { kernel: /srv/vmlinuz } }
guests: { tiny: { kind: kvm, image: tiny } }
"#,
        r#"error: the jump host of `lab1` has both `known_hosts` and `host_key`
 --> x.yaml:6:84
  |
6 |     jump: { address: "127.0.0.1:2221", key: /etc/passwd, known_hosts: /etc/passwd, host_key: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU" }
  |                                                                                    ^^^^^^^^
  = help: keep one: the key is checked against a known_hosts file or a pinned fingerprint
"#,
    ),
    (
        "jump host key fingerprint of the wrong form",
        r#"version: 1
name: t
hosts:
  lab1:
    uri: "qemu+ssh://root@127.0.0.1:2221/system"
    jump: { address: "127.0.0.1:2221", key: /etc/passwd, host_key: "MD5:d4:1d:8c:d9" }
images: { tiny: { kernel: /srv/vmlinuz } }
guests: { tiny: { kind: kvm, image: tiny } }
"#,
        r#"error: `host_key` in `jump` of host `lab1` `MD5:d4:1d:8c:d9` is not a SHA256 fingerprint
 --> x.yaml:6:68
  |
6 |     jump: { address: "127.0.0.1:2221", key: /etc/passwd, host_key: "MD5:d4:1d:8c:d9" }
  |                                                                    ^^^^^^^^^^^^^^^^^
  = help: `SHA256:` and 43 base64 characters, as `ssh-keygen -lf KEY.pub` prints it
"#,
    ),
    (
        "jump host known_hosts that is not a file here",
        r#"version: 1
name: t
hosts:
  lab1:
    uri: "qemu+ssh://root@127.0.0.1:2221/system"
    jump: { address: "127.0.0.1:2221", key: /etc/passwd, known_hosts: /nonexistent/known_hosts }
images: { tiny: { kernel: /srv/vmlinuz } }
guests: { tiny: { kind: kvm, image: tiny } }
"#,
        r#"error: `known_hosts` in `jump` of host `lab1` `/nonexistent/known_hosts` is not a file on this machine
 --> x.yaml:6:71
  |
6 |     jump: { address: "127.0.0.1:2221", key: /etc/passwd, known_hosts: /nonexistent/known_hosts }
  |                                                                       ^^^^^^^^^^^^^^^^^^^^^^^^
  = help: `known_hosts` is an OpenSSH known_hosts file on the machine running virtsmoke that records the jump host's key (`virtsmoke lab status --json` names the lab's)
"#,
    ),
    (
        "jump host key both checked and not",
        r#"version: 1
name: t
hosts:
  lab1:
    uri: "qemu+ssh://root@127.0.0.1:2221/system"
    jump: { address: "127.0.0.1:2221", key: /etc/passwd, host_key: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", insecure_host_key: true }
images: { tiny: { kernel: /srv/vmlinuz } }
guests: { tiny: { kind: kvm, image: tiny } }
"#,
        r#"error: the jump host of `lab1` has `insecure_host_key: true` and a key to check
 --> x.yaml:6:141
  |
6 |     jump: { address: "127.0.0.1:2221", key: /etc/passwd, host_key: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", insecure_host_key: true }
  |                                                                                                                                             ^^^^
  = help: remove `insecure_host_key` to check the key, or the check to accept any key
"#,
    ),
    (
        "jump host insecure_host_key that is not a boolean",
        r#"version: 1
name: t
hosts:
  lab1:
    uri: "qemu+ssh://root@127.0.0.1:2221/system"
    jump: { address: "127.0.0.1:2221", key: /etc/passwd, insecure_host_key: "yes" }
images: { tiny: { kernel: /srv/vmlinuz } }
guests: { tiny: { kind: kvm, image: tiny } }
"#,
        r#"error: wrong type for `insecure_host_key` in `jump` of host `lab1`: expected `true` or `false`, found a string
 --> x.yaml:6:77
  |
6 |     jump: { address: "127.0.0.1:2221", key: /etc/passwd, insecure_host_key: "yes" }
  |                                                                             ^^^^^
"#,
    ),
];

#[test]
fn bad_inputs_give_exact_diagnostics() {
    check_bad(BAD);
}

const GOOD: &str = r#"version: 1
name: local-kvm
description: "two hosts, a builtin image and files"
hosts:
  lab1:
    uri: "qemu+unix:///system?socket=/var/tmp/virtsmoke-lab/h1/run/libvirt-sock"
    netns: vs-lab-h1
    roles: [migration-target]
    labels: { rack: a, slot: 3, on: yes }
  lab0:
    uri: "qemu:///system"
    accel: qemu
    bridge: br-test
    capacity: { guests: 8, memory_mib: 16384, when_full: skip }
images:
  tiny:
    builtin: test-image
    cmdline: yes
  custom:
    kernel: /boot/vmlinuz
    initrd: /boot/initrd.img
guests:
  tiny:
    kind: kvm
    image: tiny
  pair:
    kind: kvm
    image: custom
    memory_mib: 512
    vcpus: 2
    count: 2
    network: none
checks:
  - command: { run: "uname -r", expect_output: "6.1" }
  - boot
  - command: { name: exit-three, run: "exit 3", expect_exit: 3 }
timeouts:
  console: 2m
  case: 1h 5m
"#;

#[test]
fn defaults_are_filled_and_every_guest_runs_on_every_host() {
    let plan = plan(GOOD);
    assert_eq!(
        case_names(&plan),
        ["local-kvm/pair@lab0", "local-kvm/tiny@lab0", "local-kvm/pair@lab1", "local-kvm/tiny@lab1"]
    );

    let lab1 = &plan.hosts["lab1"];
    assert_eq!(lab1.hypervisor, Hypervisor::Kvm);
    assert_eq!(lab1.accel, crate::plan::AccelPreference::Auto);
    assert_eq!(lab1.bridge, "virbr0");
    assert_eq!(lab1.netns.as_deref(), Some("vs-lab-h1"));
    assert_eq!((lab1.capacity.guests, lab1.capacity.memory_mib), (4, 8192));
    assert_eq!(lab1.capacity.when_full, crate::plan::WhenFull::Wait { up_to: std::time::Duration::from_secs(1800) });
    assert_eq!(plan.hosts["lab0"].capacity.when_full, crate::plan::WhenFull::Skip);
    assert_eq!(lab1.roles, ["migration-target"]);
    assert_eq!(lab1.labels.get("slot").map(String::as_str), Some("3"));
    assert_eq!(lab1.labels.get("on").map(String::as_str), Some("yes"), "`yes` is a string");
    let lab0 = &plan.hosts["lab0"];
    assert_eq!(
        (lab0.accel, lab0.bridge.as_str(), lab0.capacity.guests),
        (crate::plan::AccelPreference::Qemu, "br-test", 8)
    );

    let tiny = &plan.cases[1];
    assert_eq!(tiny.scenario, "local-kvm");
    assert_eq!(tiny.host, "lab0");
    assert_eq!(tiny.source, Path::new("x.yaml"));
    assert_eq!(tiny.matrix.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(), ["guest=tiny", "host=lab0"]);
    let [g] = tiny.guests.as_slice() else { panic!("one guest expected") };
    assert_eq!((g.name.as_str(), g.kind, g.memory_mib, g.vcpus), ("tiny", GuestKind::Kvm, 256, 1));
    assert_eq!(g.network, GuestNetwork::Dhcp);
    assert_eq!(g.image.spec, ImageSpec::Builtin { name: "test-image".into() });
    assert_eq!(g.image.cmdline.as_deref(), Some("yes"), "`yes` is a string");

    let pair = &plan.cases[0];
    let names: Vec<_> = pair.guests.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["pair-1", "pair-2"]);
    assert_eq!((pair.guests[0].memory_mib, pair.guests[0].vcpus), (512, 2));
    assert_eq!(pair.guests[1].network, GuestNetwork::None);
    assert_eq!(
        pair.guests[0].image.spec,
        ImageSpec::Files { kernel: Some("/boot/vmlinuz".into()), initrd: Some("/boot/initrd.img".into()), disk: None }
    );

    let checks: Vec<_> = tiny.checks.iter().map(CheckSpec::name).collect();
    assert_eq!(checks, ["boot", "command-1", "exit-three"], "boot first, commands numbered");
    assert_eq!(
        tiny.checks[1],
        CheckSpec::Command {
            name: "command-1".into(),
            run: "uname -r".into(),
            expect_exit: 0,
            expect_output: Some("6.1".into()),
            retries: 0,
        }
    );
    let t = tiny.timeouts;
    assert_eq!((t.console.as_secs(), t.case.as_secs(), t.running.as_secs()), (120, 3900, 60));
    assert_eq!((t.address.as_secs(), t.ssh.as_secs(), t.command.as_secs()), (120, 120, 60));
}

const HOSTS_ONLY: &str = "version: 1\nname: lab\nhosts:\n  lab1: { uri: \"qemu:///system\" }\n";

#[test]
fn files_merge_hosts_and_concatenate_cases() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = write(&dir, "hosts.yaml", HOSTS_ONLY.as_bytes());
    let a = write(
        &dir,
        "a.yaml",
        b"version: 1\nname: a\nimages: { i: { builtin: test-image } }\nguests: { g: { kind: kvm, image: i } }\n",
    );
    let b = write(
        &dir,
        "b.yaml",
        format!("{HOSTS_ONLY}images: {{ i: {{ builtin: test-image }} }}\nguests: {{ z: {{ kind: kvm, image: i }} }}\n")
            .replace("name: lab", "name: b")
            .as_bytes(),
    );
    let plan = load(&[hosts, a.clone(), b.clone()]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(case_names(&plan), ["a/g@lab1", "b/z@lab1"]);
    assert_eq!(plan.cases[0].source, a);
    assert_eq!(plan.cases[1].source, b);
    assert_eq!(plan.hosts.len(), 1);
}

#[test]
fn conflicting_hosts_and_duplicate_scenarios_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(&dir, "a.yaml", format!("{HEAD}guests: {{ tiny: {{ kind: kvm, image: tiny }} }}\n").as_bytes());
    let b = write(
        &dir,
        "b.yaml",
        format!("{HEAD}guests: {{ tiny: {{ kind: kvm, image: tiny }} }}\n")
            .replace("qemu:///system", "qemu:///session")
            .as_bytes(),
    );
    let e = load(&[a.clone(), b.clone()]).unwrap_err();
    let got: Vec<_> = e.diagnostics.iter().map(|d| (d.file.clone(), d.line, d.column, d.message.as_str())).collect();
    assert_eq!(
        got,
        [
            (b.clone(), 2, 7, format!("scenario name `t` is also used by {}", a.display()).as_str()),
            (b.clone(), 3, 10, format!("host `lab1` is defined differently in {}", a.display()).as_str()),
        ]
    );
}

#[test]
fn a_jump_host_key_is_checked_as_the_scenario_says() {
    let dir = tempfile::tempdir().unwrap();
    let (key, known) = (dir.path().join("id"), dir.path().join("known_hosts"));
    std::fs::write(&key, "key").unwrap();
    std::fs::write(&known, "").unwrap();
    let text = |check: &str| {
        format!(
            "version: 1\nname: j\nhosts:\n  x1:\n    uri: \"xen+ssh://root@127.0.0.1:2221/system\"\n    \
             jump: {{ address: \"127.0.0.1:2221\", key: {}, {check} }}\n\
             images: {{ tiny: {{ builtin: test-image }} }}\nguests: {{ tiny: {{ kind: xen-pv, image: tiny }} }}\n",
            key.display()
        )
    };
    let policy = |check: &str| plan(&text(check)).hosts["x1"].jump.clone().unwrap().host_key;
    assert_eq!(policy(&format!("known_hosts: {}", known.display())), JumpHostKey::KnownHosts(known.clone()));
    let fp = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
    assert_eq!(policy(&format!("host_key: \"{fp}=\"")), JumpHostKey::Sha256(fp.into()), "padding dropped");
    assert_eq!(policy("insecure_host_key: true"), JumpHostKey::Insecure);
    let out = errors(&text("insecure_host_key: false"));
    assert!(out.starts_with("error: missing required key `known_hosts` in `jump` of host `x1`"), "{out}");
}

#[test]
fn when_full_is_wait_up_to_a_duration_or_skip() {
    let text = |cap: &str| {
        format!(
            "version: 1\nname: w\nhosts:\n  a: {{ uri: \"qemu:///a\", capacity: {cap} }}\n\
             images: {{ tiny: {{ builtin: test-image }} }}\nguests: {{ g: {{ kind: kvm, image: tiny }} }}\n"
        )
    };
    let p = plan(&text("{ guests: 1, wait_up_to: 5m }"));
    assert_eq!(
        p.hosts["a"].capacity.when_full,
        crate::plan::WhenFull::Wait { up_to: std::time::Duration::from_secs(300) }
    );
    let out = errors(&text("{ when_full: skip, wait_up_to: 5m }"));
    assert!(out.contains("`wait_up_to` in `capacity` of host `a` applies only with `when_full: wait`"), "{out}");
    let out = errors(&text("{ when_full: later }"));
    assert!(out.contains("`when_full` in `capacity` of host `a`"), "{out}");
}
