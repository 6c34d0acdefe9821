//! The Via header (RFC 3261 §20.42, RFC 3581 rport).

use crate::params::Params;
use crate::scan::{is_lws, is_token, parse_u32, trim, trim_start};

/// The RFC 3261 magic cookie that starts every compliant branch.
pub const BRANCH_MAGIC: &[u8] = b"z9hG4bK";

/// One via-parm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// Transport token (`UDP`, `TCP`, `TLS`, `WS`, `SCTP`...), as written.
    pub transport: &'a [u8],
    /// Host as written; IPv6 keeps its brackets.
    pub host: &'a [u8],
    pub port: Option<u16>,
    /// `host[:port]` as written (the sent-by).
    pub sent_by: &'a [u8],
    /// Parameters from the first `;`; iteration stops at a list's next element.
    pub params: Params<'a>,
    /// From the start of this via-parm to the end of the header line.
    start: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed Via")]
pub struct ViaError;

impl<'a> Via<'a> {
    /// Parse one via-parm: `SIP / 2.0 / transport sent-by *(; param)`, LWS
    /// allowed around `/` and `:`. `value` may run on past this via-parm into
    /// the rest of a comma-separated line; parsing stops at the comma.
    pub fn parse(value: &'a [u8]) -> Result<Via<'a>, ViaError> {
        let raw = trim(value);
        let (transport, rest) = match sent_protocol_fast(raw) {
            Some(split) => split,
            None => sent_protocol(raw)?,
        };
        let rest = trim_start(rest);
        if rest.is_empty() {
            return Err(ViaError);
        }

        let (host, after_host) = if rest.first() == Some(&b'[') {
            let close = rest.iter().position(|&c| c == b']').ok_or(ViaError)?;
            let inner = &rest[1..close];
            if inner.is_empty()
                || !inner
                    .iter()
                    .all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
            {
                return Err(ViaError);
            }
            (&rest[..=close], &rest[close + 1..])
        } else {
            let end = rest
                .iter()
                .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_')))
                .unwrap_or(rest.len());
            if end == 0 {
                return Err(ViaError);
            }
            (&rest[..end], &rest[end..])
        };
        let mut after = after_host;
        let mut port = None;
        let t = trim_start(after);
        if t.first() == Some(&b':') {
            let d = trim_start(&t[1..]);
            let end = d
                .iter()
                .position(|c| !c.is_ascii_digit())
                .unwrap_or(d.len());
            let p = parse_u32(&d[..end])
                .and_then(|p| u16::try_from(p).ok())
                .ok_or(ViaError)?;
            port = Some(p);
            after = &d[end..];
        }
        let sent_by_end = after.as_ptr() as usize - rest.as_ptr() as usize;
        let sent_by = &rest[..sent_by_end];
        let params = trim_start(after);
        if !params.is_empty() && params[0] != b';' && params[0] != b',' {
            return Err(ViaError);
        }
        Ok(Via {
            transport,
            host,
            port,
            sent_by,
            params: Params(params),
            start: raw,
        })
    }

    /// This via-parm as written (up to the comma that starts the next one).
    pub fn raw(&self) -> &'a [u8] {
        let params_at = self.start.len() - self.params.0.len();
        trim(&self.start[..params_at + self.params.extent()])
    }

    /// Check every parameter: names are tokens, values non-empty and without
    /// white space unless quoted. [`crate::Message::validate`] calls this; the
    /// accessors do not need it.
    pub fn check_params(&self) -> Result<(), ViaError> {
        let quoted = self.params.0.contains(&b'"');
        for (n, v) in self.params.iter() {
            if !n.iter().all(|&c| is_token(c)) {
                return Err(ViaError);
            }
            if let Some(v) = v {
                if v.is_empty() || (!quoted && v.iter().any(|&c| is_lws(c))) {
                    return Err(ViaError);
                }
            }
        }
        Ok(())
    }

    #[inline]
    pub fn branch(&self) -> Option<&'a [u8]> {
        self.params.value(b"branch")
    }

    #[inline]
    pub fn received(&self) -> Option<&'a [u8]> {
        self.params.value(b"received")
    }

    /// `None` absent; `Some(None)` a bare `rport` (asking for it, RFC 3581); `Some(Some(p))` filled in.
    #[inline]
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get(b"rport")
            .map(|v| v.and_then(|v| parse_u32(v).and_then(|p| u16::try_from(p).ok())))
    }

    #[inline]
    pub fn maddr(&self) -> Option<&'a [u8]> {
        self.params.value(b"maddr")
    }

    #[inline]
    pub fn ttl(&self) -> Option<u8> {
        self.params
            .value(b"ttl")
            .and_then(parse_u32)
            .and_then(|t| u8::try_from(t).ok())
    }

    /// Whether the branch starts with RFC 3261's magic cookie.
    #[inline]
    pub fn is_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(BRANCH_MAGIC))
    }
}

