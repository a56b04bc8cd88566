//! Images: sources, defaults, boot, keys and copies.

use super::*;

/// (what, input, exact diagnostics)
const BAD: &[(&str, &str, &str)] = &[
    (
        "unknown builtin image",
        r#"version: 1
name: t
hosts: { lab1: { uri: "qemu:///system" } }
images:
  tiny: { builtin: tiny-image }
"#,
        r#"error: unknown builtin image `tiny-image` in image `tiny`
 --> x.yaml:5:20
  |
5 |   tiny: { builtin: tiny-image }
  |                    ^^^^^^^^^^
  = help: builtin images are: test-image, debian-disk
"#,
    ),
    (
        "relative image path, initrd without kernel",
        r#"version: 1
name: t
hosts: { lab1: { uri: "qemu:///system" } }
images:
  custom:
    disk: images/x.qcow2
    initrd: /boot/initrd.img
"#,
        r#"error: `disk` in image `custom` must be an absolute path, found `images/x.qcow2`
 --> x.yaml:6:11
  |
6 |     disk: images/x.qcow2
  |           ^^^^^^^^^^^^^^
  = help: paths are read on the libvirt host, so relative paths are ambiguous

error: `initrd` in image `custom` needs `kernel`
 --> x.yaml:7:5
  |
7 |     initrd: /boot/initrd.img
  |     ^^^^^^
  = help: add the `kernel` this initramfs belongs to, or remove `initrd`
"#,
    ),
    (
        "image with both builtin and files",
        r#"version: 1
name: t
hosts: { lab1: { uri: "qemu:///system" } }
images:
  both: { builtin: debian-disk, kernel: /boot/vmlinuz }
"#,
        r#"error: image `both` sets both `builtin` and `kernel`
 --> x.yaml:5:33
  |
5 |   both: { builtin: debian-disk, kernel: /boot/vmlinuz }
  |                                 ^^^^^^
  = help: an image is either `builtin`, or files given with `kernel`/`initrd`/`disk`
"#,
    ),
    (
        "disk image keys: seed, user, cloud_config, allow_degraded",
        r#"version: 1
name: t
hosts: { lab1: { uri: "qemu:///system" } }
images:
  deb:
    disk: /img/deb.qcow2
    seed: cloud
    user: Root
    cloud_config: "- a list"
  tiny: { builtin: test-image, cloud_config: "runcmd: [x]", allow_degraded: true }
  raw: { disk: /img/raw.img, seed: none, cloud_config: "a: [", allow_degraded: "yes" }
"#,
        r#"error: invalid value `cloud` for `seed` in image `deb`: expected one of nocloud, none
 --> x.yaml:7:11
  |
7 |     seed: cloud
  |           ^^^^^
  = help: did you mean `nocloud`?

error: invalid user name `Root` for `user` in image `deb`
 --> x.yaml:8:11
  |
8 |     user: Root
  |           ^^^^
  = help: a user name is lowercase letters, digits, `_` and `-`, starting with a letter or `_`

error: `cloud_config` in image `deb` must be a YAML mapping (cloud-config keys), found a list
 --> x.yaml:9:19
  |
9 |     cloud_config: "- a list"
  |                   ^^^^^^^^^^
  = help: write it as a block: `cloud_config: |` followed by indented cloud-config lines

error: `cloud_config` in image `tiny` needs a seed, but the image has `seed: none`
  --> x.yaml:10:32
   |
10 |   tiny: { builtin: test-image, cloud_config: "runcmd: [x]", allow_degraded: true }
   |                                ^^^^^^^^^^^^
   = help: cloud-config reaches the guest through a NoCloud seed: set `seed: nocloud`, or remove `cloud_config`

error: `allow_degraded` in image `tiny` has no effect: only disk images run `boot.systemd`
  --> x.yaml:10:61
   |
10 |   tiny: { builtin: test-image, cloud_config: "runcmd: [x]", allow_degraded: true }
   |                                                             ^^^^^^^^^^^^^^
   = help: remove it, or give the image a `disk`

error: `cloud_config` in image `raw` needs a seed, but the image has `seed: none`
  --> x.yaml:11:42
   |
11 |   raw: { disk: /img/raw.img, seed: none, cloud_config: "a: [", allow_degraded: "yes" }
   |                                          ^^^^^^^^^^^^
   = help: cloud-config reaches the guest through a NoCloud seed: set `seed: nocloud`, or remove `cloud_config`

error: `cloud_config` in image `raw` is not valid YAML: did not find expected node content at line 2 column 1, while parsing a flow node
  --> x.yaml:11:56
   |
11 |   raw: { disk: /img/raw.img, seed: none, cloud_config: "a: [", allow_degraded: "yes" }
   |                                                        ^^^^^^

error: wrong type for `allow_degraded` in image `raw`: expected `true` or `false`, found a string
  --> x.yaml:11:80
   |
11 |   raw: { disk: /img/raw.img, seed: none, cloud_config: "a: [", allow_degraded: "yes" }
   |                                                                                ^^^^^
"#,
    ),
    (
        "cloud_init: known keys, module names, and only where boot.cloud-init runs",
        r#"version: 1
name: t
hosts: { lab1: { uri: "qemu:///system" } }
images:
  deb: { disk: /img/deb.qcow2, cloud_init: { allow_failed_modules: [locale, "lo cale"], allow_failed_module: [x] } }
  raw: { disk: /img/raw.img, seed: none, cloud_init: { allow_failed_modules: [locale] } }
  tiny: { builtin: test-image, cloud_init: { allow_failed_modules: locale } }
  bare: { disk: /img/bare.qcow2, cloud_init: {} }
"#,
        r#"error: invalid cloud-init module name `lo cale` in `cloud_init` in image `deb`
 --> x.yaml:5:77
  |
5 |   deb: { disk: /img/deb.qcow2, cloud_init: { allow_failed_modules: [locale, "lo cale"], allow_failed_module: [x] } }
  |                                                                             ^^^^^^^^^
  = help: a module as cloud-init names it in its logs, e.g. `locale`, `ntp`, `set_passwords`

error: unknown key `allow_failed_module` in `cloud_init` in image `deb`
 --> x.yaml:5:89
  |
5 |   deb: { disk: /img/deb.qcow2, cloud_init: { allow_failed_modules: [locale, "lo cale"], allow_failed_module: [x] } }
  |                                                                                         ^^^^^^^^^^^^^^^^^^^
  = help: did you mean `allow_failed_modules`?

error: `cloud_init` in image `raw` has no effect: only disk images with a seed run `boot.cloud-init`
 --> x.yaml:6:42
  |
6 |   raw: { disk: /img/raw.img, seed: none, cloud_init: { allow_failed_modules: [locale] } }
  |                                          ^^^^^^^^^^
  = help: remove it, or give the image a `disk` and a seed

error: `cloud_init` in image `tiny` has no effect: only disk images with a seed run `boot.cloud-init`
 --> x.yaml:7:32
  |
7 |   tiny: { builtin: test-image, cloud_init: { allow_failed_modules: locale } }
  |                                ^^^^^^^^^^
  = help: remove it, or give the image a `disk` and a seed

error: wrong type for `allow_failed_modules` in `cloud_init` in image `tiny`: expected a list such as `[a, b]`, found a string
 --> x.yaml:7:68
  |
7 |   tiny: { builtin: test-image, cloud_init: { allow_failed_modules: locale } }
  |                                                                    ^^^^^^

error: missing required key `allow_failed_modules` in `cloud_init` in image `bare`
 --> x.yaml:8:34
  |
8 |   bare: { disk: /img/bare.qcow2, cloud_init: {} }
  |                                  ^^^^^^^^^^
  = help: e.g. `cloud_init: { allow_failed_modules: [locale] }`
"#,
    ),
    (
        "images that must be staged on a remote host without a jump",
        r#"version: 1
name: t
hosts:
  qa7: { uri: "qemu+ssh://root@qa7.example/system" }
images:
  tiny: { builtin: test-image }
  deb: { disk: /srv/images/deb.qcow2, seed: none }
  own: { kernel: /srv/vmlinuz, seed: nocloud }
guests: { tiny: { kind: kvm, image: tiny } }
matrix: { image: [tiny, deb, own] }
"#,
        r#"error: image `tiny` must be staged on host `qa7`, which has no `jump`
  --> x.yaml:10:19
   |
10 | matrix: { image: [tiny, deb, own] }
   |                   ^^^^
   = help: the image's files are on this machine and are copied to the host over SSH: give host `qa7` a `jump`

error: image `deb` must be staged on host `qa7`, which has no `jump`
  --> x.yaml:10:25
   |
10 | matrix: { image: [tiny, deb, own] }
   |                         ^^^
   = help: a disk image boots from an overlay that virtsmoke makes on the host over SSH: give host `qa7` a `jump`

error: image `own` must be staged on host `qa7`, which has no `jump`
  --> x.yaml:10:30
   |
10 | matrix: { image: [tiny, deb, own] }
   |                              ^^^
   = help: the image's NoCloud seed is made on this machine and copied to the host over SSH: give host `qa7` a `jump`
"#,
    ),
];

