//! Typed views of a parsed [`Message`], read on demand from its spans.

use crate::auth::AuthParams;
use crate::cseq::CSeq;
use crate::error::ParseError;
use crate::header_name::HeaderName;
use crate::list::ListValues;
use crate::message::Message;
use crate::name_addr::NameAddr;
use crate::scan::{is_lws, parse_delta_seconds, parse_u32, parse_u64, trim};
use crate::uri::Uri;
use crate::via::Via;

/// The Contact header(s) of a REGISTER or dialog-forming message.
#[derive(Debug, Clone, PartialEq, Eq)]
// Inline storage for the usual one or two contacts saves a heap allocation per REGISTER.
#[allow(clippy::large_enum_variant)]
pub enum Contacts<'a> {
    /// No Contact header (a registrar treats this as a fetch).
    None,
    /// `Contact: *` (only valid alone, with Expires: 0, in REGISTER).
    Star,
    /// One or more addresses, in order.
    Addrs(smallvec::SmallVec<[NameAddr<'a>; 2]>),
}

impl Message {
    /// Every value of every line of a list header, in order.
    #[inline]
    pub fn list_values(&self, name: HeaderName) -> impl Iterator<Item = &[u8]> + '_ {
        self.headers_named(name)
            .flat_map(move |h| ListValues::new(self.get(h.value())))
    }

    /// The Request-URI, parsed (requests only).
    pub fn request_uri(&self) -> Result<Uri<'_>, ParseError> {
        let raw = self.request_uri_bytes().ok_or(ParseError::RequestUri)?;
        Uri::parse(raw).map_err(|_| ParseError::RequestUri)
    }

    fn checked(
        &self,
        name: HeaderName,
        n: Result<NameAddr<'_>, ParseError>,
    ) -> Result<(), ParseError> {
        n?.check().map_err(|_| ParseError::Header(name))
    }

    /// The topmost Via value.
    #[inline]
    pub fn top_via(&self) -> Result<Via<'_>, ParseError> {
        // The first line's value: Via::parse stops at a comma, so the line
        // need not be split first.
        let v = self
            .header_value(HeaderName::Via)
            .ok_or(ParseError::Missing(HeaderName::Via))?;
        Via::parse(v).map_err(|_| ParseError::Header(HeaderName::Via))
    }

    /// Every Via value, top first.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, ParseError>> + '_ {
        self.list_values(HeaderName::Via)
            .map(|v| Via::parse(v).map_err(|_| ParseError::Header(HeaderName::Via)))
    }

    /// The Call-ID as written (never empty); [`Message::validate`] checks
    /// its characters (`word ["@" word]`, no white space).
    #[inline]
    pub fn call_id(&self) -> Result<&[u8], ParseError> {
        match self.header_value(HeaderName::CallId) {
            None => Err(ParseError::Missing(HeaderName::CallId)),
            Some([]) => Err(ParseError::Header(HeaderName::CallId)),
            Some(v) => Ok(v),
        }
    }

    #[inline]
    pub fn cseq(&self) -> Result<CSeq<'_>, ParseError> {
        let v = self
            .header_value(HeaderName::CSeq)
            .ok_or(ParseError::Missing(HeaderName::CSeq))?;
        CSeq::parse(v).map_err(|_| ParseError::Header(HeaderName::CSeq))
    }

    #[inline]
    pub fn from(&self) -> Result<NameAddr<'_>, ParseError> {
        self.name_addr(HeaderName::From)
    }

    #[inline]
    pub fn to(&self) -> Result<NameAddr<'_>, ParseError> {
        self.name_addr(HeaderName::To)
    }

    fn name_addr(&self, name: HeaderName) -> Result<NameAddr<'_>, ParseError> {
        let v = self.header_value(name).ok_or(ParseError::Missing(name))?;
        NameAddr::parse(v).map_err(|_| ParseError::Header(name))
    }

    /// Max-Forwards (0–255); `None` if absent.
    #[inline]
    pub fn max_forwards(&self) -> Result<Option<u8>, ParseError> {
        match self.header_value(HeaderName::MaxForwards) {
            None => Ok(None),
            Some(v) => parse_u32(v)
                .and_then(|n| u8::try_from(n).ok())
                .map(Some)
                .ok_or(ParseError::Header(HeaderName::MaxForwards)),
        }
    }

    /// The Expires header in seconds (saturating at 2**32-1); `None` if absent.
    pub fn expires_s(&self) -> Result<Option<u32>, ParseError> {
        match self.header_value(HeaderName::Expires) {
            None => Ok(None),
            Some(v) => parse_delta_seconds(v)
                .map(Some)
                .ok_or(ParseError::Header(HeaderName::Expires)),
        }
    }

    /// Content-Length as declared (already checked at parse time); `None` if absent.
    #[inline]
    pub fn content_length(&self) -> Option<usize> {
        self.header_value(HeaderName::ContentLength)
            .and_then(parse_u64)
            .and_then(|n| usize::try_from(n).ok())
    }

    /// The Contact header(s).
    pub fn contacts(&self) -> Result<Contacts<'_>, ParseError> {
        let mut values = self.list_values(HeaderName::Contact).peekable();
        let Some(first) = values.peek().copied() else {
            return Ok(Contacts::None);
        };
        if first == b"*" {
            values.next();
            if values.next().is_some() {
                return Err(ParseError::Header(HeaderName::Contact));
            }
            return Ok(Contacts::Star);
        }
        let mut addrs = smallvec::SmallVec::new();
        for v in values {
            if v == b"*" {
                return Err(ParseError::Header(HeaderName::Contact));
            }
            addrs.push(NameAddr::parse(v).map_err(|_| ParseError::Header(HeaderName::Contact))?);
        }
        Ok(Contacts::Addrs(addrs))
    }

    /// Every value of a name-addr list header (Route, Record-Route, Path,
    /// Service-Route, P-Associated-URI...), parsed, in order.
    pub fn name_addrs(
        &self,
        name: HeaderName,
    ) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> + '_ {
        self.list_values(name)
            .map(move |v| NameAddr::parse(v).map_err(|_| ParseError::Header(name)))
    }

    /// The topmost Route value, if any.
    #[inline]
    pub fn top_route(&self) -> Result<Option<NameAddr<'_>>, ParseError> {
        self.first_name_addr(HeaderName::Route)
    }

    /// The first value of a name-addr header (the top Route, the first Contact...).
    #[inline]
    pub fn first_name_addr(&self, name: HeaderName) -> Result<Option<NameAddr<'_>>, ParseError> {
        // NameAddr::parse stops at a comma, so the line need not be split first.
        self.header_value(name)
            .map(|v| NameAddr::parse(v).map_err(|_| ParseError::Header(name)))
            .transpose()
    }

    #[inline]
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> + '_ {
        self.name_addrs(HeaderName::Route)
    }

    #[inline]
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> + '_ {
        self.name_addrs(HeaderName::RecordRoute)
    }

    #[inline]
    pub fn paths(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> + '_ {
        self.name_addrs(HeaderName::Path)
    }

    /// The first Authorization (or Proxy-Authorization, WWW-/Proxy-Authenticate) value.
    pub fn auth(&self, name: HeaderName) -> Result<Option<AuthParams<'_>>, ParseError> {
        match self.header_value(name) {
            None => Ok(None),
            Some(v) => AuthParams::parse(v)
                .map(Some)
                .map_err(|_| ParseError::Header(name)),
        }
    }

    /// Option tags of Require / Proxy-Require / Supported / Unsupported.
    pub fn option_tags(&self, name: HeaderName) -> impl Iterator<Item = &[u8]> + '_ {
        self.list_values(name).map(trim)
    }

    /// Check every header a SIP element interprets, as a strict server would
    /// before acting on the message (RFC 3261 §8.2, §16.3).
    pub fn validate(&self) -> Result<(), ParseError> {
        if self.is_request() {
            let uri = self.request_uri()?;
            uri.check().map_err(|_| ParseError::RequestUri)?;
            // RFC 3261 §19.1.1 Table 1: no headers in a Request-URI (RFC 4475 §3.1.2.11).
            if uri.headers.is_some() {
                return Err(ParseError::RequestUri);
            }
        }
        for via in self.vias() {
            via?.check_params()
                .map_err(|_| ParseError::Header(HeaderName::Via))?;
        }
        if self
            .call_id()?
            .iter()
            .any(|&c| is_lws(c) || c < 0x21 || c == 0x7f)
        {
            return Err(ParseError::Header(HeaderName::CallId));
        }
        let cseq = self.cseq()?;
        self.checked(HeaderName::From, self.from())?;
        self.checked(HeaderName::To, self.to())?;
        self.max_forwards()?;
        self.expires_s()?;
        match self.contacts()? {
            Contacts::Addrs(addrs) => {
                for a in &addrs {
                    a.check()
                        .map_err(|_| ParseError::Header(HeaderName::Contact))?;
                    if let Some(Err(())) = a.expires_s() {
                        return Err(ParseError::Header(HeaderName::Contact));
                    }
                }
            }
            Contacts::None | Contacts::Star => {}
        }
        for name in [HeaderName::Route, HeaderName::RecordRoute, HeaderName::Path] {
            for r in self.name_addrs(name) {
                self.checked(name, r)?;
            }
        }
        for name in [
            HeaderName::Authorization,
            HeaderName::ProxyAuthorization,
            HeaderName::WwwAuthenticate,
            HeaderName::ProxyAuthenticate,
        ] {
            for h in self.headers_named(name) {
                AuthParams::parse(self.get(h.value())).map_err(|_| ParseError::Header(name))?;
            }
        }
        if let (Some(method), Some(m)) = (self.method(), self.method_bytes()) {
            // RFC 3261 §8.1.1.5: the CSeq method matches the request's.
            if cseq.method_bytes != m || cseq.method != method {
                return Err(ParseError::Header(HeaderName::CSeq));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use bytes::Bytes;

    fn msg(b: &'static [u8]) -> Message {
        Message::parse(Bytes::from_static(b), &Limits::default()).expect("parses")
    }

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds, SIP/2.0/TCP p1.example.com;branch=z9hG4bKp1\r\n\
Via: SIP/2.0/UDP ua.example.com;branch=z9hG4bKua\r\n\
Max-Forwards: 70\r\n\
Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
Route: <sip:p3.example.com;lr>\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    #[test]
    fn reads_what_a_proxy_needs() {
        let m = msg(INVITE);
        assert_eq!(
            m.top_via().expect("via").branch(),
            Some(&b"z9hG4bK776asdhds"[..])
        );
        let branches: Vec<&[u8]> = m
            .vias()
            .map(|v| v.expect("via").branch().unwrap_or_default())
            .collect();
        assert_eq!(
            branches,
            vec![&b"z9hG4bK776asdhds"[..], b"z9hG4bKp1", b"z9hG4bKua"]
        );
        assert_eq!(m.call_id(), Ok(&b"a84b4c76e66710@pc33.atlanta.com"[..]));
        let cseq = m.cseq().expect("cseq");
        assert_eq!((cseq.number, cseq.method), (314159, crate::Method::Invite));
        assert_eq!(m.to().expect("to").tag(), None);
        assert_eq!(m.from().expect("from").tag(), Some(&b"1928301774"[..]));
        let routes: Vec<&[u8]> = m
            .routes()
            .map(|r| r.expect("route").uri().expect("uri").host)
            .collect();
        assert_eq!(
            routes,
            vec![&b"p1.example.com"[..], b"p2.example.com", b"p3.example.com"]
        );
        assert!(
            m.top_route()
                .expect("route")
                .expect("some")
                .uri()
                .expect("uri")
                .is_loose_router()
        );
        assert_eq!(m.max_forwards(), Ok(Some(70)));
        assert_eq!(m.content_length(), Some(4));
        assert_eq!(m.body(), b"v=0\n");
        assert!(m.validate().is_ok());
    }

    #[test]
    fn contact_star_and_lists() {
        let m = msg(b"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:a@x>\r\nCall-ID: c\r\nCSeq: 2 REGISTER\r\nContact: *\r\nExpires: 0\r\n\r\n");
        assert_eq!(m.contacts(), Ok(Contacts::Star));
        assert_eq!(m.expires_s(), Ok(Some(0)));
        let m = msg(b"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:a@x>\r\nCall-ID: c\r\nCSeq: 2 REGISTER\r\nm: <sip:a@1.2.3.4>;expires=60;+sip.instance=\"<urn:uuid:1>\", sip:a@5.6.7.8;q=0.1\r\n\r\n");
        let Ok(Contacts::Addrs(addrs)) = m.contacts() else {
            panic!("expected addresses");
        };
        assert_eq!(addrs.len(), 2);
        assert_eq!(addrs[0].expires_s(), Some(Ok(60)));
        assert_eq!(
            addrs[0].params.value(b"+sip.instance"),
            Some(&b"<urn:uuid:1>"[..])
        );
        assert_eq!(addrs[1].q_millis(), Some(100));
        let m = msg(b"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:a@x>\r\nCall-ID: c\r\nCSeq: 2 REGISTER\r\nContact: *, <sip:a@b>\r\n\r\n");
        assert_eq!(m.contacts(), Err(ParseError::Header(HeaderName::Contact)));
    }

    #[test]
    fn validate_names_the_bad_header() {
        let m = msg(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:a@x\r\nCall-ID: c\r\nCSeq: 2 OPTIONS\r\n\r\n");
        assert_eq!(m.validate(), Err(ParseError::Header(HeaderName::To)));
        let m = msg(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:a@x>\r\nCall-ID: c\r\nCSeq: 2 INVITE\r\n\r\n");
        assert_eq!(m.validate(), Err(ParseError::Header(HeaderName::CSeq)));
        let m = msg(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:a@x>\r\nCall-ID: c\r\nCSeq: 2 OPTIONS\r\nMax-Forwards: 256\r\n\r\n");
        assert_eq!(
            m.validate(),
            Err(ParseError::Header(HeaderName::MaxForwards))
        );
    }

    #[test]
    fn strict_parse_answers_a_bad_header_with_400() {
        let e = Message::parse_strict(
            Bytes::from_static(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:a@x>\r\nCall-ID: c\r\nCSeq: x OPTIONS\r\n\r\n"),
            &Limits::default(),
        )
        .expect_err("bad cseq");
        assert_eq!(e.error, ParseError::Header(HeaderName::CSeq));
        assert_eq!(e.disposition(), crate::Disposition::Respond(400));
    }
}
