//! Files a recipe's build reads besides the recipe itself (the local packages
//! of `lab up --debs`): each one's name and sha256 are part of the image's
//! cache key, and the build reads copies made and checked against that hash.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Why input files could not be read or staged.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read or copy {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create a copy of an input file safely")]
    Unsafe(#[source] crate::fsutil::FsError),
    #[error("{} changed while the image was being prepared: run again", .path.display())]
    Changed { path: PathBuf },
}

/// An I/O error about `path`, for `map_err`.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InputError {
    let path = path.to_path_buf();
    move |source| InputError::Io { path, source }
}

/// The environment variable that names the directory of a build's input files.
pub const FILES_ENV: &str = "VIRTSMOKE_IMAGE_FILES";

/// One input file: its name (what the build sees), where it is, and the
/// sha256 of its contents when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub name: String,
    pub path: PathBuf,
    pub sha256: String,
}

impl InputFile {
    /// The file at `path`, hashed now; its name is its file name.
    pub fn read(path: &Path) -> Result<InputFile, InputError> {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let sha256 = copy_hashing(path, None)?;
        Ok(InputFile { name, path: path.to_path_buf(), sha256 })
    }
}

/// Reads `from` (copying it to `to`, if given) and returns its sha256.
fn copy_hashing(from: &Path, mut to: Option<(&Path, File)>) -> Result<String, InputError> {
    let mut src = File::open(from).map_err(io(from))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = src.read(&mut buf).map_err(io(from))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        if let Some((path, out)) = to.as_mut() {
            out.write_all(&buf[..n]).map_err(io(path))?;
        }
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A fresh directory holding a copy of each file, each checked against the
/// hash it was read with (a file changed since is an error, not a build of
/// something else than the cache key says). None when there are no files.
pub fn stage(image: &str, files: &[InputFile]) -> Result<Option<tempfile::TempDir>, InputError> {
    if files.is_empty() {
        return Ok(None);
    }
    let dir = tempfile::Builder::new()
        .prefix(&format!("virtsmoke-files-{image}-"))
        .tempdir()
        .map_err(io(&std::env::temp_dir()))?;
    // Read by apt's unprivileged user in a chroot, among others.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).map_err(io(dir.path()))?;
    for f in files {
        let to = dir.path().join(&f.name);
        let out = crate::fsutil::create_new(&to, 0o644).map_err(InputError::Unsafe)?;
        if copy_hashing(&f.path, Some((&to, out)))? != f.sha256 {
            return Err(InputError::Changed { path: f.path.clone() });
        }
    }
    Ok(Some(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_hashed_and_staged_as_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a_1.0_amd64.deb");
        std::fs::write(&p, b"abc").unwrap();
        let f = InputFile::read(&p).unwrap();
        assert_eq!(f.name, "a_1.0_amd64.deb");
        assert_eq!(f.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let staged = stage("x", std::slice::from_ref(&f)).unwrap().unwrap();
        assert_eq!(std::fs::read(staged.path().join("a_1.0_amd64.deb")).unwrap(), b"abc");
        assert!(stage("x", &[]).unwrap().is_none());
        std::fs::write(&p, b"abd").unwrap();
        let err = stage("x", &[f]).unwrap_err();
        assert!(matches!(err, InputError::Changed { .. }), "{err:?}");
        assert!(err.to_string().contains("a_1.0_amd64.deb"), "{err}");
    }
}
