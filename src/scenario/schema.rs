//! A JSON Schema of the scenario format (`virtsmoke schema`), for editors such
//! as yaml-language-server. The validator in this module stays the authority
//! (it also checks references, ranges across fields, and the matrix); the
//! schema catches typos while typing. A test keeps its keys equal to the
//! validator's.

use serde_json::{Value, json};

use crate::plan::{GuestKind, NetworkSubCheck};

fn duration() -> Value {
    json!({ "type": "string", "description": "a duration such as 30s, 2m or 1h 5m" })
}

fn strings() -> Value {
    json!({ "type": "array", "items": { "type": "string" } })
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "additionalProperties": false, "properties": properties, "required": required })
}

pub fn scenario() -> Value {
    let mut root = object(
        json!({
            "version": { "const": 1 },
            "name": name(),
            "description": { "type": "string" },
            "hosts": { "type": "object", "additionalProperties": host() },
            "images": { "type": "object", "additionalProperties": image() },
            "guests": { "type": "object", "additionalProperties": guest() },
            "checks": { "type": "array", "items": check() },
            "timeouts": timeouts(),
            "matrix": matrix(),
            "cluster": strings(),
            "known_issues": { "type": "array", "items": known_issue() }
        }),
        &["version", "name"],
    );
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["title"] = json!("virtsmoke scenario, version 1");
    root
}

fn kinds() -> Vec<&'static str> {
    GuestKind::ALL.iter().map(|k| k.as_str()).collect()
}

/// An entry of `known_issues:`.
fn known_issue() -> Value {
    object(
        json!({
            "case": { "type": "string", "description": "pattern over case names (* and ?), default *" },
            "step": { "type": "string", "description": "pattern over step names (* and ?)" },
            "message": { "type": "string", "description": "text the failure message must contain" },
            "reason": { "type": "string" },
            "link": { "type": "string" },
            "expires": { "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$" }
        }),
        &["step", "message", "reason"],
    )
}

/// Names used in case and domain names.
fn name() -> Value {
    json!({ "type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$" })
}

/// An entry of `hosts:`.
fn host() -> Value {
    object(
        json!({
            "uri": { "type": "string", "description": "libvirt connection URI" },
            "hypervisor": { "enum": ["kvm", "xen"] },
            "accel": { "enum": ["auto", "kvm", "qemu"] },
            "netns": { "type": "string" },
            "bridge": { "type": "string" },
            "capacity": object(json!({
                "guests": { "type": "integer", "minimum": 1 },
                "memory_mib": { "type": "integer", "minimum": 64 },
                "when_full": { "enum": ["wait", "skip"], "description": "when the host, by its own account, has no room: wait for it or skip the case" },
                "wait_up_to": duration()
            }), &[]),
            "roles": strings(),
            "labels": { "type": "object", "additionalProperties": { "type": ["string", "integer"] } },
            "jump": jump()
        }),
        &["uri"],
    )
}

/// A host's `jump`: its key is checked against a known_hosts file or a
/// pinned fingerprint, unless `insecure_host_key: true` says not to (exactly
/// one of the three).
fn jump() -> Value {
    let mut v = object(
        json!({
            "address": { "type": "string", "description": "HOST:PORT" },
            "user": { "type": "string" },
            "key": { "type": "string" },
            "known_hosts": { "type": "string", "description": "an OpenSSH known_hosts file recording the jump host's key" },
            "host_key": {
                "type": "string",
                "pattern": "^SHA256:[A-Za-z0-9+/]{43}=?$",
                "description": "the jump host's key fingerprint, as `ssh-keygen -l` prints it"
            },
            "insecure_host_key": { "type": "boolean", "description": "true: accept any key (not checked)" }
        }),
        &["address", "key"],
    );
    v["oneOf"] = json!([
        { "required": ["known_hosts"], "not": { "anyOf": [{ "required": ["host_key"] }, { "required": ["insecure_host_key"] }] } },
        { "required": ["host_key"], "not": { "anyOf": [{ "required": ["known_hosts"] }, { "required": ["insecure_host_key"] }] } },
        { "required": ["insecure_host_key"], "properties": { "insecure_host_key": { "const": true } },
          "not": { "anyOf": [{ "required": ["known_hosts"] }, { "required": ["host_key"] }] } }
    ]);
    v
}

