//! Route processing and forwarding (RFC 3261 §16.4–16.6), with loop
//! detection (§16.3 step 4) carried in our Via branch.

use bytes::Bytes;
use sip_fastpath::{EditError, HeaderName, Message, Method, NameAddr, ParseError, Uri};
use smallvec::SmallVec;

use super::hop::{Target, request_target};
use super::local::LocalIdentity;
use super::validate::Rejection;

/// What Route preprocessing found (§16.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteDecision {
    /// A Route remains after ours was removed: forward to it, Request-URI unchanged.
    FollowRoute,
    /// No Route is left and the Request-URI names us or our domain: a role
    /// (registrar, router) decides the targets.
    Local,
    /// No Route is left: forward to the Request-URI.
    RequestUri,
}

/// Why a request could not be forwarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    #[error("the request is malformed: {0}")]
    Malformed(#[from] ParseError),
    #[error("cannot edit the request: {0}")]
    Edit(#[from] EditError),
    #[error("no usable next hop")]
    NoNextHop,
}

/// Where one branch of a fork goes: a new Request-URI (`None` keeps it) and
/// Route values to put first (a registered binding's Path, RFC 3327).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForkTarget {
    pub uri: Option<Bytes>,
    pub route: SmallVec<[Bytes; 2]>,
}

impl ForkTarget {
    /// A target that only retargets the Request-URI.
    pub fn uri(uri: Bytes) -> Self {
        ForkTarget {
            uri: Some(uri),
            route: SmallVec::new(),
        }
    }

    /// Keep the Request-URI and the Route set.
    pub fn unchanged() -> Self {
        ForkTarget::default()
    }
}

/// A request ready for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub bytes: Bytes,
    pub next_hop: Target,
}

/// The proxy core's configuration and logic for one element.
#[derive(Debug, Clone)]
pub struct Proxy {
    pub local: LocalIdentity,
    /// Our sent-by for Via (`host:port`), as we write it.
    pub sent_by: Bytes,
    /// Transport token for our Via (`UDP`, `TCP`).
    /// The Record-Route value to insert (`<sip:host:port;transport=..;lr>`), if we stay on the path.
    pub record_route: Option<Bytes>,
    /// Domains whose Request-URIs are ours to route (home domains).
    pub home_domains: Vec<Box<[u8]>>,
}

