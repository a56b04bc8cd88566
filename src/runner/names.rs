//! Names the run gives what it makes: domains, MACs, files.

/// `vs-RUNID-INDEX-GUEST`: unique per run, traceable to the case.
pub fn domain_name(run_id: &str, index: usize, guest: &str) -> String {
    format!("vs-{run_id}-{index}-{}", slug(guest))
}

/// A MAC derived from the domain name (stable for reruns of a name), under
/// the prefix of the kind's family.
pub fn mac_for(name: &str, kind: crate::plan::GuestKind) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(name.as_bytes());
    let prefix = crate::hypervisor::mac_prefix(kind);
    format!("{prefix}:{:02x}:{:02x}:{:02x}", h[0] & 0x7f, h[1], h[2])
}

/// A name safe for files and domains.
pub fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_and_stable() {
        assert_eq!(slug("local-kvm/tiny@lab1"), "local-kvm_tiny_lab1");
        assert_eq!(domain_name("r1", 3, "tiny-2"), "vs-r1-3-tiny-2");
        let a = mac_for("vs-r1-0-tiny", crate::plan::GuestKind::Kvm);
        assert_eq!(a, mac_for("vs-r1-0-tiny", crate::plan::GuestKind::Kvm));
        assert!(a.starts_with("52:54:00:"));
        assert!(mac_for("x", crate::plan::GuestKind::XenPv).starts_with("00:16:3e:"));
    }
}
