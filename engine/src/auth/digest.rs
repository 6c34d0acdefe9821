//! Digest challenges and their verification, sans-IO: randomness and the
//! time come in as arguments; the challenge is stored by the caller (in the
//! registration store, keyed by IMPI) between the 401 and the retry.

use sip_fastpath::AuthParams;
use sip_fastpath::digest::{Algorithm, ResponseInput, response};

/// How long a nonce stays valid (Clearwater: 40 s).
pub const CHALLENGE_VALIDITY_MS: u64 = 40_000;

/// A challenge issued in a 401, kept until answered or expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// 32 hex digits from 128 random bits.
    pub nonce: String,
    /// 16 hex digits from 64 random bits.
    pub opaque: String,
    pub realm: String,
    /// HA1 from the HSS-cache API (hex), for the algorithm below.
    pub ha1: String,
    pub algorithm: Algorithm,
    pub expires_at_ms: u64,
    /// The next nonce-count accepted (1 until the nonce is used).
    pub nc_next: u32,
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    s
}

impl Challenge {
    /// A fresh challenge. `random` must come from a CSPRNG: the nonce is
    /// unguessable (128 bits) as RFC 7616 §5.4 asks.
    pub fn new(
        random: [u8; 24],
        realm: &str,
        ha1: &str,
        algorithm: Algorithm,
        now_ms: u64,
    ) -> Challenge {
        Challenge {
            nonce: hex(&random[..16]),
            opaque: hex(&random[16..]),
            realm: realm.to_owned(),
            ha1: ha1.to_owned(),
            algorithm,
            expires_at_ms: now_ms + CHALLENGE_VALIDITY_MS,
            nc_next: 1,
        }
    }

    /// The WWW-Authenticate value: `Digest realm, nonce, opaque, algorithm, qop="auth"[, stale=TRUE]`.
    pub fn www_authenticate(&self, stale: bool) -> String {
        let mut v = format!(
            "Digest realm=\"{}\",nonce=\"{}\",opaque=\"{}\",algorithm={},qop=\"auth\"",
            self.realm,
            self.nonce,
            self.opaque,
            self.algorithm.as_str()
        );
        if stale {
            v.push_str(",stale=TRUE");
        }
        v
    }
}

/// What to do with a REGISTER's Authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The response is right: register.
    Ok,
    /// The nonce is unknown, expired or reused: challenge again with
    /// `stale=TRUE` and a fresh nonce (the credentials may well be right).
    Stale,
    /// The response is wrong: 403.
    Wrong,
    /// The response uses another algorithm than its nonce was issued for
    /// (each nonce is bound to one algorithm and its HA1, so a subscriber
    /// without SHA-256 never has a SHA-256 nonce): 403.
    WrongAlgorithm,
    /// The Authorization header is unusable (no response, no nonce...): 400.
    Malformed,
}

