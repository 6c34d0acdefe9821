//! Registration expiry on the Redis store with two engine nodes sharing one
//! Redis (`RIPTIDE_TEST_REDIS_URL`, started by `scripts/services.sh`) and the
//! real control plane as their HSS cache: `riptide all-in-one` is node A,
//! a second `riptide` on A's HSS cache is node B. A user registers through A
//! for 2 s; when the registration times out, exactly one of the two nodes
//! removes the AoR, counts it and tells the HSS cache (`dereg-timeout`), and
//! the control plane's registration state goes back to UNREGISTERED (as
//! Homestead without an HSS leaves a user the network deregistered). A new
//! registration then makes it REGISTERED again.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use engine::node::app::owner_shard;
use futures_lite::future::block_on;
use futures_lite::io::AssertAsync;
use stores::redis::{RedisStore, RedisStoreConfig, Value, expiry_bucket, parse_redis_url};
use support::{Riptide, Ue, all_in_one, data_dir, demo_users, http, scrape, sum};

/// The Redis keys the nodes share, read directly (a blocking connection:
/// one command at a time from the test thread).
struct SharedRedis(RedisStore<AssertAsync<TcpStream>>);

impl SharedRedis {
    fn connect(url: &str, key_prefix: &str) -> SharedRedis {
        let addr = parse_redis_url(url).unwrap();
        let stream = TcpStream::connect(addr.host_port()).unwrap();
        let config = RedisStoreConfig {
            key_prefix: key_prefix.to_owned(),
        };
        let mut store = RedisStore::new(AssertAsync::new(stream), config).unwrap();
        if addr.db != 0 {
            let db = addr.db.to_string();
            block_on(store.connection_mut().command(&[b"SELECT", db.as_bytes()])).unwrap();
        }
        SharedRedis(store)
    }

    fn command(&mut self, args: &[&[u8]]) -> Value {
        block_on(self.0.connection_mut().command(args)).unwrap()
    }

    /// Whether the AoR's record is in Redis (expired and kept, or not).
    fn aor_stored(&mut self, aor: &str) -> bool {
        let key = self.0.redis_key(format!("aor:{aor}").as_bytes());
        self.command(&[b"EXISTS", &key]) == Value::Integer(1)
    }

    /// The AoR's score in the expiry index, if it is there.
    fn indexed_at(&mut self, aor: &str) -> Option<u64> {
        let key = format!("aor:{aor}").into_bytes();
        let index_key = self.0.expiry_index_key(expiry_bucket(&key));
        match self.command(&[b"ZSCORE", &index_key, &key]) {
            Value::Bulk(score) => std::str::from_utf8(&score).ok()?.parse().ok(),
            _ => None,
        }
    }
}

/// `RegistrationState` of the IMPU at the HSS cache.
fn registration_state(hss: SocketAddr, impu: &str) -> String {
    let (status, body) = http(hss, "GET", &format!("/impu/{impu}/reg-data"), "");
    assert_eq!(status, 200, "{body}");
    let start = body.find("<RegistrationState>").unwrap() + "<RegistrationState>".len();
    let len = body[start..].find('<').unwrap();
    body[start..start + len].to_owned()
}

/// The sum of a counter over both nodes.
fn total(nodes: &[&Riptide], name: &str, want: &[(&str, &str)]) -> u64 {
    nodes.iter().map(|n| sum(&scrape(n), name, want)).sum()
}

