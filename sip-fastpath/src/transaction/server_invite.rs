//! The INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §8.5–8.7).

use bytes::Bytes;

use super::timers::{Deadlines, Timer, TimerConfig};
use super::{Output, Outputs, State, pop};
use crate::message::Message;
use crate::method::Method;

/// Receives an INVITE and delivers the TU's responses reliably.
#[derive(Debug)]
pub struct ServerInvite {
    state: State,
    /// The last response sent, resent for retransmitted INVITEs (and by Timer G).
    last_response: Option<Bytes>,
    reliable: bool,
    cfg: TimerConfig,
    timers: Deadlines,
    out: Outputs,
}

impl ServerInvite {
    /// Created when a new INVITE arrives (Proceeding). The TU decides whether
    /// to send 100 Trying at once (a proxy does, §16.2).
    pub fn new(reliable: bool, cfg: TimerConfig) -> Self {
        ServerInvite {
            state: State::Proceeding,
            last_response: None,
            reliable,
            cfg,
            timers: Deadlines::default(),
            out: Outputs::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// A request that matched this transaction: a retransmitted INVITE or an ACK.
    pub fn on_request(&mut self, request: &Message, now_ms: u64) {
        match (request.method(), self.state) {
            (Some(Method::Invite), State::Proceeding | State::Completed) => {
                if let Some(r) = &self.last_response {
                    self.out.push(Output::Send(r.clone()));
                }
            }
            (Some(Method::Ack), State::Completed) => {
                self.state = State::Confirmed;
                self.timers.cancel(Timer::G);
                self.timers.cancel(Timer::H);
                if self.reliable {
                    self.terminate();
                } else {
                    self.timers.set(Timer::I, now_ms + self.cfg.t4_ms);
                }
            }
            // RFC 6026 §8.7: an ACK matching in Accepted goes to the TU.
            (Some(Method::Ack), State::Accepted) => {
                self.out.push(Output::Request(request.buffer().clone()));
            }
            // Retransmitted INVITEs in Accepted, and ACKs in Confirmed, are absorbed.
            _ => {}
        }
    }

    /// The TU sends a response with this status.
    pub fn send(&mut self, status: u16, response: Bytes, now_ms: u64) {
        match (self.state, status) {
            (State::Proceeding, 100..=199) => {
                self.last_response = Some(response.clone());
                self.out.push(Output::Send(response));
            }
            (State::Proceeding, 200..=299) => {
                self.state = State::Accepted;
                self.last_response = None;
                self.out.push(Output::Send(response));
                self.timers.set(Timer::L, now_ms + self.cfg.t1x64_ms());
            }
            // RFC 6026 §8.6: the TU's 2xx retransmissions pass through Accepted.
            (State::Accepted, 200..=299) => self.out.push(Output::Send(response)),
            (State::Proceeding, 300..) => {
                self.state = State::Completed;
                self.last_response = Some(response.clone());
                self.out.push(Output::Send(response));
                if !self.reliable {
                    self.timers.interval_ms = self.cfg.t1_ms;
                    self.timers.set(Timer::G, now_ms + self.cfg.t1_ms);
                }
                self.timers.set(Timer::H, now_ms + self.cfg.t1x64_ms());
            }
            _ => {}
        }
    }

    pub fn on_timeout(&mut self, now_ms: u64) {
        while let Some(t) = self.timers.take_due(now_ms) {
            match (t, self.state) {
                (Timer::G, State::Completed) => {
                    if let Some(r) = &self.last_response {
                        self.out.push(Output::Send(r.clone()));
                    }
                    self.timers.interval_ms = self
                        .timers
                        .interval_ms
                        .saturating_mul(2)
                        .min(self.cfg.t2_ms);
                    self.timers.set(Timer::G, now_ms + self.timers.interval_ms);
                }
                (Timer::H, State::Completed) => {
                    self.out.push(Output::AckTimeout);
                    self.terminate();
                }
                (Timer::I, State::Confirmed) | (Timer::L, State::Accepted) => self.terminate(),
                _ => {}
            }
        }
    }

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

    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::client_invite::ack_for;
    use crate::transaction::test_support::{INVITE, drain, msg, response};

    fn bytes_of(status: u16) -> Bytes {
        response(INVITE, status).buffer().clone()
    }

    #[test]
    fn retransmitted_invite_gets_the_last_provisional() {
        let mut t = ServerInvite::new(false, TimerConfig::default());
        t.on_request(&msg(INVITE), 10);
        assert!(
            drain(|| t.poll_output()).is_empty(),
            "nothing sent yet, nothing to resend"
        );
        t.send(100, bytes_of(100), 10);
        t.send(180, bytes_of(180), 20);
        drain(|| t.poll_output());
        t.on_request(&msg(INVITE), 30);
        assert_eq!(drain(|| t.poll_output()), vec![Output::Send(bytes_of(180))]);
        assert_eq!(t.state(), State::Proceeding);
    }

    #[test]
    fn failure_retransmits_with_timer_g_until_ack() {
        let mut t = ServerInvite::new(false, TimerConfig::default());
        t.send(486, bytes_of(486), 0);
        assert_eq!(t.state(), State::Completed);
        drain(|| t.poll_output());
        let mut resent_at = Vec::new();
        for _ in 0..5 {
            let Some(at) = t.poll_timeout() else { break };
            t.on_timeout(at);
            if !drain(|| t.poll_output()).is_empty() {
                resent_at.push(at);
            }
        }
        assert_eq!(resent_at, vec![500, 1_500, 3_500, 7_500, 11_500]);
        let ack = msg(&ack_for(&msg(INVITE), &response(INVITE, 486)));
        t.on_request(&ack, 12_000);
        assert_eq!(t.state(), State::Confirmed);
        assert_eq!(t.poll_timeout(), Some(17_000), "Timer I = T4");
        t.on_request(&ack, 12_100);
        assert!(
            drain(|| t.poll_output()).is_empty(),
            "ACKs absorbed in Confirmed"
        );
        t.on_timeout(17_000);
        assert_eq!(drain(|| t.poll_output()), vec![Output::Terminated]);
    }

    #[test]
    fn no_ack_before_timer_h_is_reported() {
        let mut t = ServerInvite::new(true, TimerConfig::default());
        t.send(503, bytes_of(503), 0);
        drain(|| t.poll_output());
        assert_eq!(
            t.poll_timeout(),
            Some(32_000),
            "no Timer G on reliable transports"
        );
        t.on_timeout(32_000);
        assert_eq!(
            drain(|| t.poll_output()),
            vec![Output::AckTimeout, Output::Terminated]
        );
    }

    #[test]
    fn reliable_ack_terminates_at_once() {
        let mut t = ServerInvite::new(true, TimerConfig::default());
        t.send(404, bytes_of(404), 0);
        drain(|| t.poll_output());
        t.on_request(&msg(&ack_for(&msg(INVITE), &response(INVITE, 404))), 5);
        assert_eq!(drain(|| t.poll_output()), vec![Output::Terminated]);
    }

    #[test]
    fn accepted_absorbs_invites_passes_acks_and_2xx_until_timer_l() {
        let mut t = ServerInvite::new(false, TimerConfig::default());
        t.send(200, bytes_of(200), 100);
        assert_eq!(t.state(), State::Accepted);
        assert_eq!(drain(|| t.poll_output()), vec![Output::Send(bytes_of(200))]);
        t.on_request(&msg(INVITE), 200);
        assert!(
            drain(|| t.poll_output()).is_empty(),
            "retransmitted INVITE absorbed"
        );
        t.send(200, bytes_of(200), 600);
        assert_eq!(drain(|| t.poll_output()), vec![Output::Send(bytes_of(200))]);
        let ack = msg(b"ACK sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\nTo: <sip:bob@biloxi.com>;tag=x\r\nFrom: <sip:alice@atlanta.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\nCSeq: 314159 ACK\r\n\r\n");
        t.on_request(&ack, 700);
        assert_eq!(
            drain(|| t.poll_output()),
            vec![Output::Request(ack.buffer().clone())]
        );
        assert_eq!(t.poll_timeout(), Some(32_100));
        t.on_timeout(32_100);
        assert_eq!(drain(|| t.poll_output()), vec![Output::Terminated]);
    }

    #[test]
    fn provisional_after_final_is_ignored() {
        let mut t = ServerInvite::new(false, TimerConfig::default());
        t.send(486, bytes_of(486), 0);
        drain(|| t.poll_output());
        t.send(180, bytes_of(180), 1);
        t.send(200, bytes_of(200), 1);
        assert!(drain(|| t.poll_output()).is_empty());
        assert_eq!(t.state(), State::Completed);
    }
}
