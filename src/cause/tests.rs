//! Each rule on recorded console and log excerpts, with messages built the
//! way the steps build them.

use std::time::{Duration, SystemTime};

use super::*;
use crate::events::{CaseReport, Outcome, StepRecord};

fn step(name: &str, outcome: Outcome, message: &str, detail: Option<&str>) -> StepRecord {
    StepRecord {
        name: name.into(),
        outcome,
        duration: Duration::from_secs(10),
        message: Some(message.into()),
        detail: detail.map(Into::into),
        attempts: vec![],
    }
}

fn passed(name: &str) -> StepRecord {
    StepRecord { outcome: Outcome::Passed, message: None, ..step(name, Outcome::Passed, "", None) }
}

fn report(steps: Vec<StepRecord>, console: &str) -> CaseReport {
    CaseReport {
        name: "s/c@xen1".into(),
        scenario: "s".into(),
        host: "xen1".into(),
        // 03:26:00 UTC.
        started: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_181_960),
        duration: Duration::from_secs(60),
        outcome: CaseReport::outcome_of(&steps),
        steps,
        properties: vec![],
        consoles: vec![("g".into(), console.into())],
        artifacts: vec![],
        kept: vec![],
        cause: None,
    }
}

fn id_of(r: &CaseReport) -> CauseId {
    classify(r, &[]).id
}

/// A Debian 12 kernel that lost its root device (recorded on the lab).
const PANIC: &str = "\
[    1.912345] VFS: Cannot open root device \"vda1\" or unknown-block(0,0): error -6\r
[    1.912400] Please append a correct \"root=\" boot option; here are the available partitions:\r
[    1.912500] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\r
[    1.912600] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0-27-amd64 #1  Debian 6.1.115-1\r
[    1.912700] Hardware name: Xen HVM domU, BIOS 4.17.5 11/02/2026\r
[    1.912800] Call Trace:\r
[    1.912900]  <TASK>\r
[    1.913000]  dump_stack_lvl+0x44/0x5c\r
";

#[test]
fn a_kernel_panic_quotes_the_first_lines_of_its_block() {
    let r = report(
        vec![
            passed("boot.running"),
            step("boot.console", Outcome::Failed, "console line 3: Kernel panic - not syncing: VFS: …", Some(PANIC)),
        ],
        PANIC,
    );
    let c = classify(&r, &[]);
    assert_eq!(c.id, CauseId::GuestKernelPanic);
    assert!(c.summary.starts_with("the guest kernel panicked: Kernel panic - not syncing: VFS"), "{}", c.summary);
    assert_eq!(c.evidence.len(), 6);
    assert!(c.evidence[0].contains("Kernel panic - not syncing"), "{:?}", c.evidence);
    assert!(c.evidence[4].contains("<TASK>") && c.evidence[5].contains("dump_stack_lvl"));
}

#[test]
fn an_oops_and_a_bug_are_named_as_such() {
    let oops = "[   12.000001] BUG: kernel NULL pointer dereference, address: 0000000000000008\n[   12.000002] #PF: supervisor read access in kernel mode\n";
    let r =
        report(vec![step("boot.ssh", Outcome::Failed, "the domain is no longer running (state: Crashed)", None)], oops);
    let c = classify(&r, &[]);
    assert_eq!(c.id, CauseId::GuestKernelPanic);
    assert!(c.summary.contains("hit a BUG"), "{}", c.summary);
}

#[test]
fn a_domain_that_stopped_is_halted_with_its_last_console_line() {
    let console = "[    3.1] virtsmoke-init: fault=poweroff\n[    3.2] reboot: Power down\n";
    let m = "the domain is no longer running (state: Shutoff)";
    let r = report(vec![passed("boot.running"), step("boot.address", Outcome::Failed, m, None)], console);
    let c = classify(&r, &[]);
    assert_eq!(c.id, CauseId::GuestHaltedUnexpectedly);
    assert!(c.summary.contains("went down by itself ([    3.2] reboot: Power down)"), "{}", c.summary);
    assert!(c.summary.contains("while boot.address waited"), "{}", c.summary);
    assert!(c.evidence.iter().any(|e| e == "last console line: [    3.2] reboot: Power down"), "{:?}", c.evidence);
}

