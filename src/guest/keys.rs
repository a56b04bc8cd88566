//! The run's SSH key pair: made fresh for every run, never a shared credential.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot run ssh-keygen (install openssh-client)")]
    Spawn(#[source] std::io::Error),
    #[error("ssh-keygen failed: {0}")]
    Failed(String),
    #[error("cannot read the key ssh-keygen made in {}", .0.display())]
    Read(PathBuf, #[source] std::io::Error),
    #[error("cannot keep the run's key in {}", .0.display())]
    Dir(PathBuf, #[source] crate::fsutil::FsError),
    #[error("cannot write the run's key")]
    Write(#[source] crate::fsutil::FsError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunKey {
    pub private: PathBuf,
    /// `ssh-ed25519 AAAA...` without comment.
    pub public: String,
}

impl RunKey {
    /// Makes the pair in `dir` (a directory only we may write): ssh-keygen
    /// writes into a private scratch directory, and the files are then created
    /// anew (`O_EXCL`, never through a symbolic link): the private key 0600,
    /// the public key 0644.
    pub fn generate(dir: &Path, comment: &str) -> Result<RunKey, KeyError> {
        crate::fsutil::check_private_dir(dir).map_err(|e| KeyError::Dir(dir.to_path_buf(), e))?;
        let private = dir.join("id_ed25519");
        let pub_path = private.with_extension("pub");
        let _ = std::fs::remove_file(&private);
        let _ = std::fs::remove_file(&pub_path);
        let scratch = tempfile::Builder::new().prefix(".keygen-").tempdir_in(dir).map_err(|e| {
            KeyError::Dir(dir.to_path_buf(), crate::fsutil::FsError::Create { path: dir.into(), source: e })
        })?;
        let made = scratch.path().join("id_ed25519");
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(&made)
            .output()
            .map_err(KeyError::Spawn)?;
        if !out.status.success() {
            return Err(KeyError::Failed(String::from_utf8_lossy(&out.stderr).trim().to_string()));
        }
        let secret = std::fs::read(&made).map_err(|e| KeyError::Read(made.clone(), e))?;
        let text = std::fs::read_to_string(made.with_extension("pub")).map_err(|e| KeyError::Read(made.clone(), e))?;
        crate::fsutil::write_new(&private, &secret, 0o600).map_err(KeyError::Write)?;
        crate::fsutil::write_new(&pub_path, text.as_bytes(), 0o644).map_err(KeyError::Write)?;
        let public = text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        Ok(RunKey { private, public })
    }

    /// The key as the test image's `virtsmoke.key=` kernel parameter (no spaces allowed there).
    pub fn cmdline_param(&self) -> String {
        format!("virtsmoke.key={}", self.public.replacen(' ', ",", 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_an_ed25519_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = RunKey::generate(dir.path(), "virtsmoke-test").unwrap();
        assert!(key.public.starts_with("ssh-ed25519 AAAA"), "{}", key.public);
        assert!(key.private.exists());
        assert!(key.cmdline_param().starts_with("virtsmoke.key=ssh-ed25519,AAAA"));
        assert!(!key.cmdline_param().contains(' '));
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&key.private), 0o600);
        assert_eq!(mode(&key.private.with_extension("pub")), 0o644);
        let mut left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, ["id_ed25519", "id_ed25519.pub"], "the scratch directory is gone");
    }

    #[test]
    fn no_key_is_made_where_others_can_write_or_through_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let open = crate::fsutil::world_writable_dir(tmp.path(), "open");
        let err = RunKey::generate(&open, "t").unwrap_err();
        assert!(matches!(err, KeyError::Dir(..)), "{err}");
        assert!(!open.join("id_ed25519").exists());
        // A run directory that is a link to somewhere else is refused too.
        let link = tmp.path().join("run");
        std::os::unix::fs::symlink(tmp.path(), &link).unwrap();
        assert!(matches!(RunKey::generate(&link, "t"), Err(KeyError::Dir(..))));
    }
}
