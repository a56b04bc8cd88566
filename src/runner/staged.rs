//! What the run put on remote hosts: each file's checked copy per host, made
//! once, and the hosts it made files on.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// (host, local path) → the file's copy on the host, once made.
type Copies = BTreeMap<(String, PathBuf), Arc<tokio::sync::OnceCell<String>>>;

/// What the run put on remote hosts.
#[derive(Default)]
pub struct Staged {
    /// Each file's checked copy on each host, made once (see `copy_once`).
    copies: Mutex<Copies>,
    /// Hosts the run made files on (copies, overlays, seeds): its directory
    /// there goes when it ends.
    hosts_touched: Mutex<BTreeSet<String>>,
}

impl Staged {
    /// The copy of `local` on `host`, made by `copy` the first time it is
    /// wanted. A caller that wants it while the copy is under way waits for
    /// it; after a failed copy the next caller copies again. Copies of other
    /// files, and to other hosts, go on meanwhile.
    pub async fn copy_once<E, F, Fut>(&self, host: &str, local: &Path, copy: F) -> Result<String, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, E>>,
    {
        let cell = {
            let mut copies = self.copies.lock().unwrap_or_else(|e| e.into_inner());
            copies.entry((host.to_string(), local.to_path_buf())).or_default().clone()
        };
        cell.get_or_try_init(copy).await.cloned()
    }

    /// Records that the run makes files on `host`.
    pub fn touch(&self, host: &str) {
        self.hosts_touched.lock().unwrap_or_else(|e| e.into_inner()).insert(host.to_string());
    }

    pub fn hosts_touched(&self) -> BTreeSet<String> {
        self.hosts_touched.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const WAIT: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn a_second_case_waits_for_the_first_copy_of_a_file() {
        let staged = Staged::default();
        let copies = &std::sync::atomic::AtomicUsize::new(0);
        let copy = move || async move {
            copies.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok::<_, String>("/runs/r/images/vmlinuz.0123".to_string())
        };
        let vmlinuz = Path::new("/img/vmlinuz");
        let (a, b) = tokio::join!(staged.copy_once("xen1", vmlinuz, copy), staged.copy_once("xen1", vmlinuz, copy));
        assert_eq!(
            (a.as_deref(), b.as_deref()),
            (Ok("/runs/r/images/vmlinuz.0123"), Ok("/runs/r/images/vmlinuz.0123"))
        );
        assert_eq!(copies.load(std::sync::atomic::Ordering::SeqCst), 1, "one copy per host and file");
        let again = staged.copy_once("xen1", vmlinuz, || async { Err::<String, _>("copied twice".to_string()) }).await;
        assert_eq!(again.as_deref(), Ok("/runs/r/images/vmlinuz.0123"));
    }

    #[tokio::test]
    async fn a_failed_copy_is_made_again_by_the_next_case() {
        let staged = Staged::default();
        let vmlinuz = Path::new("/img/vmlinuz");
        let failed = staged.copy_once("xen1", vmlinuz, || async { Err::<String, _>("scp: connection reset") }).await;
        assert_eq!(failed, Err("scp: connection reset"));
        let copied = staged.copy_once("xen1", vmlinuz, || async { Ok::<_, &str>("/copy".to_string()) }).await;
        assert_eq!(copied.as_deref(), Ok("/copy"));
    }

    /// Each copy here finishes only once all three are under way: copies made
    /// one after another would never finish.
    #[tokio::test]
    async fn other_hosts_and_files_copy_meanwhile() {
        let staged = Staged::default();
        let all_started = tokio::sync::Barrier::new(3);
        let copy = |remote: &'static str| {
            let all_started = &all_started;
            move || async move {
                all_started.wait().await;
                Ok::<_, String>(remote.to_string())
            }
        };
        let (vmlinuz, initrd) = (Path::new("/img/vmlinuz"), Path::new("/img/initrd.img"));
        let copies = async {
            tokio::join!(
                staged.copy_once("xen1", vmlinuz, copy("xen1 vmlinuz")),
                staged.copy_once("xen2", vmlinuz, copy("xen2 vmlinuz")),
                staged.copy_once("xen1", initrd, copy("xen1 initrd")),
            )
        };
        let (a, b, c) = tokio::time::timeout(WAIT, copies).await.expect("copies that wait for one another");
        assert_eq!([a.unwrap(), b.unwrap(), c.unwrap()], ["xen1 vmlinuz", "xen2 vmlinuz", "xen1 initrd"]);
    }

    #[test]
    fn every_host_touched_is_remembered_once() {
        let staged = Staged::default();
        staged.touch("xen2");
        staged.touch("xen1");
        staged.touch("xen2");
        assert_eq!(staged.hosts_touched().into_iter().collect::<Vec<_>>(), ["xen1", "xen2"]);
    }
}
