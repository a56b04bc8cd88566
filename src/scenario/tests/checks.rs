//! Checks: `boot`, `command`, `network`, `migrate` and the lifecycle checks.

use super::*;

/// (what, input, exact diagnostics)
const BAD: &[(&str, &str, &str)] = &[
    (
        "lifecycle check errors",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
checks:
  - reboot: { via: acpi }
  - save-restore: { file: x }
  - shutdown
  - pause-resume
"#,
        r#"error: `via` of check 1 (`reboot`) must be one of guest, libvirt, found `acpi`
 --> x.yaml:7:20
  |
7 |   - reboot: { via: acpi }
  |                    ^^^^
  = help: `guest`: `reboot` inside the guest; `libvirt`: libvirt's reboot (ACPI or Xen's control path)

error: check `save-restore` takes no settings
 --> x.yaml:8:19
  |
8 |   - save-restore: { file: x }
  |                   ^
  = help: write `- save-restore`

error: check `pause-resume` comes after `shutdown`, when the guests are gone
  --> x.yaml:10:5
   |
10 |   - pause-resume
   |     ^^^^^^^^^^^^
   = help: put `shutdown` last
"#,
    ),
    (
        "command check errors",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
checks:
  - command
  - command: { name: Kernel Version, run: "uname -r" }
  - command: { run: "true", expect_exit: -1 }
  - { command: { run: a }, boot: ~ }
"#,
        r#"error: check 1 (`command`) needs settings
 --> x.yaml:7:5
  |
7 |   - command
  |     ^^^^^^^
  = help: write `- command: { run: "uname -r" }`

error: invalid check name `Kernel Version`
 --> x.yaml:8:22
  |
8 |   - command: { name: Kernel Version, run: "uname -r" }
  |                      ^^^^^^^^^^^^^^
  = help: names use lowercase letters, digits and `-`, and start with a letter or digit

error: `expect_exit` in check 3 (`command`) must be between 0 and 255, found -1
 --> x.yaml:9:42
  |
9 |   - command: { run: "true", expect_exit: -1 }
  |                                          ^^

error: check 4 has more than one key
  --> x.yaml:10:28
   |
10 |   - { command: { run: a }, boot: ~ }
   |                            ^^^^
   = help: start each check with its own `- `
"#,
    ),
    (
        "network check errors",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
checks:
  - network: { checks: [adress, ping, ping], tcp_port: 0, dns_name: "a;b" }
  - network
  - network:
      checks: [ping]
      lease_file: leases
      throughput: { duration: 10m, min_mbps: 0 }
  - network: { thruput: 1 }
"#,
        r#"error: unknown sub-check `adress` in `checks` in check 1 (`network`)
 --> x.yaml:7:25
  |
7 |   - network: { checks: [adress, ping, ping], tcp_port: 0, dns_name: "a;b" }
  |                         ^^^^^^
  = help: did you mean `address`?

error: duplicate sub-check `ping` in `checks` in check 1 (`network`)
 --> x.yaml:7:39
  |
7 |   - network: { checks: [adress, ping, ping], tcp_port: 0, dns_name: "a;b" }
  |                                       ^^^^

error: `tcp_port` in check 1 (`network`) must be between 1 and 65535, found 0
 --> x.yaml:7:56
  |
7 |   - network: { checks: [adress, ping, ping], tcp_port: 0, dns_name: "a;b" }
  |                                                        ^

error: invalid DNS name `a;b` for `dns_name` in check 1 (`network`)
 --> x.yaml:7:69
  |
7 |   - network: { checks: [adress, ping, ping], tcp_port: 0, dns_name: "a;b" }
  |                                                                     ^^^^^
  = help: use letters, digits, `-` and `_` in dot-separated labels, e.g. `gateway.lab.virtsmoke.test`

error: duplicate check `network`
 --> x.yaml:8:5
  |
8 |   - network
  |     ^^^^^^^
  = help: a case runs one `network` check: list every sub-check it needs in its `checks`

error: duplicate check `network`
 --> x.yaml:9:5
  |
9 |   - network:
  |     ^^^^^^^
  = help: a case runs one `network` check: list every sub-check it needs in its `checks`

error: `lease_file` is set but sub-check `address` does not run in check 3 (`network`)
  --> x.yaml:11:7
   |
11 |       lease_file: leases
   |       ^^^^^^^^^^
   = help: add `address` to `checks`, or remove `lease_file`

error: `lease_file` in check 3 (`network`) must be an absolute path, found `leases`
  --> x.yaml:11:19
   |
11 |       lease_file: leases
   |                   ^^^^^^
   = help: the lab's is `/var/tmp/virtsmoke-lab/h1/dnsmasq.leases` (`virtsmoke lab status`)

error: `throughput` is set but sub-check `throughput` does not run in check 3 (`network`)
  --> x.yaml:12:7
   |
12 |       throughput: { duration: 10m, min_mbps: 0 }
   |       ^^^^^^^^^^
   = help: add `throughput` to `checks`, or remove `throughput`

error: `duration` in `throughput` of check 3 (`network`) must be at most 300s
  --> x.yaml:12:31
   |
12 |       throughput: { duration: 10m, min_mbps: 0 }
   |                               ^^^

error: `min_mbps` in `throughput` of check 3 (`network`) must be at least 1, found 0
  --> x.yaml:12:46
   |
12 |       throughput: { duration: 10m, min_mbps: 0 }
   |                                              ^

error: duplicate check `network`
  --> x.yaml:13:5
   |
13 |   - network: { thruput: 1 }
   |     ^^^^^^^
   = help: a case runs one `network` check: list every sub-check it needs in its `checks`

error: unknown key `thruput` in check 4 (`network`)
  --> x.yaml:13:16
   |
13 |   - network: { thruput: 1 }
   |                ^^^^^^^
   = help: did you mean `throughput`?
"#,
    ),
    (
        "migrate target that names no host",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
checks:
  - migrate: { target: lab2 }
"#,
        r#"error: `target` of check 1 (`migrate`) uses undefined host `lab2`
 --> x.yaml:7:24
  |
7 |   - migrate: { target: lab2 }
  |                        ^^^^
  = help: did you mean `lab1`?
"#,
    ),
    (
        "migrate target that is the case's own host",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
checks:
  - migrate: { target: lab1 }
"#,
        r#"error: check 1 (`migrate`) would migrate guests from host `lab1` to itself
 --> x.yaml:7:24
  |
7 |   - migrate: { target: lab1 }
  |                        ^^^^
  = help: name another host as `target`, or run the case on other hosts with `matrix.host`
"#,
    ),
    (
        "migrate target of another hypervisor; options libxl cannot honour",
        r#"version: 1
name: t
hosts:
  lab1: { uri: "qemu:///system" }
  xen1: { uri: "xen:///system" }
  xen2: { uri: "xen:///system" }
images: { tiny: { builtin: test-image } }
guests: { tiny: { kind: kvm, image: tiny } }
checks:
  - migrate: { target: xen2, copy_storage: true, bandwidth_mib_s: 100 }
matrix: { host: [lab1, xen1], kind: [kvm, xen-pv] }
"#,
        r#"error: check 1 (`migrate`) would migrate guests from kvm host `lab1` to xen host `xen2`
  --> x.yaml:10:24
   |
10 |   - migrate: { target: xen2, copy_storage: true, bandwidth_mib_s: 100 }
   |                        ^^^^
   = help: guests migrate between hosts of one hypervisor: name a kvm host as `target`

error: `copy_storage` in check 1 (`migrate`) cannot be honoured on xen host `xen1`
  --> x.yaml:10:30
   |
10 |   - migrate: { target: xen2, copy_storage: true, bandwidth_mib_s: 100 }
   |                              ^^^^^^^^^^^^
   = help: libvirt's libxl driver cannot copy storage during a migration: remove `copy_storage`, or migrate between kvm hosts

error: `bandwidth_mib_s` in check 1 (`migrate`) cannot be honoured on xen host `xen1`
  --> x.yaml:10:50
   |
10 |   - migrate: { target: xen2, copy_storage: true, bandwidth_mib_s: 100 }
   |                                                  ^^^^^^^^^^^^^^^
   = help: libvirt's libxl driver cannot limit a migration's bandwidth: remove `bandwidth_mib_s`, or migrate between kvm hosts
"#,
    ),
    (
        "migrate without target and no other host with the role",
        r#"version: 1
name: t
hosts:
  lab1: { uri: "qemu:///system" }
  lab2: { uri: "qemu:///system", roles: [migration-targt] }
images: { tiny: { builtin: test-image } }
guests: { tiny: { kind: kvm, image: tiny } }
checks: [migrate]
matrix: { host: [lab1] }
"#,
        r#"error: check 1 (`migrate`) has no target for guests on host `lab1`: no other kvm host has the role `migration-target`
 --> x.yaml:8:10
  |
8 | checks: [migrate]
  |          ^^^^^^^
  = help: did you mean `migration-target`? host `lab2` has the role `migration-targt`
"#,
    ),
    (
        "boot twice",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
checks: [boot, boot]
"#,
        r#"error: duplicate check `boot`
 --> x.yaml:6:16
  |
6 | checks: [boot, boot]
  |                ^^^^
  = help: `boot` runs once, first in every case: remove this one
"#,
    ),
];

