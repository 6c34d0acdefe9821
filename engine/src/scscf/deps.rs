//! What the S-CSCF needs from outside the shard, as traits its futures await.

use crate::auth::Challenge;
use crate::hss::{AuthVector, HssError, RegData, RegDataReqType};
use crate::registrar::Aor;

/// The HSS-cache API (Homestead's interface, served by riptide-control).
#[allow(async_fn_in_trait)]
pub trait HssCache {
    /// `GET /impi/<impi>/av/digest?impu=<impu>`.
    async fn digest_av(&self, impi: &str, impu: &str) -> Result<AuthVector, HssError>;
    /// `PUT /impu/<impu>/reg-data?private_id=<impi>`.
    async fn put_reg_data(
        &self,
        impu: &str,
        impi: Option<&str>,
        reqtype: RegDataReqType,
    ) -> Result<RegData, HssError>;
    /// `GET /impu/<impu>/reg-data`.
    async fn get_reg_data(&self, impu: &str) -> Result<RegData, HssError>;
    /// Our registration of `impu` lasts until `until_ms` (its last binding's
    /// expiry) unless renewed: a cache must not answer for it as registered
    /// by us after that, since whoever sweeps the expiry (another shard, or
    /// another node on a shared store) deregisters it at the HSS cache.
    /// Nothing to do for an HSS cache that keeps nothing.
    fn registered_until(&self, _impu: &str, _until_ms: u64) {}
}

/// A value with the version a compare-and-set must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    pub value: T,
    /// 0 when the record does not exist yet.
    pub version: u64,
}

/// Why the store could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("registration store: {0}")]
pub struct StoreError(pub String);

/// Registration state: bindings per AoR, and authentication challenges.
#[allow(async_fn_in_trait)]
pub trait BindingStore {
    async fn get_aor(&self, aor: &str) -> Result<Versioned<Aor>, StoreError>;
    /// Write if the stored version is still `expected_version`; `Ok(false)` on a conflict.
    async fn set_aor(
        &self,
        aor: &str,
        value: &Aor,
        expected_version: u64,
    ) -> Result<bool, StoreError>;
    /// Write a challenge if its stored version is still `expected_version`
    /// (0: a new nonce); `Ok(false)` on a conflict (a concurrent use of the
    /// same nonce won).
    async fn put_challenge(
        &self,
        impi: &str,
        challenge: &Challenge,
        expected_version: u64,
    ) -> Result<bool, StoreError>;
    async fn get_challenge(
        &self,
        impi: &str,
        nonce: &str,
    ) -> Result<Option<Versioned<Challenge>>, StoreError>;
}
