//! What identifies the image a guest booted, recorded in the case's
//! properties (`GUEST.image`, `GUEST.image_recipe_hash`, `GUEST.kernel_sha256`,
//! `GUEST.initrd_sha256`), so that `virtsmoke reproduce` can refuse a different
//! image and `virtsmoke history` can tell a changed image from a flaky case.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::plan::{Image, ImageSpec};

/// The property names (after `GUEST.`) that identify an image.
pub const PROPERTIES: [&str; 4] = ["image", "image_recipe_hash", "kernel_sha256", "initrd_sha256"];

/// Whether a case property (`GUEST.NAME`) identifies a guest's image.
pub fn is_image_fact(property: &str) -> bool {
    property.split_once('.').is_some_and(|(_, name)| PROPERTIES.contains(&name))
}

/// The identity of `image`: a builtin image by its recipe's hash, an image of
/// files by the sha256 of its kernel and initramfs when `files_here` (they are
/// on this machine). A disk is not hashed (too large to read for every case).
pub fn of(image: &Image, files_here: bool) -> Result<Vec<(&'static str, String)>, String> {
    match &image.spec {
        ImageSpec::Builtin { name } => {
            let hash = super::recipe_hash(name).map_err(|e| e.to_string())?;
            Ok(vec![("image", name.clone()), ("image_recipe_hash", hash)])
        }
        ImageSpec::Files { kernel, initrd, .. } => {
            let mut out = vec![("image", image.name.clone())];
            if !files_here {
                return Ok(out);
            }
            for (what, path) in [("kernel_sha256", kernel), ("initrd_sha256", initrd)] {
                if let Some(p) = path {
                    let sha = sha256_file(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                    out.push((what, sha));
                }
            }
            Ok(out)
        }
    }
}

/// The sha256 of a file, in lowercase hex (as `sha256sum` prints it).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_sha256sum() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"abc").unwrap();
        assert_eq!(sha256_file(&f).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn image_facts_are_the_guest_scoped_identity_properties() {
        for p in ["tiny.image", "tiny.image_recipe_hash", "g1.kernel_sha256", "g1.initrd_sha256"] {
            assert!(is_image_fact(p), "{p}");
        }
        for p in ["image", "tiny.host_key_sha256", "tiny.address", "boot_ms"] {
            assert!(!is_image_fact(p), "{p}");
        }
    }
}
