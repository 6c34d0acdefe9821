//! The S-CSCF over in-memory stand-ins for the HSS cache and the store (unit
//! tests only; the end-to-end tests use riptide-control and the real stores).

use std::cell::RefCell;
use std::collections::HashMap;

use bytes::Bytes;
use sip_fastpath::digest::{Algorithm, ResponseInput, ha1, response};
use sip_fastpath::{AuthParams, HeaderName, Limits, Message};

use super::test_support::{MemStore as Store, RegisteringUe, block_on, status};
use super::{HssCache, Scscf, ScscfConfig};
use crate::hss::{
    AuthVector, HssError, ImsSubscription, PublicIdentity, RegData, RegDataReqType,
    RegistrationState, ServiceProfile,
};
use crate::proxy::ForkTarget;
use crate::roles::{Decision, RequestContext, Role};

const IMPU: &str = "sip:6505550001@example.com";
const IMPI: &str = "6505550001@example.com";
const PASSWORD: &str = "secret";

#[derive(Default)]
struct Hss {
    fail: Option<HssError>,
    state: RefCell<HashMap<String, RegistrationState>>,
    puts: RefCell<Vec<(String, RegDataReqType)>>,
}

impl Hss {
    fn reg_data(&self, impu: &str) -> RegData {
        RegData {
            state: self
                .state
                .borrow()
                .get(impu)
                .copied()
                .unwrap_or(RegistrationState::NotRegistered),
            subscription: ImsSubscription {
                private_id: Some(IMPI.into()),
                service_profiles: vec![ServiceProfile {
                    public_identities: vec![
                        PublicIdentity {
                            identity: IMPU.into(),
                            barred: false,
                        },
                        PublicIdentity {
                            identity: "tel:+16505550001".into(),
                            barred: false,
                        },
                    ],
                    initial_filter_criteria_xml: vec![],
                }],
            },
        }
    }
}

impl HssCache for Hss {
    async fn digest_av(&self, impi: &str, _impu: &str) -> Result<AuthVector, HssError> {
        if let Some(e) = &self.fail {
            return Err(e.clone());
        }
        if impi != IMPI {
            return Err(HssError::NotFound);
        }
        Ok(AuthVector {
            ha1: ha1(
                Algorithm::Md5,
                IMPI.as_bytes(),
                b"example.com",
                PASSWORD.as_bytes(),
            )
            .as_str()
            .into(),
            realm: "example.com".into(),
            qop: "auth".into(),
            ..AuthVector::default()
        })
    }

    async fn put_reg_data(
        &self,
        impu: &str,
        _impi: Option<&str>,
        reqtype: RegDataReqType,
    ) -> Result<RegData, HssError> {
        self.puts.borrow_mut().push((impu.into(), reqtype));
        let state = match reqtype {
            RegDataReqType::Reg => RegistrationState::Registered,
            RegDataReqType::DeregUser => RegistrationState::NotRegistered,
            _ => self.reg_data(impu).state,
        };
        self.state.borrow_mut().insert(impu.into(), state);
        Ok(self.reg_data(impu))
    }

    async fn get_reg_data(&self, impu: &str) -> Result<RegData, HssError> {
        if impu == IMPU || impu == "tel:+16505550001" {
            Ok(self.reg_data(IMPU))
        } else {
            Err(HssError::NotFound)
        }
    }
}

fn scscf(hss: Hss, store: Store) -> Scscf<Hss, Store> {
    Scscf {
        hss,
        store,
        cfg: ScscfConfig::default(),
    }
}

fn register(cseq: u32, authorization: Option<&str>) -> Message {
    let ue = RegisteringUe {
        impu: IMPU,
        contact: "sip:6505550001@10.0.0.1:5060",
        call_id: "reg-call",
        extra: "Path: <sip:pcscf.example.com:5058;lr>\r\n",
    };
    ue.register(cseq, authorization)
}

const CTX: RequestContext = RequestContext {
    now_ms: 1_700_000_000_000,
};

