//! Per-shard admission control: a token bucket whose rate follows latency,
//! as Clearwater's load monitor did (Welsh and Culler's adaptive overload
//! control, on a smoothed mean), but owned by one shard: no lock, no atomics.
//!
//! Every `adjust_period` completed requests the rate moves: divided by 1.2
//! when the smoothed latency is over target or a downstream penalty (an
//! overload answer from a server we depend on) was seen; raised by
//! `-err * max_tokens * 0.5` when latency is comfortably under target
//! (`err < -0.005`) and the shard admitted more than half its current rate
//! over the period; otherwise unchanged. The rate stays in
//! `[min_token_rate, max_token_rate]` and the bucket never holds more than
//! `max_tokens`. Time is passed in as microseconds.
//!
//! Which requests skip the bucket is SIP policy: [`Exemptions`].

use sip_fastpath::{HeaderName, Message, Method};

/// Clearwater's `[throttle]` settings, with Sprout's final defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottleConfig {
    /// `target_latency_us`: smoothed latency above this cuts the rate.
    pub target_latency_us: u64,
    /// `max_tokens`: bucket capacity (also scales the additive increase).
    pub max_tokens: f64,
    /// `init_token_rate`: tokens per second at start.
    pub init_token_rate: f64,
    /// `min_token_rate`: the rate never falls below this.
    pub min_token_rate: f64,
    /// `max_token_rate`: the rate never rises above this; 0 means no cap.
    pub max_token_rate: f64,
    /// Completed requests between adjustments (Sprout: 20).
    pub adjust_period: u32,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            target_latency_us: 10_000,
            max_tokens: 1000.0,
            init_token_rate: 2000.0,
            min_token_rate: 10.0,
            max_token_rate: 0.0,
            adjust_period: 20,
        }
    }
}

const DECREASE_FACTOR: f64 = 1.2;
const INCREASE_THRESHOLD: f64 = -0.005;
const INCREASE_FACTOR: f64 = 0.5;

/// What the last adjustment did, for statistics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    Decreased,
    Increased,
    Unchanged,
}

/// The controller. One per shard.
#[derive(Debug, Clone)]
pub struct Throttle {
    cfg: ThrottleConfig,
    tokens: f64,
    rate: f64,
    last_refill_us: u64,
    smoothed_latency_us: f64,
    until_adjust: u32,
    period_start_us: u64,
    period_admitted: u64,
    period_penalties: u64,
    /// Lifetime counters.
    pub admitted: u64,
    pub rejected: u64,
    pub penalties: u64,
}

impl Throttle {
    pub fn new(cfg: ThrottleConfig, now_us: u64) -> Self {
        Self {
            tokens: cfg.max_tokens,
            rate: cfg.init_token_rate,
            last_refill_us: now_us,
            smoothed_latency_us: 0.0,
            until_adjust: cfg.adjust_period.max(1),
            period_start_us: now_us,
            period_admitted: 0,
            period_penalties: 0,
            admitted: 0,
            rejected: 0,
            penalties: 0,
            cfg,
        }
    }

    /// Take a token if there is one. `false` means answer 503 now, before any
    /// expensive work.
    #[inline]
    pub fn admit(&mut self, now_us: u64) -> bool {
        let elapsed = now_us.saturating_sub(self.last_refill_us);
        if elapsed > 0 {
            self.tokens =
                (self.tokens + self.rate * elapsed as f64 * 1e-6).min(self.cfg.max_tokens);
            self.last_refill_us = now_us;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.admitted += 1;
            self.period_admitted += 1;
            true
        } else {
            self.rejected += 1;
            false
        }
    }

    /// A downstream server answered "overloaded" (e.g. 503 from the HSS cache).
    pub fn penalty(&mut self) {
        self.penalties += 1;
        self.period_penalties += 1;
    }

