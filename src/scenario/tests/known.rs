//! `known_issues:`: entries, their checks, and which cases get them.

use super::*;

/// (what, input, exact diagnostics); `HEAD\n` stands for [`HEAD`].
const BAD: &[(&str, &str, &str)] = &[
    (
        "expired",
        "HEAD\nguests: { tiny: { kind: kvm, image: tiny } }\nknown_issues:
  - { step: boot.ssh, message: x, reason: r, expires: 2001-02-03 }\n",
        "error: known issue expired on 2001-02-03: re-check and remove or extend it
 --> x.yaml:7:55
  |
7 |   - { step: boot.ssh, message: x, reason: r, expires: 2001-02-03 }
  |                                                       ^^^^^^^^^^
  = help: run the case without the entry; if it still fails, set a later `expires`
",
    ),
    (
        "malformed date",
        "HEAD\nguests: { tiny: { kind: kvm, image: tiny } }\nknown_issues:
  - { step: boot.ssh, message: x, reason: r, expires: 2001-02-30 }\n",
        "error: invalid date `2001-02-30` for `expires` in known issue 1
 --> x.yaml:7:55
  |
7 |   - { step: boot.ssh, message: x, reason: r, expires: 2001-02-30 }
  |                                                       ^^^^^^^^^^
  = help: write the date as YYYY-MM-DD
",
    ),
    (
        "unknown key",
        "HEAD\nguests: { tiny: { kind: kvm, image: tiny } }\nknown_issues:
  - { step: boot.ssh, message: x, reason: r, bug: 1 }\n",
        "error: unknown key `bug` in known issue 1
 --> x.yaml:7:46
  |
7 |   - { step: boot.ssh, message: x, reason: r, bug: 1 }
  |                                              ^^^
  = help: valid keys are: case, step, message, reason, link, expires
",
    ),
    (
        "no reason",
        "HEAD\nguests: { tiny: { kind: kvm, image: tiny } }\nknown_issues:
  - { step: boot.ssh, message: x }\n",
        "error: missing required key `reason` in known issue 1
 --> x.yaml:7:5
  |
7 |   - { step: boot.ssh, message: x }
  |     ^
  = help: say why the failure is expected, e.g. the upstream bug
",
    ),
    (
        "bad pattern: an empty step pattern would select nothing",
        "HEAD\nguests: { tiny: { kind: kvm, image: tiny } }\nknown_issues:
  - { step: \"\", message: x, reason: r }\n",
        "error: `step` in known issue 1 must not be empty
 --> x.yaml:7:13
  |
7 |   - { step: \"\", message: x, reason: r }
  |             ^^
",
    ),
    (
        "bad pattern: an empty message would match any failure",
        "HEAD\nguests: { tiny: { kind: kvm, image: tiny } }\nknown_issues:
  - { step: boot.ssh, message: \"\", reason: r }\n",
        "error: `message` in known issue 1 must not be empty
 --> x.yaml:7:32
  |
7 |   - { step: boot.ssh, message: \"\", reason: r }
  |                                ^^
",
    ),
    (
        "dangling case selector",
        "HEAD\nguests: { tiny: { kind: kvm, image: tiny } }\nknown_issues:
  - { case: \"other/*\", step: boot.ssh, message: x, reason: r }\n",
        "error: known issue `r` selects no case (case pattern `other/*`)
 --> x.yaml:7:5
  |
7 |   - { case: \"other/*\", step: boot.ssh, message: x, reason: r }
  |     ^
  = help: the scenario's cases are t/tiny@lab1
",
    ),
    (
        "not a list",
        "HEAD\nguests: { tiny: { kind: kvm, image: tiny } }\nknown_issues:
  step: boot.ssh\n",
        "error: wrong type for `known_issues`: expected a list of entries with `step`, `message` and `reason`, found a mapping
 --> x.yaml:7:3
  |
7 |   step: boot.ssh
  |   ^^^^
",
    ),
];

#[test]
fn bad_inputs_give_exact_diagnostics() {
    check_bad(BAD);
}

#[test]
fn entries_go_to_the_cases_they_select() {
    let p = plan(&format!(
        "{HEAD}guests: {{ tiny: {{ kind: kvm, image: tiny }}, big: {{ kind: kvm, image: tiny }} }}
matrix: {{ guest: [tiny, big] }}
known_issues:
  - step: \"migrate.round-*\"
    message: \"Failed to enable logdirty\"
    reason: Xen 4.17 cannot migrate PV live
    link: https://bugs.example/1
    expires: 2999-12-31
  - {{ case: \"t/big@*\", step: boot.cloud-init, message: cc_ntp, reason: ntp module }}
"
    ));
    let issues = |name: &str| -> Vec<(String, String)> {
        let c = p.cases.iter().find(|c| c.name == name).unwrap();
        c.known_issues.iter().map(|k| (k.case.clone(), k.step.clone())).collect()
    };
    let all = ("*".to_owned(), "migrate.round-*".to_owned());
    assert_eq!(issues("t/tiny@lab1"), vec![all.clone()]);
    assert_eq!(issues("t/big@lab1"), vec![all, ("t/big@*".to_owned(), "boot.cloud-init".to_owned())]);
    let k = &p.cases[0].known_issues[0];
    assert_eq!(k.link.as_deref(), Some("https://bugs.example/1"));
    assert_eq!(k.expires.as_deref(), Some("2999-12-31"));
}

#[test]
fn without_entries_cases_have_none() {
    let p = plan(&format!("{HEAD}guests: {{ tiny: {{ kind: kvm, image: tiny }} }}\n"));
    assert!(p.cases.iter().all(|c| c.known_issues.is_empty()));
}
