//! The engine on a shard: parse, throttle, validate, hand responses to the
//! shard that owns their client transaction, run the transaction-stateful
//! core, ask the role where requests go, and turn the core's actions into
//! sends and timers.

use super::bindings::{EmbeddedBindings, unix_ms};
use super::config::EngineConfig;
use super::counters::Counters;
use super::hss_client::HttpHss;
use super::redis_bindings::{RedisBindings, ShardBindings};
use crate::core::{Action, Core, CoreConfig, Inbound as CoreInbound, ShardBranches};
use crate::proxy::{
    ForkTarget, Proxy, RouteDecision, Target, Transport as HopTransport, validate_request,
};
use crate::resolve::{Resolver, StaticResolver};
use crate::roles::{Decision, RequestContext, Role, StaticRoutes};
use crate::scscf::{Scscf, impu_of};
use bytes::Bytes;
use shards::{App, Exemptions, Inbound, Origin, SendFailure, Shard, Throttle, Transport};
use sip_fastpath::{HeaderName, Limits, Message, Method};
use smallvec::smallvec;
use std::cell::RefCell;
use std::rc::Rc;

/// Option tags we support in Proxy-Require.
const SUPPORTED: &[&[u8]] = &[];

/// One shard's engine.
pub struct EngineApp {
    core: RefCell<Core<Origin, ShardBranches>>,
    proxy: Proxy,
    routes: StaticRoutes,
    resolver: StaticResolver,
    limits: Limits,
    throttle: RefCell<Throttle>,
    exemptions: Exemptions,
    /// The S-CSCF (registrar and terminating router) when an HSS cache is configured.
    scscf: Option<Rc<Scscf<HttpHss, ShardBindings>>>,
    pub counters: Counters,
}

/// Where AoR-owned work runs: FNV-1a of the IMPU, modulo the shard count.
pub fn owner_shard(impu: &str, shards: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in impu.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % shards.max(1) as u64) as usize
}

/// How often the registration store sweeps expired records and syncs.
const STORE_MAINTENANCE_MS: u64 = 1000;
/// Timer tokens: the core's wake-up, and store maintenance.
const TOKEN_CORE: u64 = 0;
const TOKEN_STORE: u64 = 1;

impl EngineApp {
    pub fn new(
        cfg: &EngineConfig,
        shard: usize,
        now_us: u64,
        store: Option<stores::embedded::ShardStore>,
    ) -> Self {
        let proxy = cfg.proxy();
        let core = Core::new(
            proxy.clone(),
            ShardBranches {
                shard: shard as u8,
                counter: 0,
            },
            CoreConfig {
                limits: cfg.limits,
                ..CoreConfig::default()
            },
        );
        Self {
            core: RefCell::new(core),
            proxy,
            routes: cfg.routes.clone(),
            resolver: cfg.resolver.clone(),
            limits: cfg.limits,
            throttle: RefCell::new(Throttle::new(cfg.throttle.clone(), now_us)),
            exemptions: cfg.exemptions.clone(),
            scscf: cfg.hss.and_then(|addr| {
                let timeout = std::time::Duration::from_millis(cfg.hss_timeout_ms);
                let bindings = match (&cfg.redis, store) {
                    (Some(url), _) => ShardBindings::Redis(
                        RedisBindings::new(url, timeout, cfg.redis_key_prefix.clone()).ok()?,
                    ),
                    (None, Some(store)) => ShardBindings::Embedded(EmbeddedBindings::new(store)),
                    (None, None) => return None,
                };
                Some(Rc::new(Scscf {
                    hss: HttpHss::new(addr, timeout, cfg.scscf_uri()),
                    store: bindings,
                    cfg: cfg.scscf_config(),
                }))
            }),
            counters: Counters::default(),
        }
    }

    /// The IMPU whose owner shard must handle this request, when the S-CSCF
    /// serves it: a REGISTER's To, or the Request-URI of a request for one
    /// of our users.
    fn owning_impu(&self, req: &Message) -> Option<String> {
        self.scscf.as_ref()?;
        if req.method() == Some(Method::Register) {
            return req.to().ok()?.uri().ok().as_ref().and_then(impu_of);
        }
        let uri = req.request_uri().ok()?;
        if req.header(HeaderName::Route).is_some() || !self.proxy.home_domain_uri(&uri) {
            return None;
        }
        impu_of(&uri)
    }

