//! Choosing the response to send upstream when a request was forked
//! (RFC 3261 §16.7 steps 5–7).

use bytes::Bytes;
use sip_fastpath::{HeaderName, Message};

/// Final responses collected from a fork's branches.
#[derive(Debug, Default)]
pub struct ResponseContext {
    branches: usize,
    finals: Vec<Message>,
}

/// What to do with a final response that just arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BestResponse {
    /// Forward this now (a 2xx always goes upstream at once, §16.7 step 5);
    /// either way the branches still pending are CANCELled (§16.7 step 10).
    ForwardNow { bytes: Bytes, cancel_others: bool },
    /// Keep waiting: other branches are still pending.
    Wait,
    /// Every branch has answered: send this (already chosen and adjusted).
    Final(Bytes),
}

impl ResponseContext {
    /// A context for a request forked to `branches` targets.
    pub fn new(branches: usize) -> Self {
        ResponseContext {
            branches,
            finals: Vec::with_capacity(branches),
        }
    }

    /// Whether a final response with this status goes upstream at once
    /// (2xx and 6xx, §16.7 step 5 and 8): then [`ResponseContext::forward_now`]
    /// says what to do and nothing needs keeping, as the fork is decided
    /// (after it only further 2xx pass, and they too go at once).
    pub fn forwards_at_once(status: u16) -> bool {
        matches!(status, 200..=299 | 600..=699)
    }

    /// What to do with a 2xx or 6xx (with our Via already removed): forward
    /// it and CANCEL the branches still pending.
    pub fn forward_now(bytes: Bytes) -> BestResponse {
        BestResponse::ForwardNow {
            bytes,
            cancel_others: true,
        }
    }

    /// Record a final response (with our Via already removed) from one branch.
    pub fn on_final(&mut self, response: Message) -> BestResponse {
        let status = response.status().unwrap_or(500);
        match status {
            200..=299 => {
                self.finals.push(response.clone());
                BestResponse::ForwardNow {
                    bytes: response.buffer().clone(),
                    cancel_others: true,
                }
            }
            600..=699 => {
                self.finals.push(response.clone());
                BestResponse::ForwardNow {
                    bytes: response.buffer().clone(),
                    cancel_others: true,
                }
            }
            _ => {
                self.finals.push(response);
                if self.finals.len() >= self.branches {
                    Final(self.choose())
                } else {
                    BestResponse::Wait
                }
            }
        }
    }

    /// Every branch finished without 2xx/6xx: §16.7 step 6 — the lowest class
    /// wins, 401/407/415/420/484 first within 4xx, a 503 becomes 500, and the
    /// challenges of every 401/407 are gathered into the one sent (step 7).
    fn choose(&self) -> Bytes {
        let rank = |m: &Message| {
            let s = m.status().unwrap_or(500);
            let preferred = matches!(s, 401 | 407 | 415 | 420 | 484);
            (s / 100, u16::from(!preferred), s)
        };
        let Some(best) = self.finals.iter().min_by_key(|m| rank(m)) else {
            return Bytes::new();
        };
        let status = best.status().unwrap_or(500);
        let mut e = best.edit();
        if status == 503 {
            e.set_start_line(b"SIP/2.0 500 Server Internal Error");
        }
        if matches!(status, 401 | 407) {
            for other in self.finals.iter().filter(|m| !std::ptr::eq(*m, best)) {
                for name in [HeaderName::WwwAuthenticate, HeaderName::ProxyAuthenticate] {
                    for h in other.headers_named(name) {
                        e.add_header(name, other.get(h.value()));
                    }
                }
            }
        }
        e.finish()
    }
}

use BestResponse::Final;

#[cfg(test)]
mod tests {
    use super::*;
    use sip_fastpath::Limits;

    fn resp(status: u16, extra: &str) -> Message {
        let text = format!(
            "SIP/2.0 {status} X\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag={status}\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        Message::parse(Bytes::from(text), &Limits::default()).expect("parses")
    }

    fn status(b: &Bytes) -> Option<u16> {
        Message::parse(b.clone(), &Limits::default()).ok()?.status()
    }

    #[test]
    fn a_2xx_goes_at_once_and_cancels_the_rest() {
        let mut c = ResponseContext::new(3);
        assert_eq!(c.on_final(resp(486, "")), BestResponse::Wait);
        match c.on_final(resp(200, "")) {
            BestResponse::ForwardNow {
                bytes,
                cancel_others,
            } => {
                assert_eq!(status(&bytes), Some(200));
                assert!(cancel_others);
            }
            other => panic!("expected ForwardNow, got {other:?}"),
        }
    }

    #[test]
    fn a_6xx_goes_at_once() {
        let mut c = ResponseContext::new(2);
        assert!(matches!(
            c.on_final(resp(603, "")),
            BestResponse::ForwardNow {
                cancel_others: true,
                ..
            }
        ));
    }

    #[test]
    fn lowest_class_wins_and_preferred_4xx_first() {
        let mut c = ResponseContext::new(3);
        c.on_final(resp(503, ""));
        c.on_final(resp(404, ""));
        let Final(b) = c.on_final(resp(401, "WWW-Authenticate: Digest realm=\"a\"\r\n")) else {
            panic!("all answered");
        };
        assert_eq!(status(&b), Some(401));
    }

    #[test]
    fn a_lone_503_becomes_500() {
        let mut c = ResponseContext::new(1);
        let Final(b) = c.on_final(resp(503, "")) else {
            panic!("all answered");
        };
        let m = Message::parse(b, &Limits::default()).expect("parses");
        assert_eq!(m.status(), Some(500));
        assert_eq!(m.reason(), Some(&b"Server Internal Error"[..]));
    }

    #[test]
    fn challenges_of_every_branch_are_gathered() {
        let mut c = ResponseContext::new(2);
        c.on_final(resp(401, "WWW-Authenticate: Digest realm=\"a\"\r\n"));
        let Final(b) = c.on_final(resp(407, "Proxy-Authenticate: Digest realm=\"b\"\r\n")) else {
            panic!("all answered");
        };
        let m = Message::parse(b, &Limits::default()).expect("parses");
        assert_eq!(m.status(), Some(401));
        assert_eq!(
            m.header_value(HeaderName::WwwAuthenticate),
            Some(&b"Digest realm=\"a\""[..])
        );
        assert_eq!(
            m.header_value(HeaderName::ProxyAuthenticate),
            Some(&b"Digest realm=\"b\""[..])
        );
    }
}
