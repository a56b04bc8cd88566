//! The lab's SSH key pair: made once per lab directory, its public half goes to
//! every dom0 on the kernel command line, its private half is the `keyfile` of
//! the hosts' URIs and the `key` of their jump hosts.

use std::fs;
use std::path::Path;

use super::error::XenLabError;
use super::layout;
use crate::lab::LabError;
use crate::lab::command::{self, QUICK};

/// Makes the key pair unless both halves exist; returns the public key line.
pub fn ensure(dir: &Path) -> Result<String, XenLabError> {
    let key = layout::key(dir);
    let public = layout::public_key(dir);
    if !(key.is_file() && public.is_file()) {
        for p in [&key, &public] {
            match fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(LabError::io("remove partial lab key", p, e).into()),
            }
        }
        let key_arg = key.display().to_string();
        let mut cmd = command::command(&[
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "virtsmoke-xen-lab",
            "-f",
            &key_arg,
        ]);
        command::run("make the xen lab key pair", &mut cmd, QUICK)?;
    }
    let line = fs::read_to_string(&public).map_err(|e| LabError::io("read the xen lab public key", &public, e))?;
    Ok(line.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(layout::lab_root(dir.path())).unwrap();
        let first = ensure(dir.path()).unwrap();
        assert!(first.starts_with("ssh-ed25519 "), "{first}");
        assert_eq!(ensure(dir.path()).unwrap(), first);
        // A half-made pair is replaced.
        fs::remove_file(layout::public_key(dir.path())).unwrap();
        let second = ensure(dir.path()).unwrap();
        assert_ne!(second, first);
    }
}