/// An entry of `images:`.
fn image() -> Value {
    object(
        json!({
            "builtin": { "enum": super::image::BUILTIN_IMAGES },
            "cmdline": { "type": "string" },
            "kernel": { "type": "string", "description": "a kernel to boot directly (a path on the libvirt host); with `builtin: test-image`, a kernel of your own on this machine, booted with the test image's initramfs" },
            "initrd": { "type": "string" },
            "disk": { "type": "string" },
            "seed": { "enum": ["nocloud", "none"] },
            "user": { "type": "string" },
            "cloud_config": { "type": "string", "description": "cloud-config (a YAML mapping, as text) merged into the NoCloud seed's user-data" },
            "marker": { "type": "string", "description": "console text that means the guest has booted" },
            "allow_degraded": { "type": "boolean" },
            "cloud_init": object(
                json!({ "allow_failed_modules": {
                    "type": "array",
                    "items": { "type": "string", "pattern": "^[A-Za-z0-9_-]+$" },
                    "description": "cloud-init modules that may fail: boot.cloud-init passes when every failure is in one of them, and records them (disk images with a seed)"
                }}),
                &["allow_failed_modules"]
            ),
            "copy": { "type": "boolean", "description": "the files are on the machine running virtsmoke; a remote host gets copies checked by sha256, once per run" },
            "ssh_key": { "type": "string", "description": "a private key on the machine running virtsmoke that logs in to the image's guests (a key baked into the image); the seed then authorises no key" },
            "boot": { "enum": ["kernel", "disk"], "description": "kernel: direct kernel boot by virtsmoke; disk: the disk's own boot loader (firmware, or pygrub for Xen PV)" }
        }),
        &[],
    )
}

/// An entry of `guests:`.
fn guest() -> Value {
    let kinds = kinds();
    object(
        json!({
            "kind": { "enum": kinds },
            "image": { "type": "string" },
            "memory_mib": { "type": "integer", "minimum": 64 },
            "vcpus": { "type": "integer", "minimum": 1, "maximum": 64 },
            "count": { "type": "integer", "minimum": 1 },
            "firmware": { "enum": ["bios", "uefi"] },
            "network": { "oneOf": [
                { "enum": ["dhcp", "none"] },
                object(json!({ "static": { "type": "string" }, "gateway": { "type": "string" } }), &["static"])
            ]}
        }),
        &["kind", "image"],
    )
}

/// `- command: { ... }`.
fn command() -> Value {
    object(
        json!({
            "name": name(),
            "run": { "type": "string" },
            "expect_exit": { "type": "integer", "minimum": 0, "maximum": 255 },
            "expect_output": { "type": "string" },
            "retries": { "type": "integer", "minimum": 0, "maximum": 10 }
        }),
        &["run"],
    )
}

/// `- network: { ... }`.
fn network() -> Value {
    let subchecks: Vec<&str> = NetworkSubCheck::ALL.iter().map(|c| c.as_str()).collect();
    object(
        json!({
            "checks": { "type": "array", "items": { "enum": subchecks } },
            "dns_name": { "type": "string" },
            "tcp_port": { "type": "integer", "minimum": 1, "maximum": 65535 },
            "count": { "type": "integer", "minimum": 1, "maximum": 100 },
            "max_loss_pct": { "type": "integer", "minimum": 0, "maximum": 100 },
            "lease_file": { "type": "string" },
            "throughput": object(json!({
                "duration": duration(),
                "min_mbps": { "type": "integer", "minimum": 0 }
            }), &[])
        }),
        &[],
    )
}

/// `- migrate: { ... }`.
fn migrate() -> Value {
    object(
        json!({
            "target": { "type": "string" },
            "rounds": { "type": "integer", "minimum": 1, "maximum": 100 },
            "live": { "type": "boolean" },
            "peer_to_peer": { "type": "boolean" },
            "tunnelled": { "type": "boolean" },
            "persistent": { "type": "boolean" },
            "undefine_source": { "type": "boolean" },
            "copy_storage": { "type": "boolean" },
            "bandwidth_mib_s": { "type": "integer", "minimum": 1 },
            "allowed_downtime_ms": { "type": "integer", "minimum": 1 },
            "max_downtime_ms": { "type": "integer", "minimum": 1 },
            "ssh": { "enum": ["keep", "reconnect"] },
            "timeout": duration()
        }),
        &[],
    )
}

