//! Starting the real `riptide` binary and Debian's SIPp on loopback.
#![allow(dead_code, clippy::unwrap_used)]

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
