//! The parsed message view: spans into one shared buffer, typed views on demand.

use bytes::Bytes;
use memchr::memchr;
use smallvec::SmallVec;

use crate::error::{Malformed, ParseError};
use crate::header_name::HeaderName;
use crate::limits::Limits;
use crate::method::Method;
use crate::scan::{LineFeeds, is_lws, is_token};
use crate::span::Span;

/// Header lines stored inline before the table spills to the heap.
pub const HEADERS_INLINE: usize = 32;

/// One header line: its name, the value with surrounding white space trimmed,
/// and where the line ends (just past its LF), so an editor can cut it out.
/// Sixteen bytes, so a message's header table stays within a few cache lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    name_len: u8,
    value_len: u16,
    name_start: u32,
    value_start: u32,
    line_end: u32,
}

impl Header {
    /// The name as written (may be a compact form, any case).
    #[inline]
    pub fn name_span(&self) -> Span {
        Span {
            start: self.name_start,
            end: self.name_start + u32::from(self.name_len),
        }
    }

    /// The value as written, trimmed; folded lines keep their CRLF and white space.
    #[inline]
    pub fn value(&self) -> Span {
        Span {
            start: self.value_start,
            end: self.value_start + u32::from(self.value_len),
        }
    }

    /// The whole line, name to LF inclusive.
    #[inline]
    pub fn line(&self) -> Span {
        Span {
            start: self.name_start,
            end: self.line_end,
        }
    }
}

/// The first line of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine {
    Request {
        method: Method,
        method_span: Span,
        uri: Span,
        version: Span,
    },
    Response {
        status: u16,
        reason: Span,
        version: Span,
    },
}

/// A SIP message parsed without copying: it owns the buffer (`Bytes`, cheap to
/// clone and slice) and records where each part lies in it.
#[derive(Debug, Clone)]
pub struct Message {
    buf: Bytes,
    start: StartLine,
    /// Offset of the start line (leading CRLFs are skipped, RFC 3261 §7.5).
    start_line: Span,
    headers: SmallVec<[Header; HEADERS_INLINE]>,
    /// Offset of the empty line that ends the header section.
    headers_end: u32,
    body: Span,
}

/// Headers a response cannot be formed without (bit per header in `seen`).
const NEED_VIA: u8 = 1;
const NEED_FROM: u8 = 2;
const NEED_TO: u8 = 4;
const NEED_CALL_ID: u8 = 8;
const NEED_CSEQ: u8 = 16;
const NEED_ALL: u8 = NEED_VIA | NEED_FROM | NEED_TO | NEED_CALL_ID | NEED_CSEQ;
const SEEN_MAX_FORWARDS: u8 = 32;
const SEEN_CONTENT_LENGTH: u8 = 64;

impl Message {
    /// Parse one complete message (a datagram, or a frame from
    /// [`crate::framing::StreamFramer`]). Checks structure, limits and the
    /// presence of Via, From, To, Call-ID and CSeq; header values are read
    /// lazily by the typed views. See [`Message::parse_strict`] to check them all.
    pub fn parse(buf: Bytes, limits: &Limits) -> Result<Message, Malformed> {
        match parse_with(&buf, limits, false) {
            Ok(m) => Ok(m),
            Err(error) => Err(Malformed {
                error,
                partial: salvage(&buf, limits),
            }),
        }
    }

    /// [`Message::parse`], then [`Message::validate`]: every header a SIP element
    /// interprets is read and checked.
    pub fn parse_strict(buf: Bytes, limits: &Limits) -> Result<Message, Malformed> {
        let msg = Message::parse(buf, limits)?;
        match msg.validate() {
            Ok(()) => Ok(msg),
            Err(error) => {
                let respondable = msg.is_request() && msg.top_via().is_ok();
                Err(Malformed {
                    error,
                    partial: respondable.then(|| Box::new(msg)),
                })
            }
        }
    }

    /// The buffer the message was parsed from.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The shared buffer; slices of it are zero-copy.
    #[inline]
    pub fn buffer(&self) -> &Bytes {
        &self.buf
    }

