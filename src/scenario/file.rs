//! One scenario file's top level: everything that can be checked without
//! looking at the other files.

use std::collections::BTreeMap;

use crate::plan::{CheckSpec, HostSpec, Image, Timeouts};

use super::check::{Checks, MigrateAt, checks};
use super::ctx::{Cx, Fields};
use super::guest::{GuestTemplate, guest};
use super::host::host;
use super::image::image;
use super::known::{KnownAt, known_issues};
use super::matrix::{AxisValues, Matrix, cluster, matrix};
use super::timeouts::timeouts;
use super::yaml::{Node, Value};

pub(crate) const KEYS: &[&str] = &[
    "version",
    "name",
    "description",
    "hosts",
    "images",
    "guests",
    "checks",
    "timeouts",
    "matrix",
    "cluster",
    "known_issues",
];

/// A file read as far as it can be on its own. Invalid parts are left out
/// (and reported); `valid` says whether anything was.
#[derive(Debug)]
pub(crate) struct Scenario<'n> {
    pub root: &'n Node,
    pub name: Option<(String, &'n Node)>,
    /// Every name under `hosts:`, valid or not (so references to a broken host
    /// are not also reported as undefined).
    pub host_names: Vec<String>,
    /// True when the file has a `hosts:` key, even an invalid one.
    pub declares_hosts: bool,
    pub hosts: Vec<(HostSpec, &'n Node)>,
    pub images: BTreeMap<String, Image>,
    pub guests: BTreeMap<String, GuestTemplate<'n>>,
    /// True when the file has a `guests:` section (a file may only define hosts).
    pub has_guests: bool,
    pub checks: Vec<CheckSpec>,
    /// The `migrate` checks among `checks`, with their nodes.
    pub migrates: Vec<MigrateAt<'n>>,
    pub timeouts: Timeouts,
    pub matrix: Option<Matrix<'n>>,
    pub cluster: Option<(AxisValues<'n, String>, &'n Node)>,
    /// `known_issues:`, given to the cases they select once these exist.
    pub known_issues: Vec<KnownAt<'n>>,
    pub valid: bool,
}

pub(crate) fn scenario<'n>(cx: &mut Cx<'_>, root: &'n Node) -> Option<Scenario<'n>> {
    let before = cx.diags.len();
    if root.value == Value::Null {
        cx.error(root, "scenario file is empty", Some("a scenario starts with `version: 1` and `name: ...`".into()));
        return None;
    }
    let f = cx.fields(root, root, "the scenario", KEYS)?;
    version(cx, &f);
    let name = name(cx, &f);
    if let Some(n) = f.get("description") {
        cx.string(n, "`description`");
    }
    let (host_names, hosts) = hosts(cx, &f);
    let (image_names, images) = images(cx, &f);
    let (guest_names, guests) = guests(cx, &f, &image_names);
    let checks = f
        .get("checks")
        .map_or(Some(Checks { specs: vec![CheckSpec::Boot], migrates: Vec::new() }), |n| checks(cx, n))
        .unwrap_or(Checks { specs: Vec::new(), migrates: Vec::new() });
    let timeouts =
        f.get("timeouts").map_or(Some(Timeouts::default()), |n| timeouts(cx, f.key_node("timeouts").unwrap_or(n), n));
    let matrix =
        f.get("matrix").and_then(|n| matrix(cx, f.key_node("matrix").unwrap_or(n), n, &guest_names, &image_names));
    let cluster =
        f.get("cluster").and_then(|n| cluster(cx, n, &guest_names)).map(|c| (c, f.key_node("cluster").unwrap_or(root)));
    cluster_or_guest_axis(cx, &f);
    let today = chrono::Utc::now().date_naive();
    let known_issues = f.get("known_issues").map(|n| known_issues(cx, n, today)).unwrap_or_default();

    Some(Scenario {
        root,
        name,
        host_names,
        declares_hosts: f.get("hosts").is_some(),
        hosts,
        images,
        guests,
        has_guests: f.get("guests").is_some(),
        checks: checks.specs,
        migrates: checks.migrates,
        timeouts: timeouts.unwrap_or_default(),
        matrix,
        cluster,
        known_issues,
        valid: cx.diags.len() == before,
    })
}

fn version(cx: &mut Cx<'_>, f: &Fields<'_>) {
    match f.get("version") {
        None => cx.missing(f, "version", Some("start the file with `version: 1`".into())),
        Some(n) => match n.value {
            Value::Int(1) => {}
            Value::Int(v) => cx.error(
                n,
                format!("unsupported scenario version `{v}`"),
                Some("this virtsmoke reads `version: 1`".into()),
            ),
            _ => cx.wrong_type(n, "`version`", "the integer 1"),
        },
    }
}

fn name<'n>(cx: &mut Cx<'_>, f: &Fields<'n>) -> Option<(String, &'n Node)> {
    match f.get("name") {
        None => {
            cx.missing(f, "name", Some("e.g. `name: local-kvm`; it prefixes every case name".into()));
            None
        }
        Some(n) => cx.text(n, "`name`").filter(|s| cx.name(n, s, "scenario name")).map(|s| (s, n)),
    }
}

