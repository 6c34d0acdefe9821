//! `riptide-load options --count 200` against a tiny UDP responder on loopback.

use std::net::UdpSocket;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use perf::stats::Summary;
use sip_fastpath::{Limits, Message};

/// Answers every OPTIONS with 200 until `stop`; returns how many it answered.
fn responder(sock: UdpSocket, stop: Arc<AtomicBool>, answered: Arc<AtomicU64>) {
    let mut buf = vec![0u8; 65_535];
    while !stop.load(Ordering::Relaxed) {
        // The read timeout only lets the thread notice `stop`; no assertion depends on it.
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let Ok(req) = Message::parse(Bytes::copy_from_slice(&buf[..n]), &Limits::default()) else {
            continue;
        };
        let resp = req.response(200, "OK").finish();
        if sock.send_to(&resp, from).is_ok() {
            answered.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[test]
fn two_hundred_options_all_succeed() -> Result<(), Box<dyn std::error::Error>> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let addr = sock.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let handle = {
        let (stop, answered) = (stop.clone(), answered.clone());
        thread::spawn(move || responder(sock, stop, answered))
    };
    let out = Command::new(env!("CARGO_BIN_EXE_riptide-load"))
        .args(["options", "--count", "200", "--rate", "2000", "--json"])
        .args(["--server", &addr.to_string()])
        .output()?;
    stop.store(true, Ordering::Relaxed);
    handle.join().map_err(|_| "responder panicked")?;
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Summary = serde_json::from_slice(&out.stdout)?;
    assert_eq!(s.attempts, 200);
    assert_eq!(s.successes, 200);
    assert_eq!(s.failures_total, 0);
    assert_eq!(s.latency["OPTIONS"].count, 200);
    assert_eq!(s.latency["flow"].count, 200);
    // Every request was answered once unless one was retransmitted.
    assert_eq!(answered.load(Ordering::Relaxed), 200 + s.retransmissions);
    Ok(())
}

#[test]
fn an_unanswered_server_yields_timeouts_and_retransmissions()
-> Result<(), Box<dyn std::error::Error>> {
    // Bound but never read: every request goes unanswered.
    let silent = UdpSocket::bind("127.0.0.1:0")?;
    let out = Command::new(env!("CARGO_BIN_EXE_riptide-load"))
        .args(["options", "--count", "3", "--rate", "1000", "--json"])
        .args(["--t1-ms", "10", "--timeout-ms", "100", "--drain-ms", "1000"])
        .args(["--server", &silent.local_addr()?.to_string()])
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    let s: Summary = serde_json::from_slice(&out.stdout)?;
    assert_eq!(s.attempts, 3);
    assert_eq!(s.successes, 0);
    assert_eq!(s.failures.get("timeout"), Some(&3));
    // T1 = 10 ms doubling within 100 ms: resends at 10, 30 and 70 ms for each
    // request when on time; a late timer only delays the next, so at least one
    // and at most three per request.
    assert!(
        (3..=9).contains(&s.retransmissions),
        "{} retransmissions",
        s.retransmissions
    );
    Ok(())
}
