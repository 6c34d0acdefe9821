//! The CSeq header (RFC 3261 §20.16).

use crate::method::Method;
use crate::scan::{is_lws, is_token, parse_u64, trim};

/// Sequence number and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub number: u32,
    pub method: Method,
    pub method_bytes: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed CSeq")]
pub struct CSeqError;

impl<'a> CSeq<'a> {
    pub fn parse(value: &'a [u8]) -> Result<CSeq<'a>, CSeqError> {
        let v = trim(value);
        let end = v.iter().position(|&c| is_lws(c)).ok_or(CSeqError)?;
        // RFC 3261 §8.1.1.5: a 32-bit unsigned integer.
        let number = parse_u64(&v[..end])
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(CSeqError)?;
        let method = trim(&v[end..]);
        if method.is_empty() || !method.iter().all(|&c| is_token(c)) {
            return Err(CSeqError);
        }
        Ok(CSeq {
            number,
            method: Method::from_bytes(method),
            method_bytes: method,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_number_and_method() {
        let c = CSeq::parse(b"4711  INVITE").expect("valid");
        assert_eq!(c.number, 4711);
        assert_eq!(c.method, Method::Invite);
        let c = CSeq::parse(b"1 NEWMETHOD").expect("valid");
        assert_eq!(c.method, Method::Extension);
        assert_eq!(c.method_bytes, b"NEWMETHOD");
    }

    #[test]
    fn refuses_overlarge_and_malformed() {
        assert!(CSeq::parse(b"36893488147419103232 INVITE").is_err());
        assert!(CSeq::parse(b"4294967296 INVITE").is_err());
        assert!(CSeq::parse(b"INVITE").is_err());
        assert!(CSeq::parse(b"-1 INVITE").is_err());
        assert!(CSeq::parse(b"1 INV ITE").is_err());
        assert_eq!(
            CSeq::parse(b"4294967295 ACK").map(|c| c.number),
            Ok(u32::MAX)
        );
    }
}