/// `- reboot: { ... }`.
fn reboot() -> Value {
    object(
        json!({
            "via": { "enum": ["guest", "libvirt"], "description": "guest: `reboot` inside the guest; libvirt: libvirt's reboot" }
        }),
        &[],
    )
}

/// An item of `checks:`.
fn check() -> Value {
    json!({ "oneOf": [
        { "enum": ["boot", "network", "migrate", "reboot", "shutdown", "save-restore", "pause-resume"] },
        object(json!({ "boot": { "type": "null" } }), &["boot"]),
        object(json!({ "command": command() }), &["command"]),
        object(json!({ "network": { "oneOf": [ { "type": "null" }, network() ] } }), &["network"]),
        object(json!({ "migrate": { "oneOf": [ { "type": "null" }, migrate() ] } }), &["migrate"]),
        object(json!({ "reboot": { "oneOf": [ { "type": "null" }, reboot() ] } }), &["reboot"]),
        object(json!({ "shutdown": { "type": "null" } }), &["shutdown"]),
        object(json!({ "save-restore": { "type": "null" } }), &["save-restore"]),
        object(json!({ "pause-resume": { "type": "null" } }), &["pause-resume"])
    ]})
}

/// `timeouts:`.
fn timeouts() -> Value {
    object(
        json!({
            "running": duration(), "console": duration(), "address": duration(),
            "ssh": duration(), "command": duration(), "case": duration()
        }),
        &[],
    )
}

