//! The S-CSCF's registration store on a shard: the embedded
//! [`stores::embedded::ShardStore`] this shard owns, behind the
//! [`BindingStore`] the role awaits. Challenges, and the AoRs of the
//! IMPUs requests are handed here for, are this shard's: those calls
//! complete at once, with no lock and no hop. An AoR another shard owns
//! (the request named another IMPU of its registration set) is read and
//! written on its owner over the mesh ([`super::remote_aor`]).
//!
//! Challenges live in the shard's memory only, never in the durable log:
//! they are single-use and valid for 40 s, and logging them cost most of
//! the log writes of an authenticated registration (one per algorithm the
//! 401 offers, one more to retire the nonce answered). After a crash
//! or restart the outstanding challenges are gone, so an answer to one gets
//! a fresh 401 with `stale=TRUE` (as for an expired nonce), never a 200 on a
//! nonce the node no longer knows; AoRs stay as durable as before.

use super::records::{
    aor_key, aor_of_key, challenge_key, encode_aor, live_bindings_in, store_error as err,
    versioned_aor,
};
use super::remote_aor::{AorOp, AorReply, RemoteAors};
use crate::auth::Challenge;
use crate::registrar::Aor;
use crate::scscf::{BindingStore, StoreError, Versioned};
use bytes::Bytes;
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;
use stores::embedded::ShardStore;
use stores::{CasOutcome, DeleteOutcome};

/// Wall-clock milliseconds since the Unix epoch (the store's time base).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What one sweep of the store removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Records removed: AoRs and challenges (embedded store), AoRs (Redis,
    /// where challenges expire by Redis's TTL).
    pub records: usize,
    /// The AoRs (default IMPUs) whose last binding expired.
    pub aors: Vec<String>,
}

pub struct EmbeddedBindings {
    store: RefCell<ShardStore>,
    /// Outstanding challenges by [`challenge_key`]; swept by [`Self::maintain`].
    challenges: RefCell<HashMap<Vec<u8>, HeldChallenge>>,
    /// The AoRs other shards own.
    pub remote: RemoteAors,
}

/// A challenge held in memory, with when its record expires (ms) and its
/// version (each write adds one, so a second use of a nonce conflicts).
struct HeldChallenge {
    challenge: Challenge,
    expires_at_ms: u64,
    version: u64,
}

/// How long a shard waits for the owner of an AoR to answer.
const REMOTE_WAIT: Duration = Duration::from_secs(2);

impl EmbeddedBindings {
    pub fn new(store: ShardStore) -> Self {
        Self {
            store: RefCell::new(store),
            challenges: RefCell::new(HashMap::new()),
            remote: RemoteAors::new(REMOTE_WAIT),
        }
    }

    /// Run a remote shard's question on this shard's store.
    pub fn answer(&self, op: AorOp) -> AorReply {
        match op {
            AorOp::Get { aor } => AorReply::Got(self.get_local(&aor)),
            AorOp::Set {
                aor,
                value,
                expected_version,
            } => AorReply::Set(self.set_local(&aor, &value, expected_version)),
        }
    }

    fn get_local(&self, aor: &str) -> Result<Versioned<Aor>, StoreError> {
        let store = self.store.borrow();
        let found = store.get(&aor_key(aor), unix_ms());
        versioned_aor(found.as_ref().map(|r| (&r.value[..], r.version)))
    }

    fn set_local(&self, aor: &str, value: &Aor, expected_version: u64) -> Result<bool, StoreError> {
        let now = unix_ms();
        let key = aor_key(aor);
        let mut store = self.store.borrow_mut();
        match value.last_expiry_s() {
            Some(expiry_s) if expiry_s * 1000 > now => {
                let bytes = Bytes::from(encode_aor(value));
                match store
                    .cas(&key, expected_version, bytes, expiry_s * 1000, now)
                    .map_err(err)?
                {
                    CasOutcome::Written { .. } => Ok(true),
                    CasOutcome::Conflict { .. } => Ok(false),
                }
            }
            // No live binding left: the AoR goes.
            _ => match store.delete(&key, expected_version, now).map_err(err)? {
                DeleteOutcome::Deleted => Ok(true),
                DeleteOutcome::Conflict { .. } => Ok(false),
            },
        }
    }

    /// Sweep expired records and run the store's periodic work (interval
    /// fsync, snapshot): what expired.
    pub fn maintain(&self, now_ms: u64) -> Result<Swept, StoreError> {
        let mut swept = Swept::default();
        let mut challenges = self.challenges.borrow_mut();
        let before = challenges.len();
        challenges.retain(|_, c| c.expires_at_ms > now_ms);
        swept.records += before - challenges.len();
        let mut store = self.store.borrow_mut();
        loop {
            let batch = store.expire(now_ms).map_err(err)?;
            if batch.is_empty() {
                break;
            }
            swept.records += batch.len();
            swept
                .aors
                .extend(batch.iter().filter_map(|k| aor_of_key(k)));
        }
        store.tick(now_ms).map_err(err)?;
        Ok(swept)
    }

