//! The management listener (default 127.0.0.1:9886): a small blocking
//! HTTP/1.1 server on its own thread, outside the shards and outside the
//! signaling namespace. It reads what the shards publish and never makes a
//! shard wait.
//!
//! | path | what |
//! | --- | --- |
//! | `GET /health` | `{"ready","live"}`; 503 once quiescing |
//! | `POST /quiesce` | stop taking new work, finish the rest, exit |
//! | `GET /metrics` | Prometheus text |
//! | `GET /stats` | Clearwater's windowed statistics, JSON |
//! | `GET /config` | the active settings and their version (no secrets) |
//! | `GET /alarms` | active alarm conditions, severity, since when |
//! | `GET /impu/<impu>/bindings` | the AoR's live bindings (asks its owner shard) |

use super::app::owner_shard;
use super::bindings_query::{ANSWER_WAIT_MS, BindingsQuery};
use super::metrics::alarms::{ALARMS, active};
use super::metrics::sampler::NodeStats;
use super::metrics::{ShardMetrics, prometheus, stats, unix_ms};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the management thread serves from.
pub struct Management {
    pub stop: Arc<AtomicBool>,
    pub shards: Vec<Arc<ShardMetrics>>,
    pub stats: Arc<Mutex<NodeStats>>,
    /// `/config`'s document, rendered at start.
    pub config: serde_json::Value,
    /// One per shard, for `/impu/<impu>/bindings`; empty without an S-CSCF.
    pub bindings: Vec<Sender<BindingsQuery>>,
}

/// Bind the listener now (so the caller learns the port), serve on a thread.
pub fn start(addr: SocketAddr, mgmt: Management) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("riptide-mgmt".to_owned())
        .spawn(move || {
            for stream in listener.incoming() {
                match stream {
                    Ok(s) => {
                        if let Err(e) = serve(s, &mgmt) {
                            tracing::debug!(error = %e, "management request failed");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "management accept failed"),
                }
            }
        })?;
    Ok(bound)
}

struct Reply {
    status: u16,
    ctype: &'static str,
    body: String,
}

fn json(status: u16, v: &serde_json::Value) -> Reply {
    Reply {
        status,
        ctype: "application/json",
        body: format!("{v}\n"),
    }
}

fn error(status: u16, message: &str) -> Reply {
    json(status, &serde_json::json!({ "error": message }))
}

fn serve(mut s: TcpStream, mgmt: &Management) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = vec![0u8; 8192];
    let mut len = 0;
    let (method, path) = loop {
        let n = s.read(&mut buf[len..])?;
        if n == 0 {
            return Ok(());
        }
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..len]) {
            Ok(httparse::Status::Complete(_)) => {
                break (
                    req.method.unwrap_or("").to_owned(),
                    req.path.unwrap_or("").to_owned(),
                );
            }
            Ok(httparse::Status::Partial) if len < buf.len() => continue,
            _ => return respond(&mut s, &error(400, "bad request")),
        }
    };
    let reply = route(&method, &path, mgmt);
    respond(&mut s, &reply)
}

fn route(method: &str, path: &str, mgmt: &Management) -> Reply {
    let path = path.split('?').next().unwrap_or(path);
    match (method, path) {
        ("GET", "/health") => {
            let ready = !mgmt.stop.load(Ordering::SeqCst);
            json(
                if ready { 200 } else { 503 },
                &serde_json::json!({ "ready": ready, "live": true }),
            )
        }
        ("POST" | "GET", "/quiesce") => {
            mgmt.stop.store(true, Ordering::SeqCst);
            json(200, &serde_json::json!({ "quiescing": true }))
        }
        ("GET", "/metrics") => {
            let now = unix_ms();
            let samples = mgmt.stats.lock().map_or(0, |s| s.samples);
            Reply {
                status: 200,
                ctype: "text/plain; version=0.0.4; charset=utf-8",
                body: prometheus::render(&mgmt.shards, &active(&mgmt.shards, now), samples),
            }
        }
        ("GET", "/stats") => {
            let now = unix_ms();
            // Copy out under the lock, render outside it.
            let snapshot = mgmt.stats.lock().map(|s| s.clone());
            match snapshot {
                Ok(s) => json(200, &stats::render(&s, now)),
                Err(_) => error(500, "statistics unavailable"),
            }
        }
        ("GET", "/config") => json(200, &mgmt.config),
        ("GET", "/alarms") => json(200, &alarms_json(mgmt)),
        ("GET", p) if p.starts_with("/impu/") && p.ends_with("/bindings") => {
            let raw = &p["/impu/".len()..p.len() - "/bindings".len()];
            let impu = percent_encoding::percent_decode_str(raw)
                .decode_utf8_lossy()
                .into_owned();
            bindings(mgmt, impu)
        }
        _ => error(404, "not found"),
    }
}

fn alarms_json(mgmt: &Management) -> serde_json::Value {
    let now = unix_ms();
    let list: Vec<serde_json::Value> = active(&mgmt.shards, now)
        .into_iter()
        .map(|a| {
            let def = &ALARMS[a.index];
            serde_json::json!({
                "name": def.name,
                "clearwater": def.clearwater,
                "severity": def.severity,
                "description": def.description,
                "since_ms": a.since_ms,
                "for_s": now.saturating_sub(a.since_ms) / 1000,
                "shards": a.shards,
            })
        })
        .collect();
    serde_json::json!({ "time_ms": now, "alarms": list })
}

fn bindings(mgmt: &Management, impu: String) -> Reply {
    if impu.is_empty() {
        return error(400, "no IMPU");
    }
    if mgmt.bindings.is_empty() {
        return error(404, "this node runs no S-CSCF");
    }
    let owner = owner_shard(&impu, mgmt.bindings.len());
    let (tx, rx) = std::sync::mpsc::channel();
    let query = BindingsQuery {
        impu: impu.clone(),
        reply: tx,
    };
    if mgmt.bindings[owner].send(query).is_err() {
        return error(503, "the owner shard is gone");
    }
    match rx.recv_timeout(Duration::from_millis(ANSWER_WAIT_MS)) {
        Ok(Ok(mut v)) => {
            v["impu"] = serde_json::Value::String(impu);
            v["shard"] = serde_json::Value::from(owner);
            json(200, &v)
        }
        Ok(Err(e)) => error(503, &e),
        Err(_) => error(504, "the owner shard did not answer in time"),
    }
}

fn respond(s: &mut TcpStream, r: &Reply) -> std::io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        504 => "Gateway Timeout",
        _ => "Service Unavailable",
    };
    write!(
        s,
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        r.status,
        r.ctype,
        r.body.len(),
        r.body
    )
}
