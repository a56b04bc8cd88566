//! `images:` entries.

use std::path::PathBuf;

use crate::plan::{Image, ImageSpec};

use super::ctx::{Cx, Fields};
use super::suggest;
use super::yaml::Node;

pub(crate) const KEYS: &[&str] = &["builtin", "cmdline", "kernel", "initrd", "disk"];

/// Images whose recipe ships with virtsmoke.
pub(crate) const BUILTIN_IMAGES: &[&str] = &["test-image"];

/// Reads one image; `None` if anything in it is wrong (all of it reported).
pub(crate) fn image(cx: &mut Cx<'_>, name: &str, key: &Node, value: &Node) -> Option<Image> {
    let before = cx.diags.len();
    cx.name(key, name, "image name");
    let f = cx.fields(key, value, format!("image `{name}`"), KEYS)?;

    let cmdline = match f.get("cmdline") {
        None => Some(None),
        Some(n) => cx.string(n, &f.desc("cmdline")).map(Some),
    };
    let builtin = f.get("builtin").and_then(|n| {
        let b = cx.text(n, &f.desc("builtin"))?;
        if BUILTIN_IMAGES.contains(&b.as_str()) {
            return Some(b);
        }
        let help = suggest::help_for(&b, BUILTIN_IMAGES, "builtin images are");
        cx.error(
            n,
            format!("unknown builtin image `{b}` in image `{name}`"),
            help,
        );
        None
    });
    let kernel = path(cx, &f, "kernel");
    let initrd = path(cx, &f, "initrd");
    let disk = path(cx, &f, "disk");

    let spec = if f.get("builtin").is_some() {
        for other in ["kernel", "initrd", "disk"] {
            if let Some(k) = f.key_node(other) {
                cx.error(
                    k,
                    format!("image `{name}` sets both `builtin` and `{other}`"),
                    Some("an image is either `builtin`, or files given with `kernel`/`initrd`/`disk`".into()),
                );
            }
        }
        builtin.map(|name| ImageSpec::Builtin { name })
    } else {
        if f.get("kernel").is_none() && f.get("disk").is_none() {
            let message =
                format!("image `{name}` has no source: set `builtin`, or `kernel` and/or `disk`");
            cx.error(
                f.owner,
                message,
                Some(format!(
                    "builtin images are: {}",
                    suggest::list(BUILTIN_IMAGES.iter().copied())
                )),
            );
        }
        if let (Some(k), None) = (f.key_node("initrd"), f.get("kernel")) {
            cx.error(
                k,
                format!("`initrd` in image `{name}` needs `kernel`"),
                None,
            );
        }
        Some(ImageSpec::Files {
            kernel: kernel?,
            initrd: initrd?,
            disk: disk?,
        })
    };

    if cx.diags.len() > before {
        return None;
    }
    Some(Image {
        name: name.to_owned(),
        spec: spec?,
        cmdline: cmdline?,
    })
}

/// An optional absolute path; `None` if invalid, `Some(None)` if absent.
fn path(cx: &mut Cx<'_>, f: &Fields<'_>, key: &str) -> Option<Option<PathBuf>> {
    let Some(n) = f.get(key) else {
        return Some(None);
    };
    let s = cx.text(n, &f.desc(key))?;
    let p = PathBuf::from(&s);
    if !p.is_absolute() {
        cx.error(
            n,
            format!("{} must be an absolute path, found `{s}`", f.desc(key)),
            Some("paths are read on the libvirt host, so relative paths are ambiguous".into()),
        );
        return None;
    }
    Some(Some(p))
}