/// FNV-1a over the fields §16.6 step 8 names for loop detection.
fn loop_hash(req: &Message) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut eat = |b: &[u8]| {
        for &c in b.iter().chain(b"|") {
            h ^= u32::from(c);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    eat(req.request_uri_bytes().unwrap_or_default());
    eat(req.from().ok().and_then(|f| f.tag()).unwrap_or_default());
    eat(req.to().ok().and_then(|t| t.tag()).unwrap_or_default());
    eat(req.call_id().unwrap_or_default());
    eat(&req.cseq().map_or(0, |c| c.number).to_le_bytes());
    for name in [
        HeaderName::Route,
        HeaderName::ProxyRequire,
        HeaderName::ProxyAuthorization,
    ] {
        for h in req.headers_named(name) {
            eat(req.get(h.value()));
        }
    }
    h
}

/// The `.` + 8 hex digits that end our branches.
fn loop_suffix(hash: u32) -> [u8; 9] {
    let mut s = [b'.'; 9];
    for (i, c) in s[1..].iter_mut().enumerate() {
        *c = b"0123456789abcdef"[((hash >> (28 - 4 * i)) & 0xf) as usize];
    }
    s
}

impl Proxy {
    fn is_home_domain(&self, host: &[u8]) -> bool {
        self.home_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(host))
    }

    /// §16.3 step 4: a Via of ours whose branch carries this request's loop
    /// hash means the request came back unchanged: a loop (482), not a spiral.
    pub fn check_loop(&self, req: &Message) -> Result<(), Rejection> {
        let suffix = loop_suffix(loop_hash(req));
        for via in req.vias() {
            let via = via?;
            if self.local.is_local_sent_by(via.host, via.port)
                && via.branch().is_some_and(|b| b.ends_with(&suffix))
            {
                return Err(Rejection {
                    status: 482,
                    reason: "Loop Detected",
                    unsupported: Vec::new(),
                });
            }
        }
        Ok(())
    }

    /// §16.4: decide how the request is routed. The caller removes our own
    /// top Route when forwarding ([`Proxy::forward`] does it).
    pub fn preprocess(&self, req: &Message) -> Result<RouteDecision, ParseError> {
        let mut routes = req.routes();
        let top = routes.next().transpose()?;
        let remaining = match top {
            Some(r) if self.names_us(&r)? => routes.next().is_some(),
            Some(_) => true,
            None => false,
        };
        if remaining {
            return Ok(RouteDecision::FollowRoute);
        }
        let uri = req.request_uri()?;
        if self.local.is_local_uri(&uri)
            || self.is_home_domain(uri.host)
            || uri.scheme == sip_fastpath::Scheme::Tel
        {
            Ok(RouteDecision::Local)
        } else {
            Ok(RouteDecision::RequestUri)
        }
    }

    fn names_us(&self, route: &NameAddr<'_>) -> Result<bool, ParseError> {
        let uri = route
            .uri()
            .map_err(|_| ParseError::Header(HeaderName::Route))?;
        Ok(self.local.is_local_uri(&uri))
    }

    /// §16.6: build the request for one target: its URI replaces the
    /// Request-URI when given (a registered contact, say), its route values go
    /// first in the Route set; `branch_prefix` is
    /// `z9hG4bK` plus whatever the shard encodes (its id and a unique part);
    /// the loop-detection hash is appended to it.
    pub fn forward(
        &self,
        req: &Message,
        target: &ForkTarget,
        branch_prefix: &[u8],
    ) -> Result<Forward, ForwardError> {
        let target_uri = target.uri.as_deref();
        let hash = loop_hash(req);
        let mut e = req.edit();
        // Our own top Route goes (§16.4); the first Route left is the next hop,
        // else the (new) Request-URI (§16.6 step 7).
        let mut routes = req.routes();
        let mut first_route = routes.next().transpose()?;
        if let Some(top) = &first_route {
            if self.names_us(top)? {
                e.remove_top_route()?;
                first_route = routes.next().transpose()?;
            }
        }
        let pushed_route = target.route.first().and_then(|r| NameAddr::parse(r).ok());
        let next_hop = match pushed_route.as_ref().or(first_route.as_ref()) {
            Some(r) => r.uri().ok().as_ref().and_then(request_target),
            None => {
                let uri = target_uri.or(req.request_uri_bytes()).unwrap_or_default();
                Uri::parse(uri).ok().as_ref().and_then(request_target)
            }
        }
        .ok_or(ForwardError::NoNextHop)?;
        if let Some(uri) = target_uri {
            e.set_request_uri(uri);
        }
        for r in &target.route {
            e.prepend(HeaderName::Route, r);
        }
        e.decrement_max_forwards()?;
        if self.record_route.is_some() && is_dialog_forming(req) {
            if let Some(rr) = &self.record_route {
                e.prepend(HeaderName::RecordRoute, rr);
            }
        }
        let mut via = Vec::with_capacity(96);
        via.extend_from_slice(b"SIP/2.0/");
        via.extend_from_slice(next_hop.transport.token());
        via.push(b' ');
        via.extend_from_slice(&self.sent_by);
        via.extend_from_slice(b";branch=");
        via.extend_from_slice(branch_prefix);
        via.extend_from_slice(&loop_suffix(hash));
        via.extend_from_slice(b";rport");
        e.push_via(&via);
        Ok(Forward {
            bytes: e.finish(),
            next_hop,
        })
    }
}

