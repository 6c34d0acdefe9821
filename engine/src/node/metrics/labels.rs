//! The fixed label sets metrics are indexed by: SIP methods, response
//! classes, registration kinds, and the latencies that get a histogram.

use sip_fastpath::Method;

/// Methods a count or a latency is kept for; the last is every other method.
pub const METHOD_NAMES: [&str; METHODS] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "REGISTER",
    "OPTIONS",
    "INFO",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "UPDATE",
    "MESSAGE",
    "REFER",
    "PUBLISH",
    "other",
];
pub const METHODS: usize = 15;

/// The index of a method in [`METHOD_NAMES`] (CANCEL is 3).
#[inline]
pub fn method_index(m: Option<Method>) -> usize {
    match m {
        Some(Method::Invite) => 0,
        Some(Method::Ack) => 1,
        Some(Method::Bye) => 2,
        Some(Method::Cancel) => 3,
        Some(Method::Register) => 4,
        Some(Method::Options) => 5,
        Some(Method::Info) => 6,
        Some(Method::Prack) => 7,
        Some(Method::Subscribe) => 8,
        Some(Method::Notify) => 9,
        Some(Method::Update) => 10,
        Some(Method::Message) => 11,
        Some(Method::Refer) => 12,
        Some(Method::Publish) => 13,
        Some(Method::Extension) | None => 14,
    }
}

/// The method of a request on the wire, from its first token.
#[inline]
pub fn method_of_request_bytes(bytes: &[u8]) -> usize {
    let end = bytes.iter().take(16).position(|b| *b == b' ');
    method_index(end.map(|e| Method::from_bytes(&bytes[..e])))
}

/// Response classes 1xx..6xx.
pub const CLASSES: usize = 6;
pub const CLASS_NAMES: [&str; CLASSES] = ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"];

/// The class index (0 for 1xx) of a status code, if it is one.
#[inline]
pub fn class_index(status: u16) -> Option<usize> {
    match status {
        100..=699 => Some(usize::from(status / 100 - 1)),
        _ => None,
    }
}

/// Clearwater's three registration statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegKind {
    Initial = 0,
    Re = 1,
    De = 2,
}
pub const REG_KIND_NAMES: [&str; 3] = ["initial", "re", "de"];

/// What gets a latency histogram: each method's SIP request latency, the
/// two HSS-cache endpoints, and session setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyKind {
    /// Request received → final response sent, by [`method_index`].
    Sip(usize),
    /// `GET /impi/<impi>/av` on the HSS cache.
    HssAv,
    /// `GET`/`PUT /impu/<impu>/reg-data` on the HSS cache.
    HssRegData,
    /// INVITE received → first 180 or 2xx sent upstream.
    SessionSetup,
}
pub const KINDS: usize = METHODS + 3;

impl LatencyKind {
    #[inline]
    pub fn index(self) -> usize {
        match self {
            LatencyKind::Sip(m) => m.min(METHODS - 1),
            LatencyKind::HssAv => METHODS,
            LatencyKind::HssRegData => METHODS + 1,
            LatencyKind::SessionSetup => METHODS + 2,
        }
    }
}

/// HSS-cache endpoints, as the `endpoint` label names them.
pub const HSS_ENDPOINTS: [&str; 2] = ["av", "reg-data"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::status_of as status_of_response_bytes;

    #[test]
    fn reads_status_and_method_from_wire_bytes() {
        assert_eq!(
            status_of_response_bytes(b"SIP/2.0 401 Unauthorized\r\n"),
            Some(401)
        );
        assert_eq!(status_of_response_bytes(b"SIP/2.0 4x1 U"), None);
        assert_eq!(status_of_response_bytes(b"SIP/2.0"), None);
        assert_eq!(method_of_request_bytes(b"REGISTER sip:x SIP/2.0"), 4);
        assert_eq!(method_of_request_bytes(b"FOO sip:x SIP/2.0"), 14);
        assert_eq!(method_of_request_bytes(b"garbage"), 14);
        assert_eq!(class_index(180), Some(0));
        assert_eq!(class_index(699), Some(5));
        assert_eq!(class_index(700), None);
        assert_eq!(METHOD_NAMES[method_index(Some(Method::Publish))], "PUBLISH");
    }
}
