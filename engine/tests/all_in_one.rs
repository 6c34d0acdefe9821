//! `riptide all-in-one` end to end, on the embedded registration store and
//! (when `RIPTIDE_TEST_REDIS_URL` is set, as `scripts/test` does) on Redis:
//! the control plane provisions users, SIPp registers them with digest
//! authentication through the S-CSCF, a wrong password gets 403, a call
//! reaches a registered callee, and bindings survive `kill -9`.
#![allow(clippy::unwrap_used)]

mod support;

use support::{
    SippServer, User, all_in_one, backends, data_dir, demo_users, http, injection, ok, register_at,
    scrape, sipp_client_with, sum,
};

#[test]
fn demo_users_register_with_digest_and_a_wrong_password_is_403() {
    let dir = data_dir("register");
    for (store, flags) in backends(&dir) {
        let dir = data_dir(&format!("register-{store}"));
        let node = all_in_one(&dir, &flags);
        let users = demo_users(&dir);
        assert_eq!(users.len(), 100);
        assert_eq!(users[0].0, "6505550000");
        assert_eq!(users[99].0, "6505550099");

        let good = injection(&dir, "good.csv", &users[..20]);
        let out = sipp_client_with(
            "register_uac.xml",
            "u1",
            node.sip,
            20,
            50,
            &["-inf".into(), good],
        );
        assert!(ok(&out, 20), "{store}: {out:?}");

        let mut wrong = users[20..25].to_vec();
        for u in &mut wrong {
            u.3.push('x');
        }
        let bad = injection(&dir, "bad.csv", &wrong);
        let out = sipp_client_with(
            "register_403_uac.xml",
            "u1",
            node.sip,
            5,
            50,
            &["-inf".into(), bad],
        );
        assert!(ok(&out, 5), "{store}: {out:?}");
    }
}

#[test]
fn a_call_reaches_a_registered_callee_and_the_binding_survives_kill_9() {
    let dir = data_dir("call");
    for (store, flags) in backends(&dir) {
        let dir = data_dir(&format!("call-{store}"));
        // SIPp's built-in UAS answers at the Contact the callee registers.
        let uas = SippServer::start("uas", "u1");
        let node = all_in_one(&dir, &flags);
        let callee = demo_users(&dir)[50].clone();
        register_at(&node, &dir, &callee, uas.port);
        let out = sipp_client_with(
            "call_uac.xml",
            "u1",
            node.sip,
            5,
            10,
            &["-s".into(), callee.0.clone()],
        );
        assert!(ok(&out, 5), "{store}: {out:?}");
        // kill -9 (Riptide's drop) and start again on the same data: the
        // binding is still there, so the call still reaches the callee.
        drop(node);
        let node = all_in_one(&dir, &flags);
        let out = sipp_client_with(
            "call_uac.xml",
            "u1",
            node.sip,
            3,
            10,
            &["-s".into(), callee.0.clone()],
        );
        assert!(ok(&out, 3), "{store} after restart: {out:?}");
    }
}

#[test]
fn ten_thousand_provisioned_users_register_without_a_failure() {
    let dir = data_dir("10k");
    for (store, flags) in backends(&dir) {
        let dir = data_dir(&format!("10k-{store}"));
        let node = all_in_one(&dir, &flags);
        let prov = node.listening["provisioning"];
        let users: Vec<User> = (0..10_000u64)
            .map(|i| {
                let dn = (2_010_000_000 + i).to_string();
                let impi = format!("{dn}@example.com");
                (dn, impi, "example.com".into(), format!("pw{i}"))
            })
            .collect();
        let body = serde_json::json!({
            "users": users.iter().map(|(dn, impi, realm, pw)| serde_json::json!({
                "impu": format!("sip:{dn}@{realm}"), "impi": impi, "realm": realm, "password": pw,
            })).collect::<Vec<_>>()
        })
        .to_string();
        let (status, answer) = http(prov, "POST", "/riptide/bulk-users", &body);
        assert!((200..300).contains(&status), "{status} {answer}");
        let file = injection(&dir, "10k.csv", &users);
        let out = sipp_client_with(
            "register_uac.xml",
            "u1",
            node.sip,
            10_000,
            // A steady rate a debug build on a shared 2-core CI machine
            // carries with room to spare while other tests run (each
            // REGISTER costs the control plane's SQLite a read and a write).
            200,
            &["-inf".into(), file],
        );
        assert!(ok(&out, 10_000), "{store}: {out:?}");
    }
}