#[test]
fn bad_inputs_give_exact_diagnostics() {
    check_bad(BAD);
}

#[test]
fn image_defaults_depend_on_what_boots() {
    use crate::plan::SeedKind;
    let plan = plan(
        r#"version: 1
name: img
hosts: { lab1: { uri: "qemu:///system" } }
images:
  tiny: { builtin: test-image }
  deb: { builtin: debian-disk }
  kernel: { kernel: /boot/vmlinuz }
  cloud:
    disk: /img/cloud.qcow2
    user: debian
    marker: "Reached target"
    allow_degraded: true
    cloud_init: { allow_failed_modules: [locale, set-passwords] }
    cloud_config: |
      #cloud-config
      runcmd:
        - touch /tmp/x
  bios: { disk: /img/bios.raw, seed: none }
guests: { g: { kind: kvm, image: tiny } }
matrix: { image: [tiny, deb, kernel, cloud, bios] }
"#,
    );
    let images: Vec<_> = plan.cases.iter().map(|c| &c.guests[0].image).collect();
    let summary: Vec<_> = images
        .iter()
        .map(|i| (i.name.as_str(), i.from_disk, i.seed, i.marker.as_str(), i.user.as_str(), i.allow_degraded))
        .collect();
    assert_eq!(
        summary,
        [
            ("tiny", false, SeedKind::None, "VIRTSMOKE-MARKER boot", "root", false),
            ("deb", true, SeedKind::Nocloud, "login:", "root", false),
            ("kernel", false, SeedKind::None, "Linux version", "root", false),
            ("cloud", true, SeedKind::Nocloud, "Reached target", "debian", true),
            ("bios", true, SeedKind::None, "login:", "root", false),
        ]
    );
    assert_eq!(images[3].cloud_init_allowed_failures, ["locale", "set-passwords"]);
    assert!(images[1].cloud_init_allowed_failures.is_empty(), "nothing tolerated unless said");
    assert_eq!(images[3].cloud_config.as_deref(), Some("#cloud-config\nruncmd:\n  - touch /tmp/x\n"));
    assert_eq!(images[1].spec, ImageSpec::Builtin { name: "debian-disk".into() });
}

