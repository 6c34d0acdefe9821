//! The proxy core driven without sockets: a simulated UAC and UAS exchange
//! messages with it on a virtual clock.

use bytes::Bytes;
use sip_fastpath::{HeaderName, Limits, Message, Method, ServerKey};

use super::{Action, Core, CoreConfig, Inbound, ShardBranches};
use crate::proxy::{ForkTarget, LocalIdentity, Proxy, Target};

const UAC: &str = "uac";

fn core(cfg: CoreConfig) -> Core<&'static str, ShardBranches> {
    let proxy = Proxy {
        local: LocalIdentity::new(["127.0.0.1", "scscf.example.com"], &[5060]),
        sent_by: Bytes::from_static(b"127.0.0.1:5060"),
        record_route: Some(Bytes::from_static(b"<sip:127.0.0.1:5060;lr>")),
        home_domains: vec![Box::from(&b"example.com"[..])],
    };
    Core::new(
        proxy,
        ShardBranches {
            shard: 0,
            counter: 0,
        },
        cfg,
    )
}

fn parse(b: &[u8]) -> Message {
    Message::parse(Bytes::copy_from_slice(b), &Limits::default()).expect("parses")
}

fn request(method: &str, cseq: u32, branch: &str, to_tag: Option<&str>) -> Message {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    parse(
        format!(
            "{method} sip:6505550002@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch={branch};rport=5060;received=10.0.0.1\r\nMax-Forwards: 70\r\nFrom: <sip:6505550001@example.com>;tag=a1\r\nTo: <sip:6505550002@example.com>{to_tag}\r\nCall-ID: call-1\r\nCSeq: {cseq} {method}\r\nContact: <sip:6505550001@10.0.0.1:5060>\r\nContent-Length: 0\r\n\r\n"
        )
        .as_bytes(),
    )
}

const BOB: &[u8] = b"sip:6505550002@10.0.0.2:5070";

/// What the core sent: responses upstream (status list) and requests downstream.
#[derive(Default, Debug)]
struct Seen {
    up: Vec<Message>,
    down: Vec<(Target, Message)>,
    wake: Option<u64>,
}

fn take(c: &mut Core<&'static str, ShardBranches>) -> Seen {
    let mut s = Seen::default();
    for a in c.drain_actions() {
        match a {
            Action::Respond { to, bytes } => {
                assert_eq!(to, UAC);
                s.up.push(parse(&bytes));
            }
            Action::Request { to, bytes } => s.down.push((to, parse(&bytes))),
            Action::WakeAt { at_ms } => s.wake = Some(at_ms),
        }
    }
    s
}

fn statuses(s: &Seen) -> Vec<u16> {
    s.up.iter().filter_map(Message::status).collect()
}

/// The UAS's response to a request it received.
fn answer(req: &Message, status: u16) -> Message {
    parse(
        &req.response(status, "UAS")
            .header(HeaderName::Contact, BOB)
            .finish(),
    )
}

/// The role's answer `status` to the server transaction `key`'s request.
fn answer_to(c: &Core<&'static str, ShardBranches>, key: &ServerKey, status: u16) -> Bytes {
    c.request(key)
        .expect("a live server transaction")
        .response(status, "OK")
        .finish()
}

fn new_key(i: Inbound) -> ServerKey {
    match i {
        Inbound::New(k) => k,
        other => panic!("expected a new transaction, got {other:?}"),
    }
}

#[test]
fn invite_is_proxied_to_the_target_with_100_180_200() {
    let mut c = core(CoreConfig::default());
    let key = new_key(c.on_request(request("INVITE", 1, "z9hG4bKuac1", None), UAC, false, 0));
    let s = take(&mut c);
    assert_eq!(statuses(&s), vec![100], "100 Trying at once");
    c.forward(&key, &[ForkTarget::uri(Bytes::from_static(BOB))], 1);
    let s = take(&mut c);
    assert_eq!(s.down.len(), 1);
    let (to, fwd) = &s.down[0];
    assert_eq!((&to.host[..], to.port), (&b"10.0.0.2"[..], 5070));
    assert_eq!(fwd.request_uri_bytes(), Some(BOB));
    assert_eq!(fwd.vias().count(), 2);
    assert_eq!(fwd.max_forwards(), Ok(Some(69)));
    assert!(fwd.header(HeaderName::RecordRoute).is_some());

    c.on_response(answer(fwd, 100), 2);
    c.on_response(answer(fwd, 180), 3);
    let s = take(&mut c);
    assert_eq!(statuses(&s), vec![180], "100 is hop by hop; 180 goes up");
    assert_eq!(s.up[0].vias().count(), 1, "our Via is removed");
    assert_eq!(
        s.up[0].top_via().expect("via").branch(),
        Some(&b"z9hG4bKuac1"[..])
    );

    c.on_response(answer(fwd, 200), 4);
    let s = take(&mut c);
    assert_eq!(statuses(&s), vec![200]);
    assert!(s.down.is_empty(), "a 2xx is ACKed end to end, not by us");
}

