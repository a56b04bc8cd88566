//! Collecting diagnostics while reading one file, and typed accessors that
//! report what they expected instead of stopping at the first problem.

use std::path::PathBuf;
use std::time::Duration;

use super::diagnostic::Diagnostic;
use super::suggest;
use super::yaml::{Node, Value};

/// One scenario file as read from disk.
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    /// Drops a leading byte-order mark, which libyaml mishandles in multi-line files.
    pub fn new(path: PathBuf, text: String) -> SourceFile {
        let text = match text.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_owned(),
            None => text,
        };
        SourceFile { path, text }
    }
}

/// Error collector for one file.
pub(crate) struct Cx<'s> {
    pub src: &'s SourceFile,
    pub diags: Vec<Diagnostic>,
}

/// A mapping whose keys have been checked: strings, no duplicates, all known.
pub(crate) struct Fields<'n> {
    /// Where "missing key" errors point: the key naming this mapping, or the mapping.
    pub owner: &'n Node,
    /// For messages: "guest `tiny`", "`capacity` of host `lab1`", "the top level".
    pub what: String,
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|(k, _, _)| *k == key).map(|(_, _, v)| *v)
    }

    pub fn key_node(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|(k, _, _)| *k == key).map(|(_, k, _)| *k)
    }

    /// "`key` in guest `tiny`", the subject of a field's messages.
    pub fn desc(&self, key: &str) -> String {
        format!("`{key}` in {}", self.what)
    }
}

impl<'s> Cx<'s> {
    pub fn new(src: &'s SourceFile) -> Cx<'s> {
        Cx { src, diags: Vec::new() }
    }

    pub fn error(&mut self, at: &Node, message: impl Into<String>, help: Option<String>) {
        let d = Diagnostic::at_node(&self.src.path, &self.src.text, at, message).with_help(help);
        self.diags.push(d);
    }

    pub fn wrong_type(&mut self, at: &Node, subject: &str, expected: &str) {
        let message = format!("wrong type for {subject}: expected {expected}, found {}", at.type_name());
        self.error(at, message, None);
    }

    pub fn missing(&mut self, fields: &Fields<'_>, key: &str, help: Option<String>) {
        let message = format!("missing required key `{key}` in {}", fields.what);
        self.error(fields.owner, message, help);
    }

    /// Checks that `value` is a mapping of unique, known, string keys.
    /// Unknown or duplicate entries are reported and left out; `None` only when
    /// `value` is not a mapping at all.
    pub fn fields<'n>(
        &mut self,
        owner: &'n Node,
        value: &'n Node,
        what: impl Into<String>,
        known: &[&str],
    ) -> Option<Fields<'n>> {
        let what = what.into();
        let Value::Map(map) = &value.value else {
            let subject = if value.path.is_empty() { "the scenario file".to_owned() } else { what.clone() };
            self.wrong_type(value, &subject, "a mapping");
            return None;
        };
        let mut entries: Vec<(&'n str, &'n Node, &'n Node)> = Vec::new();
        for (key, val) in map {
            let Some(name) = key.as_str() else {
                self.error(key, format!("keys in {what} must be strings, found {}", key.type_name()), None);
                continue;
            };
            if let Some((_, first, _)) = entries.iter().find(|(k, _, _)| *k == name) {
                let help = crate::scenario::yaml::locate(&self.src.text, &first.path)
                    .map(|(line, _)| format!("first defined on line {line}"));
                self.error(key, format!("duplicate key `{name}` in {what}"), help);
                continue;
            }
            if !known.contains(&name) {
                let help = suggest::help_for(name, known, "valid keys are");
                self.error(key, format!("unknown key `{name}` in {what}"), help);
                continue;
            }
            entries.push((name, key, val));
        }
        Some(Fields { owner, what, entries })
    }

