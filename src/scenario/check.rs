//! `checks:`, the ordered list of what every case verifies.

use crate::plan::CheckSpec;

use super::ctx::Cx;
use super::suggest;
use super::yaml::{Node, Value};

pub(crate) mod lifecycle;
pub(crate) mod migrate;
pub(crate) mod network;

pub(crate) use migrate::MigrateAt;

pub(crate) const CHECKS: &[&str] =
    &["boot", "command", "network", "migrate", "reboot", "shutdown", "save-restore", "pause-resume"];
pub(crate) const COMMAND_KEYS: &[&str] = &["name", "run", "expect_exit", "expect_output", "retries"];
const ONCE_BOOT: &str = "`boot` runs once, first in every case: remove this one";
const ONCE_NETWORK: &str = "a case runs one `network` check: list every sub-check it needs in its `checks`";
const EXPECTED: &str = "`boot`, `network`, `migrate`, `reboot`, `shutdown`, `save-restore`, `pause-resume` or a mapping like `command: { run: \"uname -r\" }`";

/// What `checks:` gave: the specs in order, and the `migrate` checks' nodes.
pub(crate) struct Checks<'n> {
    pub specs: Vec<CheckSpec>,
    pub migrates: Vec<MigrateAt<'n>>,
}

/// The checks read so far, and what must stay unique among them.
struct Reading<'n> {
    out: Vec<CheckSpec>,
    migrates: Vec<MigrateAt<'n>>,
    named: Vec<(String, &'n Node)>,
    boot_seen: bool,
    network_seen: bool,
    commands: usize,
}

/// Reads `checks:`; `boot` always comes first, added when omitted.
pub(crate) fn checks<'n>(cx: &mut Cx<'_>, value: &'n Node) -> Option<Checks<'n>> {
    let before = cx.diags.len();
    let Value::Seq(items) = &value.value else {
        cx.wrong_type(value, "`checks`", "a list of checks such as `[boot]`");
        return None;
    };
    let mut r = Reading {
        out: vec![CheckSpec::Boot],
        migrates: Vec::new(),
        named: Vec::new(),
        boot_seen: false,
        network_seen: false,
        commands: 0,
    };
    for (i, item) in items.iter().enumerate() {
        let position = i + 1;
        match &item.value {
            Value::Str(s) => bare(cx, &mut r, item, s, position),
            Value::Map(_) => mapping(cx, &mut r, item, position),
            _ => cx.wrong_type(item, &format!("check {position}"), EXPECTED),
        }
    }
    for (i, (name, at)) in r.named.iter().enumerate() {
        if name == "boot" || r.named[..i].iter().any(|(n, _)| n == name) {
            cx.error(at, format!("duplicate check name `{name}`"), Some("give each check its own `name`".into()));
        }
    }
    shutdown_last(cx, &r.named);
    (cx.diags.len() == before).then_some(Checks { specs: r.out, migrates: r.migrates })
}

/// Nothing answers after `shutdown`: a check after it could only fail.
fn shutdown_last(cx: &mut Cx<'_>, named: &[(String, &Node)]) {
    let Some(i) = named.iter().position(|(n, _)| n == "shutdown") else { return };
    if let Some((next, at)) = named.get(i + 1) {
        cx.error(
            at,
            format!("check `{next}` comes after `shutdown`, when the guests are gone"),
            Some("put `shutdown` last".into()),
        );
    }
}

/// A check written as its name alone: `- boot`, `- network`, `- migrate`.
fn bare<'n>(cx: &mut Cx<'_>, r: &mut Reading<'n>, item: &'n Node, s: &str, position: usize) {
    match s {
        "boot" => {
            if std::mem::replace(&mut r.boot_seen, true) {
                cx.error(item, "duplicate check `boot`", Some(ONCE_BOOT.into()));
            }
        }
        "network" => {
            if std::mem::replace(&mut r.network_seen, true) {
                cx.error(item, "duplicate check `network`", Some(ONCE_NETWORK.into()));
            } else {
                r.named.push(("network".to_owned(), item));
                r.out.push(CheckSpec::Network(Default::default()));
            }
        }
        "migrate" => {
            r.named.push(("migrate".to_owned(), item));
            r.out.push(CheckSpec::Migrate(migrate::defaults()));
            r.migrates.push(MigrateAt::bare(position, item));
        }
        _ if lifecycle::NAMES.contains(&s) => {
            if let Some(spec) = lifecycle::bare(s) {
                r.named.push((spec.name().to_owned(), item));
                r.out.push(spec);
            }
        }
        "command" => cx.error(
            item,
            format!("check {position} (`command`) needs settings"),
            Some("write `- command: { run: \"uname -r\" }`".into()),
        ),
        _ => {
            let help = suggest::help_for(s, CHECKS, "checks are");
            cx.error(item, format!("unknown check `{s}`"), help);
        }
    }
}