#[test]
fn retransmitted_invite_is_absorbed_and_answered_with_the_last_provisional() {
    let mut c = core(CoreConfig::default());
    let key = new_key(c.on_request(request("INVITE", 1, "z9hG4bKuac2", None), UAC, false, 0));
    c.forward(&key, &[ForkTarget::uri(Bytes::from_static(BOB))], 0);
    let s = take(&mut c);
    let fwd = s.down[0].1.clone();
    assert_eq!(
        c.on_request(request("INVITE", 1, "z9hG4bKuac2", None), UAC, false, 400),
        Inbound::Handled
    );
    let s = take(&mut c);
    assert_eq!(statuses(&s), vec![100]);
    assert!(s.down.is_empty(), "not forwarded twice");
    c.on_response(answer(&fwd, 180), 500);
    take(&mut c);
    c.on_request(request("INVITE", 1, "z9hG4bKuac2", None), UAC, false, 600);
    assert_eq!(statuses(&take(&mut c)), vec![180]);
}

#[test]
fn a_failure_is_acked_hop_by_hop_and_passed_up() {
    let mut c = core(CoreConfig::default());
    let key = new_key(c.on_request(request("INVITE", 1, "z9hG4bKuac3", None), UAC, false, 0));
    c.forward(&key, &[ForkTarget::uri(Bytes::from_static(BOB))], 0);
    let fwd = take(&mut c).down.remove(0).1;
    c.on_response(answer(&fwd, 486), 10);
    let s = take(&mut c);
    assert_eq!(statuses(&s), vec![486]);
    assert_eq!(s.down.len(), 1);
    let ack = &s.down[0].1;
    assert_eq!(ack.method(), Some(Method::Ack));
    assert_eq!(
        ack.top_via().expect("via").branch(),
        fwd.top_via().expect("via").branch()
    );
    // The UAC's ACK for the 486 is absorbed by our server transaction.
    let uac_ack = request("ACK", 1, "z9hG4bKuac3", Some("x"));
    assert_eq!(c.on_request(uac_ack, UAC, false, 20), Inbound::Handled);
    let s = take(&mut c);
    assert!(s.down.is_empty() && s.up.is_empty());
}

#[test]
fn cancel_is_answered_and_sent_down_then_487_comes_back() {
    let mut c = core(CoreConfig::default());
    let key = new_key(c.on_request(request("INVITE", 1, "z9hG4bKuac4", None), UAC, false, 0));
    c.forward(&key, &[ForkTarget::uri(Bytes::from_static(BOB))], 0);
    let fwd = take(&mut c).down.remove(0).1;
    c.on_response(answer(&fwd, 180), 5);
    take(&mut c);
    c.on_request(request("CANCEL", 1, "z9hG4bKuac4", None), UAC, false, 10);
    let s = take(&mut c);
    assert_eq!(statuses(&s), vec![200], "the CANCEL is answered 200");
    assert_eq!(s.up[0].cseq().expect("cseq").method, Method::Cancel);
    assert_eq!(s.down.len(), 1);
    let cancel = &s.down[0].1;
    assert_eq!(cancel.method(), Some(Method::Cancel));
    assert_eq!(
        cancel.top_via().expect("via").branch(),
        fwd.top_via().expect("via").branch()
    );
    // The UAS answers 200 to the CANCEL and 487 to the INVITE.
    c.on_response(answer(cancel, 200), 11);
    c.on_response(answer(&fwd, 487), 12);
    let s = take(&mut c);
    assert_eq!(statuses(&s), vec![487]);
    assert_eq!(
        s.down
            .iter()
            .filter(|(_, m)| m.method() == Some(Method::Ack))
            .count(),
        1
    );
}

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    let mut c = core(CoreConfig::default());
    let key = new_key(c.on_request(request("INVITE", 1, "z9hG4bKuac5", None), UAC, false, 0));
    c.forward(&key, &[ForkTarget::uri(Bytes::from_static(BOB))], 0);
    let fwd = take(&mut c).down.remove(0).1;
    c.on_request(request("CANCEL", 1, "z9hG4bKuac5", None), UAC, false, 10);
    let s = take(&mut c);
    assert_eq!(statuses(&s), vec![200]);
    assert!(
        s.down
            .iter()
            .all(|(_, m)| m.method() != Some(Method::Cancel)),
        "no CANCEL before a 1xx"
    );
    c.on_response(answer(&fwd, 180), 20);
    let s = take(&mut c);
    assert_eq!(
        s.down
            .iter()
            .filter(|(_, m)| m.method() == Some(Method::Cancel))
            .count(),
        1
    );
}