/// `SIP/2.0/` written without white space, as nearly everyone does: the
/// transport and what follows it.
#[inline(always)]
fn sent_protocol_fast(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    if raw.len() < 10 || !raw[..8].eq_ignore_ascii_case(b"SIP/2.0/") {
        return None;
    }
    let rest = &raw[8..];
    let end = rest
        .iter()
        .position(|&c| !is_token(c))
        .unwrap_or(rest.len());
    if end == 0 || !rest.get(end).is_some_and(|&c| is_lws(c)) {
        return None;
    }
    Some((&rest[..end], &rest[end..]))
}

/// `SIP / version / transport`, white space allowed around each `/`.
fn sent_protocol(raw: &[u8]) -> Result<(&[u8], &[u8]), ViaError> {
    let (name, rest) = token(raw)?;
    if !name.eq_ignore_ascii_case(b"SIP") {
        return Err(ViaError);
    }
    let rest = slash(rest)?;
    let (_version, rest) = token(rest)?;
    let rest = slash(rest)?;
    token(rest)
}

fn token(s: &[u8]) -> Result<(&[u8], &[u8]), ViaError> {
    let s = trim_start(s);
    let end = s.iter().position(|&c| !is_token(c)).unwrap_or(s.len());
    if end == 0 {
        return Err(ViaError);
    }
    Ok((&s[..end], &s[end..]))
}

fn slash(s: &[u8]) -> Result<&[u8], ViaError> {
    let s = trim_start(s);
    if s.first() == Some(&b'/') {
        Ok(&s[1..])
    } else {
        Err(ViaError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sent_by_and_params() {
        let v = Via::parse(b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776;received=10.1.1.1;rport=4711;ttl=16;maddr=224.2.0.1")
            .expect("valid");
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.host, b"192.0.2.1");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.sent_by, b"192.0.2.1:5060");
        assert_eq!(v.branch(), Some(&b"z9hG4bK776"[..]));
        assert_eq!(v.received(), Some(&b"10.1.1.1"[..]));
        assert_eq!(v.rport(), Some(Some(4711)));
        assert_eq!(v.ttl(), Some(16));
        assert_eq!(v.maddr(), Some(&b"224.2.0.1"[..]));
        assert!(v.is_rfc3261_branch());
    }

    #[test]
    fn tolerates_lws_around_separators() {
        let v = Via::parse(b"SIP  /   2.0\r\n /UDP  host.example.com ;branch=z9hG4bKa;rport")
            .expect("valid");
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.host, b"host.example.com");
        assert_eq!(v.port, None);
        assert_eq!(v.rport(), Some(None));
    }

    #[test]
    fn stops_at_the_next_via_in_the_line() {
        let v =
            Via::parse(b"SIP/2.0/UDP a:5060;branch=z9hG4bKa;rport, SIP/2.0/UDP b;branch=z9hG4bKb")
                .expect("valid");
        assert_eq!(v.branch(), Some(&b"z9hG4bKa"[..]));
        assert_eq!(v.raw(), b"SIP/2.0/UDP a:5060;branch=z9hG4bKa;rport");
        let v = Via::parse(b"SIP/2.0/UDP a , SIP/2.0/UDP b;branch=z9hG4bKb").expect("valid");
        assert_eq!(v.branch(), None);
        assert_eq!(v.raw(), b"SIP/2.0/UDP a");
    }

    #[test]
    fn reads_ipv6_sent_by() {
        let v = Via::parse(b"SIP/2.0/TCP [2001:db8::9:1]:5061;branch=z9hG4bKx").expect("valid");
        assert_eq!(v.host, b"[2001:db8::9:1]");
        assert_eq!(v.port, Some(5061));
    }

    #[test]
    fn refuses_malformed_vias() {
        for bad in [
            &b"SIP/2.0/UDP"[..],
            b"SIP/2.0 UDP host",
            b"SIP/2.0/UDP host:99999",
            b"SIP/2.0/UDP [2001:db8::1;branch=x",
            b"SIP/2.0/UDP host garbage",
        ] {
            assert!(Via::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        for bad_params in [&b"SIP/2.0/UDP h;branch="[..], b"SIP/2.0/UDP h;bra{nch=1"] {
            let v = Via::parse(bad_params).expect("sent-by is fine");
            assert!(
                v.check_params().is_err(),
                "{}",
                String::from_utf8_lossy(bad_params)
            );
        }
    }
}