/// Requests that may create a dialog, which a record-routing proxy stays in.
fn is_dialog_forming(req: &Message) -> bool {
    matches!(
        req.method(),
        Some(Method::Invite | Method::Subscribe | Method::Refer | Method::Notify)
    ) && req.to().ok().and_then(|t| t.tag()).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::Transport;
    use sip_fastpath::Limits;

    fn proxy() -> Proxy {
        Proxy {
            local: LocalIdentity::new(["scscf.example.com", "127.0.0.1"], &[5054]),
            sent_by: Bytes::from_static(b"127.0.0.1:5054"),
            record_route: Some(Bytes::from_static(b"<sip:scscf.example.com:5054;lr>")),
            home_domains: vec![Box::from(&b"example.com"[..])],
        }
    }

    fn req(first: &str, extra: &str) -> Message {
        let text = format!(
            "{first}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKua1\r\nMax-Forwards: 70\r\nFrom: <sip:6505550001@example.com>;tag=1\r\nTo: <sip:6505550002@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        Message::parse(Bytes::from(text), &Limits::default()).expect("parses")
    }

    #[test]
    fn our_top_route_is_removed_and_the_next_one_followed() {
        let p = proxy();
        let r = req(
            "INVITE sip:6505550002@example.com SIP/2.0",
            "Route: <sip:scscf.example.com:5054;lr;orig>, <sip:as.example.net:5070;transport=tcp;lr>\r\n",
        );
        assert_eq!(p.preprocess(&r), Ok(RouteDecision::FollowRoute));
        let f = p
            .forward(&r, &ForkTarget::unchanged(), b"z9hG4bK0abc")
            .expect("forwards");
        let out = Message::parse(f.bytes.clone(), &Limits::default()).expect("parses");
        assert_eq!(
            out.header_value(HeaderName::Route),
            Some(&b"<sip:as.example.net:5070;transport=tcp;lr>"[..])
        );
        assert_eq!(
            (&f.next_hop.host[..], f.next_hop.port, f.next_hop.transport),
            (&b"as.example.net"[..], 5070, Transport::Tcp)
        );
        assert_eq!(out.max_forwards(), Ok(Some(69)));
        let via = out.top_via().expect("via");
        assert_eq!(via.sent_by, b"127.0.0.1:5054");
        assert!(via.branch().is_some_and(|b| b.starts_with(b"z9hG4bK0abc.")));
        assert_eq!(
            out.header_value(HeaderName::RecordRoute),
            Some(&b"<sip:scscf.example.com:5054;lr>"[..])
        );
        assert_eq!(
            out.request_uri_bytes(),
            Some(&b"sip:6505550002@example.com"[..])
        );
    }

    #[test]
    fn home_domain_request_uri_is_local_and_retargeted() {
        let p = proxy();
        let r = req("INVITE sip:6505550002@example.com SIP/2.0", "");
        assert_eq!(p.preprocess(&r), Ok(RouteDecision::Local));
        let f = p
            .forward(
                &r,
                &ForkTarget::uri(Bytes::from_static(
                    b"sip:6505550002@10.0.0.2:5060;transport=tcp",
                )),
                b"z9hG4bK1x",
            )
            .expect("forwards");
        let out = Message::parse(f.bytes, &Limits::default()).expect("parses");
        assert_eq!(
            out.request_uri_bytes(),
            Some(&b"sip:6505550002@10.0.0.2:5060;transport=tcp"[..])
        );
        assert_eq!(
            (&f.next_hop.host[..], f.next_hop.port, f.next_hop.transport),
            (&b"10.0.0.2"[..], 5060, Transport::Tcp)
        );
    }

    #[test]
    fn a_registered_path_becomes_the_first_routes_and_the_next_hop() {
        let p = proxy();
        let r = req(
            "INVITE sip:6505550002@example.com SIP/2.0",
            "Route: <sip:scscf.example.com:5054;lr>\r\n",
        );
        let target = ForkTarget {
            uri: Some(Bytes::from_static(b"sip:6505550002@10.0.0.2:5060")),
            route: smallvec::smallvec![
                Bytes::from_static(b"<sip:pcscf.example.com:5058;lr>"),
                Bytes::from_static(b"<sip:edge.example.com;lr>")
            ],
        };
        let f = p.forward(&r, &target, b"z9hG4bKp").expect("fwd");
        let out = Message::parse(f.bytes, &Limits::default()).expect("parses");
        let routes: Vec<&[u8]> = out.list_values(HeaderName::Route).collect();
        assert_eq!(
            routes,
            vec![
                &b"<sip:pcscf.example.com:5058;lr>"[..],
                b"<sip:edge.example.com;lr>"
            ]
        );
        assert_eq!(
            (&f.next_hop.host[..], f.next_hop.port),
            (&b"pcscf.example.com"[..], 5058)
        );
    }

    #[test]
    fn foreign_request_uri_is_forwarded_there() {
        let p = proxy();
        let r = req("INVITE sip:bob@biloxi.com SIP/2.0", "");
        assert_eq!(p.preprocess(&r), Ok(RouteDecision::RequestUri));
    }

    #[test]
    fn a_request_that_comes_back_unchanged_is_a_loop_but_a_spiral_is_not() {
        let p = proxy();
        let r = req("INVITE sip:bob@biloxi.com SIP/2.0", "");
        let once = Message::parse(
            p.forward(&r, &ForkTarget::unchanged(), b"z9hG4bKs1")
                .expect("fwd")
                .bytes,
            &Limits::default(),
        )
        .expect("parses");
        // The same request arriving back with our Via on it: loop.
        let back = p.check_loop(&once).expect_err("loop");
        assert_eq!(back.status, 482);
        // A spiral: retargeted (different Request-URI) before it came back.
        let mut e = once.edit();
        e.set_request_uri(b"sip:bob@other.example.net");
        let spiral = Message::parse(e.finish(), &Limits::default()).expect("parses");
        assert!(p.check_loop(&spiral).is_ok());
        assert!(p.check_loop(&r).is_ok());
    }

    #[test]
    fn in_dialog_requests_are_not_record_routed() {
        let p = proxy();
        let r = req("BYE sip:6505550002@10.0.0.2 SIP/2.0", "").clone();
        let mut e = r.edit();
        e.replace_header(HeaderName::To, b"<sip:6505550002@example.com>;tag=9");
        let r = Message::parse(e.finish(), &Limits::default()).expect("parses");
        let f = p
            .forward(&r, &ForkTarget::unchanged(), b"z9hG4bK2")
            .expect("fwd");
        let out = Message::parse(f.bytes, &Limits::default()).expect("parses");
        assert_eq!(out.header(HeaderName::RecordRoute), None);
    }

    #[test]
    fn max_forwards_exhausted_cannot_be_forwarded() {
        let p = proxy();
        let r = req("OPTIONS sip:bob@biloxi.com SIP/2.0", "").clone();
        let mut e = r.edit();
        e.replace_header(HeaderName::MaxForwards, b"0");
        let r = Message::parse(e.finish(), &Limits::default()).expect("parses");
        assert_eq!(
            p.forward(&r, &ForkTarget::unchanged(), b"z9hG4bK3").err(),
            Some(ForwardError::Edit(EditError::MaxForwardsExhausted))
        );
    }
}
