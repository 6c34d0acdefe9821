//! The non-INVITE server transaction (RFC 3261 §17.2.2, RFC 4320).

use bytes::Bytes;

use super::timers::{Deadlines, Timer, TimerConfig};
use super::{Output, Outputs, State, pop};

/// Receives a non-INVITE request and delivers the TU's response reliably.
///
/// RFC 4320 §4.1 forbids answering 408 to a non-INVITE request, so a TU that
/// never answers leaves the transaction open: Timer J is also armed in Trying
/// and Proceeding as a 64·T1 limit, after which the transaction ends silently
/// (the client's Timer F has fired by then).
#[derive(Debug)]
pub struct ServerNonInvite {
    state: State,
    last_response: Option<Bytes>,
    reliable: bool,
    cfg: TimerConfig,
    timers: Deadlines,
    out: Outputs,
}

impl ServerNonInvite {
    /// Created when a new request arrives (Trying).
    pub fn new(reliable: bool, cfg: TimerConfig, now_ms: u64) -> Self {
        let mut t = ServerNonInvite {
            state: State::Trying,
            last_response: None,
            reliable,
            cfg,
            timers: Deadlines::default(),
            out: Outputs::new(),
        };
        t.timers.set(Timer::J, now_ms + cfg.t1x64_ms());
        t
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// A retransmission of the request.
    pub fn on_request(&mut self) {
        if matches!(self.state, State::Proceeding | State::Completed) {
            if let Some(r) = &self.last_response {
                self.out.push(Output::Send(r.clone()));
            }
        }
    }

    /// The TU sends a response with this status.
    pub fn send(&mut self, status: u16, response: Bytes, now_ms: u64) {
        match (self.state, status) {
            (State::Trying | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                self.last_response = Some(response.clone());
                self.out.push(Output::Send(response));
            }
            (State::Trying | State::Proceeding, _) => {
                self.state = State::Completed;
                self.last_response = Some(response.clone());
                self.out.push(Output::Send(response));
                self.timers.cancel_all();
                if self.reliable {
                    self.terminate();
                } else {
                    self.timers.set(Timer::J, now_ms + self.cfg.t1x64_ms());
                }
            }
            _ => {}
        }
    }

    pub fn on_timeout(&mut self, now_ms: u64) {
        while let Some(t) = self.timers.take_due(now_ms) {
            if t == Timer::J && self.state != State::Terminated {
                self.terminate();
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
    use crate::transaction::test_support::{OPTIONS, drain, response};

    fn bytes_of(status: u16) -> Bytes {
        response(OPTIONS, status).buffer().clone()
    }

    #[test]
    fn retransmissions_in_trying_are_absorbed() {
        let mut t = ServerNonInvite::new(false, TimerConfig::default(), 0);
        t.on_request();
        assert!(drain(|| t.poll_output()).is_empty());
    }

    #[test]
    fn provisional_then_final_are_resent_for_retransmissions() {
        let mut t = ServerNonInvite::new(false, TimerConfig::default(), 0);
        t.send(100, bytes_of(100), 0);
        drain(|| t.poll_output());
        t.on_request();
        assert_eq!(drain(|| t.poll_output()), vec![Output::Send(bytes_of(100))]);
        t.send(200, bytes_of(200), 50);
        assert_eq!(t.state(), State::Completed);
        drain(|| t.poll_output());
        t.on_request();
        assert_eq!(drain(|| t.poll_output()), vec![Output::Send(bytes_of(200))]);
        assert_eq!(t.poll_timeout(), Some(32_050), "Timer J = 64*T1");
        t.on_timeout(32_050);
        assert_eq!(drain(|| t.poll_output()), vec![Output::Terminated]);
    }

    #[test]
    fn reliable_final_terminates_at_once() {
        let mut t = ServerNonInvite::new(true, TimerConfig::default(), 0);
        t.send(200, bytes_of(200), 1);
        assert_eq!(
            drain(|| t.poll_output()),
            vec![Output::Send(bytes_of(200)), Output::Terminated]
        );
    }

    #[test]
    fn unanswered_request_ends_silently_without_408() {
        let mut t = ServerNonInvite::new(false, TimerConfig::default(), 0);
        t.on_timeout(31_999);
        assert!(drain(|| t.poll_output()).is_empty());
        t.on_timeout(32_000);
        assert_eq!(drain(|| t.poll_output()), vec![Output::Terminated]);
        t.send(200, bytes_of(200), 32_001);
        assert!(drain(|| t.poll_output()).is_empty(), "too late");
    }
}
