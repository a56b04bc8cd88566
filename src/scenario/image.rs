//! `images:` entries.

use std::path::PathBuf;

use crate::plan::{Boot, Image, ImageSpec, SeedKind};

use super::ctx::{Cx, Fields};
use super::suggest;
use super::yaml::{Node, Value};

pub(crate) const KEYS: &[&str] = &[
    "builtin",
    "cmdline",
    "kernel",
    "initrd",
    "disk",
    "seed",
    "user",
    "cloud_config",
    "marker",
    "allow_degraded",
    "cloud_init",
    "boot",
    "ssh_key",
    "copy",
];

/// Images whose recipe ships with virtsmoke.
pub(crate) const BUILTIN_IMAGES: &[&str] = &["test-image", "debian-disk"];

/// Builtin images whose recipe makes a disk (`disk.qcow2`): full distributions.
pub(crate) const BUILTIN_DISK_IMAGES: &[&str] = &["debian-disk"];

/// What the test image prints once its init runs.
pub(crate) const TEST_IMAGE_MARKER: &str = "VIRTSMOKE-MARKER boot";
/// A getty's prompt: a full distribution is up far enough to log in.
pub(crate) const DISK_MARKER: &str = "login:";
/// The kernel's banner: all a custom kernel is sure to print.
pub(crate) const KERNEL_MARKER: &str = "Linux version";

/// Reads one image; `None` if anything in it is wrong (all of it reported).
pub(crate) fn image(cx: &mut Cx<'_>, name: &str, key: &Node, value: &Node) -> Option<Image> {
    let before = cx.diags.len();
    cx.name(key, name, "image name");
    let f = cx.fields(key, value, format!("image `{name}`"), KEYS)?;

    let cmdline = match f.get("cmdline") {
        None => Some(None),
        Some(n) => cx.string(n, &f.desc("cmdline")).map(Some),
    };
    let spec = source(cx, &f, name);
    let from_disk = match &spec {
        Some(ImageSpec::Builtin { name }) => BUILTIN_DISK_IMAGES.contains(&name.as_str()),
        Some(ImageSpec::Files { disk, .. }) => disk.is_some(),
        None => false,
    };
    let seed = match f.get("seed") {
        None => Some(if from_disk { SeedKind::Nocloud } else { SeedKind::None }),
        Some(n) => {
            let names: Vec<&str> = SeedKind::ALL.iter().map(|k| k.as_str()).collect();
            cx.choice(n, &f.desc("seed"), &names).and_then(SeedKind::parse)
        }
    };
    let user = user(cx, &f);
    let marker = match f.get("marker") {
        None => Some(default_marker(spec.as_ref(), from_disk).to_string()),
        Some(n) => cx.text(n, &f.desc("marker")),
    };
    let cloud_config = cloud_config_with_seed(cx, &f, name, seed);
    let allow_degraded = allow_degraded(cx, &f, name, spec.as_ref(), from_disk);
    let cloud_init_allowed_failures = cloud_init(cx, &f, name, spec.is_some() && !from_disk, seed);
    let own_kernel = own_kernel(cx, &f, name, spec.as_ref());
    let boot = boot(cx, &f, name, spec.as_ref(), from_disk);
    let ssh_key = ssh_key(cx, &f, name, spec.as_ref());
    let copy = copy(cx, &f, name, spec.as_ref());

    if cx.diags.len() > before {
        return None;
    }
    Some(Image {
        name: name.to_owned(),
        spec: spec?,
        cmdline: cmdline?,
        from_disk,
        marker: marker?,
        seed: seed?,
        cloud_config: cloud_config?,
        user: user?,
        allow_degraded: allow_degraded?,
        cloud_init_allowed_failures: cloud_init_allowed_failures?,
        own_kernel: own_kernel?,
        boot: boot?,
        ssh_key: ssh_key?,
        copy: copy?,
    })
}

