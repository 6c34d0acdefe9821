//! Starting the real `riptide` binary and Debian's SIPp on loopback, a UE
//! that registers with digest authentication, and reading `/metrics`.
#![allow(dead_code, clippy::unwrap_used)]

use bytes::Bytes;
use sip_fastpath::digest::{Algorithm, ResponseInput, ha1, response};
use sip_fastpath::{AuthParams, HeaderName, Limits, Message};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `riptide`, stopped (SIGKILL) when dropped.
pub struct Riptide {
    child: Child,
    pub sip: SocketAddr,
    pub management: SocketAddr,
    /// Every `listening <what> <addr>` line printed before it was ready
    /// (all-in-one adds `provisioning`, `hss` and `xdms`).
    pub listening: std::collections::HashMap<String, SocketAddr>,
}

impl Riptide {
    /// Start with the given extra flags; SIP and management ports are picked
    /// by the kernel and read back from the `listening` lines.
    /// Configuration files are read from an empty directory unless `extra`
    /// names one, so a host's /etc/clearwater does not leak into tests.
    pub fn start(extra: &[&str]) -> Riptide {
        let mut args = vec!["--sip-port", "0", "--management", "127.0.0.1:0", "--no-pin"];
        let no_config = std::env::temp_dir().join("riptide-test-no-config");
        if !extra.contains(&"--config-dir") {
            args.extend(["--config-dir", no_config.to_str().unwrap()]);
        }
        args.extend(extra);
        Riptide::spawn(&args)
    }

    /// Start with exactly `args`.
    pub fn spawn(args: &[&str]) -> Riptide {
        let mut child = Command::new(env!("CARGO_BIN_EXE_riptide"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("riptide starts");
        let out = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(out).lines();
        let (mut sip, mut management) = (None, None);
        let mut listening = std::collections::HashMap::new();
        while management.is_none() {
            let line = lines
                .next()
                .expect("riptide printed its listeners before exiting")
                .expect("readable stdout");
            let mut words = line.split_whitespace();
            if let (Some("listening"), Some(what), Some(a)) =
                (words.next(), words.next(), words.next())
            {
                if let Ok(addr) = a.parse() {
                    listening.insert(what.to_owned(), addr);
                }
            }
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("listening"), Some("sip-udp"), Some(a)) => sip = Some(a.parse().unwrap()),
                (Some("listening"), Some("management"), Some(a)) => {
                    management = Some(a.parse().unwrap())
                }
                _ => {}
            }
        }
        Riptide {
            child,
            sip: sip.expect("a SIP listener"),
            management: management.expect("a management listener"),
            listening,
        }
    }

    /// Wait for the node to exit by itself (after `/quiesce`).
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("riptide exits")
    }

    /// Send SIGTERM and wait: the exit status of a graceful stop.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        self.child.wait().expect("riptide exits")
    }
}

impl Drop for Riptide {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free for both UDP and TCP right now.
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Is something bound to `port` on loopback (`/proc/net/udp` or the
/// listening sockets of `/proc/net/tcp`)?
fn bound(port: u16, tcp: bool) -> bool {
    let file = if tcp {
        "/proc/net/tcp"
    } else {
        "/proc/net/udp"
    };
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let want = format!(":{port:04X}");
    text.lines().skip(1).any(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        cols.len() > 3 && cols[1].ends_with(&want) && (!tcp || cols[3] == "0A")
    })
}

pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// A SIPp server scenario in the background, killed when dropped.
pub struct SippServer {
    child: Child,
    pub port: u16,
}

impl SippServer {
    /// `scenario`: `uas` (built in) or a file under tests/sipp. `transport`:
    /// SIPp's `-t` value (`u1`, `t1`).
    pub fn start(scenario_name: &str, transport: &str) -> SippServer {
        Self::start_with(scenario_name, transport, &[])
    }