    /// The bytes of `span` as a zero-copy `Bytes`.
    #[inline]
    pub fn slice(&self, span: Span) -> Bytes {
        self.buf.slice(span.range())
    }

    /// The bytes of `span`.
    #[inline]
    pub fn get(&self, span: Span) -> &[u8] {
        span.of(&self.buf)
    }

    #[inline]
    pub fn start_line(&self) -> &StartLine {
        &self.start
    }

    /// The span of the start line, without its CRLF.
    #[inline]
    pub fn start_line_span(&self) -> Span {
        self.start_line
    }

    #[inline]
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method; `None` for a response (see [`Message::cseq`]).
    #[inline]
    pub fn method(&self) -> Option<Method> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The method token as written (requests only).
    #[inline]
    pub fn method_bytes(&self) -> Option<&[u8]> {
        match self.start {
            StartLine::Request { method_span, .. } => Some(self.get(method_span)),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as written (requests only).
    #[inline]
    pub fn request_uri_bytes(&self) -> Option<&[u8]> {
        match self.start {
            StartLine::Request { uri, .. } => Some(self.get(uri)),
            StartLine::Response { .. } => None,
        }
    }

    /// The span of the Request-URI (requests only).
    #[inline]
    pub fn request_uri_span(&self) -> Option<Span> {
        match self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code (responses only).
    #[inline]
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { status, .. } => Some(status),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase (responses only).
    #[inline]
    pub fn reason(&self) -> Option<&[u8]> {
        match self.start {
            StartLine::Response { reason, .. } => Some(self.get(reason)),
            StartLine::Request { .. } => None,
        }
    }

    /// The SIP version as written (`SIP/2.0` for every message a server should
    /// accept; anything else deserves 505, RFC 3261 §8.2.6 / RFC 4475 §3.3.1).
    #[inline]
    pub fn version(&self) -> &[u8] {
        match self.start {
            StartLine::Request { version, .. } | StartLine::Response { version, .. } => {
                self.get(version)
            }
        }
    }

    /// Whether the version is `SIP/2.0` (case-insensitive, as RFC 3261 §7.1 allows).
    #[inline]
    pub fn is_sip_2_0(&self) -> bool {
        self.version().eq_ignore_ascii_case(b"SIP/2.0")
    }

    /// Every header line, in order.
    #[inline]
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// Offset of the empty line that ends the header section.
    #[inline]
    pub fn headers_end(&self) -> usize {
        self.headers_end as usize
    }

    /// The first header line with this name.
    #[inline]
    pub fn header(&self, name: HeaderName) -> Option<&Header> {
        self.headers.iter().find(|h| h.name == name)
    }

    /// The value of the first header line with this name.
    #[inline]
    pub fn header_value(&self, name: HeaderName) -> Option<&[u8]> {
        self.header(name).map(|h| self.get(h.value()))
    }

    /// Every header line with this name, in order.
    #[inline]
    pub fn headers_named(&self, name: HeaderName) -> impl Iterator<Item = &Header> + '_ {
        self.headers.iter().filter(move |h| h.name == name)
    }

    /// Every header line whose name is `name` (case-insensitive, long or compact
    /// form); works for headers without a [`HeaderName`] variant.
    pub fn headers_by_text<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a Header> + 'a {
        let known = HeaderName::from_bytes(name);
        self.headers.iter().filter(move |h| {
            if known != HeaderName::Other {
                h.name == known
            } else {
                h.name == HeaderName::Other && self.get(h.name_span()).eq_ignore_ascii_case(name)
            }
        })
    }

    /// The body (Content-Length bytes after the header section, or the rest of a datagram).
    #[inline]
    pub fn body(&self) -> &[u8] {
        self.get(self.body)
    }

    #[inline]
    pub fn body_span(&self) -> Span {
        self.body
    }
}

#[inline]
fn need_bit(name: HeaderName) -> u8 {
    match name {
        HeaderName::Via => NEED_VIA,
        HeaderName::From => NEED_FROM,
        HeaderName::To => NEED_TO,
        HeaderName::CallId => NEED_CALL_ID,
        HeaderName::CSeq => NEED_CSEQ,
        HeaderName::MaxForwards => SEEN_MAX_FORWARDS,
        HeaderName::ContentLength => SEEN_CONTENT_LENGTH,
        _ => 0,
    }
}

fn missing(seen: u8) -> HeaderName {
    if seen & NEED_VIA == 0 {
        HeaderName::Via
    } else if seen & NEED_FROM == 0 {
        HeaderName::From
    } else if seen & NEED_TO == 0 {
        HeaderName::To
    } else if seen & NEED_CALL_ID == 0 {
        HeaderName::CallId
    } else {
        HeaderName::CSeq
    }
}

/// In tolerant mode (used only to salvage a request for a 400), bad header
/// lines are skipped and limits cut the message short instead of failing.
fn parse_with(buf: &Bytes, limits: &Limits, tolerant: bool) -> Result<Message, ParseError> {
    let cap = limits.message_bytes_cap();
    if buf.len() > cap && !tolerant {
        return Err(ParseError::MessageTooLarge {
            len: buf.len(),
            max: limits.message_bytes_max,
        });
    }
    let data = &buf[..buf.len().min(cap)];

    // RFC 3261 §7.5: CRLFs before the start line are ignored.
    let mut pos = 0;
    while pos < data.len() && (data[pos] == b'\r' || data[pos] == b'\n') {
        pos += 1;
    }
    if pos == data.len() {
        return Err(ParseError::Empty);
    }
    let nl = match memchr(b'\n', &data[pos..]) {
        Some(i) => pos + i,
        None => return Err(ParseError::Unterminated),
    };
    let line_end = if nl > pos && data[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    if line_end - pos > limits.header_line_bytes_max {
        return Err(ParseError::HeaderLineTooLong {
            max: limits.header_line_bytes_max,
        });
    }
    let start_line = Span::new(pos, line_end);
    let start = match parse_start_line(data, pos, line_end) {
        Ok(start) => start,
        // A request line with stray white space (RFC 4475 §3.1.2.8-10) is still
        // a request whose headers may allow a 400.
        Err(e) if tolerant => lenient_request_line(data, pos, line_end).ok_or(e)?,
        Err(e) => return Err(e),
    };

    let line_cap = limits.header_line_cap();
    let mut headers: SmallVec<[Header; HEADERS_INLINE]> = SmallVec::new();
    let lf = LineFeeds::new();
    let mut seen: u8 = 0;
    let mut content_length: Option<usize> = None;
    pos = nl + 1;
    let headers_end;
    let body_start;
    loop {
        let Some(i) = lf.find(&data[pos..]) else {
            if tolerant {
                headers_end = data.len();
                body_start = data.len();
                break;
            }
            return Err(ParseError::Unterminated);
        };
        let mut nl = pos + i;
        let first_end = if nl > pos && data[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        if first_end == pos {
            headers_end = pos;
            body_start = nl + 1;
            break;
        }
        // Folded continuation lines (RFC 3261 §7.3.1) belong to this header.
        while nl + 1 < data.len() && matches!(data[nl + 1], b' ' | b'\t') {
            match lf.find(&data[nl + 1..]) {
                Some(j) => nl = nl + 1 + j,
                None => {
                    nl = data.len() - 1;
                    break;
                }
            }
        }
        let content_end = if nl > pos && data[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        let line_start = pos;
        pos = nl + 1;

        if content_end - line_start > line_cap {
            if tolerant {
                continue;
            }
            return Err(ParseError::HeaderLineTooLong {
                max: limits.header_line_bytes_max,
            });
        }
        let Some(header) = parse_header_line(data, line_start, content_end, nl + 1) else {
            if tolerant {
                continue;
            }
            return Err(ParseError::HeaderLine {
                at: line_start as u32,
            });
        };
        if headers.len() >= limits.headers_max {
            if tolerant {
                continue;
            }
            return Err(ParseError::TooManyHeaders {
                max: limits.headers_max,
            });
        }
        let bit = need_bit(header.name);
        if bit != 0 {
            if seen & bit != 0 && header.name != HeaderName::Via && !tolerant {
                return Err(ParseError::Duplicate(header.name));
            }
            seen |= bit;
            if header.name == HeaderName::ContentLength {
                match crate::scan::parse_u64(header.value().of(data)) {
                    Some(n) => content_length = Some(usize::try_from(n).unwrap_or(usize::MAX)),
                    None if tolerant => {}
                    None => return Err(ParseError::Header(HeaderName::ContentLength)),
                }
            }
        }
        headers.push(header);
    }

    if seen & NEED_ALL != NEED_ALL {
        return Err(ParseError::Missing(missing(seen)));
    }

    let available = data.len() - body_start;
    let body = match content_length {
        Some(declared) if declared > available => {
            if !tolerant {
                return Err(ParseError::BodyTruncated {
                    declared,
                    available,
                });
            }
            Span::new(body_start, data.len())
        }
        // RFC 3261 §18.3: bytes past Content-Length in a datagram are discarded.
        Some(declared) => Span::new(body_start, body_start + declared),
        None => Span::new(body_start, data.len()),
    };

    Ok(Message {
        buf: buf.clone(),
        start,
        start_line,
        headers,
        headers_end: headers_end as u32,
        body,
    })
}

/// Reparse a refused request tolerantly; keep it only if a response can be formed.
fn salvage(buf: &Bytes, limits: &Limits) -> Option<Box<Message>> {
    let msg = parse_with(buf, limits, true).ok()?;
    if msg.is_request() && msg.top_via().is_ok() {
        Some(Box::new(msg))
    } else {
        None
    }
}

fn parse_start_line(data: &[u8], start: usize, end: usize) -> Result<StartLine, ParseError> {
    let line = &data[start..end];
    if line.len() > 8 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let sp1 = memchr(b' ', line).ok_or(ParseError::StartLine)?;
        let rest = &line[sp1 + 1..];
        if rest.len() < 3 || !rest[..3].iter().all(u8::is_ascii_digit) {
            return Err(ParseError::StartLine);
        }
        if rest.len() > 3 && rest[3] != b' ' {
            return Err(ParseError::StartLine);
        }
        let status = u16::from(rest[0] - b'0') * 100
            + u16::from(rest[1] - b'0') * 10
            + u16::from(rest[2] - b'0');
        if !(100..=699).contains(&status) {
            return Err(ParseError::StartLine);
        }
        let reason_start = start + sp1 + 1 + (rest.len().min(4));
        return Ok(StartLine::Response {
            status,
            reason: Span::new(reason_start, end),
            version: Span::new(start, start + sp1),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version: exactly two single spaces.
    let sp1 = memchr(b' ', line).ok_or(ParseError::StartLine)?;
    let method = &line[..sp1];
    if method.is_empty() || !method.iter().all(|&c| is_token(c)) {
        return Err(ParseError::StartLine);
    }
    let rest = &line[sp1 + 1..];
    let sp2 = memchr(b' ', rest).ok_or(ParseError::StartLine)?;
    let uri = &rest[..sp2];
    let version = &rest[sp2 + 1..];
    if uri.is_empty() || uri.iter().any(|&c| c <= b' ' || c == 0x7f) {
        return Err(ParseError::RequestUri);
    }
    if version.len() < 5
        || !version[..4].eq_ignore_ascii_case(b"SIP/")
        || version.iter().any(|&c| c <= b' ')
    {
        return Err(ParseError::StartLine);
    }
    let uri_start = start + sp1 + 1;
    let version_start = uri_start + sp2 + 1;
    Ok(StartLine::Request {
        method: Method::from_bytes(method),
        method_span: Span::new(start, start + sp1),
        uri: Span::new(uri_start, uri_start + sp2),
        version: Span::new(version_start, end),
    })
}

/// Salvage only: `Method SP+ anything SP+ SIP/...` with extra white space
/// tolerated, so a malformed request line still yields a request to answer.
fn lenient_request_line(data: &[u8], start: usize, end: usize) -> Option<StartLine> {
    let line = &data[start..end];
    let sp1 = memchr(b' ', line)?;
    let method = &line[..sp1];
    if method.is_empty() || !method.iter().all(|&c| is_token(c)) {
        return None;
    }
    let is_ws = |c: &u8| matches!(c, b' ' | b'\t');
    let rest_end = line.iter().rposition(|c| !is_ws(c))? + 1;
    let version_start = line[..rest_end].iter().rposition(is_ws)? + 1;
    let uri_start = sp1 + line[sp1..].iter().position(|c| !is_ws(c))?;
    let uri_end = line[..version_start].iter().rposition(|c| !is_ws(c))? + 1;
    if uri_start >= uri_end
        || version_start <= sp1
        || !line[version_start..rest_end]
            .get(..4)?
            .eq_ignore_ascii_case(b"SIP/")
    {
        return None;
    }
    Some(StartLine::Request {
        method: Method::from_bytes(method),
        method_span: Span::new(start, start + sp1),
        uri: Span::new(start + uri_start, start + uri_end),
        version: Span::new(start + version_start, start + rest_end),
    })
}

/// Length of the header name at the start of `line`: the bytes before the
/// first `:`, SP or HT, found eight at a time.
#[inline(always)]
fn name_len(line: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    #[inline(always)]
    fn has(w: u64, b: u8) -> u64 {
        let x = w ^ (ONES * u64::from(b));
        x.wrapping_sub(ONES) & !x & HIGHS
    }
    let mut i = 0;
    while i + 8 <= line.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&line[i..i + 8]);
        let w = u64::from_le_bytes(w);
        // The lowest flagged byte is exact: the trick only misfires above a true match.
        let m = has(w, b':') | has(w, b' ') | has(w, b'\t');
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < line.len() && !matches!(line[i], b':' | b' ' | b'\t') {
        i += 1;
    }
    i
}

/// `name *(SP/HTAB) ":" value`; `None` if the name is not a token (or longer
/// than 255 bytes) or there is no colon.
#[inline(always)]
fn parse_header_line(data: &[u8], start: usize, end: usize, line_end: usize) -> Option<Header> {
    let line = &data[start..end];
    let name_end = name_len(line);
    if name_end == 0 || name_end > usize::from(u8::MAX) {
        return None;
    }
    // A known name is exactly matched, so only other names need the token check.
    let name = match HeaderName::classify_in(data, start, name_end) {
        Some(h) => h,
        None if line[..name_end].iter().all(|&c| is_token(c)) => HeaderName::Other,
        None => return None,
    };
    let mut i = name_end;
    while i < line.len() && matches!(line[i], b' ' | b'\t') {
        i += 1;
    }
    if i == line.len() || line[i] != b':' {
        return None;
    }
    i += 1;
    // Trim the value: leading SP/HT (and folds), trailing white space.
    let mut v_start = start + i;
    while v_start < end && is_lws(data[v_start]) {
        v_start += 1;
    }
    let mut v_end = end;
    while v_end > v_start && is_lws(data[v_end - 1]) {
        v_end -= 1;
    }
    Some(Header {
        name,
        name_len: name_end as u8,
        // The line limit keeps values within u16 (see Limits::header_line_cap).
        value_len: (v_end - v_start) as u16,
        name_start: start as u32,
        value_start: v_start as u32,
        line_end: line_end as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTER: &[u8] = b"REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:6505550001@example.com>\r\n\
From: <sip:6505550001@example.com>;tag=456248\r\n\
Call-ID: 843817637684230@998sdasdh09\r\n\
CSeq: 1826 REGISTER\r\n\
Contact: <sip:6505550001@10.0.0.1:5060>\r\n\
Expires: 7200\r\n\
Content-Length: 0\r\n\r\n";

    fn parse(b: &'static [u8]) -> Result<Message, Malformed> {
        Message::parse(Bytes::from_static(b), &Limits::default())
    }

    #[test]
    fn parses_register_start_line_and_headers() {
        let m = parse(REGISTER).expect("parses");
        assert_eq!(m.method(), Some(Method::Register));
        assert_eq!(m.request_uri_bytes(), Some(&b"sip:example.com"[..]));
        assert!(m.is_sip_2_0());
        assert_eq!(m.headers().len(), 9);
        assert_eq!(
            m.header_value(HeaderName::CallId),
            Some(&b"843817637684230@998sdasdh09"[..])
        );
        assert_eq!(m.header_value(HeaderName::Expires), Some(&b"7200"[..]));
        assert_eq!(m.body(), b"");
    }

    #[test]
    fn parses_response_status_and_reason() {
        let m = parse(
            b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n",
        )
        .expect("parses");
        assert_eq!(m.status(), Some(180));
        assert_eq!(m.reason(), Some(&b"Ringing"[..]));
        assert_eq!(m.method(), None);
    }

    #[test]
    fn empty_reason_phrase_is_allowed() {
        let m = parse(b"SIP/2.0 200 \r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:a@b>;tag=1\r\nt: <sip:c@d>\r\ni: x\r\nCSeq: 1 INVITE\r\n\r\n")
            .expect("parses");
        assert_eq!(m.status(), Some(200));
        assert_eq!(m.reason(), Some(&b""[..]));
    }

    #[test]
    fn skips_leading_crlf_and_reads_compact_forms() {
        let m = parse(b"\r\n\r\nOPTIONS sip:x SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:a@b>;tag=1\r\nt: <sip:c@d>\r\ni: abc\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n")
            .expect("parses");
        assert_eq!(m.header_value(HeaderName::CallId), Some(&b"abc"[..]));
        assert_eq!(
            m.header(HeaderName::ContentLength)
                .map(|h| m.get(h.name_span())),
            Some(&b"l"[..])
        );
    }

    #[test]
    fn folded_lines_belong_to_their_header() {
        let m = parse(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nSubject: one\r\n  two\r\n\tthree\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n")
            .expect("parses");
        assert_eq!(
            m.header_value(HeaderName::Subject),
            Some(&b"one\r\n  two\r\n\tthree"[..])
        );
        assert_eq!(m.headers().len(), 6);
    }

    #[test]
    fn body_is_cut_at_content_length_in_a_datagram() {
        let m = parse(b"MESSAGE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\nContent-Length: 5\r\n\r\nhelloEXTRA")
            .expect("parses");
        assert_eq!(m.body(), b"hello");
    }

    #[test]
    fn body_shorter_than_content_length_is_refused_with_400() {
        let e = parse(b"MESSAGE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\nContent-Length: 50\r\n\r\nhello")
            .expect_err("refused");
        assert_eq!(
            e.error,
            ParseError::BodyTruncated {
                declared: 50,
                available: 5
            }
        );
        assert_eq!(e.disposition(), crate::Disposition::Respond(400));
    }

    #[test]
    fn missing_call_id_is_refused_and_cannot_be_answered() {
        let e = parse(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCSeq: 1 OPTIONS\r\n\r\n")
            .expect_err("refused");
        assert_eq!(e.error, ParseError::Missing(HeaderName::CallId));
        assert_eq!(e.disposition(), crate::Disposition::Drop);
    }

    #[test]
    fn bad_header_line_is_answerable_when_essentials_survive() {
        let e = parse(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nThis line has no colon\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n")
            .expect_err("refused");
        assert!(matches!(e.error, ParseError::HeaderLine { .. }));
        assert_eq!(e.disposition(), crate::Disposition::Respond(400));
        let resp = e.response().expect("a 400 can be formed");
        assert!(resp.starts_with(b"SIP/2.0 400 Bad Request - Malformed Header Line\r\n"));
    }

    #[test]
    fn duplicate_singletons_are_refused() {
        let e = parse(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCall-ID: y\r\nCSeq: 1 OPTIONS\r\n\r\n")
            .expect_err("refused");
        assert_eq!(e.error, ParseError::Duplicate(HeaderName::CallId));
    }

    #[test]
    fn limits_are_enforced_at_their_boundary() {
        let limits = Limits {
            message_bytes_max: REGISTER.len(),
            headers_max: 9,
            header_line_bytes_max: 64,
        };
        assert!(Message::parse(Bytes::from_static(REGISTER), &limits).is_ok());
        let smaller = Limits {
            message_bytes_max: REGISTER.len() - 1,
            ..limits
        };
        let e = Message::parse(Bytes::from_static(REGISTER), &smaller).expect_err("too large");
        assert_eq!(
            e.error,
            ParseError::MessageTooLarge {
                len: REGISTER.len(),
                max: REGISTER.len() - 1
            }
        );
        assert_eq!(e.disposition(), crate::Disposition::Respond(513));
        let fewer = Limits {
            headers_max: 8,
            ..limits
        };
        let e = Message::parse(Bytes::from_static(REGISTER), &fewer).expect_err("too many");
        assert_eq!(e.error, ParseError::TooManyHeaders { max: 8 });
        let shorter = Limits {
            header_line_bytes_max: 50,
            ..limits
        };
        let e = Message::parse(Bytes::from_static(REGISTER), &shorter).expect_err("too long");
        assert_eq!(e.error, ParseError::HeaderLineTooLong { max: 50 });
    }

    #[test]
    fn request_line_with_extra_spaces_is_refused() {
        let e = parse(b"OPTIONS  sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n")
            .expect_err("refused");
        assert_eq!(e.error, ParseError::RequestUri);
        assert!(parse(b"OPTIONS sip:x  SIP/2.0\r\n\r\n").is_err());
    }

    #[test]
    fn request_line_with_stray_spaces_is_still_answerable() {
        const TAIL: &str = "\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n";
        for (line, uri) in [
            ("OPTIONS  sip:x  SIP/2.0", &b"sip:x"[..]),
            ("OPTIONS sip:x SIP/2.0  ", b"sip:x"),
            ("OPTIONS sip:x; lr SIP/2.0", b"sip:x; lr"),
        ] {
            let e = Message::parse(Bytes::from(format!("{line}{TAIL}")), &Limits::default())
                .expect_err("refused");
            assert_eq!(e.disposition(), crate::Disposition::Respond(400), "{line}");
            let partial = e.partial.as_deref().expect("salvaged");
            assert_eq!(partial.request_uri_bytes(), Some(uri), "{line}");
            assert_eq!(partial.version(), b"SIP/2.0", "{line}");
        }
        for line in [
            "OPTIONS sip:x",
            "OPTIONS  SIP/2.0",
            "OPT IONS sip:x HTTP/1.1",
        ] {
            let e = Message::parse(Bytes::from(format!("{line}{TAIL}")), &Limits::default())
                .expect_err("refused");
            assert_eq!(e.disposition(), crate::Disposition::Drop, "{line}");
        }
    }

    #[test]
    fn garbage_is_dropped_not_answered() {
        for junk in [
            &b""[..],
            b"\r\n\r\n",
            b"hello",
            b"\x00\x01\x02\r\n\r\n",
            b"SIP/2.0 9999 x\r\n\r\n",
        ] {
            let e =
                Message::parse(Bytes::copy_from_slice(junk), &Limits::default()).expect_err("junk");
            assert_eq!(e.disposition(), crate::Disposition::Drop);
        }
    }

    #[test]
    fn headers_by_text_finds_unknown_headers_case_insensitively() {
        let m = parse(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nX-Thing: 1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nx-thing: 2\r\nCSeq: 1 OPTIONS\r\n\r\n")
            .expect("parses");
        let v: Vec<&[u8]> = m
            .headers_by_text(b"X-THING")
            .map(|h| m.get(h.value()))
            .collect();
        assert_eq!(v, vec![&b"1"[..], &b"2"[..]]);
        assert_eq!(m.headers_by_text(b"i").count(), 1);
    }
}
