//! Networks (seeds 000 and 002): with `--signaling-namespace`, SIP lives in
//! that namespace and the management listener stays in the default one.
//! Needs root (CI runs as root); skips with a message otherwise.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;
use support::Riptide;

fn ip(args: &[&str]) {
    let status = Command::new("ip")
        .args(args)
        .status()
        .expect("iproute2 is installed");
    assert!(status.success(), "ip {args:?} failed");
}

/// A namespace joined to the default one by a veth pair; removed on drop.
struct Netns {
    name: String,
    host_if: String,
}

impl Netns {
    fn new(subnet: u8) -> Netns {
        let pid = std::process::id();
        let name = format!("riptide-sig-{pid}");
        let host_if = format!("rtv0-{pid}");
        let ns_if = format!("rtv1-{pid}");
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
        ip(&["netns", "add", &name]);
        let ns = Netns {
            name: name.clone(),
            host_if: host_if.clone(),
        };
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ]);
        ip(&["link", "set", &ns_if, "netns", &name]);
        ip(&[
            "addr",
            "add",
            &format!("10.231.{subnet}.1/24"),
            "dev",
            &host_if,
        ]);
        ip(&["link", "set", &host_if, "up"]);
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            &format!("10.231.{subnet}.2/24"),
            "dev",
            &ns_if,
        ]);
        ip(&["-n", &name, "link", "set", &ns_if, "up"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        ns
    }

    /// Can a TCP connection to `addr` be made from inside the namespace?
    fn connects_inside(&self, addr: SocketAddr) -> bool {
        let script = format!(
            "import socket,sys\ns=socket.socket()\ns.settimeout(5)\ntry:\n s.connect(('{}',{}))\nexcept OSError:\n sys.exit(1)\n",
            addr.ip(),
            addr.port()
        );
        Command::new("ip")
            .args(["netns", "exec", &self.name, "python3", "-c", &script])
            .status()
            .expect("ip netns exec runs")
            .success()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn sip_answers_only_in_the_signaling_namespace_and_management_only_outside() {
    if !is_root() {
        eprintln!("SKIPPED: the network-namespace test needs root (CI runs it as root)");
        return;
    }
    let subnet = (std::process::id() % 200) as u8 + 20;
    let ns = Netns::new(subnet);
    let sig_ip = format!("10.231.{subnet}.2");
    let node = Riptide::start(&[
        "--shards",
        "2",
        "--local-ip",
        &sig_ip,
        "--signaling-namespace",
        &ns.name,
    ]);
    assert_eq!(node.sip.ip().to_string(), sig_ip);

    // SIP over the veth into the namespace: OPTIONS is answered 200.
    let ua = UdpSocket::bind(format!("10.231.{subnet}.1:0")).unwrap();
    ua.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let local = ua.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:{sig_ip}:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKns1\r\nMax-Forwards: 70\r\nFrom: <sip:probe@{local}>;tag=1\r\nTo: <sip:{sig_ip}>\r\nCall-ID: ns-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        port = node.sip.port()
    );
    ua.send_to(options.as_bytes(), node.sip).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = ua.recv_from(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"SIP/2.0 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );

    // The SIP port is not open in the default namespace's loopback...
    let loopback_sip = SocketAddr::from(([127, 0, 0, 1], node.sip.port()));
    assert!(TcpStream::connect(loopback_sip).is_err());
    // ...and the SIP TCP listener is, inside the namespace.
    assert!(ns.connects_inside(node.sip));

    // Management answers in the default namespace and not inside the other.
    let mut m = TcpStream::connect(node.management).unwrap();
    m.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    m.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(!ns.connects_inside(node.management));
}