/// Every name under `hosts:` (valid or not), and the valid hosts.
fn hosts<'n>(cx: &mut Cx<'_>, f: &Fields<'n>) -> (Vec<String>, Vec<(HostSpec, &'n Node)>) {
    let mut host_names = Vec::new();
    let mut hosts = Vec::new();
    if let Some(entries) = f.get("hosts").and_then(|n| cx.named_entries(n, "`hosts`")) {
        for (name, key, value) in entries {
            host_names.push(name.to_owned());
            if let Some(h) = host(cx, name, key, value) {
                hosts.push((h, key));
            }
        }
    }
    (host_names, hosts)
}

/// Every name under `images:` (valid or not), and the valid images.
fn images<'n>(cx: &mut Cx<'_>, f: &Fields<'n>) -> (Vec<&'n str>, BTreeMap<String, Image>) {
    let mut image_names = Vec::new();
    let mut images = BTreeMap::new();
    if let Some(entries) = f.get("images").and_then(|n| cx.named_entries(n, "`images`")) {
        for (name, key, value) in entries {
            image_names.push(name);
            if let Some(i) = image(cx, name, key, value) {
                images.insert(name.to_owned(), i);
            }
        }
    }
    (image_names, images)
}

/// Every name under `guests:` (valid or not), and the valid templates.
fn guests<'n>(
    cx: &mut Cx<'_>,
    f: &Fields<'n>,
    image_names: &[&str],
) -> (Vec<&'n str>, BTreeMap<String, GuestTemplate<'n>>) {
    let mut guest_names = Vec::new();
    let mut guests = BTreeMap::new();
    if let Some(n) = f.get("guests")
        && let Some(entries) = cx.named_entries(n, "`guests`")
    {
        if entries.is_empty() {
            cx.error(n, "`guests` is empty", Some("define at least one guest template, or remove `guests`".into()));
        }
        for (name, key, value) in entries {
            guest_names.push(name);
            if let Some(g) = guest(cx, name, key, value, image_names) {
                guests.insert(name.to_owned(), g);
            }
        }
    }
    (guest_names, guests)
}

fn cluster_or_guest_axis(cx: &mut Cx<'_>, f: &Fields<'_>) {
    if let (Some(c), Some(m)) = (f.key_node("cluster"), f.get("matrix"))
        && let Value::Map(axes) = &m.value
        && axes.iter().any(|(k, _)| k.as_str() == Some("guest"))
    {
        cx.error(
            c,
            "`cluster` and `matrix.guest` cannot both be set",
            Some(
                "use `cluster` to boot several guests together in every case, or `matrix.guest` for one case per guest"
                    .into(),
            ),
        );
    }
}