/// `matrix:`.
fn matrix() -> Value {
    let kinds = kinds();
    object(
        json!({ "host": { "oneOf": [
            strings(),
            { "const": "any" },
            object(json!({ "labels": { "type": "object", "additionalProperties": { "type": ["string", "integer"] } } }), &["labels"])
        ] }, "guest": strings(), "kind": { "type": "array", "items": { "enum": kinds } }, "image": strings() }),
        &[],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small validator for the parts of JSON Schema used above, so the test
    /// needs nothing beyond this crate.
    fn violations(schema: &Value, v: &Value, at: &str) -> Vec<String> {
        if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
            return if branches.iter().any(|b| violations(b, v, at).is_empty()) {
                vec![]
            } else {
                vec![format!("{at}: matches no alternative")]
            };
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            return if options.contains(v) { vec![] } else { vec![format!("{at}: {v} is not one of {options:?}")] };
        }
        if let Some(c) = schema.get("const") {
            return if c == v { vec![] } else { vec![format!("{at}: expected {c}")] };
        }
        let ty = |t: &str| match schema.get("type") {
            Some(Value::String(s)) => s == t,
            Some(Value::Array(a)) => a.iter().any(|x| x == t),
            _ => false,
        };
        let mut out = Vec::new();
        match v {
            Value::Object(map) => {
                if !(ty("object") || schema.get("properties").is_some()) && schema.get("type").is_some() {
                    return vec![format!("{at}: unexpected mapping")];
                }
                for (k, val) in map {
                    let sub = schema.get("properties").and_then(|p| p.get(k));
                    match (sub, schema.get("additionalProperties")) {
                        (Some(sub), _) => out.extend(violations(sub, val, &format!("{at}.{k}"))),
                        (None, Some(Value::Bool(false))) => out.push(format!("{at}: unknown key `{k}`")),
                        (None, Some(extra)) if extra.is_object() => {
                            out.extend(violations(extra, val, &format!("{at}.{k}")));
                        }
                        _ => {}
                    }
                }
                if let Some(req) = schema.get("required").and_then(Value::as_array) {
                    for r in req {
                        if !map.contains_key(r.as_str().unwrap()) {
                            out.push(format!("{at}: missing `{r}`"));
                        }
                    }
                }
            }
            Value::Array(items) => match schema.get("items") {
                Some(item) => {
                    for (i, x) in items.iter().enumerate() {
                        out.extend(violations(item, x, &format!("{at}[{i}]")));
                    }
                }
                None if !ty("array") => out.push(format!("{at}: unexpected list")),
                None => {}
            },
            Value::String(_) if schema.get("type").is_some() && !ty("string") => {
                out.push(format!("{at}: unexpected string"));
            }
            Value::Number(_) if schema.get("type").is_some() && !ty("integer") => {
                out.push(format!("{at}: unexpected number"));
            }
            Value::Bool(_) if schema.get("type").is_some() && !ty("boolean") => {
                out.push(format!("{at}: unexpected boolean"));
            }
            Value::Null if schema.get("type").is_some() && !ty("null") => out.push(format!("{at}: unexpected null")),
            _ => {}
        }
        out
    }

    fn yaml_files() -> Vec<std::path::PathBuf> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["scenarios", "tests/fixtures/e2e"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
                if e.path().extension().is_some_and(|x| x == "yaml") {
                    files.push(e.path());
                }
            }
        }
        files
    }

    #[test]
    fn every_shipped_scenario_matches_the_schema() {
        let schema = scenario();
        let files = yaml_files();
        assert!(files.len() >= 5);
        for f in files {
            let y: serde_yaml_ng::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            let v = serde_json::to_value(y).unwrap();
            let bad = violations(&schema, &v, "$");
            assert!(bad.is_empty(), "{}: {bad:?}", f.display());
        }
    }

    #[test]
    fn a_misspelt_key_breaks_the_schema() {
        let y: serde_yaml_ng::Value =
            serde_yaml_ng::from_str("version: 1\nname: x\nguests:\n  g: { kind: kvm, image: i, memroy_mib: 5 }\n")
                .unwrap();
        let bad = violations(&scenario(), &serde_json::to_value(y).unwrap(), "$");
        assert_eq!(bad, vec!["$.guests.g: unknown key `memroy_mib`".to_string()]);
    }

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v["properties"].as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    fn sorted(k: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = k.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }

    /// Every builtin image the validator accepts ships a recipe (and so can be built).
    #[test]
    fn builtin_images_have_recipes() {
        let recipes = crate::image::names();
        for b in super::super::image::BUILTIN_IMAGES {
            assert!(recipes.contains(b), "no recipe under images/ for builtin image `{b}`");
        }
        for b in super::super::image::BUILTIN_DISK_IMAGES {
            assert!(super::super::image::BUILTIN_IMAGES.contains(b), "{b}");
        }
    }

    /// The schema names exactly the keys the validator accepts, at every level.
    #[test]
    fn keys_match_the_validator() {
        let s = scenario();
        let p = &s["properties"];
        assert_eq!(keys(&s), sorted(super::super::file::KEYS));
        assert_eq!(keys(&p["hosts"]["additionalProperties"]), sorted(super::super::host::KEYS));
        assert_eq!(keys(&p["images"]["additionalProperties"]), sorted(super::super::image::KEYS));
        assert_eq!(keys(&p["guests"]["additionalProperties"]), sorted(super::super::guest::KEYS));
        assert_eq!(keys(&p["timeouts"]), sorted(super::super::timeouts::KEYS));
        assert_eq!(keys(&p["matrix"]), sorted(super::super::matrix::AXES));
        assert_eq!(keys(&p["known_issues"]["items"]), sorted(super::super::known::KEYS));
        let checks = &p["checks"]["items"]["oneOf"];
        assert_eq!(checks[0]["enum"].as_array().unwrap().len() + 1, super::super::check::CHECKS.len());
        assert_eq!(keys(&checks[2]["properties"]["command"]), sorted(super::super::check::COMMAND_KEYS));
        let network = &checks[3]["properties"]["network"]["oneOf"][1];
        assert_eq!(keys(network), sorted(super::super::check::network::KEYS));
        assert_eq!(keys(&network["properties"]["throughput"]), sorted(super::super::check::network::THROUGHPUT_KEYS));
        assert_eq!(keys(&checks[4]["properties"]["migrate"]["oneOf"][1]), sorted(super::super::check::migrate::KEYS));
        assert_eq!(
            keys(&checks[5]["properties"]["reboot"]["oneOf"][1]),
            sorted(super::super::check::lifecycle::REBOOT_KEYS)
        );
    }
}
