//! Embeds the image recipes under `images/` so the binary can build them anywhere.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const COMMON: &str = "common";

/// The files (not directories) directly in `dir`.
fn files_of(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect()).unwrap_or_default()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("images");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut code = String::from("/// (image name, [(file name, contents)]) for every recipe under images/.\n");
    code.push_str("pub const RECIPES: &[Recipe] = &[\n");
    let mut images: Vec<_> = std::fs::read_dir(&root).map(|d| d.flatten().collect()).unwrap_or_default();
    images.sort_by_key(|e| e.file_name());
    // images/common holds files shared by recipes, not a recipe: a recipe
    // whose build.sh names `../common/` gets them beside its own (and in its
    // content hash), so it runs the same from the cache as from the tree.
    println!("cargo:rerun-if-changed={}", root.join(COMMON).display());
    let common = files_of(&root.join(COMMON));
    for image in images.iter().filter(|e| e.path().is_dir() && e.file_name() != COMMON) {
        println!("cargo:rerun-if-changed={}", image.path().display());
        let mut files = files_of(&image.path());
        let build_sh = std::fs::read_to_string(image.path().join("build.sh")).unwrap_or_default();
        if build_sh.contains(&format!("../{COMMON}/")) {
            files.extend(common.iter().cloned());
        }
        files.sort_by_key(|f| f.file_name().map(|n| n.to_owned()));
        let _ = writeln!(code, "    ({:?}, &[", image.file_name().to_string_lossy());
        for f in files {
            println!("cargo:rerun-if-changed={}", f.display());
            let name = f.file_name().unwrap().to_string_lossy();
            let _ = writeln!(code, "        ({name:?}, include_bytes!({f:?})),");
        }
        code.push_str("    ]),\n");
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("recipes.rs");
    std::fs::write(out, code).unwrap();
}
