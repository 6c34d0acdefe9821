//! Message::parse on arbitrary bytes, then every view, validate, the answer
//! to a refused request, and a proxy's forward edit of whatever parsed.
//!
//! Checks: nothing panics; a 400/513 this crate forms for a refused request
//! parses; a forwarded message parses again with the same body, Call-ID and
//! CSeq, one more Via on top, and Max-Forwards one less.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_fastpath::{Contacts, HeaderName, Limits, Message};

const NAMES: &[HeaderName] = &[
    HeaderName::Via,
    HeaderName::Route,
    HeaderName::RecordRoute,
    HeaderName::Path,
    HeaderName::ServiceRoute,
    HeaderName::PAssociatedUri,
    HeaderName::PAssertedIdentity,
    HeaderName::Contact,
    HeaderName::Supported,
    HeaderName::Require,
    HeaderName::ProxyRequire,
    HeaderName::Allow,
    HeaderName::Accept,
];

/// Generous limits for re-reading what we wrote: an edit may add a line or two.
fn roomy() -> Limits {
    Limits {
        message_bytes_max: 1 << 20,
        headers_max: 1024,
        header_line_bytes_max: 65_535,
    }
}

fn views(m: &Message) {
    let _ = (
        m.method(),
        m.method_bytes(),
        m.status(),
        m.reason(),
        m.version(),
    );
    let _ = m.is_sip_2_0();
    if let Ok(u) = m.request_uri() {
        let _ = (
            u.check(),
            u.host_port(),
            u.transport(),
            u.user_param(),
            u.is_loose_router(),
        );
        let _ = u.params.iter().count();
    }
    for h in m.headers() {
        let _ = (m.get(h.name_span()), m.get(h.value()), m.get(h.line()));
    }
    for via in m.vias().flatten() {
        let _ = (
            via.branch(),
            via.received(),
            via.rport(),
            via.maddr(),
            via.ttl(),
        );
        let _ = (via.raw(), via.check_params(), via.is_rfc3261_branch());
    }
    let _ = (
        m.call_id(),
        m.cseq(),
        m.max_forwards(),
        m.expires_s(),
        m.content_length(),
    );
    for na in [m.from(), m.to()].into_iter().flatten() {
        let _ = (
            na.tag(),
            na.raw(),
            na.check(),
            na.uri().map(|u| u.host_port()),
        );
    }
    if let Ok(Contacts::Addrs(addrs)) = m.contacts() {
        for a in &addrs {
            let _ = (a.expires_s(), a.q_millis(), a.raw(), a.check());
        }
    }
    for &name in NAMES {
        let _ = m.list_values(name).count();
        for na in m.name_addrs(name).flatten() {
            let _ = (na.uri(), na.raw(), na.params.iter().count());
        }
        let _ = m.option_tags(name).count();
        let _ = m.first_name_addr(name);
    }
    for name in [
        HeaderName::Authorization,
        HeaderName::ProxyAuthorization,
        HeaderName::WwwAuthenticate,
        HeaderName::ProxyAuthenticate,
    ] {
        if let Ok(Some(a)) = m.auth(name) {
            let _ = (a.is_digest(), a.get(b"nonce"), a.iter().count());
        }
    }
    let _ = (
        m.top_route(),
        m.routes().count(),
        m.record_routes().count(),
        m.paths().count(),
    );
    let _ = (m.server_key(), m.client_key(), m.body());
    let _ = m.validate();
}

/// A proxy's edit of a request (or a response's Via pop), re-read.
fn forward(m: &Message) {
    let mut e = m.edit();
    let mf = match m.max_forwards() {
        _ if !m.is_request() => None,
        Ok(Some(0)) | Err(_) => None,
        Ok(Some(n)) => Some(n - 1),
        Ok(None) => Some(70),
    };
    if mf.is_some() {
        e.decrement_max_forwards().expect("Max-Forwards decrements");
    }
    let had_route = m.header(HeaderName::Route).is_some();
    if had_route {
        let _ = e.remove_top_route();
    }
    if m.is_request() {
        let _ = e.set_top_via_received(b"192.0.2.7", Some(5062));
        e.prepend(HeaderName::RecordRoute, b"<sip:proxy.example.org;lr>");
        e.push_via(b"SIP/2.0/UDP proxy.example.org;branch=z9hG4bKfuzz");
    } else if m.list_values(HeaderName::Via).count() >= 2 {
        // A response is forwarded only while a Via remains below ours.
        let _ = e.pop_via();
    }
    let out = e.finish();
    let f = match Message::parse(out, &roomy()) {
        Ok(f) => f,
        Err(err) => panic!("a forwarded message does not parse: {err}"),
    };
    assert_eq!(f.body(), m.body());
    assert_eq!(f.call_id().ok(), m.call_id().ok());
    assert_eq!(
        f.header_value(HeaderName::CSeq),
        m.header_value(HeaderName::CSeq)
    );
    if let Some(mf) = mf {
        assert_eq!(f.max_forwards(), Ok(Some(mf)));
    }
    if m.is_request() {
        assert_eq!(
            f.top_via().ok().and_then(|v| v.branch()),
            Some(&b"z9hG4bKfuzz"[..])
        );
    }
    views(&f);
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let bytes = Bytes::copy_from_slice(data);
    match Message::parse(bytes.clone(), &limits) {
        Ok(m) => {
            views(&m);
            forward(&m);
        }
        Err(e) => {
            let _ = (e.disposition(), e.to_string());
            if let Some(resp) = e.response() {
                let r = match Message::parse(resp, &roomy()) {
                    Ok(r) => r,
                    Err(err) => panic!("our own error response does not parse: {err}"),
                };
                assert_eq!(r.status(), Some(e.error.status()));
            }
            if let Some(p) = e.partial.as_deref() {
                views(p);
            }
        }
    }
    if let Err(e) = Message::parse_strict(bytes, &limits) {
        let _ = e.disposition();
    }
});
