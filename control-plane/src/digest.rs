//! SIP digest HA1 (RFC 2617: `MD5(username ":" realm ":" password)`) and
//! generated passwords.

use md5::{Digest, Md5};

/// The HA1 of `impi` in `realm` with `password`, as lower-case hex.
pub fn ha1(impi: &str, realm: &str, password: &str) -> String {
    let mut h = Md5::new();
    h.update(impi.as_bytes());
    h.update(b":");
    h.update(realm.as_bytes());
    h.update(b":");
    h.update(password.as_bytes());
    hex(&h.finalize())
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
    fn generated_passwords_differ_and_have_the_stated_length() {
        let a = random_password().unwrap();
        let b = random_password().unwrap();
        assert_eq!(a.len(), GENERATED_PASSWORD_LEN);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}
