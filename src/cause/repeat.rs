//! Messages not repeated: the same underlying error across the steps of a
//! case (a lost libvirt connection that every later call reports again, the
//! same console excerpt under each step) is stated once, where it first
//! appeared; later places say "same as STEP".

use crate::events::{Outcome, StepRecord};

/// A repeated part must be at least this long to be replaced (shorter ones
/// read as well as a reference would).
const MIN_REPEAT: usize = 24;

/// Replaces repeats in the messages and details of the steps that did not pass.
pub fn refer(steps: &mut [StepRecord]) {
    // (text, where it was first stated)
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut details: Vec<(String, String)> = Vec::new();
    for s in steps.iter_mut().filter(|s| matches!(s.outcome, Outcome::Failed | Outcome::Error)) {
        if let Some(m) = s.message.take() {
            s.message = Some(refer_message(&m, &s.name, &mut seen));
        }
        if let Some(d) = s.detail.as_deref()
            && d.len() >= MIN_REPEAT
        {
            match details.iter().find(|(t, _)| t == d) {
                Some((_, first)) => s.detail = Some(format!("(same as {first})")),
                None => details.push((d.to_string(), s.name.clone())),
            }
        }
    }
}

/// `message` with each `; `-separated part's longest tail already stated
/// replaced by a reference; the tails of its parts are then known as stated by `step`.
fn refer_message(message: &str, step: &str, seen: &mut Vec<(String, String)>) -> String {
    let mut parts = Vec::new();
    for part in message.split("; ") {
        let tails = tails(part);
        let known = tails.iter().find_map(|&t| seen.iter().find(|(s, _)| s == t).map(|(_, w)| (t, w.clone())));
        match known {
            Some((tail, first)) => {
                let head = &part[..part.len() - tail.len()];
                let whom = if first == step { "above".to_string() } else { first };
                parts.push(format!("{head}same as {whom}"));
            }
            None => parts.push(part.to_string()),
        }
        for t in tails {
            if !seen.iter().any(|(s, _)| s == t) {
                seen.push((t.to_string(), step.to_string()));
            }
        }
    }
    parts.join("; ")
}

/// The tails of `part` long enough to refer to, longest first: the whole
/// part, then what follows each `: ` in it (an error chain's later links).
fn tails(part: &str) -> Vec<&str> {
    std::iter::once(part)
        .chain(part.match_indices(": ").map(|(i, _)| &part[i + 2..]))
        .filter(|t| t.len() >= MIN_REPEAT)
        .collect()
}