#[test]
fn a_registration_that_times_out_is_reported_once_by_two_nodes_on_one_redis() {
    let Ok(url) = std::env::var("RIPTIDE_TEST_REDIS_URL") else {
        eprintln!("RIPTIDE_TEST_REDIS_URL unset: skipping (run `source scripts/services.sh`)");
        return;
    };
    let dir_a = data_dir("redis-expiry-a");
    let prefix = format!("test-{}:", dir_a.file_name().unwrap().to_str().unwrap());
    let redis_flags = [
        "--redis".to_owned(),
        url.clone(),
        "--redis-key-prefix".to_owned(),
        prefix.clone(),
    ];
    let a = all_in_one(&dir_a, &redis_flags);
    let hss = a.listening["hss"];
    let dir_b = data_dir("redis-expiry-b");
    let hss_flag = hss.to_string();
    let mut b_flags = vec![
        "--shards",
        "2",
        "--hss",
        &hss_flag,
        "--data-dir",
        dir_b.to_str().unwrap(),
    ];
    b_flags.extend(redis_flags.iter().map(String::as_str));
    let b = Riptide::start(&b_flags);
    let nodes = [&a, &b];
    let mut redis = SharedRedis::connect(&url, &prefix);

    // A user whose AoR another shard sweeps than the one that registers it
    // (on either node), so the dereg-timeout does not pass through the
    // registering shard's subscriber cache.
    let (user, impu) = demo_users(&dir_a)
        .into_iter()
        .map(|u| {
            let impu = format!("sip:{}@{}", u.0, u.2);
            (u, impu)
        })
        .find(|(_, impu)| {
            let bucket = expiry_bucket(format!("aor:{impu}").as_bytes());
            owner_shard(impu, 2) != usize::from(bucket) % 2
        })
        .unwrap();
    assert_eq!(registration_state(hss, &impu), "NOT_REGISTERED");
    let ue = Ue::new(a.sip);
    let contact = format!("<sip:{}@{}>", user.0, ue.socket.local_addr().unwrap());
    let ok = ue.register_expiring(&user, &[contact], 2);
    let text = String::from_utf8_lossy(ok.buffer()).into_owned();
    assert!(text.contains(";expires=2"), "{text}");
    // The write indexed the AoR at its binding's expiry, and Redis keeps
    // its key longer than that (or it has expired and been swept already).
    let indexed = redis.indexed_at(&impu);
    assert!(
        indexed.is_some() || registration_state(hss, &impu) == "UNREGISTERED",
        "the registration was not indexed for expiry"
    );

    // Polled, with a bound: the AoR is swept within a second or two of its
    // expiry.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = registration_state(hss, &impu) == "UNREGISTERED"
            && total(&nodes, "riptide_store_expired_records_total", &[]) >= 1
            && redis.indexed_at(&impu).is_none()
            && !redis.aor_stored(&impu);
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the registration did not time out: state {}, expired {}, indexed {:?}, stored {}",
            registration_state(hss, &impu),
            total(&nodes, "riptide_store_expired_records_total", &[]),
            redis.indexed_at(&impu),
            redis.aor_stored(&impu)
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Gone from the index and from Redis, the AoR can be swept no more: what
    // the nodes counted and sent is final. One expired record between them,
    // and one dereg-timeout beside the REGISTER's own reg-data PUT, taken
    // without an error (a second deregistration would have been refused).
    assert_eq!(total(&nodes, "riptide_store_expired_records_total", &[]), 1);
    assert_eq!(
        total(
            &nodes,
            "riptide_hss_requests_total",
            &[("endpoint", "reg-data")]
        ),
        2
    );
    assert_eq!(
        total(
            &nodes,
            "riptide_hss_failures_total",
            &[("endpoint", "reg-data")]
        ),
        0
    );
    // The user is not registered anywhere: the AoR reads empty on both.
    for node in nodes {
        let (status, body) = http(
            node.management,
            "GET",
            &format!("/impu/{impu}/bindings"),
            "",
        );
        assert_eq!(status, 200, "{body}");
        let bindings: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(bindings["bindings"], serde_json::json!({}), "{body}");
    }

    // Registering again reaches the HSS cache, though the registering
    // shard's cache still remembers the first registration: that one ended.
    // (A new UE socket: the same one would repeat the first REGISTER's
    // branches, and the transactions would answer them as retransmissions.)
    let ue = Ue::new(a.sip);
    let contact = format!("<sip:{}@{}>", user.0, ue.socket.local_addr().unwrap());
    ue.register_expiring(&user, &[contact], 300);
    assert_eq!(registration_state(hss, &impu), "REGISTERED");
}
