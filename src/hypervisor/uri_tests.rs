use super::*;

/// One row: uri, family, transport, local, user, host, port.
type Row = (&'static str, UriFamily, Transport, bool, Option<&'static str>, Option<&'static str>, Option<u16>);

const REAL: &[Row] = &[
    ("qemu:///system", UriFamily::Kvm, Transport::Local, true, None, None, None),
    ("qemu:///session", UriFamily::Kvm, Transport::Local, true, None, None, None),
    (
        "qemu+unix:///system?socket=/var/tmp/virtsmoke-lab/h1/run/libvirt-sock",
        UriFamily::Kvm,
        Transport::Unix,
        true,
        None,
        None,
        None,
    ),
    ("qemu+ssh://root@kvm1/system", UriFamily::Kvm, Transport::Ssh, false, Some("root"), Some("kvm1"), None),
    ("xen:///system", UriFamily::Xen, Transport::Local, true, None, None, None),
    (
        "xen+ssh://root@127.0.0.1:2221/system?keyfile=/k&no_verify=1",
        UriFamily::Xen,
        Transport::Ssh,
        false,
        Some("root"),
        Some("127.0.0.1"),
        Some(2221),
    ),
    ("libxl:///", UriFamily::Xen, Transport::Local, true, None, None, None),
    ("test:///default", UriFamily::Test, Transport::Local, false, None, None, None),
    ("qemu+tcp://h/system", UriFamily::Kvm, Transport::Tcp, false, None, Some("h"), None),
    ("qemu+tls://h/system", UriFamily::Kvm, Transport::Tls, false, None, Some("h"), None),
    // A host and no transport: libvirt's default is TLS.
    ("qemu://h.example.org/system", UriFamily::Kvm, Transport::Tls, false, None, Some("h.example.org"), None),
    ("qemu+libssh2://u@[::1]:22/system", UriFamily::Kvm, Transport::Libssh2, false, Some("u"), Some("::1"), Some(22)),
    ("qemu+libssh://h/system", UriFamily::Kvm, Transport::Libssh, false, None, Some("h"), None),
    ("lxc:///system", UriFamily::Unknown, Transport::Local, false, None, None, None),
    ("QEMU+SSH://h/system", UriFamily::Kvm, Transport::Ssh, false, None, Some("h"), None),
];

#[test]
fn real_uris_parse() {
    for &(text, family, transport, local, user, host, port) in REAL {
        let u = Uri::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(u.family(), family, "{text}");
        assert_eq!(u.transport(), transport, "{text}");
        assert_eq!(u.is_local(), local, "{text}");
        assert_eq!(u.user(), user, "{text}");
        assert_eq!(u.host(), host, "{text}");
        assert_eq!(u.port(), port, "{text}");
        assert_eq!(u.names_a_host(), host.is_some(), "{text}");
        assert_eq!(u.to_string(), text);
    }
}

#[test]
fn query_parameters_are_decoded() {
    let u = Uri::parse("xen+ssh://root@127.0.0.1:2221/system?keyfile=/k&no_verify=1").unwrap();
    assert_eq!(u.param("keyfile"), Some("/k"));
    assert_eq!(u.param("NO_VERIFY"), Some("1"));
    assert_eq!(u.param("socket"), None);
    assert_eq!(u.path(), "/system");
    let u = Uri::parse("qemu+unix:///system?socket=%2Fvar%2Frun%2Fx%20y").unwrap();
    assert_eq!(u.param("socket"), Some("/var/run/x y"));
    assert_eq!(u.params(), [("socket".to_string(), "/var/run/x y".to_string())]);
}

#[test]
fn bad_uris_are_refused() {
    for text in [
        "",
        "qemu",
        "qemu:/system",
        "://h/system",
        "qemu+bogus:///system",
        "qe mu:///system",
        "qemu+ssh://h:99999/system",
        "qemu+ssh://h:port/system",
        "qemu+ssh://[::1/system",
        "qemu:///system?socket=%zz",
    ] {
        assert!(matches!(Uri::parse(text), Err(UriError::Malformed { .. })), "{text}: {:?}", Uri::parse(text));
    }
}

#[test]
fn uris_that_run_local_programs_are_refused() {
    for text in [
        "qemu+ext:///system?command=/bin/x",
        "qemu+ext:///system",
        "xen+EXT://h/system",
        "qemu+ssh://h/system?command=/bin/x",
        "qemu+ssh://h/system?COMMAND=/bin/x",
        "qemu+ssh://h/system?comm%61nd=/bin/x",
        "qemu+ssh://-oProxyCommand=x/system",
        "qemu+ssh://-x@h/system",
    ] {
        let e = Uri::parse(text).unwrap_err();
        assert!(matches!(e, UriError::RunsLocalProgram { .. }), "{text}: {e:?}");
        assert!(e.to_string().contains("would run a program on this machine"), "{e}");
    }
    // The socket of the unix transport and ssh's remote netcat are fine.
    for text in [
        "qemu+unix:///system?socket=/var/tmp/virtsmoke-lab/h1/run/libvirt-sock",
        "qemu+ssh://h/system?netcat=/usr/bin/nc",
    ] {
        assert!(Uri::parse(text).is_ok(), "{text}");
    }
}

/// The cases of runner/case.rs's `disk_images_need_the_host_to_be_this_machine`
/// (without `jump`, which the runner checks itself).
#[test]
fn is_local_matches_is_this_machine() {
    let local = |u: &str| Uri::parse(u).unwrap().is_local();
    assert!(local("qemu:///system"));
    assert!(local("qemu+unix:///system?socket=/var/tmp/virtsmoke-lab/h1/run/libvirt-sock"));
    assert!(local("xen:///system"));
    assert!(!local("qemu+ssh://root@kvm1/system"));
    assert!(!local("xen+ssh://root@127.0.0.1:2221/system"));
}
