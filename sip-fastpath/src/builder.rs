//! Writing new messages: requests, and responses built from a request.

use bytes::Bytes;

use crate::header_name::HeaderName;
use crate::message::Message;
use crate::scan::push_u32;

/// Writes a message line by line into one buffer; `finish` adds Content-Length
/// and the body. Header values are written as given: callers pass valid SIP.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    out: Vec<u8>,
    body: Option<(Vec<u8>, Bytes)>,
}

/// Capacity reserved up front: most responses and requests fit without regrowth.
const INITIAL_CAPACITY: usize = 512;

impl MessageBuilder {
    /// `METHOD uri SIP/2.0`.
    pub fn request(method: &[u8], uri: &[u8]) -> Self {
        let mut out = Vec::with_capacity(INITIAL_CAPACITY);
        out.extend_from_slice(method);
        out.push(b' ');
        out.extend_from_slice(uri);
        out.extend_from_slice(b" SIP/2.0\r\n");
        MessageBuilder { out, body: None }
    }

    /// `SIP/2.0 status reason`.
    pub fn response(status: u16, reason: &str) -> Self {
        let mut out = Vec::with_capacity(INITIAL_CAPACITY);
        out.extend_from_slice(b"SIP/2.0 ");
        push_u32(&mut out, u32::from(status));
        out.push(b' ');
        out.extend_from_slice(reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        MessageBuilder { out, body: None }
    }

    /// Add a header line with a recognised name (written in its long form).
    pub fn header(mut self, name: HeaderName, value: &[u8]) -> Self {
        self.push_header(name, value);
        self
    }

    /// Add a header line by its text name.
    pub fn header_text(mut self, name: &[u8], value: &[u8]) -> Self {
        self.push_header_text(name, value);
        self
    }

    /// Add a header line whose value is a number.
    pub fn header_u32(mut self, name: HeaderName, value: u32) -> Self {
        self.out.extend_from_slice(name.as_str().as_bytes());
        self.out.extend_from_slice(b": ");
        push_u32(&mut self.out, value);
        self.out.extend_from_slice(b"\r\n");
        self
    }

    pub fn push_header(&mut self, name: HeaderName, value: &[u8]) {
        self.push_header_text(name.as_str().as_bytes(), value);
    }

    pub fn push_header_text(&mut self, name: &[u8], value: &[u8]) {
        self.out.extend_from_slice(name);
        self.out.extend_from_slice(b": ");
        self.out.extend_from_slice(value);
        self.out.extend_from_slice(b"\r\n");
    }

    /// Set the body and its Content-Type.
    pub fn body(mut self, content_type: &[u8], body: Bytes) -> Self {
        self.body = Some((content_type.to_vec(), body));
        self
    }

    /// Finish with Content-Length (always written, as streams require) and the body.
    pub fn finish(mut self) -> Bytes {
        let body = match self.body.take() {
            Some((ct, body)) => {
                self.push_header(HeaderName::ContentType, &ct);
                body
            }
            None => Bytes::new(),
        };
        self.out.extend_from_slice(b"Content-Length: ");
        push_u32(&mut self.out, u32::try_from(body.len()).unwrap_or(u32::MAX));
        self.out.extend_from_slice(b"\r\n\r\n");
        self.out.extend_from_slice(&body);
        Bytes::from(self.out)
    }
}

/// A To tag derived from the request, so every response a stateless element
/// sends to the same request (and its retransmissions) carries the same tag.
pub fn stateless_tag(msg: &Message) -> [u8; 16] {
    // FNV-1a over the top Via branch and the Call-ID.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let branch = msg
        .top_via()
        .ok()
        .and_then(|v| v.branch())
        .unwrap_or_default();
    for &b in branch
        .iter()
        .chain(b"|")
        .chain(msg.call_id().unwrap_or_default())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut tag = [0u8; 16];
    for (i, t) in tag.iter_mut().enumerate() {
        *t = b"0123456789abcdef"[((h >> (60 - 4 * i)) & 0xf) as usize];
    }
    tag
}

impl Message {
    /// Start a response to this request (RFC 3261 §8.2.6): every Via line, From,
    /// To (with a tag added for non-100 responses when it has none), Call-ID and
    /// CSeq copied as written. Add headers, then `finish`. Of a single-valued
    /// header repeated in a salvaged request (RFC 4475 §3.3.8), only the first
    /// is copied, so the answer is itself well formed.
    pub fn response(&self, status: u16, reason: &str) -> MessageBuilder {
        let mut b = MessageBuilder::response(status, reason);
        let mut copied: u8 = 0;
        for h in self.headers() {
            let bit = match h.name {
                HeaderName::From => 1,
                HeaderName::To => 2,
                HeaderName::CallId => 4,
                HeaderName::CSeq => 8,
                _ => 0,
            };
            if copied & bit != 0 {
                continue;
            }
            copied |= bit;
            match h.name {
                HeaderName::Via => b.push_header(h.name, self.get(h.value())),
                HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    b.push_header(h.name, self.get(h.value()));
                }
                HeaderName::To => {
                    let value = self.get(h.value());
                    let has_tag = self.to().ok().and_then(|t| t.tag()).is_some();
                    if status > 100 && !has_tag {
                        let mut v = Vec::with_capacity(value.len() + 22);
                        v.extend_from_slice(value);
                        v.extend_from_slice(b";tag=");
                        v.extend_from_slice(&stateless_tag(self));
                        b.push_header(HeaderName::To, &v);
                    } else {
                        b.push_header(HeaderName::To, value);
                    }
                }
                _ => {}
            }
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    const OPTIONS: &[u8] = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2\r\nv: SIP/2.0/UDP c;branch=z9hG4bK3\r\nf: <sip:a@x>;tag=1\r\nt: <sip:b@x>\r\ni: cid\r\nCSeq: 7 OPTIONS\r\nMax-Forwards: 70\r\n\r\n";

    #[test]
    fn response_copies_the_transaction_headers_and_adds_a_to_tag() {
        let m = Message::parse(Bytes::from_static(OPTIONS), &Limits::default()).expect("parses");
        let r = m
            .response(200, "OK")
            .header(HeaderName::Allow, b"INVITE, ACK")
            .finish();
        let tag = stateless_tag(&m);
        let expected = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2\r\nVia: SIP/2.0/UDP c;branch=z9hG4bK3\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag={}\r\nCall-ID: cid\r\nCSeq: 7 OPTIONS\r\nAllow: INVITE, ACK\r\nContent-Length: 0\r\n\r\n",
            String::from_utf8_lossy(&tag)
        );
        assert_eq!(String::from_utf8_lossy(&r), expected);
        let parsed = Message::parse(r, &Limits::default()).expect("response parses");
        assert_eq!(parsed.status(), Some(200));
        assert_eq!(parsed.to().expect("to").tag(), Some(&tag[..]));
    }

