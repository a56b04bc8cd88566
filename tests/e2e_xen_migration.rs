//! End-to-end on two nested Xen hosts (`virtsmoke lab up --xen 2`):
//! scenarios/local-xen-migration.yaml measures the guests' network from
//! xen1's dom0 (through the jump SSH), then moves a PVH guest there and back,
//! paused and live, and a PV guest paused (live fails on Debian's Xen 4.17,
//! a known issue the scenario declares). The PVHVM case of the same scenario
//! is run by hand (tests/by_hand_xen.rs): it takes several minutes more.

mod common;
use common::*;

use common::xen::{outcome_of, run_migration_cases};
use virtsmoke::events::Outcome;

const PVH: &str = "local-xen-migration/mover-xen-pvh@xen1";
const PV: &str = "local-xen-migration/mover-xen-pv@xen1";

#[test]
#[ignore = "boots real guests on two nested Xen hosts: run through ci/test"]
fn xen_guests_migrate_between_two_xen_hosts() {
    // Two hosts that can migrate to each other: distinct names and host UUIDs.
    let (x1, x2) = (lab().xen("xen1"), lab().xen("xen2"));
    let facts =
        |h: &XenHost| h.dom0("hostname; cat /sys/class/dmi/id/product_uuid 2>/dev/null || dmidecode -s system-uuid");
    let (f1, f2) = (facts(x1), facts(x2));
    assert_ne!(f1, f2);
    assert!(f1.starts_with("xen1\n") && f2.starts_with("xen2\n"), "{f1} {f2}");
    // Their guest bridges are one segment: each dom0 reaches the other's bridge address.
    assert!(x1.dom0("ping -c 1 -W 5 xen2").contains("1 received"));

    let cases = run_migration_cases(&[PVH, PV]);
    let get = |n: &str| cases.iter().find(|(c, _)| c.name == n).map(|(c, _)| c).unwrap();

    // The figures, for BENCHMARKS.md (shown with --nocapture).
    for (case, _) in &cases {
        let figures: Vec<String> = case
            .properties
            .iter()
            .filter(|(k, _)| k == "boot_ms" || k.contains("migration_ms") || k.contains("downtime"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        eprintln!("figures {}: {}", case.name, figures.join(" "));
    }
    for (case, _) in &cases {
        network_measured_from_dom0(case);
    }
    let pvh = get(PVH);
    assert_eq!(pvh.outcome, Outcome::Passed, "{pvh:#?}");
    for step in [
        "migrate-offline.round-1: xen1 -> xen2",
        "migrate-offline.round-2: xen2 -> xen1",
        "migrate.round-1: xen1 -> xen2",
        "migrate.round-2: xen2 -> xen1",
    ] {
        assert_eq!(outcome_of(pvh, step).0, Outcome::Passed, "{step}");
    }
    // Downtime measured from xen1's dom0, on the guests' segment.
    for round in [1, 2] {
        let p = format!("mover.migrate.round-{round}.downtime_ms");
        assert!(prop_of(pvh, &p).is_some_and(|v| v.parse::<f64>().is_ok()), "{p}: {pvh:#?}");
    }
    for p in ["migration_ms", "offline_migration_ms", "downtime_ms", "offline_downtime_ms"] {
        assert!(prop_of(pvh, p).is_some_and(|v| v.parse::<f64>().unwrap() > 0.0), "{p}: {pvh:#?}");
    }

    // PV: paused moves pass; the live one is the scenario's known issue, and the guest stays home.
    let pv = get(PV);
    assert_eq!(pv.outcome, Outcome::KnownFailure, "{pv:#?}");
    assert_eq!(outcome_of(pv, "migrate-offline.round-2: xen2 -> xen1").0, Outcome::Passed);
    let (live, msg) = outcome_of(pv, "migrate.round-1: xen1 -> xen2");
    assert_eq!(live, Outcome::KnownFailure, "{msg}");
    assert!(msg.contains("Failed to enable logdirty: 95") && msg.contains("shadow paging"), "{msg}");
    assert!(msg.contains("(the guest stays on xen1)"), "{msg}");
}

/// The host side of the network check is xen1's dom0, through its SSH: every
/// host-side measurement runs there (the listener and sender with its Python).
fn network_measured_from_dom0(case: &virtsmoke::events::CaseReport) {
    for step in [
        "network.ping: host -> mover",
        "network.ping: mover -> host",
        "network.tcp: host -> mover",
        "network.tcp: mover -> host",
        "network.mtu: mover",
        "network.throughput: host -> mover",
    ] {
        assert_eq!(outcome_of(case, step).0, Outcome::Passed, "{step}: {case:#?}");
    }
    for from in ["ping.host->mover", "tcp.mover->host", "throughput.host->mover"] {
        assert_eq!(prop_of(case, &format!("network.{from}.from")), Some("jump host"), "{from}: {case:#?}");
    }
    assert_eq!(prop_of(case, "network.ping.mover->host.target"), Some("10.88.0.1"), "{case:#?}");
    assert!(prop_of(case, "network.tcp.host->mover.rtt_avg_ms").is_some(), "{case:#?}");
    assert!(prop_of(case, "network.tcp.mover->host.target").is_some_and(|t| t.starts_with("10.88.0.1:")), "{case:#?}");
    assert_eq!(prop_of(case, "network.tcp.mover->host.connected"), Some("3"), "{case:#?}");
    let bytes: u64 = prop_of(case, "network.throughput.host->mover.bytes").unwrap().parse().unwrap();
    assert!(bytes > 0, "{case:#?}");
}
