//! Routing at the S-CSCF over in-memory stand-ins: public GRUUs (RFC 5627
//! §5.5), originating handling on the Service-Route (TS 24.229 §5.4.3.2),
//! and which shard owns a request.
#![allow(clippy::unwrap_used)]

use super::test_support::block_on;
use std::cell::RefCell;
use std::collections::HashMap;

use bytes::Bytes;
use sip_fastpath::{HeaderName, Limits, Message};

use super::{BindingStore, HssCache, Scscf, ScscfConfig, StoreError, Versioned};
use crate::auth::Challenge;
use crate::hss::{
    AuthVector, HssError, ImsSubscription, PublicIdentity, RegData, RegDataReqType,
    RegistrationState, ServiceProfile,
};
use crate::node::EngineConfig;
use crate::node::app::{owner_shard, owning_impu};
use crate::proxy::{ForkTarget, RouteDecision};
use crate::registrar::{Aor, Binding};
use crate::roles::{Decision, RequestContext, Role};

const ALICE: &str = "sip:6505550001@example.com";
const BOB: &str = "sip:6505550002@example.com";
const CAROL: &str = "sip:6505550003@example.com";
const BARRED: &str = "sip:6505550004@example.com";
const INSTANCE_1: &str = "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";
const INSTANCE_2: &str = "<urn:uuid:00000000-0000-1000-8000-00000000beef>";
const GRUU_1: &str = "sip:6505550001@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";
const SERVICE_ROUTE: &str = "<sip:127.0.0.1:5060;transport=tcp;lr;orig>";
const BGCF: &str = "sip:bgcf.example.net:5053;transport=tcp";

const CTX: RequestContext = RequestContext {
    now_ms: 1_700_000_000_000,
};
const NOW_S: u64 = 1_700_000_000;

/// Provisioned users and their registration state; Alice and Bob are
/// registered, Carol is provisioned only, the fourth is barred.
struct Hss {
    users: HashMap<String, (RegistrationState, bool)>,
    fail: Option<HssError>,
}

impl Default for Hss {
    fn default() -> Self {
        let users = [
            (ALICE, RegistrationState::Registered, false),
            (BOB, RegistrationState::Registered, false),
            (CAROL, RegistrationState::NotRegistered, false),
            (BARRED, RegistrationState::Registered, true),
        ]
        .into_iter()
        .map(|(u, s, b)| (u.to_owned(), (s, b)))
        .collect();
        Hss { users, fail: None }
    }
}

impl HssCache for Hss {
    async fn digest_av(&self, _impi: &str, _impu: &str) -> Result<AuthVector, HssError> {
        Err(HssError::NotFound)
    }

    async fn put_reg_data(
        &self,
        _impu: &str,
        _impi: Option<&str>,
        _reqtype: RegDataReqType,
    ) -> Result<RegData, HssError> {
        Err(HssError::NotFound)
    }

    async fn get_reg_data(&self, impu: &str) -> Result<RegData, HssError> {
        if let Some(e) = &self.fail {
            return Err(e.clone());
        }
        let (state, barred) = *self.users.get(impu).ok_or(HssError::NotFound)?;
        Ok(RegData {
            state,
            subscription: ImsSubscription {
                private_id: None,
                service_profiles: vec![ServiceProfile {
                    public_identities: vec![PublicIdentity {
                        identity: impu.to_owned(),
                        barred,
                    }],
                    initial_filter_criteria_xml: vec![],
                }],
            },
        })
    }
}

#[derive(Default)]
struct Store {
    aors: RefCell<HashMap<String, Aor>>,
}

impl BindingStore for Store {
    async fn get_aor(&self, aor: &str) -> Result<Versioned<Aor>, StoreError> {
        Ok(Versioned {
            value: self.aors.borrow().get(aor).cloned().unwrap_or_default(),
            version: 1,
        })
    }

