//! Run directories: where a run keeps its scratch on this machine and on remote
//! hosts, how runs are named, and whether a run is still alive. Used by the
//! runner (which makes them) and by `cleanup` (which removes what is left).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::fsutil::{self, FsError};

/// A fresh run id: sortable by time, unique enough across concurrent runs.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    format!("{}-{:04x}", now.format("%Y%m%d%H%M%S"), run_suffix())
}

/// 16 bits that differ between runs started in the same second: std's
/// randomly keyed hasher over the process id and the time in nanoseconds.
fn run_suffix() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    (h.finish() & 0xffff) as u16
}

/// The machine running virtsmoke, as hosts shared by several machines (CI
/// runners) record it on each domain and run directory, so that `cleanup` on
/// one machine leaves the runs of another alone: `$VIRTSMOKE_MACHINE` if set
/// (runners cloned from one image share a machine-id), else the host name
/// and the first 12 characters of `/etc/machine-id`. Characters other than
/// letters, digits and `._:/-` become `_`.
pub fn this_machine() -> &'static str {
    static MACHINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MACHINE.get_or_init(|| {
        let raw = std::env::var("VIRTSMOKE_MACHINE").ok().filter(|m| !m.trim().is_empty()).unwrap_or_else(|| {
            let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_string()).unwrap_or_default();
            let name = read("/proc/sys/kernel/hostname");
            let id: String = read("/etc/machine-id").chars().take(12).collect();
            match (name.is_empty(), id.is_empty()) {
                (_, true) => name,
                (true, false) => id,
                (false, false) => format!("{name}/{id}"),
            }
        });
        machine_name(&raw)
    })
}

/// `raw` with only the characters a machine's name keeps (see [`this_machine`]).
pub fn machine_name(raw: &str) -> String {
    let name: String = raw
        .trim()
        .chars()
        .take(100)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '-') { c } else { '_' })
        .collect();
    if name.is_empty() { "unknown".into() } else { name }
}

/// Whether `id` may name a run (`run --run-id`): 1 to 64 letters, digits,
/// `.`, `_` and `-`, not starting with `.` or `-`.
pub fn is_run_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && !id.starts_with(['.', '-'])
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Where per-run scratch lives on this machine.
pub fn runs_dir() -> PathBuf {
    std::env::var_os("VIRTSMOKE_RUN_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/tmp/virtsmoke/runs"))
}

/// The run's directory on a remote host.
pub fn remote_run_dir(run_id: &str) -> String {
    format!("/var/tmp/virtsmoke/runs/{run_id}")
}

/// The mode of the runs' directories on this machine: only their owner (root)
/// may list or write them; others may only pass through, because QEMU runs
/// as an unprivileged user on most hosts (Debian's `libvirt-qemu`) and must
/// reach the overlays and seeds libvirt hands it (each file itself is 0600
/// and relabelled by libvirt for that user). Nobody else can find a name in
/// them or write there.
pub const RUN_DIR_MODE: u32 = 0o711;

/// Makes the directory of run `run_id` under [`runs_dir`] (see [`make_run_dir_in`]).
pub fn make_run_dir(run_id: &str) -> Result<PathBuf, FsError> {
    make_run_dir_in(&runs_dir(), run_id)
}

/// Makes `root/run_id`, and `root` with what is missing above it, as
/// directories only the current user may write ([`fsutil::secure_dir`]): a
/// symbolic link or someone else's directory planted at either is refused.
pub fn make_run_dir_in(root: &Path, run_id: &str) -> Result<PathBuf, FsError> {
    fsutil::secure_dir(root)?;
    let dir = root.join(run_id);
    fsutil::secure_dir(&dir)?;
    // What secure_dir made is 0700: QEMU's user must pass through the runs
    // root and its parent (virtsmoke's own) too.
    for d in [root.parent(), Some(root)].into_iter().flatten() {
        passable(d)?;
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(RUN_DIR_MODE))
        .map_err(|source| FsError::Create { path: dir.clone(), source })?;
    Ok(dir)
}