    /// (AoRs, live bindings) held now, for the registration gauges.
    pub fn count_registrations(&self, now_ms: u64) -> (u64, u64) {
        let store = self.store.borrow();
        let (mut aors, mut bindings) = (0u64, 0u64);
        for (key, record) in store.map().iter() {
            if key.starts_with(b"aor:") && !record.is_expired(now_ms) {
                let live = live_bindings_in(record.value, now_ms / 1000) as u64;
                if live > 0 {
                    aors += 1;
                    bindings += live;
                }
            }
        }
        (aors, bindings)
    }
}

impl BindingStore for EmbeddedBindings {
    async fn get_aor(&self, aor: &str) -> Result<Versioned<Aor>, StoreError> {
        let Some((shard, owner)) = self.remote.owner_elsewhere(aor) else {
            return self.get_local(aor);
        };
        let op = AorOp::Get {
            aor: aor.to_owned(),
        };
        match self.remote.ask(&shard, owner, op).await? {
            AorReply::Got(r) => r,
            AorReply::Set(_) => Err(StoreError(
                "the owner shard answered another question".into(),
            )),
        }
    }

    async fn set_aor(
        &self,
        aor: &str,
        value: &Aor,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let Some((shard, owner)) = self.remote.owner_elsewhere(aor) else {
            return self.set_local(aor, value, expected_version);
        };
        let op = AorOp::Set {
            aor: aor.to_owned(),
            value: value.clone(),
            expected_version,
        };
        match self.remote.ask(&shard, owner, op).await? {
            AorReply::Set(r) => r,
            AorReply::Got(_) => Err(StoreError(
                "the owner shard answered another question".into(),
            )),
        }
    }

    async fn put_challenge(
        &self,
        impi: &str,
        challenge: &Challenge,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let now = unix_ms();
        let expires_at_ms = challenge.expires_at_ms.max(now + 1);
        let mut challenges = self.challenges.borrow_mut();
        let key = challenge_key(impi, &challenge.nonce);
        let current = challenges
            .get(&key)
            .filter(|c| now < c.expires_at_ms)
            .map_or(0, |c| c.version);
        if current != expected_version {
            return Ok(false);
        }
        challenges.insert(
            key,
            HeldChallenge {
                challenge: challenge.clone(),
                expires_at_ms,
                version: current + 1,
            },
        );
        Ok(true)
    }

