//! SIP, SIPS and TEL URIs (RFC 3261 §19.1, RFC 3966), read on demand.

use memchr::memchr;

use crate::params::Params;

/// The URI scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
    /// Any other absolute URI (`urn:`, `http:`, `mailto:`...); only `raw` is read.
    Other,
}

/// A URI view borrowing the message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    pub scheme: Scheme,
    /// The whole URI as written.
    pub raw: &'a [u8],
    /// SIP user part (escapes left as written), or the TEL number.
    pub user: Option<&'a [u8]>,
    pub password: Option<&'a [u8]>,
    /// Host as written; an IPv6 reference keeps its brackets. Empty for TEL and Other.
    pub host: &'a [u8],
    pub port: Option<u16>,
    /// URI parameters, starting at the first `;`.
    pub params: Params<'a>,
    /// Header part after `?`, without the `?`.
    pub headers: Option<&'a [u8]>,
}

/// Why a URI was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    #[error("no scheme")]
    Scheme,
    #[error("malformed user part")]
    User,
    #[error("malformed host")]
    Host,
    #[error("malformed port")]
    Port,
    #[error("malformed parameters")]
    Params,
    #[error("malformed telephone number")]
    Tel,
}

/// Characters allowed unescaped in a SIP user part: unreserved and user-unreserved.
static USER: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'_'
                    | b'.'
                    | b'!'
                    | b'~'
                    | b'*'
                    | b'\''
                    | b'('
                    | b')'
                    | b'&'
                    | b'='
                    | b'+'
                    | b'$'
                    | b','
                    | b';'
                    | b'?'
                    | b'/'
                    | b'%'
            );
        i += 1;
    }
    t
};

/// Characters allowed in URI parameters and headers (paramchar, hnv-unreserved, unreserved, escapes).
static PARAM: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'_'
                    | b'.'
                    | b'!'
                    | b'~'
                    | b'*'
                    | b'\''
                    | b'('
                    | b')'
                    | b'['
                    | b']'
                    | b'/'
                    | b':'
                    | b'&'
                    | b'+'
                    | b'$'
                    | b'%'
                    | b'='
                    | b';'
                    | b'?'
                    | b'@'
                    | b','
            );
        i += 1;
    }
    t
};

#[inline]
fn escapes_ok(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            match (s.get(i + 1), s.get(i + 2)) {
                (Some(a), Some(b)) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

impl<'a> Uri<'a> {
    /// Parse a URI as it appears in a Request-URI or inside `<...>`.
    pub fn parse(raw: &'a [u8]) -> Result<Uri<'a>, UriError> {
        let colon = memchr(b':', raw).ok_or(UriError::Scheme)?;
        let scheme_text = &raw[..colon];
        if scheme_text.is_empty()
            || !scheme_text[0].is_ascii_alphabetic()
            || !scheme_text
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        {
            return Err(UriError::Scheme);
        }
        let rest = &raw[colon + 1..];
        let scheme = if scheme_text.eq_ignore_ascii_case(b"sip") {
            Scheme::Sip
        } else if scheme_text.eq_ignore_ascii_case(b"sips") {
            Scheme::Sips
        } else if scheme_text.eq_ignore_ascii_case(b"tel") {
            Scheme::Tel
        } else {
            if rest.is_empty() || rest.iter().any(|&c| c <= b' ' || c == b'<' || c == b'>') {
                return Err(UriError::Scheme);
            }
            return Ok(Uri {
                scheme: Scheme::Other,
                raw,
                user: None,
                password: None,
                host: &[],
                port: None,
                params: Params(&[]),
                headers: None,
            });
        };
        if scheme == Scheme::Tel {
            return Self::parse_tel(raw, rest);
        }

        let (userinfo, hostpart) = match memchr(b'@', rest) {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (u, p) = match memchr(b':', ui) {
                    Some(i) => (&ui[..i], Some(&ui[i + 1..])),
                    None => (ui, None),
                };
                if u.is_empty() || !u.iter().all(|&c| USER[c as usize]) || !escapes_ok(u) {
                    return Err(UriError::User);
                }
                if let Some(p) = p {
                    if !p
                        .iter()
                        .all(|&c| USER[c as usize] && !matches!(c, b';' | b'?' | b'/'))
                        || !escapes_ok(p)
                    {
                        return Err(UriError::User);
                    }
                }
                (Some(u), p)
            }
        };

        // host [":" port], then params, then headers.
        let (host, after_host) = if hostpart.first() == Some(&b'[') {
            let close = memchr(b']', hostpart).ok_or(UriError::Host)?;
            let inner = &hostpart[1..close];
            if inner.is_empty()
                || !inner
                    .iter()
                    .all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
                || memchr(b':', inner).is_none()
            {
                return Err(UriError::Host);
            }
            (&hostpart[..=close], &hostpart[close + 1..])
        } else {
            let end = hostpart
                .iter()
                .position(|&c| matches!(c, b':' | b';' | b'?'))
                .unwrap_or(hostpart.len());
            let h = &hostpart[..end];
            if h.is_empty()
                || !h
                    .iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
                || h[0] == b'-'
                || h[0] == b'.'
            {
                return Err(UriError::Host);
            }
            (h, &hostpart[end..])
        };

        let (port, after_port) = if after_host.first() == Some(&b':') {
            let digits_end = after_host[1..]
                .iter()
                .position(|c| !c.is_ascii_digit())
                .map_or(after_host.len(), |i| i + 1);
            let digits = &after_host[1..digits_end];
            let port = crate::scan::parse_u32(digits)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or(UriError::Port)?;
            (Some(port), &after_host[digits_end..])
        } else {
            (None, after_host)
        };

        let (params, headers) = match memchr(b'?', after_port) {
            Some(q) => (&after_port[..q], Some(&after_port[q + 1..])),
            None => (after_port, None),
        };
        if !params.is_empty() && params[0] != b';' {
            return Err(UriError::Params);
        }
        if !params
            .iter()
            .all(|&c| PARAM[c as usize] && c != b'?' && c != b'@')
            || !escapes_ok(params)
        {
            return Err(UriError::Params);
        }
        if let Some(h) = headers {
            if !h.iter().all(|&c| PARAM[c as usize] && c != b';') || !escapes_ok(h) {
                return Err(UriError::Params);
            }
        }
        Ok(Uri {
            scheme,
            raw,
            user,
            password,
            host,
            port,
            params: Params(params),
            headers,
        })
    }

    fn parse_tel(raw: &'a [u8], rest: &'a [u8]) -> Result<Uri<'a>, UriError> {
        let end = memchr(b';', rest).unwrap_or(rest.len());
        let number = &rest[..end];
        let ok = !number.is_empty()
            && number.iter().all(|&c| {
                c.is_ascii_hexdigit() || matches!(c, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#')
            });
        if !ok {
            return Err(UriError::Tel);
        }
        let params = &rest[end..];
        if !params.iter().all(|&c| PARAM[c as usize]) {
            return Err(UriError::Params);
        }
        Ok(Uri {
            scheme: Scheme::Tel,
            raw,
            user: Some(number),
            password: None,
            host: &[],
            port: None,
            params: Params(params),
            headers: None,
        })
    }

    /// Whether the URI carries the `lr` parameter (a loose router, RFC 3261 §16.4).
    #[inline]
    pub fn is_loose_router(&self) -> bool {
        self.params.has(b"lr")
    }

    /// The `transport` parameter, if any.
    #[inline]
    pub fn transport(&self) -> Option<&'a [u8]> {
        self.params.value(b"transport")
    }

    /// The `user` parameter (`phone`, `dialstring`...), if any.
    #[inline]
    pub fn user_param(&self) -> Option<&'a [u8]> {
        self.params.value(b"user")
    }

    /// `host[:port]` as written.
    pub fn host_port(&self) -> &'a [u8] {
        if self.host.is_empty() {
            return &[];
        }
        let start = self.host.as_ptr() as usize - self.raw.as_ptr() as usize;
        let mut end = start + self.host.len();
        if self.port.is_some() {
            end += 1;
            while end < self.raw.len() && self.raw[end].is_ascii_digit() {
                end += 1;
            }
        }
        &self.raw[start..end]
    }
}