#[test]
fn bad_inputs_give_exact_diagnostics() {
    check_bad(BAD);
}

#[test]
fn network_check_defaults_and_settings() {
    use crate::plan::{NetworkCheck, NetworkSubCheck as N, ThroughputSpec};
    use std::time::Duration;

    let bare = plan(&format!("{HEAD}guests: {{ tiny: {{ kind: kvm, image: tiny }} }}\nchecks: [network]\n"));
    assert_eq!(bare.cases[0].checks, [CheckSpec::Boot, CheckSpec::Network(NetworkCheck::default())]);
    let d = NetworkCheck::default();
    assert_eq!(d.checks, [N::Address, N::Ping, N::Tcp, N::Gateway, N::Dns, N::Peers, N::Mtu], "all but throughput");
    assert_eq!((d.tcp_port, d.count, d.max_loss_pct, d.dns_name, d.lease_file), (22, 3, 0, None, None));

    let null = plan(&format!("{HEAD}guests: {{ tiny: {{ kind: kvm, image: tiny }} }}\nchecks:\n  - network:\n"));
    assert_eq!(null.cases[0].checks[1], CheckSpec::Network(NetworkCheck::default()));

    let full = plan(&format!(
        "{HEAD}guests: {{ tiny: {{ kind: kvm, image: tiny }} }}
checks:
  - network:
      checks: [throughput, mtu, address, peers]
      lease_file: /var/tmp/virtsmoke-lab/h1/dnsmasq.leases
      count: 5
      max_loss_pct: 20
      throughput: {{ duration: 1500ms, min_mbps: 50 }}
  - boot
"
    ));
    let CheckSpec::Network(n) = &full.cases[0].checks[1] else { panic!("{:?}", full.cases[0].checks) };
    assert_eq!(n.checks, [N::Address, N::Peers, N::Mtu, N::Throughput], "sorted into the order they run in");
    assert_eq!(n.lease_file.as_deref(), Some(Path::new("/var/tmp/virtsmoke-lab/h1/dnsmasq.leases")));
    assert_eq!((n.count, n.max_loss_pct, n.tcp_port), (5, 20, 22));
    assert_eq!(n.throughput, ThroughputSpec { duration: Duration::from_millis(1500), min_mbps: Some(50) });
    assert_eq!(full.cases[0].checks[0], CheckSpec::Boot, "boot moves to the front");

    let json = serde_json::to_value(&full.cases[0].checks[1]).unwrap();
    assert_eq!(json["check"], "network");
    assert_eq!(json["checks"], serde_json::json!(["address", "peers", "mtu", "throughput"]));
    assert_eq!(json["throughput"]["duration"], "1s 500ms");
}

