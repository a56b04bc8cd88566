//! Whole-module tests: bad inputs with their exact messages, good inputs with
//! their expansion, and inputs that must not crash.

use std::path::Path;

use crate::plan::{Boot, CheckSpec, Firmware, GuestKind, GuestNetwork, Hypervisor, ImageSpec};

use super::*;

/// Four valid lines most bad inputs start with: a host `lab1`, an image `tiny`.
const HEAD: &str = "version: 1
name: t
hosts: { lab1: { uri: \"qemu:///system\" } }
images: { tiny: { builtin: test-image } }
";

fn errors(text: &str) -> String {
    match load_str(Path::new("x.yaml"), text) {
        Ok(plan) => panic!("expected errors, got a plan with {} cases", plan.cases.len()),
        Err(e) => e.to_string(),
    }
}

fn plan(text: &str) -> Plan {
    match load_str(Path::new("x.yaml"), text) {
        Ok(plan) => plan,
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

fn case_names(plan: &Plan) -> Vec<&str> {
    plan.cases.iter().map(|c| c.name.as_str()).collect()
}

/// (what, input, exact diagnostics)
const BAD: &[(&str, &str, &str)] = &[
    (
        "unknown top-level key with suggestion",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
timeout: { case: 1m }
"#,
        r#"error: unknown key `timeout` in the scenario
 --> x.yaml:6:1
  |
6 | timeout: { case: 1m }
  | ^^^^^^^
  = help: did you mean `timeouts`?
"#,
    ),
    (
        "unknown nested key with suggestion",
        r#"HEAD
guests:
  tiny:
    kind: kvm
    image: tiny
    memroy_mib: 512
"#,
        r#"error: unknown key `memroy_mib` in guest `tiny`
 --> x.yaml:9:5
  |
9 |     memroy_mib: 512
  |     ^^^^^^^^^^
  = help: did you mean `memory_mib`?
"#,
    ),
    (
        "unknown key without a close match lists the valid keys",
        r#"HEAD
guests:
  tiny: { kind: kvm, image: tiny, colour: blue }
"#,
        r#"error: unknown key `colour` in guest `tiny`
 --> x.yaml:6:35
  |
6 |   tiny: { kind: kvm, image: tiny, colour: blue }
  |                                   ^^^^^^
  = help: valid keys are: kind, image, memory_mib, vcpus, count, network, firmware
"#,
    ),
    (
        "wrong type",
        r#"HEAD
guests:
  tiny: { kind: kvm, image: tiny, vcpus: two }
"#,
        r#"error: wrong type for `vcpus` in guest `tiny`: expected an integer, found a string
 --> x.yaml:6:42
  |
6 |   tiny: { kind: kvm, image: tiny, vcpus: two }
  |                                          ^^^
"#,
    ),
    (
        "missing required key",
        r#"HEAD
guests:
  tiny:
    kind: kvm
"#,
        r#"error: missing required key `image` in guest `tiny`
 --> x.yaml:6:3
  |
6 |   tiny:
  |   ^^^^
"#,
    ),
    (
        "bad kind lists the expected values",
        r#"HEAD
guests:
  tiny: { kind: xen-pvm, image: tiny }
"#,
        r#"error: invalid value `xen-pvm` for `kind` in guest `tiny`: expected one of kvm, xen-pv, xen-pvh, xen-pvhvm, xen-hvm
 --> x.yaml:6:17
  |
6 |   tiny: { kind: xen-pvm, image: tiny }
  |                 ^^^^^^^
  = help: did you mean `xen-pv`?
"#,
    ),
    (
        "undefined image reference with suggestion",
        r#"HEAD
guests:
  tiny: { kind: kvm, image: tyny }
"#,
        r#"error: guest `tiny` uses undefined image `tyny`
 --> x.yaml:6:29
  |
6 |   tiny: { kind: kvm, image: tyny }
  |                             ^^^^
  = help: did you mean `tiny`?
"#,
    ),
    (
        "bad duration",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
timeouts:
  console: 2 minutes
  ssh: 5x
"#,
        r#"error: invalid duration `5x` for `timeouts.ssh`: unknown time unit `x`
 --> x.yaml:8:8
  |
8 |   ssh: 5x
  |        ^^
  = help: write numbers with units (s, m, h, d, ...), e.g. `30s`, `2m` or `1h 5m`
"#,
    ),
    (
        "duplicate key",
        r#"HEAD
guests:
  tiny:
    kind: kvm
    image: tiny
    kind: xen-pv
"#,
        r#"error: duplicate key `kind` in guest `tiny`
 --> x.yaml:9:5
  |
9 |     kind: xen-pv
  |     ^^^^
  = help: first defined on line 7
"#,
    ),
    (
        "version other than 1",
        r#"version: 2
name: t
hosts: { lab1: { uri: "qemu:///system" } }
images: { tiny: { builtin: test-image } }
guests: { tiny: { kind: kvm, image: tiny } }
"#,
        r#"error: unsupported scenario version `2`
 --> x.yaml:1:10
  |
1 | version: 2
  |          ^
  = help: this virtsmoke reads `version: 1`
"#,
    ),
    (
        "version missing",
        r#"name: t
hosts: { lab1: { uri: "qemu:///system" } }
images: { tiny: { builtin: test-image } }
guests: { tiny: { kind: kvm, image: tiny } }
"#,
        r#"error: missing required key `version` in the scenario
 --> x.yaml:1:1
  |
1 | name: t
  | ^^^^
  = help: start the file with `version: 1`
"#,
    ),
    (
        "cluster and matrix.guest both set",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
matrix:
  guest: [tiny]
cluster: [tiny, tiny]
"#,
        r#"error: `cluster` and `matrix.guest` cannot both be set
 --> x.yaml:8:1
  |
8 | cluster: [tiny, tiny]
  | ^^^^^^^
  = help: use `cluster` to boot several guests together in every case, or `matrix.guest` for one case per guest
"#,
    ),
    (
        "guest kind not runnable on the host",
        r#"HEAD
guests:
  tiny: { kind: xen-pv, image: tiny }
"#,
        r#"error: guest `tiny` of kind `xen-pv` cannot run on kvm host `lab1`
 --> x.yaml:6:17
  |
6 |   tiny: { kind: xen-pv, image: tiny }
  |                 ^^^^^^
  = help: kvm guests need a kvm host and xen-* guests a xen host; pick compatible hosts with `matrix.host`, or split the scenario
"#,
    ),
    (
        "matrix kind not runnable on the selected host",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
matrix:
  host: [lab1]
  kind: [kvm, xen-pvh]
"#,
        r#"error: kind `xen-pvh` fits none of the hosts (lab1)
 --> x.yaml:8:15
  |
8 |   kind: [kvm, xen-pvh]
  |               ^^^^^^^
  = help: a `xen-pvh` guest needs a xen host: add one to `matrix.host`, or remove `xen-pvh`
"#,
    ),
    (
        "several errors in one file are all reported",
        r#"HEAD
guests:
  tiny: { kind: kvm, image: tiny, count: 0 }
  big: { kind: kvm, image: nope, memory_mib: 32 }
checks: [boot, reboot]
"#,
        r#"error: `count` in guest `tiny` must be between 1 and 64, found 0
 --> x.yaml:6:42
  |
6 |   tiny: { kind: kvm, image: tiny, count: 0 }
  |                                          ^

error: guest `big` uses undefined image `nope`
 --> x.yaml:7:28
  |
7 |   big: { kind: kvm, image: nope, memory_mib: 32 }
  |                            ^^^^
  = help: defined images are: tiny

error: `memory_mib` in guest `big` must be at least 64, found 32
 --> x.yaml:7:46
  |
7 |   big: { kind: kvm, image: nope, memory_mib: 32 }
  |                                              ^^

error: unknown check `reboot`
 --> x.yaml:8:16
  |
8 | checks: [boot, reboot]
  |                ^^^^^^
  = help: did you mean `boot`?
"#,
    ),
    (
        "tabs are a YAML syntax error with a location",
        r#"version: 1
name: t
	hosts: {}
"#,
        r#"error: invalid YAML: found a tab character that violates indentation, while scanning a plain scalar
 --> x.yaml:3:1
  |
3 |     hosts: {}
  | ^^^^
  = help: YAML indentation must use spaces, not tabs
"#,
    ),
    (
        "unclosed flow mapping is a YAML syntax error",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny }
"#,
        r#"error: invalid YAML: did not find expected ',' or '}', while parsing a flow mapping
 --> x.yaml:6:1
"#,
    ),
    (
        "empty matrix and empty axis",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
matrix: {}
"#,
        r#"error: `matrix` has no axes
 --> x.yaml:6:1
  |
6 | matrix: {}
  | ^^^^^^
  = help: remove it to run every guest on every host, or list values under `host`, `guest`, `kind` or `image`
"#,
    ),
    (
        "empty matrix axis",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
matrix:
  image: []
"#,
        r#"error: matrix axis `image` is empty
 --> x.yaml:7:10
  |
7 |   image: []
  |          ^
  = help: list at least one value, or remove `image`
"#,
    ),
    (
        "undefined host in the matrix with suggestion",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
matrix:
  host: [lab]
"#,
        r#"error: `matrix.host` uses undefined host `lab`
 --> x.yaml:7:10
  |
7 |   host: [lab]
  |          ^^^
  = help: did you mean `lab1`?
"#,
    ),
    (
        "undefined guest in a cluster",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
cluster: [tiny, tyni]
"#,
        r#"error: `cluster` uses undefined guest `tyni`
 --> x.yaml:6:17
  |
6 | cluster: [tiny, tyni]
  |                 ^^^^
  = help: did you mean `tiny`?
"#,
    ),
    (
        "unknown builtin image",
        r#"version: 1
name: t
hosts: { lab1: { uri: "qemu:///system" } }
images:
  tiny: { builtin: tiny-image }
"#,
        r#"error: unknown builtin image `tiny-image` in image `tiny`
 --> x.yaml:5:20
  |
5 |   tiny: { builtin: tiny-image }
  |                    ^^^^^^^^^^
  = help: builtin images are: test-image, debian-disk
"#,
    ),
    (
        "relative image path, initrd without kernel",
        r#"version: 1
name: t
hosts: { lab1: { uri: "qemu:///system" } }
images:
  custom:
    disk: images/x.qcow2
    initrd: /boot/initrd.img
"#,
        r#"error: `disk` in image `custom` must be an absolute path, found `images/x.qcow2`
 --> x.yaml:6:11
  |
6 |     disk: images/x.qcow2
  |           ^^^^^^^^^^^^^^
  = help: paths are read on the libvirt host, so relative paths are ambiguous

error: `initrd` in image `custom` needs `kernel`
 --> x.yaml:7:5
  |
7 |     initrd: /boot/initrd.img
  |     ^^^^^^
"#,
    ),
    (
        "image with both builtin and files",
        r#"version: 1
name: t
hosts: { lab1: { uri: "qemu:///system" } }
images:
  both: { builtin: test-image, kernel: /boot/vmlinuz }
"#,
        r#"error: image `both` sets both `builtin` and `kernel`
 --> x.yaml:5:32
  |
5 |   both: { builtin: test-image, kernel: /boot/vmlinuz }
  |                                ^^^^^^
  = help: an image is either `builtin`, or files given with `kernel`/`initrd`/`disk`
"#,
    ),
    (
        "disk image keys: seed, user, cloud_config, allow_degraded",
        r#"version: 1
name: t
hosts: { lab1: { uri: "qemu:///system" } }
images:
  deb:
    disk: /img/deb.qcow2
    seed: cloud
    user: Root
    cloud_config: "- a list"
  tiny: { builtin: test-image, cloud_config: "runcmd: [x]", allow_degraded: true }
  raw: { disk: /img/raw.img, seed: none, cloud_config: "a: [", allow_degraded: "yes" }
"#,
        r#"error: invalid value `cloud` for `seed` in image `deb`: expected one of nocloud, none
 --> x.yaml:7:11
  |
7 |     seed: cloud
  |           ^^^^^
  = help: did you mean `nocloud`?

error: invalid user name `Root` for `user` in image `deb`
 --> x.yaml:8:11
  |
8 |     user: Root
  |           ^^^^
  = help: a user name is lowercase letters, digits, `_` and `-`, starting with a letter or `_`

error: `cloud_config` in image `deb` must be a YAML mapping (cloud-config keys), found a list
 --> x.yaml:9:19
  |
9 |     cloud_config: "- a list"
  |                   ^^^^^^^^^^
  = help: write it as a block: `cloud_config: |` followed by indented cloud-config lines

error: `cloud_config` in image `tiny` needs a seed, but the image has `seed: none`
  --> x.yaml:10:32
   |
10 |   tiny: { builtin: test-image, cloud_config: "runcmd: [x]", allow_degraded: true }
   |                                ^^^^^^^^^^^^
   = help: cloud-config reaches the guest through a NoCloud seed: set `seed: nocloud`, or remove `cloud_config`

error: `allow_degraded` in image `tiny` has no effect: only disk images run `boot.systemd`
  --> x.yaml:10:61
   |
10 |   tiny: { builtin: test-image, cloud_config: "runcmd: [x]", allow_degraded: true }
   |                                                             ^^^^^^^^^^^^^^
   = help: remove it, or give the image a `disk`

error: `cloud_config` in image `raw` needs a seed, but the image has `seed: none`
  --> x.yaml:11:42
   |
11 |   raw: { disk: /img/raw.img, seed: none, cloud_config: "a: [", allow_degraded: "yes" }
   |                                          ^^^^^^^^^^^^
   = help: cloud-config reaches the guest through a NoCloud seed: set `seed: nocloud`, or remove `cloud_config`

error: `cloud_config` in image `raw` is not valid YAML: did not find expected node content at line 2 column 1, while parsing a flow node
  --> x.yaml:11:56
   |
11 |   raw: { disk: /img/raw.img, seed: none, cloud_config: "a: [", allow_degraded: "yes" }
   |                                                        ^^^^^^

error: wrong type for `allow_degraded` in image `raw`: expected `true` or `false`, found a string
  --> x.yaml:11:80
   |
11 |   raw: { disk: /img/raw.img, seed: none, cloud_config: "a: [", allow_degraded: "yes" }
   |                                                                                ^^^^^
"#,
    ),
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
        "invalid scenario name",
        r#"version: 1
name: Local KVM
hosts: { lab1: { uri: "qemu:///system" } }
"#,
        r#"error: invalid scenario name `Local KVM`
 --> x.yaml:2:7
  |
2 | name: Local KVM
  |       ^^^^^^^^^
  = help: names use lowercase letters, digits and `-`, and start with a letter or digit
"#,
    ),
    (
        "yes is a string, not a boolean",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny, network: yes } }
"#,
        r#"error: invalid value `yes` for `network` in guest `tiny`: expected `dhcp`, `none` or a mapping like `{ static: 10.0.0.5/24, gateway: 10.0.0.1 }`
 --> x.yaml:5:52
  |
5 | guests: { tiny: { kind: kvm, image: tiny, network: yes } }
  |                                                    ^^^
"#,
    ),
    (
        "static address with count > 1",
        r#"HEAD
guests:
  tiny:
    kind: kvm
    image: tiny
    count: 2
    network: { static: 10.0.0.5/24, gateway: 10.0.0.1 }
"#,
        r#"error: guest `tiny` has a static address but `count: 2`
  --> x.yaml:10:14
   |
10 |     network: { static: 10.0.0.5/24, gateway: 10.0.0.1 }
   |              ^
   = help: every instance would get the same address; use `dhcp` or one template per address
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

error: duplicate check `network`
 --> x.yaml:9:5
  |
9 |   - network:
  |     ^^^^^^^

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

error: unknown key `thruput` in check 4 (`network`)
  --> x.yaml:13:16
   |
13 |   - network: { thruput: 1 }
   |                ^^^^^^^
   = help: did you mean `throughput`?
"#,
    ),
    (
        "huge numbers",
        r#"HEAD
guests:
  tiny: { kind: kvm, image: tiny, memory_mib: 99999999999999999999999999999999999999999999, vcpus: 1e3 }
"#,
        r#"error: `memory_mib` in guest `tiny` is far too large
 --> x.yaml:6:47
  |
6 |   tiny: { kind: kvm, image: tiny, memory_mib: 99999999999999999999999999999999999999999999, vcpus: 1e3 }
  |                                               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

error: wrong type for `vcpus` in guest `tiny`: expected an integer, found a floating-point number
 --> x.yaml:6:100
  |
6 |   tiny: { kind: kvm, image: tiny, memory_mib: 99999999999999999999999999999999999999999999, vcpus: 1e3 }
  |                                                                                                    ^^^
"#,
    ),
    (
        "no hosts anywhere",
        r#"version: 1
name: t
images: { tiny: { builtin: test-image } }
guests: { tiny: { kind: kvm, image: tiny } }
"#,
        r#"error: no hosts are defined in any scenario file
 --> x.yaml:1:1
  |
1 | version: 1
  | ^^^^^^^
  = help: add a `hosts:` section, e.g. `hosts: { lab1: { uri: "qemu:///system" } }`
"#,
    ),
    (
        "empty file",
        r#""#,
        r#"error: scenario file is empty
 --> x.yaml:1:1
  = help: a scenario starts with `version: 1` and `name: ...`
"#,
    ),
    (
        "top-level list",
        r#"- version: 1
"#,
        r#"error: wrong type for the scenario file: expected a mapping, found a list
 --> x.yaml:1:1
  |
1 | - version: 1
  | ^
"#,
    ),
];