/// Send a REGISTER for `user` (Expires `expires`) from `sock` and return
/// the final answer's text.
fn raw_register(
    sock: &std::net::UdpSocket,
    to: std::net::SocketAddr,
    user: &str,
    expires: u32,
    call_id: &str,
    cseq: u32,
) -> String {
    let me = sock.local_addr().unwrap();
    let req = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-{call_id}-{cseq};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{user}@example.com>;tag=r1\r\n\
         To: <sip:{user}@example.com>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{user}@{me}>\r\nExpires: {expires}\r\nContent-Length: 0\r\n\r\n"
    );
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    sock.send_to(req.as_bytes(), to).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let (n, _) = sock.recv_from(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !text.starts_with("SIP/2.0 100") {
            return text;
        }
    }
}

fn flags(f: &[&str]) -> Vec<String> {
    f.iter().map(|s| s.to_string()).collect()
}

/// RFC 3261 §10.3 step 7, which Clearwater skipped: a non-zero expiry below
/// `--reg-min-expires` gets 423 with Min-Expires and registers nothing.
#[test]
fn an_interval_too_brief_gets_423_with_min_expires() {
    let dir = data_dir("min-expires");
    let node = all_in_one(
        &dir,
        &flags(&["--authentication", "Y", "--reg-min-expires", "60"]),
    );
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = sock.local_addr().unwrap();
    let brief = raw_register(&sock, node.sip, "6505550000", 30, "min-expires", 1);
    assert!(brief.starts_with("SIP/2.0 423 "), "{brief}");
    assert!(brief.contains("\r\nMin-Expires: 60\r\n"), "{brief}");
    let (status, body) = http(
        node.management,
        "GET",
        "/impu/sip%3A6505550000%40example.com/bindings",
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains(&me.to_string()),
        "nothing registered: {body}"
    );

    let fine = raw_register(&sock, node.sip, "6505550000", 60, "min-expires", 2);
    assert!(fine.starts_with("SIP/2.0 200 "), "{fine}");
    assert!(fine.contains(";expires=60"), "{fine}");
}

/// A request whose owner shard's queue is full is answered 503 with
/// Retry-After at once (back-pressure, never an unbounded queue). With a
/// queue depth of 0 every hand-over fails: REGISTERs that land on the
/// shard that does not own the AoR (SO_REUSEPORT picks by source port) get
/// 503, those landing on the owner register; the metric counts each 503.
#[test]
fn a_full_shard_queue_answers_503_with_retry_after() {
    let dir = data_dir("queue-full");
    let node = all_in_one(
        &dir,
        &flags(&["--authentication", "Y", "--shard-queue-depth", "0"]),
    );
    let (mut ok, mut rejected) = (0, 0);
    for i in 0..32 {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let answer = raw_register(&sock, node.sip, "6505550001", 300, &format!("qf-{i}"), 1);
        if answer.starts_with("SIP/2.0 503 ") {
            assert!(answer.contains("\r\nRetry-After: 1\r\n"), "{answer}");
            rejected += 1;
        } else {
            assert!(answer.starts_with("SIP/2.0 200 "), "{answer}");
            ok += 1;
        }
    }
    // 2^-32 that SO_REUSEPORT put all 32 sources on one shard.
    assert!(ok > 0 && rejected > 0, "ok {ok}, rejected {rejected}");
    let counted = sum(&scrape(&node), "riptide_shard_queue_full_total", &[]);
    assert_eq!(counted, rejected);
}