/// Where the image comes from: `builtin`, or files (`kernel`, `initrd`, `disk`).
fn source(cx: &mut Cx<'_>, f: &Fields<'_>, name: &str) -> Option<ImageSpec> {
    let builtin = f.get("builtin").and_then(|n| {
        let b = cx.text(n, &f.desc("builtin"))?;
        if BUILTIN_IMAGES.contains(&b.as_str()) {
            return Some(b);
        }
        let help = suggest::help_for(&b, BUILTIN_IMAGES, "builtin images are");
        cx.error(n, format!("unknown builtin image `{b}` in image `{name}`"), help);
        None
    });
    let kernel = path(cx, f, "kernel");
    let initrd = path(cx, f, "initrd");
    let disk = path(cx, f, "disk");
    if f.get("builtin").is_some() {
        // The test image boots a kernel of one's own with its initramfs.
        let test_image = builtin.as_deref() == Some("test-image");
        for other in ["kernel", "initrd", "disk"] {
            if other == "kernel" && test_image {
                continue;
            }
            if let Some(k) = f.key_node(other) {
                let help = if test_image {
                    "`builtin: test-image` takes a `kernel` of your own (booted with the test image's initramfs), not `initrd` or `disk`"
                } else {
                    "an image is either `builtin`, or files given with `kernel`/`initrd`/`disk`"
                };
                cx.error(k, format!("image `{name}` sets both `builtin` and `{other}`"), Some(help.into()));
            }
        }
        return builtin.map(|name| ImageSpec::Builtin { name });
    }
    if f.get("kernel").is_none() && f.get("disk").is_none() {
        let message = format!("image `{name}` has no source: set `builtin`, or `kernel` and/or `disk`");
        cx.error(
            f.owner,
            message,
            Some(format!("builtin images are: {}", suggest::list(BUILTIN_IMAGES.iter().copied()))),
        );
    }
    if let (Some(k), None) = (f.key_node("initrd"), f.get("kernel")) {
        cx.error(
            k,
            format!("`initrd` in image `{name}` needs `kernel`"),
            Some("add the `kernel` this initramfs belongs to, or remove `initrd`".into()),
        );
    }
    Some(ImageSpec::Files { kernel: kernel?, initrd: initrd?, disk: disk? })
}

/// `user:`, the SSH login, `root` by default.
fn user(cx: &mut Cx<'_>, f: &Fields<'_>) -> Option<String> {
    let Some(n) = f.get("user") else {
        return Some("root".to_string());
    };
    let u = cx.text(n, &f.desc("user"))?;
    if is_user_name(&u) {
        return Some(u);
    }
    cx.error(
        n,
        format!("invalid user name `{u}` for {}", f.desc("user")),
        Some("a user name is lowercase letters, digits, `_` and `-`, starting with a letter or `_`".into()),
    );
    None
}

/// What the console shows once the image has booted, unless `marker:` says.
fn default_marker(spec: Option<&ImageSpec>, from_disk: bool) -> &'static str {
    match spec {
        Some(ImageSpec::Builtin { name }) if name == "test-image" => TEST_IMAGE_MARKER,
        _ if from_disk => DISK_MARKER,
        _ => KERNEL_MARKER,
    }
}

/// `cloud_config:`, which reaches the guest only through a seed.
fn cloud_config_with_seed(
    cx: &mut Cx<'_>,
    f: &Fields<'_>,
    name: &str,
    seed: Option<SeedKind>,
) -> Option<Option<String>> {
    let cloud_config = match f.get("cloud_config") {
        None => Some(None),
        Some(n) => cloud_config(cx, n, &f.desc("cloud_config")).map(Some),
    };
    if let (Some(k), Some(SeedKind::None)) = (f.key_node("cloud_config"), seed) {
        cx.error(
            k,
            format!("`cloud_config` in image `{name}` needs a seed, but the image has `seed: none`"),
            Some(
                "cloud-config reaches the guest through a NoCloud seed: set `seed: nocloud`, or remove `cloud_config`"
                    .into(),
            ),
        );
    }
    cloud_config
}

/// `allow_degraded:`, which only disk images use.
fn allow_degraded(
    cx: &mut Cx<'_>,
    f: &Fields<'_>,
    name: &str,
    spec: Option<&ImageSpec>,
    from_disk: bool,
) -> Option<bool> {
    let allow = match f.get("allow_degraded") {
        None => Some(false),
        Some(n) => match n.value {
            Value::Bool(b) => Some(b),
            _ => {
                cx.wrong_type(n, &f.desc("allow_degraded"), "`true` or `false`");
                None
            }
        },
    };
    if let (Some(k), false, Some(_)) = (f.key_node("allow_degraded"), from_disk, spec) {
        cx.error(
            k,
            format!("`allow_degraded` in image `{name}` has no effect: only disk images run `boot.systemd`"),
            Some("remove it, or give the image a `disk`".into()),
        );
    }
    allow
}

