//! The Debian package builds from the repository and installs a working
//! binary with its man pages and completions; the RPM spec parses and agrees
//! with Cargo.toml's version.

mod common;
use common::*;

use std::process::Command;

/// The string value of `key` in Cargo.toml's `[package]` (its first line `key = "..."`).
fn cargo_field(key: &str) -> String {
    let toml = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let prefix = format!("{key} = \"");
    let value = toml.lines().find_map(|l| l.strip_prefix(prefix.as_str())).unwrap_or_else(|| panic!("no {key}"));
    value.trim_end_matches('"').to_string()
}

fn cargo_version() -> String {
    cargo_field("version")
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn debian_package_holds_a_working_binary_man_pages_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    let deb = stdout_of(
        Command::new("bash").arg(root().join("packaging/build-deb")).args(["--binary", BIN, "--out"]).arg(dir.path()),
    );
    let deb = deb.trim();
    assert_eq!(stdout_of(Command::new("dpkg-deb").args(["-f", deb, "Version"])).trim(), cargo_version());
    let depends = stdout_of(Command::new("dpkg-deb").args(["-f", deb, "Depends"]));
    assert!(depends.contains("libvirt0"), "{depends}");
    let listing = stdout_of(Command::new("dpkg-deb").args(["-c", deb]));
    for path in [
        "./usr/bin/virtsmoke",
        "./usr/share/man/man1/virtsmoke.1.gz",
        "./usr/share/man/man1/virtsmoke-lab-up.1.gz",
        "./usr/share/bash-completion/completions/virtsmoke",
        "./usr/share/zsh/vendor-completions/_virtsmoke",
        "./usr/share/doc/virtsmoke/scenarios/local-xen.yaml",
        "./usr/share/doc/virtsmoke/copyright",
    ] {
        assert!(listing.contains(path), "{path} missing from:\n{listing}");
    }
    let unpacked = dir.path().join("root");
    stdout_of(Command::new("dpkg-deb").args(["-x", deb]).arg(&unpacked));
    let version = stdout_of(Command::new(unpacked.join("usr/bin/virtsmoke")).arg("--version"));
    assert_eq!(version.trim(), format!("virtsmoke {}", cargo_version()));
    let completion = std::fs::read_to_string(unpacked.join("usr/share/bash-completion/completions/virtsmoke")).unwrap();
    assert!(
        completion.contains("-F _virtsmoke") && completion.contains("virtsmoke__subcmd__lab__subcmd__up"),
        "{completion}"
    );
    // Debian's copyright file names the crate's licence and carries the MIT text.
    let copyright = std::fs::read_to_string(unpacked.join("usr/share/doc/virtsmoke/copyright")).unwrap();
    assert_eq!(cargo_field("license"), "MIT OR Apache-2.0");
    assert!(copyright.contains("\nFiles: *\nCopyright: 2026 The virtsmoke developers\nLicense: MIT or Apache-2.0\n"));
    assert!(copyright.contains(" Permission is hereby granted, free of charge,"), "{copyright}");
    assert!(copyright.contains("\nLicense: Apache-2.0\n"), "{copyright}");
}

#[test]
fn rpm_spec_parses_and_matches_the_crate_version() {
    let spec = root().join("packaging/virtsmoke.spec");
    let version = stdout_of(Command::new("rpmspec").args(["-q", "--srpm", "--qf", "%{VERSION}\n"]).arg(&spec));
    assert_eq!(version.trim(), cargo_version());
    let license = stdout_of(Command::new("rpmspec").args(["-q", "--srpm", "--qf", "%{LICENSE}\n"]).arg(&spec));
    assert_eq!(license.trim(), cargo_field("license"));
    let parsed = stdout_of(Command::new("rpmspec").arg("-P").arg(&spec));
    assert!(parsed.contains("cargo build --release --locked"), "{parsed}");
    assert!(parsed.contains("virtsmoke man --out-dir"), "{parsed}");
    assert!(parsed.contains("%license LICENSE-MIT LICENSE-APACHE"), "{parsed}");
    for file in ["LICENSE-MIT", "LICENSE-APACHE"] {
        assert!(root().join(file).is_file(), "{file} is missing");
    }
}