/// Lets others pass through `dir` (never list or write it) when it is ours.
fn passable(dir: &Path) -> Result<(), FsError> {
    use std::os::unix::fs::MetadataExt as _;
    let md = std::fs::symlink_metadata(dir).map_err(|source| FsError::Inspect { path: dir.to_path_buf(), source })?;
    if md.uid() != nix::unistd::geteuid().as_raw() || md.mode() & 0o011 == 0o011 {
        return Ok(());
    }
    let mode = (md.mode() & 0o7777 & !0o022) | 0o011;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .map_err(|source| FsError::Create { path: dir.to_path_buf(), source })
}

/// Locks `RUN_DIR/alive` for as long as the returned guard lives.
pub fn mark_alive(run_dir: &Path) -> Result<nix::fcntl::Flock<std::fs::File>, FsError> {
    let path = run_dir.join("alive");
    let f = fsutil::open_shared(&path, 0o600)?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| FsError::Open { path, source: e.into() })
}

/// Whether the run `run_id` is still going on this machine (its scratch lock is held).
pub fn is_alive(run_id: &str) -> bool {
    alive_in(&runs_dir().join(run_id))
}

fn alive_in(run_dir: &Path) -> bool {
    let Ok(f) = fsutil::open_nofollow(&run_dir.join("alive")) else { return false };
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockSharedNonblock).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_names_and_run_ids_are_plain() {
        assert_eq!(machine_name("ci-7/3f2a9c1b7d4e"), "ci-7/3f2a9c1b7d4e");
        assert_eq!(machine_name(" a b;$(x) "), "a_b___x_");
        assert_eq!(machine_name(""), "unknown");
        assert!(!this_machine().is_empty());
        assert!(is_run_id("nightly-4711.2") && is_run_id(&new_run_id()));
        for bad in ["", ".x", "-x", "a/b", "a b", "a;b", &"x".repeat(65)] {
            assert!(!is_run_id(bad), "{bad}");
        }
    }

    #[test]
    fn run_ids_sort_by_time_and_differ() {
        let (a, b) = (new_run_id(), new_run_id());
        assert_eq!(a.len(), "20261201053240-abcd".len(), "{a}");
        assert!(a[..14].chars().all(|c| c.is_ascii_digit()), "{a}");
        assert!(a[15..].chars().all(|c| c.is_ascii_hexdigit()), "{a}");
        // Two ids of one second share their first part; the suffixes may collide
        // (16 bits), but a hundred of them hardly all do.
        let ids: std::collections::BTreeSet<String> = (0..100).map(|_| new_run_id()).collect();
        assert!(ids.len() > 1, "{a} {b}");
    }

    #[test]
    fn a_run_is_alive_while_its_lock_is_held() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!alive_in(dir.path()));
        let guard = mark_alive(dir.path()).unwrap();
        // flock locks belong to the open file: another open of it sees the lock.
        assert!(alive_in(dir.path()));
        drop(guard);
        assert!(!alive_in(dir.path()));
    }

    #[test]
    fn run_directories_are_private_and_planted_links_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("virtsmoke/runs");
        let dir = make_run_dir_in(&root, "r1").unwrap();
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
        // Others may pass through (QEMU's user), never list or write.
        assert_eq!((mode(&root), mode(&dir)), (0o711, 0o711));
        assert_eq!(mode(root.parent().unwrap()), 0o711);
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("r2")).unwrap();
        assert!(matches!(make_run_dir_in(&root, "r2"), Err(FsError::Symlink(_))));
        // A planted `alive` link is neither followed when marking nor when looking.
        std::os::unix::fs::symlink(tmp.path().join("target"), elsewhere.join("alive")).unwrap();
        assert!(matches!(mark_alive(&elsewhere), Err(FsError::Open { .. })));
        assert!(!tmp.path().join("target").exists());
        let open = crate::fsutil::world_writable_dir(tmp.path(), "open");
        assert!(matches!(make_run_dir_in(&open, "r3"), Err(FsError::Writable { .. })));
    }
}
