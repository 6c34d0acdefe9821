//! Parse a message and read what a proxy needs (top Via branch, Call-ID, CSeq,
//! To tag, top Route, Contact), with `rsip` (full parse, same fields) and
//! `httparse` (the same header bytes, as the byte-scanning ceiling) measured
//! side by side; then the forward-edit cost (parse, pop Route, push Via, write).

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use riptide_benches::messages;
use rsip::headers::UntypedHeader;
use rsip::message::HeadersExt;
use sip_fastpath::{HeaderName, Limits, Message};

/// Riptide: parse, then the fields a stateful proxy reads for every message.
fn riptide(msg: &Bytes, limits: &Limits) -> usize {
    let m = match Message::parse(msg.clone(), limits) {
        Ok(m) => m,
        Err(_) => return 0,
    };
    let mut n = 0;
    if let Ok(v) = m.top_via() {
        n += v.branch().map_or(0, <[u8]>::len);
    }
    n += m.call_id().map_or(0, <[u8]>::len);
    n += m.cseq().map_or(0, |c| c.number as usize);
    n += m.to().ok().and_then(|t| t.tag()).map_or(0, <[u8]>::len);
    if let Ok(Some(r)) = m.top_route() {
        n += r.uri().map_or(0, |u| u.host.len());
    }
    if let Ok(Some(c)) = m.first_name_addr(HeaderName::Contact) {
        n += c.uri_raw.len();
    }
    n
}

/// rsip: its full parse, then the same fields through its accessors.
fn rsip_parse(msg: &[u8]) -> usize {
    let m = match rsip::SipMessage::try_from(msg) {
        Ok(m) => m,
        Err(_) => return 0,
    };
    let mut n = 0;
    if let Ok(Some(b)) = m.transaction_id() {
        n += b.to_string().len();
    }
    n += m.call_id_header().map_or(0, |c| c.value().len());
    n += m.cseq_header().ok().and_then(|c| c.seq().ok()).unwrap_or(0) as usize;
    n += m
        .to_header()
        .ok()
        .and_then(|t| t.tag().ok().flatten())
        .map_or(0, |t| t.value().len());
    n += m.route_header().map_or(0, |r| r.value().len());
    n += m.contact_header().map_or(0, |c| c.value().len());
    n
}

/// httparse: the header block of the same bytes (it cannot read a SIP start line).
fn httparse_headers(msg: &[u8]) -> usize {
    let start = memchr_nl(msg);
    let mut headers = [httparse::EMPTY_HEADER; 32];
    match httparse::parse_headers(&msg[start..], &mut headers) {
        Ok(httparse::Status::Complete((len, h))) => len + h.len(),
        _ => 0,
    }
}

fn memchr_nl(msg: &[u8]) -> usize {
    msg.iter().position(|&c| c == b'\n').map_or(0, |i| i + 1)
}

fn parse_benches(c: &mut Criterion) {
    let limits = Limits::default();
    for (name, msg) in messages::ALL {
        let bytes = Bytes::from_static(msg);
        assert!(riptide(&bytes, &limits) > 0, "{name}: riptide read nothing");
        assert!(rsip_parse(msg) > 0, "{name}: rsip read nothing");
        assert!(httparse_headers(msg) > 0, "{name}: httparse read nothing");
        let mut g = c.benchmark_group(format!("parse/{name}"));
        g.bench_function("riptide", |b| {
            b.iter(|| riptide(black_box(&bytes), &limits))
        });
        g.bench_function("rsip", |b| b.iter(|| rsip_parse(black_box(msg))));
        g.bench_function("httparse", |b| b.iter(|| httparse_headers(black_box(msg))));
        g.finish();
    }
}

fn forward_edit(c: &mut Criterion) {
    let limits = Limits::default();
    let bytes = Bytes::from_static(messages::INVITE_SDP);
    let mut g = c.benchmark_group("forward/invite_sdp");
    g.bench_function("parse", |b| {
        b.iter(|| Message::parse(black_box(bytes.clone()), &limits).map(|m| m.headers().len()))
    });
    g.bench_function("parse+pop_route+push_via+write", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(bytes.clone()), &limits).ok()?;
            let mut e = m.edit();
            e.remove_top_route().ok()?;
            e.push_via(b"SIP/2.0/UDP 10.0.0.9:5054;branch=z9hG4bK0001a2b3c4d5e6f7;rport");
            Some(e.finish())
        })
    });
    g.finish();
}

criterion_group!(benches, parse_benches, forward_edit);
criterion_main!(benches);
