//! The management API counts what was sent: `riptide all-in-one` on two
//! shards, SIPp registers demo users with digest authentication, makes calls
//! to a registered callee and cancels one that rings; then `/metrics` and
//! `/stats` are scraped over HTTP and their numbers compared with what was
//! sent, exactly. The Prometheus text must pass `promtool check metrics`
//! (Debian's `prometheus` package).
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{
    Riptide, SippOutcome, SippServer, all_in_one, data_dir, demo_users, http, injection, ok,
    register_at, scrape, sipp_client_with, sum,
};

fn assert_ok(out: &SippOutcome, n: u64) {
    assert!(ok(out, n), "{out:?}");
}

/// Wait until every shard has published its latencies `times` more times
/// and the statistics sampler has run since: then every count and
/// latency recorded before the call is in `/metrics` and `/stats`.
fn wait_for_publication(node: &Riptide, times: u64) {
    let before = scrape(node);
    let published = |text: &str, shard: &str| {
        sum(
            text,
            "riptide_metrics_publications_total",
            &[("shard", shard)],
        )
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut after = scrape(node);
    while ["0", "1"]
        .iter()
        .any(|s| published(&after, s) < published(&before, s) + times)
    {
        assert!(Instant::now() < deadline, "shards stopped publishing");
        std::thread::sleep(Duration::from_millis(100));
        after = scrape(node);
    }
    let samples_before = sum(&after, "riptide_stats_samples_total", &[]);
    while sum(&scrape(node), "riptide_stats_samples_total", &[]) <= samples_before {
        assert!(Instant::now() < deadline, "the sampler stopped");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (Debian package prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Current plus previous five-minute period: everything since the node
/// started, for a test shorter than five minutes.
fn last_ten_minutes(v: &serde_json::Value, field: Option<&str>) -> u64 {
    let get = |p: &str| {
        let x = &v[p];
        let x = field.map_or(x, |f| &x[f]);
        x.as_u64().unwrap_or_else(|| panic!("{p} {field:?} in {v}"))
    };
    get("current_5min") + get("previous_5min")
}

#[test]
fn metrics_and_stats_count_exactly_what_was_sent() {
    let dir = data_dir("counts");
    let node = all_in_one(&dir, &[]);
    let users = demo_users(&dir);
    const N: u64 = 12;
    const M: u64 = 4;

    // N users register (REGISTER, 401, REGISTER with credentials, 200).
    let file = injection(&dir, "users.csv", &users[..N as usize]);
    let regs = sipp_client_with(
        "register_uac.xml",
        "u1",
        node.sip,
        N as u32,
        20,
        &["-inf".into(), file],
    );
    assert_ok(&regs, N);
    // Two callees register with Contacts where SIPp servers answer: one
    // answers calls, one rings and is cancelled.
    let uas = SippServer::start("uas", "u1");
    let ringing = SippServer::start("cancel_uas.xml", "u1");
    let callee = users[50].clone();
    let cancelled = users[51].clone();
    let r1 = register_at(&node, &dir, &callee, uas.port);
    let r2 = register_at(&node, &dir, &cancelled, ringing.port);
    let calls = sipp_client_with(
        "call_uac.xml",
        "u1",
        node.sip,
        M as u32,
        10,
        &["-s".into(), callee.0.clone()],
    );
    assert_ok(&calls, M);
    let cancel = sipp_client_with(
        "cancel_call_uac.xml",
        "u1",
        node.sip,
        1,
        10,
        &["-s".into(), cancelled.0.clone()],
    );
    assert_ok(&cancel, 1);
    let retransmitted = regs.retransmissions + r1.retransmissions + r2.retransmissions;
    let invite_retransmitted = calls.retransmissions + cancel.retransmissions;

    wait_for_publication(&node, 2);
    let text = scrape(&node);
    promtool_check(&text);
    let registered = N + 2;

    // Registrations and digest authentication, as Clearwater counts them.
    for (metric, kind, want) in [
        ("riptide_registration_attempts_total", "initial", registered),
        (
            "riptide_registration_successes_total",
            "initial",
            registered,
        ),
        ("riptide_registration_failures_total", "initial", 0),
        ("riptide_registration_attempts_total", "re", 0),
        ("riptide_registration_attempts_total", "de", 0),
    ] {
        assert_eq!(
            sum(&text, metric, &[("kind", kind)]),
            want,
            "{metric} {kind}"
        );
    }
    assert_eq!(
        sum(&text, "riptide_digest_auth_attempts_total", &[]),
        registered
    );
    assert_eq!(
        sum(&text, "riptide_digest_auth_successes_total", &[]),
        registered
    );
    assert_eq!(sum(&text, "riptide_digest_auth_failures_total", &[]), 0);
    assert_eq!(sum(&text, "riptide_registered_aors", &[]), registered);
    assert_eq!(sum(&text, "riptide_registered_bindings", &[]), registered);

    // SIP traffic in and out.
    let received = |m: &str| {
        sum(
            &text,
            "riptide_sip_requests_received_total",
            &[("method", m)],
        )
    };
    assert_eq!(received("REGISTER") - retransmitted, 2 * registered);
    assert_eq!(received("INVITE") - invite_retransmitted, M + 1);
    assert_eq!(received("CANCEL"), 1);
    // SIPp sends everything to the node: ACK and BYE of each call pass through.
    assert_eq!(
        received("ACK"),
        M + 1,
        "an ACK per call, and the one for the 487"
    );
    assert_eq!(received("BYE"), M);
    let sent = |c: &str| sum(&text, "riptide_sip_responses_sent_total", &[("class", c)]);
    // 401 per registration, and the 487; 200 per registration, INVITE and
    // BYE of each call, and for the CANCEL.
    assert_eq!(sent("4xx"), registered + 1);
    assert_eq!(sent("2xx"), registered + 2 * M + 1);
    // 100 Trying and 180 Ringing for each call and the cancelled one.
    assert_eq!(sent("1xx"), 2 * (M + 1));
    assert_eq!(
        sum(
            &text,
            "riptide_sip_requests_sent_total",
            &[("method", "INVITE")]
        ),
        M + 1
    );
    assert_eq!(
        sum(
            &text,
            "riptide_sip_requests_sent_total",
            &[("method", "CANCEL")]
        ),
        1
    );
    // The callers' ACKs for 2xx, and the node's own ACK for the callee's 487.
    assert_eq!(
        sum(
            &text,
            "riptide_sip_requests_sent_total",
            &[("method", "ACK")]
        ),
        M + 1
    );
    assert_eq!(
        sum(
            &text,
            "riptide_sip_requests_sent_total",
            &[("method", "BYE")]
        ),
        M
    );
    assert_eq!(sum(&text, "riptide_sip_rejected_overload_total", &[]), 0);
    assert_eq!(sum(&text, "riptide_sip_malformed_total", &[]), 0);
    assert_eq!(
        sum(
            &text,
            "riptide_invites_cancelled_total",
            &[("when", "after_1xx")]
        ),
        1
    );
    assert_eq!(
        sum(
            &text,
            "riptide_invites_cancelled_total",
            &[("when", "before_1xx")]
        ),
        0
    );

    // Latencies: one per transaction, whatever the retransmissions.
    let latency = |m: &str| {
        sum(
            &text,
            "riptide_sip_request_latency_seconds_count",
            &[("method", m)],
        )
    };
    assert_eq!(latency("REGISTER"), 2 * registered);
    assert_eq!(latency("INVITE"), M + 1);
    assert_eq!(latency("CANCEL"), 1);
    assert_eq!(latency("BYE"), M);
    assert_eq!(latency("ACK"), 0, "an ACK makes no transaction");
    // Incoming transactions by method: a 2xx is a success, anything else a failure.
    for (method, attempts, successes, failures) in [
        ("REGISTER", 2 * registered, registered, registered),
        ("INVITE", M + 1, M, 1),
        ("BYE", M, M, 0),
        ("CANCEL", 1, 1, 0),
        ("ACK", 0, 0, 0),
    ] {
        let get = |name: &str| sum(&text, name, &[("method", method)]);
        assert_eq!(
            (
                get("riptide_sip_incoming_transactions_total"),
                get("riptide_sip_incoming_transaction_successes_total"),
                get("riptide_sip_incoming_transaction_failures_total"),
            ),
            (attempts, successes, failures),
            "{method}"
        );
    }
    assert_eq!(
        sum(
            &text,
            "riptide_sip_request_latency_seconds_bucket",
            &[("method", "REGISTER"), ("le", "+Inf")]
        ),
        2 * registered
    );
    let hss = |e: &str| {
        sum(
            &text,
            "riptide_hss_request_latency_seconds_count",
            &[("endpoint", e)],
        )
    };
    assert_eq!(hss("av"), registered);
    // A PUT per registration; the terminating INVITEs' reg-data comes from
    // the owner shard's subscriber cache (the callees registered there).
    assert_eq!(hss("reg-data"), registered);
    assert_eq!(sum(&text, "riptide_hss_failures_total", &[]), 0);
    assert_eq!(
        sum(&text, "riptide_session_setup_seconds_count", &[]),
        M + 1
    );
    assert_eq!(sum(&text, "riptide_alarm_active", &[]), 0);

    // The same numbers in Clearwater's windows.
    let (status, body) = http(node.management, "GET", "/stats", "");
    assert_eq!(status, 200, "{body}");
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    let counts = &stats["counts"];
    let initial = &counts["initial_reg_success_fail_count"];
    assert_eq!(last_ten_minutes(initial, Some("attempts")), registered);
    assert_eq!(last_ten_minutes(initial, Some("successes")), registered);
    assert_eq!(last_ten_minutes(initial, Some("failures")), 0);
    let digest = &counts["sip_digest_auth_success_fail_count"];
    assert_eq!(last_ten_minutes(digest, Some("successes")), registered);
    assert_eq!(
        last_ten_minutes(&counts["invites_cancelled_after_1xx"], None),
        1
    );
    assert_eq!(
        last_ten_minutes(&counts["sprout_rejected_overload"], None),
        0
    );
    assert_eq!(
        last_ten_minutes(&counts["sprout_incoming_requests"], None),
        received("REGISTER")
            + received("INVITE")
            + received("CANCEL")
            + received("ACK")
            + received("BYE")
    );
    let reg_latency = &stats["latency_us"]["sprout_latency_by_method"]["REGISTER"];
    assert_eq!(last_ten_minutes(reg_latency, Some("count")), 2 * registered);
    let p = &reg_latency["current_5min"];
    assert!(
        p["lwm"].as_u64().unwrap() <= p["hwm"].as_u64().unwrap(),
        "{p}"
    );
    let av = &stats["latency_us"]["sprout_homestead_av_latency"];
    assert_eq!(last_ten_minutes(av, Some("count")), registered);

    // The rest of the management API.
    let (status, body) = http(node.management, "GET", "/health", "");
    assert_eq!(
        (status, body.trim()),
        (200, r#"{"live":true,"ready":true}"#)
    );
    let (status, body) = http(node.management, "GET", "/alarms", "");
    assert_eq!(status, 200);
    let alarms: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(alarms["alarms"], serde_json::json!([]));
    let (status, body) = http(node.management, "GET", "/config", "");
    assert_eq!(status, 200);
    let config: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(config["config"]["shards"], 2);
    assert_eq!(config["config"]["sip_port"], node.sip.port());
    assert_eq!(config["version"].as_str().unwrap().len(), 16);
    let impu = format!("sip:{}@example.com", callee.0);
    let path = format!(
        "/impu/{}/bindings",
        impu.replace(':', "%3A").replace('@', "%40")
    );
    let (status, body) = http(node.management, "GET", &path, "");
    assert_eq!(status, 200, "{body}");
    let b: serde_json::Value = serde_json::from_str(&body).unwrap();
    let bindings = b["bindings"].as_object().unwrap();
    assert_eq!(bindings.len(), 1, "{b}");
    let uri = bindings.values().next().unwrap()["uri"].as_str().unwrap();
    assert!(
        uri.ends_with(&format!(":{};transport=UDP", uas.port))
            || uri.contains(&format!(":{}", uas.port)),
        "{uri}"
    );
    let (status, body) = http(
        node.management,
        "GET",
        "/impu/sip%3Anobody%40example.com/bindings",
        "",
    );
    assert_eq!(
        (status, body.trim()),
        (
            200,
            format!(
                r#"{{"bindings":{{}},"impu":"sip:nobody@example.com","shard":{}}}"#,
                serde_json::from_str::<serde_json::Value>(&body).unwrap()["shard"]
            )
            .as_str()
        )
    );
}

#[test]
fn an_unreachable_hss_cache_raises_its_alarm_and_counts_the_failure() {
    // A port nobody listens on: every connection to the HSS cache is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = data_dir("alarm");
    let hss = closed.to_string();
    let node = Riptide::start(&[
        "--shards",
        "1",
        "--hss",
        &hss,
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    let (_, body) = http(node.management, "GET", "/alarms", "");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["alarms"],
        serde_json::json!([])
    );

    let ue = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ue.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let port = ue.local_addr().unwrap().port();
    let register = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-alarm-1\r\nMax-Forwards: 70\r\nFrom: <sip:6505550000@example.com>;tag=a\r\nTo: <sip:6505550000@example.com>\r\nCall-ID: alarm-1\r\nCSeq: 1 REGISTER\r\nContact: <sip:6505550000@127.0.0.1:{port}>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n"
    );
    ue.send_to(register.as_bytes(), node.sip).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = ue.recv_from(&mut buf).expect("an answer to the REGISTER");
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("SIP/2.0 504 "), "{answer}");

    let (status, body) = http(node.management, "GET", "/alarms", "");
    assert_eq!(status, 200);
    let alarms: serde_json::Value = serde_json::from_str(&body).unwrap();
    let list = alarms["alarms"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{alarms}");
    assert_eq!(list[0]["name"], "hss_cache_unreachable");
    assert_eq!(list[0]["severity"], "critical");
    assert_eq!(list[0]["clearwater"], "SPROUT_HOMESTEAD_COMM_ERROR");
    assert_eq!(list[0]["shards"], serde_json::json!([0]));
    assert!(list[0]["since_ms"].as_u64().unwrap() <= alarms["time_ms"].as_u64().unwrap());

    let text = scrape(&node);
    promtool_check(&text);
    assert_eq!(
        sum(&text, "riptide_hss_failures_total", &[("endpoint", "av")]),
        1
    );
    assert_eq!(
        sum(&text, "riptide_hss_requests_total", &[("endpoint", "av")]),
        1
    );
    assert_eq!(
        sum(
            &text,
            "riptide_alarm_active",
            &[("alarm", "hss_cache_unreachable")]
        ),
        1
    );
    assert_eq!(sum(&text, "riptide_alarm_active", &[]), 1);
    assert_eq!(
        sum(
            &text,
            "riptide_sip_responses_sent_total",
            &[("class", "5xx")]
        ),
        1
    );
    // A challenge that never happened is neither an authentication nor a registration.
    assert_eq!(sum(&text, "riptide_digest_auth_attempts_total", &[]), 0);
    assert_eq!(sum(&text, "riptide_registration_attempts_total", &[]), 0);
    // The node is still ready: an alarm is not a reason to leave the pool.
    let (status, _) = http(node.management, "GET", "/health", "");
    assert_eq!(status, 200);
}
