//! The management listener (default 127.0.0.1:9886): a small blocking
//! HTTP/1.1 server on its own thread, outside the shards and outside the
//! signaling namespace. `/health`, `/quiesce`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Bind the listener now (so the caller learns the port), serve on a thread.
pub fn start(addr: SocketAddr, stop: Arc<AtomicBool>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("riptide-mgmt".to_owned())
        .spawn(move || {
            for stream in listener.incoming() {
                match stream {
                    Ok(s) => {
                        if let Err(e) = serve(s, &stop) {
                            tracing::debug!(error = %e, "management request failed");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "management accept failed"),
                }
            }
        })?;
    Ok(bound)
}

fn serve(mut s: TcpStream, stop: &AtomicBool) -> std::io::Result<()> {
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
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
            _ => return respond(&mut s, 400, "text/plain", "bad request\n"),
        }
    };
    match (method.as_str(), path.as_str()) {
        ("GET", "/health") => {
            let ready = !stop.load(Ordering::SeqCst);
            let body = format!("{{\"ready\":{ready},\"live\":true}}\n");
            respond(
                &mut s,
                if ready { 200 } else { 503 },
                "application/json",
                &body,
            )
        }
        ("POST" | "GET", "/quiesce") => {
            stop.store(true, Ordering::SeqCst);
            respond(&mut s, 200, "application/json", "{\"quiescing\":true}\n")
        }
        _ => respond(
            &mut s,
            404,
            "application/json",
            "{\"error\":\"not found\"}\n",
        ),
    }
}

fn respond(s: &mut TcpStream, status: u16, ctype: &str, body: &str) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Service Unavailable",
    };
    write!(
        s,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