    #[test]
    fn trying_gets_no_tag_and_the_tag_is_stable() {
        let m = Message::parse(Bytes::from_static(OPTIONS), &Limits::default()).expect("parses");
        let r =
            Message::parse(m.response(100, "Trying").finish(), &Limits::default()).expect("parses");
        assert_eq!(r.to().expect("to").tag(), None);
        assert_eq!(stateless_tag(&m), stateless_tag(&m.clone()));
    }

    #[test]
    fn requests_with_bodies_get_length_and_type() {
        let r = MessageBuilder::request(b"MESSAGE", b"sip:b@x")
            .header(HeaderName::Via, b"SIP/2.0/UDP h;branch=z9hG4bK9")
            .header(HeaderName::From, b"<sip:a@x>;tag=9")
            .header(HeaderName::To, b"<sip:b@x>")
            .header(HeaderName::CallId, b"c9")
            .header_text(b"CSeq", b"1 MESSAGE")
            .header_u32(HeaderName::MaxForwards, 70)
            .body(b"text/plain", Bytes::from_static(b"hi"))
            .finish();
        let m = Message::parse(r, &Limits::default()).expect("parses");
        assert_eq!(m.body(), b"hi");
        assert_eq!(
            m.header_value(HeaderName::ContentType),
            Some(&b"text/plain"[..])
        );
        assert_eq!(m.max_forwards(), Ok(Some(70)));
    }
}
