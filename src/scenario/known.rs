//! `known_issues:`, failures the scenario expects, each with a reason.
//!
//! Read with the rest of the file ([`known_issues`]); once the scenario's cases
//! exist, [`attach`] gives each case the entries whose `case` pattern matches
//! it and reports entries that match none. Classifying a finished case is
//! `events::known`.

use chrono::NaiveDate;

use crate::cli::glob;
use crate::plan::{Case, KnownIssue};

use super::ctx::Cx;
use super::yaml::{Node, Value};

pub(crate) const KEYS: &[&str] = &["case", "step", "message", "reason", "link", "expires"];

/// An entry with the node it was read from, for later diagnostics.
pub(crate) type KnownAt<'n> = (KnownIssue, &'n Node);

/// Reads `known_issues:` (a list); entries with problems are reported and left
/// out. `today` decides which `expires` dates have passed.
pub(crate) fn known_issues<'n>(cx: &mut Cx<'_>, value: &'n Node, today: NaiveDate) -> Vec<KnownAt<'n>> {
    let Value::Seq(items) = &value.value else {
        cx.wrong_type(value, "`known_issues`", "a list of entries with `step`, `message` and `reason`");
        return Vec::new();
    };
    items.iter().enumerate().filter_map(|(i, item)| entry(cx, i + 1, item, today).map(|k| (k, item))).collect()
}

fn entry(cx: &mut Cx<'_>, position: usize, item: &Node, today: NaiveDate) -> Option<KnownIssue> {
    let before = cx.diags.len();
    let f = cx.fields(item, item, format!("known issue {position}"), KEYS)?;
    let mut required = |key: &str, help: &str| match f.get(key) {
        Some(n) => cx.text(n, &f.desc(key)),
        None => {
            cx.missing(&f, key, Some(help.into()));
            None
        }
    };
    let step = required("step", "a pattern over step names, e.g. `step: \"migrate.round-1: *\"` or `boot.cloud-init`");
    let message = required("message", "a text the failure message must contain");
    let reason = required("reason", "say why the failure is expected, e.g. the upstream bug");
    let case = f.get("case").map_or(Some("*".to_owned()), |n| cx.text(n, &f.desc("case")));
    let link = f.get("link").and_then(|n| cx.text(n, &f.desc("link")));
    let expires = f.get("expires").and_then(|n| expiry(cx, n, &f.desc("expires"), today));
    (cx.diags.len() == before).then_some(KnownIssue {
        case: case?,
        step: step?,
        message: message?,
        reason: reason?,
        link,
        expires,
    })
}

/// `YYYY-MM-DD`, not today or earlier.
fn expiry(cx: &mut Cx<'_>, n: &Node, subject: &str, today: NaiveDate) -> Option<String> {
    let text = cx.string(n, subject)?;
    let Ok(date) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") else {
        cx.error(n, format!("invalid date `{text}` for {subject}"), Some("write the date as YYYY-MM-DD".into()));
        return None;
    };
    if date <= today {
        cx.error(
            n,
            format!("known issue expired on {date}: re-check and remove or extend it"),
            Some("run the case without the entry; if it still fails, set a later `expires`".into()),
        );
        return None;
    }
    Some(text)
}

/// Gives each of the scenario's `cases` the entries that select it; an entry
/// that selects none of them is an error (a renamed case, a typo).
pub(crate) fn attach(cx: &mut Cx<'_>, issues: &[KnownAt<'_>], cases: &mut [Case]) {
    for (issue, at) in issues {
        let mut used = false;
        for case in cases.iter_mut().filter(|c| glob::matches(&issue.case, &c.name)) {
            case.known_issues.push(issue.clone());
            used = true;
        }
        if !used {
            let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
            cx.error(
                at,
                format!("known issue `{}` selects no case (case pattern `{}`)", issue.reason, issue.case),
                Some(format!("the scenario's cases are {}", names.join(", "))),
            );
        }
    }
}