/// Keys of `cloud_init:`.
pub(crate) const CLOUD_INIT_KEYS: &[&str] = &["allow_failed_modules"];

/// `cloud_init: { allow_failed_modules: [locale, ...] }`: cloud-init modules
/// the image's owner says may fail. Only images that run `boot.cloud-init`
/// (a disk and a seed) take it.
fn cloud_init(
    cx: &mut Cx<'_>,
    f: &Fields<'_>,
    name: &str,
    not_a_disk: bool,
    seed: Option<SeedKind>,
) -> Option<Vec<String>> {
    let (Some(key), Some(n)) = (f.key_node("cloud_init"), f.get("cloud_init")) else {
        return Some(Vec::new());
    };
    let what = format!("`cloud_init` in image `{name}`");
    let applies = !not_a_disk && seed != Some(SeedKind::None);
    if !applies {
        cx.error(
            key,
            format!("{what} has no effect: only disk images with a seed run `boot.cloud-init`"),
            Some("remove it, or give the image a `disk` and a seed".into()),
        );
    }
    let inner = cx.fields(key, n, what.clone(), CLOUD_INIT_KEYS)?;
    let modules = match inner.get("allow_failed_modules") {
        None => {
            cx.missing(
                &inner,
                "allow_failed_modules",
                Some("e.g. `cloud_init: { allow_failed_modules: [locale] }`".into()),
            );
            return None;
        }
        Some(list) => cx.string_list(list, &inner.desc("allow_failed_modules"))?,
    };
    let mut ok = applies;
    for (m, at) in &modules {
        if m.is_empty() || !m.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            cx.error(
                at,
                format!("invalid cloud-init module name `{m}` in {what}"),
                Some("a module as cloud-init names it in its logs, e.g. `locale`, `ntp`, `set_passwords`".into()),
            );
            ok = false;
        }
    }
    ok.then(|| modules.into_iter().map(|(m, _)| m).collect())
}

/// `kernel:` beside `builtin: test-image`: a kernel of one's own, on this
/// machine (checked here, so a wrong path stops the run before anything
/// boots). `path` in `source` has already said what is wrong with a value
/// that is not an absolute path.
fn own_kernel(cx: &mut Cx<'_>, f: &Fields<'_>, name: &str, spec: Option<&ImageSpec>) -> Option<Option<PathBuf>> {
    let (Some(ImageSpec::Builtin { name: builtin }), Some(n)) = (spec, f.get("kernel")) else {
        return Some(None);
    };
    if builtin != "test-image" {
        return None;
    }
    let path = PathBuf::from(n.as_str()?);
    if !path.is_absolute() {
        return None;
    }
    if !path.is_file() {
        cx.error(
            n,
            format!("{} `{}` is not a file on this machine", f.desc("kernel"), path.display()),
            Some(format!(
                "with `builtin: test-image` the kernel is read where virtsmoke runs and copied to remote hosts; \
                 image `{name}` boots it with the test image's initramfs"
            )),
        );
        return None;
    }
    Some(Some(path))
}

/// `copy: true`: the image's files are on this machine, and a remote host
/// gets checked copies. Checked here, so a wrong path stops the run before
/// anything boots.
fn copy(cx: &mut Cx<'_>, f: &Fields<'_>, name: &str, spec: Option<&ImageSpec>) -> Option<bool> {
    let Some(n) = f.get("copy") else {
        return Some(false);
    };
    let Value::Bool(copy) = n.value else {
        cx.wrong_type(n, &f.desc("copy"), "`true` or `false`");
        return None;
    };
    match spec {
        Some(ImageSpec::Builtin { .. }) => {
            cx.error(
                n,
                format!("`copy` in image `{name}` has no effect: a builtin image is built here and always copied to remote hosts"),
                Some("remove it".into()),
            );
            None
        }
        Some(ImageSpec::Files { kernel, initrd, disk }) if copy => {
            let mut ok = true;
            for (key, path) in [("kernel", kernel), ("initrd", initrd), ("disk", disk)] {
                if let (Some(p), Some(at)) = (path, f.get(key))
                    && !p.is_file()
                {
                    cx.error(
                        at,
                        format!("{} `{}` is not a file on this machine", f.desc(key), p.display()),
                        Some(
                            "with `copy: true` the image's files are read where virtsmoke runs and copied to the host"
                                .into(),
                        ),
                    );
                    ok = false;
                }
            }
            ok.then_some(copy)
        }
        _ => Some(copy),
    }
}

