//! The byte form of the registrar's records in the registration store:
//! JSON, so an operator can read a record with `redis-cli` or a log dump.

use crate::auth::Challenge;
use crate::registrar::Aor;
use sip_fastpath::digest::Algorithm;

/// Why a stored record could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("stored record is unreadable: {0}")]
pub struct RecordError(String);

/// The store key of an AoR's record (embedded and Redis alike).
pub fn aor_key(aor: &str) -> Vec<u8> {
    format!("aor:{aor}").into_bytes()
}

/// The store key of a challenge, by IMPI and nonce.
pub fn challenge_key(impi: &str, nonce: &str) -> Vec<u8> {
    format!("chal:{impi}:{nonce}").into_bytes()
}

/// A store failure as the S-CSCF sees it.
pub fn store_error(e: impl std::fmt::Display) -> crate::scscf::StoreError {
    crate::scscf::StoreError(e.to_string())
}

pub fn encode_aor(aor: &Aor) -> Vec<u8> {
    // Serialising plain structs of strings and integers cannot fail.
    serde_json::to_vec(aor).unwrap_or_default()
}

/// Live bindings (expiring after `now_s`) in an encoded AoR, counted
/// without decoding it: the value of each `"expires_at_s":` key. A string
/// value cannot fake the key, as JSON escapes the quotes inside strings.
pub fn live_bindings_in(bytes: &[u8], now_s: u64) -> usize {
    const KEY: &[u8] = b"\"expires_at_s\":";
    let mut live = 0;
    let mut rest = bytes;
    while let Some(at) = rest.windows(KEY.len()).position(|w| w == KEY) {
        rest = &rest[at + KEY.len()..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let expires = rest[..digits].iter().fold(0u64, |v, d| {
            v.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        if expires > now_s {
            live += 1;
        }
    }
    live
}

pub fn decode_aor(bytes: &[u8]) -> Result<Aor, RecordError> {
    serde_json::from_slice(bytes).map_err(|e| RecordError(e.to_string()))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredChallenge {
    nonce: String,
    opaque: String,
    realm: String,
    ha1: String,
    algorithm: String,
    expires_at_ms: u64,
    nc_next: u32,
}

pub fn encode_challenge(c: &Challenge) -> Vec<u8> {
    serde_json::to_vec(&StoredChallenge {
        nonce: c.nonce.clone(),
        opaque: c.opaque.clone(),
        realm: c.realm.clone(),
        ha1: c.ha1.clone(),
        algorithm: c.algorithm.as_str().to_owned(),
        expires_at_ms: c.expires_at_ms,
        nc_next: c.nc_next,
    })
    .unwrap_or_default()
}

pub fn decode_challenge(bytes: &[u8]) -> Result<Challenge, RecordError> {
    let s: StoredChallenge =
        serde_json::from_slice(bytes).map_err(|e| RecordError(e.to_string()))?;
    let algorithm = Algorithm::from_param(Some(s.algorithm.as_bytes()))
        .ok_or_else(|| RecordError(format!("unknown algorithm {}", s.algorithm)))?;
    Ok(Challenge {
        nonce: s.nonce,
        opaque: s.opaque,
        realm: s.realm,
        ha1: s.ha1,
        algorithm,
        expires_at_ms: s.expires_at_ms,
        nc_next: s.nc_next,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::registrar::Binding;

    #[test]
    fn records_round_trip() {
        let aor = Aor {
            bindings: vec![Binding {
                id: "<urn:uuid:1>".into(),
                uri: "sip:ue@10.0.0.1:5060".into(),
                params: ";+sip.instance=\"<urn:uuid:1>\"".into(),
                path: vec!["<sip:pcscf;lr>".into()],
                call_id: "c".into(),
                cseq: 7,
                expires_at_s: 1_800_000_000,
                q_millis: Some(500),
                instance: Some("<urn:uuid:1>".into()),
                reg_id: Some(1),
            }],
        };
        assert_eq!(decode_aor(&encode_aor(&aor)).unwrap(), aor);
        let mut two = aor.clone();
        two.bindings.push(Binding {
            expires_at_s: 1_000,
            call_id: "\"expires_at_s\":9999999999".into(),
            ..aor.bindings[0].clone()
        });
        let encoded = encode_aor(&two);
        assert_eq!(live_bindings_in(&encoded, 999), 2);
        assert_eq!(live_bindings_in(&encoded, 1_000), 1);
        assert_eq!(live_bindings_in(&encoded, 1_800_000_000), 0);
        let c = Challenge::new([7; 24], "example.com", "00ff", Algorithm::Sha256, 5);
        assert_eq!(decode_challenge(&encode_challenge(&c)).unwrap(), c);
        assert!(decode_aor(b"{").is_err());
    }
}