#[test]
fn boot_is_kernel_where_there_is_one_and_disk_otherwise() {
    let head = "version: 1\nname: b\nhosts:\n  h: { uri: \"qemu:///system\" }\n  x: { uri: \"xen:///system\" }\n";
    let p = plan(&format!(
        "{head}images:\n  tiny: {{ builtin: test-image }}\n  deb: {{ builtin: debian-disk }}\n  own: {{ builtin: debian-disk, boot: disk }}\n  \
         cloud: {{ disk: /img/c.qcow2 }}\n  both: {{ disk: /img/c.qcow2, kernel: /k }}\n\
         guests: {{ g: {{ kind: kvm, image: tiny }} }}\nmatrix: {{ host: [h], image: [tiny, deb, own, cloud, both] }}\n"
    ));
    let boots: Vec<_> = p.cases.iter().map(|c| (c.guests[0].image.name.as_str(), c.guests[0].image.boot)).collect();
    assert_eq!(
        boots,
        [
            ("tiny", Boot::Kernel),
            ("deb", Boot::Kernel),
            ("own", Boot::Disk),
            ("cloud", Boot::Disk),
            ("both", Boot::Kernel)
        ]
    );
    // Xen PV reads the disk with pygrub; PVH cannot.
    let own = "images: { own: { builtin: debian-disk, boot: disk } }\n";
    plan(&format!("{head}{own}guests: {{ g: {{ kind: xen-pv, image: own }} }}\nmatrix: {{ host: [x] }}\n"));
    let out =
        errors(&format!("{head}{own}guests: {{ g: {{ kind: xen-pvh, image: own }} }}\nmatrix: {{ host: [x] }}\n"));
    assert!(
        out.contains("error: guest `g` of kind `xen-pvh` cannot boot image `own` from its disk (`boot: disk`)"),
        "{out}"
    );
}

