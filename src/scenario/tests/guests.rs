//! Guest templates: kinds, image references, networks and firmware.

use super::*;

/// (what, input, exact diagnostics)
const BAD: &[(&str, &str, &str)] = &[
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
];

#[test]
fn bad_inputs_give_exact_diagnostics() {
    check_bad(BAD);
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