#[test]
fn a_boot_loader_that_never_reached_the_kernel_quotes_its_last_line() {
    let console = "SeaBIOS (version 1.16.2-debian-1.16.2-1)\r\nBooting from Hard Disk...\r\nBoot failed: not a bootable disk\r\n\r\nNo bootable device.\r\n";
    let m = "no boot marker `VIRTSMOKE-MARKER boot` on the console within 1m";
    let r = report(vec![passed("boot.running"), step("boot.console", Outcome::Failed, m, Some(console))], console);
    let c = classify(&r, &[]);
    assert_eq!(c.id, CauseId::BootLoaderNoKernel);
    assert!(c.summary.ends_with("its last console line: No bootable device."), "{}", c.summary);
    let empty = report(vec![step("boot.console", Outcome::Failed, m, None)], "");
    assert!(classify(&empty, &[]).summary.contains("the console stayed empty"));
}

#[test]
fn a_kernel_that_printed_then_stopped_is_a_stalled_boot() {
    let console = "[    0.000000] Linux version 6.1.0\n[    2.500000] xen:balloon: Initialising balloon driver\n[    2.600000] clocksource: Switched to clocksource xen\n";
    let m = "no boot marker `VIRTSMOKE-MARKER boot` on the console within 1m";
    let r = report(vec![step("boot.console", Outcome::Failed, m, Some(console))], console);
    let c = classify(&r, &[]);
    assert_eq!(c.id, CauseId::BootStalled);
    assert!(c.summary.ends_with("[    2.600000] clocksource: Switched to clocksource xen"), "{}", c.summary);
    let quiet = format!("{m}; no console output for the last 48 s");
    let r = report(vec![step("boot.console", Outcome::Failed, &quiet, Some(console))], console);
    let c = classify(&r, &[]);
    assert_eq!(c.id, CauseId::BootStalled);
    assert!(
        c.summary.starts_with(
            "the boot stalled at boot.console, no console progress for 48 s; the console's last line: [    2.6"
        ),
        "{}",
        c.summary
    );
}

/// The test image's DHCP client with a stopped dnsmasq.
const NO_LEASE: &str = "\
VIRTSMOKE-MARKER boot\n\
udhcpc: started, v1.36.1\n\
udhcpc: broadcasting discover\n\
udhcpc: sending discover\n\
udhcpc: sending discover\n\
udhcpc: no lease, failing\n\
udhcpc-script: leasefail on eth0\n\
VIRTSMOKE-MARKER net-failed eth0\n";

#[test]
fn no_address_tells_no_lease_from_a_lease_not_configured() {
    let m = "the guest reported that networking failed: VIRTSMOKE-MARKER net-failed eth0";
    let r = report(vec![passed("boot.console"), step("boot.address", Outcome::Failed, m, Some(NO_LEASE))], NO_LEASE);
    let c = classify(&r, &[]);
    assert_eq!(c.id, CauseId::NoAddressNoLease);
    assert_eq!(c.evidence.last().unwrap(), "VIRTSMOKE-MARKER net-failed eth0");
    let leased = "VIRTSMOKE-MARKER boot\nudhcpc: lease of 10.77.0.23 obtained from 10.77.0.1, lease time 3600\n";
    let m = "the guest's address did not become known within 1m";
    let r = report(vec![step("boot.address", Outcome::Failed, m, Some(leased))], leased);
    let c = classify(&r, &[]);
    assert_eq!(c.id, CauseId::NoAddressLeaseNotConfigured);
    assert!(c.summary.contains("lease of 10.77.0.23 obtained"), "{}", c.summary);
}

