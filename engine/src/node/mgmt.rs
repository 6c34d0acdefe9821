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
//! | `POST /subscriber-cache/invalidate` | `{"impis": [...], "impus": [...], "all": bool}` from the control plane: drop those entries on every shard; 200 `{"shards": n}` once every shard will see it |

use super::app::owner_shard;
use super::bindings_query::{ANSWER_WAIT_MS, BindingsQuery};
use super::metrics::alarms::{ALARMS, active};
use super::metrics::sampler::NodeStats;
use super::metrics::{ShardMetrics, prometheus, stats, unix_ms};
use super::subscriber_cache::{Invalidation, InvalidationInbox};
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
    /// Each shard's subscriber-cache invalidation inbox.
    pub subscriber_caches: Vec<Arc<InvalidationInbox>>,
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
    let (method, path, body_at, body_len) = loop {
        let n = s.read(&mut buf[len..])?;
        if n == 0 {
            return Ok(());
        }
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..len]) {
            Ok(httparse::Status::Complete(at)) => {
                let body_len = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok())
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (
                    req.method.unwrap_or("").to_owned(),
                    req.path.unwrap_or("").to_owned(),
                    at,
                    body_len,
                );
            }
            Ok(httparse::Status::Partial) if len < buf.len() => continue,
            _ => return respond(&mut s, &error(400, "bad request")),
        }
    };
    if body_at + body_len > BODY_BYTES_MAX {
        return respond(&mut s, &error(413, "body too large"));
    }
    if buf.len() < body_at + body_len {
        buf.resize(body_at + body_len, 0);
    }
    while len < body_at + body_len {
        let n = s.read(&mut buf[len..])?;
        if n == 0 {
            return Ok(());
        }
        len += n;
    }
    let body = &buf[body_at..body_at + body_len];
    let reply = route(&method, &path, body, mgmt);
    respond(&mut s, &reply)
}

/// Largest request accepted (an invalidation of a few thousand identities).
const BODY_BYTES_MAX: usize = 4 << 20;

fn route(method: &str, path: &str, body: &[u8], mgmt: &Management) -> Reply {
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
        ("POST", "/subscriber-cache/invalidate") => invalidate(mgmt, body),
        _ => error(404, "not found"),
    }
}

fn invalidate(mgmt: &Management, body: &[u8]) -> Reply {
    #[derive(serde::Deserialize)]
    struct Request {
        #[serde(default)]
        impis: Vec<String>,
        #[serde(default)]
        impus: Vec<String>,
        #[serde(default)]
        all: bool,
    }
    let req: Request = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return error(400, &format!("invalid JSON: {e}")),
    };
    let mut items: Vec<Invalidation> = req.impis.into_iter().map(Invalidation::Impi).collect();
    items.extend(req.impus.into_iter().map(Invalidation::Impu));
    if req.all {
        items = vec![Invalidation::All];
    }
    for inbox in &mgmt.subscriber_caches {
        inbox.push(&items);
    }
    tracing::debug!(entries = items.len(), "subscriber cache invalidated");
    json(
        200,
        &serde_json::json!({ "shards": mgmt.subscriber_caches.len() }),
    )
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
        413 => "Payload Too Large",
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mgmt(shards: usize) -> Management {
        Management {
            stop: Arc::new(AtomicBool::new(false)),
            shards: Vec::new(),
            stats: Arc::new(Mutex::new(NodeStats::default())),
            config: serde_json::Value::Null,
            bindings: Vec::new(),
            subscriber_caches: (0..shards).map(|_| Arc::default()).collect(),
        }
    }

    #[test]
    fn an_invalidation_reaches_every_shards_inbox() {
        let m = mgmt(3);
        let r = route(
            "POST",
            "/subscriber-cache/invalidate",
            br#"{"impis":["a@example.com"],"impus":["sip:a@example.com"]}"#,
            &m,
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "{\"shards\":3}\n");
        for inbox in &m.subscriber_caches {
            assert_eq!(
                inbox.pending_for_test(),
                vec![
                    Invalidation::Impi("a@example.com".into()),
                    Invalidation::Impu("sip:a@example.com".into())
                ]
            );
        }
        let bad = route("POST", "/subscriber-cache/invalidate", b"[1", &m);
        assert_eq!(bad.status, 400);
        let all = route(
            "POST",
            "/subscriber-cache/invalidate",
            br#"{"all":true}"#,
            &m,
        );
        assert_eq!(all.status, 200);
        assert_eq!(
            m.subscriber_caches[0].pending_for_test(),
            vec![Invalidation::All]
        );
    }
}
