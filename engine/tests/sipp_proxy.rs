//! End to end on loopback: SIPp UAC → riptide (static route) → SIPp UAS.
//! Every combination the issue names: UDP and TCP, one and two shards.
#![allow(clippy::unwrap_used)]

mod support;
use support::{Riptide, SippOutcome, SippServer, sipp_client};

fn all_ok(calls: u64) -> SippOutcome {
    SippOutcome {
        exit_code: 0,
        successful: calls,
        failed: 0,
        retransmissions: 0,
    }
}

fn route_to(uas: &SippServer, tcp: bool) -> String {
    let transport = if tcp { ";transport=tcp" } else { "" };
    format!("*=sip:127.0.0.1:{}{transport}", uas.port)
}

/// (UAC transport, UAS transport, next-hop over TCP?)
const TRANSPORTS: [(&str, &str, bool); 2] = [("un", "u1", false), ("tn", "t1", true)];

#[test]
fn options_to_the_server_get_200_over_udp_and_tcp_on_one_and_two_shards() {
    for shards in ["1", "2"] {
        let node = Riptide::start(&["--shards", shards]);
        for (uac, _, _) in TRANSPORTS {
            let out = sipp_client("options_uac.xml", uac, node.sip, 200, 400);
            assert_eq!(out, all_ok(200), "{shards} shard(s), -t {uac}");
        }
    }
}

#[test]
fn calls_are_proxied_over_udp_and_tcp_on_one_and_two_shards() {
    for shards in ["1", "2"] {
        for (uac, uas_t, tcp) in TRANSPORTS {
            let uas = SippServer::start("uas", uas_t);
            let node = Riptide::start(&["--shards", shards, "--route", &route_to(&uas, tcp)]);
            let out = sipp_client("uac", uac, node.sip, 200, 200);
            assert_eq!(out, all_ok(200), "{shards} shard(s), -t {uac}");
        }
    }
}

#[test]
fn cancel_reaches_the_uas_and_the_caller_gets_487() {
    for (uac, uas_t, tcp) in TRANSPORTS {
        let uas = SippServer::start("cancel_uas.xml", uas_t);
        let node = Riptide::start(&["--shards", "2", "--route", &route_to(&uas, tcp)]);
        let out = sipp_client("cancel_uac.xml", uac, node.sip, 50, 100);
        assert_eq!(out, all_ok(50), "-t {uac}");
    }
}

#[test]
fn a_slow_uas_over_udp_costs_the_caller_no_retransmission() {
    // The UAS rings after 1.8 s; our 100 Trying stops the caller's INVITE
    // retransmissions while our own client transaction retransmits toward
    // the UAS (SIPp absorbs those as retransmissions).
    let uas = SippServer::start("slow_uas.xml", "u1");
    let node = Riptide::start(&["--shards", "2", "--route", &route_to(&uas, false)]);
    let out = sipp_client("uac", "un", node.sip, 10, 20);
    assert_eq!(out, all_ok(10));
}

#[test]
fn sigterm_drains_and_exits_cleanly() {
    let node = Riptide::start(&["--shards", "2"]);
    let out = sipp_client("options_uac.xml", "u1", node.sip, 5, 100);
    assert_eq!(out, all_ok(5));
    assert!(node.terminate().success());
}

#[test]
fn quiesce_reports_not_ready_drains_and_exits_cleanly() {
    let mut node = Riptide::start(&["--shards", "2"]);
    let out = sipp_client("options_uac.xml", "u1", node.sip, 5, 100);
    assert_eq!(out, all_ok(5));
    let (status, body) = support::http(node.management, "POST", "/quiesce", "");
    assert_eq!((status, body.as_str()), (200, "{\"quiescing\":true}\n"));
    assert!(node.wait().success());
}
