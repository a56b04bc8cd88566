//! The QEMU that runs one Xen host: its command line (pure, tested), starting
//! it in the background, finding it again, and stopping it.
//!
//! QEMU runs under software emulation (`-accel tcg`; KVM is not required) and
//! offers SVM with nested paging (`+svm,+npt`): Debian's Xen has no shadow
//! paging, so HVM guests need hardware-assisted paging. `+rdrand` lets dom0's
//! and every guest's kernel seed its random number generator at once instead
//! of waiting for timer jitter (sshd and dropbear wait for it; under nested
//! emulation that took half a minute). Xen is loaded as a multiboot kernel,
//! with dom0's kernel and initramfs as modules.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::XenLabError;
use super::layout::XenHostLayout;
use crate::lab::command::{self, QUICK};
use crate::lab::process;
use crate::lab::wait::{POLL_INTERVAL, wait_until};

/// Memory of the whole nested machine, and dom0's share of it.
pub const HOST_MEMORY_MIB: u32 = 3072;
pub const DOM0_MEMORY_MIB: u32 = 1024;
/// Virtual CPUs of the nested machine (all of them serve dom0 too).
pub const HOST_CPUS: u32 = 2;
/// How long QEMU may take to set up before it daemonizes.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a host gets to exit after `quit`.
const QUIT_GRACE: Duration = Duration::from_secs(15);

/// The built dom0 image's boot files and disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dom0Image {
    /// The image's directory (identifies the build).
    pub dir: PathBuf,
    pub xen: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub disk: PathBuf,
}

impl Dom0Image {
    pub fn in_dir(dir: &Path) -> Self {
        Dom0Image {
            dir: dir.to_path_buf(),
            xen: dir.join("xen.elf"),
            kernel: dir.join("vmlinuz"),
            initrd: dir.join("initrd.img"),
            disk: dir.join("dom0.qcow2"),
        }
    }
}

/// Xen's command line.
pub fn xen_cmdline() -> String {
    format!(
        "dom0_mem={DOM0_MEMORY_MIB}M,max:{DOM0_MEMORY_MIB}M dom0_max_vcpus={HOST_CPUS} console=com1 com1=115200 noreboot \
         loglvl=all guest_loglvl=all console_timestamps=boot"
    )
}

/// dom0's kernel command line: root on the virtio disk, `eth0` for QEMU's
/// user network, and the per-host settings `virtsmoke-dom0-params` reads
/// (bridge MAC and address, DHCP range, the other hosts' names, root's key).
pub fn dom0_cmdline(host: &XenHostLayout, public_key: &str) -> String {
    let (first, last) = host.dhcp_range();
    let mut words = vec![
        "console=hvc0".to_string(),
        "root=/dev/vda".to_string(),
        "rw".to_string(),
        "net.ifnames=0".to_string(),
        format!("systemd.hostname={}", host.name()),
        format!("virtsmoke.mac={}", host.bridge_mac()),
        format!("virtsmoke.addr={}", host.bridge_address()),
        format!("virtsmoke.dhcp={first},{last}"),
    ];
    words.extend(super::layout::peers().into_iter().map(|(name, addr)| format!("virtsmoke.peer={name}={addr}")));
    let key: Vec<&str> = public_key.split_whitespace().take(2).collect();
    if key.len() == 2 {
        words.push(format!("virtsmoke.key={},{}", key[0], key[1]));
    }
    words.join(" ")
}

/// The QEMU command line of one host, daemonizing with a pid file.
pub fn argv(host: &XenHostLayout, image: &Dom0Image, public_key: &str) -> Vec<String> {
    let p = |path: &Path| path.display().to_string();
    // Multiboot modules are "PATH ARGS" separated by ','; a ',' inside ARGS
    // is written ',,'.
    let modules =
        format!("{} {},{}", p(&image.kernel), dom0_cmdline(host, public_key).replace(',', ",,"), p(&image.initrd));
    let args = [
        "qemu-system-x86_64".to_string(),
        "-name".into(),
        format!("virtsmoke-{}", host.name()),
        "-accel".into(),
        "tcg".into(),
        "-cpu".into(),
        "qemu64,+svm,+npt,+rdrand".into(),
        "-m".into(),
        HOST_MEMORY_MIB.to_string(),
        "-smp".into(),
        HOST_CPUS.to_string(),
        "-nodefaults".into(),
        "-no-reboot".into(),
        "-display".into(),
        "none".into(),
        "-vga".into(),
        "none".into(),
        "-kernel".into(),
        p(&image.xen),
        "-append".into(),
        xen_cmdline(),
        "-initrd".into(),
        modules,
        "-drive".into(),
        format!("file={},if=none,id=disk0,format=qcow2,cache=unsafe", p(&host.overlay())),
        "-device".into(),
        "virtio-blk-pci,drive=disk0".into(),
        // restrict=on: dom0 reaches nothing outside; only the forward comes in.
        "-netdev".into(),
        format!("user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:{}-:22", host.port()),
        "-device".into(),
        "virtio-net-pci,netdev=net0".into(),
    ];
    let mut args = args.to_vec();
    args.extend(links(host));
    args.extend([
        "-smbios".to_string(),
        format!("type=1,uuid={}", host.uuid()),
        "-chardev".into(),
        format!(
            "socket,id=serial0,path={},server=on,wait=off,logfile={}",
            p(&host.serial_socket()),
            p(&host.serial_log())
        ),
        "-serial".into(),
        "chardev:serial0".into(),
        "-monitor".into(),
        format!("unix:{},server=on,wait=off", p(&host.monitor_socket())),
        "-daemonize".into(),
        "-pidfile".into(),
        p(&host.pid_file()),
    ]);
    args
}