    fn on_request(&self, shard: &Rc<Shard<Self>>, req: Message, inbound: &Inbound) {
        let origin = inbound.origin;
        let received_us = inbound.received_us;
        if inbound.handed_from.is_none() && shard.count() > 1 {
            if let Some(impu) = self.owning_impu(&req) {
                let owner = owner_shard(&impu, shard.count());
                if owner != shard.id() {
                    Counters::bump(&self.counters.handed_over);
                    if shard.hand_to(owner, inbound.clone()).is_err() {
                        Counters::bump(&self.counters.rejected_overload);
                        let bytes = req
                            .response(503, "Service Unavailable")
                            .header(HeaderName::RetryAfter, b"1")
                            .finish();
                        self.reply(shard, &origin, bytes);
                    }
                    return;
                }
            }
        }
        Counters::bump(&self.counters.requests);
        let exempt = self.exemptions.exempt(&req);
        if !exempt && !self.throttle.borrow_mut().admit(received_us) {
            Counters::bump(&self.counters.rejected_overload);
            let bytes = req
                .response(503, "Service Unavailable")
                .header(HeaderName::RetryAfter, b"1")
                .finish();
            self.reply(shard, &origin, bytes);
            return;
        }
        if let Err(rejection) =
            validate_request(&req, SUPPORTED).and_then(|()| self.proxy.check_loop(&req))
        {
            Counters::bump(&self.counters.rejected_invalid);
            if req.method() != Some(Method::Ack) {
                self.reply(shard, &origin, rejection.response(&req));
            }
            return;
        }
        let req = match mark_via(req, &origin) {
            Some(r) => r,
            None => return,
        };
        let decision = match self.proxy.preprocess(&req) {
            Ok(d) => d,
            Err(e) => {
                self.reply(shard, &origin, req.response(400, e.reason()).finish());
                return;
            }
        };
        let method = req.method();
        if decision == RouteDecision::Local
            && method == Some(Method::Options)
            && req.request_uri().is_ok_and(|u| u.user.is_none())
        {
            // A ping of this server: answered here, without a transaction.
            let bytes = req
                .response(200, "OK")
                .header(HeaderName::Allow, b"INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, PRACK, UPDATE, INFO, MESSAGE, REFER")
                .finish();
            self.reply(shard, &origin, bytes);
            return;
        }
        // An ACK addressed to us (a UA that does not follow Record-Route)
        // goes where the role would send its INVITE.
        let req = if method == Some(Method::Ack) && decision == RouteDecision::Local {
            match self.routes.target_for(&req).cloned() {
                Some(uri) => {
                    let mut e = req.edit();
                    e.set_request_uri(&uri);
                    match Message::parse(e.finish(), &self.limits) {
                        Ok(r) => r,
                        Err(_) => return,
                    }
                }
                None => return,
            }
        } else {
            req
        };
        let reliable = origin.transport != Transport::Udp;
        let now = shard.now_ms();
        let mut core = self.core.borrow_mut();
        let inbound = core.on_request(req, origin, reliable, now);
        if let CoreInbound::New(key) = inbound {
            if let (RouteDecision::Local, Some(scscf)) = (decision, &self.scscf) {
                // The role awaits the HSS cache and the store: decide on a task.
                let Some(request) = core.request(&key).cloned() else {
                    return;
                };
                drop(core);
                self.run_actions(shard);
                let scscf = Rc::clone(scscf);
                let shard = Rc::clone(shard);
                glommio::spawn_local(async move {
                    let ctx = RequestContext { now_ms: unix_ms() };
                    let decision = scscf.on_request(&request, &ctx).await;
                    shard.app().apply(&shard, &key, &request, decision);
                })
                .detach();
                return;
            }
            let targets = match decision {
                RouteDecision::FollowRoute | RouteDecision::RequestUri => {
                    Decision::Forward(smallvec![ForkTarget::unchanged()])
                }
                RouteDecision::Local => self.decide_local(core.request(&key)),
            };
            match targets {
                Decision::Forward(t) => core.forward(&key, &t, now),
                other => {
                    let bytes = core.request(&key).and_then(|r| other.response_bytes(r));
                    if let Some(b) = bytes {
                        let status = other_status(&other);
                        core.respond(&key, status, b, now);
                    }
                }
            }
        }
        drop(core);
        self.run_actions(shard);
        if !exempt {
            let done = shard.now_us();
            self.throttle
                .borrow_mut()
                .complete(done.saturating_sub(received_us), done);
        }
    }

