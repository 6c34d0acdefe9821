//! The header-value parsers on arbitrary bytes: Uri, Via, NameAddr, CSeq,
//! AuthParams, parameter lists and comma-separated lists.
//!
//! Checks: nothing panics; `raw()` views lie inside the input; a strict URI
//! parse implies a structural one.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_fastpath::auth::AuthParams;
use sip_fastpath::cseq::CSeq;
use sip_fastpath::list::ListValues;
use sip_fastpath::params::{Params, unquote};
use sip_fastpath::uri::unescape_into;
use sip_fastpath::{NameAddr, Uri, Via};

fn inside(outer: &[u8], inner: &[u8]) -> bool {
    let o = outer.as_ptr() as usize;
    let i = inner.as_ptr() as usize;
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

fn uri(data: &[u8]) {
    let strict = Uri::parse_strict(data);
    if let Ok(u) = Uri::parse(data) {
        let _ = (
            u.check(),
            u.transport(),
            u.user_param(),
            u.is_loose_router(),
        );
        assert!(inside(data, u.host_port()));
        for (n, v) in u.params.iter() {
            let _ = (n, v.map(unquote));
        }
        let mut out = Vec::new();
        unescape_into(u.user.unwrap_or_default(), &mut out);
    } else {
        assert!(strict.is_err());
    }
}

fn name_addr(data: &[u8]) {
    if let Ok(n) = NameAddr::parse(data) {
        assert!(inside(data, n.raw()));
        let _ = (
            n.tag(),
            n.expires_s(),
            n.q_millis(),
            n.check(),
            n.params.extent(),
        );
        uri(n.uri_raw);
    }
}

fn via(data: &[u8]) {
    if let Ok(v) = Via::parse(data) {
        assert!(inside(data, v.raw()));
        assert!(inside(data, v.sent_by));
        let _ = (v.branch(), v.received(), v.rport(), v.maddr(), v.ttl());
        let _ = (v.check_params(), v.is_rfc3261_branch());
    }
}

fuzz_target!(|data: &[u8]| {
    uri(data);
    name_addr(data);
    via(data);
    for value in ListValues::new(data) {
        assert!(inside(data, value));
        name_addr(value);
        via(value);
    }
    let _ = CSeq::parse(data);
    if let Ok(a) = AuthParams::parse(data) {
        let _ = (a.is_digest(), a.get(b"realm"), a.iter().count());
    }
    let p = Params(data);
    let _ = (p.iter().count(), p.extent(), p.get(b"tag"), p.is_empty());
});