/// The NICs that join this host's guest bridge to its neighbours' (dom0
/// bridges `eth1` and `eth2` into `xenbr0`): it listens for the next host
/// and connects to the previous one, so hosts must start in order. Only
/// loopback: nothing leaves this machine.
fn links(host: &XenHostLayout) -> Vec<String> {
    let mut args = vec![
        "-netdev".to_string(),
        format!("socket,id=link1,listen=127.0.0.1:{}", host.link_port()),
        "-device".into(),
        format!("virtio-net-pci,netdev=link1,mac={}", host.link_mac(1)),
    ];
    if let Some(port) = host.uplink_port() {
        args.extend([
            "-netdev".to_string(),
            format!("socket,id=link2,connect=127.0.0.1:{port}"),
            "-device".into(),
            format!("virtio-net-pci,netdev=link2,mac={}", host.link_mac(2)),
        ]);
    }
    args
}

/// Starts the host's QEMU; returns once it has daemonized. What QEMU prints
/// while starting goes to `qemu.log`, and into the error if it fails.
pub fn start(host: &XenHostLayout, image: &Dom0Image, public_key: &str) -> Result<(), XenLabError> {
    let argv = argv(host, image, public_key);
    let mut cmd = command::command(&argv);
    command::run_daemonizing(&format!("{}: start QEMU", host.name()), &mut cmd, &host.qemu_log(), START_TIMEOUT)?;
    Ok(())
}

/// Creates the host's overlay on the image's disk.
pub fn create_overlay(host: &XenHostLayout, image: &Dom0Image) -> Result<(), XenLabError> {
    let mut cmd = command::command(&[
        "qemu-img",
        "create",
        "-q",
        "-f",
        "qcow2",
        "-F",
        "qcow2",
        "-b",
        &image.disk.display().to_string(),
        &host.overlay().display().to_string(),
    ]);
    command::run(&format!("{}: create overlay", host.name()), &mut cmd, QUICK)?;
    Ok(())
}

