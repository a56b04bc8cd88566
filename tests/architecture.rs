//! Architecture rules the compiler does not check, over the files of `src/`:
//! no source file over 600 lines, and no import cycle between files.
//!
//! A file depends on another when its non-test code names a path in it:
//! `use crate::a::b::C`, `super::x`, `self::x`, a child module's `child::f`,
//! or an inline `crate::a::f(..)`. A path names the file of its longest prefix
//! that is a module, so `crate::backend::Host` is `src/backend/mod.rs` even when
//! `Host` lives in `host.rs` and is re-exported there: a re-export is a
//! dependency of the re-exporting file. `#[cfg(test)]` items are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

/// Cycles known when this test was written, in files whose owners fix them
/// later: each is the sorted list of the files of one strongly connected
/// component. The test fails on any other cycle, and on a listed one that is
/// gone (remove it here then).
const KNOWN_CYCLES: &[&[&str]] = &[];

type ModPath = Vec<String>;

struct Module {
    file: PathBuf,
    path: ModPath,
    /// The file's non-test text, comments removed.
    code: String,
    children: Vec<String>,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The text without `//` comments and without `#[cfg(test)]` items.
fn non_test_code(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(|l| l.find("//").map_or(l, |i| &l[..i])).collect();
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "#[cfg(test)]" {
            out.push_str(lines[i]);
            out.push('\n');
            i += 1;
            continue;
        }
        // Skip the attributed item: one line ending in `;`, or a braced block.
        i += 1;
        while i < lines.len() && lines[i].trim_start().starts_with("#[") {
            i += 1;
        }
        let mut depth = 0i64;
        let mut opened = false;
        while i < lines.len() {
            let l = lines[i];
            depth += l.matches('{').count() as i64 - l.matches('}').count() as i64;
            opened |= l.contains('{');
            i += 1;
            if (opened && depth <= 0) || (!opened && l.trim_end().ends_with(';')) {
                break;
            }
        }
    }
    out
}

/// `mod NAME;` declarations (with any visibility).
fn child_modules(code: &str) -> Vec<String> {
    code.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.split_once("mod ").filter(|(vis, _)| vis.is_empty() || vis.trim_end().starts_with("pub"))?.1;
            rest.strip_suffix(';').map(|n| n.trim().to_string())
        })
        .collect()
}

/// Every module of the crate, from `lib.rs` along the `mod` declarations.
fn modules() -> Vec<Module> {
    let mut out = Vec::new();
    let mut todo = vec![(src().join("lib.rs"), ModPath::new())];
    while let Some((file, path)) = todo.pop() {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let code = non_test_code(&text);
        let children = child_modules(&code);
        let dir = if file.ends_with("lib.rs") || file.ends_with("mod.rs") {
            file.parent().unwrap().to_path_buf()
        } else {
            file.with_extension("")
        };
        for c in &children {
            let flat = dir.join(format!("{c}.rs"));
            let child = if flat.exists() { flat } else { dir.join(c).join("mod.rs") };
            let mut p = path.clone();
            p.push(c.clone());
            todo.push((child, p));
        }
        out.push(Module { file, path, code, children });
    }
    out
}

/// Splits `a, b::{c, d}` at its top-level commas.
fn split_top(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, ch) in s.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

/// The paths a use tree names: `crate::a::{self, b::C}` is `crate::a` and `crate::a::b::C`.
fn use_paths(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim_end_matches("::");
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut p = prefix.to_vec();
        p.extend(head.split("::").filter(|s| !s.is_empty()).map(str::to_string));
        for part in split_top(inner) {
            use_paths(&p, part, out);
        }
        return;
    }
    let tree = tree.split(" as ").next().unwrap_or(tree).trim();
    let mut p = prefix.to_vec();
    p.extend(tree.split("::").filter(|s| !s.is_empty() && *s != "self" && *s != "*").map(|s| s.trim().to_string()));
    out.push(p);
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path of the code that starts with `crate`, `super`, `self` or a child
/// module: those of `use` items, and those written inline.
fn paths(m: &Module) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = m.code.as_str();
    let mut inline = String::new();
    // `use` items first (they may span lines); the rest is scanned for inline paths.
    while let Some(at) = rest.find("use ") {
        let before = &rest[..at];
        let line_start = before.rsplit('\n').next().unwrap_or("").trim();
        let starts_item = line_start.is_empty() || (line_start.starts_with("pub") && line_start.ends_with(['b', ')']));
        inline.push_str(before);
        if !starts_item {
            inline.push_str("use ");
            rest = &rest[at + 4..];
            continue;
        }
        let end = rest[at..].find(';').map_or(rest.len(), |e| at + e);
        use_paths(&[], &rest[at + 4..end], &mut out);
        rest = &rest[end..];
    }
    inline.push_str(rest);
    let chars: Vec<char> = inline.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let boundary = i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':' || chars[i - 1] == '$');
        if !boundary || !is_ident(chars[i]) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && (is_ident(chars[j]) || (chars[j] == ':' && chars.get(j + 1) == Some(&':'))) {
            j += if chars[j] == ':' { 2 } else { 1 };
        }
        let text: String = chars[i..j].iter().collect();
        if text.contains("::") {
            out.push(text.split("::").filter(|s| !s.is_empty()).map(str::to_string).collect());
        }
        i = j.max(i + 1);
    }
    out
}

