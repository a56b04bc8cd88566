//! One named cause for a case that failed or errored, chosen by rules from the
//! evidence the case already holds: its steps (messages and details), its
//! console tails, and the Xen-side lines picked from the host's logs
//! ([`xen::pick`]). Pure: nothing here talks to a host, prints, or guesses; a
//! case no rule explains is `unclassified`, with the raw facts quoted.
//!
//! Rules are tried in order, first match wins: infrastructure before the
//! guest (a host that vanished makes every guest step look broken), the most
//! specific guest evidence (a panic) before what follows from it (a domain
//! that stopped, a boot marker that never came). `docs/causes.md` lists them.

use crate::events::{CaseReport, Cause, CauseId, Outcome};
use facts::{Facts, quote};

pub mod facts;
mod guest;
mod infra;
pub mod repeat;
pub mod xen;

#[cfg(test)]
mod tests;

/// A rule: the cause it sees in the facts, if any.
type Rule = fn(&Facts<'_>) -> Option<Cause>;

const RULES: &[Rule] = &[
    infra::harness,
    infra::interrupted,
    infra::host_unreachable,
    infra::hypervisor_refused,
    guest::kernel_panic,
    xen::crash,
    guest::halted,
    guest::no_kernel,
    guest::no_address,
    guest::ssh,
    guest::kind_wrong,
    guest::stalled,
];

/// The cause of `report` (which did not pass); `xen` are lines picked from the
/// host's Xen logs ([`xen::pick`]), empty elsewhere.
/// The picked Xen lines are quoted in every cause's evidence (after the lines
/// that decided it), since a reader wants them whatever the rule.
pub fn classify(report: &CaseReport, xen: &[String]) -> Cause {
    let facts = Facts { report, xen };
    let mut cause = RULES.iter().find_map(|rule| rule(&facts)).unwrap_or_else(|| unclassified(&facts));
    for line in xen {
        if !cause.evidence.contains(line) {
            cause.evidence.push(line.clone());
        }
    }
    cause
}

/// Gives a case that failed or errored its cause, states a message repeated
/// across its steps once ([`repeat::refer`]), and makes it an error when the
/// cause lies outside the system under test. A passed case is left as it is.
pub fn attach(report: &mut CaseReport, xen: &[String]) {
    if !matches!(report.outcome, Outcome::Failed | Outcome::Error) {
        return;
    }
    let cause = classify(report, xen);
    repeat::refer(&mut report.steps);
    if cause.id.is_infrastructure() {
        for s in report.steps.iter_mut().filter(|s| s.outcome == Outcome::Failed) {
            s.outcome = Outcome::Error;
        }
        report.outcome = Outcome::Error;
    }
    report.cause = Some(cause);
}

/// No rule matched: the first failing step and the console's last line, as they are.
fn unclassified(f: &Facts<'_>) -> Cause {
    let mut evidence = Vec::new();
    let summary = match f.primary() {
        Some(s) => {
            let m = s.message.as_deref().unwrap_or("(no message)");
            evidence.push(quote(&format!("{}: {m}", s.name)));
            format!("no rule explains it; the first step that did not pass is {}: {}", s.name, quote(m))
        }
        None => "no rule explains it, and no step says what went wrong".to_string(),
    };
    evidence.extend(f.last_console_line().map(|l| format!("console: {l}")));
    Cause { id: CauseId::Unclassified, summary, evidence }
}
