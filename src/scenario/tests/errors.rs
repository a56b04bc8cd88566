//! Syntax, versions, keys, types and files: what any part of a scenario can get wrong.

use super::*;

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
  = help: defined images are: tiny
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
        "several errors in one file are all reported",
        r#"HEAD
guests:
  tiny: { kind: kvm, image: tiny, count: 0 }
  big: { kind: kvm, image: nope, memory_mib: 32 }
checks: [boot, boots]
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

error: unknown check `boots`
 --> x.yaml:8:16
  |
8 | checks: [boot, boots]
  |                ^^^^^
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
    check_bad(BAD);
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