#[test]
fn cancel_for_nothing_is_481() {
    let mut c = core(CoreConfig::default());
    c.on_request(request("CANCEL", 1, "z9hG4bKnothing", None), UAC, false, 0);
    assert_eq!(statuses(&take(&mut c)), vec![481]);
}

#[test]
fn silent_branch_times_out_as_408_for_invite() {
    let mut c = core(CoreConfig::default());
    let key = new_key(c.on_request(request("INVITE", 1, "z9hG4bKuac6", None), UAC, false, 0));
    c.forward(&key, &[ForkTarget::uri(Bytes::from_static(BOB))], 0);
    let s = take(&mut c);
    assert_eq!(s.wake, Some(500), "Timer A");
    // Drive the clock: retransmissions, then Timer B.
    let mut resent = 0;
    let mut up = Vec::new();
    while let Some(at) = c.next_deadline() {
        c.on_timer(at);
        let s = take(&mut c);
        resent += s
            .down
            .iter()
            .filter(|(_, m)| m.method() == Some(Method::Invite))
            .count();
        up.extend(statuses(&s));
        if !up.is_empty() {
            break;
        }
    }
    assert_eq!(resent, 6);
    assert_eq!(up, vec![408]);
    // The UAC ACKs the 408; our Timer G stops resending it.
    c.on_request(
        request("ACK", 1, "z9hG4bKuac6", Some("x")),
        UAC,
        false,
        32_100,
    );
    while let Some(at) = c.next_deadline() {
        c.on_timer(at);
        assert!(statuses(&take(&mut c)).is_empty());
    }
    assert_eq!(c.transactions(), (0, 0));
}

#[test]
fn silent_branch_for_non_invite_is_never_answered_408() {
    let mut c = core(CoreConfig::default());
    let key = new_key(c.on_request(request("OPTIONS", 1, "z9hG4bKuac7", None), UAC, false, 0));
    c.forward(&key, &[ForkTarget::uri(Bytes::from_static(BOB))], 0);
    take(&mut c);
    let mut up = Vec::new();
    while let Some(at) = c.next_deadline() {
        c.on_timer(at);
        up.extend(statuses(&take(&mut c)));
        if at > 100_000 {
            break;
        }
    }
    assert!(up.is_empty(), "RFC 4320: no 408 for non-INVITE, got {up:?}");
    assert_eq!(c.transactions(), (0, 0), "everything cleaned up");
}

#[test]
fn fork_returns_the_2xx_and_cancels_the_other_branch() {
    let mut c = core(CoreConfig::default());
    let key = new_key(c.on_request(request("INVITE", 1, "z9hG4bKuac8", None), UAC, false, 0));
    c.forward(
        &key,
        &[
            ForkTarget::uri(Bytes::from_static(BOB)),
            ForkTarget::uri(Bytes::from_static(b"sip:6505550002@10.0.0.3:5060")),
        ],
        0,
    );
    let s = take(&mut c);
    assert_eq!(s.down.len(), 2);
    let (a, b) = (s.down[0].1.clone(), s.down[1].1.clone());
    assert_ne!(
        a.top_via().expect("via").branch(),
        b.top_via().expect("via").branch()
    );
    c.on_response(answer(&b, 180), 5);
    take(&mut c);
    c.on_response(answer(&a, 200), 6);
    let s = take(&mut c);
    assert_eq!(statuses(&s), vec![200]);
    let cancels: Vec<&Message> = s
        .down
        .iter()
        .map(|(_, m)| m)
        .filter(|m| m.method() == Some(Method::Cancel))
        .collect();
    assert_eq!(cancels.len(), 1);
    assert_eq!(
        cancels[0].top_via().expect("via").branch(),
        b.top_via().expect("via").branch()
    );
}

#[test]
fn fork_with_only_failures_sends_the_best_one() {
    let mut c = core(CoreConfig::default());
    let key = new_key(c.on_request(request("INVITE", 1, "z9hG4bKuac9", None), UAC, false, 0));
    c.forward(
        &key,
        &[
            ForkTarget::uri(Bytes::from_static(BOB)),
            ForkTarget::uri(Bytes::from_static(b"sip:6505550002@10.0.0.3:5060")),
        ],
        0,
    );
    let s = take(&mut c);
    let (a, b) = (s.down[0].1.clone(), s.down[1].1.clone());
    c.on_response(answer(&a, 503), 5);
    assert!(
        statuses(&take(&mut c)).is_empty(),
        "wait for the other branch"
    );
    c.on_response(answer(&b, 486), 6);
    assert_eq!(statuses(&take(&mut c)), vec![486]);
}

