//! The non-INVITE client transaction (RFC 3261 §17.1.2, RFC 4320).

use super::timers::{Deadlines, Timer, TimerConfig};
use super::{Output, Outputs, State, pop};
use crate::message::Message;

/// Sends a non-INVITE request and sees it to a final response.
#[derive(Debug)]
pub struct ClientNonInvite {
    state: State,
    request: Message,
    reliable: bool,
    cfg: TimerConfig,
    timers: Deadlines,
    out: Outputs,
}

impl ClientNonInvite {
    /// Start the transaction: the request is sent at once (Trying state).
    pub fn new(request: Message, reliable: bool, cfg: TimerConfig, now_ms: u64) -> Self {
        let mut t = ClientNonInvite {
            state: State::Trying,
            request,
            reliable,
            cfg,
            timers: Deadlines::default(),
            out: Outputs::new(),
        };
        t.out.push(Output::Send(t.request.buffer().clone()));
        if !reliable {
            t.timers.interval_ms = cfg.t1_ms;
            t.timers.set(Timer::E, now_ms + cfg.t1_ms);
        }
        t.timers.set(Timer::F, now_ms + cfg.t1x64_ms());
        t
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn request(&self) -> &Message {
        &self.request
    }

    pub fn on_response(&mut self, response: &Message, now_ms: u64) {
        let Some(status) = response.status() else {
            return;
        };
        match (self.state, status) {
            (State::Trying | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                self.out.push(Output::Response(response.buffer().clone()));
            }
            (State::Trying | State::Proceeding, _) => {
                self.state = State::Completed;
                self.timers.cancel_all();
                self.out.push(Output::Response(response.buffer().clone()));
                if self.reliable {
                    self.terminate();
                } else {
                    self.timers.set(Timer::K, now_ms + self.cfg.t4_ms);
                }
            }
            // Completed absorbs retransmitted finals.
            _ => {}
        }
    }

    pub fn on_timeout(&mut self, now_ms: u64) {
        while let Some(t) = self.timers.take_due(now_ms) {
            match (t, self.state) {
                (Timer::E, State::Trying | State::Proceeding) => {
                    self.out.push(Output::Send(self.request.buffer().clone()));
                    // Trying doubles up to T2; Proceeding retransmits every T2.
                    self.timers.interval_ms = if self.state == State::Trying {
                        self.timers
                            .interval_ms
                            .saturating_mul(2)
                            .min(self.cfg.t2_ms)
                    } else {
                        self.cfg.t2_ms
                    };
                    self.timers.set(Timer::E, now_ms + self.timers.interval_ms);
                }
                (Timer::F, State::Trying | State::Proceeding) => {
                    self.out.push(Output::Timeout);
                    self.terminate();
                }
                (Timer::K, State::Completed) => self.terminate(),
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
    use crate::transaction::test_support::{OPTIONS, drain, msg, response, sends};

    fn start(reliable: bool) -> ClientNonInvite {
        ClientNonInvite::new(msg(OPTIONS), reliable, TimerConfig::default(), 0)
    }

    /// Run timers until Timer F; the instants at which the request was resent.
    fn retransmit_times(t: &mut ClientNonInvite) -> Vec<u64> {
        let mut at_list = Vec::new();
        while let Some(at) = t.poll_timeout() {
            t.on_timeout(at);
            let outs = drain(|| t.poll_output());
            if sends(&outs) > 0 {
                at_list.push(at);
            }
            if outs.contains(&Output::Timeout) {
                assert_eq!(at, 32_000);
                break;
            }
        }
        at_list
    }

    #[test]
    fn timer_e_doubles_to_t2_then_f_times_out() {
        let mut t = start(false);
        drain(|| t.poll_output());
        let times = retransmit_times(&mut t);
        assert_eq!(&times[..5], &[500, 1_500, 3_500, 7_500, 11_500]);
        assert!(
            times.windows(2).skip(3).all(|w| w[1] - w[0] == 4_000),
            "{times:?}"
        );
        assert_eq!(t.state(), State::Terminated);
    }

    #[test]
    fn proceeding_retransmits_every_t2() {
        let mut t = start(false);
        drain(|| t.poll_output());
        t.on_response(&response(OPTIONS, 100), 100);
        assert_eq!(t.state(), State::Proceeding);
        t.on_timeout(500);
        drain(|| t.poll_output());
        assert_eq!(t.poll_timeout(), Some(4_500));
    }

    #[test]
    fn final_response_then_timer_k() {
        let mut t = start(false);
        drain(|| t.poll_output());
        let ok = response(OPTIONS, 200);
        t.on_response(&ok, 700);
        assert_eq!(t.state(), State::Completed);
        assert_eq!(
            drain(|| t.poll_output()),
            vec![Output::Response(ok.buffer().clone())]
        );
        t.on_response(&ok, 800);
        assert!(
            drain(|| t.poll_output()).is_empty(),
            "retransmitted final is absorbed"
        );
        assert_eq!(t.poll_timeout(), Some(5_700));
        t.on_timeout(5_700);
        assert_eq!(drain(|| t.poll_output()), vec![Output::Terminated]);
    }

    #[test]
    fn reliable_final_terminates_at_once_and_never_retransmits() {
        let mut t = start(true);
        drain(|| t.poll_output());
        assert_eq!(t.poll_timeout(), Some(32_000));
        t.on_response(&response(OPTIONS, 404), 10);
        let outs = drain(|| t.poll_output());
        assert_eq!(outs.last(), Some(&Output::Terminated));
        assert_eq!(sends(&outs), 0);
    }

    #[test]
    fn timeout_is_reported_not_answered() {
        // RFC 4320: the TU hears Timeout; it must not send 408 upstream.
        let mut t = start(true);
        drain(|| t.poll_output());
        t.on_timeout(32_000);
        assert_eq!(
            drain(|| t.poll_output()),
            vec![Output::Timeout, Output::Terminated]
        );
    }
}
