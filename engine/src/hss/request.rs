//! HSS-cache requests and the JSON answers.

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sip_fastpath::digest::Algorithm;

/// Characters escaped in a path segment or query value (everything but unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `reqtype` of a reg-data PUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegDataReqType {
    Reg,
    Call,
    DeregUser,
    DeregTimeout,
    DeregAdmin,
    DeregAuthFailure,
}

impl RegDataReqType {
    pub fn as_str(self) -> &'static str {
        match self {
            RegDataReqType::Reg => "reg",
            RegDataReqType::Call => "call",
            RegDataReqType::DeregUser => "dereg-user",
            RegDataReqType::DeregTimeout => "dereg-timeout",
            RegDataReqType::DeregAdmin => "dereg-admin",
            RegDataReqType::DeregAuthFailure => "dereg-auth-failure",
        }
    }
}

/// One request to the HSS cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HssRequest {
    /// `GET /impi/<impi>/av/digest[?impu=]`
    DigestAv { impi: String, impu: Option<String> },
    /// `GET /impu/<impu>/reg-data`
    GetRegData { impu: String },
    /// `PUT /impu/<impu>/reg-data[?private_id=]` with `{"reqtype","server_name"}`
    PutRegData {
        impu: String,
        impi: Option<String>,
        reqtype: RegDataReqType,
        server_name: Option<String>,
    },
    /// `GET /impi/<impi>/registration-status?impu=`
    RegistrationStatus { impi: String, impu: String },
    /// `GET /impu/<impu>/location[?originating=true]`
    Location { impu: String, originating: bool },
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

impl HssRequest {
    /// Method and path with query.
    pub fn method_and_path(&self) -> (&'static str, String) {
        match self {
            HssRequest::DigestAv { impi, impu } => (
                "GET",
                match impu {
                    Some(u) => format!("/impi/{}/av/digest?impu={}", enc(impi), enc(u)),
                    None => format!("/impi/{}/av/digest", enc(impi)),
                },
            ),
            HssRequest::GetRegData { impu } => ("GET", format!("/impu/{}/reg-data", enc(impu))),
            HssRequest::PutRegData { impu, impi, .. } => (
                "PUT",
                match impi {
                    Some(i) => format!("/impu/{}/reg-data?private_id={}", enc(impu), enc(i)),
                    None => format!("/impu/{}/reg-data", enc(impu)),
                },
            ),
            HssRequest::RegistrationStatus { impi, impu } => (
                "GET",
                format!("/impi/{}/registration-status?impu={}", enc(impi), enc(impu)),
            ),
            HssRequest::Location { impu, originating } => (
                "GET",
                if *originating {
                    format!("/impu/{}/location?originating=true", enc(impu))
                } else {
                    format!("/impu/{}/location", enc(impu))
                },
            ),
        }
    }

    fn body(&self) -> Option<String> {
        match self {
            HssRequest::PutRegData {
                reqtype,
                server_name,
                ..
            } => {
                let mut v = serde_json::json!({ "reqtype": reqtype.as_str() });
                if let Some(s) = server_name {
                    v["server_name"] = serde_json::Value::String(s.clone());
                }
                Some(v.to_string())
            }
            _ => None,
        }
    }

    /// The request as HTTP/1.1 bytes for a keep-alive connection to `host`.
    pub fn encode(&self, host: &str) -> Bytes {
        let (method, path) = self.method_and_path();
        let body = self.body();
        let mut out = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
        match &body {
            Some(b) => out.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            )),
            None => out.push_str("\r\n"),
        }
        Bytes::from(out)
    }
}

/// Why an HSS-cache request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HssError {
    #[error("not found")]
    NotFound,
    #[error("HSS cache answered {0}")]
    Status(u16),
    #[error("no answer from the HSS cache in time")]
    Timeout,
    #[error("the HSS cache could not be reached")]
    Unreachable,
    #[error("malformed answer: {0}")]
    Malformed(String),
}

impl HssError {
    /// The SIP status a REGISTER gets when its `av` fetch fails, as Sprout
    /// does: 404 → 403, overload or timeout → 504, server error → 500.
    /// Never a fresh challenge.
    pub fn sip_status(&self) -> u16 {
        match self {
            HssError::NotFound => 403,
            HssError::Status(503 | 504) | HssError::Timeout | HssError::Unreachable => 504,
            HssError::Status(_) | HssError::Malformed(_) => 500,
        }
    }
}

/// A SIP digest authentication vector.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthVector {
    /// The MD5 HA1 (Homestead's `digest.ha1`).
    pub ha1: String,
    pub realm: String,
    pub qop: String,
    /// Riptide's extension `digest_algorithms`: the algorithms the
    /// subscriber may use with their HA1s, preferred first. Empty when the
    /// answer has none (Homestead): MD5 with `ha1` only.
    pub algorithms: Vec<(Algorithm, String)>,
}

impl AuthVector {
    /// What to challenge with, preferred first: SHA-256 before MD5 (RFC 8760
    /// §2.4 asks for the preferred algorithm first).
    pub fn offers(&self) -> Vec<(Algorithm, &str)> {
        if self.algorithms.is_empty() {
            return vec![(Algorithm::Md5, self.ha1.as_str())];
        }
        let mut v: Vec<(Algorithm, &str)> = self
            .algorithms
            .iter()
            .map(|(a, h)| (*a, h.as_str()))
            .collect();
        v.sort_by_key(|(a, _)| u8::from(*a != Algorithm::Sha256));
        v
    }
}