    async fn set_aor(&self, _: &str, _: &Aor, _: u64) -> Result<bool, StoreError> {
        Ok(false)
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

fn binding(uri: &str, instance: Option<&str>, path: &str, expires_at_s: u64) -> Binding {
    Binding {
        id: instance.unwrap_or(uri).to_owned(),
        uri: uri.to_owned(),
        params: String::new(),
        path: vec![path.to_owned()],
        call_id: "reg".to_owned(),
        cseq: 1,
        expires_at_s,
        q_millis: None,
        instance: instance.map(str::to_owned),
        reg_id: None,
    }
}

/// Alice with two devices (two instances, each through its own P-CSCF)
/// and one contact without an instance; Bob with an expired device only.
fn scscf(bgcf: Option<&str>) -> Scscf<Hss, Store> {
    let store = Store::default();
    store.aors.borrow_mut().insert(
        ALICE.to_owned(),
        Aor {
            bindings: vec![
                binding(
                    "sip:alice@10.0.0.1:5060",
                    Some(INSTANCE_1),
                    "<sip:pcscf1.example.com:5058;lr>",
                    NOW_S + 300,
                ),
                binding(
                    "sip:alice@10.0.0.2:5060",
                    Some(INSTANCE_2),
                    "<sip:pcscf2.example.com:5058;lr>",
                    NOW_S + 300,
                ),
                binding(
                    "sip:alice@10.0.0.3:5060",
                    None,
                    "<sip:pcscf1.example.com:5058;lr>",
                    NOW_S + 300,
                ),
            ],
        },
    );
    store.aors.borrow_mut().insert(
        BOB.to_owned(),
        Aor {
            bindings: vec![binding(
                "sip:bob@10.0.0.9:5060",
                Some(INSTANCE_1),
                "<sip:pcscf1.example.com:5058;lr>",
                NOW_S - 1,
            )],
        },
    );
    Scscf {
        hss: Hss::default(),
        store,
        cfg: ScscfConfig {
            home_domains: vec!["example.com".to_owned()],
            bgcf_uri: bgcf.map(str::to_owned),
            ..ScscfConfig::default()
        },
    }
}

/// An initial INVITE to `ruri` from `from` with `extra` headers.
fn invite(ruri: &str, from: &str, extra: &str) -> Message {
    Message::parse(
        Bytes::from(format!(
            "INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bKinv\r\nMax-Forwards: 70\r\nFrom: <{from}>;tag=a\r\nTo: <{ruri}>\r\nCall-ID: inv\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        )),
        &Limits::default(),
    )
    .unwrap()
}

/// An originating INVITE: on our Service-Route, from `from`.
fn orig(ruri: &str, from: &str) -> Message {
    invite(ruri, from, &format!("Route: {SERVICE_ROUTE}\r\n"))
}

fn decide(s: &Scscf<Hss, Store>, req: &Message) -> Decision {
    block_on(s.on_request(req, &CTX))
}

fn status(d: &Decision) -> (u16, &'static str) {
    match d {
        Decision::Respond { status, reason, .. } => (*status, reason),
        other => panic!("expected a response, got {other:?}"),
    }
}

fn target(uri: &'static str, path: &'static str) -> ForkTarget {
    ForkTarget {
        uri: Some(Bytes::from_static(uri.as_bytes())),
        route: smallvec::smallvec![Bytes::from_static(path.as_bytes())],
    }
}

fn forward(d: Decision) -> Vec<ForkTarget> {
    match d {
        Decision::Forward(t) => t.into_vec(),
        other => panic!("expected a forward, got {other:?}"),
    }
}

#[test]
fn a_request_to_the_aor_forks_to_every_binding() {
    let s = scscf(None);
    assert_eq!(
        forward(decide(&s, &invite(ALICE, BOB, ""))),
        vec![
            target(
                "sip:alice@10.0.0.1:5060",
                "<sip:pcscf1.example.com:5058;lr>"
            ),
            target(
                "sip:alice@10.0.0.2:5060",
                "<sip:pcscf2.example.com:5058;lr>"
            ),
            target(
                "sip:alice@10.0.0.3:5060",
                "<sip:pcscf1.example.com:5058;lr>"
            ),
        ]
    );
}

#[test]
fn a_public_gruu_reaches_only_its_instance_through_its_path() {
    let s = scscf(None);
    assert_eq!(
        forward(decide(&s, &invite(GRUU_1, BOB, ""))),
        vec![target(
            "sip:alice@10.0.0.1:5060",
            "<sip:pcscf1.example.com:5058;lr>"
        )]
    );
    // The other instance's GRUU, written with upper-case hex and escaped
    // colons, reaches the other device.
    let other = "sip:6505550001@example.com;gr=urn%3Auuid%3A00000000-0000-1000-8000-00000000BEEF";
    assert_eq!(
        forward(decide(&s, &invite(other, BOB, ""))),
        vec![target(
            "sip:alice@10.0.0.2:5060",
            "<sip:pcscf2.example.com:5058;lr>"
        )]
    );
}

#[test]
fn a_gruu_without_a_live_binding_is_480_and_an_unknown_aor_404() {
    let s = scscf(None);
    // An instance Alice never registered.
    let unregistered =
        "sip:6505550001@example.com;gr=urn:uuid:11111111-2222-3333-4444-555555555555";
    assert_eq!(
        status(&decide(&s, &invite(unregistered, BOB, ""))),
        (480, "Temporarily Unavailable")
    );
    // Bob's only binding for the instance has expired.
    let expired = "sip:6505550002@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";
    assert_eq!(
        status(&decide(&s, &invite(expired, ALICE, ""))),
        (480, "Temporarily Unavailable")
    );
    // Carol is provisioned but not registered.
    let carol = "sip:6505550003@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";
    assert_eq!(
        status(&decide(&s, &invite(carol, ALICE, ""))),
        (480, "Temporarily Unavailable")
    );
    let unknown = "sip:nobody@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";
    assert_eq!(
        status(&decide(&s, &invite(unknown, ALICE, ""))),
        (404, "Not Found")
    );
    // `gr` without an instance is no GRUU of ours.
    let bare = "sip:6505550001@example.com;gr";
    assert_eq!(
        status(&decide(&s, &invite(bare, BOB, ""))),
        (404, "Not Found")
    );
}

#[test]
fn a_gruu_is_owned_by_its_aors_shard() {
    let proxy = EngineConfig::default().proxy();
    let aor = owning_impu(&proxy, &invite(ALICE, BOB, "")).unwrap();
    let gruu = owning_impu(&proxy, &invite(GRUU_1, BOB, "")).unwrap();
    assert_eq!(gruu, ALICE);
    assert_eq!(aor, gruu);
    for shards in 2..=8 {
        assert_eq!(owner_shard(&gruu, shards), owner_shard(ALICE, shards));
    }
    // Requests that stop here on a Route of ours (originating on the
    // Service-Route, or terminating) go to the target's owner too; requests
    // routed on elsewhere and foreign targets stay where they landed.
    assert_eq!(
        owning_impu(&proxy, &orig(GRUU_1, BOB)).as_deref(),
        Some(ALICE)
    );
    let ours = invite(
        GRUU_1,
        BOB,
        "Route: <sip:127.0.0.1:5060;transport=tcp;lr>\r\n",
    );
    assert_eq!(owning_impu(&proxy, &ours).as_deref(), Some(ALICE));
    let onwards = invite(
        ALICE,
        BOB,
        "Route: <sip:127.0.0.1:5060;transport=tcp;lr>, <sip:as.example.net;lr>\r\n",
    );
    assert_eq!(owning_impu(&proxy, &onwards), None);
    let elsewhere = invite(ALICE, BOB, "Route: <sip:as.example.net;lr>\r\n");
    assert_eq!(owning_impu(&proxy, &elsewhere), None);
    assert_eq!(owning_impu(&proxy, &orig("sip:bob@biloxi.com", BOB)), None);
}

#[test]
fn an_orig_route_to_a_foreign_target_is_the_scscfs_not_the_request_uris() {
    // The proxy alone would forward it to biloxi.com; the node hands it to
    // the S-CSCF because of `orig` (node::app).
    let proxy = EngineConfig::default().proxy();
    let req = orig("sip:bob@biloxi.com", ALICE);
    assert_eq!(proxy.preprocess(&req), Ok(RouteDecision::RequestUri));
    assert!(super::is_originating(&req));
    let plain = invite(
        "sip:bob@biloxi.com",
        ALICE,
        "Route: <sip:127.0.0.1:5060;transport=tcp;lr>\r\n",
    );
    assert!(!super::is_originating(&plain));
    assert!(!super::is_originating(&invite(ALICE, BOB, "")));
}

#[test]
fn originating_to_a_local_user_gets_terminating_routing() {
    let s = scscf(Some(BGCF));
    assert_eq!(
        forward(decide(&s, &orig(ALICE, BOB))),
        forward(decide(&s, &invite(ALICE, BOB, "")))
    );
    assert_eq!(
        forward(decide(&s, &orig(GRUU_1, BOB))),
        vec![target(
            "sip:alice@10.0.0.1:5060",
            "<sip:pcscf1.example.com:5058;lr>"
        )]
    );
    // A local user who is not registered: 480, not the BGCF.
    assert_eq!(
        status(&decide(&s, &orig(CAROL, ALICE))),
        (480, "Temporarily Unavailable")
    );
}

#[test]
fn originating_to_an_off_net_target_goes_to_the_bgcf() {
    let s = scscf(Some(BGCF));
    let bgcf = vec![ForkTarget {
        uri: None,
        route: smallvec::smallvec![Bytes::from_static(
            b"<sip:bgcf.example.net:5053;transport=tcp;lr>"
        )],
    }];
    for ruri in [
        "tel:+442071234567",
        "sip:+442071234567@example.com;user=phone",
        "sip:02071234567@example.com",
        "sip:bob@biloxi.com",
    ] {
        assert_eq!(forward(decide(&s, &orig(ruri, ALICE))), bgcf, "{ruri}");
    }
    // A configured `lr` is not doubled.
    let s = scscf(Some("sip:bgcf.example.net;lr"));
    assert_eq!(
        forward(decide(&s, &orig("tel:+442071234567", ALICE)))[0].route[0],
        Bytes::from_static(b"<sip:bgcf.example.net;lr>")
    );
}

#[test]
fn without_a_bgcf_numbers_are_404_and_foreign_sip_uris_go_to_their_domain() {
    let s = scscf(None);
    for ruri in [
        "tel:+442071234567",
        "sip:+442071234567@example.com;user=phone",
    ] {
        assert_eq!(
            status(&decide(&s, &orig(ruri, ALICE))),
            (404, "No route to target"),
            "{ruri}"
        );
    }
    assert_eq!(
        forward(decide(&s, &orig("sip:bob@biloxi.com", ALICE))),
        vec![ForkTarget::unchanged()]
    );
}

#[test]
fn an_unknown_local_user_that_is_not_a_number_is_404() {
    let s = scscf(Some(BGCF));
    assert_eq!(
        status(&decide(&s, &orig("sip:nobody@example.com", ALICE))),
        (404, "Not Found")
    );
}

#[test]
fn the_served_user_must_be_known_and_not_barred() {
    let s = scscf(Some(BGCF));
    // The served user is the P-Asserted-Identity when there is one.
    let asserted = invite(
        "tel:+442071234567",
        "sip:anonymous@anonymous.invalid",
        &format!("Route: {SERVICE_ROUTE}\r\nP-Asserted-Identity: <{ALICE}>\r\n"),
    );
    assert!(matches!(decide(&s, &asserted), Decision::Forward(_)));
    let barred = invite(
        "tel:+442071234567",
        ALICE,
        &format!("Route: {SERVICE_ROUTE}\r\nP-Asserted-Identity: <{BARRED}>\r\n"),
    );
    assert_eq!(status(&decide(&s, &barred)), (403, "Forbidden"));
    assert_eq!(
        status(&decide(&s, &orig(ALICE, "sip:stranger@example.com"))),
        (404, "Not Found")
    );
    // Provisioned but not registered is served (as in Sprout).
    assert!(matches!(
        decide(&s, &orig("tel:+442071234567", CAROL)),
        Decision::Forward(_)
    ));
    // A served user from elsewhere gets no services but is routed.
    assert!(matches!(
        decide(&s, &orig(ALICE, "sip:peer@biloxi.com")),
        Decision::Forward(_)
    ));
}

#[test]
fn an_unavailable_hss_is_504_on_either_side() {
    let mut s = scscf(Some(BGCF));
    s.hss.fail = Some(HssError::Timeout);
    assert_eq!(
        status(&decide(&s, &orig("tel:+442071234567", ALICE))),
        (504, "Server Time-out")
    );
    assert_eq!(
        status(&decide(&s, &invite(GRUU_1, BOB, ""))),
        (504, "Server Time-out")
    );
}

#[test]
fn in_dialog_requests_on_the_service_route_follow_their_request_uri() {
    let s = scscf(Some(BGCF));
    let text = String::from_utf8_lossy(orig("sip:bob@10.0.0.9:5060", ALICE).buffer()).replace(
        "To: <sip:bob@10.0.0.9:5060>",
        "To: <sip:bob@biloxi.com>;tag=b",
    );
    let req = Message::parse(Bytes::from(text), &Limits::default()).unwrap();
    assert_eq!(
        req.header_value(HeaderName::Route),
        Some(SERVICE_ROUTE.as_bytes())
    );
    assert_eq!(forward(decide(&s, &req)), vec![ForkTarget::unchanged()]);
}

/// The request the proxy sends for the decided target: (Request-URI, Routes).
fn on_the_wire(req: &Message, target: &ForkTarget) -> (String, Vec<String>) {
    let proxy = EngineConfig::default().proxy();
    let out = proxy.forward(req, target, b"z9hG4bK00-t").unwrap();
    let out = Message::parse(out.bytes, &Limits::default()).unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        text(out.request_uri_bytes().unwrap()),
        out.list_values(HeaderName::Route).map(text).collect(),
    )
}

#[test]
fn forwarded_requests_carry_the_contact_or_the_bgcf_route_and_not_ours() {
    let s = scscf(Some(BGCF));
    let req = orig(GRUU_1, BOB);
    let t = forward(decide(&s, &req));
    assert_eq!(
        on_the_wire(&req, &t[0]),
        (
            "sip:alice@10.0.0.1:5060".to_owned(),
            vec!["<sip:pcscf1.example.com:5058;lr>".to_owned()]
        )
    );
    let req = orig("tel:+442071234567", ALICE);
    let t = forward(decide(&s, &req));
    assert_eq!(
        on_the_wire(&req, &t[0]),
        (
            "tel:+442071234567".to_owned(),
            vec!["<sip:bgcf.example.net:5053;transport=tcp;lr>".to_owned()]
        )
    );
}