#[test]
fn boot_contradictions_are_errors() {
    let out = errors(
        "version: 1\nname: b\nhosts: { h: { uri: \"qemu:///system\" } }\nimages:\n  \
         a: { builtin: test-image, boot: disk }\n  \
         b: { kernel: /k, boot: disk, disk: /d }\n  \
         c: { disk: /d, cmdline: \"x=1\", boot: disk }\n  \
         d: { disk: /d, boot: kernel }\n  \
         e: { disk: /d, boot: loader }\n\
         guests: { g: { kind: kvm, image: a } }\n",
    );
    for expected in [
        "error: image `a` has `boot: disk` but no disk",
        "error: `kernel` in image `b` has no effect with `boot: disk`",
        "error: `cmdline` in image `c` has no effect with `boot: disk`",
        "error: image `d` has `boot: kernel` but no kernel",
        "error: invalid value `loader` for `boot` in image `e`: expected one of kernel, disk",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(out.contains("x.yaml:8:"), "positions point at the image: {out}");
}

#[test]
fn ssh_key_is_a_file_here_and_not_for_the_test_image() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_baked");
    std::fs::write(&key, "key").unwrap();
    let head = "version: 1\nname: k\nhosts: { h: { uri: \"qemu:///system\" } }\n";
    let p = plan(&format!(
        "{head}images: {{ baked: {{ disk: /img/vendor.qcow2, seed: none, user: admin, ssh_key: {} }} }}\nguests: {{ g: {{ kind: kvm, image: baked }} }}\n",
        key.display()
    ));
    assert_eq!(p.cases[0].guests[0].image.ssh_key.as_deref(), Some(key.as_path()));
    let out = errors(&format!(
        "{head}images:\n  a: {{ disk: /d, ssh_key: {}/missing }}\n  b: {{ builtin: test-image, ssh_key: {} }}\n  c: {{ disk: /d, ssh_key: id_rsa }}\nguests: {{ g: {{ kind: kvm, image: a }} }}\n",
        dir.path().display(),
        key.display()
    ));
    for expected in [
        "/missing` is not a file on this machine",
        "error: `ssh_key` in image `b` has no effect: the test image takes the run's key from its kernel command line",
        "`ssh_key` in image `c` must be an absolute path, found `id_rsa`",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn copy_reads_the_files_here() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("vendor.qcow2");
    std::fs::write(&disk, "qcow").unwrap();
    let head = "version: 1\nname: c\nhosts: { h: { uri: \"qemu:///system\" } }\n";
    let p = plan(&format!(
        "{head}images:\n  here: {{ disk: {}, copy: true }}\n  there: {{ disk: /srv/x.qcow2 }}\nguests: {{ g: {{ kind: kvm, image: here }} }}\nmatrix: {{ image: [here, there] }}\n",
        disk.display()
    ));
    let images: Vec<_> = p.cases.iter().map(|c| (c.guests[0].image.copy, c.guests[0].image.files_are_here())).collect();
    assert_eq!(images, [(true, true), (false, false)]);
    let out = errors(&format!(
        "{head}images:\n  a: {{ disk: {}, kernel: {}/vmlinuz, copy: true }}\n  b: {{ builtin: debian-disk, copy: true }}\n  c: {{ disk: /d, copy: yes }}\nguests: {{ g: {{ kind: kvm, image: a }} }}\n",
        disk.display(),
        dir.path().display()
    ));
    for expected in [
        "/vmlinuz` is not a file on this machine",
        "error: `copy` in image `b` has no effect: a builtin image is built here and always copied to remote hosts",
        "wrong type for `copy` in image `c`: expected `true` or `false`",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(!out.contains("vendor.qcow2` is not a file"), "{out}");
}

#[test]
fn remote_hosts_take_files_already_there_or_staged_through_a_jump() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_jump");
    std::fs::write(&key, "key").unwrap();
    let text = format!(
        "version: 1\nname: r\nhosts:\n  \
         qa7: {{ uri: \"qemu+ssh://root@qa7.example/system\" }}\n  \
         qa8: {{ uri: \"qemu+ssh://root@qa8.example/system\", jump: {{ address: \"qa8.example:22\", key: {}, insecure_host_key: true }} }}\n\
         images:\n  there: {{ kernel: /srv/vmlinuz, seed: none }}\n  deb: {{ disk: /srv/deb.qcow2 }}\n\
         guests: {{ g: {{ kind: kvm, image: there }} }}\n\
         matrix: {{ host: [qa7, qa8], image: [there] }}\n",
        key.display()
    );
    let p = plan(&text);
    assert_eq!(case_names(&p), ["r/g-there@qa7", "r/g-there@qa8"]);
    assert_eq!(p.hosts["qa8"].jump.as_ref().map(|j| j.key.clone()), Some(key.clone()));
    let p = plan(&text.replace("host: [qa7, qa8], image: [there]", "host: [qa8], image: [there, deb]"));
    assert_eq!(case_names(&p), ["r/g-there@qa8", "r/g-deb@qa8"], "a disk is staged through the jump");
    let out = errors(&text.replace("image: [there]", "image: [there, deb]"));
    assert!(out.starts_with("error: image `deb` must be staged on host `qa7`, which has no `jump`\n"), "{out}");
    assert!(!out.contains("host `qa8`"), "{out}");
}

#[test]
fn the_test_image_boots_a_kernel_of_ones_own() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = write(&dir, "bzImage", b"kernel");
    let p = plan(&format!(
        "version: 1\nname: k\nhosts: {{ h: {{ uri: \"qemu:///system\" }} }}\n\
         images: {{ mine: {{ builtin: test-image, kernel: {} }}, stock: {{ builtin: test-image }} }}\n\
         guests: {{ g: {{ kind: kvm, image: mine }}, s: {{ kind: kvm, image: stock }} }}\nmatrix: {{ guest: [g, s] }}\n",
        kernel.display()
    ));
    let image = |case: usize| &p.cases[case].guests[0].image;
    assert_eq!(image(0).own_kernel.as_deref(), Some(kernel.as_path()));
    assert_eq!(image(0).spec, ImageSpec::Builtin { name: "test-image".into() });
    assert_eq!((image(0).marker.as_str(), image(0).boot), ("VIRTSMOKE-MARKER boot", Boot::Kernel));
    assert!(image(0).files_are_here(), "copied to remote hosts like the image");
    assert_eq!(image(1).own_kernel, None);

    let out = errors(
        "version: 1\nname: k\nhosts: { h: { uri: \"qemu:///system\" } }\nimages:\n  \
         gone: { builtin: test-image, kernel: /nonexistent/bzImage }\n  \
         rel: { builtin: test-image, kernel: bzImage }\n  \
         ird: { builtin: test-image, initrd: /i.img }\n  \
         deb: { builtin: debian-disk, kernel: /k }\n\
         guests: { g: { kind: kvm, image: gone } }\n",
    );
    for expected in [
        "error: `kernel` in image `gone` `/nonexistent/bzImage` is not a file on this machine",
        "help: with `builtin: test-image` the kernel is read where virtsmoke runs and copied to remote hosts",
        "error: `kernel` in image `rel` must be an absolute path, found `bzImage`",
        "error: image `ird` sets both `builtin` and `initrd`",
        "help: `builtin: test-image` takes a `kernel` of your own (booted with the test image's initramfs), not `initrd` or `disk`",
        "error: image `deb` sets both `builtin` and `kernel`",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert_eq!(out.matches("`kernel` in image `rel`").count(), 1, "said once: {out}");
}