#[test]
fn bad_inputs_give_exact_diagnostics() {
    let mut failures = Vec::new();
    for (what, input, expected) in BAD {
        let input = input.replace("HEAD\n", HEAD);
        let actual = errors(&input);
        if actual != *expected {
            failures.push(format!("--- {what}: expected\n{expected}\n--- actual\n{actual}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn multi_error_file_display() {
    let text = "version: 1
name: local-kvm
hosts:
  lab1:
    uri: \"qemu:///system\"
    capacity: { guests: four }
  xen1:
    uri: \"xen:///system\"
    accel: kvm
images:
  tiny:
    builtin: test-image
    cmdline: quiet
guests:
  tiny:
    kind: kvm
    image: tyny
    memroy_mib: 512
  web:
    kind: xen-pvm
    image: tiny
    network: { static: 10.0.0.5/24, gatway: 10.0.0.1 }
checks:
  - boot
  - command: { name: kernel-version, run: \"uname -r\", expect_exit: zero }
timeouts:
  console: 2 mins
  ssh: soon
matrix:
  host: [lab1, lab3]
  kind: [kvm]
";
    insta::assert_snapshot!(errors(text));
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
    capacity: { guests: 8, memory_mib: 16384 }
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

#[test]
fn image_defaults_depend_on_what_boots() {
    use crate::plan::SeedKind;
    let plan = plan(
        r#"version: 1
name: img
hosts: { lab1: { uri: "qemu:///system" } }
images:
  tiny: { builtin: test-image }
  deb: { builtin: debian-disk }
  kernel: { kernel: /boot/vmlinuz }
  cloud:
    disk: /img/cloud.qcow2
    user: debian
    marker: "Reached target"
    allow_degraded: true
    cloud_config: |
      #cloud-config
      runcmd:
        - touch /tmp/x
  bios: { disk: /img/bios.raw, seed: none }
guests: { g: { kind: kvm, image: tiny } }
matrix: { image: [tiny, deb, kernel, cloud, bios] }
"#,
    );
    let images: Vec<_> = plan.cases.iter().map(|c| &c.guests[0].image).collect();
    let summary: Vec<_> = images
        .iter()
        .map(|i| (i.name.as_str(), i.from_disk, i.seed, i.marker.as_str(), i.user.as_str(), i.allow_degraded))
        .collect();
    assert_eq!(
        summary,
        [
            ("tiny", false, SeedKind::None, "VIRTSMOKE-MARKER boot", "root", false),
            ("deb", true, SeedKind::Nocloud, "login:", "root", false),
            ("kernel", false, SeedKind::None, "Linux version", "root", false),
            ("cloud", true, SeedKind::Nocloud, "Reached target", "debian", true),
            ("bios", true, SeedKind::None, "login:", "root", false),
        ]
    );
    assert_eq!(images[3].cloud_config.as_deref(), Some("#cloud-config\nruncmd:\n  - touch /tmp/x\n"));
    assert_eq!(images[1].spec, ImageSpec::Builtin { name: "debian-disk".into() });
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
fn matrix_expands_in_axis_order() {
    let text = r#"version: 1
name: m
hosts:
  lab1: { uri: "qemu:///system" }
  xen1: { uri: "xen:///system" }
images:
  tiny: { builtin: test-image }
  custom: { disk: /var/lib/images/x.qcow2 }
guests:
  a: { kind: kvm, image: tiny }
  b: { kind: kvm, image: tiny }
matrix:
  host: [lab1]
  guest: [b, a]
  kind: [kvm]
  image: [tiny, custom]
"#;
    let plan = plan(text);
    assert_eq!(
        case_names(&plan),
        ["m/b-kvm-tiny@lab1", "m/b-kvm-custom@lab1", "m/a-kvm-tiny@lab1", "m/a-kvm-custom@lab1"]
    );
    let c = &plan.cases[1];
    assert_eq!(c.guests[0].image.name, "custom");
    assert_eq!(
        c.matrix.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        ["guest=b", "host=lab1", "image=custom", "kind=kvm"]
    );
    assert_eq!(plan.hosts.len(), 2, "unused hosts stay in the plan");
}

#[test]
fn kind_axis_overrides_the_guest_kind() {
    let text = r#"version: 1
name: x
hosts:
  xen1: { uri: "xen:///system", bridge: xbr1 }
images: { tiny: { builtin: test-image } }
guests: { tiny: { kind: xen-pv, image: tiny } }
matrix:
  kind: [xen-pv, xen-pvh, xen-hvm]
"#;
    let plan = plan(text);
    assert_eq!(case_names(&plan), ["x/tiny-xen-pv@xen1", "x/tiny-xen-pvh@xen1", "x/tiny-xen-hvm@xen1"]);
    assert_eq!(plan.cases[2].guests[0].kind, GuestKind::XenHvm);
    assert_eq!(plan.hosts["xen1"].hypervisor, Hypervisor::Xen);
    assert_eq!(plan.hosts["xen1"].bridge, "xbr1");
}

#[test]
fn kind_axis_values_pair_with_the_hosts_of_their_hypervisor() {
    let text = r#"version: 1
name: x
hosts:
  lab1: { uri: "qemu:///system" }
  xen1: { uri: "xen:///system" }
images: { tiny: { builtin: test-image } }
guests: { tiny: { kind: kvm, image: tiny } }
matrix:
  host: [lab1, xen1]
  kind: [kvm, xen-pv, xen-pvhvm, xen-hvm]
"#;
    let plan = plan(text);
    assert_eq!(
        case_names(&plan),
        ["x/tiny-kvm@lab1", "x/tiny-xen-pv@xen1", "x/tiny-xen-pvhvm@xen1", "x/tiny-xen-hvm@xen1"]
    );
    assert_eq!(plan.cases[0].guests[0].kind, GuestKind::Kvm);
    assert_eq!(plan.cases[3].guests[0].kind, GuestKind::XenHvm);
}

#[test]
fn placed_cases_may_run_on_any_matching_host_with_room() {
    let text = r#"version: 1
name: x
hosts:
  a: { uri: "qemu:///a", labels: { pool: nightly }, capacity: { guests: 1, memory_mib: 512 } }
  b: { uri: "qemu:///b", labels: { pool: nightly }, capacity: { guests: 2, memory_mib: 4096 } }
  c: { uri: "qemu:///c", labels: { pool: other } }
  x: { uri: "xen:///x", labels: { pool: nightly } }
images: { tiny: { builtin: test-image } }
guests:
  small: { kind: kvm, image: tiny }
  big: { kind: kvm, image: tiny, memory_mib: 1024 }
  pv: { kind: xen-pv, image: tiny }
matrix:
  host: { labels: { pool: nightly } }
"#;
    let plan = plan(text);
    assert_eq!(case_names(&plan), ["x/big@pool=nightly", "x/pv@pool=nightly", "x/small@pool=nightly"]);
    let cands = |i: usize| plan.cases[i].candidates.clone();
    assert_eq!(cands(0), ["b"], "a has too little memory");
    assert_eq!(cands(1), ["x"], "only x runs xen guests");
    assert_eq!(cands(2), ["a", "b"]);
    assert_eq!(plan.cases[2].host, "a");
    assert_eq!(plan.cases[2].matrix["host"], "pool=nightly");

    let any = plan_of_any();
    assert_eq!(case_names(&any), ["y/small@any"]);
    assert_eq!(any.cases[0].candidates, ["h1", "h2"]);
}

fn plan_of_any() -> Plan {
    plan(
        r#"version: 1
name: y
hosts:
  h1: { uri: "qemu:///1" }
  h2: { uri: "qemu:///2" }
images: { tiny: { builtin: test-image } }
guests: { small: { kind: kvm, image: tiny } }
matrix: { host: any }
"#,
    )
}

#[test]
fn placement_that_no_host_satisfies_is_an_error() {
    let cases = [
        ("512", "{ labels: { pool: b } }", "error: no host matches `pool=b`"),
        (
            "9000",
            "{ labels: { pool: a } }",
            "error: no host of `pool=a` can run case `y/small@pool=a` (1 guest(s), 9000 MiB)",
        ),
        (
            "512",
            "anywhere",
            "wrong type for `matrix.host`: expected a list of host names, `any`, or `{ labels: { KEY: VALUE } }`",
        ),
    ];
    for (memory, host, expected) in cases {
        let out = errors(&format!(
            "version: 1\nname: y\nhosts:\n  h1: {{ uri: \"qemu:///1\", labels: {{ pool: a }} }}\n\
             images: {{ tiny: {{ builtin: test-image }} }}\n\
             guests: {{ small: {{ kind: kvm, image: tiny, memory_mib: {memory} }} }}\nmatrix: {{ host: {host} }}\n"
        ));
        assert!(out.contains(expected), "{host}: {out}");
    }
}

#[test]
fn firmware_is_bios_by_default_and_uefi_only_for_kvm() {
    let head = "version: 1\nname: f\nhosts:\n  h: { uri: \"qemu:///system\" }\n  x: { uri: \"xen:///system\" }\nimages: { tiny: { builtin: test-image } }\n";
    let p = plan(&format!(
        "{head}guests: {{ a: {{ kind: kvm, image: tiny }}, b: {{ kind: kvm, image: tiny, firmware: uefi }} }}\nmatrix: {{ host: [h] }}\n"
    ));
    assert_eq!(p.cases[0].guests[0].firmware, Firmware::Bios);
    assert_eq!(p.cases[1].guests[0].firmware, Firmware::Uefi);
    let out = errors(&format!(
        "{head}guests: {{ b: {{ kind: xen-hvm, image: tiny, firmware: uefi }} }}\nmatrix: {{ host: [x] }}\n"
    ));
    assert!(out.contains("error: guest `b` of kind `xen-hvm` cannot boot with `firmware: uefi`"), "{out}");
    let out = errors(&format!(
        "{head}guests: {{ b: {{ kind: kvm, image: tiny, firmware: efi }} }}\nmatrix: {{ host: [h] }}\n"
    ));
    assert!(
        out.contains("invalid value `efi` for `firmware` in guest `b`: expected one of bios, uefi")
            && out.contains("did you mean `uefi`?"),
        "{out}"
    );
}

#[test]
fn cluster_boots_templates_together() {
    let text = r#"version: 1
name: c
hosts:
  lab1: { uri: "qemu:///system" }
images: { tiny: { builtin: test-image } }
guests:
  web: { kind: kvm, image: tiny }
  db: { kind: kvm, image: tiny, network: { static: 10.0.0.5/24 } }
cluster: [web, db, web]
"#;
    let plan = plan(text);
    assert_eq!(case_names(&plan), ["c/web+db+web@lab1"]);
    let names: Vec<_> = plan.cases[0].guests.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["web-1", "db", "web-2"]);
    assert_eq!(plan.cases[0].guests[1].network, GuestNetwork::Static { address: "10.0.0.5/24".into(), gateway: None });
    assert_eq!(plan.cases[0].matrix.get("cluster").map(String::as_str), Some("web+db+web"));
}

#[test]
fn colliding_case_names_are_an_error() {
    let text = r#"version: 1
name: c
hosts:
  lab1: { uri: "qemu:///system" }
images:
  b-c: { builtin: test-image }
  c: { builtin: test-image }
guests:
  a: { kind: kvm, image: c }
  a-b: { kind: kvm, image: c }
matrix:
  image: [b-c, c]
"#;
    let out = errors(text);
    assert!(out.starts_with("error: case `c/a-b-c@lab1` is defined twice\n  --> x.yaml:10:3\n"), "{out}");
}

/// Files on disk, for `load`.
fn write(dir: &tempfile::TempDir, name: &str, text: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
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
fn unreadable_and_non_utf8_files() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(&dir, "bad.yaml", b"version: 1\nname: caf\xe9\n");
    let missing = dir.path().join("missing.yaml");
    let e = load(&[bad.clone(), missing.clone()]).unwrap_err();
    assert_eq!(e.diagnostics.len(), 2);
    assert_eq!((e.diagnostics[0].line, e.diagnostics[0].column), (2, 10));
    assert_eq!(e.diagnostics[0].message, "scenario file is not valid UTF-8");
    assert_eq!(e.diagnostics[1].file, missing);
    assert!(e.diagnostics[1].message.starts_with("cannot read scenario file: "), "{}", e.diagnostics[1].message);
    assert!(e.to_string().contains("2 | name: caf\u{fffd}\n  |          ^\n"), "{e}");
    assert_eq!(load(&[]).unwrap_err().diagnostics[0].message, "no scenario files given");
}

#[test]
fn nasty_inputs_do_not_panic() {
    let deep_seq = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let deep_map = "a:\n".to_owned() + &(1..300).map(|i| format!("{}a:\n", " ".repeat(i))).collect::<String>();
    let laughs = "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n";
    let inputs: &[&str] = &[
        "",
        "\n\n# only a comment\n",
        "---",
        "...",
        "~",
        "[]",
        "{}",
        "- a\n- b\n",
        "\t",
        "\tversion: 1",
        "a: [",
        "a: 'unterminated",
        "version: 99999999999999999999999999999999999999999999999999",
        "version: -99999999999999999999999999999999999999999999999999",
        "version: 1e999\nname: .nan",
        "version: 1\n---\nversion: 1\n",
        "? [a, b]\n: c\n",
        "{ [1]: 2, ~: 3, true: 4 }",
        "version: !custom 1",
        "!!binary aGVsbG8=",
        "version: *nope",
        "\u{feff}version: 1\r\nname: t\r\nbogus: 1\r\n",
        "version: 1\0\nname: t",
        "a: \u{2028}b\u{85}c: d",
        "version: 1\nname: t\nhosts: [1, 2]\nimages: 3\nguests: 'x'\nchecks: {}\ntimeouts: []\nmatrix: 4\ncluster: {}\n",
        "version: 1\nname: t\nhosts: { h: ~ }\nimages: { i: ~ }\nguests: { g: ~ }\nchecks: [~, 1, [], {}]\n",
        laughs,
        &deep_seq,
        &deep_map,
    ];
    for input in inputs {
        let result = load_str(Path::new("nasty.yaml"), input);
        let e = result.expect_err(&format!("accepted {input:?}"));
        assert!(!e.diagnostics.is_empty());
        let shown = e.to_string();
        if std::env::var_os("SHOW_NASTY").is_some() {
            println!("=== {input:?}\n{shown}");
        }
    }
}

#[test]
fn byte_order_mark_and_crlf_are_accepted() {
    let text = format!("\u{feff}{HEAD}guests: {{ tiny: {{ kind: kvm, image: tiny }} }}\n").replace('\n', "\r\n");
    assert_eq!(case_names(&plan(&text)), ["t/tiny@lab1"]);
}

/// `tests/fixtures/scenarios/*.yaml` say in a comment what loading them gives.
#[test]
fn fixtures_match_their_expectations() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scenarios");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let result = load(std::slice::from_ref(&path));
        if let Some(expected) = text.lines().find_map(|l| l.strip_prefix("# expect-first-error: ")) {
            let e = result.expect_err(&path.display().to_string());
            let d = &e.diagnostics[0];
            assert_eq!(format!("{}:{}: {}", d.line, d.column, d.message), expected, "{}", path.display());
        } else if let Some(expected) = text.lines().find_map(|l| l.strip_prefix("# expect-cases: ")) {
            let plan = result.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(case_names(&plan).join(" "), expected, "{}", path.display());
        } else {
            panic!("{} has no `# expect-…` comment", path.display());
        }
        seen += 1;
    }
    assert!(seen >= 3);
}

/// The complete example in `docs/scenario-format.md` stays valid.
#[test]
fn documented_example_is_valid() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scenario-format.md")).unwrap();
    let start = doc.find("```yaml\nversion: 1").expect("example") + "```yaml\n".len();
    let end = start + doc[start..].find("```").expect("end of example");
    let plan = plan(&doc[start..end]);
    assert_eq!(case_names(&plan), ["local-kvm/tiny-tiny@lab1", "local-kvm/tiny-custom@lab1"]);
    assert_eq!(plan.hosts["xen1"].bridge, "xenbr0");
}

#[test]
fn boot_is_kernel_where_there_is_one_and_disk_otherwise() {
    let head = "version: 1\nname: b\nhosts:\n  h: { uri: \"qemu:///system\" }\n  x: { uri: \"xen:///system\" }\n";
    let p = plan(&format!(
        "{head}images:\n  tiny: {{ builtin: test-image }}\n  deb: {{ builtin: debian-disk }}\n  own: {{ builtin: debian-disk, boot: disk }}\n  \
         cloud: {{ disk: /img/c.qcow2 }}\n  both: {{ disk: /img/c.qcow2, kernel: /k }}\n\
         guests: {{ g: {{ kind: kvm, image: tiny }} }}\nmatrix: {{ host: [h], image: [tiny, deb, own, cloud, both] }}\n"
    ));
    let boots: Vec<_> = p.cases.iter().map(|c| (c.guests[0].image.name.as_str(), c.guests[0].image.boot)).collect();
    assert_eq!(
        boots,
        [
            ("tiny", Boot::Kernel),
            ("deb", Boot::Kernel),
            ("own", Boot::Disk),
            ("cloud", Boot::Disk),
            ("both", Boot::Kernel)
        ]
    );
    // Xen PV reads the disk with pygrub; PVH cannot.
    let own = "images: { own: { builtin: debian-disk, boot: disk } }\n";
    plan(&format!("{head}{own}guests: {{ g: {{ kind: xen-pv, image: own }} }}\nmatrix: {{ host: [x] }}\n"));
    let out =
        errors(&format!("{head}{own}guests: {{ g: {{ kind: xen-pvh, image: own }} }}\nmatrix: {{ host: [x] }}\n"));
    assert!(
        out.contains("error: guest `g` of kind `xen-pvh` cannot boot image `own` from its disk (`boot: disk`)"),
        "{out}"
    );
}

#[test]
fn boot_contradictions_are_errors() {
    let out = errors(
        "version: 1\nname: b\nhosts: { h: { uri: \"qemu:///system\" } }\nimages:\n  \
         a: { builtin: test-image, boot: disk }\n  \
         b: { kernel: /k, boot: disk, disk: /d }\n  \
         c: { disk: /d, cmdline: \"x=1\", boot: disk }\n  \
         d: { disk: /d, boot: kernel }\n  \
         e: { disk: /d, boot: loader }\n\
         guests: { g: { kind: kvm, image: a } }\n",
    );
    for expected in [
        "error: image `a` has `boot: disk` but no disk",
        "error: `kernel` in image `b` has no effect with `boot: disk`",
        "error: `cmdline` in image `c` has no effect with `boot: disk`",
        "error: image `d` has `boot: kernel` but no kernel",
        "error: invalid value `loader` for `boot` in image `e`: expected one of kernel, disk",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(out.contains("x.yaml:8:"), "positions point at the image: {out}");
}

#[test]
fn ssh_key_is_a_file_here_and_not_for_the_test_image() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_baked");
    std::fs::write(&key, "key").unwrap();
    let head = "version: 1\nname: k\nhosts: { h: { uri: \"qemu:///system\" } }\n";
    let p = plan(&format!(
        "{head}images: {{ baked: {{ disk: /img/vendor.qcow2, seed: none, user: admin, ssh_key: {} }} }}\nguests: {{ g: {{ kind: kvm, image: baked }} }}\n",
        key.display()
    ));
    assert_eq!(p.cases[0].guests[0].image.ssh_key.as_deref(), Some(key.as_path()));
    let out = errors(&format!(
        "{head}images:\n  a: {{ disk: /d, ssh_key: {}/missing }}\n  b: {{ builtin: test-image, ssh_key: {} }}\n  c: {{ disk: /d, ssh_key: id_rsa }}\nguests: {{ g: {{ kind: kvm, image: a }} }}\n",
        dir.path().display(),
        key.display()
    ));
    for expected in [
        "/missing` is not a file on this machine",
        "error: `ssh_key` in image `b` has no effect: the test image takes the run's key from its kernel command line",
        "`ssh_key` in image `c` must be an absolute path, found `id_rsa`",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn copy_reads_the_files_here() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("vendor.qcow2");
    std::fs::write(&disk, "qcow").unwrap();
    let head = "version: 1\nname: c\nhosts: { h: { uri: \"qemu:///system\" } }\n";
    let p = plan(&format!(
        "{head}images:\n  here: {{ disk: {}, copy: true }}\n  there: {{ disk: /srv/x.qcow2 }}\nguests: {{ g: {{ kind: kvm, image: here }} }}\nmatrix: {{ image: [here, there] }}\n",
        disk.display()
    ));
    let images: Vec<_> = p.cases.iter().map(|c| (c.guests[0].image.copy, c.guests[0].image.files_are_here())).collect();
    assert_eq!(images, [(true, true), (false, false)]);
    let out = errors(&format!(
        "{head}images:\n  a: {{ disk: {}, kernel: {}/vmlinuz, copy: true }}\n  b: {{ builtin: debian-disk, copy: true }}\n  c: {{ disk: /d, copy: yes }}\nguests: {{ g: {{ kind: kvm, image: a }} }}\n",
        disk.display(),
        dir.path().display()
    ));
    for expected in [
        "/vmlinuz` is not a file on this machine",
        "error: `copy` in image `b` has no effect: a builtin image is built here and always copied to remote hosts",
        "wrong type for `copy` in image `c`: expected `true` or `false`",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(!out.contains("vendor.qcow2` is not a file"), "{out}");
}