    /// An admitted request finished after `latency_us`. Returns the
    /// adjustment made when this completion closed a period.
    pub fn complete(&mut self, latency_us: u64, now_us: u64) -> Option<Adjustment> {
        self.smoothed_latency_us = (7.0 * self.smoothed_latency_us + latency_us as f64) / 8.0;
        self.until_adjust -= 1;
        if self.until_adjust > 0 {
            return None;
        }
        let target = self.cfg.target_latency_us.max(1) as f64;
        let err = (self.smoothed_latency_us - target) / target;
        let adjustment = if err > 0.0 || self.period_penalties > 0 {
            self.rate = (self.rate / DECREASE_FACTOR).max(self.cfg.min_token_rate);
            Adjustment::Decreased
        } else if err < INCREASE_THRESHOLD && self.busy(now_us) {
            let mut rate = self.rate + -err * self.cfg.max_tokens * INCREASE_FACTOR;
            if self.cfg.max_token_rate > 0.0 {
                rate = rate.min(self.cfg.max_token_rate);
            }
            self.rate = rate;
            Adjustment::Increased
        } else {
            Adjustment::Unchanged
        };
        self.until_adjust = self.cfg.adjust_period.max(1);
        self.period_start_us = now_us;
        self.period_admitted = 0;
        self.period_penalties = 0;
        Some(adjustment)
    }

    /// Did the shard admit more than half its current rate this period?
    fn busy(&self, now_us: u64) -> bool {
        let span_s = now_us.saturating_sub(self.period_start_us) as f64 * 1e-6;
        if span_s <= 0.0 {
            return true;
        }
        self.period_admitted as f64 / span_s > self.rate / 2.0
    }

    /// Tokens per second now permitted.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The smoothed latency the controller steers by.
    pub fn smoothed_latency_us(&self) -> f64 {
        self.smoothed_latency_us
    }

    pub fn target_latency_us(&self) -> u64 {
        self.cfg.target_latency_us
    }
}

/// Which requests bypass the bucket. The defaults are Sprout's final code;
/// turn `register` off to throttle a registration storm after an outage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemptions {
    pub ack: bool,
    pub cancel: bool,
    pub options: bool,
    pub register: bool,
    pub subscribe: bool,
    /// Requests with a To tag.
    pub in_dialog: bool,
    /// Requests returning from an application server: top Route with an
    /// `odi_` user part.
    pub odi: bool,
    /// Request-URI `urn:service:sos...`.
    pub emergency: bool,
}

impl Default for Exemptions {
    fn default() -> Self {
        Self {
            ack: true,
            cancel: true,
            options: true,
            register: true,
            subscribe: true,
            in_dialog: true,
            odi: true,
            emergency: true,
        }
    }
}

