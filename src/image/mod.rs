//! Guest images whose recipes ship with virtsmoke, built on first use and cached
//! by a hash of their recipe.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

pub mod identity;
pub mod inputs;
pub mod overlay;
pub mod seed;
pub mod xen_notes;

/// One recipe: its name and its files (name, contents).
pub type Recipe = (&'static str, &'static [(&'static str, &'static [u8])]);
include!(concat!(env!("OUT_DIR"), "/recipes.rs"));

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("no image recipe named `{name}` (known: {known})")]
    Unknown { name: String, known: String },
    #[error("cannot prepare {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open a file of the image cache safely")]
    Unsafe(#[source] crate::fsutil::FsError),
    #[error(transparent)]
    Input(#[from] inputs::InputError),
    #[error("building image `{name}` failed (log: {}):\n{tail}", .log.display())]
    Build { name: String, log: PathBuf, tail: String },
}

/// A built image: direct kernel boot files, and for a full distribution its disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BuiltImage {
    pub name: String,
    pub hash: String,
    pub dir: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub manifest: PathBuf,
    /// `disk.qcow2`, when the recipe makes one: the base of every guest's
    /// overlay, never written.
    pub disk: Option<PathBuf>,
    /// The recipe's `cmdline` file: kernel parameters its disk needs (`root=...`).
    pub cmdline: Option<String>,
}

/// Where built images live: `$VIRTSMOKE_CACHE` or `/var/cache/virtsmoke`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("VIRTSMOKE_CACHE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/cache/virtsmoke"))
}

pub fn names() -> Vec<&'static str> {
    RECIPES.iter().map(|(n, _)| *n).collect()
}

fn recipe(name: &str) -> Result<&'static [(&'static str, &'static [u8])], ImageError> {
    RECIPES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, files)| *files)
        .ok_or_else(|| ImageError::Unknown { name: name.to_string(), known: names().join(", ") })
}

/// The content hash of a recipe: file names and contents, in name order.
pub fn recipe_hash(name: &str) -> Result<String, ImageError> {
    variant_hash(name, &Variant::default())
}

/// What a recipe's build.sh reads besides its own files: knobs from its
/// environment (`NAME`, `VALUE`), such as `VIRTSMOKE_DOM0_SUITE=trixie` for
/// `xen-dom0`, and input files (local packages), copied into a directory
/// named by `VIRTSMOKE_IMAGE_FILES`. Each variant is a build of its own,
/// cached under its own hash, which covers the files' names and contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variant {
    pub env: Vec<(String, String)>,
    pub files: Vec<inputs::InputFile>,
}

