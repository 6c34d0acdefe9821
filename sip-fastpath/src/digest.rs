//! HTTP Digest arithmetic for SIP (RFC 2617, RFC 7616, RFC 8760): HA1, HA2 and
//! the response, with MD5 or SHA-256, `qop=auth`. No allocation: digests are
//! lower-case hex in fixed arrays.

use md5::{Digest as _, Md5};
use sha2::Sha256;

/// The digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl Algorithm {
    /// From the `algorithm` parameter (absent means MD5, RFC 7616 §3.3).
    pub fn from_param(value: Option<&[u8]>) -> Option<Algorithm> {
        let Some(v) = value else {
            return Some(Algorithm::Md5);
        };
        if v.eq_ignore_ascii_case(b"MD5") {
            Some(Algorithm::Md5)
        } else if v.eq_ignore_ascii_case(b"MD5-sess") {
            Some(Algorithm::Md5Sess)
        } else if v.eq_ignore_ascii_case(b"SHA-256") {
            Some(Algorithm::Sha256)
        } else if v.eq_ignore_ascii_case(b"SHA-256-sess") {
            Some(Algorithm::Sha256Sess)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    fn is_sha256(self) -> bool {
        matches!(self, Algorithm::Sha256 | Algorithm::Sha256Sess)
    }

    fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }
}

/// A lower-case hex digest: 32 characters for MD5, 64 for SHA-256.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HexDigest {
    bytes: [u8; 64],
    len: u8,
}

impl HexDigest {
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    pub fn as_str(&self) -> &str {
        // Only hex digits are ever written.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// Compare with a received value in time independent of where they differ.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        let mine = self.as_bytes();
        if mine.len() != other.len() {
            return false;
        }
        let mut diff = 0u8;
        for (a, b) in mine.iter().zip(other) {
            diff |= a ^ b.to_ascii_lowercase();
        }
        diff == 0
    }
}

impl std::fmt::Debug for HexDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn hash(alg: Algorithm, parts: &[&[u8]]) -> HexDigest {
    let mut out = HexDigest {
        bytes: [0; 64],
        len: 0,
    };
    let mut write = |raw: &[u8]| {
        for (i, b) in raw.iter().enumerate() {
            out.bytes[2 * i] = b"0123456789abcdef"[(b >> 4) as usize];
            out.bytes[2 * i + 1] = b"0123456789abcdef"[(b & 0xf) as usize];
        }
        out.len = (raw.len() * 2) as u8;
    };
    if alg.is_sha256() {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        write(&h.finalize());
    } else {
        let mut h = Md5::new();
        for p in parts {
            h.update(p);
        }
        write(&h.finalize());
    }
    out
}

/// HA1 = H(username ":" realm ":" password) — what a subscriber store keeps.
pub fn ha1(alg: Algorithm, username: &[u8], realm: &[u8], password: &[u8]) -> HexDigest {
    hash(alg, &[username, b":", realm, b":", password])
}

/// For the `-sess` algorithms: H(HA1 ":" nonce ":" cnonce); otherwise HA1 unchanged.
pub fn session_ha1(alg: Algorithm, ha1: &[u8], nonce: &[u8], cnonce: &[u8]) -> Vec<u8> {
    if alg.is_sess() {
        hash(alg, &[ha1, b":", nonce, b":", cnonce])
            .as_bytes()
            .to_vec()
    } else {
        ha1.to_vec()
    }
}

/// The inputs of one digest response besides HA1.
#[derive(Debug, Clone, Copy)]
pub struct ResponseInput<'a> {
    pub method: &'a [u8],
    pub uri: &'a [u8],
    pub nonce: &'a [u8],
    /// `Some((nc, cnonce, qop))` with qop (`auth`); `None` for RFC 2069 style.
    pub qop: Option<(&'a [u8], &'a [u8], &'a [u8])>,
}

/// response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2), HA2 = H(method ":" uri).
pub fn response(alg: Algorithm, ha1: &[u8], input: &ResponseInput<'_>) -> HexDigest {
    let ha2 = hash(alg, &[input.method, b":", input.uri]);
    match input.qop {
        Some((nc, cnonce, qop)) => {
            let key = session_ha1(alg, ha1, input.nonce, cnonce);
            hash(
                alg,
                &[
                    &key,
                    b":",
                    input.nonce,
                    b":",
                    nc,
                    b":",
                    cnonce,
                    b":",
                    qop,
                    b":",
                    ha2.as_bytes(),
                ],
            )
        }
        None => hash(alg, &[ha1, b":", input.nonce, b":", ha2.as_bytes()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_section_3_5_example() {
        let h1 = ha1(
            Algorithm::Md5,
            b"Mufasa",
            b"testrealm@host.com",
            b"Circle Of Life",
        );
        let r = response(
            Algorithm::Md5,
            h1.as_bytes(),
            &ResponseInput {
                method: b"GET",
                uri: b"/dir/index.html",
                nonce: b"dcd98b7102dd2f0e8b11d0f600bfb0c093",
                qop: Some((b"00000001", b"0a4f113b", b"auth")),
            },
        );
        assert_eq!(r.as_str(), "6629fae49393a05397450978507c4ef1");
        assert!(r.ct_eq(b"6629FAE49393A05397450978507C4EF1"));
        assert!(!r.ct_eq(b"6629fae49393a05397450978507c4ef0"));
    }

    #[test]
    fn rfc7616_section_3_9_1_md5_and_sha256() {
        let input = ResponseInput {
            method: b"GET",
            uri: b"/dir/index.html",
            nonce: b"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            qop: Some((
                b"00000001",
                b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                b"auth",
            )),
        };
        let md5 = ha1(
            Algorithm::Md5,
            b"Mufasa",
            b"http-auth@example.org",
            b"Circle of Life",
        );
        assert_eq!(
            response(Algorithm::Md5, md5.as_bytes(), &input).as_str(),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
        let sha = ha1(
            Algorithm::Sha256,
            b"Mufasa",
            b"http-auth@example.org",
            b"Circle of Life",
        );
        assert_eq!(
            response(Algorithm::Sha256, sha.as_bytes(), &input).as_str(),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn algorithm_names() {
        assert_eq!(Algorithm::from_param(None), Some(Algorithm::Md5));
        assert_eq!(
            Algorithm::from_param(Some(b"sha-256")),
            Some(Algorithm::Sha256)
        );
        assert_eq!(Algorithm::from_param(Some(b"SHA-512-256")), None);
    }
}
