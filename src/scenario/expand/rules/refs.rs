//! What a case names besides its own guests: the target of a `migrate` check,
//! and the hosts its images must be staged on.

use crate::plan::{GuestSpec, HostSpec, Hypervisor, Image, SeedKind};

use super::super::super::check::MigrateAt;
use super::super::super::suggest;
use super::super::axes::Combination;
use super::super::report::Report;
use super::super::scope::{Scope, hypervisor_name};

/// The role that makes a host the target of `migrate` checks without `target`.
const TARGET_ROLE: &str = "migration-target";

/// Every `migrate` check of the case has a target of the same hypervisor
/// other than the host it runs on, and asks nothing the host's driver lacks.
pub(super) fn migrations(
    rep: &mut Report<'_, '_>,
    scope: &Scope<'_, '_>,
    c: &Combination<'_, '_, '_, '_>,
    candidates: &[&HostSpec],
) -> bool {
    let mut ok = true;
    for m in &scope.s.migrates {
        for home in candidates {
            ok &= match m.spec.target.as_deref() {
                Some(target) => named_target(rep, scope, c, m, home, target, candidates),
                None => role_target(rep, scope, m, home),
            };
            ok &= driver_honours(rep, m, home);
        }
    }
    ok
}

/// `target: NAME` names another host of the same hypervisor. An undefined
/// name is reported once for the file (`expand::migrate_targets_defined`).
fn named_target(
    rep: &mut Report<'_, '_>,
    scope: &Scope<'_, '_>,
    c: &Combination<'_, '_, '_, '_>,
    m: &MigrateAt<'_>,
    home: &HostSpec,
    target: &str,
    candidates: &[&HostSpec],
) -> bool {
    let Some(to) = scope.hosts.get(target) else { return true };
    let at = m.target.unwrap_or(m.at);
    let check = format!("check {} (`migrate`)", m.position);
    // A placed case goes to another candidate when there is one.
    if to.name == home.name && (c.placement.pinned || candidates.len() == 1) {
        return rep.error(
            at,
            format!("{check} would migrate guests from host `{}` to itself", home.name),
            "name another host as `target`, or run the case on other hosts with `matrix.host`".into(),
        );
    }
    if to.hypervisor != home.hypervisor {
        let (from_kind, to_kind) = (hypervisor_name(home.hypervisor), hypervisor_name(to.hypervisor));
        return rep.error(
            at,
            format!(
                "{check} would migrate guests from {from_kind} host `{}` to {to_kind} host `{}`",
                home.name, to.name
            ),
            format!("guests migrate between hosts of one hypervisor: name a {from_kind} host as `target`"),
        );
    }
    true
}

/// Without `target`, another host of the same hypervisor has the role
/// `migration-target` (the runner takes the first such host).
fn role_target(rep: &mut Report<'_, '_>, scope: &Scope<'_, '_>, m: &MigrateAt<'_>, home: &HostSpec) -> bool {
    let others = || scope.hosts.values().filter(|h| h.name != home.name && h.hypervisor == home.hypervisor);
    if others().any(|h| h.roles.iter().any(|r| r == TARGET_ROLE)) {
        return true;
    }
    let kind = hypervisor_name(home.hypervisor);
    let near_miss = others().find_map(|h| {
        let role = h.roles.iter().find(|r| suggest::closest(r, [TARGET_ROLE]).is_some())?;
        Some(format!("did you mean `{TARGET_ROLE}`? host `{}` has the role `{role}`", h.name))
    });
    rep.error(
        m.at,
        format!(
            "check {} (`migrate`) has no target for guests on host `{}`: no other {kind} host has the role `{TARGET_ROLE}`",
            m.position, home.name
        ),
        near_miss.unwrap_or_else(|| {
            format!("name a host with `target`, or give another {kind} host `roles: [{TARGET_ROLE}]`")
        }),
    )
}

/// libvirt's libxl driver neither copies storage nor limits bandwidth when it migrates.
fn driver_honours(rep: &mut Report<'_, '_>, m: &MigrateAt<'_>, home: &HostSpec) -> bool {
    if home.hypervisor != Hypervisor::Xen {
        return true;
    }
    let mut ok = true;
    let unsupported = [
        ("copy_storage", m.copy_storage, "copy storage during a migration"),
        ("bandwidth_mib_s", m.bandwidth, "limit a migration's bandwidth"),
    ];
    for (key, at, what) in unsupported {
        let Some(at) = at else { continue };
        ok &= rep.error(
            at,
            format!("`{key}` in check {} (`migrate`) cannot be honoured on xen host `{}`", m.position, home.name),
            format!("libvirt's libxl driver cannot {what}: remove `{key}`, or migrate between kvm hosts"),
        );
    }
    ok
}

