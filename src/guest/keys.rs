//! The run's SSH key pair: made fresh for every run, never a shared credential.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot run ssh-keygen (install openssh-client)")]
    Spawn(#[source] std::io::Error),
    #[error("ssh-keygen failed: {0}")]
    Failed(String),
    #[error("cannot read the public key {}", .0.display())]
    Read(PathBuf, #[source] std::io::Error),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunKey {
    pub private: PathBuf,
    /// `ssh-ed25519 AAAA...` without comment.
    pub public: String,
}

impl RunKey {
    pub fn generate(dir: &Path, comment: &str) -> Result<RunKey, KeyError> {
        let private = dir.join("id_ed25519");
        let _ = std::fs::remove_file(&private);
        let _ = std::fs::remove_file(private.with_extension("pub"));
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(&private)
            .output()
            .map_err(KeyError::Spawn)?;
        if !out.status.success() {
            return Err(KeyError::Failed(String::from_utf8_lossy(&out.stderr).trim().to_string()));
        }
        let pub_path = private.with_extension("pub");
        let text = std::fs::read_to_string(&pub_path).map_err(|e| KeyError::Read(pub_path, e))?;
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
    }
}