    /// As [`SippServer::start`], with more SIPp arguments (a remote address
    /// and `-inf` for a scenario that registers before it answers).
    pub fn start_with(scenario_name: &str, transport: &str, extra: &[String]) -> SippServer {
        let port = free_port();
        let mut cmd = Command::new("sipp");
        if scenario_name.ends_with(".xml") {
            cmd.arg("-sf").arg(scenario(scenario_name));
        } else {
            cmd.args(["-sn", scenario_name]);
        }
        let child = cmd
            .args(extra)
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-t",
                transport,
                "-nostdin",
            ])
            .args([
                "-trace_err",
                "-error_file",
                &format!("/tmp/riptide-sipp-uas-{port}.err"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp is installed (Debian package sip-tester)");
        let tcp = transport.starts_with('t');
        let deadline = Instant::now() + Duration::from_secs(20);
        while !bound(port, tcp) {
            assert!(
                Instant::now() < deadline,
                "SIPp server never bound port {port}"
            );
            std::thread::yield_now();
        }
        SippServer { child, port }
    }
}

impl Drop for SippServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a SIPp client run ended with (from its statistics file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SippOutcome {
    pub exit_code: i32,
    pub successful: u64,
    pub failed: u64,
    pub retransmissions: u64,
}

/// Run a SIPp client scenario to completion.
pub fn sipp_client(
    scenario_name: &str,
    transport: &str,
    target: SocketAddr,
    calls: u32,
    rate: u32,
) -> SippOutcome {
    sipp_client_with(scenario_name, transport, target, calls, rate, &[])
}

/// As [`sipp_client`], with more SIPp arguments (`-inf FILE`, `-s USER`).
pub fn sipp_client_with(
    scenario_name: &str,
    transport: &str,
    target: SocketAddr,
    calls: u32,
    rate: u32,
    extra: &[String],
) -> SippOutcome {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("riptide-sipp-{port}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stats = dir.join("stats.csv");
    let mut cmd = Command::new("sipp");
    cmd.arg(target.to_string());
    if scenario_name.ends_with(".xml") {
        cmd.arg("-sf").arg(scenario(scenario_name));
    } else {
        cmd.args(["-sn", scenario_name]);
    }
    if !extra.iter().any(|a| a == "-s") {
        cmd.args(["-s", "6505550001"]);
    }
    let status = cmd
        .args(extra)
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-t", transport])
        .args(["-m", &calls.to_string(), "-r", &rate.to_string()])
        .args([
            "-timeout",
            "60s",
            "-timeout_error",
            "-nostdin",
            "-trace_stat",
            "-fd",
            "60",
            "-max_socket",
            "1000",
        ])
        .arg("-stf")
        .arg(&stats)
        .arg("-trace_err")
        .arg("-error_file")
        .arg(dir.join("errors.log"))
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("sipp runs");
    let text = std::fs::read_to_string(&stats).expect("SIPp wrote statistics");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(';').collect();
    let last: Vec<&str> = text.lines().last().unwrap_or_default().split(';').collect();
    let get = |name: &str| -> u64 {
        header
            .iter()
            .position(|h| *h == name)
            .and_then(|i| last.get(i))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    SippOutcome {
        exit_code: status.code().unwrap_or(-1),
        successful: get("SuccessfulCall(C)"),
        failed: get("FailedCall(C)"),
        retransmissions: get("Retransmissions(C)"),
    }
}

/// One blocking HTTP/1.1 request with `Connection: close`: the whole answer.
pub fn http_raw(addr: SocketAddr, method: &str, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

/// One blocking HTTP/1.1 request with `Connection: close`: (status, body).
pub fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let answer = http_raw(addr, method, path, body);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// A demo or provisioned user: (dn, impi, realm, password).
pub type User = (String, String, String, String);

static DATA_DIRS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A fresh, empty data directory for one node of one test.
pub fn data_dir(tag: &str) -> PathBuf {
    let n = DATA_DIRS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("riptide-test-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `riptide all-in-one` on two shards in `dir`, every port picked by the
/// kernel, with `extra` flags (a store choice) before the subcommand.
pub fn all_in_one(dir: &Path, extra: &[String]) -> Riptide {
    let mut args: Vec<&str> = vec![
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
    ];
    args.extend(extra.iter().map(String::as_str));
    args.push("all-in-one");
    Riptide::start(&args)
}

/// The demo users an all-in-one node wrote to its data directory.
pub fn demo_users(dir: &Path) -> Vec<User> {
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
pub fn injection(dir: &Path, name: &str, users: &[User]) -> String {
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

/// Every call succeeded and SIPp exited 0.
pub fn ok(out: &SippOutcome, n: u64) -> bool {
    (out.exit_code, out.successful, out.failed) == (0, n, 0)
}

/// Register `user` with its Contact at `port` (where a SIPp server answers);
/// the registration must succeed.
pub fn register_at(node: &Riptide, dir: &Path, user: &User, port: u16) -> SippOutcome {
    let file = injection(
        dir,
        &format!("contact-{}.csv", user.0),
        std::slice::from_ref(user),
    );
    let extra = [
        "-inf".into(),
        file,
        "-set".into(),
        "contact_port".into(),
        port.to_string(),
    ];
    let out = sipp_client_with("register_contact_uac.xml", "u1", node.sip, 1, 10, &extra);
    assert!(ok(&out, 1), "{out:?}");
    out
}

/// The `Authorization` value answering a REGISTER's digest challenge
/// (`nonce`, `opaque` if it had one) for `impi` with `password`.
pub fn digest_authorization(
    alg: Algorithm,
    impi: &str,
    realm: &str,
    password: &str,
    nonce: &str,
    opaque: Option<&str>,
) -> String {
    let uri = format!("sip:{realm}");
    let h = ha1(alg, impi.as_bytes(), realm.as_bytes(), password.as_bytes());
    let r = response(
        alg,
        h.as_bytes(),
        &ResponseInput {
            method: b"REGISTER",
            uri: uri.as_bytes(),
            nonce: nonce.as_bytes(),
            qop: Some((b"00000001", b"0a4f113b", b"auth")),
        },
    );
    let opaque = opaque
        .map(|o| format!(",opaque=\"{o}\""))
        .unwrap_or_default();
    format!(
        "Digest username=\"{impi}\",realm=\"{realm}\",nonce=\"{nonce}\",uri=\"{uri}\",response=\"{}\",algorithm={},cnonce=\"0a4f113b\",qop=auth,nc=00000001{opaque}",
        r.as_str(),
        alg.as_str()
    )
}

/// A UE over UDP on loopback; a receive that takes longer than 10 s fails
/// the test (a bound on failure, not a wait for success).
pub struct Ue {
    pub socket: UdpSocket,
    pub node: SocketAddr,
}

impl Ue {
    pub fn new(node: SocketAddr) -> Ue {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Ue { socket, node }
    }

    fn exchange(&self, request: String) -> Message {
        self.socket.send_to(request.as_bytes(), self.node).unwrap();
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, _) = self.socket.recv_from(&mut buf).unwrap();
            let m = Message::parse(Bytes::copy_from_slice(&buf[..n]), &Limits::default()).unwrap();
            if m.status().is_some_and(|s| s >= 200) {
                return m;
            }
        }
    }

    /// REGISTER `user` with `contacts` (whole Contact values), answering
    /// the digest challenge; the 200 OK.
    pub fn register(&self, user: &User, contacts: &[String]) -> Message {
        self.register_expiring(user, contacts, 300)
    }

    /// As [`Ue::register`], asking for `expires` seconds.
    pub fn register_expiring(&self, user: &User, contacts: &[String], expires: u32) -> Message {
        let (dn, impi, realm, password) = user;
        let local = self.socket.local_addr().unwrap();
        let request = |cseq: u32, auth: &str| {
            let contact: String = contacts
                .iter()
                .map(|c| format!("Contact: {c}\r\n"))
                .collect();
            format!(
                "REGISTER sip:{realm} SIP/2.0\r\nVia: SIP/2.0/UDP {local};rport;branch=z9hG4bK-reg-{dn}-{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:{dn}@{realm}>;tag=ue{dn}\r\nTo: <sip:{dn}@{realm}>\r\nCall-ID: reg-{dn}-{}\r\nCSeq: {cseq} REGISTER\r\n{contact}Supported: path, gruu\r\nExpires: {expires}\r\n{auth}Content-Length: 0\r\n\r\n",
                local.port()
            )
        };
        let challenge = self.exchange(request(1, ""));
        assert_eq!(challenge.status(), Some(401));
        let www = challenge.header_value(HeaderName::WwwAuthenticate).unwrap();
        let p = AuthParams::parse(www).unwrap();
        let nonce = String::from_utf8_lossy(p.get(b"nonce").unwrap()).into_owned();
        let opaque = p
            .get(b"opaque")
            .map(|o| String::from_utf8_lossy(o).into_owned());
        let alg = Algorithm::from_param(p.get(b"algorithm")).unwrap();
        let auth = format!(
            "Authorization: {}\r\n",
            digest_authorization(alg, impi, realm, password, &nonce, opaque.as_deref())
        );
        let ok = self.exchange(request(2, &auth));
        assert_eq!(ok.status(), Some(200));
        ok
    }
}

/// One Prometheus sample: name, labels, value.
pub type Sample = (String, Vec<(String, String)>, f64);

pub fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            (name.to_owned(), labels, value.parse().unwrap())
        })
        .collect()
}

/// The sum over every series of `name` whose labels include `want`.
pub fn sum(text: &str, name: &str, want: &[(&str, &str)]) -> u64 {
    samples(text)
        .into_iter()
        .filter(|(n, labels, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, v)| v as u64)
        .sum()
}

pub fn scrape(node: &Riptide) -> String {
    let (status, body) = http(node.management, "GET", "/metrics", "");
    assert_eq!(status, 200, "{body}");
    body
}

/// The registration stores to run a test on, as flags for `riptide`:
/// embedded always, Redis when the test services are up (a key prefix of
/// the data directory's name, so runs never share keys).
pub fn backends(dir: &Path) -> Vec<(&'static str, Vec<String>)> {
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
