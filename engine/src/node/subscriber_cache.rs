//! The per-shard subscriber cache in front of the HSS-cache API: digest
//! authentication vectors per IMPI and reg-data (registration state and IMS
//! subscription) per IMPU, each with a TTL, dropped early when the control
//! plane says a subscriber changed.
//!
//! How an invalidation reaches a shard: the management thread (which
//! received the control plane's `POST /subscriber-cache/invalidate`) pushes
//! it into each shard's [`InvalidationInbox`] and bumps the inbox's
//! generation; the shard compares that generation (one atomic load) before
//! every lookup and applies what is pending first. So once the management
//! endpoint has answered, the next lookup on every shard sees the change —
//! no message needs to wake a shard, and the management thread, which is not
//! a member of the shard mesh, never writes to the mesh's single-producer
//! queues. A fetch that was in flight when an invalidation arrived is not
//! cached (it may have read the old data).
//!
//! The reg-data PUT of a REGISTER is skipped when the cached entry says
//! REGISTERED after our own `reqtype=reg` for the same IMPI and is fresh.
//! Sprout sends the PUT on every REGISTER and lets Homestead's cache decide
//! not to repeat the Server-Assignment (`hss_reregistration_time`); the
//! control plane is our Homestead, so the same decision is taken one hop
//! earlier, and a PUT that would change nothing is not sent. The entry
//! answers only while the registration it made lasts (the S-CSCF tells the
//! cache its last binding's expiry after each REGISTER): a registration that
//! timed out may have been deregistered (`dereg-timeout`) by another shard's
//! or, on a shared Redis, another node's sweep, so the next REGISTER is sent,
//! as Sprout always sends a first registration. Errors are never cached.

use super::metrics::ShardMetrics;
use crate::hss::{AuthVector, HssError, RegData, RegDataReqType, RegistrationState};
use crate::scscf::HssCache;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Pending invalidations kept at most; beyond, they collapse into "all".
const PENDING_MAX: usize = 10_000;

/// What the control plane said changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// An IMPI's credentials or allowed algorithms.
    Impi(String),
    /// An IMPU's subscription (its IRS, barring, iFCs) or its existence.
    Impu(String),
    /// Everything.
    All,
}

/// One shard's mailbox for invalidations, written by the management thread.
#[derive(Debug, Default)]
pub struct InvalidationInbox {
    generation: AtomicU64,
    pending: Mutex<Vec<Invalidation>>,
}