/// `ssh_key:` a private key on this machine, for images with a key of their
/// own. Checked here, so a wrong path stops the run before anything boots.
fn ssh_key(cx: &mut Cx<'_>, f: &Fields<'_>, name: &str, spec: Option<&ImageSpec>) -> Option<Option<PathBuf>> {
    let Some(n) = f.get("ssh_key") else {
        return Some(None);
    };
    let path = path(cx, f, "ssh_key")??;
    if matches!(spec, Some(ImageSpec::Builtin { name }) if name == "test-image") {
        cx.error(
            n,
            format!("`ssh_key` in image `{name}` has no effect: the test image takes the run's key from its kernel command line"),
            Some("remove it".into()),
        );
        return None;
    }
    if !path.is_file() {
        cx.error(
            n,
            format!("{} `{}` is not a file on this machine", f.desc("ssh_key"), path.display()),
            Some("`ssh_key` is the private key virtsmoke logs in with, read where virtsmoke runs (not on the libvirt host)".into()),
        );
        return None;
    }
    Some(Some(path))
}

/// `boot:`, by default `kernel` where the image has one. A disk's own boot
/// loader brings its own kernel and command line, so `boot: disk` rules out
/// `kernel` and `cmdline`.
fn boot(cx: &mut Cx<'_>, f: &Fields<'_>, name: &str, spec: Option<&ImageSpec>, from_disk: bool) -> Option<Boot> {
    let has_kernel = match spec {
        Some(ImageSpec::Builtin { .. }) => true,
        Some(ImageSpec::Files { kernel, .. }) => kernel.is_some(),
        None => f.get("kernel").is_some(),
    };
    let Some(n) = f.get("boot") else {
        return Some(if has_kernel || !from_disk { Boot::Kernel } else { Boot::Disk });
    };
    let names: Vec<&str> = Boot::ALL.iter().map(|b| b.as_str()).collect();
    let boot = cx.choice(n, &f.desc("boot"), &names).and_then(|c| Boot::ALL.into_iter().find(|b| b.as_str() == c))?;
    match boot {
        Boot::Disk if spec.is_some() && !from_disk => {
            cx.error(
                n,
                format!("image `{name}` has `boot: disk` but no disk"),
                Some("give the image a `disk` (a qcow2 or raw image with a boot loader), or use `boot: kernel`".into()),
            );
            None
        }
        Boot::Disk => {
            for key in ["kernel", "initrd", "cmdline"] {
                if let Some(k) = f.key_node(key) {
                    cx.error(
                        k,
                        format!("`{key}` in image `{name}` has no effect with `boot: disk`"),
                        Some("the disk's own boot loader brings its kernel and command line: remove it, or use `boot: kernel`".into()),
                    );
                }
            }
            Some(boot)
        }
        Boot::Kernel if spec.is_some() && !has_kernel => {
            cx.error(
                n,
                format!("image `{name}` has `boot: kernel` but no kernel"),
                Some("give the image a `kernel` (and an `initrd`), or use `boot: disk`".into()),
            );
            None
        }
        Boot::Kernel => Some(boot),
    }
}

/// A login name as `useradd` accepts it by default.
fn is_user_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
        && s.len() <= 32
}

/// Cloud-config text: it must be a YAML mapping, since it is merged into the seed's.
fn cloud_config(cx: &mut Cx<'_>, n: &Node, subject: &str) -> Option<String> {
    let text = cx.text(n, subject)?;
    match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text) {
        Ok(serde_yaml_ng::Value::Mapping(_)) => Some(text),
        Ok(other) => {
            let found = match other {
                serde_yaml_ng::Value::Null => "nothing",
                serde_yaml_ng::Value::Sequence(_) => "a list",
                _ => "a scalar",
            };
            cx.error(
                n,
                format!("{subject} must be a YAML mapping (cloud-config keys), found {found}"),
                Some("write it as a block: `cloud_config: |` followed by indented cloud-config lines".into()),
            );
            None
        }
        Err(e) => {
            cx.error(n, format!("{subject} is not valid YAML: {e}"), None);
            None
        }
    }
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
