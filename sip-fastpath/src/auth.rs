//! Authorization, Proxy-Authorization, WWW-Authenticate and Proxy-Authenticate
//! values (RFC 3261 §20.7, RFC 7616 digest parameters).

use crate::list::top_level_comma;
use crate::params::unquote;
use crate::scan::{is_lws, is_token, trim};

/// A credentials or challenge value: a scheme and its comma-separated parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthParams<'a> {
    /// `Digest`, `Basic`...
    pub scheme: &'a [u8],
    /// The parameters, after the scheme.
    pub rest: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed authentication header")]
pub struct AuthError;

impl<'a> AuthParams<'a> {
    pub fn parse(value: &'a [u8]) -> Result<AuthParams<'a>, AuthError> {
        let v = trim(value);
        let end = v.iter().position(|&c| !is_token(c)).unwrap_or(v.len());
        if end == 0 || (end < v.len() && !is_lws(v[end])) {
            return Err(AuthError);
        }
        let p = AuthParams {
            scheme: &v[..end],
            rest: trim(&v[end..]),
        };
        for (name, _) in p.iter() {
            if name.is_empty() || !name.iter().all(|&c| is_token(c)) {
                return Err(AuthError);
            }
        }
        Ok(p)
    }

    #[inline]
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case(b"Digest")
    }

    /// `(name, value)` pairs, values unquoted (escapes left as written).
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let mut rest = self.rest;
        std::iter::from_fn(move || {
            loop {
                if rest.is_empty() {
                    return None;
                }
                let (item, next) = match top_level_comma(rest) {
                    Some(i) => (&rest[..i], &rest[i + 1..]),
                    None => (rest, &rest[rest.len()..]),
                };
                rest = next;
                let item = trim(item);
                if item.is_empty() {
                    continue;
                }
                return Some(match item.iter().position(|&c| c == b'=') {
                    Some(eq) => (trim(&item[..eq]), unquote(trim(&item[eq + 1..]))),
                    None => (item, &item[item.len()..]),
                });
            }
        })
    }

    /// The named parameter's value (case-insensitive name).
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_digest_credentials() {
        let a = AuthParams::parse(br#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#)
            .expect("valid");
        assert!(a.is_digest());
        assert_eq!(a.get(b"username"), Some(&b"Mufasa"[..]));
        assert_eq!(a.get(b"QOP"), Some(&b"auth"[..]));
        assert_eq!(a.get(b"nc"), Some(&b"00000001"[..]));
        assert_eq!(a.get(b"uri"), Some(&b"/dir/index.html"[..]));
        assert_eq!(a.get(b"absent"), None);
    }

    #[test]
    fn quoted_commas_do_not_split() {
        let a = AuthParams::parse(br#"Digest realm="a,b", qop="auth,auth-int""#).expect("valid");
        assert_eq!(a.get(b"realm"), Some(&b"a,b"[..]));
        assert_eq!(a.get(b"qop"), Some(&b"auth,auth-int"[..]));
    }

    #[test]
    fn refuses_a_missing_scheme() {
        assert!(AuthParams::parse(b"").is_err());
        assert!(AuthParams::parse(b"=x").is_err());
    }
}
