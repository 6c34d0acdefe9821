//! The registration store's records on arbitrary bytes, as they come back
//! from the embedded store's log/snapshot or from a Redis value:
//! `decode_aor` (binary format 1, or JSON from an earlier version),
//! `live_bindings_in` and `decode_challenge`.
//!
//! Checks: nothing panics; whatever decodes is encoded again and decodes to
//! the same value; for a decodable AoR, `live_bindings_in` on the input and on
//! its re-encoding both count exactly the bindings expiring after `now`, and
//! for an undecodable one it counts none.

#![no_main]

use engine::node::records::{
    decode_aor, decode_challenge, encode_aor, encode_challenge, live_bindings_in,
};
use libfuzzer_sys::fuzz_target;

/// A few `now` values from the input: the extremes, its first and last eight
/// bytes as integers, and each side of every binding's expiry.
fn nows(data: &[u8], expiries: impl Iterator<Item = u64>) -> Vec<u64> {
    let word = |bytes: &[u8]| {
        let mut w = [0u8; 8];
        let n = bytes.len().min(8);
        w[..n].copy_from_slice(&bytes[..n]);
        u64::from_le_bytes(w)
    };
    let mut nows = vec![
        0,
        u64::MAX,
        word(data),
        word(&data[data.len().saturating_sub(8)..]),
    ];
    for e in expiries {
        nows.extend([e.saturating_sub(1), e]);
    }
    nows
}

fuzz_target!(|data: &[u8]| {
    match decode_aor(data) {
        Ok(aor) => {
            let encoded = encode_aor(&aor);
            let again = decode_aor(&encoded).expect("a re-encoded AoR decodes");
            assert_eq!(again, aor, "AoR changed through encode/decode");
            for now in nows(data, aor.bindings.iter().map(|b| b.expires_at_s)) {
                let live = aor.bindings.iter().filter(|b| b.expires_at_s > now).count();
                assert_eq!(
                    live_bindings_in(data, now),
                    live,
                    "live count of the input at {now}"
                );
                assert_eq!(
                    live_bindings_in(&encoded, now),
                    live,
                    "live count re-encoded at {now}"
                );
            }
        }
        Err(_) => {
            // An unreadable record counts no live binding (the Redis sweep
            // deletes a record with none).
            for now in nows(data, std::iter::empty()) {
                assert_eq!(
                    live_bindings_in(data, now),
                    0,
                    "live bindings in an unreadable record at {now}"
                );
            }
        }
    }
    if let Ok(c) = decode_challenge(data) {
        let again =
            decode_challenge(&encode_challenge(&c)).expect("a re-encoded challenge decodes");
        assert_eq!(again, c, "challenge changed through encode/decode");
    }
});
