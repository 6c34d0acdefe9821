//! The S-CSCF's dependencies with meters on: HSS-cache latency and
//! failures by endpoint, registration-store failures, and the alarm
//! conditions both raise and clear. They wrap the real clients, so neither
//! the clients nor the role know about metrics.

use super::labels::LatencyKind;
use super::local::ShardRecorder;
use crate::auth::Challenge;
use crate::hss::{AuthVector, HssError, RegData, RegDataReqType};
use crate::registrar::Aor;
use crate::scscf::{BindingStore, HssCache, StoreError, Versioned};
use std::cell::Cell;
use std::rc::Rc;

/// An [`HssCache`] that times every request, and counts the answers that
/// say the HSS cache is overloaded (503, 504, or none in time) as penalties
/// for the shard's throttle, as Sprout's HTTP client does.
pub struct MeteredHss<H> {
    pub inner: H,
    pub metrics: Rc<ShardRecorder>,
    /// Overload answers not yet given to the throttle.
    pub penalties: Rc<Cell<u32>>,
}

const AV: usize = 0;
const REG_DATA: usize = 1;

impl<H> MeteredHss<H> {
    fn done<T>(&self, endpoint: usize, started_us: u64, r: &Result<T, HssError>) {
        let m = &self.metrics.shared;
        let kind = if endpoint == AV {
            LatencyKind::HssAv
        } else {
            LatencyKind::HssRegData
        };
        self.metrics
            .local
            .record(kind, now_us().saturating_sub(started_us));
        m.hss_requests[endpoint].inc();
        match r {
            // "Not found" is an answer: the cache is there.
            Ok(_) | Err(HssError::NotFound) => m.hss_unreachable.clear(),
            Err(e) => {
                m.hss_failures[endpoint].inc();
                if matches!(e, HssError::Status(503 | 504) | HssError::Timeout) {
                    self.penalties.set(self.penalties.get().saturating_add(1));
                }
                if matches!(e, HssError::Timeout | HssError::Unreachable)
                    && m.hss_unreachable.raise(super::unix_ms(), false)
                {
                    tracing::error!(shard = m.shard, error = %e, "HSS cache unreachable");
                }
            }
        }
    }
}

fn now_us() -> u64 {
    shards::Clock::new().now_us()
}

impl<H: HssCache> HssCache for MeteredHss<H> {
    async fn digest_av(&self, impi: &str, impu: &str) -> Result<AuthVector, HssError> {
        let t = now_us();
        let r = self.inner.digest_av(impi, impu).await;
        self.done(AV, t, &r);
        r
    }

    async fn put_reg_data(
        &self,
        impu: &str,
        impi: Option<&str>,
        reqtype: RegDataReqType,
    ) -> Result<RegData, HssError> {
        let t = now_us();
        let r = self.inner.put_reg_data(impu, impi, reqtype).await;
        self.done(REG_DATA, t, &r);
        r
    }

    async fn get_reg_data(&self, impu: &str) -> Result<RegData, HssError> {
        let t = now_us();
        let r = self.inner.get_reg_data(impu).await;
        self.done(REG_DATA, t, &r);
        r
    }
}

/// A [`BindingStore`] that counts failures and raises the store alarm.
pub struct MeteredStore<S> {
    pub inner: S,
    pub metrics: Rc<ShardRecorder>,
}

impl<S> MeteredStore<S> {
    fn done<T>(&self, r: &Result<T, StoreError>) {
        let m = &self.metrics.shared;
        match r {
            Ok(_) => m.store_failing.clear(),
            Err(e) => {
                m.store_failures.inc();
                if m.store_failing.raise(super::unix_ms(), false) {
                    tracing::error!(shard = m.shard, error = %e, "registration store failing");
                }
            }
        }
    }
}

impl<S: BindingStore> BindingStore for MeteredStore<S> {
    async fn get_aor(&self, aor: &str) -> Result<Versioned<Aor>, StoreError> {
        let r = self.inner.get_aor(aor).await;
        self.done(&r);
        r
    }

    async fn set_aor(
        &self,
        aor: &str,
        value: &Aor,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let r = self.inner.set_aor(aor, value, expected_version).await;
        self.done(&r);
        r
    }

    async fn put_challenge(
        &self,
        impi: &str,
        challenge: &Challenge,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let r = self
            .inner
            .put_challenge(impi, challenge, expected_version)
            .await;
        self.done(&r);
        r
    }

    async fn get_challenge(
        &self,
        impi: &str,
        nonce: &str,
    ) -> Result<Option<Versioned<Challenge>>, StoreError> {
        let r = self.inner.get_challenge(impi, nonce).await;
        self.done(&r);
        r
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::node::metrics::ShardMetrics;
    use std::sync::Arc;

    /// An HSS cache that answers every request with one fixed error.
    struct Failing(HssError);

    impl HssCache for Failing {
        async fn digest_av(&self, _: &str, _: &str) -> Result<AuthVector, HssError> {
            Err(self.0.clone())
        }
        async fn put_reg_data(
            &self,
            _: &str,
            _: Option<&str>,
            _: RegDataReqType,
        ) -> Result<RegData, HssError> {
            Err(self.0.clone())
        }
        async fn get_reg_data(&self, _: &str) -> Result<RegData, HssError> {
            Err(self.0.clone())
        }
    }

    fn penalties_after_one_request(e: HssError) -> u32 {
        let hss = MeteredHss {
            inner: Failing(e),
            metrics: Rc::new(ShardRecorder::new(Arc::new(ShardMetrics::new(0)))),
            penalties: Rc::new(Cell::new(0)),
        };
        let _ = futures_lite::future::block_on(hss.digest_av("a@example.com", "sip:a@example.com"));
        hss.penalties.get()
    }

    #[test]
    fn overload_answers_are_penalties_and_other_failures_are_not() {
        assert_eq!(penalties_after_one_request(HssError::Status(503)), 1);
        assert_eq!(penalties_after_one_request(HssError::Status(504)), 1);
        assert_eq!(penalties_after_one_request(HssError::Timeout), 1);
        assert_eq!(penalties_after_one_request(HssError::Status(500)), 0);
        assert_eq!(penalties_after_one_request(HssError::NotFound), 0);
        assert_eq!(penalties_after_one_request(HssError::Unreachable), 0);
    }
}