#[test]
fn a_guest_that_never_asked_for_an_address_stalled_or_booted_without_network() {
    // The test image's `virtsmoke.fault=hang`: the marker, then nothing.
    let hang = "Run /init as init process\nVIRTSMOKE-MARKER boot\nvirtsmoke-init: fault=hang: no network, no ssh\n";
    let m = "the guest's address did not become known within 30s; no console output for the last 29 s";
    let r = report(vec![passed("boot.console"), step("boot.address", Outcome::Failed, m, None)], hang);
    let c = classify(&r, &[]);
    assert_eq!(c.id, CauseId::BootStalled, "{c:?}");
    assert!(c.summary.contains("no console progress for 29 s"), "{}", c.summary);
    assert!(c.summary.ends_with("virtsmoke-init: fault=hang: no network, no ssh"), "{}", c.summary);
    // `network: none`: the boot went to its end, without a DHCP client.
    let nonet = "VIRTSMOKE-MARKER boot\nvirtsmoke-init: networking disabled (net=none)\nVIRTSMOKE-MARKER ssh-ready\n";
    let m = "the guest's address did not become known within 30s; no console output for the last 25 s";
    let r = report(vec![passed("boot.console"), step("boot.address", Outcome::Failed, m, None)], nonet);
    let c = classify(&r, &[]);
    assert_eq!(c.id, CauseId::NoAddressNoLease, "{c:?}");
    assert!(c.summary.starts_with("the guest booted but never asked for an address"), "{}", c.summary);
}

fn ssh_case(message: &str) -> CaseReport {
    let console = "VIRTSMOKE-MARKER boot\nVIRTSMOKE-MARKER net eth0 10.77.0.5/24\n";
    report(vec![passed("boot.address"), step("web: boot.ssh", Outcome::Failed, message, None)], console)
}

#[test]
fn ssh_failures_say_which_part_of_ssh() {
    use crate::guest::ssh::SshError;
    let target = "root@10.77.0.5:22".to_string();
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    let connect = crate::error_chain(&SshError::Connect { target: target.clone(), source: refused });
    let timeout = format!("ssh to {target} did not answer within 1m (last error: {connect})");
    assert_eq!(id_of(&ssh_case(&timeout)), CauseId::SshNotListening);
    let auth = SshError::Authentication {
        target: target.clone(),
        key: "/run/k".into(),
        source: ssh2::Error::new(ssh2::ErrorCode::Session(-18), "Username/PublicKey combination invalid"),
    };
    assert_eq!(id_of(&ssh_case(&crate::error_chain(&auth))), CauseId::SshKeyRefused);
    let host_key = SshError::HostKey { target, seen: "abc".into(), expected: "SHA256:def".into() };
    assert_eq!(id_of(&ssh_case(&crate::error_chain(&host_key))), CauseId::SshHostKeyMismatch);
    let c = classify(&ssh_case("`uname -r` exited with 127: sh: uname: not found"), &[]);
    assert_eq!(c.id, CauseId::SshCommandFailed);
    assert_eq!(c.evidence, ["`uname -r` exited with 127: sh: uname: not found"]);
}

#[test]
fn a_wrong_guest_kind_is_named() {
    let m = "the guest did not boot as xen-pvh: it booted as xen-hvm (cpuid: xen, no PVH entry)";
    let r = report(vec![passed("boot.ssh"), step("boot.kind", Outcome::Failed, m, None)], "");
    assert_eq!(id_of(&r), CauseId::GuestKindWrong);
    let m = "kernel /bin/sh has no Xen PV entry point (no such Xen ELF note)";
    let r = report(vec![step("boot.running", Outcome::Failed, m, None)], "");
    let c = classify(&r, &[]);
    assert_eq!(c.id, CauseId::GuestKindWrong);
    assert_eq!(c.summary, format!("the kernel cannot boot as the kind asked for: {m}"));
}

#[test]
fn a_refused_domain_names_libvirts_words_and_the_element() {
    let m = "creating the domain failed on `vs-1-0-g`: unsupported configuration: \
             libxl driver does not support element 'memoryBacking'";
    let r = report(vec![step("boot.running", Outcome::Error, m, None)], "");
    let c = classify(&r, &[]);
    assert_eq!(c.id, CauseId::HypervisorRefusedDomain);
    assert!(c.summary.contains("(domain XML element <memoryBacking>)"), "{}", c.summary);
    assert!(c.summary.ends_with("does not support element 'memoryBacking'"), "{}", c.summary);
    assert_eq!(super::infra::named_element_for_tests("unsupported <graphics> type"), Some("graphics"));
}

