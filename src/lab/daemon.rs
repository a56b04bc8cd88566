//! Starting a host's daemons: virtlogd and libvirtd in a private mount and UTS
//! namespace inside the host's network namespace, and (on h1 only) dnsmasq
//! serving DHCP and DNS on the bridge.

use std::path::Path;
use std::time::Duration;

use super::command::{self, QUICK};
use super::error::LabError;
use super::layout::{BRIDGE, DOMAIN, HostLayout, SUBNET};
use super::process::{self, NsId};
use super::wait::wait_until;

/// How long libvirtd gets to answer on its socket after start.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Time limit of one `virsh` probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
const READY_POLL: Duration = Duration::from_millis(100);

/// The shell script run by `unshare -m -u` in the host's network namespace.
/// `$1` is the host name, `$2` the host's state directory.
///
/// `/run` becomes a private tmpfs first: `/run/libvirt` need not exist on the
/// machine (nothing is created outside the lab directory), and the daemons do
/// not see the machine's D-Bus or anything else under `/run`. `/etc/hosts`
/// becomes the lab's, so libvirtd resolves its own host name. Every mount is
/// private to this namespace, so all of them vanish when its last process
/// exits. libvirtd's own default is to never exit when idle (the 120 s seen on
/// Debian comes from the systemd unit's LIBVIRTD_ARGS); `--timeout 0` says so
/// explicitly.
pub const START_SCRIPT: &str = r#"set -eu
hostname "$1"
mount --make-rprivate /
mount -t tmpfs -o mode=0755 vs-lab-run /run
mkdir -p /run/libvirt /run/lock
mount --bind "$2/run" /run/libvirt
mount --bind "$2/lib" /var/lib/libvirt
mount --bind "$2/etc" /etc/libvirt
mount --bind "$2/log" /var/log/libvirt
mount --bind "$2/cache" /var/cache/libvirt
mount --bind "$2/hosts" /etc/hosts
virtlogd -d -p /run/libvirt/virtlogd.pid
exec libvirtd -d --timeout 0 --pid-file /run/libvirt/libvirtd.pid
"#;

/// The command line that starts virtlogd and libvirtd for `host`.
pub fn libvirt_start_argv(host: &HostLayout) -> Vec<String> {
    let mut argv: Vec<String> = ["ip", "netns", "exec"].map(String::from).to_vec();
    argv.push(host.netns());
    argv.extend(["unshare", "-m", "-u", "sh", "-c", START_SCRIPT, "vs-lab-start"].map(String::from));
    argv.push(host.hostname());
    argv.push(host.root.to_string_lossy().into_owned());
    argv
}

/// Starts virtlogd and libvirtd; returns once both have daemonized (not once
/// libvirtd answers: see [`wait_ready`]).
pub fn start_libvirt(host: &HostLayout) -> Result<(), LabError> {
    let argv = libvirt_start_argv(host);
    command::run_daemonizing(
        &format!("{}: start virtlogd and libvirtd", host.name()),
        &mut command::command(&argv),
        &host.start_log(),
        QUICK,
    )
}

/// Waits until libvirtd answers `virsh hostname` with this host's name. Fails
/// early if libvirtd has died.
pub fn wait_ready(host: &HostLayout) -> Result<(), LabError> {
    let mut last = String::from("none");
    let ready = wait_until(READY_TIMEOUT, READY_POLL, || {
        match answers(host) {
            Ok(()) => return Ok(true),
            Err(e) => last = e,
        }
        let pid = process::read_pid_file(&host.libvirtd_pid_file());
        if pid.is_some_and(|p| !process::is_alive(p)) {
            return Err(LabError::DaemonExited {
                host: host.name(),
                daemon: "libvirtd".into(),
                log_tail: log_tail(&host.libvirtd_log()),
            });
        }
        Ok(false)
    })?;
    if ready {
        return Ok(());
    }
    Err(LabError::NotReady {
        host: host.name(),
        socket: host.socket(),
        timeout: humantime::format_duration(READY_TIMEOUT).to_string(),
        last,
        log_tail: log_tail(&host.libvirtd_log()),
    })
}

/// `Ok` if libvirtd answers on the host's socket with the host's name,
/// otherwise what went wrong.
pub fn answers(host: &HostLayout) -> Result<(), String> {
    let uri = host.uri();
    let mut cmd = command::command(&["virsh", "-q", "-c", uri.as_str(), "hostname"]);
    let out = command::run("probe libvirtd", &mut cmd, PROBE_TIMEOUT).map_err(|e| e.to_string())?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let fqdn = format!("{}.{DOMAIN}", host.hostname());
    if name == host.hostname() || name == fqdn {
        Ok(())
    } else {
        Err(format!("libvirtd on {} calls itself {name:?}, expected {:?}", host.socket().display(), host.hostname()))
    }
}

