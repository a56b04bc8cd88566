//! Live migration of a domain between two hosts through libvirt's migration API.

use std::sync::Arc;
use std::time::{Duration, Instant};

use virt::domain::MigrateParameters;
use virt::sys;

use super::domain::GuestDomain;
use super::error::BackendError;
use super::host::Host;

/// libvirt migration options a scenario can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct MigrateOptions {
    /// Live (default) or paused (`false`: the guest is stopped while it moves).
    pub live: bool,
    /// The source daemon talks to the destination itself (managed otherwise: this client coordinates).
    pub peer_to_peer: bool,
    /// Migration data through the libvirt connection (implies peer-to-peer).
    pub tunnelled: bool,
    pub persistent: bool,
    pub undefine_source: bool,
    /// Copy disks when storage is not shared.
    pub copy_storage: bool,
    pub bandwidth_mib_s: Option<u64>,
    pub max_downtime_ms: Option<u64>,
}

impl MigrateOptions {
    pub fn flags(&self) -> u32 {
        let mut f = 0;
        if self.live {
            f |= sys::VIR_MIGRATE_LIVE;
        }
        if self.peer_to_peer || self.tunnelled {
            f |= sys::VIR_MIGRATE_PEER2PEER;
        }
        if self.tunnelled {
            f |= sys::VIR_MIGRATE_TUNNELLED;
        }
        if self.persistent {
            f |= sys::VIR_MIGRATE_PERSIST_DEST;
        }
        if self.undefine_source {
            f |= sys::VIR_MIGRATE_UNDEFINE_SOURCE;
        }
        if self.copy_storage {
            f |= sys::VIR_MIGRATE_NON_SHARED_DISK;
        }
        f
    }
}

/// What one migration took.
pub struct Migrated {
    /// The domain, now on the destination.
    pub domain: GuestDomain,
    /// The migration API call, start to return.
    pub elapsed: Duration,
    /// The hypervisor's own downtime figure (completed job stats), where the driver gives one.
    pub hypervisor_downtime_ms: Option<u64>,
    /// The hypervisor's total migration time, where given.
    pub hypervisor_total_ms: Option<u64>,
}

impl GuestDomain {
    /// Migrates this domain to `dest`; on success the returned domain is the
    /// one to use. A move that has not finished within `limit` is aborted
    /// (libvirt's job abort, where the driver has one) and is an error.
    pub async fn migrate(&self, dest: &Host, opts: MigrateOptions, limit: Duration) -> Result<Migrated, BackendError> {
        let src = Arc::clone(&self.dom);
        let dest_host = dest.clone();
        let dest_uri = dest.uri.clone();
        let name = self.name.clone();
        let mut call = tokio::task::spawn_blocking(move || {
            let dconn = dest_host.conn()?;
            let err = |op| BackendError::libvirt(op, name.clone());
            if let Some(ms) = opts.max_downtime_ms {
                src.migrate_set_max_downtime(ms, 0).map_err(err("setting the maximum downtime"))?;
            }
            let params = MigrateParameters { bandwidth: opts.bandwidth_mib_s, ..Default::default() };
            let t = Instant::now();
            let dom = if opts.peer_to_peer || opts.tunnelled {
                src.migrate_to_uri3(Some(&dest_uri), params, opts.flags()).map_err(err("migrating the domain"))?;
                dconn.lookup_domain_by_name(&name).map_err(err("finding the migrated domain"))?
            } else {
                src.migrate3(&dconn, params, opts.flags()).map_err(err("migrating the domain"))?
            };
            let elapsed = t.elapsed();
            // Not every driver keeps completed-job statistics: then there is no figure.
            let stats = dom.job_stats(sys::VIR_DOMAIN_JOB_STATS_COMPLETED).ok();
            Ok::<_, BackendError>((dom, elapsed, stats))
        });
        let (dom, elapsed, stats) = match tokio::time::timeout(limit, &mut call).await {
            Ok(done) => done??,
            Err(_) => {
                let mut aborted = self.abort_job().await;
                // Where the guest is can be told only once libvirt's call has returned.
                if tokio::time::timeout(ABORT_WAIT, call).await.is_err() {
                    aborted.push_str("; the migration call has still not returned");
                }
                return Err(BackendError::TimedOut {
                    op: "migrating the domain",
                    target: self.name.clone(),
                    limit,
                    aborted,
                });
            }
        };
        Ok(Migrated {
            domain: GuestDomain::new(dest.clone(), self.name.clone(), dom),
            elapsed,
            hypervisor_downtime_ms: stats.as_ref().and_then(|s| s.downtime),
            hypervisor_total_ms: stats.as_ref().and_then(|s| s.time_elapsed),
        })
    }

    /// Asks libvirt to abort the domain's running job (a migration that hangs);
    /// says how that went. The call is bounded too: a daemon that does not
    /// answer is said so and left.
    async fn abort_job(&self) -> String {
        let dom = Arc::clone(&self.dom);
        let call = tokio::task::spawn_blocking(move || {
            // SAFETY: `dom` is a live domain handle, kept alive by the Arc for the call.
            let rc = unsafe { sys::virDomainAbortJob(dom.as_ptr()) };
            if rc < 0 { Err(crate::error_chain(&virt::error::Error::last_error())) } else { Ok(()) }
        });
        match tokio::time::timeout(ABORT_WAIT, call).await {
            Ok(Ok(Ok(()))) => "libvirt's migration job was aborted".into(),
            Ok(Ok(Err(e))) => format!("aborting libvirt's migration job failed: {e}"),
            Ok(Err(e)) => format!("aborting libvirt's migration job failed: {e}"),
            Err(_) => format!("libvirt did not answer the abort within {}s either", ABORT_WAIT.as_secs()),
        }
    }
}

/// How long an abort of a hanging migration may take.
const ABORT_WAIT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_options() {
        let live = MigrateOptions { live: true, ..Default::default() };
        assert_eq!(live.flags(), sys::VIR_MIGRATE_LIVE);
        let tunnelled = MigrateOptions { live: true, tunnelled: true, persistent: true, ..Default::default() };
        assert_eq!(
            tunnelled.flags(),
            sys::VIR_MIGRATE_LIVE
                | sys::VIR_MIGRATE_PEER2PEER
                | sys::VIR_MIGRATE_TUNNELLED
                | sys::VIR_MIGRATE_PERSIST_DEST
        );
    }
}
