//! `matrix:` axes and `cluster:`, with their references to guests and images checked.
//! Host references are checked later, against the hosts of every file.

use std::collections::BTreeMap;

use crate::plan::GuestKind;

use super::ctx::Cx;
use super::guest::{image_ref, kind_names};
use super::suggest;
use super::yaml::{Node, Value};

pub(crate) const AXES: &[&str] = &["host", "guest", "kind", "image"];

/// A value of an axis and where it was written.
pub(crate) type AxisValues<'n, T> = Vec<(T, &'n Node)>;

/// Where cases run.
#[derive(Debug)]
pub(crate) enum HostAxis<'n> {
    /// `host: [a, b]`: every case on each of these hosts.
    Names(AxisValues<'n, String>),
    /// `host: any` or `host: { labels: { K: V } }`: each case once, on
    /// whichever matching host (every label equal) has room when it starts.
    Placed { labels: BTreeMap<String, String>, at: &'n Node },
}

pub(crate) const PLACEMENT_KEYS: &[&str] = &["labels"];

/// The parsed axes; an axis is `None` when absent or invalid (already reported).
#[derive(Debug, Default)]
pub(crate) struct Matrix<'n> {
    pub host: Option<HostAxis<'n>>,
    pub guest: Option<AxisValues<'n, String>>,
    pub kind: Option<AxisValues<'n, GuestKind>>,
    pub image: Option<AxisValues<'n, String>>,
}

pub(crate) fn matrix<'n>(
    cx: &mut Cx<'_>,
    key: &'n Node,
    value: &'n Node,
    guests: &[&str],
    images: &[&str],
) -> Option<Matrix<'n>> {
    let f = cx.fields(key, value, "`matrix`", AXES)?;
    if AXES.iter().all(|a| f.get(a).is_none()) {
        cx.error(
            key,
            "`matrix` has no axes",
            Some(
                "remove it to run every guest on every host, or list values under `host`, `guest`, `kind` or `image`"
                    .into(),
            ),
        );
        return Some(Matrix::default());
    }
    let mut m = Matrix::default();
    if let Some(n) = f.get("host") {
        m.host = host_axis(cx, n);
    }
    if let Some(n) = f.get("guest") {
        m.guest = axis(cx, n, "guest").filter(|values| {
            let mut ok = true;
            for (g, at) in values {
                ok &= guest_ref(cx, at, g, "`matrix.guest`", guests);
            }
            ok
        });
    }
    if let Some(n) = f.get("kind") {
        m.kind = axis(cx, n, "kind").and_then(|values| {
            let kinds = kind_names();
            let mut out = Vec::new();
            let mut ok = true;
            for (_, at) in values {
                match cx.choice(at, "`matrix.kind`", &kinds).and_then(GuestKind::parse) {
                    Some(k) => out.push((k, at)),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        });
    }
    if let Some(n) = f.get("image") {
        m.image = axis(cx, n, "image").filter(|values| {
            let mut ok = true;
            for (i, at) in values {
                ok &= image_ref(cx, at, i, "`matrix.image`", images);
            }
            ok
        });
    }
    Some(m)
}

/// `[names]`, `any`, or `{ labels: { K: V } }`.
fn host_axis<'n>(cx: &mut Cx<'_>, value: &'n Node) -> Option<HostAxis<'n>> {
    match &value.value {
        Value::Str(s) if s == "any" => Some(HostAxis::Placed { labels: BTreeMap::new(), at: value }),
        Value::Map(_) => {
            let f = cx.fields(value, value, "`matrix.host`", PLACEMENT_KEYS)?;
            let Some(n) = f.get("labels") else {
                cx.missing(&f, "labels", Some("e.g. `host: { labels: { pool: nightly } }`, or `host: any`".into()));
                return None;
            };
            let entries = cx.named_entries(n, "`matrix.host.labels`")?;
            let mut labels = BTreeMap::new();
            for (k, _, v) in entries {
                match &v.value {
                    Value::Str(s) => labels.insert(k.to_owned(), s.clone()),
                    Value::Int(i) => labels.insert(k.to_owned(), i.to_string()),
                    _ => {
                        cx.wrong_type(v, &format!("label `{k}` of `matrix.host`"), "a string");
                        return None;
                    }
                };
            }
            Some(HostAxis::Placed { labels, at: value })
        }
        Value::Str(_) => {
            cx.wrong_type(value, "`matrix.host`", "a list of host names, `any`, or `{ labels: { KEY: VALUE } }`");
            None
        }
        _ => axis(cx, value, "host").map(HostAxis::Names),
    }
}

/// A non-empty list of distinct strings.
fn axis<'n>(cx: &mut Cx<'_>, value: &'n Node, name: &str) -> Option<AxisValues<'n, String>> {
    let subject = format!("`matrix.{name}`");
    let values = cx.string_list(value, &subject)?;
    if values.is_empty() {
        cx.error(
            value,
            format!("matrix axis `{name}` is empty"),
            Some(format!("list at least one value, or remove `{name}`")),
        );
        return None;
    }
    let mut ok = true;
    for (i, (v, at)) in values.iter().enumerate() {
        if values[..i].iter().any(|(w, _)| w == v) {
            cx.error(at, format!("`{v}` appears twice in {subject}"), Some("list each value once".into()));
            ok = false;
        }
    }
    ok.then_some(values)
}

/// `cluster: [a, b]`: guest templates booted together in every case.
pub(crate) fn cluster<'n>(cx: &mut Cx<'_>, value: &'n Node, guests: &[&str]) -> Option<AxisValues<'n, String>> {
    let values = cx.string_list(value, "`cluster`")?;
    if values.is_empty() {
        cx.error(
            value,
            "`cluster` is empty",
            Some("list the guest templates to boot together, e.g. `[tiny, tiny]`".into()),
        );
        return None;
    }
    let mut ok = true;
    for (g, at) in &values {
        ok &= guest_ref(cx, at, g, "`cluster`", guests);
    }
    ok.then_some(values)
}

fn guest_ref(cx: &mut Cx<'_>, at: &Node, guest: &str, user: &str, guests: &[&str]) -> bool {
    if guests.contains(&guest) {
        return true;
    }
    let help = if guests.is_empty() {
        Some("no guests are defined in this file; add a `guests:` section".to_owned())
    } else {
        suggest::help_for(guest, guests, "defined guests are")
    };
    cx.error(at, format!("{user} uses undefined guest `{guest}`"), help);
    false
}