/// A check written as a mapping of one key: `- command: { ... }`.
fn mapping<'n>(cx: &mut Cx<'_>, r: &mut Reading<'n>, item: &'n Node, position: usize) {
    let Some(entries) = cx.named_entries(item, &format!("check {position}")) else {
        return;
    };
    let Some(&(check, key, settings)) = entries.first() else {
        cx.error(item, format!("check {position} is empty: expected {EXPECTED}"), None);
        return;
    };
    if let Some((_, extra, _)) = entries.get(1) {
        cx.error(
            extra,
            format!("check {position} has more than one key"),
            Some("start each check with its own `- `".into()),
        );
        return;
    }
    match check {
        "command" => {
            r.commands += 1;
            if let Some(c) = command(cx, key, settings, position, r.commands) {
                r.named.push((c.name().to_owned(), settings));
                r.out.push(c);
            }
        }
        "boot" => {
            if std::mem::replace(&mut r.boot_seen, true) {
                cx.error(key, "duplicate check `boot`", Some(ONCE_BOOT.into()));
            }
            if settings.value != Value::Null {
                cx.error(settings, "check `boot` takes no settings", Some("write `- boot`".into()));
            }
        }
        "network" => {
            let duplicate = std::mem::replace(&mut r.network_seen, true);
            if duplicate {
                cx.error(key, "duplicate check `network`", Some(ONCE_NETWORK.into()));
            }
            let spec = if settings.value == Value::Null {
                Some(Default::default())
            } else {
                network::settings(cx, key, settings, position)
            };
            if let Some(spec) = spec.filter(|_| !duplicate) {
                r.named.push(("network".to_owned(), key));
                r.out.push(CheckSpec::Network(spec));
            }
        }
        "migrate" => {
            let read = if settings.value == Value::Null {
                Some(MigrateAt::bare(position, key))
            } else {
                migrate::settings(cx, key, settings, position)
            };
            if let Some(m) = read {
                r.named.push((m.spec.name().to_owned(), key));
                r.out.push(CheckSpec::Migrate(m.spec.clone()));
                r.migrates.push(m);
            }
        }
        _ if lifecycle::NAMES.contains(&check) => {
            if let Some(spec) = lifecycle::mapping(cx, check, key, settings, position) {
                r.named.push((spec.name().to_owned(), key));
                r.out.push(spec);
            }
        }
        other => {
            let help = suggest::help_for(other, CHECKS, "checks are");
            cx.error(key, format!("unknown check `{other}`"), help);
        }
    }
}

fn command(cx: &mut Cx<'_>, key: &Node, settings: &Node, position: usize, n: usize) -> Option<CheckSpec> {
    let f = cx.fields(key, settings, format!("check {position} (`command`)"), COMMAND_KEYS)?;
    let name = match f.get("name") {
        None => Some(format!("command-{n}")),
        Some(node) => cx.text(node, &f.desc("name")).filter(|s| cx.name(node, s, "check name")),
    };
    let run = match f.get("run") {
        Some(node) => cx.text(node, &f.desc("run")),
        None => {
            cx.missing(&f, "run", Some("the shell command to run in the guest, e.g. `run: \"uname -r\"`".into()));
            None
        }
    };
    let expect_exit =
        f.get("expect_exit").map_or(Some(0), |node| cx.int(node, &f.desc("expect_exit"), 0, 255).map(|v| v as i32));
    let expect_output = match f.get("expect_output") {
        None => Some(None),
        Some(node) => cx.string(node, &f.desc("expect_output")).map(Some),
    };
    let retries = f.get("retries").map_or(Some(0), |node| cx.u32(node, &f.desc("retries"), 0, 10));
    Some(CheckSpec::Command {
        name: name?,
        run: run?,
        expect_exit: expect_exit?,
        expect_output: expect_output?,
        retries: retries?,
    })
}