    /// Carry out a role's decision for the server transaction `key`.
    fn apply(
        &self,
        shard: &Rc<Shard<Self>>,
        key: &sip_fastpath::ServerKey,
        request: &Message,
        decision: Decision,
    ) {
        let now = shard.now_ms();
        {
            let mut core = self.core.borrow_mut();
            match decision {
                Decision::Forward(t) => core.forward(key, &t, now),
                other => {
                    if let Some(b) = other.response_bytes(request) {
                        core.respond(key, other_status(&other), b, now);
                    }
                }
            }
        }
        self.run_actions(shard);
    }

    fn decide_local(&self, req: Option<&Message>) -> Decision {
        let Some(req) = req else {
            return Decision::respond(500, "Server Internal Error");
        };
        if self.routes.routes.is_empty() {
            return Decision::respond(501, "Not Implemented");
        }
        match self.routes.target_for(req) {
            Some(t) => Decision::Forward(smallvec![ForkTarget::uri(t.clone())]),
            None => Decision::respond(404, "Not Found - No Route"),
        }
    }

    fn on_response(&self, shard: &Rc<Shard<Self>>, resp: Message, msg: &Inbound) -> Option<()> {
        let owner = resp
            .top_via()
            .ok()
            .and_then(|v| v.branch().and_then(branch_shard));
        if let Some(owner) = owner {
            if owner != shard.id() && owner < shard.count() && msg.handed_from.is_none() {
                Counters::bump(&self.counters.handed_over);
                // A full queue loses the response; the UAS retransmits it.
                if shard.hand_to(owner, msg.clone()).is_err() {
                    Counters::bump(&self.counters.mesh_full_drops);
                }
                return Some(());
            }
        }
        Counters::bump(&self.counters.responses);
        self.core.borrow_mut().on_response(resp, shard.now_ms());
        self.run_actions(shard);
        Some(())
    }

    fn run_actions(&self, shard: &Rc<Shard<Self>>) {
        let actions: Vec<Action<Origin>> = self.core.borrow_mut().drain_actions().collect();
        for action in actions {
            match action {
                Action::Respond { to, bytes } => self.reply(shard, &to, bytes),
                Action::Request { to, bytes } => self.send_request(shard, &to, bytes),
                Action::WakeAt { at_ms } => {
                    shard.timer_at(at_ms, TOKEN_CORE);
                }
            }
        }
    }

    fn reply(&self, shard: &Rc<Shard<Self>>, to: &Origin, bytes: Bytes) {
        let sent = match to.transport {
            Transport::Udp => shard.send_udp(Some(to.local), to.peer, &bytes),
            Transport::Tcp => match to.conn {
                Some(c) => shard.send_tcp(c, bytes),
                None => shard.send_tcp_to(to.peer, bytes),
            },
        };
        if sent.is_err() {
            Counters::bump(&self.counters.send_failures);
        }
    }

    fn send_request(&self, shard: &Rc<Shard<Self>>, to: &Target, bytes: Bytes) {
        let Some(addr) = self.resolver.resolve(to).into_iter().next() else {
            Counters::bump(&self.counters.unresolvable);
            tracing::debug!(host = %String::from_utf8_lossy(&to.host), "no address for next hop");
            return;
        };
        let sent = match to.transport {
            HopTransport::Udp => shard.send_udp(None, addr, &bytes),
            HopTransport::Tcp | HopTransport::Tls => shard.send_tcp_to(addr, bytes),
        };
        if sent.is_err() {
            Counters::bump(&self.counters.send_failures);
        }
    }
}