/// What the run saw when the nested Xen host went away (issue 18).
fn host_gone() -> CaseReport {
    let lost =
        "Cannot recv data: ssh: connect to host 127.0.0.1 port 2221: Connection refused: Connection reset by peer";
    let mut r = report(
        vec![
            passed("boot.running"),
            step("boot.console", Outcome::Failed, "the domain is no longer running (state: Other)", Some("[ 1.0] x")),
            step(
                "teardown",
                Outcome::Error,
                &format!(
                    "teardown could not be proven: vs-1-0-g: destroying the domain failed on `vs-1-0-g`: {lost}; \
                     cannot list domains to prove teardown: listing domains failed on `xen+ssh://root@127.0.0.1:2221/system`: {lost}"
                ),
                None,
            ),
        ],
        "[ 1.0] x",
    );
    r.outcome = Outcome::Error;
    r
}

#[test]
fn a_host_that_went_away_is_the_cause_not_the_guest() {
    let r = host_gone();
    let c = classify(&r, &[]);
    assert_eq!(c.id, CauseId::HostUnreachable);
    assert!(c.id.is_infrastructure());
    // The console step took 10 s, teardown another 10 s: 03:26:30.
    assert!(
        c.summary.starts_with(
            "host xen1 became unreachable at 03:26:30 (Cannot recv data: ssh: connect to host 127.0.0.1 port 2221"
        ),
        "{}",
        c.summary
    );
    let later = report(
        vec![step("host", Outcome::Error, "not run: host xen1 unreachable since 03:26:30 (SSH refused)", None)],
        "",
    );
    assert_eq!(classify(&later, &[]).summary, "host xen1 unreachable since 03:26:30 (SSH refused)");
}

#[test]
fn a_connection_libvirt_reports_lost_by_its_error_code_is_the_host() {
    let m = format!(
        "cannot read the domain state: {}: reading the domain state failed on `vs-1-0-g`: internal error: client socket is closed",
        crate::backend::error::CONNECTION_LOST
    );
    let r = report(vec![passed("boot.running"), step("boot.ssh", Outcome::Error, &m, None)], "");
    let c = classify(&r, &[]);
    assert_eq!(c.id, CauseId::HostUnreachable);
    assert!(
        c.summary.contains("(libvirt lost its connection to the host: reading the domain state failed"),
        "{}",
        c.summary
    );
}

#[test]
fn a_definite_guest_verdict_before_the_host_went_away_stays_the_guests() {
    let mut r = host_gone();
    r.steps[1] = step("boot.kind", Outcome::Failed, "the guest did not boot as xen-pvh: it booted as xen-hvm", None);
    assert_eq!(id_of(&r), CauseId::GuestKindWrong);
    let mut r = host_gone();
    r.steps.insert(1, step("interrupted", Outcome::Error, "the run was interrupted", None));
    assert_eq!(id_of(&r), CauseId::RunInterrupted, "interrupted first");
    let mut r = host_gone();
    r.steps.push(step("interrupted", Outcome::Error, "the run was interrupted", None));
    assert_eq!(id_of(&r), CauseId::HostUnreachable, "interrupted after the host went away");
}

#[test]
fn attach_makes_an_unreachable_host_an_error_and_states_the_error_once() {
    let mut r = host_gone();
    r.outcome = Outcome::Failed;
    attach(&mut r, &[]);
    assert_eq!(r.outcome, Outcome::Error);
    assert_eq!(r.cause.as_ref().map(|c| c.id), Some(CauseId::HostUnreachable));
    assert_eq!(r.steps[1].outcome, Outcome::Error, "a symptom of the host is no guest failure");
    let teardown = r.steps[2].message.as_deref().unwrap();
    assert_eq!(teardown.matches("Cannot recv data").count(), 1, "{teardown}");
    assert!(teardown.ends_with("`xen+ssh://root@127.0.0.1:2221/system`: same as above"), "{teardown}");
    let mut ok = report(vec![passed("boot.ssh")], "");
    attach(&mut ok, &[]);
    assert_eq!(ok.cause, None);
}

