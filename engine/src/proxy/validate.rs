//! Request validation (RFC 3261 §16.3): what a proxy refuses before it routes.

use bytes::Bytes;
use sip_fastpath::{HeaderName, Message, Method, ParseError, Scheme};

/// A request the proxy answers itself instead of forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub reason: &'static str,
    /// For 420: the option tags we do not support, for an Unsupported header.
    pub unsupported: Vec<Bytes>,
}

impl Rejection {
    fn new(status: u16, reason: &'static str) -> Self {
        Rejection {
            status,
            reason,
            unsupported: Vec::new(),
        }
    }

    /// The response to send for `request`.
    pub fn response(&self, request: &Message) -> Bytes {
        let mut b = request.response(self.status, self.reason);
        if !self.unsupported.is_empty() {
            let tags: Vec<&[u8]> = self.unsupported.iter().map(|t| &t[..]).collect();
            b.push_header(HeaderName::Unsupported, &tags.join(&b", "[..]));
        }
        b.finish()
    }
}

impl From<ParseError> for Rejection {
    fn from(e: ParseError) -> Self {
        Rejection::new(e.status(), e.reason())
    }
}

/// §16.3 steps 1–3 and 5: syntax (400 naming the problem), URI scheme (416),
/// Max-Forwards (483), and Proxy-Require (420 with Unsupported). Loop
/// detection (step 4, 482) needs our Via and lives in [`crate::proxy::Proxy`].
pub fn validate_request(request: &Message, supported: &[&[u8]]) -> Result<(), Rejection> {
    request.validate()?;
    if !request.is_sip_2_0() {
        return Err(Rejection::new(505, "Version Not Supported"));
    }
    match request.request_uri()?.scheme {
        Scheme::Sip | Scheme::Sips | Scheme::Tel => {}
        Scheme::Other => return Err(Rejection::new(416, "Unsupported URI Scheme")),
    }
    if request.max_forwards()? == Some(0) && request.method() != Some(Method::Ack) {
        return Err(Rejection::new(483, "Too Many Hops"));
    }
    let unsupported: Vec<Bytes> = request
        .option_tags(HeaderName::ProxyRequire)
        .filter(|tag| !supported.iter().any(|s| s.eq_ignore_ascii_case(tag)))
        .map(Bytes::copy_from_slice)
        .collect();
    if !unsupported.is_empty() {
        return Err(Rejection {
            status: 420,
            reason: "Bad Extension",
            unsupported,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip_fastpath::Limits;

    fn req(extra: &str, uri: &str) -> Message {
        let text = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        Message::parse(Bytes::from(text), &Limits::default()).expect("parses")
    }

    fn status_of(r: Result<(), Rejection>) -> Option<u16> {
        r.err().map(|r| r.status)
    }

    #[test]
    fn max_forwards_zero_is_483_but_ack_passes() {
        assert_eq!(
            status_of(validate_request(
                &req("Max-Forwards: 0\r\n", "sip:b@x"),
                &[]
            )),
            Some(483)
        );
        assert_eq!(
            status_of(validate_request(
                &req("Max-Forwards: 1\r\n", "sip:b@x"),
                &[]
            )),
            None
        );
    }

    #[test]
    fn unknown_proxy_require_is_420_with_unsupported() {
        let r = req("Proxy-Require: foo, sec-agree\r\n", "sip:b@x");
        let e = validate_request(&r, &[b"sec-agree"]).expect_err("420");
        assert_eq!(e.status, 420);
        let resp = Message::parse(e.response(&r), &Limits::default()).expect("parses");
        assert_eq!(resp.status(), Some(420));
        assert_eq!(
            resp.header_value(HeaderName::Unsupported),
            Some(&b"foo"[..])
        );
        assert!(validate_request(&r, &[b"foo", b"SEC-AGREE"]).is_ok());
    }

    #[test]
    fn malformed_header_is_400_naming_it() {
        let e = validate_request(&req("Max-Forwards: lots\r\n", "sip:b@x"), &[]).expect_err("400");
        assert_eq!(
            (e.status, e.reason),
            (400, "Bad Request - Malformed Header")
        );
    }

    #[test]
    fn unsupported_scheme_is_416() {
        assert_eq!(
            status_of(validate_request(&req("", "http://example.com/"), &[])),
            Some(416)
        );
        assert_eq!(
            status_of(validate_request(&req("", "tel:+15551234"), &[])),
            None
        );
    }

    #[test]
    fn other_versions_are_505() {
        let m = Message::parse(
            Bytes::from_static(b"OPTIONS sip:b@x SIP/7.0\r\nVia: SIP/7.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n"),
            &Limits::default(),
        )
        .expect("parses");
        assert_eq!(status_of(validate_request(&m, &[])), Some(505));
    }
}
