//! End-to-end on the nested Xen host: scenarios/local-xen-network.yaml
//! measures the network of PV and PVH guests from dom0, through the jump SSH.

mod common;
use common::*;

use common::xen::{outcome_of, run_rerunning_failures_once};
use virtsmoke::events::Outcome;

#[test]
#[ignore = "boots real guests on the nested Xen host: run through ci/test"]
fn xen_lab_e2e_network_is_measured_from_dom0() {
    let runs = run_rerunning_failures_once("scenarios/local-xen-network.yaml");
    for kind in ["xen-pv", "xen-pvh"] {
        let name = format!("local-xen-network/tiny-{kind}@xen1");
        let case = case_of(&xen::last_run_of(&runs, &name).results(), &name).clone();
        assert_eq!(case.outcome, Outcome::Passed, "{case:#?}");
        for step in ["network.ping: host -> tiny", "network.ping: tiny -> host", "network.tcp: host -> tiny"] {
            assert_eq!(outcome_of(&case, step).0, Outcome::Passed, "{step}: {case:#?}");
        }
        // Measured from dom0: its own address on the bridge, real round trips.
        assert_eq!(prop_of(&case, "network.ping.host->tiny.from"), Some("jump host"), "{case:#?}");
        assert_eq!(prop_of(&case, "network.ping.tiny->host.target"), Some("10.88.0.1"), "{case:#?}");
        assert!(prop_of(&case, "network.tcp.host->tiny.rtt_avg_ms").is_some(), "{case:#?}");
        assert_eq!(outcome_of(&case, "network.mtu: tiny").0, Outcome::Passed);
        // What cannot be measured from a jump host says so.
        let (skip, why) = outcome_of(&case, "network.tcp: tiny -> host");
        assert_eq!(skip, Outcome::Skipped);
        assert!(why.contains("jump host"), "{why}");
    }
}