#[test]
fn repeats_across_steps_refer_to_where_they_were_first_stated() {
    let lost = "Cannot recv data: End of file while reading data: Input/output error";
    let mut steps = vec![
        step(
            "boot.ssh",
            Outcome::Error,
            &format!("cannot read the domain state: {lost}"),
            Some("console excerpt, long enough"),
        ),
        step(
            "teardown",
            Outcome::Error,
            &format!("teardown could not be proven: g: {lost}"),
            Some("console excerpt, long enough"),
        ),
        step("boot.kind", Outcome::Skipped, &format!("x: {lost}"), None),
    ];
    repeat::refer(&mut steps);
    assert_eq!(steps[0].message.as_deref(), Some(format!("cannot read the domain state: {lost}").as_str()));
    assert_eq!(steps[1].message.as_deref(), Some("teardown could not be proven: g: same as boot.ssh"));
    assert_eq!(steps[1].detail.as_deref(), Some("(same as boot.ssh)"));
    assert!(steps[2].message.as_deref().unwrap().contains(lost), "skipped steps are left alone");
}

#[test]
fn harness_and_interruption_are_named() {
    let r =
        report(vec![step("harness", Outcome::Error, "the case's task panicked (a bug in virtsmoke): boom", None)], "");
    assert_eq!(id_of(&r), CauseId::HarnessError);
    let r = report(vec![step("interrupted", Outcome::Error, "the run was interrupted", None)], "");
    assert_eq!(id_of(&r), CauseId::RunInterrupted);
}

#[test]
fn what_no_rule_explains_is_unclassified_with_the_raw_facts() {
    let r = report(
        vec![step("migrate.round-1", Outcome::Failed, "the guest answered differently after migration", None)],
        "last words\n",
    );
    let c = classify(&r, &[]);
    assert_eq!(c.id, CauseId::Unclassified);
    assert!(c.summary.contains("migrate.round-1: the guest answered differently"), "{}", c.summary);
    assert_eq!(c.evidence, ["migrate.round-1: the guest answered differently after migration", "console: last words"]);
}

#[test]
fn a_xen_side_crash_is_read_from_the_picked_lines() {
    let r = report(
        vec![step("boot.console", Outcome::Failed, "the domain is no longer running (state: Crashed)", None)],
        "[    0.000000] Linux version 6.1\n",
    );
    let xen = vec!["xl dmesg: (XEN) d5v0 Triple fault - invoking HVM shutdown action 1".to_string()];
    let c = classify(&r, &xen);
    assert_eq!(c.id, CauseId::XenSideCrash);
    assert!(c.summary.ends_with("Triple fault - invoking HVM shutdown action 1"), "{}", c.summary);
    assert_eq!(id_of(&r), CauseId::GuestHaltedUnexpectedly, "without Xen's lines the guest only halted");
}

/// `xl dmesg` of a nested Xen 4.17 host with console_timestamps=date, where
/// domain 5 (ours) triple-faulted and domain 4 (another run's) did something else.
const XL_DMESG: &str = "\
(XEN) [2026-12-02 03:20:01.000] d4v0 Triple fault - invoking HVM shutdown action 1\n\
(XEN) [2026-12-02 03:26:05.100] HVM d5v0 save: CPU\n\
(XEN) [2026-12-02 03:26:10.200] d5v0 MMIO emulation failed: d5 64bit @ 0010:ffffffff81000000 -> 0f 0b\n\
(XEN) [2026-12-02 03:26:10.300] d5v0 Triple fault - invoking HVM shutdown action 1\n\
(XEN) [2026-12-02 03:26:10.400] *** Dumping CPU0 host state: ***\n";

