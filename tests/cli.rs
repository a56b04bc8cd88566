//! The command line without a lab: usage and input errors, exit codes, output
//! formats, and the helpers' own reading of the lab's status. libvirt's
//! `test:///default` driver stands in for a host where one is needed.

mod common;
use common::*;

use std::process::Command;

#[test]
fn a_kernel_without_xen_notes_fails_xen_pv_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = not_linux_scenario(dir.path(), "notes");
    let json_path = dir.path().join("r.json");
    let out = virtsmoke(&[
        "run",
        path.to_str().unwrap(),
        "--json",
        json_path.to_str().unwrap(),
        "--artifacts",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc = json(&json_path);
    let failed = first_failed(&doc["cases"][0]);
    assert_eq!(failed["name"], "boot.running");
    assert_eq!(failed["message"], "kernel /bin/sh has no Xen PV entry point (no such Xen ELF note)");
    // The case names its cause, in the JSON and first in the terminal summary.
    let cause = &doc["cases"][0]["cause"];
    assert_eq!(cause["id"], "guest-kind-wrong", "{cause}");
    assert_eq!(cause["evidence"][0], "kernel /bin/sh has no Xen PV entry point (no such Xen ELF note)");
    let all = text(&out);
    let headline = all.find("notes/g@h [guest-kind-wrong] the kernel cannot boot as the kind asked for").expect(&all);
    assert!(headline < all.rfind("notes/g@h boot.running: kernel /bin/sh").expect(&all), "{all}");
}

#[test]
fn bad_input_is_exit_2_with_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "version: 1\nname: bad\nhosts:\n  h:\n    uri: \"test:///default\"\nimages:\n  tiny:\n    builtin: test-image\nguests:\n  g:\n    kind: kvm\n    image: tiny\n    memroy_mib: 512\n",
    )
    .unwrap();
    for cmd in ["validate", "run"] {
        let out = virtsmoke(&[cmd, path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad.yaml:13:5"), "{err}");
        assert!(err.contains("memory_mib"), "{err}");
    }
}

#[test]
fn a_closed_pipe_is_not_a_panic() {
    let mut child = Command::new(BIN)
        .args(["list", "tests/fixtures/scenarios/good-minimal.yaml"])
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before anything is printed
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn usage_errors_are_exit_2_and_help_is_exit_0() {
    assert_eq!(virtsmoke(&["run"]).status.code(), Some(2));
    assert_eq!(virtsmoke(&["frobnicate"]).status.code(), Some(2));
    for sub in [
        "run",
        "validate",
        "list",
        "lab",
        "image",
        "facts",
        "cleanup",
        "schema",
        "merge",
        "compare",
        "history",
        "reproduce",
    ] {
        let out = virtsmoke(&[sub, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{sub}: {}", text(&out));
    }
    let run = text(&virtsmoke(&["run", "--help"]));
    assert!(run.contains("--keep-on-failure"), "{run}");
    assert!(run.lines().any(|l| l.trim_start().starts_with("--keep ") || l.trim() == "--keep"), "{run}");
    assert!(run.contains("Leave every case's guests running"), "{run}");
}

/// `--debs` is checked before anything starts or is built.
#[test]
fn local_packages_are_checked_before_anything_is_built() {
    let lab = tempfile::tempdir().unwrap();
    let debs = tempfile::tempdir().unwrap();
    let (lab_dir, debs_dir) = (lab.path().to_str().unwrap(), debs.path().to_str().unwrap());
    // Only for Xen hosts.
    let out = virtsmoke(&["lab", "up", "--dir", lab_dir, "--debs", debs_dir]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--xen"), "{}", text(&out));
    let out = virtsmoke(&["lab", "up", "--dir", lab_dir, "--xen", "1", "--debs", debs_dir]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains(&format!("--debs {debs_dir}: no .deb package in it")), "{}", text(&out));
    assert_eq!(std::fs::read_dir(lab.path()).unwrap().count(), 0, "lab up made something");
    let out = virtsmoke(&["image", "build", "xen-dom0", "--debs", debs_dir]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no .deb package in it"), "{}", text(&out));
    let out = virtsmoke(&["image", "path", "test-image", "--debs", debs_dir]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--dom0 and --debs are for the xen-dom0 image, not `test-image`"), "{}", text(&out));
}

#[test]
fn an_unreachable_host_is_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.yaml");
    std::fs::write(
        &path,
        "version: 1\nname: gone\nhosts:\n  h:\n    uri: \"qemu+unix:///system?socket=/nonexistent/sock\"\n    accel: qemu\nimages:\n  tiny:\n    builtin: test-image\nguests:\n  g:\n    kind: kvm\n    image: tiny\n",
    )
    .unwrap();
    let junit = dir.path().join("j.xml");
    let out = virtsmoke(&[
        "run",
        path.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--artifacts",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<error") && xml.contains("cannot connect to libvirt"), "{xml}");
    // The cause leads the error message: infrastructure, not the guest.
    assert!(xml.contains("message=\"[host-unreachable] host h is unusable: "), "{xml}");
    xmllint_schema(&junit);
}

#[test]
fn json_format_streams_every_event_and_no_color_means_plain() {
    let dir = tempfile::tempdir().unwrap();
    let path = not_linux_scenario(dir.path(), "events");
    let out = virtsmoke(&[
        "run",
        path.to_str().unwrap(),
        "--format",
        "json",
        "--color",
        "always",
        "--artifacts",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let events: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"run-started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"run-finished"), "{kinds:?}");
    for k in ["case-started", "step-finished", "case-finished"] {
        assert!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    let finished = events.iter().find(|e| e["event"] == "case-finished").unwrap();
    assert_eq!(finished["report"]["outcome"], "failed");
    assert!(String::from_utf8_lossy(&out.stderr).contains("\x1b[31mFAIL\x1b[0m"));

    // `auto` with NO_COLOR (and no terminal): no escape codes at all.
    let plain = Command::new(BIN)
        .args(["run", path.to_str().unwrap(), "--artifacts", dir.path().to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(1));
    assert!(plain.stdout.is_empty());
    assert!(!String::from_utf8_lossy(&plain.stderr).contains('\x1b'));
}

/// A scenario whose one case fails before anything boots: a `xen-pv` guest
/// whose "kernel" is `/bin/sh`, on libvirt's test driver standing in for the host.
fn not_linux_scenario(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let path = dir.join("s.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nname: {name}\nhosts:\n  h:\n    uri: \"test:///default\"\n    hypervisor: xen\nimages:\n  not-linux:\n    kernel: /bin/sh\nguests:\n  g:\n    kind: xen-pv\n    image: not-linux\n"
        ),
    )
    .unwrap();
    path
}

/// What `virtsmoke lab status --json` prints for a lab of two KVM hosts and one
/// Xen host under `dir`, made from the library's own status types the way
/// `lab status` makes it (the KVM fields flattened, plus `xen`).
fn lab_status_json(dir: &str) -> String {
    use virtsmoke::lab::xen::{XenHostStatus, build::Dom0Build};
    use virtsmoke::lab::{LabHostStatus, LabStatus};
    let host = |n: u32| LabHostStatus {
        name: format!("h{n}"),
        netns: format!("vs-lab-h{n}"),
        uri: format!("qemu+unix:///system?socket={dir}/h{n}/run/libvirt-sock"),
        bridge: "vsbr0".into(),
        address: format!("10.77.0.{n}/24"),
        libvirtd_pid: Some(100 + n as i32),
        virtlogd_pid: Some(200 + n as i32),
        dnsmasq_pid: None,
        leases: (n == 1).then(|| format!("{dir}/h1/dnsmasq.leases").into()),
        healthy: true,
        problems: vec![],
    };
    let kvm = LabStatus { dir: dir.into(), hosts: vec![host(1), host(2)] };
    let xen = XenHostStatus {
        name: "xen1".into(),
        uri: format!("xen+ssh://root@127.0.0.1:2221/system?keyfile={dir}/xen/id_ed25519&no_tty=1"),
        ssh: "127.0.0.1:2221".into(),
        key: format!("{dir}/xen/id_ed25519").into(),
        known_hosts: format!("{dir}/xen/known_hosts").into(),
        bridge: "xenbr0".into(),
        bridge_address: "10.88.0.1/16".into(),
        qemu_pid: Some(300),
        dom0: Some(Dom0Build {
            suite: "trixie".into(),
            xen_version: "4.20.4".into(),
            libvirt_version: "11.3.0".into(),
            kernel_version: "6.12.118+deb13-amd64".into(),
            local_packages: [("libvirt-daemon-driver-xen".to_string(), "11.3.0-3+virtsmoke1".to_string())].into(),
        }),
        serial_log: format!("{dir}/xen/xen1/serial.log").into(),
        healthy: true,
        problems: vec![],
    };
    let mut doc = serde_json::to_value(&kvm).unwrap();
    doc["xen"] = serde_json::to_value(vec![xen]).unwrap();
    serde_json::to_string_pretty(&doc).unwrap()
}

#[test]
fn the_tests_read_the_lab_hosts_from_lab_status_json() {
    let lab = LabStatus::parse(&lab_status_json("/elsewhere/lab")).unwrap();
    let h2 = lab.kvm("h2");
    assert_eq!(h2.uri, "qemu+unix:///system?socket=/elsewhere/lab/h2/run/libvirt-sock");
    assert_eq!((h2.netns.as_str(), h2.libvirtd_pid, h2.virtlogd_pid), ("vs-lab-h2", Some(102), Some(202)));
    let xen1 = lab.xen("xen1");
    assert_eq!(xen1.ssh_address(), ("127.0.0.1", "2221"));
    assert_eq!(xen1.dom0.as_ref().unwrap()["suite"], "trixie");
    assert_eq!(xen1.dom0.as_ref().unwrap()["local_packages"]["libvirt-daemon-driver-xen"], "11.3.0-3+virtsmoke1");
    assert_eq!(xen1.qemu_pid, Some(300));
    assert_eq!(
        xen1.jump_yaml(),
        "{ address: \"127.0.0.1:2221\", user: root, key: /elsewhere/lab/xen/id_ed25519, \
         known_hosts: /elsewhere/lab/xen/known_hosts }"
    );
    let rendered =
        lab.render("uri: \"@h1.uri@\"\nnetns: \"@h1.netns@\"\nleases: @h1.leases@\njump: @xen1.ssh@ @xen1.key@\n");
    assert_eq!(
        rendered,
        "uri: \"qemu+unix:///system?socket=/elsewhere/lab/h1/run/libvirt-sock\"\nnetns: \"vs-lab-h1\"\n\
         leases: /elsewhere/lab/h1/dnsmasq.leases\njump: 127.0.0.1:2221 /elsewhere/lab/xen/id_ed25519\n"
    );
}

#[test]
#[should_panic(expected = "placeholder @h3.uri@ names no host of the lab")]
fn a_placeholder_of_a_host_the_lab_lacks_is_refused() {
    LabStatus::parse(&lab_status_json("/elsewhere/lab")).unwrap().render("uri: \"@h3.uri@\"\n");
}

/// Every lab fixture, filled in for a lab elsewhere, is a valid scenario (or
/// inventory) that names that lab's hosts and nothing of the default layout.
#[test]
fn every_lab_fixture_fills_in_and_validates() {
    // The jump key must exist where virtsmoke runs: the lab elsewhere has one.
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = elsewhere.path().join("lab");
    std::fs::create_dir_all(dir.join("xen")).unwrap();
    std::fs::write(dir.join("xen/id_ed25519"), "not a real key\n").unwrap();
    std::fs::write(dir.join("xen/known_hosts"), "").unwrap();
    let dir = dir.to_str().unwrap();
    let lab = LabStatus::parse(&lab_status_json(dir)).unwrap();
    let mut filled = 0;
    for path in walk(&fixture("e2e")) {
        let source = std::fs::read_to_string(&path).unwrap();
        if common::lab::placeholders(&source).is_empty() {
            continue;
        }
        let relative = path.strip_prefix(root()).unwrap().to_str().unwrap().to_string();
        let rendered = lab.render_file(&relative);
        let contents = std::fs::read_to_string(&rendered).unwrap();
        assert!(contents.contains(&format!("{dir}/")), "{relative}:\n{contents}");
        assert!(!contents.contains("virtsmoke-lab") && !contents.contains("vs-lab-h1 "), "{relative}:\n{contents}");
        // An inventory (hosts only) is validated with a scenario beside it.
        let beside = tempfile::NamedTempFile::new().unwrap();
        let guests = "version: 1\nname: beside\nimages:\n  tiny:\n    builtin: test-image\nguests:\n  g:\n    kind: xen-pv\n    image: tiny\n";
        std::fs::write(beside.path(), guests).unwrap();
        let mut args = vec!["validate", rendered.to_str().unwrap()];
        if !contents.contains("\nguests:") {
            args.push(beside.path().to_str().unwrap());
        }
        let out = virtsmoke(&args);
        assert_eq!(out.status.code(), Some(0), "{relative}: {}", text(&out));
        filled += 1;
    }
    assert!(filled >= 12, "only {filled} lab fixtures have placeholders");
}

/// ci/test picks the lab tests by their binary's name: `e2e_kvm*` on the KVM
/// lab, `e2e_xen*` on the Xen lab, `by_hand*` never. An ignored test anywhere
/// else would run in no phase; a test of a lab binary that is not ignored
/// would run without its lab.
#[test]
fn every_lab_test_is_in_a_binary_named_for_its_lab() {
    let lab_binary = |name: &str| ["e2e_kvm", "e2e_xen", "by_hand"].iter().any(|p| name.starts_with(p));
    let mut lab_tests = 0;
    for entry in std::fs::read_dir(root().join("tests")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !name.ends_with(".rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let tests = source.matches("#[test]").count();
        let ignored = source.matches("#[test]\n#[ignore").count();
        if lab_binary(&name) {
            assert_eq!(ignored, tests, "{name}: a test without #[ignore] would run without its lab");
            lab_tests += tests;
        } else {
            assert_eq!(ignored, 0, "{name}: an ignored test outside e2e_kvm*/e2e_xen*/by_hand* runs in no phase");
        }
    }
    assert!(lab_tests >= 27, "only {lab_tests} lab tests found");
}

/// `spawn_until`, which the lab tests use to act at a moment of a run, stops
/// at the line it waits for and `finish` gives the rest of the run.
#[test]
fn spawn_until_waits_for_a_line_and_finish_reads_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = not_linux_scenario(dir.path(), "spawned");
    let args = ["run", "-v", path.to_str().unwrap(), "--artifacts", dir.path().to_str().unwrap()];
    let running = spawn_until(&args, |line| line.contains("boot.running"));
    assert!(running.seen.lines().last().unwrap().contains("boot.running"), "{}", running.seen);
    let run = running.run_id();
    let (status, all) = running.finish();
    assert_eq!(status.code(), Some(1), "{all}");
    assert!(all.starts_with(&format!("run {run}:")), "{all}");
    assert!(all.contains("no Xen PV entry point"), "{all}");
}

/// `tests/fixtures/results/reproduce.json`: `minimal/tiny@lab1` failed at
/// `boot.ssh`, recorded its scenario file and a test-image recipe hash that is
/// not today's, and kept its guest.
fn reproduce_fixture(dir: &std::path::Path, recipe_hash: Option<&str>, scenario_file: bool) -> String {
    let mut v = common::json(&fixture("results/reproduce.json"));
    let props = v["cases"][0]["properties"].as_array_mut().unwrap();
    for p in props.iter_mut() {
        if let (Some(h), Some("tiny.image_recipe_hash")) = (recipe_hash, p[0].as_str()) {
            p[1] = h.into();
        }
    }
    if !scenario_file {
        props.retain(|p| p[0] != "scenario_file");
    }
    let path = dir.join("r.json");
    std::fs::write(&path, v.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn reproduce_prints_the_command_that_reruns_one_case_with_the_same_image() {
    let dir = tempfile::tempdir().unwrap();
    let hash = virtsmoke::image::recipe_hash("test-image").unwrap();
    let r = reproduce_fixture(dir.path(), Some(&hash), true);
    let o = virtsmoke(&["reproduce", &r, "minimal/tiny@lab1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for expected in [
        "# minimal/tiny@lab1 (Failed in run 20250305020000-0005) on host lab1 (qemu:///system)\n",
        &format!("# guest tiny: image test-image unchanged (image_recipe_hash {hash})\n"),
        "\nvirtsmoke run tests/fixtures/scenarios/good-minimal.yaml --only minimal/tiny@lab1 --keep-on-failure\n",
        "#   console: virsh -c qemu:///system console DOMAIN\n",
        "# or, given --json RESULTS.json: virtsmoke console|ssh RESULTS.json CASE [GUEST]\n",
        "# kept by that run, if not removed since: virsh -c qemu:///system console vs-20250305020000-0005-0-tiny\n",
        "#   shell: ssh -i /var/tmp/virtsmoke/runs/20250305020000-0005/id_ed25519 root@10.77.0.12\n",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
}

#[test]
fn reproduce_refuses_another_image_an_unknown_case_and_a_missing_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let r = reproduce_fixture(dir.path(), None, true);
    let o = virtsmoke(&["reproduce", &r, "minimal/tiny@lab1", "--run"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("guest tiny: the image differs from the run's (image_recipe_hash was 0000000000000000, is now "),
        "{err}"
    );
    assert!(o.stdout.is_empty() && !err.contains("running:"), "nothing is run: {}", text(&o));
    let o = virtsmoke(&["reproduce", &r, "minimal/nope@lab1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("has no case minimal/nope@lab1; its failed cases: minimal/tiny@lab1")
    );
    let hash = virtsmoke::image::recipe_hash("test-image").unwrap();
    let r = reproduce_fixture(dir.path(), Some(&hash), false);
    let o = virtsmoke(&["reproduce", &r, "minimal/tiny@lab1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("give it with --scenario FILE"), "{}", text(&o));
    let scenario = fixture("scenarios/good-minimal.yaml");
    let o = virtsmoke(&["reproduce", &r, "minimal/tiny@lab1", "--scenario", scenario.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// A directory with fake `virsh` and `ssh` that write the arguments they were
/// given, one per line, to `argv.txt` beside them, and exit 7.
fn fake_tools(dir: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    for tool in ["virsh", "ssh"] {
        let path = dir.join(tool);
        let script = format!("#!/bin/sh\nprintf '%s\\n' {tool} \"$@\" > '{}/argv.txt'\nexit 7\n", dir.display());
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

/// `virtsmoke ARGS` with the fake tools first on PATH: its output and the argv the tool got.
fn with_fake_tools(dir: &std::path::Path, args: &[&str]) -> (std::process::Output, Vec<String>) {
    let _ = std::fs::remove_file(dir.join("argv.txt"));
    let o = Command::new(BIN).args(args).current_dir(root()).env("PATH", fake_tools(dir)).output().unwrap();
    let argv = std::fs::read_to_string(dir.join("argv.txt")).unwrap_or_default();
    (o, argv.lines().map(String::from).collect())
}

#[test]
fn console_and_ssh_run_the_kept_guest_s_commands_without_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let results = fixture("results/kept.json");
    let r = results.to_str().unwrap();
    let (o, argv) = with_fake_tools(dir.path(), &["console", r, "minimal/tiny@lab1"]);
    assert_eq!(o.status.code(), Some(7), "the tool's exit code: {}", text(&o));
    assert_eq!(argv, ["virsh", "-c", "qemu:///system", "console", "vs-20250305020000-0005-0-tiny"]);
    let (o, argv) =
        with_fake_tools(dir.path(), &["ssh", r, "minimal/tiny@lab1", "tiny", "--", "cat", "/proc/cmdline; id"]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    let run = "/var/tmp/virtsmoke/runs/20250305020000-0005";
    let expected = [
        "ssh",
        "-o",
        "ProxyCommand=ssh -i /lab/dom0_key -o IdentitiesOnly=yes -p 2221 -W %h:%p root@127.0.0.1",
        "-i",
        &format!("{run}/id_ed25519"),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        &format!("UserKnownHostsFile={run}/vs-20250305020000-0005-0-tiny.known_hosts"),
        "--",
        "root@10.77.0.12",
        "cat",
        "/proc/cmdline; id",
    ];
    assert_eq!(argv, expected);
    // Of two kept guests, the one named (by scenario name or domain) is reached.
    let (o, argv) = with_fake_tools(dir.path(), &["console", r, "minimal/pair@lab1", "vs-20250305020000-0005-2-b"]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert_eq!(argv, ["virsh", "-c", "xen:///system", "console", "vs-20250305020000-0005-2-b"]);
}

#[test]
fn console_and_ssh_refuse_a_case_without_a_kept_guest_with_the_flags_that_keep_one() {
    let dir = tempfile::tempdir().unwrap();
    let results = fixture("results/kept.json");
    let r = results.to_str().unwrap();
    for (args, expected) in [
        (&["console", r, "minimal/other@lab1"][..], "case minimal/other@lab1 kept no guest"),
        (&["ssh", r, "minimal/other@lab1"][..], "rerun it with --keep (every case) or --keep-on-failure"),
        (&["console", r, "minimal/pair@lab1"][..], "kept 2 guests: name one of a (vs-20250305020000-0005-2-a), "),
        (&["console", r, "minimal/nope@lab1"][..], "its cases with kept guests: minimal/tiny@lab1, minimal/pair@lab1"),
        (&["ssh", r, "minimal/pair@lab1", "vs-20250305020000-0005-2-b"][..], "only as a shell line"),
    ] {
        let (o, argv) = with_fake_tools(dir.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains(expected), "{args:?}: {}", text(&o));
        assert!(argv.is_empty(), "{args:?} ran {argv:?}");
    }
}