/// The Authorization a UE computes for a 401 decision.
fn answer_challenge(d: &Decision, password: &str) -> String {
    let Decision::Respond {
        status: 401,
        headers,
        ..
    } = d
    else {
        panic!("expected a 401, got {d:?}");
    };
    let www = headers
        .iter()
        .find(|(n, _)| *n == HeaderName::WwwAuthenticate)
        .expect("challenge")
        .1
        .clone();
    let p = AuthParams::parse(&www).expect("parses");
    let nonce = String::from_utf8_lossy(p.get(b"nonce").expect("nonce")).into_owned();
    let h = ha1(
        Algorithm::Md5,
        IMPI.as_bytes(),
        b"example.com",
        password.as_bytes(),
    );
    let r = response(
        Algorithm::Md5,
        h.as_bytes(),
        &ResponseInput {
            method: b"REGISTER",
            uri: b"sip:example.com",
            nonce: nonce.as_bytes(),
            qop: Some((b"00000001", b"c0ffee", b"auth")),
        },
    );
    format!(
        "Digest username=\"{IMPI}\",realm=\"example.com\",nonce=\"{nonce}\",uri=\"sip:example.com\",response=\"{}\",algorithm=MD5,cnonce=\"c0ffee\",qop=auth,nc=00000001",
        r.as_str()
    )
}

#[test]
fn register_is_challenged_then_accepted_and_bindings_stored_under_the_default_impu() {
    let s = scscf(Hss::default(), Store::default());
    let first = block_on(s.on_request(&register(1, None), &CTX));
    assert_eq!(status(&first), 401);
    let auth = answer_challenge(&first, PASSWORD);
    let second = block_on(s.on_request(&register(2, Some(&auth)), &CTX));
    let Decision::Ready(ok) = &second else {
        panic!("expected the 200, got {second:?}")
    };
    let ok = Message::parse(ok.clone(), &Limits::default()).expect("parses");
    assert_eq!(ok.status(), Some(200));
    assert_eq!(
        ok.header_value(HeaderName::PAssociatedUri),
        Some(&b"<sip:6505550001@example.com>, <tel:+16505550001>"[..])
    );
    let stored = s.store.aors.borrow().get(IMPU).cloned().expect("stored");
    assert_eq!(stored.value.bindings.len(), 1);
    assert_eq!(
        stored.value.bindings[0].path,
        vec!["<sip:pcscf.example.com:5058;lr>".to_string()]
    );
    assert_eq!(
        s.hss.puts.borrow().as_slice(),
        &[(IMPU.to_string(), RegDataReqType::Reg)]
    );
    // The nonce is single-use: replaying the same Authorization is stale.
    let replay = block_on(s.on_request(&register(3, Some(&auth)), &CTX));
    let Decision::Respond {
        status: 401,
        headers,
        ..
    } = &replay
    else {
        panic!("{replay:?}")
    };
    assert!(String::from_utf8_lossy(&headers[0].1).ends_with(",stale=TRUE"));
}

#[test]
fn wrong_password_is_403_and_reported_to_the_hss() {
    let s = scscf(Hss::default(), Store::default());
    let first = block_on(s.on_request(&register(1, None), &CTX));
    let auth = answer_challenge(&first, "wrong");
    assert_eq!(
        status(&block_on(s.on_request(&register(2, Some(&auth)), &CTX))),
        403
    );
    assert_eq!(
        s.hss.puts.borrow().as_slice(),
        &[(IMPU.to_string(), RegDataReqType::DeregAuthFailure)]
    );
    assert!(s.store.aors.borrow().is_empty());
}

#[test]
fn hss_failures_map_as_sprout_does_and_never_rechallenge() {
    for (fail, want) in [
        (HssError::NotFound, 403),
        (HssError::Timeout, 504),
        (HssError::Status(503), 504),
        (HssError::Status(500), 500),
    ] {
        let s = scscf(
            Hss {
                fail: Some(fail),
                ..Hss::default()
            },
            Store::default(),
        );
        assert_eq!(
            status(&block_on(s.on_request(&register(1, None), &CTX))),
            want
        );
        assert!(s.store.challenges.borrow().is_empty());
    }
}

#[test]
fn a_broken_store_is_500_not_a_challenge() {
    let s = scscf(
        Hss::default(),
        Store {
            broken: true,
            ..Store::default()
        },
    );
    assert_eq!(
        status(&block_on(s.on_request(&register(1, None), &CTX))),
        500
    );
}