/// Check digest credentials against the stored challenge for their nonce
/// (`None` if the store has none). On `Ok` the caller stores the challenge
/// back with `nc_next` advanced, when nonce-count reuse is allowed.
pub fn verify(
    challenge: Option<&mut Challenge>,
    creds: &AuthParams<'_>,
    method: &[u8],
    now_ms: u64,
    nonce_count_supported: bool,
) -> Verdict {
    if !creds.is_digest() {
        return Verdict::Malformed;
    }
    let (Some(nonce), Some(uri), Some(given)) = (
        creds.get(b"nonce"),
        creds.get(b"uri"),
        creds.get(b"response"),
    ) else {
        return Verdict::Malformed;
    };
    let Some(ch) = challenge else {
        return Verdict::Stale;
    };
    if ch.nonce.as_bytes() != nonce || now_ms >= ch.expires_at_ms {
        return Verdict::Stale;
    }
    match Algorithm::from_param(creds.get(b"algorithm")) {
        Some(a) if a == ch.algorithm => {}
        Some(_) => return Verdict::WrongAlgorithm,
        None => return Verdict::Malformed,
    }
    let qop = match creds.get(b"qop") {
        Some(q) if q.eq_ignore_ascii_case(b"auth") => {
            let (Some(nc), Some(cnonce)) = (creds.get(b"nc"), creds.get(b"cnonce")) else {
                return Verdict::Malformed;
            };
            let Some(count) = std::str::from_utf8(nc)
                .ok()
                .and_then(|s| u32::from_str_radix(s, 16).ok())
            else {
                return Verdict::Malformed;
            };
            // A nonce-count below the next expected is a replay; above 1 only
            // when nonce_count_supported (Clearwater's default is off).
            if count < ch.nc_next || (count > 1 && !nonce_count_supported) {
                return Verdict::Stale;
            }
            Some((nc, cnonce, q, count))
        }
        Some(_) => return Verdict::Malformed,
        None => None,
    };
    let expected = response(
        ch.algorithm,
        ch.ha1.as_bytes(),
        &ResponseInput {
            method,
            uri,
            nonce,
            qop: qop.map(|(nc, cnonce, q, _)| (nc, cnonce, q)),
        },
    );
    if !expected.ct_eq(given) {
        return Verdict::Wrong;
    }
    ch.nc_next = qop.map_or(u32::MAX, |(.., count)| count.saturating_add(1));
    if !nonce_count_supported {
        // Single use: the next REGISTER gets a fresh challenge.
        ch.expires_at_ms = now_ms;
    }
    Verdict::Ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip_fastpath::digest::ha1;

    const REALM: &str = "example.com";

    fn challenge(now_ms: u64) -> Challenge {
        let h = ha1(
            Algorithm::Md5,
            b"6505550001@example.com",
            REALM.as_bytes(),
            b"secret",
        );
        Challenge::new([7; 24], REALM, h.as_str(), Algorithm::Md5, now_ms)
    }

    /// What a UE would send for `ch` with `password`.
    fn authorization(ch: &Challenge, password: &str, nc: &str) -> String {
        let h = ha1(
            Algorithm::Md5,
            b"6505550001@example.com",
            REALM.as_bytes(),
            password.as_bytes(),
        );
        let r = response(
            Algorithm::Md5,
            h.as_bytes(),
            &ResponseInput {
                method: b"REGISTER",
                uri: b"sip:example.com",
                nonce: ch.nonce.as_bytes(),
                qop: Some((nc.as_bytes(), b"0a4f113b", b"auth")),
            },
        );
        format!(
            "Digest username=\"6505550001@example.com\",realm=\"{REALM}\",nonce=\"{}\",uri=\"sip:example.com\",response=\"{}\",algorithm=MD5,cnonce=\"0a4f113b\",opaque=\"{}\",qop=auth,nc={nc}",
            ch.nonce,
            r.as_str(),
            ch.opaque
        )
    }

    fn check(ch: Option<&mut Challenge>, auth: &str, now_ms: u64, nc_ok: bool) -> Verdict {
        let p = AuthParams::parse(auth.as_bytes()).expect("parses");
        verify(ch, &p, b"REGISTER", now_ms, nc_ok)
    }

    #[test]
    fn challenge_header_has_every_parameter() {
        let ch = challenge(0);
        assert_eq!(ch.nonce.len(), 32);
        assert_eq!(
            ch.www_authenticate(true),
            format!(
                "Digest realm=\"example.com\",nonce=\"{}\",opaque=\"{}\",algorithm=MD5,qop=\"auth\",stale=TRUE",
                ch.nonce, ch.opaque
            )
        );
    }

    #[test]
    fn right_password_passes_once() {
        let mut ch = challenge(0);
        let auth = authorization(&ch, "secret", "00000001");
        assert_eq!(check(Some(&mut ch), &auth, 1_000, false), Verdict::Ok);
        assert_eq!(
            check(Some(&mut ch), &auth, 2_000, false),
            Verdict::Stale,
            "nonce used up"
        );
    }

    #[test]
    fn wrong_password_is_wrong() {
        let mut ch = challenge(0);
        let auth = authorization(&ch, "guess", "00000001");
        assert_eq!(check(Some(&mut ch), &auth, 1_000, false), Verdict::Wrong);
    }

    #[test]
    fn unknown_or_expired_nonce_is_stale() {
        let mut ch = challenge(0);
        let auth = authorization(&ch, "secret", "00000001");
        assert_eq!(check(None, &auth, 1_000, false), Verdict::Stale);
        assert_eq!(
            check(Some(&mut ch), &auth, CHALLENGE_VALIDITY_MS, false),
            Verdict::Stale
        );
    }

    #[test]
    fn nonce_count_reuse_only_when_supported() {
        let mut ch = challenge(0);
        let first = authorization(&ch, "secret", "00000001");
        assert_eq!(check(Some(&mut ch), &first, 10, true), Verdict::Ok);
        assert_eq!(ch.nc_next, 2);
        let second = authorization(&ch, "secret", "00000002");
        assert_eq!(check(Some(&mut ch), &second, 20, true), Verdict::Ok);
        assert_eq!(
            check(Some(&mut ch), &second, 30, true),
            Verdict::Stale,
            "replayed count"
        );
        let mut strict = challenge(0);
        let nc2 = authorization(&strict, "secret", "00000002");
        assert_eq!(check(Some(&mut strict), &nc2, 10, false), Verdict::Stale);
    }

    #[test]
    fn another_algorithm_than_the_nonces_is_refused() {
        let mut ch = challenge(0);
        let auth =
            authorization(&ch, "secret", "00000001").replace("algorithm=MD5", "algorithm=SHA-256");
        assert_eq!(
            check(Some(&mut ch), &auth, 1_000, false),
            Verdict::WrongAlgorithm
        );
        let unknown =
            authorization(&ch, "secret", "00000001").replace("algorithm=MD5", "algorithm=SHA-512");
        assert_eq!(
            check(Some(&mut ch), &unknown, 1_000, false),
            Verdict::Malformed
        );
    }

    #[test]
    fn missing_fields_are_malformed() {
        let mut ch = challenge(0);
        assert_eq!(
            check(Some(&mut ch), "Digest username=\"a\"", 1, false),
            Verdict::Malformed
        );
        assert_eq!(
            check(
                Some(&mut ch),
                "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
                1,
                false
            ),
            Verdict::Malformed
        );
    }
}
