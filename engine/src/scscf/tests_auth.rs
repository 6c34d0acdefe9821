//! Authentication at the S-CSCF: SHA-256 alongside MD5 (RFC 7616, RFC 8760),
//! `authentication=Y`, and REGISTERs answered from the per-shard subscriber
//! cache — over in-memory stand-ins for the HSS cache and the store.

use super::test_support::{MemStore as Store, RegisteringUe, block_on, status};
use std::cell::{Cell, RefCell};
use std::sync::Arc;

use sip_fastpath::digest::{Algorithm, ResponseInput, ha1, response};
use sip_fastpath::{AuthParams, HeaderName, Message};

use super::{HssCache, Scscf, ScscfConfig};
use crate::hss::{
    AuthVector, HssError, ImsSubscription, PublicIdentity, RegData, RegDataReqType,
    RegistrationState, ServiceProfile,
};
use crate::node::subscriber_cache::{
    CachedHss, Invalidation, InvalidationInbox, SubscriberCacheConfig,
};
use crate::roles::{Decision, RequestContext, Role};

const IMPU: &str = "sip:6505550002@example.com";
const IMPI: &str = "6505550002@example.com";
const REALM: &str = "example.com";

fn ha1_of(alg: Algorithm, password: &str) -> String {
    ha1(alg, IMPI.as_bytes(), REALM.as_bytes(), password.as_bytes())
        .as_str()
        .to_owned()
}

/// An HSS cache whose subscriber may use `algorithms` (empty: Homestead's
/// answer, MD5 only), counting every request.
struct Hss {
    password: RefCell<String>,
    algorithms: RefCell<Vec<Algorithm>>,
    requests: Cell<u32>,
    puts: RefCell<Vec<RegDataReqType>>,
    fail: RefCell<Option<HssError>>,
}

impl Hss {
    fn new(algorithms: &[Algorithm]) -> Hss {
        Hss {
            password: RefCell::new("secret".into()),
            algorithms: RefCell::new(algorithms.to_vec()),
            requests: Cell::new(0),
            puts: RefCell::new(Vec::new()),
            fail: RefCell::new(None),
        }
    }

    fn reg_data(state: RegistrationState) -> RegData {
        RegData {
            state,
            subscription: ImsSubscription {
                private_id: Some(IMPI.into()),
                service_profiles: vec![ServiceProfile {
                    public_identities: vec![PublicIdentity {
                        identity: IMPU.into(),
                        barred: false,
                    }],
                    initial_filter_criteria_xml: vec![],
                }],
            },
        }
    }
}

impl HssCache for Hss {
    async fn digest_av(&self, impi: &str, _impu: &str) -> Result<AuthVector, HssError> {
        self.requests.set(self.requests.get() + 1);
        if let Some(e) = self.fail.borrow().clone() {
            return Err(e);
        }
        if impi != IMPI {
            return Err(HssError::NotFound);
        }
        let pw = self.password.borrow().clone();
        Ok(AuthVector {
            ha1: ha1_of(Algorithm::Md5, &pw),
            realm: REALM.into(),
            qop: "auth".into(),
            // As the control plane lists them: in the order stored (MD5 first here).
            algorithms: self
                .algorithms
                .borrow()
                .iter()
                .map(|a| (*a, ha1_of(*a, &pw)))
                .collect(),
        })
    }

    async fn put_reg_data(
        &self,
        _impu: &str,
        _impi: Option<&str>,
        reqtype: RegDataReqType,
    ) -> Result<RegData, HssError> {
        self.requests.set(self.requests.get() + 1);
        self.puts.borrow_mut().push(reqtype);
        if let Some(e) = self.fail.borrow().clone() {
            return Err(e);
        }
        Ok(Self::reg_data(match reqtype {
            RegDataReqType::Reg => RegistrationState::Registered,
            _ => RegistrationState::Unregistered,
        }))
    }

    async fn get_reg_data(&self, _impu: &str) -> Result<RegData, HssError> {
        self.requests.set(self.requests.get() + 1);
        Ok(Self::reg_data(RegistrationState::Registered))
    }
}

const CTX: RequestContext = RequestContext {
    now_ms: 1_700_000_000_000,
};

fn register(cseq: u32, authorization: Option<&str>) -> Message {
    let ue = RegisteringUe {
        impu: IMPU,
        contact: "sip:6505550002@10.0.0.2:5060",
        call_id: "auth-call",
        extra: "",
    };
    ue.register(cseq, authorization)
}

/// The WWW-Authenticate values of a 401, in order.
fn challenges(d: &Decision) -> Vec<String> {
    let Decision::Respond {
        status: 401,
        headers,
        ..
    } = d
    else {
        panic!("expected a 401, got {d:?}");
    };
    headers
        .iter()
        .filter(|(n, _)| *n == HeaderName::WwwAuthenticate)
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .collect()
}

fn param(www: &str, name: &[u8]) -> String {
    let p = AuthParams::parse(www.as_bytes()).expect("parses");
    String::from_utf8_lossy(p.get(name).expect("parameter")).into_owned()
}