#[test]
fn invite_to_a_registered_user_forks_to_its_bindings_through_their_path() {
    let s = scscf(Hss::default(), Store::default());
    let first = block_on(s.on_request(&register(1, None), &CTX));
    let auth = answer_challenge(&first, PASSWORD);
    block_on(s.on_request(&register(2, Some(&auth)), &CTX));
    let invite = Message::parse(
        Bytes::from_static(b"INVITE tel:+16505550001 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bKinv\r\nFrom: <sip:6505550007@example.com>;tag=a\r\nTo: <tel:+16505550001>\r\nCall-ID: inv\r\nCSeq: 1 INVITE\r\n\r\n"),
        &Limits::default(),
    )
    .expect("parses");
    let d = block_on(s.on_request(&invite, &CTX));
    let Decision::Forward(targets) = d else {
        panic!("expected a fork, got {d:?}")
    };
    assert_eq!(
        targets.as_slice(),
        &[ForkTarget {
            uri: Some(Bytes::from_static(b"sip:6505550001@10.0.0.1:5060")),
            route: smallvec::smallvec![Bytes::from_static(b"<sip:pcscf.example.com:5058;lr>")],
        }]
    );
}

#[test]
fn invite_to_an_unregistered_user_is_480_and_to_an_unknown_one_404() {
    let s = scscf(Hss::default(), Store::default());
    let invite = |uri: &str| {
        Message::parse(
            Bytes::from(format!("INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bKinv\r\nFrom: <sip:a@example.com>;tag=a\r\nTo: <{uri}>\r\nCall-ID: inv\r\nCSeq: 1 INVITE\r\n\r\n")),
            &Limits::default(),
        )
        .expect("parses")
    };
    assert_eq!(status(&block_on(s.on_request(&invite(IMPU), &CTX))), 480);
    assert_eq!(
        status(&block_on(
            s.on_request(&invite("sip:nobody@example.com"), &CTX)
        )),
        404
    );
}

fn register_expiring(cseq: u32, authorization: &str, expires: u32) -> Message {
    let text = String::from_utf8_lossy(register(cseq, Some(authorization)).buffer())
        .replace("Expires: 300\r\n", &format!("Expires: {expires}\r\n"));
    Message::parse(Bytes::from(text), &Limits::default()).expect("parses")
}

#[test]
fn register_outcomes_count_as_clearwater_counts_them() {
    use super::{RegisterOutcome, RegistrationKind};
    let s = scscf(Hss::default(), Store::default());
    let observed = |m: &Message| block_on(s.on_request_observed(m, &CTX));
    // A challenge is neither an authentication attempt nor a registration.
    let (first, outcome) = observed(&register(1, None));
    assert_eq!(status(&first), 401);
    assert_eq!(outcome, RegisterOutcome::default());
    let (second, outcome) = observed(&register(2, Some(&answer_challenge(&first, PASSWORD))));
    assert_eq!(status(&second), 200);
    assert_eq!(
        outcome,
        RegisterOutcome {
            digest: Some(true),
            registration: Some((RegistrationKind::Initial, true)),
        }
    );
    let (again, _) = observed(&register(3, None));
    let (_, outcome) = observed(&register(4, Some(&answer_challenge(&again, PASSWORD))));
    assert_eq!(outcome.registration, Some((RegistrationKind::Re, true)));
    let (again, _) = observed(&register(5, None));
    let auth = answer_challenge(&again, PASSWORD);
    let (bye, outcome) = observed(&register_expiring(6, &auth, 0));
    assert_eq!(status(&bye), 200);
    assert_eq!(outcome.registration, Some((RegistrationKind::De, true)));
    // A replayed nonce is stale: a failed authentication, not a registration.
    let (stale, outcome) = observed(&register(7, Some(&auth)));
    assert_eq!(status(&stale), 401);
    assert_eq!(
        outcome,
        RegisterOutcome {
            digest: Some(false),
            registration: None,
        }
    );
}

#[test]
fn a_wrong_password_is_a_failed_authentication_only() {
    use super::RegisterOutcome;
    let s = scscf(Hss::default(), Store::default());
    let (first, _) = block_on(s.on_request_observed(&register(1, None), &CTX));
    let (d, outcome) = block_on(
        s.on_request_observed(&register(2, Some(&answer_challenge(&first, "wrong"))), &CTX),
    );
    assert_eq!(status(&d), 403);
    assert_eq!(
        outcome,
        RegisterOutcome {
            digest: Some(false),
            registration: None,
        }
    );
}
