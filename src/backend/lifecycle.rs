//! A guest's lifecycle through libvirt: clean shutdown, reboot, pause, and
//! save to a file then restore from it. The checks of `checks/lifecycle` drive
//! these; what each means per hypervisor is libvirt's (ACPI or the guest agent
//! on QEMU, the PV control path on libxl).

use std::ffi::CString;
use std::path::Path;

use virt::sys;

use super::domain::GuestDomain;
use super::error::BackendError;
use super::host::Host;

impl GuestDomain {
    /// Asks the guest to power off (libvirt's default method for the driver).
    pub async fn shutdown(&self) -> Result<(), BackendError> {
        self.call(|d, n| d.shutdown().map_err(BackendError::libvirt("asking the guest to shut down", n))).await
    }

    /// Asks the guest to reboot (libvirt's default method for the driver).
    pub async fn reboot(&self) -> Result<(), BackendError> {
        self.call(|d, n| d.reboot(0).map_err(BackendError::libvirt("asking the guest to reboot", n))).await
    }

    /// Pauses the guest's vCPUs.
    pub async fn suspend(&self) -> Result<(), BackendError> {
        self.call(|d, n| d.suspend().map_err(BackendError::libvirt("pausing the domain", n))).await
    }

    /// Saves the guest's memory and device state to `path` on the domain's host;
    /// the domain stops (a transient one is gone until restored).
    pub async fn save(&self, path: &Path) -> Result<(), BackendError> {
        use std::os::unix::ffi::OsStrExt as _;
        // A Unix path holds no NUL; were it empty, libvirt would say so.
        let c = CString::new(path.as_os_str().as_bytes()).unwrap_or_default();
        self.call(move |d, n| {
            // SAFETY: `d` is a live domain handle for the duration of the call and
            // `c` a NUL-terminated string that outlives it; libvirt copies the path.
            let rc = unsafe { sys::virDomainSave(d.as_ptr(), c.as_ptr()) };
            if rc < 0 {
                return Err(BackendError::Libvirt {
                    op: "saving the domain",
                    target: n.to_string(),
                    source: virt::error::Error::last_error(),
                });
            }
            Ok(())
        })
        .await
    }
}

impl Host {
    /// Restores a domain saved by [`GuestDomain::save`] on this host, as `name`.
    pub async fn restore(&self, path: &Path, name: &str) -> Result<GuestDomain, BackendError> {
        let file = path.display().to_string();
        let target = name.to_string();
        let dom = self
            .call(move |c| {
                c.restore_domain(&file).map_err(BackendError::libvirt("restoring the domain", target.clone()))?;
                c.lookup_domain_by_name(&target).map_err(BackendError::libvirt("finding the restored domain", target))
            })
            .await?;
        Ok(GuestDomain::new(self.clone(), name.to_string(), dom))
    }
}