fn is_hex_of(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Read `{"digest": {"ha1", "realm", "qop"}[, "digest_algorithms": [{"algorithm", "ha1"}...]]}`
/// from a 200, or the error for another status. Algorithms other than MD5
/// and SHA-256 in the extension are skipped (a newer control plane may
/// offer more than this engine verifies).
pub fn parse_auth_vector(status: u16, body: &[u8]) -> Result<AuthVector, HssError> {
    match status {
        200 => {}
        404 => return Err(HssError::NotFound),
        s => return Err(HssError::Status(s)),
    }
    #[derive(serde::Deserialize)]
    struct Digest {
        ha1: String,
        realm: String,
        #[serde(default = "auth")]
        qop: String,
    }
    fn auth() -> String {
        "auth".to_owned()
    }
    #[derive(serde::Deserialize)]
    struct Offer {
        algorithm: String,
        ha1: String,
    }
    #[derive(serde::Deserialize)]
    struct Av {
        digest: Digest,
        #[serde(default)]
        digest_algorithms: Vec<Offer>,
    }
    let av: Av = serde_json::from_slice(body).map_err(|e| HssError::Malformed(e.to_string()))?;
    if av.digest.ha1.is_empty() || !av.digest.ha1.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(HssError::Malformed("ha1 is not hex".into()));
    }
    let mut algorithms = Vec::new();
    for o in av.digest_algorithms {
        let alg = match Algorithm::from_param(Some(o.algorithm.as_bytes())) {
            Some(a @ (Algorithm::Md5 | Algorithm::Sha256)) => a,
            _ => continue,
        };
        let len = if alg == Algorithm::Sha256 { 64 } else { 32 };
        if !is_hex_of(&o.ha1, len) {
            return Err(HssError::Malformed(format!(
                "{} ha1 is not {len} hex digits",
                alg.as_str()
            )));
        }
        algorithms.push((alg, o.ha1.to_ascii_lowercase()));
    }
    Ok(AuthVector {
        ha1: av.digest.ha1,
        realm: av.digest.realm,
        qop: av.digest.qop,
        algorithms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_escape_identities() {
        let r = HssRequest::DigestAv {
            impi: "6505550001@example.com".into(),
            impu: Some("sip:6505550001@example.com".into()),
        };
        assert_eq!(
            r.method_and_path(),
            (
                "GET",
                "/impi/6505550001%40example.com/av/digest?impu=sip%3A6505550001%40example.com"
                    .into()
            )
        );
        assert_eq!(
            &r.encode("127.0.0.1:8888")[..],
            b"GET /impi/6505550001%40example.com/av/digest?impu=sip%3A6505550001%40example.com HTTP/1.1\r\nHost: 127.0.0.1:8888\r\n\r\n"
        );
    }

    #[test]
    fn reg_data_put_carries_json() {
        let r = HssRequest::PutRegData {
            impu: "sip:6505550001@example.com".into(),
            impi: Some("6505550001@example.com".into()),
            reqtype: RegDataReqType::Reg,
            server_name: Some("sip:scscf.example.com:5054;transport=tcp".into()),
        };
        let wire = String::from_utf8(r.encode("h").to_vec()).expect("utf8");
        assert!(wire.starts_with("PUT /impu/sip%3A6505550001%40example.com/reg-data?private_id=6505550001%40example.com HTTP/1.1\r\n"));
        let body = wire.split("\r\n\r\n").nth(1).expect("body");
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["reqtype"], "reg");
        assert_eq!(v["server_name"], "sip:scscf.example.com:5054;transport=tcp");
        assert!(wire.contains(&format!("Content-Length: {}\r\n", body.len())));
    }

    #[test]
    fn auth_vectors_and_sprouts_error_mapping() {
        let av = parse_auth_vector(
            200,
            br#"{"digest":{"ha1":"12ab","realm":"example.com","qop":"auth"}}"#,
        )
        .expect("av");
        assert_eq!(
            av,
            AuthVector {
                ha1: "12ab".into(),
                realm: "example.com".into(),
                qop: "auth".into(),
                algorithms: vec![],
            }
        );
        assert_eq!(
            av.offers(),
            vec![(Algorithm::Md5, "12ab")],
            "Homestead's answer: MD5 only"
        );
        let sha = "a".repeat(64);
        let md5 = "b".repeat(32);
        let ext = parse_auth_vector(
            200,
            format!(
                r#"{{"digest":{{"ha1":"{md5}","realm":"r","qop":"auth"}},"digest_algorithms":[{{"algorithm":"MD5","ha1":"{md5}"}},{{"algorithm":"SHA-512-256","ha1":"00"}},{{"algorithm":"SHA-256","ha1":"{sha}"}}]}}"#
            )
            .as_bytes(),
        )
        .expect("av");
        assert_eq!(
            ext.offers(),
            vec![
                (Algorithm::Sha256, sha.as_str()),
                (Algorithm::Md5, md5.as_str())
            ]
        );
        assert!(matches!(
            parse_auth_vector(
                200,
                br#"{"digest":{"ha1":"12ab","realm":"r"},"digest_algorithms":[{"algorithm":"SHA-256","ha1":"12ab"}]}"#
            ),
            Err(HssError::Malformed(_))
        ));
        assert_eq!(
            parse_auth_vector(404, b"").map_err(|e| e.sip_status()),
            Err(403)
        );
        assert_eq!(
            parse_auth_vector(503, b"").map_err(|e| e.sip_status()),
            Err(504)
        );
        assert_eq!(
            parse_auth_vector(500, b"").map_err(|e| e.sip_status()),
            Err(500)
        );
        assert_eq!(HssError::Timeout.sip_status(), 504);
        assert!(matches!(
            parse_auth_vector(200, b"{}"),
            Err(HssError::Malformed(_))
        ));
        assert!(matches!(
            parse_auth_vector(200, br#"{"digest":{"ha1":"zz","realm":"r"}}"#),
            Err(HssError::Malformed(_))
        ));
    }
}
