//! Whole-module tests: bad inputs with their exact messages, good inputs with
//! their expansion, and inputs that must not crash.

use std::path::Path;

use crate::plan::{CheckSpec, GuestKind, GuestNetwork, Hypervisor, ImageSpec};

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
        "",
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
        "",
    ),
    (
        "unknown key without a close match lists the valid keys",
        r#"HEAD
guests:
  tiny: { kind: kvm, image: tiny, colour: blue }
"#,
        "",
    ),
    (
        "wrong type",
        r#"HEAD
guests:
  tiny: { kind: kvm, image: tiny, vcpus: two }
"#,
        "",
    ),
    (
        "missing required key",
        r#"HEAD
guests:
  tiny:
    kind: kvm
"#,
        "",
    ),
    (
        "bad kind lists the expected values",
        r#"HEAD
guests:
  tiny: { kind: xen-pvm, image: tiny }
"#,
        "",
    ),
    (
        "undefined image reference with suggestion",
        r#"HEAD
guests:
  tiny: { kind: kvm, image: tyny }
"#,
        "",
    ),
    (
        "bad duration",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
timeouts:
  console: 2 minutes
  ssh: 5x
"#,
        "",
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
        "",
    ),
    (
        "version other than 1",
        r#"version: 2
name: t
hosts: { lab1: { uri: "qemu:///system" } }
images: { tiny: { builtin: test-image } }
guests: { tiny: { kind: kvm, image: tiny } }
"#,
        "",
    ),
    (
        "version missing",
        r#"name: t
hosts: { lab1: { uri: "qemu:///system" } }
images: { tiny: { builtin: test-image } }
guests: { tiny: { kind: kvm, image: tiny } }
"#,
        "",
    ),
    (
        "cluster and matrix.guest both set",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
matrix:
  guest: [tiny]
cluster: [tiny, tiny]
"#,
        "",
    ),
    (
        "guest kind not runnable on the host",
        r#"HEAD
guests:
  tiny: { kind: xen-pv, image: tiny }
"#,
        "",
    ),
    (
        "matrix kind not runnable on the selected host",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
matrix:
  host: [lab1]
  kind: [kvm, xen-pvh]
"#,
        "",
    ),
    (
        "several errors in one file are all reported",
        r#"HEAD
guests:
  tiny: { kind: kvm, image: tiny, count: 0 }
  big: { kind: kvm, image: nope, memory_mib: 32 }
checks: [boot, reboot]
"#,
        "",
    ),
    (
        "tabs are a YAML syntax error with a location",
        r#"version: 1
name: t
	hosts: {}
"#,
        "",
    ),
    (
        "unclosed flow mapping is a YAML syntax error",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny }
"#,
        "",
    ),
    (
        "empty matrix and empty axis",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
matrix: {}
"#,
        "",
    ),
    (
        "empty matrix axis",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
matrix:
  image: []
"#,
        "",
    ),
    (
        "undefined host in the matrix with suggestion",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
matrix:
  host: [lab]
"#,
        "",
    ),
    (
        "undefined guest in a cluster",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
cluster: [tiny, tyni]
"#,
        "",
    ),
    (
        "unknown builtin image",
        r#"version: 1
name: t
hosts: { lab1: { uri: "qemu:///system" } }
images:
  tiny: { builtin: tiny-image }
"#,
        "",
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
        "",
    ),
    (
        "image with both builtin and files",
        r#"version: 1
name: t
hosts: { lab1: { uri: "qemu:///system" } }
images:
  both: { builtin: test-image, kernel: /boot/vmlinuz }
"#,
        "",
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
        "",
    ),
    (
        "hypervisor cannot be inferred from the uri",
        r#"version: 1
name: t
hosts:
  t1:
    uri: "test:///default"
"#,
        "",
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
        "",
    ),
    (
        "invalid scenario name",
        r#"version: 1
name: Local KVM
hosts: { lab1: { uri: "qemu:///system" } }
"#,
        "",
    ),
    (
        "yes is a string, not a boolean",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny, network: yes } }
"#,
        "",
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
        "",
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
        "",
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
        "",
    ),
    (
        "huge numbers",
        r#"HEAD
guests:
  tiny: { kind: kvm, image: tiny, memory_mib: 99999999999999999999999999999999999999999999, vcpus: 1e3 }
"#,
        "",
    ),
    (
        "no hosts anywhere",
        r#"version: 1
name: t
images: { tiny: { builtin: test-image } }
guests: { tiny: { kind: kvm, image: tiny } }
"#,
        "",
    ),
    (
        "empty file",
        r#""#,
        "",
    ),
    (
        "top-level list",
        r#"- version: 1
"#,
        "",
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
