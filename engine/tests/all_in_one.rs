//! `riptide all-in-one` end to end: the control plane provisions the demo
//! range, SIPp registers demo users with digest authentication through the
//! S-CSCF, a wrong password gets 403, and a call reaches a registered callee.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use support::{Riptide, SippServer, sipp_client_with};

fn data_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("riptide-aio-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn all_in_one(dir: &Path) -> Riptide {
    Riptide::start(&[
        "--shards",
        "2",
        "--data-dir",
        dir.to_str().unwrap(),
        "--provisioning-listen",
        "127.0.0.1:0",
        "--hss-listen",
        "127.0.0.1:0",
        "--xdms-listen",
        "127.0.0.1:0",
        "all-in-one",
    ])
}

/// The demo users the node wrote: (dn, impi, realm, password).
fn demo_users(dir: &Path) -> Vec<(String, String, String, String)> {
    std::fs::read_to_string(dir.join("demo-users.csv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let dn = f[1].split('@').next().unwrap().to_owned();
            (dn, f[1].to_owned(), f[2].to_owned(), f[3].to_owned())
        })
        .collect()
}

/// A SIPp injection file in Clearwater's stress format: dn;[authentication];domain.
fn injection(dir: &Path, name: &str, users: &[(String, String, String, String)]) -> String {
    let mut text = String::from("SEQUENTIAL\n");
    for (dn, impi, realm, pw) in users {
        text.push_str(&format!(
            "{dn};[authentication username={impi} password={pw}];{realm}\n"
        ));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn demo_users_register_with_digest_and_a_wrong_password_is_403() {
    let dir = data_dir("register");
    let node = all_in_one(&dir);
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
    assert_eq!(
        (out.exit_code, out.successful, out.failed),
        (0, 20, 0),
        "{out:?}"
    );

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
    assert_eq!(
        (out.exit_code, out.successful, out.failed),
        (0, 5, 0),
        "{out:?}"
    );
}

#[test]
fn a_call_reaches_a_registered_callee_through_the_scscf() {
    let dir = data_dir("call");
    let node = all_in_one(&dir);
    let users = demo_users(&dir);
    let callee = &users[50];
    // SIPp's built-in UAS answers at the Contact the callee registers.
    let uas = SippServer::start("uas", "u1");
    let file = injection(&dir, "callee.csv", std::slice::from_ref(callee));
    let extra = [
        "-inf".into(),
        file,
        "-set".into(),
        "contact_port".into(),
        uas.port.to_string(),
    ];
    let out = sipp_client_with("register_contact_uac.xml", "u1", node.sip, 1, 10, &extra);
    assert_eq!(
        (out.exit_code, out.successful, out.failed),
        (0, 1, 0),
        "{out:?}"
    );
    let out = sipp_client_with(
        "call_uac.xml",
        "u1",
        node.sip,
        5,
        10,
        &["-s".into(), callee.0.clone()],
    );
    assert_eq!(
        (out.exit_code, out.successful, out.failed),
        (0, 5, 0),
        "{out:?}"
    );
}
