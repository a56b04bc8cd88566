//! A developer's own packages in the dom0 (`lab up --debs DIR`): every
//! `*.deb` of the directories is installed in the dom0 image over its suite's
//! packages. They are the image's input files (`crate::image::inputs`), so
//! the image's cache key covers each one's name and contents.

use std::path::{Path, PathBuf};

use crate::image::inputs::InputFile;

/// The `.deb` files of `dirs`, in name order, hashed; checked before
/// anything is built: each directory exists and holds at least one `.deb`,
/// every name is plain (no two alike).
pub fn collect(dirs: &[PathBuf]) -> Result<Vec<InputFile>, String> {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        files.extend(debs_in(dir)?);
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    if let Some(w) = files.windows(2).find(|w| w[0].file_name() == w[1].file_name()) {
        return Err(format!("--debs: {} and {} have the same name", w[0].display(), w[1].display()));
    }
    files.iter().map(|p| InputFile::read(p).map_err(|e| format!("--debs: {}", crate::error_chain(&e)))).collect()
}

fn debs_in(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("--debs {}: not a readable directory: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("--debs {}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".deb") {
            continue;
        }
        if !plain_name(&name) {
            return Err(format!(
                "--debs {}: `{name}` is not a plain package file name (letters, digits, . _ + ~ -)",
                dir.display()
            ));
        }
        let path = entry.path();
        if !path.is_file() {
            return Err(format!("--debs {}: {name} is not a file", dir.display()));
        }
        out.push(path);
    }
    if out.is_empty() {
        return Err(format!("--debs {}: no .deb package in it", dir.display()));
    }
    Ok(out)
}

/// A Debian package file name as dpkg-deb and apt write them
/// (`libvirt-daemon-driver-xen_9.0.0-4+deb12u2_amd64.deb`): nothing a shell,
/// a path or an option could read otherwise.
fn plain_name(name: &str) -> bool {
    let first = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    first && name.chars().all(|c| c.is_ascii_alphanumeric() || "._+~-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_only() {
        assert!(plain_name("libvirt-daemon-driver-xen_9.0.0-4+deb12u2+virtsmoke1_amd64.deb"));
        assert!(plain_name("xen-utils-common_4.17.5~rc1_all.deb"));
        for bad in ["-x.deb", ".x.deb", "a b.deb", "a;b.deb", "a$(x).deb", "a%3a1.deb", "é.deb"] {
            assert!(!plain_name(bad), "{bad}");
        }
    }

    #[test]
    fn directories_are_checked_before_anything_is_built() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("nope");
        let e = collect(std::slice::from_ref(&missing)).unwrap_err();
        assert!(e.starts_with(&format!("--debs {}: not a readable directory", missing.display())), "{e}");
        std::fs::write(d.path().join("notes.txt"), "x").unwrap();
        let e = collect(&[d.path().to_path_buf()]).unwrap_err();
        assert_eq!(e, format!("--debs {}: no .deb package in it", d.path().display()));
        std::fs::write(d.path().join("a b.deb"), "x").unwrap();
        let e = collect(&[d.path().to_path_buf()]).unwrap_err();
        assert!(e.contains("`a b.deb` is not a plain package file name"), "{e}");
        std::fs::remove_file(d.path().join("a b.deb")).unwrap();
        std::fs::create_dir(d.path().join("dir.deb")).unwrap();
        assert!(collect(&[d.path().to_path_buf()]).unwrap_err().contains("dir.deb is not a file"));
    }

    #[test]
    fn every_deb_is_hashed_in_name_order_and_names_are_unique() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(a.path().join("z_1_all.deb"), "z").unwrap();
        std::fs::write(a.path().join("README"), "not a package").unwrap();
        std::fs::write(b.path().join("a_1_all.deb"), "a").unwrap();
        let dirs = [a.path().to_path_buf(), b.path().to_path_buf()];
        let files = collect(&dirs).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a_1_all.deb", "z_1_all.deb"]);
        assert_eq!(files[0].sha256.len(), 64);
        // A rebuilt package is another hash, hence another image.
        std::fs::write(b.path().join("a_1_all.deb"), "a2").unwrap();
        assert_ne!(collect(&dirs).unwrap()[0].sha256, files[0].sha256);
        std::fs::write(b.path().join("z_1_all.deb"), "z").unwrap();
        let e = collect(&dirs).unwrap_err();
        assert!(e.contains("have the same name"), "{e}");
    }
}
