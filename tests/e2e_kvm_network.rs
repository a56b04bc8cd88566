//! End-to-end on the KVM lab: the `network` check (`virtsmoke lab up`).
//! One run boots both fixtures side by side: a two-guest case that passes
//! every sub-check, and a guest crippled on purpose whose host -> guest ping
//! fails (and whose ping-based sub-checks are skipped) while the run goes on.

mod common;
use common::*;

fn number(case: &serde_json::Value, name: &str) -> f64 {
    let v = prop(case, name);
    v.parse().unwrap_or_else(|_| panic!("property {name} = `{v}` is not a number"))
}

#[test]
#[ignore = "boots real guests on the lab: run through ci/test"]
fn network_checks_pass_between_guests_and_fail_the_right_sub_check() {
    let (network, broken) = (lab_fixture("network.yaml"), lab_fixture("network-broken.yaml"));
    let ran = run_scenario(network.to_str().unwrap(), &[broken.to_str().unwrap()]);
    // The crippled guest fails its case; the run still finishes both.
    assert_eq!(ran.out.status.code(), Some(1), "{}", text(&ran.out));
    xmllint_schema(&ran.junit);
    let doc = ran.json();

    // Two guests: every sub-check passes, in both directions and between the guests.
    let pair = case(&doc, "e2e-network/pair@lab1");
    assert_eq!(pair["outcome"], "passed", "{pair:#}");
    let mut expected = Vec::new();
    for g in ["pair-1", "pair-2"] {
        for kind in ["address", "gateway", "dns", "mtu"] {
            expected.push(format!("network.{kind}: {g}"));
        }
        for kind in ["ping", "tcp"] {
            expected.push(format!("network.{kind}: host -> {g}"));
            expected.push(format!("network.{kind}: {g} -> host"));
        }
        expected.push(format!("network.throughput: host -> {g}"));
    }
    expected.push("network.ping: pair-1 -> pair-2".into());
    expected.push("network.ping: pair-2 -> pair-1".into());
    expected.push("network.throughput: pair-1 -> pair-2".into());
    for name in &expected {
        assert_eq!(step(pair, name)["outcome"], "passed", "{name}: {:#}", step(pair, name));
    }
    let xml = std::fs::read_to_string(&ran.junit).unwrap();
    assert!(xml.contains("<testcase name=\"network.ping: pair-1 -&gt; pair-2\""), "{xml}");

    // Figures: loss and RTT of every ping, the lease matching the guest, throughput.
    for path in ["host->pair-1", "pair-1->host", "pair-1->pair-2", "pair-2->pair-1"] {
        assert_eq!(prop(pair, &format!("network.ping.{path}.loss_pct")), "0.0");
        assert!(number(pair, &format!("network.ping.{path}.rtt_avg_ms")) > 0.0);
    }
    assert!(number(pair, "network.tcp.host->pair-2.rtt_avg_ms") > 0.0);
    assert!(number(pair, "network.tcp.pair-2->host.rtt_avg_ms") > 0.0);
    assert_eq!(prop(pair, "network.mtu.pair-1.payload"), "1472");
    assert_eq!(prop(pair, "network.dns.pair-1.addresses"), "10.77.0.1");
    let lease = prop(pair, "network.address.pair-1.lease");
    assert!(prop(pair, "network.address.pair-1.guest").starts_with(&format!("{lease}/24 ")), "{pair:#}");
    assert_eq!(lease, prop(pair, "pair-1.address"));
    for path in ["host->pair-1", "host->pair-2", "pair-1->pair-2"] {
        assert!(number(pair, &format!("network.throughput.{path}.mbps")) > 0.0);
        assert!(number(pair, &format!("network.throughput.{path}.bytes")) > 0.0);
    }

    // The crippled guest: ICMP echo ignored, ping removed.
    let solo = case(&doc, "e2e-network-broken/solo@lab1");
    assert_eq!(solo["outcome"], "failed", "{solo:#}");
    let ping = step(solo, "network.ping: host -> solo");
    assert_eq!(ping["outcome"], "failed", "{ping}");
    let message = ping["message"].as_str().unwrap();
    assert!(
        message.starts_with("no reply from `solo` (10.77.0.") && message.ends_with("3 sent, 0 received (100% loss)"),
        "{message}"
    );
    assert_eq!(prop(solo, "network.ping.host->solo.loss_pct"), "100.0");
    for name in ["network.ping: solo -> host", "network.gateway: solo", "network.mtu: solo"] {
        let s = step(solo, name);
        assert_eq!(s["outcome"], "skipped", "{s}");
        assert_eq!(s["message"], "`solo` has no `ping` (the image lacks the tool)", "{s}");
    }
    assert_eq!(step(solo, "network.dns: solo")["message"], "no `dns_name` is set for the network check");
    assert_eq!(step(solo, "network.peers")["outcome"], "skipped");
    // The failure stays where it belongs: TCP and addressing still pass.
    for name in ["network.address: solo", "network.tcp: host -> solo", "network.tcp: solo -> host", "teardown"] {
        assert_eq!(step(solo, name)["outcome"], "passed", "{:#}", step(solo, name));
    }

    assert_no_leftovers(&ran.run_id());
}