#[test]
fn boot_is_added_when_checks_are_omitted() {
    let plan = plan(&format!("{HEAD}guests: {{ tiny: {{ kind: kvm, image: tiny }} }}\n"));
    assert_eq!(plan.cases[0].checks, [CheckSpec::Boot]);
    assert_eq!(plan.cases[0].timeouts, crate::plan::Timeouts::default());
}

#[test]
fn migrate_targets_by_name_or_role() {
    let head = "version: 1\nname: m\nhosts:\n  a: { uri: \"qemu:///a\" }\n  b: { uri: \"qemu:///b\", roles: [migration-target] }\n  \
                x: { uri: \"xen:///x\" }\n  y: { uri: \"xen:///y\" }\nimages: { tiny: { builtin: test-image } }\n";
    let named = plan(&format!(
        "{head}guests: {{ g: {{ kind: xen-pv, image: tiny }} }}\nchecks:\n  - migrate: {{ target: y, rounds: 1, timeout: 4m }}\nmatrix: {{ host: [x] }}\n"
    ));
    let [crate::plan::CheckSpec::Boot, crate::plan::CheckSpec::Migrate(m)] = named.cases[0].checks.as_slice() else {
        panic!("{:?}", named.cases[0].checks)
    };
    assert_eq!((m.target.as_deref(), m.rounds, m.timeout.as_secs()), (Some("y"), 1, 240));
    let out = errors(&format!(
        "{head}guests: {{ g: {{ kind: xen-pv, image: tiny }} }}\nchecks:\n  - migrate: {{ target: y, timeout: 4 }}\nmatrix: {{ host: [x] }}\n"
    ));
    assert!(out.contains("expected a duration such as `30s`"), "{out}");
    let by_role = plan(&format!(
        "{head}guests: {{ g: {{ kind: kvm, image: tiny }} }}\nchecks: [migrate]\nmatrix: {{ host: [a] }}\n"
    ));
    assert_eq!(case_names(&by_role), ["m/g@a"]);
    // On b itself no other kvm host has the role; on x no xen host has it.
    let out = errors(&format!("{head}guests: {{ g: {{ kind: kvm, image: tiny }} }}\nchecks: [migrate]\n"));
    assert!(out.contains("error: check 1 (`migrate`) has no target for guests on host `b`: no other kvm host has the role `migration-target`"), "{out}");
    assert!(!out.contains("on host `a`"), "{out}");
    let out = errors(&format!(
        "{head}guests: {{ g: {{ kind: xen-pv, image: tiny }} }}\nchecks: [migrate]\nmatrix: {{ host: [x] }}\n"
    ));
    assert!(out.contains("no other xen host has the role `migration-target`"), "{out}");
    assert!(
        out.contains("help: name a host with `target`, or give another xen host `roles: [migration-target]`"),
        "{out}"
    );
}
