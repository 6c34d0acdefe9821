//! The real `riptide` reads Clearwater's configuration files from
//! `--config-dir`, flags given on the command line win over them, and a bad
//! file stops the start with file, line and key.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;
use support::{Riptide, data_dir, free_port, http, scrape, sum};

fn config_dir(tag: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = data_dir(tag);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

/// Send an OPTIONS (with `padding` bytes of an extra header) to `sip` and
/// return the answer's status line.
fn options_status(sip: std::net::SocketAddr, padding: usize) -> String {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let me = sock.local_addr().unwrap();
    let req = format!(
        "OPTIONS sip:{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKcfg1;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@example.com>;tag=1\r\nTo: <sip:{sip}>\r\n\
         Call-ID: cfg-1-{padding}\r\nCSeq: 1 OPTIONS\r\nX-Padding: {}\r\nContent-Length: 0\r\n\r\n",
        "x".repeat(padding)
    );
    sock.send_to(req.as_bytes(), sip).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn the_files_set_addresses_and_options_and_flags_win_over_them() {
    let (sip_port, mgmt_port) = (free_port(), free_port());
    let dir = config_dir(
        "cfg-files",
        &[
            (
                "local_config",
                &format!("local_ip=127.0.0.1\nsip_port={sip_port}\nmanagement_port={mgmt_port}\n"),
            ),
            (
                "shared_config",
                "home_domain=ims.example.net\nreg_max_expires=600\nthrottle_exempt=ack,cancel\n",
            ),
            ("user_settings", "log_level=3\nnum_worker_threads=50\n"),
        ],
    );
    let d = dir.to_str().unwrap();

    let node = Riptide::spawn(&["--config-dir", d, "--no-pin", "--shards", "1"]);
    assert_eq!(node.sip.port(), sip_port);
    assert_eq!(node.management.port(), mgmt_port);
    assert_eq!(options_status(node.sip, 0), "SIP/2.0 200 OK");
    let (status, body) = http(node.management, "GET", "/config", "");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["config"]["home_domain"],
        serde_json::json!(["ims.example.net"])
    );
    assert_eq!(v["config"]["reg_max_expires"], 600);
    assert_eq!(v["config"]["log_level"], 3);
    let exempt = v["config"]["exemptions"].as_str().unwrap();
    assert!(exempt.contains("register: false"), "{exempt}");
    drop(node);

    // Flags given on the command line win over the files.
    let node = Riptide::spawn(&[
        "--config-dir",
        d,
        "--no-pin",
        "--shards",
        "1",
        "--sip-port",
        "0",
        "--reg-max-expires",
        "120",
        "--home-domain",
        "other.example.org",
    ]);
    assert_ne!(node.sip.port(), sip_port);
    assert_eq!(node.management.port(), mgmt_port);
    let (_, body) = http(node.management, "GET", "/config", "");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["config"]["reg_max_expires"], 120);
    assert_eq!(
        v["config"]["home_domain"],
        serde_json::json!(["other.example.org"])
    );
    assert_eq!(v["config"]["log_level"], 3);
    drop(node);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The message limits come from the files too: a request over
/// `sip_message_max_bytes` is answered 513 and counted as malformed.
#[test]
fn message_limits_from_the_files_are_applied() {
    let dir = config_dir(
        "cfg-limits",
        &[(
            "shared_config",
            "sip_message_max_bytes=700\nserver_transactions_max=5000\n",
        )],
    );
    let node = Riptide::start(&["--config-dir", dir.to_str().unwrap(), "--shards", "1"]);
    assert_eq!(options_status(node.sip, 0), "SIP/2.0 200 OK");
    assert_eq!(
        options_status(node.sip, 600),
        "SIP/2.0 513 Message Too Large"
    );
    let (_, body) = http(node.management, "GET", "/config", "");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["config"]["sip_message_max_bytes"], 700);
    assert_eq!(v["config"]["server_transactions_max"], 5000);
    let malformed = sum(
        &scrape(&node),
        "riptide_sip_malformed_total",
        &[("shard", "0")],
    );
    assert_eq!(malformed, 1);
    drop(node);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_file_stops_the_start_naming_file_line_and_key() {
    for (file, text, says) in [
        (
            "shared_config",
            "home_domain=example.com\nreg_max_expires=soon\n",
            "shared_config line 2: reg_max_expires=\"soon\"",
        ),
        (
            "local_config",
            "local_ipp=10.0.0.1\n",
            "local_config line 1: unknown key local_ipp",
        ),
        (
            "user_settings",
            "log_level 5\n",
            "user_settings line 1: malformed line",
        ),
    ] {
        let dir = config_dir("cfg-bad", &[(file, text)]);
        let out = Command::new(env!("CARGO_BIN_EXE_riptide"))
            .args(["--config-dir", dir.to_str().unwrap(), "--sip-port", "0"])
            .args(["--management", "127.0.0.1:0", "--no-pin"])
            .output()
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(out.status.code(), Some(2), "{text:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{text:?}: {stderr}");
        assert!(out.stdout.is_empty(), "nothing listened: {:?}", out.stdout);
    }
}
