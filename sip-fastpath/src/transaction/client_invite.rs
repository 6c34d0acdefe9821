//! The INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §8.4).

use bytes::Bytes;

use super::timers::{Deadlines, Timer, TimerConfig};
use super::{Output, Outputs, State, pop};
use crate::builder::MessageBuilder;
use crate::header_name::HeaderName;
use crate::message::Message;
use crate::scan::push_u32;

/// Sends an INVITE and sees it to a final response.
#[derive(Debug)]
pub struct ClientInvite {
    state: State,
    invite: Message,
    /// The ACK sent for a non-2xx final response, resent for its retransmissions.
    ack: Option<Bytes>,
    reliable: bool,
    cfg: TimerConfig,
    timers: Deadlines,
    out: Outputs,
}

impl ClientInvite {
    /// Start the transaction: the INVITE is sent at once (Calling state).
    pub fn new(invite: Message, reliable: bool, cfg: TimerConfig, now_ms: u64) -> Self {
        let mut t = ClientInvite {
            state: State::Calling,
            invite,
            ack: None,
            reliable,
            cfg,
            timers: Deadlines::default(),
            out: Outputs::new(),
        };
        t.out.push(Output::Send(t.invite.buffer().clone()));
        if !reliable {
            t.timers.interval_ms = cfg.t1_ms;
            t.timers.set(Timer::A, now_ms + cfg.t1_ms);
        }
        t.timers.set(Timer::B, now_ms + cfg.t1x64_ms());
        t
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The INVITE this transaction sends (a CANCEL is built from it, §9.1).
    pub fn request(&self) -> &Message {
        &self.invite
    }

    /// A response whose branch and CSeq method matched this transaction.
    pub fn on_response(&mut self, response: &Message, now_ms: u64) {
        let Some(status) = response.status() else {
            return;
        };
        match (self.state, status) {
            (State::Calling | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                self.timers.cancel(Timer::A);
                self.timers.cancel(Timer::B);
                self.out.push(Output::Response(response.buffer().clone()));
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                // RFC 6026: Accepted absorbs nothing; every 2xx goes to the TU,
                // which ACKs it end to end.
                self.state = State::Accepted;
                self.timers.cancel_all();
                self.timers.set(Timer::M, now_ms + self.cfg.t1x64_ms());
                self.out.push(Output::Response(response.buffer().clone()));
            }
            (State::Calling | State::Proceeding, _) => {
                self.state = State::Completed;
                self.timers.cancel_all();
                let ack = ack_for(&self.invite, response);
                self.out.push(Output::Send(ack.clone()));
                self.ack = Some(ack);
                self.out.push(Output::Response(response.buffer().clone()));
                self.enter_completed_timer(now_ms);
            }
            (State::Accepted, 200..=299) => {
                self.out.push(Output::Response(response.buffer().clone()));
            }
            (State::Completed, 300..) => {
                // A retransmitted final response: ACK again, tell nobody.
                if let Some(ack) = &self.ack {
                    self.out.push(Output::Send(ack.clone()));
                }
            }
            _ => {}
        }
    }

    fn enter_completed_timer(&mut self, now_ms: u64) {
        let d = self.cfg.d_ms(self.reliable);
        if d == 0 {
            self.terminate();
        } else {
            self.timers.set(Timer::D, now_ms + d);
        }
    }

    /// Fire every timer due at `now_ms`.
    pub fn on_timeout(&mut self, now_ms: u64) {
        while let Some(t) = self.timers.take_due(now_ms) {
            match (t, self.state) {
                (Timer::A, State::Calling) => {
                    self.out.push(Output::Send(self.invite.buffer().clone()));
                    // INVITE retransmissions double without the T2 cap (§17.1.1.2).
                    self.timers.interval_ms = self.timers.interval_ms.saturating_mul(2);
                    self.timers.set(Timer::A, now_ms + self.timers.interval_ms);
                }
                (Timer::B, State::Calling) => {
                    self.out.push(Output::Timeout);
                    self.terminate();
                }
                (Timer::D, State::Completed) | (Timer::M, State::Accepted) => self.terminate(),
                _ => {}
            }
        }
    }

    /// The transport could not send the request (§17.1.4).
    pub fn on_transport_error(&mut self) {
        if self.state != State::Terminated {
            self.out.push(Output::TransportError);
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timers.cancel_all();
        self.out.push(Output::Terminated);
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        pop(&mut self.out)
    }

    /// When `on_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.next()
    }
}

/// The hop-by-hop ACK for a non-2xx final response (§17.1.1.3): the INVITE's
/// Request-URI, top Via, Route set, From, Call-ID and CSeq number; the
/// response's To (with its tag).
pub fn ack_for(invite: &Message, response: &Message) -> Bytes {
    same_hop_request(b"ACK", invite, response.header_value(HeaderName::To))
}

/// The CANCEL for a pending INVITE (§9.1): the INVITE's Request-URI, top Via
/// (same branch), Route set, From, To, Call-ID and CSeq number, method CANCEL.
/// Send it only after a provisional response has arrived on that branch.
pub fn cancel_for(invite: &Message) -> Bytes {
    same_hop_request(b"CANCEL", invite, invite.header_value(HeaderName::To))
}

/// A request that travels the INVITE's hop: its Request-URI, top Via, Route
/// set, From, Call-ID and CSeq number, with `method` and the given To.
fn same_hop_request(method: &[u8], invite: &Message, to: Option<&[u8]>) -> Bytes {
    let uri = invite.request_uri_bytes().unwrap_or_default();
    let mut b = MessageBuilder::request(method, uri);
    if let Ok(via) = invite.top_via() {
        b.push_header(HeaderName::Via, via.raw());
    }
    for h in invite.headers_named(HeaderName::Route) {
        b.push_header(HeaderName::Route, invite.get(h.value()));
    }
    b.push_header(HeaderName::MaxForwards, b"70");
    if let Some(from) = invite.header_value(HeaderName::From) {
        b.push_header(HeaderName::From, from);
    }
    if let Some(to) = to {
        b.push_header(HeaderName::To, to);
    }
    if let Some(call_id) = invite.header_value(HeaderName::CallId) {
        b.push_header(HeaderName::CallId, call_id);
    }
    let mut cseq = Vec::with_capacity(16);
    push_u32(&mut cseq, invite.cseq().map_or(0, |c| c.number));
    cseq.push(b' ');
    cseq.extend_from_slice(method);
    b.push_header(HeaderName::CSeq, &cseq);
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_support::{INVITE, drain, msg, response, sends};

    fn start(reliable: bool) -> ClientInvite {
        ClientInvite::new(msg(INVITE), reliable, TimerConfig::default(), 0)
    }

    #[test]
    fn retransmits_invite_until_timer_b_fires() {
        let mut t = start(false);
        assert_eq!(sends(&drain(|| t.poll_output())), 1);
        // A fires at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; B at 32 s.
        let mut fired = Vec::new();
        while let Some(at) = t.poll_timeout() {
            t.on_timeout(at);
            let outs = drain(|| t.poll_output());
            if sends(&outs) > 0 {
                fired.push(at);
            }
            if outs.contains(&Output::Timeout) {
                assert_eq!(at, 32_000);
                assert_eq!(outs.last(), Some(&Output::Terminated));
                break;
            }
        }
        assert_eq!(fired, vec![500, 1_500, 3_500, 7_500, 15_500, 31_500]);
        assert_eq!(t.state(), State::Terminated);
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn reliable_transport_never_retransmits() {
        let mut t = start(true);
        drain(|| t.poll_output());
        assert_eq!(t.poll_timeout(), Some(32_000));
        t.on_timeout(32_000);
        assert_eq!(
            drain(|| t.poll_output()),
            vec![Output::Timeout, Output::Terminated]
        );
    }

    #[test]
    fn provisional_stops_retransmission_and_timer_b() {
        let mut t = start(false);
        drain(|| t.poll_output());
        let ringing = response(INVITE, 180);
        t.on_response(&ringing, 100);
        assert_eq!(t.state(), State::Proceeding);
        assert_eq!(
            drain(|| t.poll_output()),
            vec![Output::Response(ringing.buffer().clone())]
        );
        assert_eq!(t.poll_timeout(), None, "no A, no B once Proceeding");
    }

    #[test]
    fn failure_is_acked_and_retransmissions_absorbed_until_timer_d() {
        let mut t = start(false);
        drain(|| t.poll_output());
        let busy = response(INVITE, 486);
        t.on_response(&busy, 200);
        assert_eq!(t.state(), State::Completed);
        let outs = drain(|| t.poll_output());
        let Some(Output::Send(ack)) = outs.first() else {
            panic!("ACK first, got {outs:?}");
        };
        let ack = msg(ack);
        assert_eq!(ack.method(), Some(crate::Method::Ack));
        assert_eq!(ack.request_uri_bytes(), Some(&b"sip:bob@biloxi.com"[..]));
        assert_eq!(
            ack.top_via().expect("via").branch(),
            Some(&b"z9hG4bKnashds8"[..])
        );
        assert_eq!(ack.cseq().expect("cseq").number, 314159);
        assert_eq!(ack.cseq().expect("cseq").method, crate::Method::Ack);
        assert_eq!(ack.to().expect("to").tag(), busy.to().expect("to").tag());
        assert_eq!(
            ack.header_value(HeaderName::Route),
            Some(&b"<sip:p1.example.com;lr>"[..])
        );
        assert_eq!(outs[1], Output::Response(busy.buffer().clone()));
        // A retransmitted 486 is ACKed again and not passed up.
        t.on_response(&busy, 1_000);
        let again = drain(|| t.poll_output());
        assert_eq!(again, vec![Output::Send(ack.buffer().clone())]);
        assert_eq!(t.poll_timeout(), Some(32_200));
        t.on_timeout(32_200);
        assert_eq!(drain(|| t.poll_output()), vec![Output::Terminated]);
    }

    #[test]
    fn failure_over_reliable_transport_terminates_at_once() {
        let mut t = start(true);
        drain(|| t.poll_output());
        t.on_response(&response(INVITE, 404), 10);
        assert_eq!(t.state(), State::Terminated);
        assert_eq!(drain(|| t.poll_output()).last(), Some(&Output::Terminated));
    }

    #[test]
    fn accepted_passes_every_2xx_until_timer_m() {
        let mut t = start(false);
        drain(|| t.poll_output());
        let ok = response(INVITE, 200);
        t.on_response(&ok, 300);
        assert_eq!(t.state(), State::Accepted);
        assert_eq!(
            drain(|| t.poll_output()),
            vec![Output::Response(ok.buffer().clone())]
        );
        // RFC 6026: a retransmitted or forked 2xx still reaches the TU.
        t.on_response(&ok, 400);
        assert_eq!(
            drain(|| t.poll_output()),
            vec![Output::Response(ok.buffer().clone())]
        );
        // A late failure is dropped.
        t.on_response(&response(INVITE, 500), 500);
        assert!(drain(|| t.poll_output()).is_empty());
        assert_eq!(t.poll_timeout(), Some(32_300));
        t.on_timeout(32_300);
        assert_eq!(drain(|| t.poll_output()), vec![Output::Terminated]);
    }

    #[test]
    fn cancel_matches_the_invite_but_is_its_own_transaction() {
        let invite = msg(INVITE);
        let cancel = msg(&cancel_for(&invite));
        assert_eq!(cancel.method(), Some(crate::Method::Cancel));
        assert_eq!(cancel.request_uri_bytes(), invite.request_uri_bytes());
        assert_eq!(
            cancel.top_via().expect("via").branch(),
            Some(&b"z9hG4bKnashds8"[..])
        );
        assert_eq!(cancel.cseq().expect("cseq").number, 314159);
        assert_eq!(cancel.to().expect("to").tag(), None);
        assert_eq!(
            cancel.header_value(HeaderName::Route),
            Some(&b"<sip:p1.example.com;lr>"[..])
        );
        assert_ne!(cancel.server_key(), invite.server_key());
        assert_eq!(
            cancel.client_key().expect("key").branch,
            invite.client_key().expect("key").branch
        );
    }

    #[test]
    fn transport_error_terminates() {
        let mut t = start(false);
        drain(|| t.poll_output());
        t.on_transport_error();
        assert_eq!(
            drain(|| t.poll_output()),
            vec![Output::TransportError, Output::Terminated]
        );
        t.on_transport_error();
        assert!(drain(|| t.poll_output()).is_empty());
    }

    #[test]
    fn late_timers_after_terminated_do_nothing() {
        let mut t = start(false);
        t.on_response(&response(INVITE, 200), 1);
        t.on_timeout(32_001);
        drain(|| t.poll_output());
        t.on_timeout(100_000);
        assert!(drain(|| t.poll_output()).is_empty());
    }
}
