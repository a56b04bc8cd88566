//! `boot.cloud-init`: cloud-init finished applying its seed. It waits inside
//! the guest (one SSH command, however long the guest takes). Modules the
//! image's owner says may fail (`cloud_init: { allow_failed_modules: [...] }`)
//! are tolerated, and the tolerated failures are recorded with the step.

use std::time::Duration;

use super::env::StepFailure;
use super::systemd::quick;
use crate::guest::ssh::{self, SshError, SshTarget};

/// What `boot.cloud-init` saw, for the case's properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudInitState {
    /// `done`, or `error` when every failure was tolerated.
    pub status: String,
    /// `--long`'s `detail:` (the datasource and seed it used).
    pub detail: Option<String>,
    /// The failed modules that `allow_failed_modules` tolerated.
    pub tolerated: Vec<ModuleFailure>,
}

/// One failed cloud-init module and cloud-init's error for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFailure {
    pub module: String,
    pub error: String,
}

impl CloudInitState {
    /// The step's message when it passed with tolerated failures.
    pub fn tolerated_note(&self) -> Option<String> {
        if self.tolerated.is_empty() {
            return None;
        }
        let each: Vec<String> = self.tolerated.iter().map(|f| format!("{} ({})", f.module, f.error)).collect();
        Some(format!("passed with tolerated failures: {}", each.join(", ")))
    }

