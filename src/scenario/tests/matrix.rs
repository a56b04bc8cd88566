//! Matrix, placement and clusters: how scenarios expand into cases.

use super::*;

/// (what, input, exact diagnostics)
const BAD: &[(&str, &str, &str)] = &[
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
        "a value twice in a matrix axis",
        r#"HEAD
guests: { tiny: { kind: kvm, image: tiny } }
matrix: { image: [tiny, tiny] }
"#,
        r#"error: `tiny` appears twice in `matrix.image`
 --> x.yaml:6:25
  |
6 | matrix: { image: [tiny, tiny] }
  |                         ^^^^
  = help: list each value once
"#,
    ),
];

#[test]
fn bad_inputs_give_exact_diagnostics() {
    check_bad(BAD);
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

#[test]
fn a_label_close_to_a_hosts_label_is_suggested() {
    let text = "version: 1\nname: y\nhosts:\n  h1: { uri: \"qemu:///1\", labels: { pool: nightly } }\n\
                images: { tiny: { builtin: test-image } }\nguests: { small: { kind: kvm, image: tiny } }\n\
                matrix: { host: { labels: { pool: nightyl } } }\n";
    let out = errors(text);
    assert!(out.contains("error: no host matches `pool=nightyl`"), "{out}");
    assert!(
        out.contains("help: did you mean `pool=nightly`?; hosts and their labels: h1 {\"pool\": \"nightly\"}"),
        "{out}"
    );
    let out = errors(&text.replace("pool: nightyl", "rack: b"));
    assert!(out.contains("help: hosts and their labels: h1"), "no suggestion for a label far from any: {out}");
}
