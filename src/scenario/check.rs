//! `checks:`, the ordered list of what every case verifies.

use crate::plan::CheckSpec;

use super::ctx::Cx;
use super::suggest;
use super::yaml::{Node, Value};

pub(crate) mod migrate;
pub(crate) mod network;

pub(crate) const CHECKS: &[&str] = &["boot", "command", "network", "migrate"];
pub(crate) const COMMAND_KEYS: &[&str] = &["name", "run", "expect_exit", "expect_output", "retries"];
const EXPECTED: &str = "`boot`, `network`, `migrate` or a mapping like `command: { run: \"uname -r\" }`";

/// Reads `checks:`; `boot` always comes first, added when omitted.
pub(crate) fn checks(cx: &mut Cx<'_>, value: &Node) -> Option<Vec<CheckSpec>> {
    let before = cx.diags.len();
    let Value::Seq(items) = &value.value else {
        cx.wrong_type(value, "`checks`", "a list of checks such as `[boot]`");
        return None;
    };
    let mut out = vec![CheckSpec::Boot];
    let mut named: Vec<(String, &Node)> = Vec::new();
    let mut boot_seen = false;
    let mut network_seen = false;
    let mut commands = 0;
    for (i, item) in items.iter().enumerate() {
        let position = i + 1;
        match &item.value {
            Value::Str(s) if s == "boot" => {
                if boot_seen {
                    cx.error(item, "duplicate check `boot`", None);
                }
                boot_seen = true;
            }
            Value::Str(s) if s == "network" => {
                if std::mem::replace(&mut network_seen, true) {
                    cx.error(item, "duplicate check `network`", None);
                } else {
                    named.push(("network".to_owned(), item));
                    out.push(CheckSpec::Network(Default::default()));
                }
            }
            Value::Str(s) if s == "migrate" => {
                named.push(("migrate".to_owned(), item));
                out.push(CheckSpec::Migrate(migrate::defaults()));
            }
            Value::Str(s) if s == "command" => cx.error(
                item,
                format!("check {position} (`command`) needs settings"),
                Some("write `- command: { run: \"uname -r\" }`".into()),
            ),
            Value::Str(s) => {
                let help = suggest::help_for(s, CHECKS, "checks are");
                cx.error(item, format!("unknown check `{s}`"), help);
            }
            Value::Map(_) => {
                let Some(entries) = cx.named_entries(item, &format!("check {position}")) else {
                    continue;
                };
                let Some(&(check, key, settings)) = entries.first() else {
                    cx.error(item, format!("check {position} is empty: expected {EXPECTED}"), None);
                    continue;
                };
                if let Some((_, extra, _)) = entries.get(1) {
                    cx.error(
                        extra,
                        format!("check {position} has more than one key"),
                        Some("start each check with its own `- `".into()),
                    );
                    continue;
                }
                match check {
                    "command" => {
                        commands += 1;
                        if let Some(c) = command(cx, key, settings, position, commands) {
                            named.push((c.name().to_owned(), settings));
                            out.push(c);
                        }
                    }
                    "boot" => {
                        if boot_seen {
                            cx.error(key, "duplicate check `boot`", None);
                        }
                        boot_seen = true;
                        if settings.value != Value::Null {
                            cx.error(settings, "check `boot` takes no settings", Some("write `- boot`".into()));
                        }
                    }
                    "network" => {
                        let duplicate = std::mem::replace(&mut network_seen, true);
                        if duplicate {
                            cx.error(key, "duplicate check `network`", None);
                        }
                        let spec = if settings.value == Value::Null {
                            Some(Default::default())
                        } else {
                            network::settings(cx, key, settings, position)
                        };
                        if let Some(spec) = spec.filter(|_| !duplicate) {
                            named.push(("network".to_owned(), key));
                            out.push(CheckSpec::Network(spec));
                        }
                    }
                    "migrate" => {
                        let spec = if settings.value == Value::Null {
                            Some(migrate::defaults())
                        } else {
                            migrate::settings(cx, key, settings, position)
                        };
                        if let Some(spec) = spec {
                            named.push(("migrate".to_owned(), key));
                            out.push(CheckSpec::Migrate(spec));
                        }
                    }
                    other => {
                        let help = suggest::help_for(other, CHECKS, "checks are");
                        cx.error(key, format!("unknown check `{other}`"), help);
                    }
                }
            }
            _ => cx.wrong_type(item, &format!("check {position}"), EXPECTED),
        }
    }
    for (i, (name, at)) in named.iter().enumerate() {
        if name == "boot" || named[..i].iter().any(|(n, _)| n == name) {
            cx.error(at, format!("duplicate check name `{name}`"), Some("give each check its own `name`".into()));
        }
    }
    (cx.diags.len() == before).then_some(out)
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