/// The module a path names, made absolute, or `None` for another crate's path.
fn absolute(m: &Module, path: &[String]) -> Option<ModPath> {
    let first = path.first()?;
    let (mut base, rest) = match first.as_str() {
        "crate" => (ModPath::new(), &path[1..]),
        "self" => (m.path.clone(), &path[1..]),
        "super" => {
            let mut b = m.path.clone();
            let mut k = 0;
            while path.get(k).is_some_and(|s| s == "super") {
                b.pop();
                k += 1;
            }
            (b, &path[k..])
        }
        c if m.children.iter().any(|x| x == c) => (m.path.clone(), path),
        _ => return None,
    };
    base.extend(rest.iter().cloned());
    Some(base)
}

/// file → the files it depends on.
fn graph(mods: &[Module]) -> BTreeMap<String, BTreeSet<String>> {
    let root = src();
    let rel = |f: &Path| f.strip_prefix(&root).unwrap().display().to_string();
    let by_path: BTreeMap<&ModPath, String> = mods.iter().map(|m| (&m.path, rel(&m.file))).collect();
    let mut g = BTreeMap::new();
    for m in mods {
        let from = rel(&m.file);
        let deps: &mut BTreeSet<String> = g.entry(from.clone()).or_default();
        for p in paths(m) {
            let Some(abs) = absolute(m, &p) else { continue };
            // The longest prefix that is a module holds the named item.
            let file = (0..=abs.len()).rev().find_map(|k| by_path.get(&abs[..k].to_vec()));
            if let Some(f) = file.filter(|f| **f != from) {
                deps.insert(f.clone());
            }
        }
    }
    g
}

/// Strongly connected components with more than one file (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            if !t.index.contains_key(w.as_str()) {
                visit(t, w);
                let lw = t.low[w.as_str()];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w.as_str()) {
                let iw = t.index[w.as_str()];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t =
        T { g, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), on: BTreeSet::new(), out: Vec::new() };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out.sort();
    t.out
}

fn describe(g: &BTreeMap<String, BTreeSet<String>>, comp: &[String]) -> String {
    let mut s = comp.join(", ");
    for f in comp {
        let inside: Vec<&str> = g[f].iter().filter(|d| comp.contains(d)).map(String::as_str).collect();
        s.push_str(&format!("\n    {f} -> {}", inside.join(", ")));
    }
    s
}

#[test]
fn no_import_cycle_between_files() {
    let g = graph(&modules());
    let found = cycles(&g);
    let known: Vec<Vec<String>> = KNOWN_CYCLES.iter().map(|c| c.iter().map(|s| s.to_string()).collect()).collect();
    let new: Vec<String> = found.iter().filter(|c| !known.contains(c)).map(|c| describe(&g, c)).collect();
    let gone: Vec<&Vec<String>> = known.iter().filter(|c| !found.contains(c)).collect();
    assert!(new.is_empty(), "import cycles between files of src/:\n  {}", new.join("\n  "));
    assert!(gone.is_empty(), "cycles listed in KNOWN_CYCLES are gone, remove them: {gone:?}");
}

#[test]
fn no_source_file_over_600_lines() {
    let mut long = Vec::new();
    let mut todo = vec![src()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let n = std::fs::read_to_string(&p).unwrap().lines().count();
                if n > MAX_LINES {
                    long.push(format!("{} ({n} lines)", p.display()));
                }
            }
        }
    }
    long.sort();
    assert!(long.is_empty(), "source files over {MAX_LINES} lines:\n  {}", long.join("\n  "));
}

/// The checker itself: a cycle through a re-export, a `super` path and a child
/// module's inline path is found; test items do not count.
#[test]
fn the_checker_sees_use_trees_super_and_child_paths() {
    let m = |path: &[&str], code: &str, children: &[&str]| Module {
        file: src().join(path.join("/") + ".rs"),
        path: path.iter().map(|s| s.to_string()).collect(),
        code: non_test_code(code),
        children: children.iter().map(|s| s.to_string()).collect(),
    };
    let a = m(&["a"], "mod b;\npub use b::Thing;\n", &["b"]);
    let b = m(&["a", "b"], "fn f() { super::helper() }\n#[cfg(test)]\nmod tests {\n use crate::c::X;\n}\n", &[]);
    let c = m(&["c"], "use crate::{a::{self, b::Thing as T}, d};\n", &[]);
    let g = graph(&[a, b, c]);
    assert_eq!(cycles(&g), [vec!["a.rs".to_string(), "a/b.rs".to_string()]]);
    assert_eq!(g["c.rs"], BTreeSet::from(["a.rs".to_string(), "a/b.rs".to_string()]));
    assert!(g["a/b.rs"].iter().all(|d| d != "c.rs"), "{:?}", g["a/b.rs"]);
}

/// Data flows one way: events are plain data that depend on nothing of the
/// crate, and reports are built from events and results only, never from the
/// machinery that produced them.
#[test]
fn events_and_reports_do_not_depend_on_the_machinery() {
    let g = graph(&modules());
    assert!(g["events.rs"].is_empty(), "events.rs depends on {:?}", g["events.rs"]);
    let upstream = ["backend/", "runner/", "guest/", "checks/", "hypervisor/", "lab/", "hostaccess.rs"];
    let mut wrong = Vec::new();
    for (file, deps) in g.iter().filter(|(f, _)| f.starts_with("report/")) {
        for d in deps.iter().filter(|d| upstream.iter().any(|u| d.starts_with(u))) {
            wrong.push(format!("{file} -> {d}"));
        }
    }
    assert!(wrong.is_empty(), "reports depend on the machinery: {wrong:?}");
}