/// What a UE sends for challenge `www`, computing with `alg` and `password`.
fn answer(www: &str, alg: Algorithm, password: &str) -> String {
    let nonce = param(www, b"nonce");
    let h = ha1(alg, IMPI.as_bytes(), REALM.as_bytes(), password.as_bytes());
    let r = response(
        alg,
        h.as_bytes(),
        &ResponseInput {
            method: b"REGISTER",
            uri: b"sip:example.com",
            nonce: nonce.as_bytes(),
            qop: Some((b"00000001", b"c0ffee", b"auth")),
        },
    );
    format!(
        "Digest username=\"{IMPI}\",realm=\"{REALM}\",nonce=\"{nonce}\",uri=\"sip:example.com\",response=\"{}\",algorithm={},cnonce=\"c0ffee\",qop=auth,nc=00000001",
        r.as_str(),
        alg.as_str()
    )
}

fn scscf<H: HssCache>(hss: H) -> Scscf<H, Store> {
    Scscf {
        hss,
        store: Store::default(),
        cfg: ScscfConfig::default(),
    }
}

#[test]
fn a_sha256_subscriber_gets_sha256_first_then_md5_and_may_answer_either() {
    for (pick, alg) in [(0, Algorithm::Sha256), (1, Algorithm::Md5)] {
        let s = scscf(Hss::new(&[Algorithm::Md5, Algorithm::Sha256]));
        let first = block_on(s.on_request(&register(1, None), &CTX));
        let www = challenges(&first);
        assert_eq!(www.len(), 2);
        assert_eq!(param(&www[0], b"algorithm"), "SHA-256");
        assert_eq!(param(&www[1], b"algorithm"), "MD5");
        assert!(
            www.iter()
                .all(|w| w.starts_with("Digest realm=\"example.com\",nonce=\"")
                    && w.ends_with(",qop=\"auth\""))
        );
        assert_ne!(param(&www[0], b"nonce"), param(&www[1], b"nonce"));
        let auth = answer(&www[pick], alg, "secret");
        let second = block_on(s.on_request(&register(2, Some(&auth)), &CTX));
        assert_eq!(status(&second), 200, "answered with {}", alg.as_str());
        assert_eq!(s.hss.puts.borrow().as_slice(), &[RegDataReqType::Reg]);
    }
}

#[test]
fn an_md5_only_subscriber_gets_one_md5_challenge_and_sha256_is_403() {
    let s = scscf(Hss::new(&[]));
    let www = challenges(&block_on(s.on_request(&register(1, None), &CTX)));
    assert_eq!(www.len(), 1);
    assert_eq!(param(&www[0], b"algorithm"), "MD5");
    let sha = answer(&www[0], Algorithm::Sha256, "secret");
    let d = block_on(s.on_request(&register(2, Some(&sha)), &CTX));
    assert_eq!(status(&d), 403);
    assert_eq!(
        s.hss.puts.borrow().as_slice(),
        &[RegDataReqType::DeregAuthFailure]
    );
}

#[test]
fn a_sha256_only_subscriber_may_not_fall_back_to_md5() {
    let s = scscf(Hss::new(&[Algorithm::Sha256]));
    let www = challenges(&block_on(s.on_request(&register(1, None), &CTX)));
    assert_eq!(www.len(), 1);
    assert_eq!(param(&www[0], b"algorithm"), "SHA-256");
    let md5 = answer(&www[0], Algorithm::Md5, "secret");
    assert_eq!(
        status(&block_on(s.on_request(&register(2, Some(&md5)), &CTX))),
        403
    );
    let wrong = answer(&www[0], Algorithm::Sha256, "guess");
    assert_eq!(
        status(&block_on(s.on_request(&register(3, Some(&wrong)), &CTX))),
        403
    );
}

#[test]
fn an_unknown_nonce_is_challenged_again_with_every_algorithm_stale() {
    let s = scscf(Hss::new(&[Algorithm::Sha256, Algorithm::Md5]));
    let www = challenges(&block_on(s.on_request(&register(1, None), &CTX)));
    let auth = answer(&www[0], Algorithm::Sha256, "secret").replace(
        &param(&www[0], b"nonce"),
        "00000000000000000000000000000000",
    );
    let again = challenges(&block_on(s.on_request(&register(2, Some(&auth)), &CTX)));
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|w| w.ends_with(",stale=TRUE")));
    assert_eq!(param(&again[0], b"algorithm"), "SHA-256");
}

