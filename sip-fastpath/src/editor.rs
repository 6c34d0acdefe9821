//! Forwarding a parsed message with small changes by splicing spans: the
//! untouched bytes are copied once, in order, and nothing is re-serialised.

use bytes::{BufMut, Bytes, BytesMut};
use smallvec::SmallVec;

use crate::header_name::HeaderName;
use crate::list::ListValues;
use crate::message::{Header, Message};
use crate::scan::push_u32;
use crate::span::Span;

/// One splice: remove `remove` bytes at `at` and insert `scratch[ins]` there.
#[derive(Debug, Clone, Copy)]
struct Edit {
    at: u32,
    remove: u32,
    ins: Span,
}

/// Why an edit could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    #[error("the message has no {0} header")]
    Absent(HeaderName),
    #[error("Max-Forwards is already 0")]
    MaxForwardsExhausted,
    #[error("malformed {0} header")]
    Malformed(HeaderName),
}

/// A set of edits to a parsed message, applied in one pass by [`Editor::finish`].
#[derive(Debug)]
pub struct Editor<'m> {
    msg: &'m Message,
    edits: SmallVec<[Edit; 8]>,
    scratch: Vec<u8>,
}

impl<'m> Editor<'m> {
    pub fn new(msg: &'m Message) -> Self {
        Editor {
            msg,
            edits: SmallVec::new(),
            scratch: Vec::with_capacity(256),
        }
    }

    fn splice(&mut self, at: usize, remove: usize, insert: &[&[u8]]) {
        let start = self.scratch.len();
        for part in insert {
            self.scratch.extend_from_slice(part);
        }
        self.edits.push(Edit {
            at: at as u32,
            remove: remove as u32,
            ins: Span::new(start, self.scratch.len()),
        });
    }

    fn insert_line(&mut self, at: usize, name: &[u8], value: &[u8]) {
        self.splice(at, 0, &[name, b": ", value, b"\r\n"]);
    }

