//! A YAML document as a tree whose nodes know their path, so validation can
//! point at the offending line and column.
//!
//! serde_yaml_ng's `Value` carries no positions. Instead of pulling in a second
//! YAML parser, this module uses serde_yaml_ng's own deserializer twice:
//!
//! * [`parse`] builds a [`Node`] tree (keeping duplicate keys and key order)
//!   with a custom visitor; each node remembers its [`Step`] path.
//! * [`locate`] re-reads the text and walks to one path; at the target node it
//!   fails on purpose, and serde_yaml_ng stamps that error with the position of
//!   the event being visited. The error is only used for its location.
//!
//! Locating costs one parse per diagnostic, which is nothing for scenario files.
//! Booleans follow YAML 1.2 core rules (`yes`/`no` are strings).

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step from a node to a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The key of the mapping's n-th entry.
    Key(usize),
    /// The value of the mapping's n-th entry.
    Value(usize),
    /// The n-th element of a sequence.
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order; duplicate keys are kept.
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub path: Vec<Step>,
}

impl Node {
    /// "a string", "a mapping", ... for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a floating-point number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A document that could not be read as YAML at all.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    /// Complete, e.g. "invalid YAML: did not find expected ',' or '}'".
    pub message: String,
    /// 1-based; 0 when the parser gave no position.
    pub line: usize,
    pub column: usize,
    pub kind: SyntaxErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyntaxErrorKind {
    Invalid,
    MoreThanOneDocument,
    Tag,
}

const TAGS_UNSUPPORTED: &str = "YAML tags such as `!name` are not supported in scenario files";

/// Parses one YAML document into a [`Node`] tree.
pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    NodeSeed { path: Vec::new() }.deserialize(de).map_err(|err| {
        let (line, column) = err.location().map_or((0, 0), |l| position(text, l.index()));
        let raw = err.to_string();
        let (kind, message) = if raw.contains(TAGS_UNSUPPORTED) {
            (SyntaxErrorKind::Tag, TAGS_UNSUPPORTED.to_owned())
        } else if raw.contains("more than one document") {
            (SyntaxErrorKind::MoreThanOneDocument, "a scenario file must hold a single YAML document".to_owned())
        } else {
            (SyntaxErrorKind::Invalid, format!("invalid YAML: {}", strip_positions(&raw)))
        };
        SyntaxError { message, line, column, kind }
    })
}

/// 1-based (line, column) of the node at `path`, if it can be found.
pub(crate) fn locate(text: &str, path: &[Step]) -> Option<(usize, usize)> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let probe = Locate { path };
    match probe.deserialize(de) {
        Ok(()) => None,
        Err(err) => err.location().map(|l| position(text, l.index())),
    }
}

