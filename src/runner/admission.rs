//! Admission of a case on its host by the host's own account: lock files
//! (`host_slots`) keep this machine's virtsmoke processes from overcommitting
//! a host, but runners on other machines share the pool too. So when a case
//! has its slots, the host itself is asked (through libvirt) how many
//! virtsmoke guests it runs, how much memory they were given and how much is
//! free; a case that would not fit waits for room (`when_full: wait`, up to
//! `wait_up_to`) or is skipped (`when_full: skip`), saying why.

use std::time::Duration;

use super::context::{HostState, RunContext};
use crate::backend::load::HostLoad;
use crate::events::Outcome;
use crate::plan::Capacity;

/// How a case got (or did not get) its place, for its report.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// Why it holds no guest slots of its host (see `host_slots`), if so.
    pub no_slots: Option<String>,
    /// The host's account when the case was admitted.
    pub load: Option<String>,
    /// How long the case waited for room on its host.
    pub waited: Duration,
    /// The host had no room: the case is skipped or an error, with the reason.
    pub refused: Option<(Outcome, String)>,
}

/// How long the host may take to give its account.
const ASK_WITHIN: Duration = Duration::from_secs(20);

/// How often a case waiting for room asks again.
pub const RECHECK: Duration = Duration::from_secs(3);

/// The host's account of `host`, if it is ready and answers: `Ok` with that
/// account when a case of `guests` guests and `mib` MiB fits its capacity,
/// `Err` with why not. A host that cannot say admits the case (its own
/// steps will meet the host's trouble and report it).
pub async fn room(ctx: &RunContext, host: &str, guests: u32, mib: u64) -> Result<Option<String>, String> {
    let Some(HostState::Ready(h)) = ctx.hosts.get(host) else { return Ok(None) };
    let Ok(Ok(load)) = tokio::time::timeout(ASK_WITHIN, h.host.load()).await else { return Ok(None) };
    match no_room(&load, &h.spec.capacity, guests, mib) {
        None => Ok(Some(describe(&load))),
        Some(why) => Err(format!("host `{host}` has no room: {why}")),
    }
}

/// Why `load` leaves no room for `guests` more guests of `mib` MiB within
/// `cap`; `None` when they fit.
pub fn no_room(load: &HostLoad, cap: &Capacity, guests: u32, mib: u64) -> Option<String> {
    let now = describe(load);
    if load.guests + guests > cap.guests {
        return Some(format!("{now}; this case needs {guests} more, capacity is {} guests", cap.guests));
    }
    if load.memory_mib + mib > cap.memory_mib {
        return Some(format!("{now}; this case needs {mib} MiB more, capacity is {} MiB", cap.memory_mib));
    }
    match load.free_mib {
        Some(free) if free < mib => Some(format!("{now}; this case needs {mib} MiB")),
        _ => None,
    }
}

/// The host's account in words: "1 virtsmoke guest running (512 MiB; run
/// 20261202-ab12), 20480 MiB free".
pub fn describe(load: &HostLoad) -> String {
    let plural = if load.guests == 1 { "" } else { "s" };
    let mut s = format!("{} virtsmoke guest{plural} running", load.guests);
    if load.guests > 0 {
        let runs: Vec<&str> = load.runs.iter().map(String::as_str).collect();
        let label = if runs.len() == 1 { "run" } else { "runs" };
        s.push_str(&format!(" ({} MiB; {label} {})", load.memory_mib, runs.join(", ")));
    }
    if let Some(free) = load.free_mib {
        s.push_str(&format!(", {free} MiB free"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::WhenFull;

    fn load(guests: u32, memory_mib: u64, free_mib: Option<u64>) -> HostLoad {
        let runs = (0..guests.min(1)).map(|_| "20261202120000-ab12".to_string()).collect();
        HostLoad { guests, memory_mib, free_mib, runs }
    }

    const CAP: Capacity = Capacity { guests: 2, memory_mib: 1536, when_full: WhenFull::DEFAULT };

    #[test]
    fn a_case_fits_when_guests_memory_and_free_memory_all_allow() {
        assert_eq!(no_room(&load(1, 512, Some(4096)), &CAP, 1, 512), None);
        assert_eq!(describe(&load(0, 0, None)), "0 virtsmoke guests running");
        assert_eq!(
            describe(&load(1, 512, Some(4096))),
            "1 virtsmoke guest running (512 MiB; run 20261202120000-ab12), 4096 MiB free"
        );
    }

    #[test]
    fn the_first_limit_crossed_is_named_with_the_hosts_account() {
        let guests = no_room(&load(2, 512, Some(4096)), &CAP, 1, 256).unwrap();
        assert!(guests.ends_with("this case needs 1 more, capacity is 2 guests"), "{guests}");
        assert!(guests.starts_with("2 virtsmoke guests running (512 MiB; run 20261202120000-ab12)"), "{guests}");
        let memory = no_room(&load(1, 1024, Some(4096)), &CAP, 1, 768).unwrap();
        assert!(memory.ends_with("this case needs 768 MiB more, capacity is 1536 MiB"), "{memory}");
        let free = no_room(&load(0, 0, Some(200)), &CAP, 1, 256).unwrap();
        assert_eq!(free, "0 virtsmoke guests running, 200 MiB free; this case needs 256 MiB");
    }
}
