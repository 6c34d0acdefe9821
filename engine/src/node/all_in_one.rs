//! `riptide all-in-one`: the control plane as its own process (this binary
//! re-executed as `riptide __control-plane`, so one `cargo run` builds
//! everything), a demo subscriber range provisioned through its API, and the
//! engine with the S-CSCF answering on the SIP port, all on embedded storage
//! in one data directory.

use super::{EngineConfig, NodeError};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The demo range: 6505550000–6505550099 in the home domain.
pub const DEMO_FIRST: u64 = 6_505_550_000;
pub const DEMO_COUNT: u64 = 100;
/// The parent's pid, so the control-plane child can tell it outlived it.
pub const PARENT_ENV: &str = "RIPTIDE_ALL_IN_ONE_PARENT";
/// Where the demo users and their passwords are written, inside the data dir.
pub const DEMO_FILE: &str = "demo-users.csv";

#[derive(Debug, Clone)]
pub struct AllInOneConfig {
    pub data_dir: PathBuf,
    pub provisioning: SocketAddr,
    pub hss: SocketAddr,
    pub xdms: SocketAddr,
}

impl Default for AllInOneConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("riptide-data"),
            provisioning: SocketAddr::from(([127, 0, 0, 1], 8889)),
            hss: SocketAddr::from(([127, 0, 0, 1], 8888)),
            xdms: SocketAddr::from(([127, 0, 0, 1], 7888)),
        }
    }
}

/// The control-plane child, stopped with SIGTERM when dropped.
struct ControlPlane {
    child: Child,
    provisioning: SocketAddr,
    hss: SocketAddr,
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let _ = self.child.wait();
    }
}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |e| NodeError::AllInOne(format!("{what}: {e}"))
}

fn start_control(
    cfg: &AllInOneConfig,
    home_domain: &str,
    scscf_uri: &str,
    engine_management: SocketAddr,
) -> Result<ControlPlane, NodeError> {
    let exe = std::env::current_exe().map_err(io("locating this binary"))?;
    let mut child = Command::new(exe)
        .arg("__control-plane")
        .env(PARENT_ENV, std::process::id().to_string())
        .arg("--data-dir")
        .arg(cfg.data_dir.join("control"))
        .args(["--home-domain", home_domain, "--scscf-uri", scscf_uri])
        .args(["--listen-provisioning", &cfg.provisioning.to_string()])
        .args(["--listen-hss", &cfg.hss.to_string()])
        .args(["--listen-xdms", &cfg.xdms.to_string()])
        // Subscriber changes are pushed to our engine's subscriber cache.
        .args(["--engine", &engine_management.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(io("starting the control plane"))?;
    let out = child
        .stdout
        .take()
        .ok_or_else(|| NodeError::AllInOne("control plane has no stdout".into()))?;
    let mut cp = ControlPlane {
        child,
        provisioning: cfg.provisioning,
        hss: cfg.hss,
    };
    let mut seen = 0;
    let mut lines = BufReader::new(out).lines();
    while seen < 3 {
        let line = match lines.next() {
            Some(l) => l.map_err(io("reading the control plane's output"))?,
            None => {
                return Err(NodeError::AllInOne(
                    "the control plane exited during start".into(),
                ));
            }
        };
        say!("{line}");
        let mut words = line.split_whitespace();
        if let (Some("listening"), Some(what), Some(addr)) =
            (words.next(), words.next(), words.next())
        {
            let addr: SocketAddr = addr
                .parse()
                .map_err(|e| NodeError::AllInOne(format!("control plane printed {addr:?}: {e}")))?;
            match what {
                "provisioning" => cp.provisioning = addr,
                "hss" => cp.hss = addr,
                _ => {}
            }
            seen += 1;
        }
    }
    Ok(cp)
}

/// A random password: 12 characters from a 56-letter alphabet without look-alikes.
fn password() -> Result<String, NodeError> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut raw = [0u8; 12];
    getrandom::fill(&mut raw).map_err(|e| NodeError::AllInOne(format!("randomness: {e}")))?;
    Ok(raw
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

/// One blocking HTTP/1.1 POST with `Connection: close`; (status, body).
fn post_json(addr: SocketAddr, path: &str, body: &str) -> Result<(u16, String), NodeError> {
    let mut s = TcpStream::connect(addr).map_err(io("connecting to the provisioning API"))?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(io("sending to the provisioning API"))?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .map_err(io("reading the provisioning API"))?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| NodeError::AllInOne(format!("provisioning API answered {answer:?}")))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}

/// Provision the demo range once; later starts reuse the file (and the
/// users already in the database).
fn provision_demo(cp: &ControlPlane, dir: &Path, domain: &str) -> Result<PathBuf, NodeError> {
    let file = dir.join(DEMO_FILE);
    if file.exists() {
        return Ok(file);
    }
    let mut csv = String::from("# public id,private id,realm,password\n");
    let mut users = Vec::new();
    for dn in DEMO_FIRST..DEMO_FIRST + DEMO_COUNT {
        let pw = password()?;
        csv.push_str(&format!("sip:{dn}@{domain},{dn}@{domain},{domain},{pw}\n"));
        users.push(serde_json::json!({
            "impu": format!("sip:{dn}@{domain}"),
            "impi": format!("{dn}@{domain}"),
            "realm": domain,
            "password": pw,
        }));
    }
    let body = serde_json::json!({ "users": users, "simservs": true }).to_string();
    let (status, answer) = post_json(cp.provisioning, "/riptide/bulk-users", &body)?;
    if !(200..300).contains(&status) {
        return Err(NodeError::AllInOne(format!(
            "provisioning the demo range failed: {status} {answer}"
        )));
    }
    std::fs::write(&file, csv).map_err(io("writing the demo users file"))?;
    Ok(file)
}

/// Run the all-in-one node until SIGTERM/SIGINT.
pub fn run(aio: AllInOneConfig, mut engine: EngineConfig) -> Result<(), NodeError> {
    std::fs::create_dir_all(&aio.data_dir).map_err(io("creating the data directory"))?;
    let domain = engine
        .home_domains
        .first()
        .cloned()
        .unwrap_or_else(|| "example.com".to_owned());
    // The control plane must know where to push subscriber changes before
    // the engine runs: a port 0 is settled now (free a moment later, so a
    // race with another program is possible but harmless to correctness —
    // the engine would then fail to start with a clear error).
    if engine.management.port() == 0 {
        let probe = std::net::TcpListener::bind(engine.management)
            .map_err(io("choosing a management port"))?;
        engine.management = probe
            .local_addr()
            .map_err(io("choosing a management port"))?;
    }
    let cp = start_control(&aio, &domain, &engine.scscf_uri(), engine.management)?;
    let file = provision_demo(&cp, &aio.data_dir, &domain)?;
    say!(
        "demo subscribers sip:{DEMO_FIRST}..{}@{domain}; their passwords are in {}",
        DEMO_FIRST + DEMO_COUNT - 1,
        file.display()
    );
    engine.hss = Some(cp.hss);
    engine.data_dir = aio.data_dir.join("engine");
    let result = super::run(engine);
    drop(cp);
    result
}
