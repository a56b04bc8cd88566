//! `virtsmoke facts`: what each host runs.

use std::path::PathBuf;

use clap::Args;

use crate::backend::Host;
use crate::exit;
use crate::hypervisor::{Family, Uri, UriError};
use crate::plan::{AccelPreference, Capacity, HostSpec, Hypervisor};

#[derive(Args)]
pub struct FactsArgs {
    /// Scenario or inventory files whose hosts to ask.
    scenarios: Vec<PathBuf>,
    /// A libvirt URI to ask (repeatable), instead of or besides scenarios.
    #[arg(long)]
    uri: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The hosts named by scenarios and `--uri`.
pub fn targets(scenarios: &[PathBuf], uris: &[String]) -> Result<Vec<HostSpec>, u8> {
    let mut out: Vec<HostSpec> = Vec::new();
    if !scenarios.is_empty() {
        match crate::scenario::load_hosts(scenarios) {
            Ok(plan) => out.extend(plan.hosts.into_values()),
            Err(e) => {
                eprintln!("{e}");
                return Err(exit::BAD_INPUT);
            }
        }
    }
    for u in uris {
        out.push(uri_target(u)?);
    }
    if out.is_empty() {
        eprintln!("error: name scenario files or --uri");
        return Err(exit::BAD_INPUT);
    }
    Ok(out)
}

/// The host of a `--uri`: a URI that would run a program here is refused; one
/// virtsmoke cannot read (a libvirt alias) is taken for KVM, and libvirt judges it.
fn uri_target(u: &str) -> Result<HostSpec, u8> {
    let hypervisor = match Uri::parse(u) {
        Ok(uri) => uri.family().hypervisor().map_or(Hypervisor::Kvm, Family::plan),
        Err(e @ UriError::RunsLocalProgram { .. }) => {
            eprintln!("error: {e}");
            return Err(exit::BAD_INPUT);
        }
        Err(UriError::Malformed { .. }) => Hypervisor::Kvm,
    };
    Ok(HostSpec {
        name: u.to_string(),
        uri: u.to_string(),
        hypervisor,
        accel: AccelPreference::Auto,
        netns: None,
        bridge: String::new(),
        capacity: Capacity { guests: 1, memory_mib: 0, when_full: crate::plan::WhenFull::DEFAULT },
        roles: vec![],
        labels: Default::default(),
        jump: None,
    })
}

pub fn facts(args: FactsArgs) -> u8 {
    let targets = match targets(&args.scenarios, &args.uri) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let Ok(rt) = tokio::runtime::Runtime::new() else { return exit::INFRASTRUCTURE };
    let mut code = exit::PASSED;
    let mut all = Vec::new();
    for spec in targets {
        let name = spec.name.clone();
        let r = rt.block_on(async {
            let host = Host::connect(&spec.name, &spec.uri).await?;
            let mut facts = host.facts().await?;
            crate::hostaccess::enrich(&spec, &mut facts).await;
            Ok::<_, crate::backend::BackendError>(facts)
        });
        match r {
            Ok(f) => {
                if !args.json {
                    println!("{name}:");
                    for (k, v) in f.properties() {
                        println!("  {k}: {v}");
                    }
                    println!("  domain_types: {}", f.domain_types.join(", "));
                    print_kinds(&f);
                }
                all.push(facts_json(&f));
            }
            Err(e) => {
                eprintln!("error: host {name}: {}", crate::error_chain(&e));
                code = exit::INFRASTRUCTURE;
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
    }
    code
}

/// A host's facts as `facts --json` prints them: the facts, plus `kinds`, each
/// of the family's kinds with `runs` and, when it does not, `why`.
fn facts_json(f: &crate::events::HostFacts) -> serde_json::Value {
    let mut v = serde_json::to_value(f).unwrap_or_default();
    let kinds: Vec<serde_json::Value> = crate::hypervisor::caps::kinds(f)
        .into_iter()
        .map(|(k, r)| match r {
            Ok(()) => serde_json::json!({"kind": k.as_str(), "runs": true}),
            Err(why) => serde_json::json!({"kind": k.as_str(), "runs": false, "why": why}),
        })
        .collect();
    if let Some(o) = v.as_object_mut() {
        o.insert("kinds".into(), kinds.into());
    }
    v
}

/// The kinds the host can run, and why not the others.
fn print_kinds(f: &crate::events::HostFacts) {
    for line in kind_lines(f) {
        println!("  {line}");
    }
}

/// `guests offered: OS/ARCH (MACHINES), ...`, `can run: KIND, ...` and one
/// `cannot run KIND: WHY` per other kind.
fn kind_lines(f: &crate::events::HostFacts) -> Vec<String> {
    let verdicts = crate::hypervisor::caps::kinds(f);
    let can: Vec<&str> = verdicts.iter().filter(|(_, r)| r.is_ok()).map(|(k, _)| k.as_str()).collect();
    let offers: Vec<String> = f.guests.iter().map(offer_text).collect();
    let mut lines = vec![
        format!("guests offered: {}", if offers.is_empty() { "none".to_string() } else { offers.join(", ") }),
        format!("can run: {}", if can.is_empty() { "none".to_string() } else { can.join(", ") }),
    ];
    lines.extend(verdicts.iter().filter_map(|(k, r)| r.as_ref().err().map(|why| format!("cannot run {k}: {why}"))));
    lines
}

/// `OS/ARCH (MACHINES)`, or `OS/ARCH` for a guest that names no machine.
fn offer_text(g: &crate::events::GuestOffer) -> String {
    if g.machines.is_empty() {
        format!("{}/{}", g.os_type, g.arch)
    } else {
        format!("{}/{} ({})", g.os_type, g.arch, g.machines.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_name_the_kinds_a_host_can_run_and_why_not_the_others() {
        let offer = crate::hypervisor::caps::xen_offer;
        let f = crate::events::HostFacts {
            hostname: "xen-old".into(),
            hypervisor: "Xen".into(),
            libvirt_version: "7.0.0".into(),
            guests: vec![offer("xen", "xenpv"), offer("hvm", "xenfv")],
            ..Default::default()
        };
        assert_eq!(
            kind_lines(&f),
            [
                "guests offered: xen/x86_64 (xenpv), hvm/x86_64 (xenfv)",
                "can run: xen-pv, xen-pvhvm, xen-hvm",
                "cannot run xen-pvh: libvirt 7.0.0 on xen-old offers no xenpvh machine"
            ]
        );
        let bare = crate::events::GuestOffer { os_type: "hvm".into(), arch: "i686".into(), ..Default::default() };
        assert_eq!(offer_text(&bare), "hvm/i686");
        let json = facts_json(&f);
        assert_eq!(json["hostname"], "xen-old");
        assert_eq!(json["guests"][0]["machines"][0], "xenpv");
        assert_eq!(json["kinds"][0], serde_json::json!({"kind": "xen-pv", "runs": true}));
        assert_eq!(json["kinds"][1]["runs"], false);
        assert_eq!(json["kinds"][1]["why"], "libvirt 7.0.0 on xen-old offers no xenpvh machine");
    }

    #[test]
    fn uri_targets_take_the_family_from_the_uri_and_refuse_local_programs() {
        let t = targets(&[], &["xen+ssh://root@x/system".into(), "qemu:///system".into()]).unwrap();
        assert_eq!(t[0].hypervisor, Hypervisor::Xen);
        assert_eq!(t[1].hypervisor, Hypervisor::Kvm);
        assert_eq!(targets(&[], &["libxl:///".into()]).unwrap()[0].hypervisor, Hypervisor::Xen);
        assert_eq!(targets(&[], &["qemu+ext:///system?command=/bin/x".into()]).err(), Some(exit::BAD_INPUT));
        assert_eq!(targets(&[], &["qemu+ssh://h/system?command=/bin/x".into()]).err(), Some(exit::BAD_INPUT));
    }

    #[test]
    fn a_scenario_uri_that_runs_a_local_program_is_an_error_at_the_uri() {
        let text = "version: 1\nname: t\nhosts:\n  h1:\n    uri: \"qemu+ext:///system?command=/bin/x\"\n";
        let e = crate::scenario::load_str(std::path::Path::new("x.yaml"), text).err().unwrap().to_string();
        assert!(e.contains("would run a program on this machine"), "{e}");
        assert!(e.contains("x.yaml:5:10"), "{e}");
        let ok = "version: 1\nname: t\nhosts:\n  h1:\n    uri: \"qemu+unix:///system?socket=/s\"\n";
        let e = crate::scenario::load_str(std::path::Path::new("x.yaml"), ok).err().map(|e| e.to_string());
        assert!(!e.unwrap_or_default().contains("uri"), "the socket parameter is fine");
    }
}
