//! `name-addr` / `addr-spec` with header parameters: From, To, Contact, Route,
//! Record-Route, Path, Service-Route, P-Associated-URI (RFC 3261 §20.10, §25.1).

use crate::params::Params;
use crate::scan::{is_lws, is_token, quoted_end, trim, trim_start};
use crate::uri::{Uri, UriError};

/// One name-addr (or addr-spec) value with its header parameters. The URI is
/// kept as written and parsed only when asked ([`NameAddr::uri`]): reading a
/// To tag or storing a Contact does not need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// Display name as written: a quoted string keeps its quotes.
    pub display_name: Option<&'a [u8]>,
    /// The URI as written (inside the brackets when bracketed); [`NameAddr::uri`] parses it.
    pub uri_raw: &'a [u8],
    /// Whether the URI was inside `<...>`.
    pub bracketed: bool,
    /// Header parameters after the URI (`;tag=`, `;expires=`, `;q=`...);
    /// iteration stops at a list's next element.
    pub params: Params<'a>,
    /// From the start of this value to the end of the header line.
    start: &'a [u8],
}

impl<'a> NameAddr<'a> {
    /// Parse one name-addr or addr-spec. `value` may run on past it into the
    /// rest of a comma-separated line; parsing stops at the comma.
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
            match raw.iter().position(|&c| c == b'<') {
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
            let gt = rest
                .iter()
                .position(|&c| c == b'>')
                .ok_or(UriError::Scheme)?;
            let uri_raw = &rest[1..gt];
            if uri_raw.is_empty() {
                return Err(UriError::Scheme);
            }
            let params = trim_start(&rest[gt + 1..]);
            if !params.is_empty() && params[0] != b';' && params[0] != b',' {
                return Err(UriError::Params);
            }
            Ok(NameAddr {
                display_name,
                uri_raw,
                bracketed: true,
                params: Params(params),
                start: raw,
            })
        } else {
            // addr-spec: any ';' starts header parameters (RFC 3261 §20), a ',' the next value.
            let end = rest
                .iter()
                .position(|&c| c == b';' || c == b',')
                .unwrap_or(rest.len());
            let uri_text = trim(&rest[..end]);
            if uri_text.iter().any(|&c| is_lws(c) || c == b'>') {
                return Err(UriError::Scheme);
            }
            if uri_text.is_empty() {
                return Err(UriError::Scheme);
            }
            Ok(NameAddr {
                display_name: None,
                uri_raw: uri_text,
                bracketed: false,
                params: Params(&rest[end..]),
                start: raw,
            })
        }
    }

    /// This value as written (up to the comma that starts the next one).
    pub fn raw(&self) -> &'a [u8] {
        let params_at = self.start.len() - self.params.0.len();
        trim(&self.start[..params_at + self.params.extent()])
    }

    /// The URI, parsed (structure only; see [`Uri::check`]).
    #[inline]
    pub fn uri(&self) -> Result<Uri<'a>, UriError> {
        Uri::parse(self.uri_raw)
    }

    /// The URI parsed and checked against the strict character rules. A URI
    /// with headers (`?`) must be in `<...>` (RFC 3261 §20.10; RFC 4475 §3.1.2.13).
    pub fn check(&self) -> Result<(), UriError> {
        if !self.bracketed && self.uri_raw.contains(&b'?') {
            return Err(UriError::Params);
        }
        Uri::parse_strict(self.uri_raw).map(|_| ())
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
            .map(|v| crate::scan::parse_delta_seconds(v).ok_or(()))
    }

    /// Contact `q` in thousandths (`q=0.5` → 500); `None` if absent or malformed.
    pub fn q_millis(&self) -> Option<u16> {
        let v = self.params.value(b"q")?;
        parse_qvalue(v)
    }
}

/// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
fn parse_qvalue(v: &[u8]) -> Option<u16> {
    let (int, frac) = match v.iter().position(|&c| c == b'.') {
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
        assert_eq!(n.uri().expect("uri").user, Some(&b"alice"[..]));
        assert_eq!(n.tag(), Some(&b"1928301774"[..]));
        assert!(n.bracketed);
    }

    #[test]
    fn addr_spec_params_belong_to_the_header() {
        let n = NameAddr::parse(b"sip:bob@biloxi.com;tag=a6c85cf").expect("valid");
        assert!(!n.bracketed);
        assert_eq!(n.tag(), Some(&b"a6c85cf"[..]));
        assert!(n.uri().expect("uri").params.is_empty());
    }

    #[test]
    fn bracketed_uri_params_stay_in_the_uri() {
        let n = NameAddr::parse(b"Bob <sip:bob@h;transport=tcp>;expires=60;q=0.7").expect("valid");
        assert_eq!(n.display_name, Some(&b"Bob"[..]));
        assert_eq!(n.uri().expect("uri").transport(), Some(&b"tcp"[..]));
        assert_eq!(n.expires_s(), Some(Ok(60)));
        assert_eq!(n.q_millis(), Some(700));
    }

    #[test]
    fn stops_at_the_next_value_in_the_line() {
        let n = NameAddr::parse(br#""A, B" <sip:a@x>;expires=5, <sip:b@y>"#).expect("valid");
        assert_eq!(n.expires_s(), Some(Ok(5)));
        assert_eq!(n.raw(), br#""A, B" <sip:a@x>;expires=5"#);
        let n = NameAddr::parse(b"sip:a@x, sip:b@y").expect("valid");
        assert_eq!(n.uri_raw, b"sip:a@x");
        assert_eq!(n.raw(), b"sip:a@x");
    }

    #[test]
    fn refuses_unterminated_brackets_and_quotes() {
        assert!(NameAddr::parse(b"<sip:a@b").is_err());
        assert!(NameAddr::parse(b"<>").is_err());
        assert!(
            NameAddr::parse(b"<sip:a@b c>")
                .expect("structure is fine")
                .check()
                .is_err()
        );
        assert!(NameAddr::parse(br#""Alice <sip:a@b>"#).is_err());
        assert!(NameAddr::parse(b"sip:a@b x").is_err());
    }

    #[test]
    fn uri_headers_need_brackets() {
        let n = NameAddr::parse(b"sip:a@b?Route=%3Csip:c%3E").expect("structure is fine");
        assert_eq!(n.check(), Err(UriError::Params));
        let n = NameAddr::parse(b"<sip:a@b?Route=%3Csip:c%3E>").expect("valid");
        assert_eq!(n.check(), Ok(()));
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