fn other_status(d: &Decision) -> u16 {
    match d {
        Decision::Respond { status, .. } => *status,
        _ => 200,
    }
}

/// The shard a branch we made belongs to: `z9hG4bK` + two hex digits.
fn branch_shard(branch: &[u8]) -> Option<usize> {
    let rest = branch.strip_prefix(b"z9hG4bK")?;
    let hex = rest.get(..2)?;
    if rest.get(2) != Some(&b'-') {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    Some((digit(hex[0])? * 16 + digit(hex[1])?) as usize)
}

/// RFC 3581 / RFC 3261 §18.2.1: note where the request really came from in
/// its top Via when the sent-by differs or the client asked with `rport`.
fn mark_via(req: Message, origin: &Origin) -> Option<Message> {
    let (needs, rport) = match req.top_via() {
        Ok(v) => {
            let host = v
                .host
                .strip_prefix(b"[")
                .and_then(|h| h.strip_suffix(b"]"))
                .unwrap_or(v.host);
            let same_host = std::str::from_utf8(host)
                .ok()
                .and_then(|h| h.parse::<std::net::IpAddr>().ok())
                == Some(origin.peer.ip());
            let wants_rport = v.rport().is_some();
            (!same_host || wants_rport, wants_rport)
        }
        Err(_) => return Some(req),
    };
    if !needs {
        return Some(req);
    }
    let ip = origin.peer.ip().to_string();
    let port = rport.then_some(origin.peer.port());
    let limits = Limits::default();
    let mut e = req.edit();
    if e.set_top_via_received(ip.as_bytes(), port).is_err() {
        return Some(req);
    }
    Message::parse(e.finish(), &limits).ok()
}

impl App for EngineApp {
    type Mesh = ();

    fn on_start(&self, shard: &Rc<Shard<Self>>) {
        if matches!(
            self.scscf.as_ref().map(|s| &s.store),
            Some(ShardBindings::Embedded(_))
        ) {
            shard.timer_at(shard.now_ms() + STORE_MAINTENANCE_MS, TOKEN_STORE);
        }
    }

    fn on_message(&self, shard: &Rc<Shard<Self>>, msg: Inbound) {
        match Message::parse(msg.data.clone(), &self.limits) {
            Ok(m) if m.is_request() => self.on_request(shard, m, &msg),
            Ok(m) => {
                self.on_response(shard, m, &msg);
            }
            Err(bad) => {
                Counters::bump(&self.counters.malformed);
                if let Some(bytes) = bad.response() {
                    self.reply(shard, &msg.origin, bytes);
                }
            }
        }
    }

    fn on_timer(&self, shard: &Rc<Shard<Self>>, token: u64) {
        if token == TOKEN_STORE {
            if let Some(ShardBindings::Embedded(store)) = self.scscf.as_ref().map(|s| &s.store) {
                match store.maintain(unix_ms()) {
                    Ok(n) => self
                        .counters
                        .expired_records
                        .set(self.counters.expired_records.get() + n as u64),
                    Err(e) => tracing::error!(error = %e, "registration store maintenance failed"),
                }
            }
            shard.timer_at(shard.now_ms() + STORE_MAINTENANCE_MS, TOKEN_STORE);
            return;
        }
        self.core.borrow_mut().on_timer(shard.now_ms());
        self.run_actions(shard);
    }

    fn on_send_failure(&self, _shard: &Rc<Shard<Self>>, failure: SendFailure) {
        // The client transaction times out into a 408/503 of its own.
        Counters::bump(&self.counters.send_failures);
        tracing::debug!(to = %failure.to, reason = %failure.reason, "send failed");
    }

    fn in_flight(&self) -> usize {
        self.core.borrow().unfinished()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn branch_names_its_shard() {
        assert_eq!(super::branch_shard(b"z9hG4bK0a-1f.12345678"), Some(10));
        assert_eq!(super::branch_shard(b"z9hG4bKuac1"), None);
        assert_eq!(super::branch_shard(b"z9hG4bK"), None);
    }
}
