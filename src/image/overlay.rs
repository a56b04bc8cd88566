//! Per-guest copy-on-write overlays: a guest writes to its own qcow2 file whose
//! backing file is the base image, so the base is never written and guests of
//! one image do not see each other's changes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    #[error("the disk image {} does not exist", .0.display())]
    Missing(PathBuf),
    #[error("cannot run qemu-img (install qemu-utils)")]
    Spawn(#[source] std::io::Error),
    #[error("`qemu-img info` cannot read the disk image {}: {stderr}", .base.display())]
    Info { base: PathBuf, stderr: String },
    #[error("the disk image {} is `{format}`; qcow2 or raw expected", .base.display())]
    Format { base: PathBuf, format: String },
    #[error("cannot create the overlay safely")]
    Unsafe(#[source] crate::fsutil::FsError),
    #[error("`qemu-img create` of the overlay {} failed: {stderr}", .overlay.display())]
    Create { overlay: PathBuf, stderr: String },
}

/// The formats a base image may have.
const FORMATS: &[&str] = &["qcow2", "raw"];

/// Where a guest's overlay lives: in the run's scratch directory, named after its domain.
pub fn overlay_path(run_dir: &Path, domain: &str) -> PathBuf {
    run_dir.join(format!("{domain}.overlay.qcow2"))
}

/// The `format` of `qemu-img info --output=json`.
fn parse_format(info_json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(info_json).ok()?;
    v.get("format")?.as_str().map(str::to_string)
}

/// The base image's format (`qcow2` or `raw`), read by `qemu-img info`; `-U`
/// so that a base in use by other guests can still be read.
pub async fn base_format(base: &Path) -> Result<String, OverlayError> {
    if !base.is_file() {
        return Err(OverlayError::Missing(base.to_path_buf()));
    }
    let out = tokio::process::Command::new("qemu-img")
        .args(["info", "-U", "--output=json"])
        .arg(base)
        .output()
        .await
        .map_err(OverlayError::Spawn)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let format = match parse_format(&stdout) {
        Some(f) if out.status.success() => f,
        _ => {
            return Err(OverlayError::Info {
                base: base.to_path_buf(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
    };
    if !FORMATS.contains(&format.as_str()) {
        return Err(OverlayError::Format { base: base.to_path_buf(), format });
    }
    Ok(format)
}

/// `qemu-img create -f qcow2 -F FORMAT -b BASE OVERLAY`.
pub fn create_args(base: &Path, format: &str, overlay: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> =
        ["create", "-q", "-f", "qcow2", "-F", format, "-b"].iter().map(OsString::from).collect();
    args.push(base.as_os_str().to_owned());
    args.push(overlay.as_os_str().to_owned());
    args
}

/// Creates `overlay` on top of `base` (an absolute path), replacing any old
/// file there. The file is made here first (0600, `O_EXCL`, never through a
/// symbolic link) and qemu-img then writes into it.
pub async fn create(base: &Path, overlay: &Path) -> Result<(), OverlayError> {
    let format = base_format(base).await?;
    let _ = std::fs::remove_file(overlay);
    crate::fsutil::create_new(overlay, 0o600).map_err(OverlayError::Unsafe)?;
    let out = tokio::process::Command::new("qemu-img")
        .args(create_args(base, &format, overlay))
        .output()
        .await
        .map_err(OverlayError::Spawn)?;
    if !out.status.success() {
        return Err(OverlayError::Create {
            overlay: overlay.to_path_buf(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Removes every file or directory in `run_dir` whose name starts with `prefix`
/// (a case's domains' overlays and seeds); returns what it could not remove.
pub fn remove_scratch(run_dir: &Path, prefix: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(run_dir) else { return Vec::new() };
    let mut problems = Vec::new();
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let p = e.path();
        let r = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        if let Err(err) = r {
            problems.push(format!("cannot remove {}: {err}", p.display()));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_name_the_backing_format() {
        let args = create_args(Path::new("/img/base.raw"), "raw", Path::new("/run/vs-r-0-a.overlay.qcow2"));
        let args: Vec<_> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(
            args,
            ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/img/base.raw", "/run/vs-r-0-a.overlay.qcow2"]
        );
        assert_eq!(overlay_path(Path::new("/r"), "vs-x-1-g"), Path::new("/r/vs-x-1-g.overlay.qcow2"));
    }

    #[test]
    fn reads_the_format_of_qemu_img_info() {
        assert_eq!(
            parse_format(r#"{ "virtual-size": 1, "filename": "x", "format": "qcow2" }"#).as_deref(),
            Some("qcow2")
        );
        assert_eq!(parse_format("not json"), None);
    }

    #[tokio::test]
    async fn an_overlay_leaves_its_base_alone() {
        if std::process::Command::new("qemu-img").arg("--version").output().is_err() {
            eprintln!("skipped: no qemu-img");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.raw");
        std::fs::write(&base, vec![7u8; 1 << 20]).unwrap();
        let overlay = overlay_path(dir.path(), "vs-r-0-g");
        create(&base, &overlay).await.unwrap();
        let info =
            std::process::Command::new("qemu-img").args(["info", "--output=json"]).arg(&overlay).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        assert_eq!(v["format"], "qcow2");
        assert_eq!(v["backing-filename"], base.display().to_string());
        assert_eq!(v["backing-filename-format"], "raw");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&overlay).unwrap().permissions().mode() & 0o7777, 0o600);

        let err = create(&dir.path().join("nope.qcow2"), &overlay).await.unwrap_err().to_string();
        assert!(err.contains("does not exist"), "{err}");

        std::fs::create_dir(dir.path().join("vs-r-0-g.seed.d")).unwrap();
        std::fs::write(dir.path().join("vs-r-1-g.overlay.qcow2"), b"").unwrap();
        assert!(remove_scratch(dir.path(), "vs-r-0-").is_empty());
        let mut left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, ["base.raw", "vs-r-1-g.overlay.qcow2"]);
    }
}