/// Two REGISTERs answering the same challenge at once: the one whose write
/// of the used challenge loses is challenged again (stale), and registers
/// nothing.
#[test]
fn a_nonce_used_concurrently_lets_only_one_register_through() {
    let s = scscf(Hss::new(&[Algorithm::Sha256, Algorithm::Md5]));
    let www = challenges(&block_on(s.on_request(&register(1, None), &CTX)));
    let auth = answer(&www[0], Algorithm::Sha256, "secret");
    s.store.concurrent_use.set(true);
    let again = challenges(&block_on(s.on_request(&register(2, Some(&auth)), &CTX)));
    assert_eq!(again.len(), 2);
    assert!(
        again.iter().all(|w| w.ends_with(",stale=TRUE")),
        "{again:?}"
    );
    assert!(s.store.aors.borrow().is_empty());
    s.store.concurrent_use.set(false);
    let www = challenges(&block_on(s.on_request(&register(3, None), &CTX)));
    let auth = answer(&www[0], Algorithm::Sha256, "secret");
    assert_eq!(
        status(&block_on(s.on_request(&register(4, Some(&auth)), &CTX))),
        200
    );
}

#[test]
fn authentication_y_accepts_a_register_without_credentials() {
    let mut s = scscf(Hss::new(&[]));
    s.cfg.accept_all_registers = true;
    let d = block_on(s.on_request(&register(1, None), &CTX));
    assert_eq!(status(&d), 200);
    assert_eq!(s.hss.puts.borrow().as_slice(), &[RegDataReqType::Reg]);
    assert_eq!(
        s.hss.requests.get(),
        1,
        "no authentication vector was asked for"
    );
    assert_eq!(
        s.store
            .aors
            .borrow()
            .get(IMPU)
            .map(|a| a.value.bindings.len()),
        Some(1)
    );
}

fn clock() -> u64 {
    CTX.now_ms
}

/// Challenge, answer: the status of the authenticated REGISTER.
fn register_once<H: HssCache>(s: &Scscf<H, Store>, cseq: u32, password: &str) -> u16 {
    let www = challenges(&block_on(s.on_request(&register(cseq, None), &CTX)));
    let auth = answer(&www[0], Algorithm::Sha256, password);
    status(&block_on(
        s.on_request(&register(cseq + 1, Some(&auth)), &CTX),
    ))
}

#[test]
fn a_cached_reregistration_asks_the_hss_nothing_until_invalidated() {
    let inbox = Arc::new(InvalidationInbox::default());
    let s = scscf(CachedHss::new(
        Hss::new(&[Algorithm::Sha256]),
        SubscriberCacheConfig::default(),
        Arc::clone(&inbox),
        clock,
    ));
    assert_eq!(register_once(&s, 1, "secret"), 200);
    assert_eq!(s.hss.inner.requests.get(), 2, "av, then the reg-data PUT");
    assert_eq!(register_once(&s, 3, "secret"), 200);
    assert_eq!(
        s.hss.inner.requests.get(),
        2,
        "the re-registration came from the cache"
    );
    // The password changes and the control plane says so: the old one fails.
    *s.hss.inner.password.borrow_mut() = "changed".into();
    inbox.push(&[Invalidation::Impi(IMPI.into())]);
    assert_eq!(register_once(&s, 5, "secret"), 403);
    assert_eq!(
        s.hss.inner.requests.get(),
        4,
        "av again, and the auth-failure PUT"
    );
    assert_eq!(register_once(&s, 7, "changed"), 200);
    // Allowed algorithms change: MD5 only now.
    *s.hss.inner.algorithms.borrow_mut() = vec![Algorithm::Md5];
    inbox.push(&[Invalidation::Impi(IMPI.into())]);
    let www = challenges(&block_on(s.on_request(&register(9, None), &CTX)));
    assert_eq!(www.len(), 1);
    assert_eq!(param(&www[0], b"algorithm"), "MD5");
}

#[test]
fn hss_errors_map_as_sprouts_and_are_never_cached() {
    let inbox = Arc::new(InvalidationInbox::default());
    let s = scscf(CachedHss::new(
        Hss::new(&[]),
        SubscriberCacheConfig::default(),
        inbox,
        clock,
    ));
    for (e, want) in [
        (HssError::NotFound, 403),
        (HssError::Status(503), 504),
        (HssError::Status(504), 504),
        (HssError::Timeout, 504),
        (HssError::Status(500), 500),
    ] {
        *s.hss.inner.fail.borrow_mut() = Some(e.clone());
        let before = s.hss.inner.requests.get();
        let d = block_on(s.on_request(&register(1, None), &CTX));
        assert_eq!(status(&d), want, "{e:?}");
        assert_eq!(s.hss.inner.requests.get(), before + 1);
        // Asked again next time: the failure was not cached.
        let d = block_on(s.on_request(&register(2, None), &CTX));
        assert_eq!(status(&d), want, "{e:?}");
        assert_eq!(s.hss.inner.requests.get(), before + 2);
    }
    // The reg-data PUT fails the same way after a good challenge.
    *s.hss.inner.fail.borrow_mut() = None;
    let www = challenges(&block_on(s.on_request(&register(3, None), &CTX)));
    *s.hss.inner.fail.borrow_mut() = Some(HssError::Status(503));
    let auth = answer(&www[0], Algorithm::Md5, "secret");
    assert_eq!(
        status(&block_on(s.on_request(&register(4, Some(&auth)), &CTX))),
        504
    );
}
