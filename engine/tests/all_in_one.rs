//! `riptide all-in-one` end to end, on the embedded registration store and
//! (when `RIPTIDE_TEST_REDIS_URL` is set, as `scripts/test` does) on Redis:
//! the control plane provisions users, SIPp registers them with digest
//! authentication through the S-CSCF, a wrong password gets 403, a call
//! reaches a registered callee, and bindings survive `kill -9`.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use support::{
    SippServer, User, all_in_one, data_dir, demo_users, http, injection, ok, register_at,
    sipp_client_with,
};

/// The registration stores to run each test on: embedded always, Redis
/// when the test services are up.
fn backends(dir: &Path) -> Vec<(&'static str, Vec<String>)> {
    let mut v = vec![("embedded", Vec::new())];
    if let Ok(url) = std::env::var("RIPTIDE_TEST_REDIS_URL") {
        let prefix = format!("test-{}:", dir.file_name().unwrap().to_str().unwrap());
        v.push((
            "redis",
            vec!["--redis".into(), url, "--redis-key-prefix".into(), prefix],
        ));
    }
    v
}

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

/// RFC 3261 §10.3 step 7, which Clearwater skipped: a non-zero expiry below
/// `--reg-min-expires` gets 423 with Min-Expires and registers nothing.
#[test]
fn an_interval_too_brief_gets_423_with_min_expires() {
    use std::net::UdpSocket;
    let dir = data_dir("min-expires");
    let flags: Vec<String> = ["--authentication", "Y", "--reg-min-expires", "60"]
        .map(String::from)
        .to_vec();
    let node = all_in_one(&dir, &flags);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let me = sock.local_addr().unwrap();
    let register = |expires: u32, cseq: u32| {
        let req = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK423-{cseq};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:6505550000@example.com>;tag=m1\r\n\
             To: <sip:6505550000@example.com>\r\nCall-ID: min-expires-1\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:6505550000@{me}>\r\nExpires: {expires}\r\nContent-Length: 0\r\n\r\n"
        );
        sock.send_to(req.as_bytes(), node.sip).unwrap();
        let mut buf = [0u8; 4096];
        loop {
            let (n, _) = sock.recv_from(&mut buf).unwrap();
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if !text.starts_with("SIP/2.0 100") {
                return text;
            }
        }
    };
    let brief = register(30, 1);
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

    let fine = register(60, 2);
    assert!(fine.starts_with("SIP/2.0 200 "), "{fine}");
    assert!(fine.contains(";expires=60"), "{fine}");
}
