//! The byte form of the registrar's records in the registration store.
//! An AoR is written in the compact binary form of [`super::aor_codec`]
//! (memory per AoR is a stated limit); one written as JSON by an earlier
//! version (first byte `{`) still reads, and is rewritten in the binary form
//! on its next write. Challenges are short-lived and stay JSON.

use super::aor_codec;
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

/// The AoR whose record `key` is ([`aor_key`]'s inverse); `None` for any
/// other record.
pub fn aor_of_key(key: &[u8]) -> Option<String> {
    let aor = key.strip_prefix(b"aor:")?;
    String::from_utf8(aor.to_vec()).ok()
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
    aor_codec::encode(aor)
}

/// Live bindings (expiring after `now_s`) in an encoded AoR, counted
/// without building it; an unreadable record counts none.
pub fn live_bindings_in(bytes: &[u8], now_s: u64) -> usize {
    if bytes.first() == Some(&b'{') {
        return decode_aor(bytes).map_or(0, |aor| {
            aor.bindings
                .iter()
                .filter(|b| b.expires_at_s > now_s)
                .count()
        });
    }
    aor_codec::live_bindings(bytes, now_s).unwrap_or(0)
}

pub fn decode_aor(bytes: &[u8]) -> Result<Aor, RecordError> {
    if bytes.first() == Some(&b'{') {
        return serde_json::from_slice(bytes).map_err(|e| RecordError(e.to_string()));
    }
    aor_codec::decode(bytes).map_err(|e| RecordError(e.to_string()))
}

/// The AoR a store found as `(value, version)`, or the empty AoR at version
/// 0 when there was none: what both stores' `get_aor` answers.
pub fn versioned_aor(
    found: Option<(&[u8], u64)>,
) -> Result<crate::scscf::Versioned<Aor>, crate::scscf::StoreError> {
    Ok(match found {
        Some((value, version)) => crate::scscf::Versioned {
            value: decode_aor(value).map_err(store_error)?,
            version,
        },
        None => crate::scscf::Versioned {
            value: Aor::default(),
            version: 0,
        },
    })
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
        let encoded = encode_aor(&aor);
        assert_eq!(encoded[0], aor_codec::FORMAT_V1);
        assert_eq!(decode_aor(&encoded).unwrap(), aor);
        let mut two = aor.clone();
        two.bindings.push(Binding {
            expires_at_s: 1_000,
            ..aor.bindings[0].clone()
        });
        let encoded = encode_aor(&two);
        assert_eq!(live_bindings_in(&encoded, 999), 2);
        assert_eq!(live_bindings_in(&encoded, 1_000), 1);
        assert_eq!(live_bindings_in(&encoded, 1_800_000_000), 0);
        assert_eq!(live_bindings_in(&encoded[..5], 0), 0);
        let c = Challenge::new([7; 24], "example.com", "00ff", Algorithm::Sha256, 5);
        assert_eq!(decode_challenge(&encode_challenge(&c)).unwrap(), c);
        assert_eq!(
            aor_of_key(&aor_key("sip:ue@example.com")).as_deref(),
            Some("sip:ue@example.com")
        );
        assert_eq!(aor_of_key(&challenge_key("ue@example.com", "n")), None);
        assert!(decode_aor(b"{").is_err());
        assert!(decode_aor(b"").is_err());
        assert!(decode_aor(b"\x01\x01").is_err());
    }

    /// Found by `engine/fuzz` (target `records`): a format-1 record whose
    /// structure is sound but whose params are not UTF-8 failed to decode
    /// yet counted one live binding, so the Redis sweep kept re-indexing a
    /// record nobody could read instead of deleting it.
    #[test]
    fn an_unreadable_record_counts_no_live_binding() {
        let input: &[u8] = b"\x01\x01\x0b\x0c<urn:uuid:1>\x14sip:ue@10.0.0.1:5060\x0c;ex\x96\x96res=600\x00\x01c\x01\xf0\xcf\xae\xd8\x06\xe8\x07";
        assert!(decode_aor(input).is_err());
        for now in [0, 1_000, u64::MAX] {
            assert_eq!(live_bindings_in(input, now), 0, "{now}");
        }
    }

    /// A record as the JSON-writing version stored it (snapshot, log or
    /// Redis value) reads back, and is written back in the binary form.
    #[test]
    fn json_records_from_before_still_read() {
        let json = br#"{"bindings":[{"id":"<urn:uuid:1>;reg-id=1","uri":"sip:ue@10.0.0.1:5060","params":";+sip.instance=\"<urn:uuid:1>\";reg-id=1","path":["<sip:pcscf;lr>"],"call_id":"c","cseq":7,"expires_at_s":1800000000,"q_millis":null,"instance":"<urn:uuid:1>","reg_id":1}]}"#;
        let aor = decode_aor(json).unwrap();
        let b = &aor.bindings[0];
        assert_eq!(b.id, "<urn:uuid:1>;reg-id=1");
        assert_eq!(b.params, ";+sip.instance=\"<urn:uuid:1>\";reg-id=1");
        assert_eq!(
            (b.cseq, b.expires_at_s, b.reg_id),
            (7, 1_800_000_000, Some(1))
        );
        assert_eq!(live_bindings_in(json, 1_799_999_999), 1);
        assert_eq!(live_bindings_in(json, 1_800_000_000), 0);
        let rewritten = encode_aor(&aor);
        assert_eq!(rewritten[0], aor_codec::FORMAT_V1);
        assert!(rewritten.len() < json.len() / 2);
        assert_eq!(decode_aor(&rewritten).unwrap(), aor);
    }
}
