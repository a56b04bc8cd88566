//! What a failed pygrub run (a Xen PV guest booted by its disk's own boot
//! loader) means, read from the toolstack's logs. Pure functions: nothing here
//! talks to a host.
//!
//! libxl runs pygrub before it builds the domain. When pygrub fails, libvirt
//! says only "libxenlight failed to create new domain"; libxl's log for the
//! domain says "bootloader failed - consult logfile PATH", and that file holds
//! pygrub's own output.

/// pygrub's words when no partition of the disk gave it a kernel: no boot
/// loader configuration, or one without an entry it can read (upstream pygrub
/// catches each partition's failure and ends with this).
const NO_ENTRY: &str = "Unable to find partition containing kernel";

/// What a disk without an entry pygrub can read means, and what to do.
pub const NO_ENTRY_MEANING: &str = "pygrub found no boot entry on the guest's disk: it reads GRUB `menuentry` \
     blocks (grub.cfg), `title` blocks (menu.lst, grub.conf) and extlinux labels, but not Boot Loader \
     Specification entries (/boot/loader/entries/*.conf, which GRUB's `blscfg` reads), and Enterprise Linux 8 \
     and later and Fedora 30 and later list their kernels only there; boot such an image with `boot: kernel` \
     (its kernel and initramfs, `root=` in `cmdline`), or regenerate its grub.cfg with menu entries \
     (`GRUB_ENABLE_BLSCFG=false`, then `grub2-mkconfig`)";

/// The bootloader log libxl names (`bootloader failed - consult logfile PATH`).
pub fn bootloader_logfile(libxl_log: &str) -> Option<&str> {
    libxl_log
        .lines()
        .rev()
        .find_map(|l| l.split_once("bootloader failed - consult logfile ").map(|(_, p)| p.trim()))
        .filter(|p| p.starts_with('/') && !p.contains(char::is_whitespace))
}

/// Why pygrub failed, in one line, if the logs say it did: the meaning of
/// "no entry", or pygrub's own last line. `None` when libxl's log shows no
/// bootloader failure (the domain failed for another reason).
pub fn failure(libxl_log: &str, bootloader_log: &str) -> Option<String> {
    if bootloader_log.contains(NO_ENTRY) || libxl_log.contains(NO_ENTRY) {
        return Some(NO_ENTRY_MEANING.to_string());
    }
    if !libxl_log.contains("bootloader failed") {
        return None;
    }
    let last = bootloader_log.lines().rev().map(str::trim).find(|l| !l.is_empty());
    Some(match last {
        Some(l) => format!("pygrub failed: {l}"),
        None => "pygrub failed, and its log says nothing".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // In the shape libxl (libxl_bootloader.c) and pygrub (tools/pygrub/src/pygrub)
    // write them; not recorded from a run.
    const LIBXL: &str = include_str!("../../tests/fixtures/pygrub/libxl-bootloader-failed.log");
    const NO_ENTRY_LOG: &str = include_str!("../../tests/fixtures/pygrub/bootloader-no-entry.log");
    const OTHER_LOG: &str = include_str!("../../tests/fixtures/pygrub/bootloader-other.log");

    #[test]
    fn the_bootloader_log_is_the_one_libxl_names() {
        assert_eq!(bootloader_logfile(LIBXL), Some("/var/log/xen/bootloader.7.log"));
        assert_eq!(bootloader_logfile("libxl: cannot (re-)build domain: -3"), None);
        assert_eq!(bootloader_logfile("bootloader failed - consult logfile ; rm -rf x"), None, "not a path");
    }

    #[test]
    fn no_entry_is_said_plainly_with_bls_and_what_to_do() {
        let why = failure(LIBXL, NO_ENTRY_LOG).unwrap();
        assert!(why.starts_with("pygrub found no boot entry on the guest's disk"), "{why}");
        assert!(why.contains("/boot/loader/entries") && why.contains("Enterprise Linux 8"), "{why}");
        assert!(why.contains("`boot: kernel`"), "{why}");
    }

    #[test]
    fn another_pygrub_failure_quotes_its_last_line() {
        assert_eq!(
            failure(LIBXL, OTHER_LOG).as_deref(),
            Some("pygrub failed: RuntimeError: Unable to access /var/lib/libvirt/images/missing.qcow2")
        );
        assert_eq!(failure(LIBXL, "").as_deref(), Some("pygrub failed, and its log says nothing"));
    }

    #[test]
    fn a_domain_that_failed_otherwise_is_not_blamed_on_pygrub() {
        assert_eq!(failure("libxl: Domain 7:cannot (re-)build domain: -3", ""), None);
    }
}