/// Decode `%XX` escapes into `out` (for comparing user parts, RFC 3261 §19.1.4).
pub fn unescape_into(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            if let (Some(a), Some(b)) = (hex(s[i + 1]), hex(s[i + 2])) {
                out.push(a << 4 | b);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_sip_uri() {
        let u =
            Uri::parse(b"sip:alice:secret@atlanta.com:5061;transport=tcp;lr?subject=project%20x")
                .expect("valid");
        assert_eq!(u.scheme, Scheme::Sip);
        assert_eq!(u.user, Some(&b"alice"[..]));
        assert_eq!(u.password, Some(&b"secret"[..]));
        assert_eq!(u.host, b"atlanta.com");
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport(), Some(&b"tcp"[..]));
        assert!(u.is_loose_router());
        assert_eq!(u.headers, Some(&b"subject=project%20x"[..]));
        assert_eq!(u.host_port(), b"atlanta.com:5061");
    }

    #[test]
    fn parses_ipv6_references() {
        let u = Uri::parse(b"sips:[2001:db8::10]:5070;maddr=[2001:db8::1]").expect("valid");
        assert_eq!(u.scheme, Scheme::Sips);
        assert_eq!(u.host, b"[2001:db8::10]");
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.params.value(b"maddr"), Some(&b"[2001:db8::1]"[..]));
        assert!(Uri::parse(b"sip:[2001:db8::10").is_err());
        assert!(Uri::parse(b"sip:[]").is_err());
    }

    #[test]
    fn parses_tel_and_other_schemes() {
        let u = Uri::parse(b"tel:+1-201-555-0123;phone-context=example.com").expect("valid");
        assert_eq!(u.scheme, Scheme::Tel);
        assert_eq!(u.user, Some(&b"+1-201-555-0123"[..]));
        assert_eq!(u.params.value(b"phone-context"), Some(&b"example.com"[..]));
        let o = Uri::parse(b"urn:service:sos").expect("valid");
        assert_eq!(o.scheme, Scheme::Other);
    }

    #[test]
    fn user_part_may_hold_semicolons_and_escapes() {
        let u = Uri::parse(b"sip:%61lice;x=1@example.com;user=phone").expect("valid");
        assert_eq!(u.user, Some(&b"%61lice;x=1"[..]));
        assert_eq!(u.user_param(), Some(&b"phone"[..]));
        let mut out = Vec::new();
        unescape_into(u.user.unwrap_or_default(), &mut out);
        assert_eq!(out, b"alice;x=1");
    }

    #[test]
    fn refuses_bad_ports_hosts_and_escapes() {
        assert_eq!(Uri::parse(b"sip:a@h:65536"), Err(UriError::Port));
        assert_eq!(Uri::parse(b"sip:a@h:"), Err(UriError::Port));
        assert_eq!(Uri::parse(b"sip:a@"), Err(UriError::Host));
        assert_eq!(Uri::parse(b"sip:a%zz@h"), Err(UriError::User));
        assert_eq!(Uri::parse(b"sip:a@h x"), Err(UriError::Host));
        assert_eq!(Uri::parse(b"nocolon"), Err(UriError::Scheme));
        assert_eq!(Uri::parse(b"sip:a@h;p=%4"), Err(UriError::Params));
    }
}