/// The content hash of a recipe built with `variant` (the recipe's hash when
/// there is none).
pub fn variant_hash(name: &str, variant: &Variant) -> Result<String, ImageError> {
    let mut h = Sha256::new();
    for (file, bytes) in recipe(name)? {
        h.update(file.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    for (k, v) in &variant.env {
        h.update(format!("\0env {k}={v}").as_bytes());
    }
    for f in &variant.files {
        h.update(format!("\0file {} {}", f.name, f.sha256).as_bytes());
    }
    let digest = h.finalize();
    Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
}

/// Output files a recipe may write besides the kernel, initramfs and manifest.
pub const DISK_FILE: &str = "disk.qcow2";
pub const CMDLINE_FILE: &str = "cmdline";

fn built(name: &str, hash: &str, dir: PathBuf) -> BuiltImage {
    let disk = dir.join(DISK_FILE);
    let cmdline = std::fs::read_to_string(dir.join(CMDLINE_FILE))
        .ok()
        .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|c| !c.is_empty());
    BuiltImage {
        name: name.to_string(),
        hash: hash.to_string(),
        kernel: dir.join("vmlinuz"),
        initrd: dir.join("initrd.img"),
        manifest: dir.join("manifest.json"),
        disk: disk.is_file().then_some(disk),
        cmdline,
        dir,
    }
}

/// The image if it is already built for the current recipe.
pub fn cached(name: &str) -> Result<Option<BuiltImage>, ImageError> {
    cached_variant(name, &Variant::default())
}

/// The image if it is already built for the current recipe and `variant`.
pub fn cached_variant(name: &str, variant: &Variant) -> Result<Option<BuiltImage>, ImageError> {
    let hash = variant_hash(name, variant)?;
    let img = built(name, &hash, cache_dir().join("images").join(format!("{name}-{hash}")));
    Ok([&img.kernel, &img.initrd, &img.manifest].iter().all(|p| p.is_file()).then_some(img))
}

/// Builds the image unless the cache has it. Safe to call from several processes at once.
pub fn ensure(name: &str, force: bool) -> Result<BuiltImage, ImageError> {
    ensure_variant(name, &Variant::default(), force)
}

/// An I/O error about `path`, for `map_err`.
fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ImageError {
    let path = path.to_path_buf();
    move |source| ImageError::Io { path, source }
}

/// Builds the image of `variant` unless the cache has it (see [`Variant`]).
pub fn ensure_variant(name: &str, variant: &Variant, force: bool) -> Result<BuiltImage, ImageError> {
    if !force && let Some(img) = cached_variant(name, variant)? {
        return Ok(img);
    }
    let hash = variant_hash(name, variant)?;
    let images = cache_dir().join("images");
    let io = io_error;
    std::fs::create_dir_all(&images).map_err(io(&images))?;
    let lock_path = images.join(format!("{name}.lock"));
    // Shared by every virtsmoke that builds this image: opened, never followed through a link.
    let lock = crate::fsutil::open_shared(&lock_path, 0o600).map_err(ImageError::Unsafe)?;
    // Another virtsmoke may be building the same image: wait for it, then reuse its result.
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| ImageError::Io { path: lock_path.clone(), source: e.into() })?;
    if !force && let Some(img) = cached_variant(name, variant)? {
        return Ok(img);
    }
    let dir = images.join(format!("{name}-{hash}"));
    let recipe_dir = tempfile::Builder::new()
        .prefix(&format!("virtsmoke-recipe-{name}-"))
        .tempdir()
        .map_err(io(&std::env::temp_dir()))?;
    for (file, bytes) in recipe(name)? {
        let p = recipe_dir.path().join(file);
        std::fs::write(&p, bytes).map_err(io(&p))?;
    }
    let staged = inputs::stage(name, &variant.files)?;
    let log = images.join(format!("{name}-{hash}.build.log"));
    let _ = std::fs::remove_file(&log);
    let log_file = crate::fsutil::create_new(&log, 0o644).map_err(ImageError::Unsafe)?;
    let log_err = log_file.as_fd().try_clone_to_owned().map_err(io(&log))?;
    let status = Command::new("bash")
        .arg(recipe_dir.path().join("build.sh"))
        .arg(&dir)
        .envs(variant.env.iter().map(|(k, v)| (k, v)))
        .envs(staged.iter().map(|d| (inputs::FILES_ENV, d.path())))
        .current_dir(recipe_dir.path())
        .stdout(log_file)
        .stderr(File::from(log_err))
        .status()
        .map_err(io(Path::new("bash")))?;
    let img = built(name, &hash, dir);
    if !status.success() || !img.kernel.is_file() || !img.initrd.is_file() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail = text.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        return Err(ImageError::Build { name: name.to_string(), log, tail });
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_image_recipe_is_embedded_and_hashed_stably() {
        assert!(names().contains(&"test-image"));
        let a = recipe_hash("test-image").unwrap();
        assert_eq!(a, recipe_hash("test-image").unwrap());
        assert_eq!(a.len(), 16);
        assert!(recipe("test-image").unwrap().iter().any(|(f, _)| *f == "build.sh"));
    }

    #[test]
    fn unknown_recipe_names_the_known_ones() {
        let err = recipe_hash("nope").unwrap_err().to_string();
        assert!(err.contains("no image recipe named `nope`") && err.contains("test-image"), "{err}");
    }

    #[test]
    fn each_variant_is_a_build_of_its_own() {
        let var =
            |suite: &str| Variant { env: vec![("VIRTSMOKE_DOM0_SUITE".to_string(), suite.to_string())], files: vec![] };
        let plain = recipe_hash("xen-dom0").unwrap();
        assert_eq!(variant_hash("xen-dom0", &Variant::default()).unwrap(), plain);
        let trixie = variant_hash("xen-dom0", &var("trixie")).unwrap();
        assert_eq!(trixie, variant_hash("xen-dom0", &var("trixie")).unwrap());
        assert_ne!(trixie, plain);
        assert_ne!(trixie, variant_hash("xen-dom0", &var("bookworm")).unwrap());
    }

    #[test]
    fn input_files_are_in_the_hash_by_name_and_contents() {
        let file =
            |name: &str, sha: &str| inputs::InputFile { name: name.into(), path: "/x".into(), sha256: sha.into() };
        let with = |files: Vec<inputs::InputFile>| Variant { env: vec![], files };
        let plain = recipe_hash("xen-dom0").unwrap();
        let one = variant_hash("xen-dom0", &with(vec![file("a.deb", "11")])).unwrap();
        assert_ne!(one, plain);
        assert_eq!(one, variant_hash("xen-dom0", &with(vec![file("a.deb", "11")])).unwrap());
        // Where the file is does not matter; its name and contents do.
        let mut moved = file("a.deb", "11");
        moved.path = "/elsewhere/a.deb".into();
        assert_eq!(one, variant_hash("xen-dom0", &with(vec![moved])).unwrap());
        assert_ne!(one, variant_hash("xen-dom0", &with(vec![file("a.deb", "12")])).unwrap());
        assert_ne!(one, variant_hash("xen-dom0", &with(vec![file("b.deb", "11")])).unwrap());
    }
}