/// The pid of the host's QEMU if it runs: the pid file names a live
/// `qemu-system-*` process whose command line has this host's monitor socket
/// (so a stale pid file whose pid was reused is not believed).
pub fn running_pid(host: &XenHostLayout) -> Option<i32> {
    let pid = process::read_pid_file(&host.pid_file())?;
    if !process::is_alive(pid) || !process::comm(pid).is_some_and(|c| c.starts_with("qemu-system")) {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let monitor = host.monitor_socket();
    let needle = monitor.as_os_str().as_encoded_bytes();
    cmdline.windows(needle.len()).any(|w| w == needle).then_some(pid)
}

/// Stops the host's QEMU: `quit` on its monitor, then SIGTERM and SIGKILL.
/// Nothing to do if it is not running.
pub fn stop(host: &XenHostLayout) -> Result<(), XenLabError> {
    let Some(pid) = running_pid(host) else {
        return Ok(());
    };
    if let Ok(mut sock) = UnixStream::connect(host.monitor_socket()) {
        // Read until QEMU closes the monitor: it has then taken the command.
        let _ = sock.set_write_timeout(Some(Duration::from_secs(5)));
        let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
        if sock.write_all(b"quit\n").is_ok() {
            let mut sink = [0u8; 4096];
            while matches!(sock.read(&mut sink), Ok(n) if n > 0) {}
        }
    }
    let _ = wait_until(QUIT_GRACE, POLL_INTERVAL, || Ok::<_, ()>(!process::is_alive(pid)));
    if process::terminate(&[pid]).is_empty() { Ok(()) } else { Err(XenLabError::Survivor { host: host.name(), pid }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK virtsmoke-xen-lab";

    const PEERS: &str = "virtsmoke.peer=xen1=10.88.0.1 virtsmoke.peer=xen2=10.88.0.2 \
                         virtsmoke.peer=xen3=10.88.0.3 virtsmoke.peer=xen4=10.88.0.4";

    #[test]
    fn dom0_gets_key_mac_and_hostname() {
        let h = XenHostLayout::new(Path::new("/lab"), 1);
        assert_eq!(
            dom0_cmdline(&h, KEY),
            format!(
                "console=hvc0 root=/dev/vda rw net.ifnames=0 systemd.hostname=xen1 \
                 virtsmoke.mac=02:78:65:6e:00:01 virtsmoke.addr=10.88.0.1/16 virtsmoke.dhcp=10.88.1.10,10.88.1.250 \
                 {PEERS} virtsmoke.key=ssh-ed25519,AAAAC3NzaC1lZDI1NTE5AAAAIK"
            )
        );
        assert!(!dom0_cmdline(&h, "").contains("virtsmoke.key"));
    }

    #[test]
    fn qemu_command_line() {
        let h = XenHostLayout::new(Path::new("/lab"), 2);
        let img = Dom0Image::in_dir(Path::new("/cache/xen-dom0-abc"));
        let a = argv(&h, &img, KEY);
        let after = |flag: &str| -> &str {
            let i = a.iter().position(|x| x == flag).unwrap_or_else(|| panic!("no {flag}"));
            &a[i + 1]
        };
        assert_eq!(a[0], "qemu-system-x86_64");
        assert_eq!(after("-accel"), "tcg");
        assert_eq!(after("-cpu"), "qemu64,+svm,+npt,+rdrand");
        assert_eq!(after("-kernel"), "/cache/xen-dom0-abc/xen.elf");
        assert_eq!(
            after("-append"),
            "dom0_mem=1024M,max:1024M dom0_max_vcpus=2 console=com1 com1=115200 noreboot \
             loglvl=all guest_loglvl=all console_timestamps=boot"
        );
        assert_eq!(
            after("-initrd"),
            format!(
                "/cache/xen-dom0-abc/vmlinuz console=hvc0 root=/dev/vda rw net.ifnames=0 \
                 systemd.hostname=xen2 virtsmoke.mac=02:78:65:6e:00:02 virtsmoke.addr=10.88.0.2/16 \
                 virtsmoke.dhcp=10.88.2.10,,10.88.2.250 {PEERS} \
                 virtsmoke.key=ssh-ed25519,,AAAAC3NzaC1lZDI1NTE5AAAAIK,/cache/xen-dom0-abc/initrd.img"
            )
        );
        assert_eq!(after("-drive"), "file=/lab/xen/xen2/dom0.qcow2,if=none,id=disk0,format=qcow2,cache=unsafe");
        assert_eq!(after("-netdev"), "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22");
        let all = |flag: &str| -> Vec<&str> { a.windows(2).filter(|w| w[0] == flag).map(|w| w[1].as_str()).collect() };
        assert_eq!(
            all("-netdev")[1..],
            ["socket,id=link1,listen=127.0.0.1:2242", "socket,id=link2,connect=127.0.0.1:2241"]
        );
        assert!(all("-device").contains(&"virtio-net-pci,netdev=link2,mac=02:78:65:6e:02:02"), "{a:?}");
        assert_eq!(after("-smbios"), "type=1,uuid=6c61622d-7865-6e00-8000-000000000002");
        // The first host only listens.
        let first = argv(&XenHostLayout::new(Path::new("/lab"), 1), &img, KEY);
        assert!(!first.iter().any(|x| x.contains("connect=")), "{first:?}");
        assert_eq!(
            after("-chardev"),
            "socket,id=serial0,path=/lab/xen/xen2/serial.sock,server=on,wait=off,logfile=/lab/xen/xen2/serial.log"
        );
        assert_eq!(after("-monitor"), "unix:/lab/xen/xen2/monitor.sock,server=on,wait=off");
        assert_eq!(after("-pidfile"), "/lab/xen/xen2/qemu.pid");
        assert!(a.contains(&"-daemonize".to_string()));
    }

    #[test]
    fn no_pid_without_a_pid_file() {
        let dir = tempfile::tempdir().unwrap();
        let h = XenHostLayout::new(dir.path(), 1);
        assert_eq!(running_pid(&h), None);
        stop(&h).unwrap();
    }

    #[test]
    fn a_pid_file_naming_another_process_is_not_believed() {
        let dir = tempfile::tempdir().unwrap();
        let h = XenHostLayout::new(dir.path(), 1);
        std::fs::create_dir_all(&h.root).unwrap();
        std::fs::write(h.pid_file(), format!("{}\n", std::process::id())).unwrap();
        assert_eq!(running_pid(&h), None);
    }
}