    fn first(&self, name: HeaderName) -> Option<&'m Header> {
        self.msg.header(name)
    }

    /// Remove the first value of the first line of a list header (the line
    /// itself when it holds one value).
    fn remove_first_value(&mut self, name: HeaderName) -> Result<(), EditError> {
        let h = *self.first(name).ok_or(EditError::Absent(name))?;
        let buf = self.msg.as_bytes();
        let line_value = self.msg.get(h.value());
        let mut values = ListValues::new(line_value);
        let first = values.next().ok_or(EditError::Malformed(name))?;
        match values.next() {
            None => {
                let line = h.line();
                self.splice(line.start as usize, line.len(), &[]);
            }
            Some(second) => {
                let a = Span::within(buf, first).start as usize;
                let b = Span::within(buf, second).start as usize;
                self.splice(a, b - a, &[]);
            }
        }
        Ok(())
    }

    /// Add a Via on top (RFC 3261 §16.6 step 8).
    pub fn push_via(&mut self, value: &[u8]) -> &mut Self {
        let at = self
            .first(HeaderName::Via)
            .map_or(self.msg.headers_end(), |h| h.name_span().start as usize);
        self.insert_line(at, b"Via", value);
        self
    }

    /// Remove the topmost Via (a proxy forwarding a response, §16.7 step 3).
    pub fn pop_via(&mut self) -> Result<&mut Self, EditError> {
        self.remove_first_value(HeaderName::Via)?;
        Ok(self)
    }

    /// Remove the topmost Route (it named us, §16.4).
    pub fn remove_top_route(&mut self) -> Result<&mut Self, EditError> {
        self.remove_first_value(HeaderName::Route)?;
        Ok(self)
    }

    /// Put a value first in a list header (Record-Route §16.6 step 4, Path
    /// RFC 3327, Route when a registered Path becomes the route set): a new
    /// line before the header's first line, or at the end of the headers.
    pub fn prepend(&mut self, name: HeaderName, value: &[u8]) -> &mut Self {
        let at = self
            .first(name)
            .map_or(self.msg.headers_end(), |h| h.name_span().start as usize);
        self.insert_line(at, name.as_str().as_bytes(), value);
        self
    }

    /// Decrement Max-Forwards, or add `Max-Forwards: 70` when absent (§16.6 step 3).
    /// A message whose Max-Forwards is 0 must be answered 483, not forwarded.
    pub fn decrement_max_forwards(&mut self) -> Result<&mut Self, EditError> {
        match self.msg.max_forwards() {
            Ok(Some(0)) => Err(EditError::MaxForwardsExhausted),
            Ok(Some(n)) => {
                let h = *self
                    .first(HeaderName::MaxForwards)
                    .ok_or(EditError::Absent(HeaderName::MaxForwards))?;
                let mut digits = Vec::with_capacity(3);
                push_u32(&mut digits, u32::from(n - 1));
                self.splice(h.value().start as usize, h.value().len(), &[&digits]);
                Ok(self)
            }
            Ok(None) => {
                self.insert_line(self.msg.headers_end(), b"Max-Forwards", b"70");
                Ok(self)
            }
            Err(_) => Err(EditError::Malformed(HeaderName::MaxForwards)),
        }
    }

    /// Replace the Request-URI (§16.6 step 2, §16.12 strict-route handling).
    pub fn set_request_uri(&mut self, uri: &[u8]) -> &mut Self {
        if let Some(span) = self.msg.request_uri_span() {
            self.splice(span.start as usize, span.len(), &[uri]);
        }
        self
    }

    /// Replace the start line (a proxy turning a 503 into a 500, §16.7 step 6).
    pub fn set_start_line(&mut self, line: &[u8]) -> &mut Self {
        let span = self.msg.start_line_span();
        self.splice(span.start as usize, span.len(), &[line]);
        self
    }

    /// Add a header line at the end of the header section.
    pub fn add_header(&mut self, name: HeaderName, value: &[u8]) -> &mut Self {
        self.insert_line(self.msg.headers_end(), name.as_str().as_bytes(), value);
        self
    }

    /// Add a header line by text name at the end of the header section.
    pub fn add_header_text(&mut self, name: &[u8], value: &[u8]) -> &mut Self {
        self.insert_line(self.msg.headers_end(), name, value);
        self
    }

    /// Remove every line of this header.
    pub fn remove_headers(&mut self, name: HeaderName) -> &mut Self {
        let lines: SmallVec<[Span; 4]> = self.msg.headers_named(name).map(Header::line).collect();
        for line in lines {
            self.splice(line.start as usize, line.len(), &[]);
        }
        self
    }

    /// Set a single-valued header: replace the first line's value, remove the
    /// others, or add the header if absent.
    pub fn replace_header(&mut self, name: HeaderName, value: &[u8]) -> &mut Self {
        let mut lines = self.msg.headers_named(name);
        match lines.next().copied() {
            None => {
                self.add_header(name, value);
            }
            Some(first) => {
                let rest: SmallVec<[Span; 4]> = lines.map(Header::line).collect();
                self.splice(first.value().start as usize, first.value().len(), &[value]);
                for line in rest {
                    self.splice(line.start as usize, line.len(), &[]);
                }
            }
        }
        self
    }

    /// RFC 3581 §4 / RFC 3261 §18.2.1: record where the request really came
    /// from in its top Via: add `received` and fill a bare `rport`.
    pub fn set_top_via_received(
        &mut self,
        received: &[u8],
        rport: Option<u16>,
    ) -> Result<&mut Self, EditError> {
        let via = self
            .msg
            .top_via()
            .map_err(|_| EditError::Malformed(HeaderName::Via))?;
        let buf = self.msg.as_bytes();
        let end = Span::within(buf, via.raw()).end as usize;
        if let Some(port) = rport {
            // Fill the bare `rport` in place.
            let bare = via
                .params
                .iter()
                .find(|(n, v)| n.eq_ignore_ascii_case(b"rport") && v.is_none())
                .map(|(n, _)| Span::within(buf, n));
            if let Some(name) = bare {
                let mut text = Vec::with_capacity(6);
                text.push(b'=');
                push_u32(&mut text, u32::from(port));
                self.splice(name.end as usize, 0, &[&text]);
            }
        }
        self.splice(end, 0, &[b";received=", received]);
        Ok(self)
    }

    /// Apply every edit in offset order and return the new message bytes.
    pub fn finish(mut self) -> Bytes {
        self.edits.sort_by_key(|e| e.at);
        let src = self.msg.as_bytes();
        let grow: usize = self.edits.iter().map(|e| e.ins.len()).sum();
        let mut out = BytesMut::with_capacity(src.len() + grow);
        let mut cursor = 0usize;
        for e in &self.edits {
            let at = (e.at as usize).max(cursor);
            out.put_slice(&src[cursor..at]);
            out.put_slice(e.ins.of(&self.scratch));
            cursor = (e.at as usize + e.remove as usize).max(at);
        }
        out.put_slice(&src[cursor..]);
        out.freeze()
    }
}

