//! A loop for instruction-level profiling of the parse benchmark under
//! `valgrind --tool=callgrind` (see README.md): parses one input N times.
//!
//! `cargo run --release -p riptide-benches --example profile_parse -- register 100000 [riptide|httparse|rsip]`

use std::hint::black_box;

use bytes::Bytes;
use riptide_benches::messages;
use rsip::message::HasHeaders;
use sip_fastpath::{HeaderName, Limits, Message};

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "register".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let which = args.next().unwrap_or_else(|| "riptide".into());
    let Some((_, msg)) = messages::ALL.iter().find(|(k, _)| *k == name) else {
        eprintln!("unknown input {name}");
        std::process::exit(2);
    };
    let bytes = Bytes::from_static(msg);
    let limits = Limits::default();
    let mut total = 0usize;
    for _ in 0..n {
        total += match which.as_str() {
            "httparse" => {
                let start = msg.iter().position(|&c| c == b'\n').map_or(0, |i| i + 1);
                let mut headers = [httparse::EMPTY_HEADER; 32];
                match httparse::parse_headers(black_box(&msg[start..]), &mut headers) {
                    Ok(httparse::Status::Complete((len, _))) => len,
                    _ => 0,
                }
            }
            "rsip" => rsip::SipMessage::try_from(black_box(&msg[..]))
                .map_or(0, |m| m.headers().iter().count()),
            "parse" => {
                Message::parse(black_box(bytes.clone()), &limits).map_or(0, |m| m.headers().len())
            }
            _ => {
                let Ok(m) = Message::parse(black_box(bytes.clone()), &limits) else {
                    continue;
                };
                let mut t = 0;
                if let Ok(v) = m.top_via() {
                    t += v.branch().map_or(0, <[u8]>::len);
                }
                t += m.call_id().map_or(0, <[u8]>::len);
                t += m.cseq().map_or(0, |c| c.number as usize);
                t += m.to().ok().and_then(|t| t.tag()).map_or(0, <[u8]>::len);
                if let Ok(Some(r)) = m.top_route() {
                    t += r.uri().map_or(0, |u| u.host.len());
                }
                if let Ok(Some(c)) = m.first_name_addr(HeaderName::Contact) {
                    t += c.uri_raw.len();
                }
                t
            }
        };
    }
    println!("{total}");
}
