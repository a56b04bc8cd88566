//! Creating files and directories safely where others may write: virtsmoke runs
//! as root and keeps run directories under `/var/tmp` and lock files under
//! `/var/lock`, both writable by everyone on Debian. A name there that someone
//! else created first (a symbolic link to `/etc/shadow`, a directory they own)
//! is refused instead of followed.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The bits that let group or others write.
const GROUP_OTHER_WRITE: u32 = 0o022;
const STICKY: u32 = 0o1000;

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("cannot create {}", .path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open {}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot inspect {}", .path.display())]
    Inspect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is a symbolic link, not the real directory virtsmoke expects: remove it", .0.display())]
    Symlink(PathBuf),
    #[error("{} is not a directory", .0.display())]
    NotDirectory(PathBuf),
    #[error("{} is not a regular file", .0.display())]
    NotFile(PathBuf),
    #[error("{} belongs to uid {owner}, not to uid {euid} that runs virtsmoke: someone else made it; remove it", .path.display())]
    Owner { path: PathBuf, owner: u32, euid: u32 },
    #[error("{} can be written by group or others (mode {mode:04o}); it must be 0700 or stricter", .path.display())]
    Writable { path: PathBuf, mode: u32 },
}

fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Makes `path` a directory only the current user can use: missing components
/// are created with mode 0700. The directory itself must then be a real
/// directory (not a symbolic link), owned by the effective uid and not
/// writable by group or others. Each existing ancestor must belong to root or
/// to the effective uid and, if others may write it, carry the sticky bit
/// (as `/tmp` and `/var/tmp` do), so nobody else can swap a component.
pub fn secure_dir(path: &Path) -> Result<(), FsError> {
    let path = absolute(path)?;
    let ancestors: Vec<&Path> = path.ancestors().collect();
    for dir in ancestors.iter().rev() {
        match std::fs::symlink_metadata(dir) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::DirBuilder::new().mode(0o700).create(dir) {
                    Ok(()) => {}
                    // Made by another process meanwhile: checked below like any other.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(source) => return Err(FsError::Create { path: dir.to_path_buf(), source }),
                }
            }
            Err(source) => return Err(FsError::Inspect { path: dir.to_path_buf(), source }),
        }
        if *dir != path.as_path() {
            check_ancestor(dir)?;
        }
    }
    check_private_dir(&path)
}

fn absolute(path: &Path) -> Result<PathBuf, FsError> {
    std::path::absolute(path).map_err(|source| FsError::Inspect { path: path.to_path_buf(), source })
}

fn inspect(path: &Path, follow: bool) -> Result<std::fs::Metadata, FsError> {
    let md = if follow { std::fs::metadata(path) } else { std::fs::symlink_metadata(path) };
    md.map_err(|source| FsError::Inspect { path: path.to_path_buf(), source })
}

/// Whether `path` is a directory virtsmoke may write into: a real directory
/// (not a symbolic link), owned by the effective uid, not writable by group or
/// others. Its ancestors are not looked at (see [`secure_dir`]).
pub fn check_private_dir(path: &Path) -> Result<(), FsError> {
    let md = inspect(path, false)?;
    if md.file_type().is_symlink() {
        return Err(FsError::Symlink(path.to_path_buf()));
    }
    if !md.is_dir() {
        return Err(FsError::NotDirectory(path.to_path_buf()));
    }
    if md.uid() != euid() {
        return Err(FsError::Owner { path: path.to_path_buf(), owner: md.uid(), euid: euid() });
    }
    let mode = md.mode() & 0o7777;
    if mode & GROUP_OTHER_WRITE != 0 {
        return Err(FsError::Writable { path: path.to_path_buf(), mode });
    }
    Ok(())
}

/// A directory on the way: a symbolic link owned by root or us (Debian's
/// `/var/lock -> /run/lock`) is followed; what it leads to must be a directory
/// owned by root or us, writable by others only with the sticky bit.
fn check_ancestor(path: &Path) -> Result<(), FsError> {
    let trusted = |uid: u32| uid == 0 || uid == euid();
    let link = inspect(path, false)?;
    if link.file_type().is_symlink() && !trusted(link.uid()) {
        return Err(FsError::Owner { path: path.to_path_buf(), owner: link.uid(), euid: euid() });
    }
    let md = inspect(path, true)?;
    if !md.is_dir() {
        return Err(FsError::NotDirectory(path.to_path_buf()));
    }
    if !trusted(md.uid()) {
        return Err(FsError::Owner { path: path.to_path_buf(), owner: md.uid(), euid: euid() });
    }
    let mode = md.mode() & 0o7777;
    if mode & GROUP_OTHER_WRITE != 0 && mode & STICKY == 0 {
        return Err(FsError::Writable { path: path.to_path_buf(), mode });
    }
    Ok(())
}

/// Creates the file `path` that must not exist yet (`O_CREAT|O_EXCL|O_NOFOLLOW`:
/// a symbolic link planted there is refused, never followed), with exactly `mode`.
pub fn create_new(path: &Path, mode: u32) -> Result<File, FsError> {
    let err = |source| FsError::Create { path: path.to_path_buf(), source };
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(err)?;
    // The umask may have taken bits away: the mode is what the caller said.
    file.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(err)?;
    Ok(file)
}

/// Opens the existing regular file `path` for reading without following a
/// symbolic link in its last component.
pub fn open_nofollow(path: &Path) -> Result<File, FsError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| FsError::Open { path: path.to_path_buf(), source })?;
    regular(file, path)
}

