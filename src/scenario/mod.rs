//! Scenario files: parsing, validation with positions, matrix expansion.
//!
//! [`load`] reads YAML scenario files (format: `docs/scenario-format.md`) and
//! returns the resolved [`Plan`], or every problem found in them, each with its
//! file, line and column, so nothing is provisioned from a broken scenario.
//!
//! Steps, each in its own file: [`yaml`] reads a file into a tree whose nodes
//! can be located; [`file`] (with [`host`], [`image`], [`guest`], [`check`],
//! [`timeouts`], [`matrix`]) checks one file on its own; [`expand`] merges hosts
//! across files, checks what names a host, and expands each matrix, a product
//! of axes, into cases through small named validators (`expand/rules.rs`),
//! among them every reference a case makes to other hosts (`expand/rules/refs.rs`).

mod check;
mod ctx;
mod diagnostic;
mod expand;
mod file;
mod guest;
mod host;
mod image;
mod known;
mod matrix;
pub mod schema;
mod suggest;
mod timeouts;
mod yaml;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use crate::plan::Plan;

use ctx::{Cx, SourceFile};
pub use diagnostic::{Diagnostic, ScenarioErrors};

/// Loads scenario files into one plan. Hosts merge by name across files;
/// cases concatenate in file order.
pub fn load(paths: &[PathBuf]) -> Result<Plan, ScenarioErrors> {
    load_with(paths, true)
}

/// Loads files for their hosts only (an inventory, for `facts` and `cleanup`):
/// files that define no cases are fine.
pub fn load_hosts(paths: &[PathBuf]) -> Result<Plan, ScenarioErrors> {
    load_with(paths, false)
}

fn load_with(paths: &[PathBuf], need_cases: bool) -> Result<Plan, ScenarioErrors> {
    let mut diags = Vec::new();
    let mut sources = Vec::new();
    if paths.is_empty() {
        diags.push(Diagnostic::whole_file("", "no scenario files given"));
    }
    for path in paths {
        match std::fs::read(path) {
            Err(e) => diags.push(Diagnostic::whole_file(path, format!("cannot read scenario file: {e}"))),
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => sources.push(SourceFile::new(path.clone(), text)),
                Err(e) => diags.push(not_utf8(path, e.as_bytes(), e.utf8_error().valid_up_to())),
            },
        }
    }
    build(sources, diags, paths, need_cases)
}

/// Loads one scenario given as text; `source_name` is used in diagnostics.
#[cfg(test)]
pub fn load_str(source_name: &Path, text: &str) -> Result<Plan, ScenarioErrors> {
    build(vec![SourceFile::new(source_name.to_owned(), text.to_owned())], Vec::new(), &[source_name.to_owned()], true)
}

fn not_utf8(path: &Path, bytes: &[u8], valid_up_to: usize) -> Diagnostic {
    let before = String::from_utf8_lossy(&bytes[..valid_up_to]);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let text = String::from_utf8_lossy(bytes);
    Diagnostic::at_position(path, &text, line, column, "scenario file is not valid UTF-8")
}

/// `order`: the files as given, to sort diagnostics by.
fn build(
    sources: Vec<SourceFile>,
    mut diags: Vec<Diagnostic>,
    order: &[PathBuf],
    need_cases: bool,
) -> Result<Plan, ScenarioErrors> {
    let mut roots = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        match yaml::parse(&src.text) {
            Ok(root) => roots.push((i, root)),
            Err(e) => diags.push(syntax_error(src, e)),
        }
    }
    let complete = diags.is_empty();
    let mut scenarios = Vec::new();
    for (i, root) in &roots {
        let mut cx = Cx::new(&sources[*i]);
        if let Some(s) = file::scenario(&mut cx, root) {
            scenarios.push((*i, s));
        }
        diags.append(&mut cx.diags);
    }
    // Cross-file checks would mislead if a file could not be read at all.
    let plan = complete.then(|| expand::plan(&sources, &scenarios, &mut diags, need_cases));
    match plan {
        Some(plan) if diags.is_empty() => Ok(plan),
        _ => Err(sorted(order, diags)),
    }
}

fn syntax_error(src: &SourceFile, e: yaml::SyntaxError) -> Diagnostic {
    let (mut line, mut column, mut help) = (e.line, e.column, None);
    if e.kind == yaml::SyntaxErrorKind::MoreThanOneDocument {
        line = second_document(&src.text).unwrap_or(0);
        column = usize::from(line > 0);
        help = Some("remove the `---` separator, or put each document in its own file".to_owned());
    }
    let tabs = src.text.lines().nth(line.saturating_sub(1)).is_some_and(|l| l.contains('\t'));
    if tabs && line > 0 {
        help = Some("YAML indentation must use spaces, not tabs".to_owned());
    }
    if line == 0 {
        Diagnostic::whole_file(&src.path, e.message).with_help(help)
    } else {
        Diagnostic::at_position(&src.path, &src.text, line, column, e.message).with_help(help)
    }
}

/// The 1-based line of the `---` that starts a second YAML document.
fn second_document(text: &str) -> Option<usize> {
    let mut content = false;
    for (i, l) in text.lines().enumerate() {
        if l.starts_with("---") && content {
            return Some(i + 1);
        }
        let t = l.trim();
        content |= !(t.is_empty() || t.starts_with('#') || t.starts_with('%') || t.starts_with("---"));
    }
    None
}

/// File order first (as given), then position; otherwise the order found.
fn sorted(order: &[PathBuf], mut diags: Vec<Diagnostic>) -> ScenarioErrors {
    let rank = |d: &Diagnostic| order.iter().position(|p| *p == d.file).unwrap_or(usize::MAX);
    diags.sort_by_key(|d| (rank(d), d.line, d.column));
    ScenarioErrors { diagnostics: diags }
}