impl InvalidationInbox {
    /// Queue `items` for the shard; visible to its next lookup.
    pub fn push(&self, items: &[Invalidation]) {
        if let Ok(mut p) = self.pending.lock() {
            if p.len() + items.len() > PENDING_MAX || items.contains(&Invalidation::All) {
                p.clear();
                p.push(Invalidation::All);
            } else {
                p.extend_from_slice(items);
            }
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    #[cfg(test)]
    pub fn pending_for_test(&self) -> Vec<Invalidation> {
        self.pending.lock().map(|p| p.clone()).unwrap_or_default()
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// Cache lifetimes and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriberCacheConfig {
    /// Authentication vectors (0: not cached).
    pub av_ttl_ms: u64,
    /// Reg-data (0: not cached, every REGISTER PUTs).
    pub reg_data_ttl_ms: u64,
    /// Entries per map per shard.
    pub entries_max: usize,
}

impl Default for SubscriberCacheConfig {
    fn default() -> Self {
        Self {
            av_ttl_ms: 300_000,
            reg_data_ttl_ms: 4_800_000,
            entries_max: 50_000,
        }
    }
}

struct AvEntry {
    impu: String,
    av: AuthVector,
    expires_ms: u64,
}

struct RegEntry {
    data: RegData,
    impi: Option<String>,
    /// The state came from our own `reqtype=reg` PUT.
    registered_by_us: bool,
    expires_ms: u64,
    /// When our registration ends unless renewed (its last binding's
    /// expiry, as the S-CSCF said); `None` until it says.
    registration_ends_ms: Option<u64>,
}

impl RegEntry {
    /// Whether the entry may answer at `now_ms`: within its TTL, and, for
    /// our own registration, before that registration ended.
    fn fresh(&self, now_ms: u64) -> bool {
        self.expires_ms > now_ms && self.registration_ends_ms.is_none_or(|end| end > now_ms)
    }
}

/// Entries looked at for an expired one when a full map needs room.
const EVICTION_CANDIDATES: usize = 8;

/// Insert with a size bound. A full map drops one entry for a new key: an
/// expired one among the first few the table yields, else the first — a
/// constant amount of work, so a full cache costs a miss no more than an
/// empty one (sweeping the whole map on every insert cost a scan of
/// `max` entries per miss once the cache was full of live entries).
fn bounded_insert<V>(
    map: &mut HashMap<String, V>,
    key: String,
    value: V,
    max: usize,
    now_ms: u64,
    expires: impl Fn(&V) -> u64,
) {
    if max == 0 {
        return;
    }
    if map.len() >= max && !map.contains_key(&key) {
        let victim = map
            .iter()
            .take(EVICTION_CANDIDATES)
            .find(|(_, v)| expires(v) <= now_ms)
            .or_else(|| map.iter().next())
            .map(|(k, _)| k.clone());
        if let Some(k) = victim {
            map.remove(&k);
        }
    }
    map.insert(key, value);
}

/// An [`HssCache`] that answers from this shard's cache when it can.
pub struct CachedHss<H> {
    pub inner: H,
    cfg: SubscriberCacheConfig,
    inbox: Arc<InvalidationInbox>,
    seen: Cell<u64>,
    avs: RefCell<HashMap<String, AvEntry>>,
    regs: RefCell<HashMap<String, RegEntry>>,
    clock: fn() -> u64,
    /// Lookups answered from the cache.
    pub hits: Cell<u64>,
    /// Where hits are counted for `/metrics` (the shard's counters).
    metrics: Option<Arc<ShardMetrics>>,
}

/// Indexes of [`super::metrics::labels::HSS_ENDPOINTS`].
const AV: usize = 0;
const REG_DATA: usize = 1;

impl<H> CachedHss<H> {
    pub fn new(
        inner: H,
        cfg: SubscriberCacheConfig,
        inbox: Arc<InvalidationInbox>,
        clock: fn() -> u64,
    ) -> Self {
        let seen = Cell::new(inbox.generation());
        Self {
            inner,
            cfg,
            inbox,
            seen,
            avs: RefCell::new(HashMap::new()),
            regs: RefCell::new(HashMap::new()),
            clock,
            hits: Cell::new(0),
            metrics: None,
        }
    }

    /// Count hits in this shard's metrics too.
    pub fn with_metrics(mut self, metrics: Arc<ShardMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Apply pending invalidations. False when they could not be read now
    /// (the management thread holds the lock): then the cache is bypassed.
    fn sync(&self) -> bool {
        let g = self.inbox.generation();
        if g == self.seen.get() {
            return true;
        }
        let Ok(mut pending) = self.inbox.pending.try_lock() else {
            return false;
        };
        let mut avs = self.avs.borrow_mut();
        let mut regs = self.regs.borrow_mut();
        for inv in pending.drain(..) {
            match inv {
                Invalidation::Impi(i) => {
                    avs.remove(&i);
                }
                Invalidation::Impu(u) => {
                    regs.remove(&u);
                }
                Invalidation::All => {
                    avs.clear();
                    regs.clear();
                }
            }
        }
        self.seen.set(g);
        true
    }

    fn hit(&self, endpoint: usize) {
        self.hits.set(self.hits.get() + 1);
        if let Some(m) = &self.metrics {
            m.hss_cache_hits[endpoint].inc();
        }
    }

    fn cached_reg(&self, impu: &str, want: impl Fn(&RegEntry) -> bool) -> Option<RegData> {
        if !self.sync() {
            return None;
        }
        let now = (self.clock)();
        let regs = self.regs.borrow();
        let e = regs.get(impu)?;
        (e.fresh(now) && want(e)).then(|| e.data.clone())
    }

    fn store_reg(&self, generation: u64, impu: &str, entry: RegEntry) {
        if self.cfg.reg_data_ttl_ms == 0 || !self.sync() || self.seen.get() != generation {
            self.regs.borrow_mut().remove(impu);
            return;
        }
        bounded_insert(
            &mut self.regs.borrow_mut(),
            impu.to_owned(),
            entry,
            self.cfg.entries_max,
            (self.clock)(),
            |e| e.expires_ms,
        );
    }
}

impl<H: HssCache> HssCache for CachedHss<H> {
    async fn digest_av(&self, impi: &str, impu: &str) -> Result<AuthVector, HssError> {
        if self.cfg.av_ttl_ms > 0 && self.sync() {
            let now = (self.clock)();
            if let Some(e) = self.avs.borrow().get(impi) {
                if e.impu == impu && e.expires_ms > now {
                    self.hit(AV);
                    return Ok(e.av.clone());
                }
            }
        }
        let generation = self.seen.get();
        let r = self.inner.digest_av(impi, impu).await;
        if let Ok(av) = &r {
            if self.cfg.av_ttl_ms > 0 && self.sync() && self.seen.get() == generation {
                let now = (self.clock)();
                bounded_insert(
                    &mut self.avs.borrow_mut(),
                    impi.to_owned(),
                    AvEntry {
                        impu: impu.to_owned(),
                        av: av.clone(),
                        expires_ms: now + self.cfg.av_ttl_ms,
                    },
                    self.cfg.entries_max,
                    now,
                    |e| e.expires_ms,
                );
            }
        }
        r
    }

    async fn put_reg_data(
        &self,
        impu: &str,
        impi: Option<&str>,
        reqtype: RegDataReqType,
    ) -> Result<RegData, HssError> {
        if reqtype == RegDataReqType::Reg {
            if let Some(d) = self.cached_reg(impu, |e| {
                e.registered_by_us
                    && e.data.state == RegistrationState::Registered
                    && e.impi.as_deref() == impi
            }) {
                self.hit(REG_DATA);
                return Ok(d);
            }
        }
        self.sync();
        let generation = self.seen.get();
        let r = self.inner.put_reg_data(impu, impi, reqtype).await;
        match &r {
            Ok(d) => self.store_reg(
                generation,
                impu,
                RegEntry {
                    data: d.clone(),
                    impi: impi.map(str::to_owned),
                    registered_by_us: reqtype == RegDataReqType::Reg
                        && d.state == RegistrationState::Registered,
                    expires_ms: (self.clock)() + self.cfg.reg_data_ttl_ms,
                    registration_ends_ms: None,
                },
            ),
            // The state at the HSS cache is unknown now.
            Err(_) => {
                self.regs.borrow_mut().remove(impu);
            }
        }
        r
    }

    async fn get_reg_data(&self, impu: &str) -> Result<RegData, HssError> {
        // Only a registered state is answered from the cache: a user not
        // registered here may have registered elsewhere since.
        if let Some(d) = self.cached_reg(impu, |e| e.data.state == RegistrationState::Registered) {
            self.hit(REG_DATA);
            return Ok(d);
        }
        self.sync();
        let generation = self.seen.get();
        let r = self.inner.get_reg_data(impu).await;
        if let Ok(d) = &r {
            if d.state == RegistrationState::Registered {
                let impi = d.subscription.private_id.clone();
                self.store_reg(
                    generation,
                    impu,
                    RegEntry {
                        data: d.clone(),
                        impi,
                        registered_by_us: false,
                        expires_ms: (self.clock)() + self.cfg.reg_data_ttl_ms,
                        registration_ends_ms: None,
                    },
                );
            }
        }
        r
    }

    fn registered_until(&self, impu: &str, until_ms: u64) {
        if let Some(e) = self.regs.borrow_mut().get_mut(impu) {
            if e.registered_by_us {
                e.registration_ends_ms = Some(until_ms);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hss::{ImsSubscription, PublicIdentity, ServiceProfile};
    use std::sync::atomic::AtomicU64 as Clock;

    static NOW: Clock = Clock::new(1_000_000);

    fn now() -> u64 {
        NOW.load(Ordering::SeqCst)
    }

    #[derive(Default)]
    struct Counting {
        calls: Cell<u32>,
        fail: Cell<bool>,
        password_version: Cell<u32>,
    }

    fn reg(state: RegistrationState) -> RegData {
        RegData {
            state,
            subscription: ImsSubscription {
                private_id: Some("u@example.com".into()),
                service_profiles: vec![ServiceProfile {
                    public_identities: vec![PublicIdentity {
                        identity: "sip:u@example.com".into(),
                        barred: false,
                    }],
                    initial_filter_criteria_xml: vec![],
                }],
            },
        }
    }

    impl HssCache for Counting {
        async fn digest_av(&self, _impi: &str, _impu: &str) -> Result<AuthVector, HssError> {
            self.calls.set(self.calls.get() + 1);
            if self.fail.get() {
                return Err(HssError::Status(503));
            }
            Ok(AuthVector {
                ha1: format!("{:032x}", self.password_version.get()),
                realm: "example.com".into(),
                qop: "auth".into(),
                algorithms: vec![],
            })
        }
        async fn put_reg_data(
            &self,
            _impu: &str,
            _impi: Option<&str>,
            reqtype: RegDataReqType,
        ) -> Result<RegData, HssError> {
            self.calls.set(self.calls.get() + 1);
            if self.fail.get() {
                return Err(HssError::Timeout);
            }
            Ok(reg(match reqtype {
                RegDataReqType::Reg => RegistrationState::Registered,
                _ => RegistrationState::Unregistered,
            }))
        }
        async fn get_reg_data(&self, _impu: &str) -> Result<RegData, HssError> {
            self.calls.set(self.calls.get() + 1);
            Ok(reg(RegistrationState::Registered))
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::pin::pin!(f).as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the stand-in never waits"),
        }
    }

    fn cache(cfg: SubscriberCacheConfig) -> (CachedHss<Counting>, Arc<InvalidationInbox>) {
        let inbox = Arc::new(InvalidationInbox::default());
        (
            CachedHss::new(Counting::default(), cfg, Arc::clone(&inbox), now),
            inbox,
        )
    }

    const IMPI: &str = "u@example.com";
    const IMPU: &str = "sip:u@example.com";

    #[test]
    fn a_second_av_fetch_is_a_hit_until_invalidated() {
        let (c, inbox) = cache(SubscriberCacheConfig::default());
        let first = block_on(c.digest_av(IMPI, IMPU)).unwrap();
        assert_eq!(block_on(c.digest_av(IMPI, IMPU)).unwrap(), first);
        assert_eq!(c.inner.calls.get(), 1);
        assert_eq!(c.hits.get(), 1);
        // Another IMPU for the same IMPI is asked again (the answer depends on it).
        block_on(c.digest_av(IMPI, "sip:other@example.com")).unwrap();
        assert_eq!(c.inner.calls.get(), 2);
        c.inner.password_version.set(7);
        inbox.push(&[Invalidation::Impi(IMPI.into())]);
        let after = block_on(c.digest_av(IMPI, "sip:other@example.com")).unwrap();
        assert_eq!(c.inner.calls.get(), 3);
        assert_eq!(after.ha1, format!("{:032x}", 7));
    }

    #[test]
    fn errors_are_never_cached() {
        let (c, _) = cache(SubscriberCacheConfig::default());
        c.inner.fail.set(true);
        assert_eq!(
            block_on(c.digest_av(IMPI, IMPU)).map_err(|e| e.sip_status()),
            Err(504)
        );
        assert_eq!(
            block_on(c.put_reg_data(IMPU, Some(IMPI), RegDataReqType::Reg))
                .map_err(|e| e.sip_status()),
            Err(504)
        );
        c.inner.fail.set(false);
        block_on(c.digest_av(IMPI, IMPU)).unwrap();
        block_on(c.put_reg_data(IMPU, Some(IMPI), RegDataReqType::Reg)).unwrap();
        assert_eq!(c.inner.calls.get(), 4);
        assert_eq!(c.hits.get(), 0);
    }

    #[test]
    fn a_reregistration_skips_the_put_while_fresh() {
        let (c, inbox) = cache(SubscriberCacheConfig {
            reg_data_ttl_ms: 10_000,
            ..SubscriberCacheConfig::default()
        });
        block_on(c.put_reg_data(IMPU, Some(IMPI), RegDataReqType::Reg)).unwrap();
        let again = block_on(c.put_reg_data(IMPU, Some(IMPI), RegDataReqType::Reg)).unwrap();
        assert_eq!(again.state, RegistrationState::Registered);
        assert_eq!(c.inner.calls.get(), 1, "the second PUT came from the cache");
        // Another IMPI registering the same IMPU is sent.
        block_on(c.put_reg_data(IMPU, Some("v@example.com"), RegDataReqType::Reg)).unwrap();
        assert_eq!(c.inner.calls.get(), 2);
        // Expiry of the entry.
        NOW.fetch_add(10_001, Ordering::SeqCst);
        block_on(c.put_reg_data(IMPU, Some("v@example.com"), RegDataReqType::Reg)).unwrap();
        assert_eq!(c.inner.calls.get(), 3);
        // An invalidation of the IMPU.
        inbox.push(&[Invalidation::Impu(IMPU.into())]);
        block_on(c.put_reg_data(IMPU, Some("v@example.com"), RegDataReqType::Reg)).unwrap();
        assert_eq!(c.inner.calls.get(), 4);
        // A deregistration is always sent, and the next registration too.
        block_on(c.put_reg_data(IMPU, Some("v@example.com"), RegDataReqType::DeregUser)).unwrap();
        block_on(c.put_reg_data(IMPU, Some("v@example.com"), RegDataReqType::Reg)).unwrap();
        assert_eq!(c.inner.calls.get(), 6);
        // Terminating lookups use the registered state.
        block_on(c.get_reg_data(IMPU)).unwrap();
        assert_eq!(c.inner.calls.get(), 6);
        inbox.push(&[Invalidation::All]);
        block_on(c.get_reg_data(IMPU)).unwrap();
        assert_eq!(c.inner.calls.get(), 7);
    }

    /// A clock of its own, so other tests moving theirs cannot race it.
    static ENDS_NOW: Clock = Clock::new(1_000_000);

    fn ends_now() -> u64 {
        ENDS_NOW.load(Ordering::SeqCst)
    }

    #[test]
    fn our_registration_is_answered_from_the_cache_only_until_it_ends() {
        let inbox = Arc::new(InvalidationInbox::default());
        let c = CachedHss::new(
            Counting::default(),
            SubscriberCacheConfig::default(),
            inbox,
            ends_now,
        );
        block_on(c.put_reg_data(IMPU, Some(IMPI), RegDataReqType::Reg)).unwrap();
        c.registered_until(IMPU, ends_now() + 300_000);
        // A re-registration within the registration: from the cache; it
        // renews the registration.
        ENDS_NOW.fetch_add(150_000, Ordering::SeqCst);
        block_on(c.put_reg_data(IMPU, Some(IMPI), RegDataReqType::Reg)).unwrap();
        assert_eq!(c.inner.calls.get(), 1);
        c.registered_until(IMPU, ends_now() + 300_000);
        ENDS_NOW.fetch_add(299_999, Ordering::SeqCst);
        block_on(c.get_reg_data(IMPU)).unwrap();
        assert_eq!(c.inner.calls.get(), 1);
        // Timed out (a sweep elsewhere told the HSS cache): the next
        // REGISTER and terminating lookup ask again.
        ENDS_NOW.fetch_add(1, Ordering::SeqCst);
        block_on(c.put_reg_data(IMPU, Some(IMPI), RegDataReqType::Reg)).unwrap();
        assert_eq!(c.inner.calls.get(), 2);
        ENDS_NOW.fetch_add(1, Ordering::SeqCst);
        c.registered_until(IMPU, ends_now() - 1);
        block_on(c.get_reg_data(IMPU)).unwrap();
        assert_eq!(c.inner.calls.get(), 3);
        // A state someone else's GET brought is not ours to end.
        c.registered_until(IMPU, 0);
        block_on(c.get_reg_data(IMPU)).unwrap();
        assert_eq!(c.inner.calls.get(), 3);
    }

    #[test]
    fn ttl_zero_turns_caching_off_and_the_size_is_bounded() {
        let (c, _) = cache(SubscriberCacheConfig {
            av_ttl_ms: 0,
            reg_data_ttl_ms: 0,
            entries_max: 10,
        });
        block_on(c.digest_av(IMPI, IMPU)).unwrap();
        block_on(c.digest_av(IMPI, IMPU)).unwrap();
        block_on(c.put_reg_data(IMPU, Some(IMPI), RegDataReqType::Reg)).unwrap();
        block_on(c.put_reg_data(IMPU, Some(IMPI), RegDataReqType::Reg)).unwrap();
        assert_eq!(c.inner.calls.get(), 4);
        let (c, _) = cache(SubscriberCacheConfig {
            entries_max: 3,
            ..SubscriberCacheConfig::default()
        });
        for i in 0..10 {
            block_on(c.digest_av(&format!("u{i}@example.com"), IMPU)).unwrap();
        }
        assert_eq!(c.avs.borrow().len(), 3);
    }

    #[test]
    fn many_pending_invalidations_collapse_into_all() {
        let inbox = InvalidationInbox::default();
        let many: Vec<Invalidation> = (0..PENDING_MAX + 1)
            .map(|i| Invalidation::Impi(i.to_string()))
            .collect();
        inbox.push(&many);
        assert_eq!(*inbox.pending.lock().unwrap(), vec![Invalidation::All]);
        assert_eq!(inbox.generation(), 1);
    }

    #[test]
    fn a_full_map_drops_an_expired_entry_first_and_stays_at_its_bound() {
        let mut map: HashMap<String, u64> = HashMap::new();
        let expires = |v: &u64| *v;
        for (k, exp) in [("a", 100), ("b", 5), ("c", 100)] {
            bounded_insert(&mut map, k.into(), exp, 3, 0, expires);
        }
        // At time 10, "b" has expired: it makes room for "d".
        bounded_insert(&mut map, "d".into(), 100, 3, 10, expires);
        let mut keys: Vec<_> = map.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["a", "c", "d"]);
        // All live: one of them goes, the new one is in, the bound holds.
        bounded_insert(&mut map, "e".into(), 100, 3, 10, expires);
        assert_eq!(map.len(), 3);
        assert!(map.contains_key("e"));
        // A key already there is replaced without eviction.
        let before: Vec<_> = map.keys().cloned().collect();
        bounded_insert(&mut map, "e".into(), 200, 3, 10, expires);
        let mut after: Vec<_> = map.keys().cloned().collect();
        let mut before = before;
        before.sort();
        after.sort();
        assert_eq!(before, after);
        assert_eq!(map["e"], 200);
        // A bound of 0 caches nothing.
        let mut none: HashMap<String, u64> = HashMap::new();
        bounded_insert(&mut none, "x".into(), 1, 0, 0, expires);
        assert!(none.is_empty());
    }
}