/// 1-based (line, column) of byte `index` the way editors count: lines end at
/// `\n` only. libyaml also breaks lines at U+2028, U+2029 and U+0085, whose
/// line numbers would then point past the file's end.
fn position(text: &str, index: usize) -> (usize, usize) {
    let mut at = index.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Removes the " at line N column M" fragments libyaml puts in its messages;
/// the diagnostic shows the position itself.
fn strip_positions(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " at line ".len()..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let tail = &after[digits..];
        if digits > 0 && tail.starts_with(" column ") {
            let tail = &tail[" column ".len()..];
            rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
        } else {
            out.push_str(" at line ");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

struct NodeSeed {
    path: Vec<Step>,
}

impl NodeSeed {
    fn child(&self, step: Step) -> NodeSeed {
        let mut path = self.path.clone();
        path.push(step);
        NodeSeed { path }
    }

    fn node(self, value: Value) -> Node {
        Node { value, path: self.path }
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Node;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(self.node(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(self.node(Value::Int(v.into())))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        Ok(self.node(Value::Int(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(self.node(Value::Int(v.into())))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        Ok(self.node(match i128::try_from(v) {
            Ok(v) => Value::Int(v),
            Err(_) => Value::Float(v as f64),
        }))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(self.node(Value::Float(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(self.node(Value::Str(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(self.node(Value::Str(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(self.node(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(self.node(Value::Null))
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child(Step::Index(items.len())))? {
            items.push(item);
        }
        Ok(self.node(Value::Seq(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        loop {
            let i = entries.len();
            let Some(key) = map.next_key_seed(self.child(Step::Key(i)))? else {
                break;
            };
            let value = map.next_value_seed(self.child(Step::Value(i)))?;
            entries.push((key, value));
        }
        Ok(self.node(Value::Map(entries)))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _data: A) -> Result<Node, A::Error> {
        Err(de::Error::custom(TAGS_UNSUPPORTED))
    }
}

/// Walks to `path`; at the end, fails so the error carries the node's position.
struct Locate<'p> {
    path: &'p [Step],
}

impl<'de> DeserializeSeed<'de> for Locate<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.path.is_empty() { deserializer.deserialize_any(Here) } else { deserializer.deserialize_any(self) }
    }
}

impl<'de> Visitor<'de> for Locate<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    // A scalar where the path wants a collection: the path is stale; give up.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((&Step::Index(n), rest)) = self.path.split_first() else {
            return Ok(());
        };
        for _ in 0..n {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        seq.next_element_seed(Locate { path: rest })?;
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((step, rest)) = self.path.split_first() else {
            return Ok(());
        };
        let (n, want_key) = match *step {
            Step::Key(n) => (n, true),
            Step::Value(n) => (n, false),
            Step::Index(_) => return Ok(()),
        };
        for _ in 0..n {
            if map.next_entry::<IgnoredAny, IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        if want_key {
            map.next_key_seed(Locate { path: &[] })?;
        } else if map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Locate { path: rest })?;
        }
        Ok(())
    }
}

/// Fails on whatever it visits; serde_yaml_ng fills in the position.
struct Here;

impl<'de> Visitor<'de> for Here {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("nothing (position probe)")
    }
}

/// How many characters (from `column`, 0-based, in characters) the token
/// starting there spans on `line`; at least 1.
pub(crate) fn token_width(line: &str, column: usize) -> usize {
    let chars: Vec<char> = line.chars().collect();
    let Some(&first) = chars.get(column) else {
        return 1;
    };
    let rest = &chars[column..];
    let width = match first {
        c if c.is_whitespace() => 1,
        '"' => {
            let mut i = 1;
            loop {
                match rest.get(i) {
                    None => break i,
                    Some('\\') => i += 2,
                    Some('"') => break i + 1,
                    Some(_) => i += 1,
                }
            }
        }
        '\'' => {
            let mut i = 1;
            loop {
                match (rest.get(i), rest.get(i + 1)) {
                    (None, _) => break i,
                    (Some('\''), Some('\'')) => i += 2,
                    (Some('\''), _) => break i + 1,
                    _ => i += 1,
                }
            }
        }
        '{' | '[' | '|' | '>' => 1,
        '-' | '?' if rest.get(1).is_none_or(|c| c.is_whitespace()) => 1,
        _ => {
            let in_flow = {
                let mut depth = 0i32;
                for c in &chars[..column] {
                    match c {
                        '{' | '[' => depth += 1,
                        '}' | ']' => depth -= 1,
                        _ => {}
                    }
                }
                depth > 0
            };
            let mut i = 0;
            while let Some(&c) = rest.get(i) {
                let next = rest.get(i + 1).copied();
                let ends = match c {
                    ':' => next.is_none_or(|n| n.is_whitespace() || (in_flow && ",]}".contains(n))),
                    '#' => i > 0 && rest[i - 1].is_whitespace(),
                    ',' | ']' | '}' => in_flow,
                    _ => false,
                };
                if ends {
                    break;
                }
                i += 1;
            }
            // Trailing blanks are not part of a plain scalar.
            while i > 0 && rest[i - 1].is_whitespace() {
                i -= 1;
            }
            i
        }
    };
    width.clamp(1, rest.len().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_keeps_duplicates_and_order() {
        let node = parse("b: 1\na: yes\nb: [x, ~]\n").unwrap();
        let Value::Map(entries) = &node.value else { panic!("not a map") };
        let keys: Vec<_> = entries.iter().map(|(k, _)| k.as_str().unwrap()).collect();
        assert_eq!(keys, ["b", "a", "b"]);
        assert_eq!(entries[1].1.value, Value::Str("yes".into()));
        let Value::Seq(items) = &entries[2].1.value else { panic!("not a seq") };
        assert_eq!(items[1].value, Value::Null);
        assert_eq!(items[1].path, [Step::Value(2), Step::Index(1)]);
    }

    #[test]
    fn locates_keys_values_and_elements() {
        let text = "top:\n  inner:\n    x: 1\n    y: { a: \"q\" }\nlist:\n  - one\n  - two\n";
        assert_eq!(locate(text, &[]), Some((1, 1)));
        assert_eq!(locate(text, &[Step::Key(0)]), Some((1, 1)));
        assert_eq!(locate(text, &[Step::Value(0), Step::Value(0), Step::Key(1)]), Some((4, 5)));
        assert_eq!(locate(text, &[Step::Value(0), Step::Value(0), Step::Value(1), Step::Value(0)]), Some((4, 13)));
        assert_eq!(locate(text, &[Step::Value(1), Step::Index(1)]), Some((7, 5)));
        assert_eq!(locate(text, &[Step::Value(7)]), None);
    }

    #[test]
    fn syntax_errors_have_positions_without_duplicating_them() {
        let err = parse("a: 1\n\tb: 2\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(!err.message.contains("line"), "{}", err.message);
    }

    #[test]
    fn token_widths() {
        assert_eq!(token_width("    memroy_mib: 512", 4), 10);
        assert_eq!(token_width("    memroy_mib: 512", 16), 3);
        assert_eq!(token_width("  x: \"a \\\" b\" # c", 5), 8);
        assert_eq!(token_width("  x: 'it''s' # c", 5), 7);
        assert_eq!(token_width("  c: { guests: 4, memory_mib: lots }", 15), 1);
        assert_eq!(token_width("  c: { guests: 4, memory_mib: lots }", 30), 4);
        assert_eq!(token_width("  k: [kvm, xen-pvm]", 11), 7);
        assert_eq!(token_width("\tb: 1", 0), 1);
        assert_eq!(token_width("  - boot", 2), 1);
        assert_eq!(token_width("a: plain words # comment", 3), 11);
        assert_eq!(token_width("", 5), 1);
    }

    #[test]
    fn positions_count_lines_at_newlines_only() {
        assert_eq!(position("ab\ncd", 4), (2, 2));
        assert_eq!(position("é: x", 2), (1, 2));
        assert_eq!(position("x", 99), (1, 2));
        // libyaml breaks lines at U+2028 too; the diagnostic stays on the file's lines.
        let err = parse("a:\u{2028}b").unwrap_err();
        assert_eq!(err.line, 1, "{}", err.message);
    }
}
