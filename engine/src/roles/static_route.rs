//! The simplest role: send every request to a next hop chosen by a static
//! table (by the Request-URI's host, with a default). Used to prove the
//! proxy core end to end before the IMS roles exist.

use bytes::Bytes;
use sip_fastpath::Message;
use smallvec::smallvec;

use super::{Decision, RequestContext, Role};
use crate::proxy::ForkTarget;

/// One rule: requests whose Request-URI host is `host` (`*` for any) go to `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoute {
    pub host: String,
    /// A SIP URI that becomes the Request-URI (its host and port are the next hop).
    pub target: Bytes,
}

/// The rules, tried in order.
#[derive(Debug, Clone, Default)]
pub struct StaticRoutes {
    pub routes: Vec<StaticRoute>,
}

impl StaticRoutes {
    /// The target for a request, if a rule matches.
    pub fn target_for(&self, request: &Message) -> Option<&Bytes> {
        let uri = request.request_uri().ok()?;
        self.routes
            .iter()
            .find(|r| r.host == "*" || r.host.as_bytes().eq_ignore_ascii_case(uri.host))
            .map(|r| &r.target)
    }
}

impl StaticRoutes {
    /// The decision, at once: the role needs no data it would await.
    pub fn decide(&self, request: &Message) -> Decision {
        match self.target_for(request) {
            // The target becomes the Request-URI: the next hop is that host.
            Some(t) => Decision::Forward(smallvec![ForkTarget::uri(t.clone())]),
            None => Decision::respond(404, "Not Found - No Route"),
        }
    }
}

impl Role for StaticRoutes {
    fn name(&self) -> &'static str {
        "static-route"
    }

    async fn on_request(&self, request: &Message, _ctx: &RequestContext) -> Decision {
        self.decide(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip_fastpath::Limits;

    fn req(uri: &str) -> Message {
        Message::parse(
            Bytes::from(format!("INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n")),
            &Limits::default(),
        )
        .expect("parses")
    }

    const CTX: RequestContext = RequestContext { now_ms: 0 };

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        // The role's future never waits; poll it once.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("static routing never waits"),
        }
    }

    #[test]
    fn first_matching_rule_wins_and_unmatched_is_404() {
        let r = StaticRoutes {
            routes: vec![
                StaticRoute {
                    host: "biloxi.com".into(),
                    target: Bytes::from_static(b"sip:service@127.0.0.1:5070"),
                },
                StaticRoute {
                    host: "*".into(),
                    target: Bytes::from_static(b"sip:127.0.0.1:5080"),
                },
            ],
        };
        assert_eq!(
            block_on(r.on_request(&req("sip:bob@BILOXI.com"), &CTX)),
            Decision::Forward(smallvec![ForkTarget::uri(Bytes::from_static(
                b"sip:service@127.0.0.1:5070"
            ))])
        );
        assert_eq!(
            block_on(r.on_request(&req("sip:bob@elsewhere.net"), &CTX)),
            Decision::Forward(smallvec![ForkTarget::uri(Bytes::from_static(
                b"sip:127.0.0.1:5080"
            ))])
        );
        let none = StaticRoutes::default();
        let d = block_on(none.on_request(&req("sip:bob@x"), &CTX));
        assert_eq!(d, Decision::respond(404, "Not Found - No Route"));
        let resp = Message::parse(
            d.response(&req("sip:bob@x")).expect("bytes").1,
            &Limits::default(),
        )
        .expect("parses");
        assert_eq!(resp.status(), Some(404));
    }
}