#[test]
fn table_full_answers_503_with_retry_after() {
    let mut c = core(CoreConfig {
        server_transactions_max: 1,
        ..CoreConfig::default()
    });
    new_key(c.on_request(request("INVITE", 1, "z9hG4bKfull1", None), UAC, false, 0));
    take(&mut c);
    assert_eq!(
        c.on_request(request("INVITE", 2, "z9hG4bKfull2", None), UAC, false, 0),
        Inbound::Refused
    );
    let s = take(&mut c);
    assert_eq!(statuses(&s), vec![503]);
    assert_eq!(
        s.up[0].header_value(HeaderName::RetryAfter),
        Some(&b"1"[..])
    );
}

/// A full table ends its oldest completed non-INVITE transaction (one only
/// waiting out Timer J) to take a new request, rather than answer 503; the
/// ended one's retransmission is then taken as a new request.
#[test]
fn a_full_table_makes_room_by_ending_the_oldest_completed_non_invite() {
    let mut c = core(CoreConfig {
        server_transactions_max: 2,
        ..CoreConfig::default()
    });
    let first = new_key(c.on_request(request("OPTIONS", 1, "z9hG4bKdone1", None), UAC, false, 0));
    c.respond(&first, 200, answer_to(&c, &first, 200), 0);
    let second = new_key(c.on_request(request("OPTIONS", 2, "z9hG4bKdone2", None), UAC, false, 1));
    c.respond(&second, 200, answer_to(&c, &second, 200), 1);
    take(&mut c);
    assert_eq!(c.transactions().0, 2);
    // Both completed (Timer J pending): the oldest makes room.
    new_key(c.on_request(request("OPTIONS", 3, "z9hG4bKnew3", None), UAC, false, 2));
    assert_eq!(c.transactions().0, 2);
    assert_eq!(c.evicted(), 1);
    // The second still absorbs its retransmission with its 200.
    assert_eq!(
        c.on_request(request("OPTIONS", 2, "z9hG4bKdone2", None), UAC, false, 3),
        Inbound::Handled
    );
    assert_eq!(statuses(&take(&mut c)), vec![200]);
    // The table now holds one completed and one unfinished: the completed
    // one goes; then only unfinished ones are left and a new request gets 503.
    new_key(c.on_request(request("OPTIONS", 4, "z9hG4bKnew4", None), UAC, false, 4));
    assert_eq!(c.evicted(), 2);
    assert_eq!(
        c.on_request(request("OPTIONS", 5, "z9hG4bKnew5", None), UAC, false, 5),
        Inbound::Refused
    );
    assert_eq!(statuses(&take(&mut c)), vec![503]);
    // The first one's late retransmission is a new transaction now: refused
    // too while the table is full of unfinished ones.
    assert_eq!(
        c.on_request(request("OPTIONS", 1, "z9hG4bKdone1", None), UAC, false, 6),
        Inbound::Refused
    );
}

#[test]
fn ack_for_a_2xx_is_forwarded_statelessly_by_its_request_uri() {
    let mut c = core(CoreConfig::default());
    let ack = parse(b"ACK sip:6505550002@10.0.0.2:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKack1\r\nRoute: <sip:127.0.0.1:5060;lr>\r\nMax-Forwards: 70\r\nFrom: <sip:6505550001@example.com>;tag=a1\r\nTo: <sip:6505550002@example.com>;tag=b2\r\nCall-ID: call-1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(c.on_request(ack, UAC, false, 0), Inbound::Handled);
    let s = take(&mut c);
    assert_eq!(s.down.len(), 1);
    assert_eq!(
        (&s.down[0].0.host[..], s.down[0].0.port),
        (&b"10.0.0.2"[..], 5070)
    );
    assert_eq!(
        s.down[0].1.header(HeaderName::Route),
        None,
        "our Route is removed"
    );
    assert_eq!(c.transactions(), (0, 0));
}

#[test]
fn everything_is_cleaned_up_after_a_call() {
    let mut c = core(CoreConfig::default());
    let key = new_key(c.on_request(request("INVITE", 1, "z9hG4bKclean", None), UAC, false, 0));
    c.forward(&key, &[ForkTarget::uri(Bytes::from_static(BOB))], 0);
    let fwd = take(&mut c).down.remove(0).1;
    c.on_response(answer(&fwd, 200), 10);
    take(&mut c);
    while let Some(at) = c.next_deadline() {
        c.on_timer(at);
        take(&mut c);
    }
    assert_eq!(c.transactions(), (0, 0));
    assert_eq!(
        c.forks(),
        0,
        "the fork context is freed with its server transaction"
    );
}
