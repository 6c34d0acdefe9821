//! `name-addr` / `addr-spec` with header parameters: From, To, Contact, Route,
//! Record-Route, Path, Service-Route, P-Associated-URI (RFC 3261 §20.10, §25.1).

use memchr::memchr;

use crate::params::Params;
use crate::scan::{is_lws, is_token, quoted_end, trim, trim_start};
use crate::uri::{Uri, UriError};

/// One name-addr (or addr-spec) value with its header parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// Display name as written: a quoted string keeps its quotes.
    pub display_name: Option<&'a [u8]>,
    pub uri: Uri<'a>,
    /// Whether the URI was inside `<...>`.
    pub bracketed: bool,
    /// Header parameters after the URI (`;tag=`, `;expires=`, `;q=`...).
    pub params: Params<'a>,
    /// The whole value as written.
    pub raw: &'a [u8],
}

impl<'a> NameAddr<'a> {
    pub fn parse(value: &'a [u8]) -> Result<NameAddr<'a>, UriError> {
        let raw = trim(value);
        let (display_name, rest) = if raw.first() == Some(&b'"') {
            let end = quoted_end(raw).ok_or(UriError::User)?;
            let rest = trim_start(&raw[end..]);
            if rest.first() != Some(&b'<') {
                return Err(UriError::Scheme);
            }
            (Some(&raw[..end]), rest)
        } else {
            match memchr(b'<', raw) {
                Some(lt) => {
                    let name = trim(&raw[..lt]);
                    // An unquoted display name is a run of tokens separated by LWS.
                    if !name.iter().all(|&c| is_token(c) || is_lws(c)) {
                        return Err(UriError::Scheme);
                    }
                    let name = if name.is_empty() { None } else { Some(name) };
                    (name, &raw[lt..])
                }
                None => (None, raw),
            }
        };

        if rest.first() == Some(&b'<') {
            let gt = memchr(b'>', rest).ok_or(UriError::Scheme)?;
            let uri = Uri::parse(&rest[1..gt])?;
            let params = trim_start(&rest[gt + 1..]);
            if !params.is_empty() && params[0] != b';' {
                return Err(UriError::Params);
            }
            Ok(NameAddr {
                display_name,
                uri,
                bracketed: true,
                params: Params(params),
                raw,
            })
        } else {
            // addr-spec: any ';' starts header parameters (RFC 3261 §20).
            let end = memchr(b';', rest).unwrap_or(rest.len());
            let uri_text = trim(&rest[..end]);
            if uri_text.iter().any(|&c| is_lws(c) || c == b'>') {
                return Err(UriError::Scheme);
            }
            let uri = Uri::parse(uri_text)?;
            Ok(NameAddr {
                display_name: None,
                uri,
                bracketed: false,
                params: Params(&rest[end..]),
                raw,
            })
        }
    }

    /// The `tag` parameter (From/To).
    #[inline]
    pub fn tag(&self) -> Option<&'a [u8]> {
        self.params.value(b"tag")
    }

    /// Contact `expires` parameter in seconds; `Some(Err(()))` when present but not a number.
    pub fn expires_s(&self) -> Option<Result<u32, ()>> {
        self.params
            .value(b"expires")
            .map(|v| crate::scan::parse_u64(v).map(saturate_u32).ok_or(()))
    }

    /// Contact `q` in thousandths (`q=0.5` → 500); `None` if absent or malformed.
    pub fn q_millis(&self) -> Option<u16> {
        let v = self.params.value(b"q")?;
        parse_qvalue(v)
    }
}

/// RFC 3261 §20.19 / §25.1: delta-seconds beyond 2**32-1 are taken as 2**32-1.
pub(crate) fn saturate_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
fn parse_qvalue(v: &[u8]) -> Option<u16> {
    let (int, frac) = match memchr(b'.', v) {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut millis: u16 = 0;
    for i in 0..3 {
        millis = millis * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0'));
    }
    match int {
        b"0" => Some(millis),
        b"1" if millis == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quoted_display_name_and_tag() {
        let n = NameAddr::parse(br#" "Alice \"A\"" <sip:alice@atlanta.com>;tag=1928301774 "#)
            .expect("valid");
        assert_eq!(n.display_name, Some(&br#""Alice \"A\"""#[..]));
        assert_eq!(n.uri.user, Some(&b"alice"[..]));
        assert_eq!(n.tag(), Some(&b"1928301774"[..]));
        assert!(n.bracketed);
    }

    #[test]
    fn addr_spec_params_belong_to_the_header() {
        let n = NameAddr::parse(b"sip:bob@biloxi.com;tag=a6c85cf").expect("valid");
        assert!(!n.bracketed);
        assert_eq!(n.tag(), Some(&b"a6c85cf"[..]));
        assert!(n.uri.params.is_empty());
    }

    #[test]
    fn bracketed_uri_params_stay_in_the_uri() {
        let n = NameAddr::parse(b"Bob <sip:bob@h;transport=tcp>;expires=60;q=0.7").expect("valid");
        assert_eq!(n.display_name, Some(&b"Bob"[..]));
        assert_eq!(n.uri.transport(), Some(&b"tcp"[..]));
        assert_eq!(n.expires_s(), Some(Ok(60)));
        assert_eq!(n.q_millis(), Some(700));
    }

    #[test]
    fn refuses_unterminated_brackets_and_quotes() {
        assert!(NameAddr::parse(b"<sip:a@b").is_err());
        assert!(NameAddr::parse(br#""Alice <sip:a@b>"#).is_err());
        assert!(NameAddr::parse(b"sip:a@b x").is_err());
    }

    #[test]
    fn qvalues_follow_the_grammar() {
        assert_eq!(parse_qvalue(b"1"), Some(1000));
        assert_eq!(parse_qvalue(b"1.000"), Some(1000));
        assert_eq!(parse_qvalue(b"0.001"), Some(1));
        assert_eq!(parse_qvalue(b"1.5"), None);
        assert_eq!(parse_qvalue(b"0.1234"), None);
    }

    #[test]
    fn huge_expires_saturates() {
        let n = NameAddr::parse(b"<sip:a@b>;expires=280297596632815").expect("valid");
        assert_eq!(n.expires_s(), Some(Ok(u32::MAX)));
    }
}
