//! SIP digest HA1 (RFC 2617: `MD5(username ":" realm ":" password)`; RFC
//! 7616 with SHA-256), the digest algorithms a subscriber may use, and
//! generated passwords.

use md5::{Digest, Md5};
use sha2::Sha256;

/// `H(impi ":" realm ":" password)` as lower-case hex, with `D` as H.
fn ha1_with<D: Digest>(impi: &str, realm: &str, password: &str) -> String {
    let mut h = D::new();
    h.update(impi.as_bytes());
    h.update(b":");
    h.update(realm.as_bytes());
    h.update(b":");
    h.update(password.as_bytes());
    hex(&h.finalize())
}

/// The HA1 of `impi` in `realm` with `password`, as lower-case hex.
pub fn ha1(impi: &str, realm: &str, password: &str) -> String {
    ha1_with::<Md5>(impi, realm, password)
}

/// The SHA-256 HA1 (RFC 7616 §3.4.2): `SHA-256(impi ":" realm ":" password)`, lower-case hex.
pub fn ha1_sha256(impi: &str, realm: &str, password: &str) -> String {
    ha1_with::<Sha256>(impi, realm, password)
}

/// Whether `s` looks like a SHA-256 HA1: 64 hex digits.
pub fn is_ha1_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The digest algorithms a subscriber may authenticate with (Riptide's
/// extension; Homestead knows MD5 only, which stays the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithms {
    pub md5: bool,
    pub sha256: bool,
}

impl Default for Algorithms {
    fn default() -> Self {
        Self::MD5_ONLY
    }
}

impl Algorithms {
    pub const MD5_ONLY: Algorithms = Algorithms {
        md5: true,
        sha256: false,
    };

    /// From names as the API takes them (`MD5`, `SHA-256`, any case); at
    /// least one, nothing unknown.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Algorithms, String> {
        let mut a = Algorithms {
            md5: false,
            sha256: false,
        };
        for n in names {
            match n.as_ref().trim().to_ascii_uppercase().as_str() {
                "MD5" => a.md5 = true,
                "SHA-256" => a.sha256 = true,
                other => {
                    return Err(format!(
                        "unknown digest algorithm {other:?} (MD5 or SHA-256)"
                    ));
                }
            }
        }
        if !a.md5 && !a.sha256 {
            return Err("at least one digest algorithm is needed".into());
        }
        Ok(a)
    }

    /// From the database column (`SHA-256,MD5`); unreadable means MD5 only.
    pub fn from_column(s: &str) -> Algorithms {
        let names: Vec<&str> = s.split(',').filter(|n| !n.trim().is_empty()).collect();
        Self::parse(&names).unwrap_or(Self::MD5_ONLY)
    }

    /// Names, preferred first (SHA-256 before MD5, RFC 8760 §2.4).
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.sha256 {
            v.push("SHA-256");
        }
        if self.md5 {
            v.push("MD5");
        }
        v
    }

    /// The database column's text.
    pub fn column(&self) -> String {
        self.names().join(",")
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// Length of a generated password (as Clearwater's tools, letters and digits).
pub const GENERATED_PASSWORD_LEN: usize = 12;

/// A random password of [`GENERATED_PASSWORD_LEN`] letters and digits.
pub fn random_password() -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut raw = [0u8; GENERATED_PASSWORD_LEN];
    getrandom::fill(&mut raw)?;
    Ok(raw
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// Whether `s` looks like an HA1: 32 hex digits.
pub fn is_ha1(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ha1_matches_rfc2617_example() {
        // RFC 2617 §3.5: Mufasa / testrealm@host.com / Circle Of Life.
        assert_eq!(
            ha1("Mufasa", "testrealm@host.com", "Circle Of Life"),
            "939e7578ed9e3c518a452acee763bce9"
        );
    }

    #[test]
    fn sha256_ha1_matches_rfc7616_example() {
        // RFC 7616 §3.9.1: Mufasa / http-auth@example.org / Circle of Life.
        assert_eq!(
            ha1_sha256("Mufasa", "http-auth@example.org", "Circle of Life"),
            "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"
        );
        assert!(is_ha1_sha256(&ha1_sha256("a", "b", "c")));
        assert!(!is_ha1_sha256(&ha1("a", "b", "c")));
    }

    #[test]
    fn algorithm_sets_parse_and_order_sha256_first() {
        let both = Algorithms::parse(&["md5", "SHA-256"]).unwrap();
        assert_eq!(both.names(), vec!["SHA-256", "MD5"]);
        assert_eq!(both.column(), "SHA-256,MD5");
        assert_eq!(Algorithms::from_column("SHA-256,MD5"), both);
        assert_eq!(Algorithms::from_column("MD5"), Algorithms::MD5_ONLY);
        assert_eq!(Algorithms::from_column(""), Algorithms::MD5_ONLY);
        assert!(Algorithms::parse(&["SHA-512"]).is_err());
        assert!(Algorithms::parse::<&str>(&[]).is_err());
    }

    #[test]
    fn generated_passwords_differ_and_have_the_stated_length() {
        let a = random_password().unwrap();
        let b = random_password().unwrap();
        assert_eq!(a.len(), GENERATED_PASSWORD_LEN);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}