/// libvirt's libxl driver log for the domain.
const LIBXL: &str = "\
2026-12-02 03:26:01.318+0000: libxl: libxl_create.c:669:libxl__domain_make: Domain 5:created\n\
2026-12-02 03:26:10.500+0000: libxl: libxl_domain.c:1612:libxl__destroy_domid: Domain 5:Non-existant domain\n\
2026-12-02 03:26:10.600+0000: libxl: libxl_dm.c:3189:device_model_spawn_outcome: Domain 5:domain 5 device model: spawn failed (rc=-3)\n\
2026-12-02 03:26:11.000+0000: libxl: libxl_create.c:1900:domcreate_devmodel_started: Domain 7:device model did not start: -3\n";

const QEMU_DM: &str = "\
qemu-system-i386: -serial pty: char device redirected to /dev/pts/3 (label serial0)\n\
qemu-system-i386: failed to create 'console' device '0': declined\n\
qemu-system-i386: terminating on signal 15 from pid 1234 (/usr/sbin/libvirtd)\n";

#[test]
fn xen_lines_are_picked_for_the_domain_and_the_window() {
    let at = |s: &str| humantime::parse_rfc3339_weak(s).unwrap();
    let logs = xen::XenLogs { xl_dmesg: XL_DMESG, libxl: LIBXL, device_model: QEMU_DM, console: "" };
    let dom = xen::Domain { id: Some(5), name: "vs-1-0-g" };
    let picked = xen::pick(logs, dom, at("2026-12-02 03:26:00"), at("2026-12-02 03:27:00"));
    assert_eq!(
        picked,
        [
            "xl dmesg: (XEN) [2026-12-02 03:26:10.200] d5v0 MMIO emulation failed: d5 64bit @ 0010:ffffffff81000000 -> 0f 0b",
            "xl dmesg: (XEN) [2026-12-02 03:26:10.300] d5v0 Triple fault - invoking HVM shutdown action 1",
            "libxl: 2026-12-02 03:26:10.600+0000: libxl: libxl_dm.c:3189:device_model_spawn_outcome: Domain 5:domain 5 device model: spawn failed (rc=-3)",
            "device model: qemu-system-i386: failed to create 'console' device '0': declined",
        ]
    );
    // Before the case: nothing of domain 5 yet.
    let before = xen::pick(logs, dom, at("2026-12-02 03:00:00"), at("2026-12-02 03:21:00"));
    assert!(before.iter().all(|l| !l.contains("d5")), "{before:?}");
    let r = report(
        vec![step("boot.console", Outcome::Failed, "the domain is no longer running (state: Crashed)", None)],
        "",
    );
    let c = classify(&r, &picked);
    assert_eq!(c.id, CauseId::XenSideCrash);
    assert!(c.summary.contains("MMIO emulation failed"), "{}", c.summary);
    assert_eq!(c.evidence.len(), picked.len(), "every picked line quoted once: {:?}", c.evidence);
    // Quoted whatever the rule: a guest that stopped, with the device model's words.
    let r = report(
        vec![step("boot.console", Outcome::Failed, "the domain is no longer running (state: Shutoff)", None)],
        "",
    );
    let c = classify(&r, &picked[3..]);
    assert_eq!(c.id, CauseId::GuestHaltedUnexpectedly);
    assert_eq!(
        c.evidence.last().unwrap(),
        "device model: qemu-system-i386: failed to create 'console' device '0': declined"
    );
}

#[test]
fn xen_lines_without_time_stamps_are_judged_by_domain_and_words() {
    let dmesg = "(XEN) d3v0 Triple fault - invoking HVM shutdown action 1\n(XEN) d2v0 Triple fault\n(XEN) Panic on CPU 1:\n(d3) HVM Loader\n";
    let console = "[    5.1] Kernel panic - not syncing: Attempted to kill init!\n";
    let logs = xen::XenLogs { xl_dmesg: dmesg, console, ..Default::default() };
    let epoch = SystemTime::UNIX_EPOCH;
    let picked = xen::pick(logs, xen::Domain { id: Some(3), name: "vs-x" }, epoch, epoch);
    assert_eq!(
        picked,
        [
            "xl dmesg: (XEN) d3v0 Triple fault - invoking HVM shutdown action 1",
            "xl dmesg: (XEN) Panic on CPU 1:",
            "xen console: Kernel panic - not syncing: Attempted to kill init!",
        ]
    );
}