    /// The entries of a mapping whose keys are names the user chooses
    /// (hosts, images, guests, labels): strings and unique, in document order.
    pub fn named_entries<'n>(&mut self, value: &'n Node, what: &str) -> Option<Vec<(&'n str, &'n Node, &'n Node)>> {
        let Value::Map(map) = &value.value else {
            self.wrong_type(value, what, "a mapping");
            return None;
        };
        let mut out: Vec<(&'n str, &'n Node, &'n Node)> = Vec::new();
        for (key, val) in map {
            let Some(name) = key.as_str() else {
                self.error(key, format!("keys in {what} must be strings, found {}", key.type_name()), None);
                continue;
            };
            if let Some((_, first, _)) = out.iter().find(|(k, _, _)| *k == name) {
                let help = crate::scenario::yaml::locate(&self.src.text, &first.path)
                    .map(|(line, _)| format!("first defined on line {line}"));
                self.error(key, format!("duplicate key `{name}` in {what}"), help);
                continue;
            }
            out.push((name, key, val));
        }
        Some(out)
    }

    pub fn string(&mut self, node: &Node, subject: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.wrong_type(node, subject, "a string");
                None
            }
        }
    }

    /// A non-empty string.
    pub fn text(&mut self, node: &Node, subject: &str) -> Option<String> {
        let s = self.string(node, subject)?;
        if s.trim().is_empty() {
            self.error(node, format!("{subject} must not be empty"), None);
            return None;
        }
        Some(s)
    }

    /// An integer within `min..=max`.
    pub fn int(&mut self, node: &Node, subject: &str, min: i128, max: i128) -> Option<i128> {
        let v = match node.value {
            Value::Int(v) => v,
            // The YAML reader turns integers too big for 128 bits into floats.
            Value::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() >= 1e38 => {
                self.error(node, format!("{subject} is far too large"), None);
                return None;
            }
            _ => {
                self.wrong_type(node, subject, "an integer");
                return None;
            }
        };
        if v < min || v > max {
            let message = if max == i128::from(u64::MAX) || max == i128::from(u32::MAX) {
                format!("{subject} must be at least {min}, found {v}")
            } else {
                format!("{subject} must be between {min} and {max}, found {v}")
            };
            self.error(node, message, None);
            return None;
        }
        Some(v)
    }

    pub fn u64(&mut self, node: &Node, subject: &str, min: u64) -> Option<u64> {
        self.int(node, subject, min.into(), u64::MAX.into()).and_then(|v| u64::try_from(v).ok())
    }

    pub fn u32(&mut self, node: &Node, subject: &str, min: u32, max: u32) -> Option<u32> {
        self.int(node, subject, min.into(), max.into()).and_then(|v| u32::try_from(v).ok())
    }

    /// One of `options`, with a did-you-mean for near misses.
    pub fn choice<'o>(&mut self, node: &Node, subject: &str, options: &[&'o str]) -> Option<&'o str> {
        let expected = format!("one of {}", suggest::list(options.iter().copied()));
        let Some(s) = node.as_str() else {
            self.wrong_type(node, subject, &expected);
            return None;
        };
        if let Some(o) = options.iter().find(|o| **o == s) {
            return Some(o);
        }
        let help = suggest::did_you_mean(s, options.iter().copied());
        self.error(node, format!("invalid value `{s}` for {subject}: expected {expected}"), help);
        None
    }

    /// A name used in case and domain names: `[a-z0-9][a-z0-9-]*`.
    pub fn name(&mut self, at: &Node, name: &str, subject: &str) -> bool {
        if is_valid_name(name) {
            return true;
        }
        self.error(
            at,
            format!("invalid {subject} `{name}`"),
            Some("names use lowercase letters, digits and `-`, and start with a letter or digit".into()),
        );
        false
    }

    /// A humantime duration such as `30s` or `1h 5m`, greater than zero.
    pub fn duration(&mut self, node: &Node, subject: &str) -> Option<Duration> {
        const HELP: &str = "write numbers with units (s, m, h, d, ...), e.g. `30s`, `2m` or `1h 5m`";
        let Some(s) = node.as_str() else {
            let message =
                format!("wrong type for {subject}: expected a duration such as `30s`, found {}", node.type_name());
            self.error(node, message, Some(HELP.into()));
            return None;
        };
        match humantime::parse_duration(s) {
            Ok(d) if d.is_zero() => {
                self.error(node, format!("{subject} must be longer than zero"), None);
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                use humantime::DurationError as E;
                let reason = match e {
                    E::UnknownUnit { unit, .. } if !unit.is_empty() => {
                        format!("unknown time unit `{unit}`")
                    }
                    E::UnknownUnit { .. } => "a number needs a unit".to_owned(),
                    E::NumberExpected(_) | E::Empty => "expected a number and a unit".to_owned(),
                    E::InvalidCharacter(_) => "invalid character".to_owned(),
                    E::NumberOverflow => "too long".to_owned(),
                };
                self.error(node, format!("invalid duration `{s}` for {subject}: {reason}"), Some(HELP.into()));
                None
            }
        }
    }

    /// A list of strings; `None` if the node is not a list or an item is not a string.
    pub fn string_list<'n>(&mut self, node: &'n Node, subject: &str) -> Option<Vec<(String, &'n Node)>> {
        let Value::Seq(items) = &node.value else {
            self.wrong_type(node, subject, "a list such as `[a, b]`");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for item in items {
            match item.as_str() {
                Some(s) => out.push((s.to_owned(), item)),
                None => {
                    self.wrong_type(item, &format!("an item of {subject}"), "a string");
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }
}

pub(crate) fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_name("local-kvm"));
        assert!(is_valid_name("0a"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("-a"));
        assert!(!is_valid_name("Lab1"));
        assert!(!is_valid_name("a/b"));
        assert!(!is_valid_name("a b"));
    }
}