impl Message {
    /// Start editing a copy of this message for forwarding.
    pub fn edit(&self) -> Editor<'_> {
        Editor::new(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
Route: <sip:us.example.com;lr>, <sip:next.example.com;lr>\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Record-Route: <sip:old.example.com;lr>\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    fn parse(b: Bytes) -> Message {
        Message::parse(b, &Limits::default()).expect("parses")
    }

    #[test]
    fn forwards_a_request_like_a_proxy() {
        let m = parse(Bytes::from_static(INVITE));
        let mut e = m.edit();
        e.set_top_via_received(b"192.0.2.4", Some(5062))
            .expect("via");
        e.remove_top_route().expect("route");
        e.decrement_max_forwards().expect("mf");
        e.prepend(HeaderName::RecordRoute, b"<sip:us.example.com;lr>");
        e.push_via(b"SIP/2.0/UDP us.example.com;branch=z9hG4bKus1");
        let out = e.finish();
        let expected = b"INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP us.example.com;branch=z9hG4bKus1\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;rport=5062;received=192.0.2.4\r\n\
Max-Forwards: 69\r\n\
Route: <sip:next.example.com;lr>\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Record-Route: <sip:us.example.com;lr>\r\n\
Record-Route: <sip:old.example.com;lr>\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(expected)
        );
        let f = parse(out);
        assert_eq!(f.top_via().expect("via").branch(), Some(&b"z9hG4bKus1"[..]));
        assert_eq!(f.body(), b"v=0\n");
    }

    #[test]
    fn pops_a_whole_line_and_a_list_element() {
        let resp = Bytes::from_static(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP us;branch=z9hG4bKus1\r\nVia: SIP/2.0/UDP a;branch=z9hG4bKa, SIP/2.0/UDP b;branch=z9hG4bKb\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
        let m = parse(resp);
        let mut e = m.edit();
        e.pop_via().expect("pop");
        let once = parse(e.finish());
        assert_eq!(
            once.top_via().expect("via").branch(),
            Some(&b"z9hG4bKa"[..])
        );
        let mut e = once.edit();
        e.pop_via().expect("pop");
        let twice = parse(e.finish());
        assert_eq!(
            twice.top_via().expect("via").branch(),
            Some(&b"z9hG4bKb"[..])
        );
        assert!(
            twice
                .as_bytes()
                .starts_with(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP b;branch=z9hG4bKb\r\nFrom:")
        );
    }

    #[test]
    fn max_forwards_zero_refuses_and_absent_adds_seventy() {
        let m = parse(Bytes::from_static(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 0\r\n\r\n"));
        assert_eq!(
            m.edit().decrement_max_forwards().err(),
            Some(EditError::MaxForwardsExhausted)
        );
        let m = parse(Bytes::from_static(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n"));
        let mut e = m.edit();
        e.decrement_max_forwards().expect("adds");
        assert_eq!(parse(e.finish()).max_forwards(), Ok(Some(70)));
    }

    #[test]
    fn replaces_and_removes_headers_and_uri() {
        let m = parse(Bytes::from_static(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nSubject: a\r\nSubject: b\r\nX-A: 1\r\n\r\n"));
        let mut e = m.edit();
        e.replace_header(HeaderName::Subject, b"new")
            .set_request_uri(b"sip:y@z")
            .add_header(HeaderName::Supported, b"path")
            .remove_headers(HeaderName::Other);
        let f = parse(e.finish());
        assert_eq!(f.request_uri_bytes(), Some(&b"sip:y@z"[..]));
        let subjects: Vec<&[u8]> = f
            .headers_named(HeaderName::Subject)
            .map(|h| f.get(h.value()))
            .collect();
        assert_eq!(subjects, vec![&b"new"[..]]);
        assert_eq!(f.header_value(HeaderName::Supported), Some(&b"path"[..]));
        assert_eq!(f.headers_by_text(b"X-A").count(), 0);
    }

    #[test]
    fn replaces_the_status_line() {
        let m = parse(Bytes::from_static(b"SIP/2.0 503 Service Unavailable\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n"));
        let mut e = m.edit();
        e.set_start_line(b"SIP/2.0 500 Server Internal Error");
        let f = parse(e.finish());
        assert_eq!(f.status(), Some(500));
        assert_eq!(f.reason(), Some(&b"Server Internal Error"[..]));
    }

    #[test]
    fn absent_route_is_an_error() {
        let m = parse(Bytes::from_static(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n"));
        assert_eq!(
            m.edit().remove_top_route().err(),
            Some(EditError::Absent(HeaderName::Route))
        );
    }
}
