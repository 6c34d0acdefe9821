//! The servers under test, each started pinned to one core with `taskset`
//! and stopped (SIGKILL, then reaped) when dropped.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_fastpath::{Limits, Message};

use crate::echo::EchoMode;
use crate::sipmsg::{self, RequestIds};
use crate::users::User;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("starting {what}: {source}")]
    Spawn {
        what: String,
        source: std::io::Error,
    },
    #[error("{0} did not answer OPTIONS within {1:?}")]
    NotReady(String, Duration),
    #[error("{0} exited before printing its listener")]
    NoListener(String),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A running server: its process (the root of its tree) and SIP address.
pub struct Server {
    pub name: String,
    child: Child,
    pub sip: SocketAddr,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Kamailio's workers follow their parent out; the kill is of our own child only.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pinned(core: usize, program: &Path) -> Command {
    let mut c = Command::new("taskset");
    c.arg("-c").arg(core.to_string()).arg(program);
    c
}

/// Riptide with one shard on `core`, proxying everything to `next_hop`
/// (without one: its own roles only, the registrar where the build has it).
pub fn riptide(
    bin: &Path,
    core: usize,
    next_hop: Option<SocketAddr>,
    udp_driver: Option<&str>,
) -> Result<Server, ServerError> {
    let mut cmd = pinned(core, bin);
    cmd.args(["--sip-port", "0", "--management", "127.0.0.1:0"]);
    if let Some(driver) = udp_driver {
        cmd.args(["--udp-driver", driver]);
    }
    cmd.args(["--shards", "1", "--no-pin", "--record-route"]);
    if let Some(hop) = next_hop {
        cmd.arg("--route").arg(format!("*=sip:{hop}"));
    }
    let (server, _) = spawn_riptide(cmd, bin)?;
    wait_ready(&server)?;
    Ok(server)
}

/// Start a riptide command and read its `listening <what> <addr>` lines up
/// to the SIP one (printed after the control plane's, in all-in-one); the
/// rest of its output is drained so a later line never meets a closed pipe.
fn spawn_riptide(
    mut cmd: Command,
    bin: &Path,
) -> Result<(Server, HashMap<String, SocketAddr>), ServerError> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| ServerError::Spawn {
            what: bin.display().to_string(),
            source,
        })?;
    let out = child
        .stdout
        .take()
        .ok_or_else(|| ServerError::NoListener("riptide".into()))?;
    let mut listening = HashMap::new();
    let mut lines = BufReader::new(out).lines();
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["listening", what, addr] = words[..] {
            if let Ok(addr) = addr.parse() {
                listening.insert(what.to_owned(), addr);
            }
            if what == "sip-udp" {
                break;
            }
        }
    }
    drain(lines);
    let server = Server {
        name: "riptide".into(),
        child,
        sip: listening
            .get("sip-udp")
            .copied()
            .ok_or_else(|| ServerError::NoListener("riptide".into()))?,
    };
    Ok((server, listening))
}

/// Riptide as a registrar: `riptide all-in-one` on `core` (engine and its
/// control-plane child, both in the measured process tree: the HSS cache is
/// part of the work), data under `data_dir`, `users` provisioned through the
/// control plane's bulk API before the run.
pub fn riptide_registrar(
    bin: &Path,
    core: usize,
    data_dir: &Path,
    users: &[User],
    udp_driver: Option<&str>,
) -> Result<Server, ServerError> {
    let _ = std::fs::remove_dir_all(data_dir);
    let mut cmd = pinned(core, bin);
    cmd.args(["--sip-port", "0", "--management", "127.0.0.1:0"]);
    if let Some(driver) = udp_driver {
        cmd.args(["--udp-driver", driver]);
    }
    cmd.args(["--shards", "1", "--no-pin"])
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--provisioning-listen", "127.0.0.1:0"])
        .args([
            "--hss-listen",
            "127.0.0.1:0",
            "--xdms-listen",
            "127.0.0.1:0",
        ])
        .arg("all-in-one");
    let (server, listening) = spawn_riptide(cmd, bin)?;
    let prov = *listening
        .get("provisioning")
        .ok_or_else(|| ServerError::NoListener("riptide's provisioning API".into()))?;
    for batch in users.chunks(10_000) {
        let body = serde_json::json!({
            "users": batch.iter().map(|u| serde_json::json!({
                "impu": format!("sip:{}@{}", u.dn, u.domain),
                "impi": u.auth_username,
                "realm": u.domain,
                "password": u.password,
            })).collect::<Vec<_>>()
        })
        .to_string();
        post(prov, "/riptide/bulk-users", &body).map_err(|source| ServerError::Write {
            path: PathBuf::from(format!("http://{prov}/riptide/bulk-users")),
            source,
        })?;
    }
    wait_ready(&server)?;
    Ok(server)
}

/// Keep reading a child's stdout to its end, so later lines never meet a
/// closed pipe.
fn drain(lines: std::io::Lines<BufReader<std::process::ChildStdout>>) {
    std::thread::spawn(move || lines.for_each(drop));
}

