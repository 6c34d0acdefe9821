//! The metrics work one authenticated registration (REGISTER → 401,
//! REGISTER → 200) adds on its shard, done with the engine's own metric
//! types: two requests counted and given a timing record that rides in the
//! transaction, two responses counted and their latencies recorded, the
//! register outcome, two metered HSS-cache calls and five metered store
//! operations (on stand-ins that answer at once). The same loop without the
//! metrics is the baseline; the difference is what metrics cost.
//!
//! `cargo run --release -p engine --example metrics_cost`

use engine::auth::Challenge;
use engine::hss::{
    AuthVector, HssError, ImsSubscription, RegData, RegDataReqType, RegistrationState,
};
use engine::node::metrics::labels::class_index;
use engine::node::metrics::local::ShardRecorder;
use engine::node::metrics::metered::{MeteredHss, MeteredStore};
use engine::node::metrics::txn::TxnOrigin;
use engine::node::metrics::{ShardMetrics, method_index};
use engine::registrar::Aor;
use engine::roles::status_of as status_of_response_bytes;
use engine::scscf::{BindingStore, HssCache, StoreError, Versioned};
use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;

const ITERATIONS: u64 = 1_000_000;

struct Hss;

impl HssCache for Hss {
    async fn digest_av(&self, _: &str, _: &str) -> Result<AuthVector, HssError> {
        Err(HssError::NotFound)
    }
    async fn put_reg_data(
        &self,
        _: &str,
        _: Option<&str>,
        _: RegDataReqType,
    ) -> Result<RegData, HssError> {
        Ok(RegData {
            state: RegistrationState::Registered,
            subscription: ImsSubscription::default(),
        })
    }
    async fn get_reg_data(&self, _: &str) -> Result<RegData, HssError> {
        Err(HssError::NotFound)
    }
}

struct Store;

impl BindingStore for Store {
    async fn get_aor(&self, _: &str) -> Result<Versioned<Aor>, StoreError> {
        Ok(Versioned {
            value: Aor::default(),
            version: 0,
        })
    }
    async fn set_aor(&self, _: &str, _: &Aor, _: u64) -> Result<bool, StoreError> {
        Ok(true)
    }
    async fn put_challenge(&self, _: &str, _: &Challenge, _: u64) -> Result<bool, StoreError> {
        Ok(true)
    }
    async fn get_challenge(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Option<Versioned<Challenge>>, StoreError> {
        Ok(None)
    }
}

/// One registration's dependency calls, through `hss` and `store`.
async fn calls<H: HssCache, S: BindingStore>(hss: &H, store: &S, ch: &Challenge, aor: &Aor) {
    let _ = black_box(hss.digest_av("i", "u").await);
    let _ = black_box(hss.put_reg_data("u", Some("i"), RegDataReqType::Reg).await);
    let _ = black_box(store.get_challenge("i", "n").await);
    let _ = black_box(store.put_challenge("i", ch, 0).await);
    let _ = black_box(store.put_challenge("i", ch, 1).await);
    let _ = black_box(store.get_aor("u").await);
    let _ = black_box(store.set_aor("u", aor, 0).await);
}

fn main() {
    let shared = Arc::new(ShardMetrics::new(0));
    let rec = Rc::new(ShardRecorder::new(Arc::clone(&shared)));
    let hss = MeteredHss {
        inner: Hss,
        metrics: Rc::clone(&rec),
        penalties: Rc::default(),
    };
    let store = MeteredStore {
        inner: Store,
        metrics: Rc::clone(&rec),
    };
    let origin = shards::Origin {
        transport: shards::Transport::Udp,
        local: std::net::SocketAddr::from(([127, 0, 0, 1], 5060)),
        peer: std::net::SocketAddr::from(([127, 0, 0, 1], 5070)),
        conn: None,
    };
    let clock = shards::Clock::new();
    let responses: [&[u8]; 2] = [b"SIP/2.0 401 Unauthorized\r\n", b"SIP/2.0 200 OK\r\n"];
    let aor = Aor::default();
    let ch = Challenge::new([0; 24], "r", "h", sip_fastpath::digest::Algorithm::Md5, 0);

    let bare = std::time::Instant::now();
    futures_lite::future::block_on(async {
        for _ in 0..ITERATIONS {
            for _ in responses {
                black_box((origin, clock.now_us()));
            }
            calls(&Hss, &Store, &ch, &aor).await;
        }
    });
    let bare_ns = bare.elapsed().as_nanos() as f64 / ITERATIONS as f64;

    let metered = std::time::Instant::now();
    futures_lite::future::block_on(async {
        for _ in 0..ITERATIONS {
            for response in responses {
                let m = method_index(Some(sip_fastpath::Method::Register));
                shared.requests_in[m].inc();
                let txn = TxnOrigin::new(origin, clock.now_us(), m, None);
                let in_core = black_box(txn.clone());
                if let Some(status) = status_of_response_bytes(black_box(response)) {
                    in_core.meta.on_sent(status, clock.now_us(), &rec.local);
                    if let Some(c) = class_index(status) {
                        shared.responses_out[c].inc();
                    }
                }
            }
            calls(&hss, &store, &ch, &aor).await;
            shared.digest_auth.record(true);
            shared.registrations[0].record(true);
        }
    });
    let metered_ns = metered.elapsed().as_nanos() as f64 / ITERATIONS as f64;
    rec.local.publish(&shared);
    println!(
        "per registration: {bare_ns:.0} ns without metrics, {metered_ns:.0} ns with: metrics cost {:.0} ns",
        metered_ns - bare_ns
    );
}