/// Opens `path` for reading and writing, creating it with `mode` if missing,
/// without following a symbolic link in its last component: for lock files
/// that several processes share (so not `O_EXCL`). It must be a regular file
/// owned by the effective uid.
pub fn open_shared(path: &Path, mode: u32) -> Result<File, FsError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(mode)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| FsError::Open { path: path.to_path_buf(), source })?;
    let file = regular(file, path)?;
    let owner = file.metadata().map_err(|source| FsError::Inspect { path: path.to_path_buf(), source })?.uid();
    if owner != euid() {
        return Err(FsError::Owner { path: path.to_path_buf(), owner, euid: euid() });
    }
    Ok(file)
}

fn regular(file: File, path: &Path) -> Result<File, FsError> {
    let md = file.metadata().map_err(|source| FsError::Inspect { path: path.to_path_buf(), source })?;
    if !md.is_file() {
        return Err(FsError::NotFile(path.to_path_buf()));
    }
    Ok(file)
}

/// Writes `contents` to the new file `path` (see [`create_new`]).
pub fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), FsError> {
    use std::io::Write;
    create_new(path, mode)?.write_all(contents).map_err(|source| FsError::Create { path: path.to_path_buf(), source })
}

/// A directory `name` in `parent` that anyone may write (mode 0777), for tests.
#[cfg(test)]
pub(crate) fn world_writable_dir(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir(&dir).expect("create a test directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod a test directory");
    dir
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A file `target` holding `x` and a link `name` to it, in `dir`.
    fn planted_link(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let target = dir.join("target");
        std::fs::write(&target, b"x").unwrap();
        let link = dir.join(name);
        symlink(&target, &link).unwrap();
        (target, link)
    }

    fn mode_of(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn secure_dir_creates_private_directories_with_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("virtsmoke/runs/r1");
        secure_dir(&dir).unwrap();
        for d in [tmp.path().join("virtsmoke"), tmp.path().join("virtsmoke/runs"), dir.clone()] {
            assert_eq!(mode_of(&d), 0o700, "{}", d.display());
        }
        // Again: it exists and is fine.
        secure_dir(&dir).unwrap();
    }

    #[test]
    fn a_symlink_at_the_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = tmp.path().join("runs");
        symlink(&real, &link).unwrap();
        assert!(matches!(secure_dir(&link), Err(FsError::Symlink(p)) if p == link));
        // A dangling link too: nothing is created through it.
        let dangling = tmp.path().join("lock");
        symlink(tmp.path().join("elsewhere"), &dangling).unwrap();
        assert!(matches!(secure_dir(&dangling), Err(FsError::Symlink(_))));
        assert!(!tmp.path().join("elsewhere").exists());
    }

    #[test]
    fn an_open_directory_is_refused_and_so_is_what_is_below_it() {
        let tmp = tempfile::tempdir().unwrap();
        let open = world_writable_dir(tmp.path(), "open");
        let err = secure_dir(&open).unwrap_err();
        assert!(matches!(err, FsError::Writable { mode: 0o777, .. }), "{err}");
        assert!(err.to_string().contains("mode 0777"), "{err}");
        let err = secure_dir(&open.join("runs")).unwrap_err();
        assert!(matches!(err, FsError::Writable { ref path, .. } if *path == open), "{err}");
        // With the sticky bit (as /tmp) it may be on the way, but is never the directory itself.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        secure_dir(&open.join("runs")).unwrap();
        assert!(matches!(secure_dir(&open), Err(FsError::Writable { .. })));
    }

    #[test]
    fn a_file_where_the_directory_should_be_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("f");
        std::fs::write(&f, b"").unwrap();
        assert!(matches!(secure_dir(&f), Err(FsError::NotDirectory(_))));
    }

    #[test]
    fn create_new_refuses_existing_files_and_symlinks_and_sets_the_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let (target, link) = planted_link(tmp.path(), "id_ed25519");
        let err = create_new(&link, 0o600).unwrap_err();
        assert!(
            matches!(err, FsError::Create { ref source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists)
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"x");
        let dangling = tmp.path().join("seed");
        symlink(tmp.path().join("nowhere"), &dangling).unwrap();
        create_new(&dangling, 0o600).unwrap_err();
        assert!(!tmp.path().join("nowhere").exists(), "nothing is created through a dangling link");
        create_new(&target, 0o600).unwrap_err();

        let key = tmp.path().join("key");
        write_new(&key, b"k", 0o600).unwrap();
        assert_eq!(mode_of(&key), 0o600);
        let public = tmp.path().join("key.pub");
        write_new(&public, b"p", 0o644).unwrap();
        assert_eq!(mode_of(&public), 0o644);
    }

    #[test]
    fn opening_does_not_follow_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let (target, link) = planted_link(tmp.path(), "slot-0.lock");
        assert!(matches!(open_nofollow(&link), Err(FsError::Open { .. })));
        assert!(matches!(open_shared(&link, 0o600), Err(FsError::Open { .. })));
        open_nofollow(&target).unwrap();
        let lock = tmp.path().join("slot-1.lock");
        open_shared(&lock, 0o600).unwrap();
        open_shared(&lock, 0o600).unwrap();
        assert_eq!(mode_of(&lock) & 0o077, 0);
        assert!(matches!(open_nofollow(tmp.path()), Err(FsError::NotFile(_))));
    }
}
