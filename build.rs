//! Embeds the image recipes under `images/` so the binary can build them anywhere.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("images");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut code = String::from("/// (image name, [(file name, contents)]) for every recipe under images/.\n");
    code.push_str("pub const RECIPES: &[(&str, &[(&str, &[u8])])] = &[\n");
    let mut images: Vec<_> = std::fs::read_dir(&root).map(|d| d.flatten().collect()).unwrap_or_default();
    images.sort_by_key(|e| e.file_name());
    for image in images.iter().filter(|e| e.path().is_dir()) {
        println!("cargo:rerun-if-changed={}", image.path().display());
        let mut files: Vec<_> = std::fs::read_dir(image.path()).unwrap().flatten().filter(|f| f.path().is_file()).collect();
        files.sort_by_key(|f| f.file_name());
        let _ = writeln!(code, "    ({:?}, &[", image.file_name().to_string_lossy());
        for f in files {
            println!("cargo:rerun-if-changed={}", f.path().display());
            let _ = writeln!(code, "        ({:?}, include_bytes!({:?})),", f.file_name().to_string_lossy(), f.path());
        }
        code.push_str("    ]),\n");
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("recipes.rs");
    std::fs::write(out, code).unwrap();
}