/// dnsmasq's arguments for the lab's DHCP and DNS server on h1's bridge.
pub fn dnsmasq_args(h1: &HostLayout) -> Vec<String> {
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let gw = h1.ip();
    vec![
        "--conf-file=/dev/null".into(),
        format!("--interface={BRIDGE}"),
        "--bind-interfaces".into(),
        "--except-interface=lo".into(),
        format!("--dhcp-range={SUBNET}.100,{SUBNET}.199,255.255.255.0,1h"),
        format!("--dhcp-option=option:router,{gw}"),
        format!("--dhcp-option=option:dns-server,{gw}"),
        "--dhcp-authoritative".into(),
        // dnsmasq otherwise pings an address before offering it and handles
        // no other DHCP packet for up to 3 s meanwhile: slow TCG guests with
        // short DHCP timeouts (udhcpc -T 1) then miss their replies. The lab
        // is the only allocator on its segment, so the check buys nothing.
        "--no-ping".into(),
        format!("--dhcp-leasefile={}", path(&h1.dnsmasq_leases())),
        format!("--pid-file={}", path(&h1.dnsmasq_pid_file())),
        format!("--log-facility={}", path(&h1.dnsmasq_log())),
        "--log-dhcp".into(),
        "--no-resolv".into(),
        "--no-hosts".into(),
        format!("--addn-hosts={}", path(&h1.hosts_file())),
        format!("--domain={DOMAIN}"),
        format!("--address=/gateway.{DOMAIN}/{gw}"),
        "--user=root".into(),
        "--group=root".into(),
    ]
}

/// Starts dnsmasq in h1's namespace and checks it is running.
pub fn start_dnsmasq(h1: &HostLayout) -> Result<i32, LabError> {
    let step = format!("{}: start dnsmasq", h1.name());
    let mut argv = vec!["ip".to_string(), "netns".into(), "exec".into(), h1.netns(), "dnsmasq".into()];
    argv.extend(dnsmasq_args(h1));
    let _ = std::fs::remove_file(h1.dnsmasq_pid_file());
    command::run_daemonizing(&step, &mut command::command(&argv), &h1.start_log(), QUICK)?;
    // dnsmasq's parent exits after the daemon has written its pid file.
    let ns = NsId::of(&super::net::netns_path(&h1.netns()));
    process::daemon_pid(&h1.dnsmasq_pid_file(), ns, "dnsmasq").ok_or_else(|| LabError::DaemonExited {
        host: h1.name(),
        daemon: "dnsmasq".into(),
        log_tail: log_tail(&h1.dnsmasq_log()),
    })
}

/// "; LOG ends with: ..." or "" when the log is empty or missing.
fn log_tail(log: &Path) -> String {
    let tail = command::file_tail(log, 1500);
    if tail.is_empty() { String::new() } else { format!("; {} ends with: {tail}", log.display()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_command_line() {
        let h = HostLayout::new(Path::new("/var/tmp/virtsmoke-lab"), 2);
        let argv = libvirt_start_argv(&h);
        assert_eq!(argv[..9], ["ip", "netns", "exec", "vs-lab-h2", "unshare", "-m", "-u", "sh", "-c"]);
        assert_eq!(argv[10..], ["vs-lab-start", "vs-lab-h2", "/var/tmp/virtsmoke-lab/h2"]);
    }

    #[test]
    fn start_script_binds_every_state_directory() {
        let h = HostLayout::new(Path::new("/lab"), 1);
        for (dir, target) in h.binds() {
            let sub = dir.file_name().unwrap().to_str().unwrap();
            let line = format!("mount --bind \"$2/{sub}\" {target}\n");
            assert!(START_SCRIPT.contains(&line), "missing {line}");
        }
        // Mounts must be private before the first one is made.
        let private = START_SCRIPT.find("--make-rprivate").unwrap();
        assert!(private < START_SCRIPT.find("mount -t").unwrap());
        assert!(START_SCRIPT.contains("--timeout 0"));
    }

    #[test]
    fn start_script_is_valid_shell() {
        let out = std::process::Command::new("sh").args(["-n", "-c", START_SCRIPT]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    #[test]
    fn dnsmasq_command_line() {
        let h1 = HostLayout::new(Path::new("/lab"), 1);
        let args = dnsmasq_args(&h1);
        for want in [
            "--interface=vsbr0",
            "--bind-interfaces",
            "--dhcp-range=10.77.0.100,10.77.0.199,255.255.255.0,1h",
            "--dhcp-option=option:router,10.77.0.1",
            "--dhcp-leasefile=/lab/h1/dnsmasq.leases",
            "--pid-file=/lab/h1/dnsmasq.pid",
            "--address=/gateway.lab.virtsmoke.test/10.77.0.1",
            "--conf-file=/dev/null",
            "--no-ping",
        ] {
            assert!(args.iter().any(|a| a == want), "missing {want}");
        }
    }
}
