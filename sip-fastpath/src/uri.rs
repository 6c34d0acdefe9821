//! SIP, SIPS and TEL URIs (RFC 3261 §19.1, RFC 3966), read on demand.

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
            );
        i += 1;
    }
    t
};

/// Position of `b` in a short slice: a plain loop beats a vectorised search's
/// set-up cost on the few dozen bytes of a URI.
#[inline(always)]
fn find(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b)
}

/// The scheme and what follows its colon; `sip:` and `sips:` are checked first.
#[inline(always)]
fn split_scheme(raw: &[u8]) -> Result<(Scheme, &[u8]), UriError> {
    if raw.len() > 4 && raw[3] == b':' && raw[..3].eq_ignore_ascii_case(b"sip") {
        return Ok((Scheme::Sip, &raw[4..]));
    }
    let colon = find(b':', raw).ok_or(UriError::Scheme)?;
    let text = &raw[..colon];
    if text.is_empty()
        || !text[0].is_ascii_alphabetic()
        || !text
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return Err(UriError::Scheme);
    }
    let scheme = if text.eq_ignore_ascii_case(b"sip") {
        Scheme::Sip
    } else if text.eq_ignore_ascii_case(b"sips") {
        Scheme::Sips
    } else if text.eq_ignore_ascii_case(b"tel") {
        Scheme::Tel
    } else {
        Scheme::Other
    };
    Ok((scheme, &raw[colon + 1..]))
}

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
    /// Split a URI as it appears in a Request-URI or inside `<...>` into its
    /// parts: structure only (scheme, `@`, brackets, port digits), in one short
    /// pass. [`Uri::check`] applies the character rules of RFC 3261 §25.1.
    pub fn parse(raw: &'a [u8]) -> Result<Uri<'a>, UriError> {
        let (scheme, rest) = split_scheme(raw)?;
        match scheme {
            Scheme::Tel => return Self::parse_tel(raw, rest),
            Scheme::Other => {
                if rest.is_empty() || rest.iter().any(|&c| c <= b' ' || c == b'<' || c == b'>') {
                    return Err(UriError::Scheme);
                }
                return Ok(Uri {
                    scheme,
                    raw,
                    user: None,
                    password: None,
                    host: &[],
                    port: None,
                    params: Params(&[]),
                    headers: None,
                });
            }
            Scheme::Sip | Scheme::Sips => {}
        }

        let (user, password, hostpart) = match find(b'@', rest) {
            Some(at) => {
                let ui = &rest[..at];
                let (u, p) = match find(b':', ui) {
                    Some(i) => (&ui[..i], Some(&ui[i + 1..])),
                    None => (ui, None),
                };
                if u.is_empty() {
                    return Err(UriError::User);
                }
                (Some(u), p, &rest[at + 1..])
            }
            None => (None, None, rest),
        };

        let (host, after_host) = if hostpart.first() == Some(&b'[') {
            let close = find(b']', hostpart).ok_or(UriError::Host)?;
            (&hostpart[..=close], &hostpart[close + 1..])
        } else {
            let end = hostpart
                .iter()
                .position(|&c| matches!(c, b':' | b';' | b'?'))
                .unwrap_or(hostpart.len());
            (&hostpart[..end], &hostpart[end..])
        };
        if host.is_empty() {
            return Err(UriError::Host);
        }

        let (port, after_port) = if after_host.first() == Some(&b':') {
            let digits = &after_host[1..];
            let n = digits
                .iter()
                .position(|c| !c.is_ascii_digit())
                .unwrap_or(digits.len());
            let port = crate::scan::parse_u32(&digits[..n])
                .and_then(|p| u16::try_from(p).ok())
                .ok_or(UriError::Port)?;
            (Some(port), &digits[n..])
        } else {
            (None, after_host)
        };

        let (params, headers) = match find(b'?', after_port) {
            Some(q) => (&after_port[..q], Some(&after_port[q + 1..])),
            None => (after_port, None),
        };
        if !params.is_empty() && params[0] != b';' {
            return Err(UriError::Params);
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

    /// The character rules of RFC 3261 §25.1 on every part: user and password
    /// characters and escapes, host syntax (name, IPv4 or IPv6 reference),
    /// parameter and header characters.
    pub fn check(&self) -> Result<(), UriError> {
        if !matches!(self.scheme, Scheme::Sip | Scheme::Sips) {
            return Ok(());
        }
        if let Some(u) = self.user {
            if !u.iter().all(|&c| USER[c as usize]) || !escapes_ok(u) {
                return Err(UriError::User);
            }
        }
        if let Some(p) = self.password {
            if !p
                .iter()
                .all(|&c| USER[c as usize] && !matches!(c, b';' | b'?' | b'/'))
                || !escapes_ok(p)
            {
                return Err(UriError::User);
            }
        }
        let h = self.host;
        let host_ok = if h.first() == Some(&b'[') {
            let inner = &h[1..h.len() - 1];
            !inner.is_empty()
                && inner
                    .iter()
                    .all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
                && inner.contains(&b':')
        } else {
            h.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
                && h[0] != b'-'
                && h[0] != b'.'
        };
        if !host_ok {
            return Err(UriError::Host);
        }
        let params = self.params.0;
        if !params
            .iter()
            .all(|&c| PARAM[c as usize] && c != b'?' && c != b'@')
            || !escapes_ok(params)
        {
            return Err(UriError::Params);
        }
        if let Some(h) = self.headers {
            if !h.iter().all(|&c| PARAM[c as usize] && c != b';') || !escapes_ok(h) {
                return Err(UriError::Params);
            }
        }
        Ok(())
    }

    /// [`Uri::parse`] then [`Uri::check`].
    pub fn parse_strict(raw: &'a [u8]) -> Result<Uri<'a>, UriError> {
        let u = Uri::parse(raw)?;
        u.check()?;
        Ok(u)
    }

    fn parse_tel(raw: &'a [u8], rest: &'a [u8]) -> Result<Uri<'a>, UriError> {
        let end = find(b';', rest).unwrap_or(rest.len());
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
        assert_eq!(Uri::parse(b"nocolon"), Err(UriError::Scheme));
        assert_eq!(Uri::parse_strict(b"sip:a%zz@h"), Err(UriError::User));
        assert_eq!(Uri::parse_strict(b"sip:a@h x"), Err(UriError::Host));
        assert_eq!(Uri::parse_strict(b"sip:a@h;p=%4"), Err(UriError::Params));
        assert_eq!(
            Uri::parse_strict(b"sip:a@[2001:db8::10"),
            Err(UriError::Host)
        );
        assert_eq!(Uri::parse_strict(b"sip:[]"), Err(UriError::Host));
        assert_eq!(Uri::parse_strict(b"sip:a@-h"), Err(UriError::Host));
        assert!(Uri::parse_strict(b"sip:a@h.example.com:5060;lr").is_ok());
    }
}