    /// The tolerated modules, comma-separated (the `cloud_init_tolerated` property).
    pub fn tolerated_modules(&self) -> String {
        self.tolerated.iter().map(|f| f.module.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// `status:` and `detail:` of `cloud-init status --long` (the dots `--wait` prints before are skipped).
pub fn parse_status(out: &str) -> CloudInitState {
    let mut status = String::new();
    let mut detail = None;
    let mut lines = out.lines().map(|l| l.trim_start_matches('.')).peekable();
    while let Some(l) = lines.next() {
        if let Some(s) = l.strip_prefix("status:") {
            status = s.trim().to_string();
        } else if let Some(d) = l.strip_prefix("detail:") {
            let mut d = d.trim().to_string();
            // `detail:` may continue on the next line(s), up to the next key.
            while let Some(next) = lines.peek() {
                if next.is_empty() || is_key(next) {
                    break;
                }
                d = format!("{d} {}", next.trim()).trim().to_string();
                lines.next();
            }
            detail = Some(d).filter(|d| !d.is_empty());
        }
    }
    CloudInitState { status, detail, tolerated: Vec::new() }
}

/// A line of `cloud-init status --long`'s own keys (`errors: []`), not detail text.
fn is_key(line: &str) -> bool {
    line.split_once(':').is_some_and(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
}

/// The `v1.errors` list of `/run/cloud-init/result.json`, which cloud-init
/// writes once its last stage ends; `None` when the text is not such a file.
pub fn result_errors(json: &str) -> Option<Vec<String>> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let errors = v.get("v1")?.get("errors")?.as_array()?;
    errors.iter().map(|e| e.as_str().map(str::to_string)).collect()
}

/// The module an error of `result.json` is about: cloud-init records a
/// module's failure as the Python tuple `('locale', ProcessExecutionError(...))`.
/// Any other error (a stage that crashed, no datasource) names no module.
pub fn module_of(error: &str) -> Option<&str> {
    let rest = error.trim_start().strip_prefix("('")?;
    let (name, after) = rest.split_once('\'')?;
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (valid && after.starts_with(',')).then_some(name)
}

/// Modules `/var/log/cloud-init.log` says failed
/// (`Running module locale (<module ...>) failed`), each once, in order.
pub fn failed_in_log(log: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in log.lines().filter(|l| l.trim_end().ends_with(") failed")) {
        let Some((_, rest)) = line.split_once("Running module ") else { continue };
        let Some(name) = rest.split_whitespace().next() else { continue };
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// Module names as cloud-init accepts them: `set-passwords`, `set_passwords`
/// and `cc_set_passwords` are one module.
pub fn same_module(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.strip_prefix("cc_").unwrap_or(s).replace('-', "_");
    norm(a) == norm(b)
}

/// Whether cloud-init's failures are all in modules the image allows to fail:
/// the tolerated failures, or what is not allowed (each a line for the
/// message). `errors` is `result.json`'s list; `logged` the modules the log
/// says failed. No failure found at all is not tolerated either: cloud-init
/// said `error` for a reason virtsmoke could not name.
pub fn judge(errors: &[String], logged: &[String], allowed: &[String]) -> Result<Vec<ModuleFailure>, Vec<String>> {
    let is_allowed = |m: &str| allowed.iter().any(|a| same_module(a, m));
    let mut tolerated: Vec<ModuleFailure> = Vec::new();
    let mut refused = Vec::new();
    for e in errors {
        match module_of(e) {
            Some(m) if is_allowed(m) => tolerated.push(ModuleFailure { module: m.to_string(), error: summary(e) }),
            Some(m) => refused.push(format!("module `{m}` failed: {}", summary(e))),
            None => refused.push(format!("an error in no module: {}", summary(e))),
        }
    }
    for m in logged {
        if tolerated.iter().any(|t| same_module(&t.module, m)) {
            continue;
        }
        if is_allowed(m) {
            tolerated.push(ModuleFailure { module: m.clone(), error: "failed (cloud-init.log)".into() });
        } else if !refused.iter().any(|r| r.starts_with(&format!("module `{m}`"))) {
            refused.push(format!("module `{m}` failed (cloud-init.log)"));
        }
    }
    if tolerated.is_empty() && refused.is_empty() {
        refused.push("cloud-init recorded no failed module".into());
    }
    if refused.is_empty() { Ok(tolerated) } else { Err(refused) }
}

/// One line for a failure: the exception and, for a command that failed
/// (`ProcessExecutionError`), the command and why; at most 300 characters.
/// The error is the text of a Python tuple, its newlines escaped (`\n`).
pub fn summary(error: &str) -> String {
    let rest = match module_of(error) {
        Some(m) => error.trim_start()[m.len() + 4..].trim_start(),
        None => error.trim(),
    };
    let rest = rest.strip_suffix(')').unwrap_or(rest);
    let lines: Vec<&str> = rest.split("\\n").flat_map(str::lines).collect();
    let picked: Vec<&str> = lines
        .iter()
        .filter(|l| ["Command:", "Exit code:", "Reason:"].iter().any(|k| l.starts_with(k)))
        .filter(|l| !l.ends_with(": -"))
        .copied()
        .collect();
    let text = match (rest.split_once('('), picked.is_empty()) {
        (Some((exception, _)), false) => format!("{exception}: {}", picked.join("; ")),
        _ => lines.first().copied().unwrap_or("").to_string(),
    };
    text.chars().take(300).collect()
}

const STATUS: &str = "if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait --long 2>&1; \
                      else echo 'status: not-installed'; fi";
const RESULT: &str = "cat /run/cloud-init/result.json 2>/dev/null";
const LOG_FAILED: &str = "grep -E 'Running module .* failed' /var/log/cloud-init.log 2>/dev/null | tail -n 50";

/// Waits for cloud-init to finish (`cloud-init status --wait --long`); anything
/// but `done` fails with cloud-init's own account of what went wrong, unless
/// every failure is in a module of `allow_failed_modules`.
pub async fn done(
    target: &SshTarget,
    allow_failed_modules: &[String],
    timeout: Duration,
) -> Result<CloudInitState, StepFailure> {
    let out = match ssh::exec(target, STATUS, timeout).await {
        Ok(out) => out,
        Err(SshError::Timeout { .. }) => {
            let now = quick(target, "cloud-init status --long 2>&1").await;
            return Err(StepFailure::failed(format!(
                "cloud-init did not finish within {}",
                humantime::format_duration(timeout)
            ))
            .with_detail(now));
        }
        Err(e) => return Err(StepFailure::failed(crate::error_chain(&e))),
    };
    let state = parse_status(&out.stdout);
    match state.status.as_str() {
        "done" => Ok(state),
        "not-installed" => Err(StepFailure::failed("the image has a NoCloud seed but no cloud-init")),
        "disabled" => Err(StepFailure::failed(
            "cloud-init is disabled: it found no datasource (did the guest see the `cidata` seed?)",
        )
        .with_detail(out.stdout)),
        // Only a finished run with errors can be judged module by module.
        "error" => failed_modules(target, state, &out.stdout, allow_failed_modules).await,
        _ => failed_modules(target, state, &out.stdout, &[]).await,
    }
}

/// cloud-init ended with an error: passes when each failure is in an allowed
/// module, otherwise fails naming what failed.
async fn failed_modules(
    target: &SshTarget,
    mut state: CloudInitState,
    status_text: &str,
    allowed: &[String],
) -> Result<CloudInitState, StepFailure> {
    let errors = result_errors(&quick(target, RESULT).await);
    let logged = failed_in_log(&quick(target, LOG_FAILED).await);
    let verdict = match (&errors, allowed.is_empty()) {
        (_, true) => Err(Vec::new()),
        (Some(errors), false) => judge(errors, &logged, allowed),
        (None, false) => {
            Err(vec!["/run/cloud-init/result.json could not be read, so no failure can be tolerated".into()])
        }
    };
    let refused = match verdict {
        Ok(tolerated) => {
            state.tolerated = tolerated;
            return Ok(state);
        }
        Err(refused) => refused,
    };
    let status = if state.status.is_empty() { "unknown" } else { state.status.as_str() };
    let why = state.detail.clone().map(|d| format!(": {d}")).unwrap_or_default();
    let hint = match (&errors, allowed.is_empty()) {
        (Some(e), true) if e.iter().any(|e| module_of(e).is_some()) => {
            " (`cloud_init: { allow_failed_modules: [...] }` on the image tolerates failed modules)"
        }
        _ => "",
    };
    let refused = if refused.is_empty() { String::new() } else { format!("; not tolerated: {}", refused.join("; ")) };
    let log = quick(target, "grep -E 'WARNING|ERROR|Traceback' /var/log/cloud-init.log 2>/dev/null | tail -n 20").await;
    Err(StepFailure::failed(format!("cloud-init finished with status `{status}`{why}{refused}{hint}"))
        .with_detail(format!("{}\n{}", status_text.trim(), log.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCALE: &str = include_str!("../../tests/fixtures/cloud-init/locale-result.json");
    const LOCALE_AND_NTP: &str = include_str!("../../tests/fixtures/cloud-init/locale-and-ntp-result.json");
    const NO_DATASOURCE: &str = include_str!("../../tests/fixtures/cloud-init/no-datasource-result.json");
    const STATUS_TEXT: &str = include_str!("../../tests/fixtures/cloud-init/locale-status.txt");
    const LOG: &str = include_str!("../../tests/fixtures/cloud-init/locale-cloud-init.log");

    fn allow(m: &[&str]) -> Vec<String> {
        m.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_cloud_init_status() {
        let done = ".....\nstatus: done\nboot_status_code: enabled-by-generator\nlast_update: Sun, 22 Nov 2026 04:24:19 +0000\n\
                    detail:\nDataSourceNoCloud [seed=/dev/sr0][dsmode=net]\n";
        assert_eq!(
            parse_status(done),
            CloudInitState {
                status: "done".into(),
                detail: Some("DataSourceNoCloud [seed=/dev/sr0][dsmode=net]".into()),
                tolerated: vec![],
            }
        );
        let error = "\nstatus: error\nboot_status_code: enabled-by-generator\ndetail:\n('locale', ProcessExecutionError(\"Unexpected error\nCommand: ['update-locale']\nExit code: 255\"))\nerrors: []\n";
        let s = parse_status(error);
        assert_eq!(s.status, "error");
        assert_eq!(
            s.detail.as_deref(),
            Some("('locale', ProcessExecutionError(\"Unexpected error Command: ['update-locale'] Exit code: 255\"))")
        );
    }
    #[test]
    fn reads_the_errors_of_result_json() {
        let errors = result_errors(LOCALE).unwrap();
        assert_eq!(errors.len(), 1);
        assert_eq!(module_of(&errors[0]), Some("locale"));
        assert!(errors[0].contains("No such file or directory: b'update-locale'"));
        let two = result_errors(LOCALE_AND_NTP).unwrap();
        assert_eq!(two.iter().map(|e| module_of(e)).collect::<Vec<_>>(), [Some("locale"), Some("ntp")]);
        assert_eq!(module_of(&result_errors(NO_DATASOURCE).unwrap()[0]), None);
        assert_eq!(result_errors(""), None, "no file");
        assert_eq!(result_errors("(not json)"), None);
        assert_eq!(result_errors("{\"v1\": {}}"), None, "no errors list");
    }

    #[test]
    fn reads_the_failed_modules_of_the_log() {
        assert_eq!(failed_in_log(LOG), ["locale"], "named once, though logged twice");
        assert!(failed_in_log("Running module locale (<module ...>) with frequency once-per-instance").is_empty());
    }

    #[test]
    fn an_allowed_module_failure_is_tolerated_and_said() {
        let errors = result_errors(LOCALE).unwrap();
        let tolerated = judge(&errors, &failed_in_log(LOG), &allow(&["locale"])).unwrap();
        assert_eq!(tolerated.len(), 1);
        assert_eq!(tolerated[0].module, "locale");
        let mut state = parse_status(STATUS_TEXT);
        assert_eq!(state.status, "error");
        state.tolerated = tolerated;
        assert_eq!(state.tolerated_modules(), "locale");
        assert_eq!(
            state.tolerated_note().as_deref(),
            Some(
                "passed with tolerated failures: locale (ProcessExecutionError: \
                 Command: ['update-locale', '--locale-file=/etc/default/locale', 'LANG=C.UTF-8']; \
                 Reason: [Errno 2] No such file or directory: b'update-locale')"
            )
        );
    }

    #[test]
    fn a_failure_outside_the_allowed_modules_fails() {
        let errors = result_errors(LOCALE_AND_NTP).unwrap();
        let refused = judge(&errors, &[], &allow(&["locale"])).unwrap_err();
        assert_eq!(
            refused,
            [
                "module `ntp` failed: RuntimeError('No ntp client found among: chrony, ntp, ntpdate, systemd-timesyncd, openntpd')"
            ]
        );
        let none = judge(&result_errors(NO_DATASOURCE).unwrap(), &[], &allow(&["locale"])).unwrap_err();
        assert_eq!(none, ["an error in no module: Unexpected error: no datasource found"]);
        // A module only the log names is judged too.
        let log_only = judge(&[], &allow(&["ntp"]), &allow(&["locale"])).unwrap_err();
        assert_eq!(log_only, ["module `ntp` failed (cloud-init.log)"]);
        // `error` with no failure recorded anywhere is not tolerated.
        assert_eq!(judge(&[], &[], &allow(&["locale"])).unwrap_err(), ["cloud-init recorded no failed module"]);
    }

    #[test]
    fn module_names_match_in_every_spelling() {
        assert!(same_module("set-passwords", "set_passwords"));
        assert!(same_module("cc_locale", "locale"));
        assert!(!same_module("locale", "ntp"));
        let e = ["('set_passwords', ValueError('x'))".to_string()];
        assert_eq!(judge(&e, &[], &allow(&["set-passwords"])).unwrap()[0].module, "set_passwords");
    }
}