/// One HTTP/1.1 POST (`Connection: close`); an error unless the answer is 2xx.
fn post(addr: SocketAddr, path: &str, body: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    match answer.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(()),
        _ => Err(std::io::Error::other(format!(
            "provisioning answered {}",
            answer.lines().next().unwrap_or("nothing")
        ))),
    }
}

/// Which Kamailio configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KamailioRole {
    /// `register.cfg`: passwords from `dir/passwd`.
    Registrar,
    /// `proxy.cfg`: everything to `next_hop`.
    Proxy,
}

/// Write the users' passwords as the db_text table `passwd` htable loads at start.
pub fn write_passwords(dir: &Path, users: &[User]) -> Result<(), ServerError> {
    let path = dir.join("passwd");
    let mut text = String::from(
        "id(int,auto) key_name(str) key_type(int) value_type(int) key_value(str) expires(int)\n",
    );
    for (i, u) in users.iter().enumerate() {
        // db_text escapes ':' in values.
        let pw = u.password.replace(':', "\\:");
        text.push_str(&format!("{}:{}:0:0:{}:0\n", i + 1, u.auth_username, pw));
    }
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, text))
        .map_err(|source| ServerError::Write { path, source })
}

/// Kamailio from `cfg_dir` on `core`, listening on `port`, TLSF allocator,
/// errors-only logging, one worker (`children=1` in the configs).
pub fn kamailio(
    cfg_dir: &Path,
    role: KamailioRole,
    core: usize,
    port: u16,
    next_hop: SocketAddr,
    passwd_dir: &Path,
) -> Result<Server, ServerError> {
    let (cfg, define) = match role {
        KamailioRole::Registrar => (
            "register.cfg",
            format!("PASSWD_DB=\"text://{}\"", passwd_dir.display()),
        ),
        KamailioRole::Proxy => ("proxy.cfg", format!("NEXT_HOP=\"sip:{next_hop}\"")),
    };
    let child = pinned(core, Path::new("/usr/sbin/kamailio"))
        .arg("-f")
        .arg(cfg_dir.join(cfg))
        .args(["-x", "tlsf", "-m", "2048", "-M", "64", "-DD", "-E"])
        .arg("-l")
        .arg(format!("udp:127.0.0.1:{port}"))
        .arg("-A")
        .arg(define)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| ServerError::Spawn {
            what: "kamailio".into(),
            source,
        })?;
    let server = Server {
        name: "kamailio".into(),
        child,
        sip: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    wait_ready(&server)?;
    Ok(server)
}

/// The raw echo (`riptide-compare echo`) on `core`.
pub fn echo(compare_bin: &Path, core: usize, mode: EchoMode) -> Result<Server, ServerError> {
    let mode_arg = match mode {
        EchoMode::Blocking => "blocking",
        EchoMode::Mmsg => "mmsg",
        EchoMode::Uring => "uring",
    };
    let mut child = pinned(core, compare_bin)
        .args(["echo", "--mode", mode_arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| ServerError::Spawn {
            what: "echo".into(),
            source,
        })?;
    let out = child
        .stdout
        .take()
        .ok_or_else(|| ServerError::NoListener("echo".into()))?;
    let mut sip = None;
    if let Some(Ok(line)) = BufReader::new(out).lines().next() {
        sip = line
            .strip_prefix("listening ")
            .and_then(|a| a.trim().parse().ok());
    }
    Ok(Server {
        name: format!("echo {}", mode.name()),
        child,
        sip: sip.ok_or_else(|| ServerError::NoListener("echo".into()))?,
    })
}

/// A UDP port free right now.
pub fn free_udp_port() -> std::io::Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

const READY_WITHIN: Duration = Duration::from_secs(10);

/// Send OPTIONS until a 200 comes back.
fn wait_ready(server: &Server) -> Result<(), ServerError> {
    let not_ready = || ServerError::NotReady(server.name.clone(), READY_WITHIN);
    let sock = UdpSocket::bind("127.0.0.1:0").map_err(|_| not_ready())?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|_| not_ready())?;
    let local = sock.local_addr().map_err(|_| not_ready())?.to_string();
    let deadline = Instant::now() + READY_WITHIN;
    let mut buf = vec![0u8; 65_535];
    let mut n = 0u32;
    while Instant::now() < deadline {
        n += 1;
        let branch = format!("z9hG4bK-ready-{n}");
        let from = "<sip:ready@127.0.0.1>;tag=r".to_owned();
        let to = format!("<sip:{}>", server.sip);
        let req = sipmsg::options(
            &format!("sip:{}", server.sip),
            &RequestIds {
                sent_by: &local,
                branch: &branch,
                call_id: &format!("ready-{n}"),
                from: &from,
                to: &to,
                cseq: n,
            },
        );
        let _ = sock.send_to(&req, server.sip);
        if let Ok((len, _)) = sock.recv_from(&mut buf) {
            let ok = Message::parse(Bytes::copy_from_slice(&buf[..len]), &Limits::default())
                .is_ok_and(|m| m.status() == Some(200));
            if ok {
                return Ok(());
            }
        }
    }
    Err(not_ready())
}
