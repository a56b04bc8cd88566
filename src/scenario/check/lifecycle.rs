//! The lifecycle checks in `checks:`: `reboot` (from inside, or `via:
//! libvirt`), `shutdown`, `save-restore`, `pause-resume`.

use crate::plan::{CheckSpec, LifecycleCheck, RebootVia};

use super::super::ctx::Cx;
use super::super::yaml::{Node, Value};

/// The lifecycle checks' names in `checks:`.
pub(crate) const NAMES: &[&str] = &["reboot", "shutdown", "save-restore", "pause-resume"];
/// The settings of `reboot`.
pub(crate) const REBOOT_KEYS: &[&str] = &["via"];
const VIAS: &[&str] = &["guest", "libvirt"];

/// The check a bare name stands for.
pub(crate) fn bare(name: &str) -> Option<CheckSpec> {
    let check = match name {
        "reboot" => LifecycleCheck::Reboot { via: RebootVia::Guest },
        "shutdown" => LifecycleCheck::Shutdown,
        "save-restore" => LifecycleCheck::SaveRestore,
        "pause-resume" => LifecycleCheck::PauseResume,
        _ => return None,
    };
    Some(CheckSpec::Lifecycle(check))
}

/// `- NAME: { ... }`: only `reboot` takes settings.
pub(crate) fn mapping(cx: &mut Cx<'_>, name: &str, key: &Node, settings: &Node, position: usize) -> Option<CheckSpec> {
    if settings.value == Value::Null {
        return bare(name);
    }
    if name != "reboot" {
        cx.error(settings, format!("check `{name}` takes no settings"), Some(format!("write `- {name}`")));
        return None;
    }
    let f = cx.fields(key, settings, format!("check {position} (`reboot`)"), REBOOT_KEYS)?;
    let via = match f.get("via") {
        None => RebootVia::Guest,
        Some(n) => {
            match cx.text(n, &f.desc("via"))?.as_str() {
                "guest" => RebootVia::Guest,
                "libvirt" => RebootVia::Libvirt,
                other => {
                    cx.error(
                    n,
                    format!("`via` of check {position} (`reboot`) must be one of {}, found `{other}`", VIAS.join(", ")),
                    Some("`guest`: `reboot` inside the guest; `libvirt`: libvirt's reboot (ACPI or Xen's control path)".into()),
                );
                    return None;
                }
            }
        }
    };
    Some(CheckSpec::Lifecycle(LifecycleCheck::Reboot { via }))
}
