//! What the rules of `crate::cause` read of a finished case, and the helpers
//! they share to quote it.

use std::time::{Duration, SystemTime};

use crate::events::{CaseReport, Cause, CauseId, Outcome, StepRecord};

/// How long a quoted line may be.
const QUOTE_MAX: usize = 300;

/// What the rules read of a finished case.
pub struct Facts<'a> {
    pub report: &'a CaseReport,
    /// Lines picked from the host's Xen logs for the case's domains.
    pub xen: &'a [String],
}

impl<'a> Facts<'a> {
    /// The steps that did not pass (known failures are expected, so not theirs).
    pub fn failing(&self) -> impl Iterator<Item = &'a StepRecord> {
        self.report.steps.iter().filter(|s| matches!(s.outcome, Outcome::Failed | Outcome::Error))
    }

    /// The first step that did not pass.
    pub fn primary(&self) -> Option<&'a StepRecord> {
        self.failing().next()
    }

    /// The primary step's kind (`boot.ssh` for `web: boot.ssh`) and message.
    pub fn primary_kind(&self) -> Option<(&'a str, &'a str)> {
        let s = self.primary()?;
        Some((step_kind(&s.name), s.message.as_deref().unwrap_or("")))
    }

    /// Every console text the case holds: the tails, then the excerpts in step details.
    pub fn console_texts(&self) -> impl Iterator<Item = &'a str> {
        let tails = self.report.consoles.iter().map(|(_, t)| t.as_str());
        tails.chain(self.report.steps.iter().filter_map(|s| s.detail.as_deref()))
    }

    /// The last non-empty console line of the first guest that printed anything.
    pub fn last_console_line(&self) -> Option<String> {
        self.console_texts().find_map(last_line)
    }

    /// When the step `upto` ended, counting the steps before it from the case's start.
    pub fn time_of(&self, upto: &StepRecord) -> SystemTime {
        let mut t = self.report.started;
        for s in &self.report.steps {
            t += s.duration;
            if std::ptr::eq(s, upto) {
                break;
            }
        }
        t
    }
}

/// `boot.ssh` of `web: boot.ssh`.
pub fn step_kind(name: &str) -> &str {
    name.rsplit_once(": ").map_or(name, |(_, k)| k)
}

/// The last non-empty line of `text`, trimmed and quoted.
pub fn last_line(text: &str) -> Option<String> {
    text.lines()
        .map(|l| l.trim_matches(|c: char| c.is_whitespace() || c.is_control()))
        .rfind(|l| !l.is_empty())
        .map(quote)
}

/// `s` cut to [`QUOTE_MAX`] characters (on a character boundary), with `…` when cut.
pub fn quote(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(QUOTE_MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// `HH:MM:SS` UTC.
pub fn clock(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
    format!("{:02}:{:02}:{:02}", secs / 3600 % 24, secs / 60 % 60, secs % 60)
}

/// A cause with the given parts.
pub fn cause(id: CauseId, summary: String, evidence: Vec<String>) -> Option<Cause> {
    Some(Cause { id, summary, evidence })
}