    async fn get_challenge(
        &self,
        impi: &str,
        nonce: &str,
    ) -> Result<Option<Versioned<Challenge>>, StoreError> {
        let challenges = self.challenges.borrow();
        Ok(challenges
            .get(&challenge_key(impi, nonce))
            .filter(|c| unix_ms() < c.expires_at_ms)
            .map(|c| Versioned {
                value: c.challenge.clone(),
                version: c.version,
            }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::node::aor_codec::FORMAT_V1;
    use stores::embedded::ShardStoreConfig;

    /// An AoR the JSON-writing version left in the log reads back after a
    /// restart, and its next write puts the binary form in the log.
    #[test]
    fn a_json_aor_from_before_reads_and_is_rewritten_in_binary() {
        let dir = std::env::temp_dir().join(format!("riptide-json-aor-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let now = unix_ms();
        let expires_s = now / 1000 + 3600;
        let json = format!(
            r#"{{"bindings":[{{"id":"sip:a@10.0.0.1","uri":"sip:a@10.0.0.1","params":"","path":[],"call_id":"c1","cseq":2,"expires_at_s":{expires_s},"q_millis":null,"instance":null,"reg_id":null}}]}}"#
        );
        let key = aor_key("sip:a@example.com");
        let mut store = ShardStore::open(&dir, ShardStoreConfig::default(), now).unwrap();
        let written = store.cas(&key, 0, Bytes::from(json), expires_s * 1000, now);
        assert!(matches!(written, Ok(CasOutcome::Written { .. })));
        drop(store);

        let reopen = || ShardStore::open(&dir, ShardStoreConfig::default(), unix_ms()).unwrap();
        let bindings = EmbeddedBindings::new(reopen());
        let mut aor =
            futures_lite::future::block_on(bindings.get_aor("sip:a@example.com")).unwrap();
        assert_eq!(aor.version, 1);
        assert_eq!(aor.value.bindings.len(), 1);
        assert_eq!(aor.value.bindings[0].call_id, "c1");
        assert_eq!(bindings.count_registrations(unix_ms()), (1, 1));
        aor.value.bindings[0].cseq = 3;
        let set = bindings.set_aor("sip:a@example.com", &aor.value, 1);
        assert!(futures_lite::future::block_on(set).unwrap());
        drop(bindings);

        let store = reopen();
        let record = store.get(&key, unix_ms()).unwrap();
        assert_eq!((record.value[0], record.version), (FORMAT_V1, 2));
        let bindings = EmbeddedBindings::new(store);
        let again = futures_lite::future::block_on(bindings.get_aor("sip:a@example.com")).unwrap();
        assert_eq!(again.value, aor.value);
        drop(bindings);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A sweep after the last binding's expiry removes the AoR and the
    /// challenge and names the AoR (for the dereg-timeout to the HSS).
    #[test]
    fn a_sweep_names_the_aors_whose_last_binding_expired() {
        use crate::registrar::Binding;
        let dir = std::env::temp_dir().join(format!("riptide-sweep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let now = unix_ms();
        let store = ShardStore::open(&dir, ShardStoreConfig::default(), now).unwrap();
        let bindings = EmbeddedBindings::new(store);
        let binding = Binding::plain;
        let soon = now / 1000 + 2;
        let later = now / 1000 + 3600;
        let short = Aor {
            bindings: vec![binding("sip:a@10.0.0.1", soon)],
        };
        let long = Aor {
            bindings: vec![binding("sip:b@10.0.0.2", later)],
        };
        use futures_lite::future::block_on;
        assert!(block_on(bindings.set_aor("sip:a@example.com", &short, 0)).unwrap());
        assert!(block_on(bindings.set_aor("sip:b@example.com", &long, 0)).unwrap());
        let challenge = Challenge {
            nonce: "n1".into(),
            opaque: "o1".into(),
            realm: "example.com".into(),
            ha1: "00".into(),
            algorithm: sip_fastpath::digest::Algorithm::Md5,
            expires_at_ms: now + 1000,
            nc_next: 1,
        };
        assert!(block_on(bindings.put_challenge("a@example.com", &challenge, 0)).unwrap());

        assert_eq!(bindings.maintain(now).unwrap(), Swept::default());
        let swept = bindings.maintain((soon + 1) * 1000).unwrap();
        assert_eq!(
            swept,
            Swept {
                records: 2,
                aors: vec!["sip:a@example.com".to_owned()],
            }
        );
        assert_eq!(bindings.count_registrations((soon + 1) * 1000), (1, 1));
        drop(bindings);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A challenge is kept in memory, answered by its IMPI and nonce until
    /// it expires, and never reaches the log: after a restart it is gone.
    #[test]
    fn challenges_stay_in_memory_and_do_not_survive_a_restart() {
        use futures_lite::future::block_on;
        let dir = std::env::temp_dir().join(format!("riptide-chal-mem-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let now = unix_ms();
        let store = ShardStore::open(&dir, ShardStoreConfig::default(), now).unwrap();
        let bindings = EmbeddedBindings::new(store);
        let challenge = Challenge {
            nonce: "n1".into(),
            opaque: "o1".into(),
            realm: "example.com".into(),
            ha1: "00".into(),
            algorithm: sip_fastpath::digest::Algorithm::Sha256,
            expires_at_ms: now + 60_000,
            nc_next: 1,
        };
        assert!(block_on(bindings.put_challenge("a@example.com", &challenge, 0)).unwrap());
        let got = block_on(bindings.get_challenge("a@example.com", "n1")).unwrap();
        assert_eq!(
            got,
            Some(Versioned {
                value: challenge.clone(),
                version: 1
            })
        );
        // A second write against the version an earlier reader saw loses.
        assert!(!block_on(bindings.put_challenge("a@example.com", &challenge, 0)).unwrap());
        assert_eq!(
            block_on(bindings.get_challenge("a@example.com", "n2")).unwrap(),
            None
        );
        assert_eq!(
            block_on(bindings.get_challenge("b@example.com", "n1")).unwrap(),
            None
        );
        // Retired (expires now): no longer answered, and swept.
        let retired = Challenge {
            expires_at_ms: 0,
            ..challenge.clone()
        };
        assert!(block_on(bindings.put_challenge("a@example.com", &retired, 1)).unwrap());
        let later = unix_ms() + 2;
        assert_eq!(bindings.maintain(later).unwrap().records, 1);
        assert_eq!(
            block_on(bindings.get_challenge("a@example.com", "n1")).unwrap(),
            None
        );
        assert!(block_on(bindings.put_challenge("a@example.com", &challenge, 0)).unwrap());
        drop(bindings);

        let store = ShardStore::open(&dir, ShardStoreConfig::default(), unix_ms()).unwrap();
        assert_eq!(store.map().iter().count(), 0);
        let bindings = EmbeddedBindings::new(store);
        assert_eq!(
            block_on(bindings.get_challenge("a@example.com", "n1")).unwrap(),
            None
        );
        drop(bindings);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