impl Exemptions {
    /// Does this message skip the throttle? Responses always do. Cheap: the
    /// method, the To tag, the top Route and the Request-URI prefix only.
    pub fn exempt(&self, msg: &Message) -> bool {
        let Some(method) = msg.method() else {
            return true;
        };
        let by_method = match method {
            Method::Ack => self.ack,
            Method::Cancel => self.cancel,
            Method::Options => self.options,
            Method::Register => self.register,
            Method::Subscribe => self.subscribe,
            _ => false,
        };
        if by_method {
            return true;
        }
        if self.emergency
            && msg
                .request_uri_bytes()
                .is_some_and(|u| u.len() >= 15 && u[..15].eq_ignore_ascii_case(b"urn:service:sos"))
        {
            return true;
        }
        if self.in_dialog && msg.to().is_ok_and(|to| to.tag().is_some()) {
            return true;
        }
        if self.odi
            && msg
                .header_value(HeaderName::Route)
                .is_some_and(|r| memchr::memmem::find(r, b"odi_").is_some())
        {
            return true;
        }
        false
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use sip_fastpath::Limits;

    /// A single-server queue of `capacity_per_s` in front of the throttle,
    /// offered a steady `offered_per_s`, in virtual time: each admitted
    /// request waits for the ones before it, so latency climbs once the
    /// admitted rate passes capacity.
    fn simulate(offered_per_s: f64, capacity_per_s: f64, seconds: u64) -> Throttle {
        let mut t = Throttle::new(ThrottleConfig::default(), 0);
        let step_us = (1e6 / offered_per_s) as u64;
        let service_us = 1e6 / capacity_per_s;
        let mut server_free_us = 0.0f64;
        let mut now = 0u64;
        while now < seconds * 1_000_000 {
            if t.admit(now) {
                let done = server_free_us.max(now as f64) + service_us;
                server_free_us = done;
                t.complete((done - now as f64) as u64, now);
            }
            now += step_us;
        }
        t
    }

    #[test]
    fn overload_drives_the_rate_down_to_what_keeps_latency_on_target() {
        let t = simulate(20_000.0, 5_000.0, 30);
        // Latency 10 ms is reached at load 1.0 + small overshoot; the rate
        // must settle near the capacity, far below the offered 20 000/s.
        assert!(t.rate() < 8_000.0, "rate {}", t.rate());
        assert!(t.rate() > 2_000.0, "rate {}", t.rate());
        assert!(t.rejected > 0);
    }

    #[test]
    fn light_load_keeps_admitting_everything() {
        let t = simulate(500.0, 5_000.0, 10);
        assert_eq!(t.rejected, 0);
    }

    #[test]
    fn idle_rate_does_not_grow_without_use() {
        // 100 req/s against a 2000/s rate: less than half used, no increase.
        let mut t = Throttle::new(ThrottleConfig::default(), 0);
        let mut now = 0;
        for _ in 0..200 {
            assert!(t.admit(now));
            t.complete(1_000, now);
            now += 10_000;
        }
        assert_eq!(t.rate(), 2000.0);
    }

    #[test]
    fn penalty_decreases_and_min_rate_holds() {
        let cfg = ThrottleConfig {
            min_token_rate: 100.0,
            ..ThrottleConfig::default()
        };
        let mut t = Throttle::new(cfg, 0);
        for round in 0..100u64 {
            t.penalty();
            for i in 0..20u64 {
                t.complete(1, round * 20 + i);
            }
        }
        assert_eq!(t.rate(), 100.0);
    }

    #[test]
    fn one_adjustment_per_period_with_exact_factors() {
        let mut t = Throttle::new(ThrottleConfig::default(), 0);
        for i in 0..19 {
            assert_eq!(t.complete(50_000, i), None);
        }
        assert_eq!(t.complete(50_000, 19), Some(Adjustment::Decreased));
        assert!((t.rate() - 2000.0 / 1.2).abs() < 1e-9);
    }

    #[test]
    fn empty_bucket_refuses_then_refills_at_the_rate() {
        let cfg = ThrottleConfig {
            max_tokens: 2.0,
            init_token_rate: 1000.0,
            ..ThrottleConfig::default()
        };
        let mut t = Throttle::new(cfg, 0);
        assert!(t.admit(0));
        assert!(t.admit(0));
        assert!(!t.admit(0));
        assert!(!t.admit(999));
        assert!(t.admit(1000)); // 1 ms at 1000/s = 1 token
        assert_eq!((t.admitted, t.rejected), (3, 2));
    }

    fn msg(s: &str) -> Message {
        Message::parse(Bytes::from(s.replace('\n', "\r\n")), &Limits::default()).unwrap()
    }

    #[test]
    fn exemptions_follow_sprout() {
        let base = "Via: SIP/2.0/UDP h;branch=z9hG4bKx\nFrom: <sip:a@h>;tag=1\nCall-ID: c\nCSeq: 1 X\nContent-Length: 0\n";
        let ex = Exemptions::default();
        let invite = msg(&format!("INVITE sip:b@h SIP/2.0\nTo: <sip:b@h>\n{base}\n"));
        assert!(!ex.exempt(&invite));
        let reinvite = msg(&format!(
            "INVITE sip:b@h SIP/2.0\nTo: <sip:b@h>;tag=9\n{base}\n"
        ));
        assert!(ex.exempt(&reinvite));
        let register = msg(&format!("REGISTER sip:h SIP/2.0\nTo: <sip:b@h>\n{base}\n"));
        assert!(ex.exempt(&register));
        let storm = Exemptions {
            register: false,
            ..Exemptions::default()
        };
        assert!(!storm.exempt(&register));
        let sos = msg(&format!(
            "INVITE urn:service:sos SIP/2.0\nTo: <sip:b@h>\n{base}\n"
        ));
        assert!(ex.exempt(&sos));
        let odi = msg(&format!(
            "INVITE sip:b@h SIP/2.0\nRoute: <sip:odi_abc@scscf;lr>\nTo: <sip:b@h>\n{base}\n"
        ));
        assert!(ex.exempt(&odi));
        let resp = msg(&format!("SIP/2.0 200 OK\nTo: <sip:b@h>\n{base}\n"));
        assert!(ex.exempt(&resp));
    }
}