/// Whether virtsmoke reaches the host's files only over its `jump`: its
/// libvirt URI names a host (`qemu+ssh://root@qa7/system`), not this
/// machine's driver (`qemu:///system`, `qemu+unix:///...`, `test:///default`).
/// The runner stages files on such a host through the `jump`
/// (`runner::staging::on_host`, `overlay_on_host`).
pub(crate) use crate::hypervisor::uri_names_a_host;

/// Why the runner must put something of `image` on the host, if it must.
fn staged(image: &Image) -> Option<&'static str> {
    if image.from_disk {
        Some("a disk image boots from an overlay that virtsmoke makes on the host over SSH")
    } else if image.files_are_here() {
        Some("the image's files are on this machine and are copied to the host over SSH")
    } else if image.seed == SeedKind::Nocloud {
        Some("the image's NoCloud seed is made on this machine and copied to the host over SSH")
    } else {
        None
    }
}

/// Every image the case's guests need on a remote host can get there: the
/// host has a `jump`.
pub(super) fn staging(
    rep: &mut Report<'_, '_>,
    c: &Combination<'_, '_, '_, '_>,
    guests: &[GuestSpec],
    candidates: &[&HostSpec],
) -> bool {
    let mut ok = true;
    let at = c.image.map(|(_, n)| n).or(c.placement.at).unwrap_or(c.set.node());
    for host in candidates.iter().filter(|h| h.jump.is_none() && uri_names_a_host(&h.uri)) {
        for g in guests {
            let Some(why) = staged(&g.image) else { continue };
            ok &= rep.error(
                at,
                format!("image `{}` must be staged on host `{}`, which has no `jump`", g.image.name, host.name),
                format!("{why}: give host `{}` a `jump`", host.name),
            );
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::uri_names_a_host;

    #[test]
    fn only_uris_with_a_host_part_name_a_host() {
        assert!(uri_names_a_host("xen+ssh://root@127.0.0.1:2221/system?keyfile=/k"));
        assert!(uri_names_a_host("qemu+tcp://qa7.example/system"));
        assert!(uri_names_a_host("qemu://qa7/system"));
        assert!(!uri_names_a_host("qemu:///system"));
        assert!(!uri_names_a_host("qemu+unix:///system?socket=/run/x"));
        assert!(!uri_names_a_host("test:///default"));
        assert!(!uri_names_a_host("xen:///system"));
    }

    /// The loader only refuses what the runner could not stage: a URI that
    /// names a host is never this machine to `runner::staging`.
    #[test]
    fn a_host_named_by_the_uri_is_remote_to_the_runner_too() {
        let uris = [
            "qemu:///system",
            "qemu+unix:///system?socket=/var/tmp/virtsmoke-lab/h1/run/libvirt-sock",
            "xen:///system",
            "libxl:///system",
            "test:///default",
            "qemu+ssh://root@qa7.example/system",
            "qemu+tcp://qa7/system",
            "qemu+tls://qa7:16514/system",
            "xen+ssh://root@127.0.0.1:2221/system?keyfile=/k&no_verify=1",
            "qemu://localhost/system",
        ];
        for uri in uris {
            let spec = crate::plan::HostSpec {
                name: "h".into(),
                uri: uri.into(),
                hypervisor: crate::plan::Hypervisor::Kvm,
                accel: crate::plan::AccelPreference::Auto,
                netns: None,
                bridge: "virbr0".into(),
                capacity: crate::plan::Capacity {
                    guests: 1,
                    memory_mib: 64,
                    when_full: crate::plan::WhenFull::DEFAULT,
                },
                roles: Vec::new(),
                labels: Default::default(),
                jump: None,
            };
            if uri_names_a_host(uri) {
                assert!(!crate::hostaccess::is_this_machine(&spec), "{uri}");
            }
        }
        assert!(uris.iter().filter(|u| uri_names_a_host(u)).count() >= 5);
    }
}
