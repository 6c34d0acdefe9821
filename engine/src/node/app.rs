//! The engine on a shard: parse, throttle, validate, hand responses to the
//! shard that owns their client transaction, run the transaction-stateful
//! core, ask the role where requests go, and turn the core's actions into
//! sends and timers.

use super::bindings::{EmbeddedBindings, Swept, unix_ms};
use super::bindings_query::{BindingsQuery, bindings_json};
use super::config::EngineConfig;
use super::hss_client::HttpHss;
use super::metrics::labels::{class_index, method_of_request_bytes};
use super::metrics::local::ShardRecorder;
use super::metrics::metered::{MeteredHss, MeteredStore};
use super::metrics::txn::{TxnMeta, TxnOrigin};
use super::metrics::{RegKind, ShardMetrics, method_index};
use super::redis_bindings::{RedisBindings, ShardBindings};
use super::remote_aor::{AorAnswer, AorAsk, EngineMesh};
use super::subscriber_cache::{CachedHss, InvalidationInbox};
use crate::core::{Action, Core, CoreConfig, Inbound as CoreInbound, ShardBranches};
use crate::hss::RegDataReqType;
use crate::proxy::{
    ForkTarget, Proxy, RouteDecision, Target, Transport as HopTransport, validate_request,
};
use crate::resolve::{Resolver, StaticResolver};
use crate::roles::{Decision, RequestContext, StaticRoutes, status_of};
use crate::scscf::{
    BindingStore, HssCache, RegisterOutcome, RegistrationKind, Scscf, impu_of, is_originating,
};
use bytes::Bytes;
use shards::{App, Exemptions, Inbound, Origin, SendFailure, Shard, Throttle, Transport};
use sip_fastpath::{HeaderName, Limits, Message, Method};
use smallvec::smallvec;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc::Receiver;

/// Option tags we support in Proxy-Require.
const SUPPORTED: &[&[u8]] = &[];

/// The S-CSCF as a shard runs it: the real clients with meters on.
/// The subscriber cache sits in front of the meters, so these count only
/// the requests that reach the HSS cache.
type ShardScscf = Scscf<CachedHss<MeteredHss<HttpHss>>, MeteredStore<ShardBindings>>;

/// INVITE transactions remembered for CANCEL statistics, at most.
const INVITES_TRACKED_MAX: usize = 100_000;

/// One shard's engine.
pub struct EngineApp {
    core: RefCell<Core<TxnOrigin, ShardBranches>>,
    /// Reused for each batch of the core's actions (no allocation per message).
    actions: RefCell<Vec<Action<TxnOrigin>>>,
    proxy: Proxy,
    routes: StaticRoutes,
    resolver: StaticResolver,
    limits: Limits,
    throttle: RefCell<Throttle>,
    /// HSS-cache overload answers the throttle has not seen yet.
    hss_penalties: Rc<Cell<u32>>,
    exemptions: Exemptions,
    /// The S-CSCF (registrar and terminating router) when an HSS cache is configured.
    scscf: Option<Rc<ShardScscf>>,
    /// This shard's metrics (shared atomics and local histograms).
    pub metrics: Rc<ShardRecorder>,
    /// Open INVITE server transactions by top-Via branch, so a CANCEL can
    /// tell whether its INVITE had rung.
    invites: RefCell<HashMap<Bytes, Rc<TxnMeta>, ahash::RandomState>>,
    /// `/impu/<impu>/bindings` questions from the management thread.
    bindings_queries: Option<Receiver<BindingsQuery>>,
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
/// AoRs counted per second of interval between registration counts.
const REGISTRATIONS_PER_COUNT_SECOND: u64 = 20_000;
/// Timer tokens: the core's wake-up, store maintenance, metrics.
const TOKEN_CORE: u64 = 0;
const TOKEN_STORE: u64 = 1;
const TOKEN_METRICS: u64 = 2;

impl EngineApp {
    /// What a sweep of either registration store removed: count it, and
    /// tell the HSS cache of the AoRs that timed out.
    fn on_expired(&self, shard: &Rc<Shard<Self>>, swept: Swept) {
        self.m().expired_records.add(swept.records as u64);
        self.deregister_expired(shard, swept.aors);
    }

    /// Start this shard's sweep of the Redis store's expiry index (it does
    /// nothing while the previous one still runs).
    fn sweep_redis(&self, shard: &Rc<Shard<Self>>) {
        let Some(scscf) = self.scscf.as_ref().map(Rc::clone) else {
            return;
        };
        let shard = Rc::clone(shard);
        glommio::spawn_local(async move {
            let ShardBindings::Redis(redis) = &scscf.store.inner else {
                return;
            };
            redis
                .sweep(shard.id(), shard.count(), unix_ms(), |swept| {
                    shard.app().on_expired(&shard, swept)
                })
                .await;
        })
        .detach();
    }

    /// Tell the HSS cache that these AoRs' last bindings expired
    /// (`reqtype=dereg-timeout`, as Sprout does when a registration times
    /// out), each in a task of its own.
    fn deregister_expired(&self, shard: &Rc<Shard<Self>>, aors: Vec<String>) {
        let Some(scscf) = self.scscf.as_ref() else {
            return;
        };
        for impu in aors {
            let scscf = Rc::clone(scscf);
            let id = shard.id();
            glommio::spawn_local(async move {
                let r = scscf
                    .hss
                    .put_reg_data(&impu, None, RegDataReqType::DeregTimeout)
                    .await;
                match r {
                    Ok(_) => tracing::debug!(shard = id, %impu, "registration timed out"),
                    Err(e) => {
                        tracing::warn!(shard = id, %impu, error = %e, "dereg-timeout not taken by the HSS cache")
                    }
                }
            })
            .detach();
        }
    }

    /// The S-CSCF's registration store, if there is an S-CSCF.
    fn registration_store(&self) -> Option<&ShardBindings> {
        self.scscf.as_ref().map(|s| &s.store.inner)
    }

    pub fn new(
        cfg: &EngineConfig,
        shard: usize,
        now_us: u64,
        store: Option<stores::embedded::ShardStore>,
        metrics: Arc<ShardMetrics>,
        bindings_queries: Option<Receiver<BindingsQuery>>,
        invalidations: Arc<InvalidationInbox>,
    ) -> Self {
        let metrics = Rc::new(ShardRecorder::new(metrics));
        let hss_penalties = Rc::new(Cell::new(0));
        let proxy = cfg.proxy();
        let core = Core::new(
            proxy.clone(),
            ShardBranches {
                shard: shard as u8,
                counter: 0,
            },
            CoreConfig {
                limits: cfg.limits,
                server_transactions_max: cfg.server_transactions_max,
                ..CoreConfig::default()
            },
        );
        Self {
            core: RefCell::new(core),
            actions: RefCell::new(Vec::new()),
            proxy,
            routes: cfg.routes.clone(),
            resolver: cfg.resolver.clone(),
            limits: cfg.limits,
            throttle: RefCell::new(Throttle::new(cfg.throttle.clone(), now_us)),
            hss_penalties: Rc::clone(&hss_penalties),
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
                    hss: CachedHss::new(
                        MeteredHss {
                            inner: HttpHss::new(addr, timeout, cfg.scscf_uri()),
                            metrics: Rc::clone(&metrics),
                            penalties: Rc::clone(&hss_penalties),
                        },
                        cfg.subscriber_cache,
                        invalidations,
                        unix_ms,
                    )
                    .with_metrics(Arc::clone(&metrics.shared)),
                    store: MeteredStore {
                        inner: bindings,
                        metrics: Rc::clone(&metrics),
                    },
                    cfg: cfg.scscf_config(),
                }))
            }),
            metrics,
            invites: RefCell::new(HashMap::default()),
            bindings_queries,
        }
    }

    fn m(&self) -> &ShardMetrics {
        &self.metrics.shared
    }

    /// Count an overload rejection; log once per burst, not per message.
    fn overloaded(&self, shard: usize) {
        let m = self.m();
        m.rejected_overload.inc();
        if m.overload.raise(unix_ms(), true) {
            tracing::warn!(shard, "overload: rejecting new requests with 503");
        }
    }

    fn record_register(&self, outcome: RegisterOutcome) {
        let m = self.m();
        if let Some(ok) = outcome.digest {
            m.digest_auth.record(ok);
        }
        if let Some((kind, ok)) = outcome.registration {
            let kind = match kind {
                RegistrationKind::Initial => RegKind::Initial,
                RegistrationKind::Re => RegKind::Re,
                RegistrationKind::De => RegKind::De,
            };
            m.registrations[kind as usize].record(ok);
        }
    }

    fn owning_impu(&self, req: &Message) -> Option<String> {
        self.scscf.as_ref()?;
        owning_impu(&self.proxy, req)
    }

    fn on_request(&self, shard: &Rc<Shard<Self>>, req: Message, inbound: &Inbound) {
        let origin = inbound.origin;
        let received_us = inbound.received_us;
        if inbound.handed_from.is_none() && shard.count() > 1 {
            if let Some(impu) = self.owning_impu(&req) {
                let owner = owner_shard(&impu, shard.count());
                if owner != shard.id() {
                    self.m().handed_over.inc();
                    if shard.hand_to(owner, inbound.clone()).is_err() {
                        self.overloaded(shard.id());
                        self.m().mesh_full.inc();
                        if self.m().queue_full.raise(unix_ms(), true) {
                            tracing::warn!(
                                shard = shard.id(),
                                owner,
                                "shard queue full: answering 503"
                            );
                        }
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
        let method_idx = method_index(req.method());
        self.m().requests_in[method_idx].inc();
        let exempt = self.exemptions.exempt(&req);
        let penalties = self.hss_penalties.replace(0);
        if penalties > 0 {
            let mut throttle = self.throttle.borrow_mut();
            (0..penalties).for_each(|_| throttle.penalty());
        }
        if !exempt && !self.throttle.borrow_mut().admit(received_us) {
            self.overloaded(shard.id());
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
            self.m().rejected_invalid.inc();
            if req.method() != Some(Method::Ack) {
                self.reply(shard, &origin, rejection.response(&req));
            }
            return;
        }
        let req = match mark_via(req, &origin, &self.limits) {
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
        // goes where the role would send its INVITE — unless it acknowledges
        // a non-2xx final response of ours (a 487 after CANCEL, a 480):
        // then its INVITE server transaction takes it, ending timer G.
        let acks_our_final = method == Some(Method::Ack)
            && req
                .server_key()
                .is_ok_and(|k| self.core.borrow().request(&k).is_some());
        let req =
            if method == Some(Method::Ack) && decision == RouteDecision::Local && !acks_our_final {
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
        // A request on our Service-Route (`orig`) is the S-CSCF's even when
        // its Request-URI is elsewhere: originating handling routes it.
        let decision = if decision == RouteDecision::RequestUri
            && method != Some(Method::Ack)
            && self.scscf.is_some()
            && is_originating(&req)
        {
            RouteDecision::Local
        } else {
            decision
        };
        let reliable = origin.transport != Transport::Udp;
        let now = shard.now_ms();
        let invite_branch = match method {
            Some(Method::Invite) => top_branch(&req),
            Some(Method::Cancel) => {
                self.count_cancel(&req);
                None
            }
            _ => None,
        };
        let is_invite = invite_branch.is_some();
        let txn = TxnOrigin::new(origin, received_us, method_idx, invite_branch);
        let mut core = self.core.borrow_mut();
        let inbound = core.on_request(req, txn.clone(), reliable, now);
        if inbound == CoreInbound::Refused {
            self.overloaded(shard.id());
            self.m().transactions_in[method_idx].attempts.inc();
        }
        if let CoreInbound::New(key) = inbound {
            self.m().transactions_in[method_idx].attempts.inc();
            if is_invite {
                self.track_invite(&txn.meta);
            }
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
                    let (decision, outcome) = scscf.on_request_observed(&request, &ctx).await;
                    let app = shard.app();
                    app.record_register(outcome);
                    app.apply(&shard, &key, &request, decision);
                })
                .detach();
                return;
            }
            let decision = match decision {
                RouteDecision::FollowRoute | RouteDecision::RequestUri => {
                    Decision::Forward(smallvec![ForkTarget::unchanged()])
                }
                RouteDecision::Local => self.decide_local(core.request(&key)),
            };
            carry_out(&mut core, &key, None, decision, now);
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
        carry_out(
            &mut self.core.borrow_mut(),
            key,
            Some(request),
            decision,
            now,
        );
        self.run_actions(shard);
    }

    fn decide_local(&self, req: Option<&Message>) -> Decision {
        let Some(req) = req else {
            return Decision::respond(500, "Server Internal Error");
        };
        if self.routes.routes.is_empty() {
            return Decision::respond(501, "Not Implemented");
        }
        self.routes.decide(req)
    }

    fn on_response(&self, shard: &Rc<Shard<Self>>, resp: Message, msg: &Inbound) -> Option<()> {
        let owner = resp
            .top_via()
            .ok()
            .and_then(|v| v.branch().and_then(branch_shard));
        if let Some(owner) = owner {
            if owner != shard.id() && owner < shard.count() && msg.handed_from.is_none() {
                self.m().handed_over.inc();
                // A full queue loses the response; the UAS retransmits it.
                if shard.hand_to(owner, msg.clone()).is_err() {
                    self.m().mesh_full.inc();
                    if self.m().queue_full.raise(unix_ms(), true) {
                        tracing::warn!(
                            shard = shard.id(),
                            owner,
                            "shard queue full: dropping responses"
                        );
                    }
                }
                return Some(());
            }
        }
        if let Some(c) = resp.status().and_then(class_index) {
            self.m().responses_in[c].inc();
        }
        self.core.borrow_mut().on_response(resp, shard.now_ms());
        self.run_actions(shard);
        Some(())
    }

    fn run_actions(&self, shard: &Rc<Shard<Self>>) {
        // Taken out of the cell for the loop: sending never re-enters the app.
        let mut actions = std::mem::take(&mut *self.actions.borrow_mut());
        actions.extend(self.core.borrow_mut().drain_actions());
        for action in actions.drain(..) {
            match action {
                Action::Respond { to, bytes } => {
                    if let Some(status) = status_of(&bytes) {
                        let done = to.meta.on_sent(status, shard.now_us(), &self.metrics.local);
                        if done.first_final {
                            let t = &self.m().transactions_in[to.meta.method];
                            // A CANCEL's transaction is made and answered in one step.
                            if to.meta.method == method_index(Some(Method::Cancel)) {
                                t.attempts.inc();
                            }
                            if (200..300).contains(&status) {
                                t.successes.inc();
                            } else {
                                t.failures.inc();
                            }
                            if let Some(branch) = &to.meta.invite_branch {
                                self.invites.borrow_mut().remove(branch);
                            }
                        }
                    }
                    self.reply(shard, &to.origin, bytes)
                }
                Action::Request { to, bytes } => self.send_request(shard, &to, bytes),
                Action::WakeAt { at_ms } => {
                    shard.timer_at(at_ms, TOKEN_CORE);
                }
            }
        }
        *self.actions.borrow_mut() = actions;
    }

    fn reply(&self, shard: &Rc<Shard<Self>>, to: &Origin, bytes: Bytes) {
        if let Some(c) = status_of(&bytes).and_then(class_index) {
            self.m().responses_out[c].inc();
        }
        let sent = match to.transport {
            Transport::Udp => shard.send_udp(Some(to.local), to.peer, &bytes),
            Transport::Tcp => match to.conn {
                Some(c) => shard.send_tcp(c, bytes),
                None => shard.send_tcp_to(to.peer, bytes),
            },
        };
        if sent.is_err() {
            self.m().send_failures.inc();
        }
    }

    fn send_request(&self, shard: &Rc<Shard<Self>>, to: &Target, bytes: Bytes) {
        self.m().requests_out[method_of_request_bytes(&bytes)].inc();
        let Some(&addr) = self.resolver.resolve(to).first() else {
            self.m().unresolvable.inc();
            tracing::debug!(shard = shard.id(), host = %String::from_utf8_lossy(&to.host), "no address for next hop");
            return;
        };
        let sent = match to.transport {
            HopTransport::Udp => shard.send_udp(None, addr, &bytes),
            HopTransport::Tcp | HopTransport::Tls => shard.send_tcp_to(addr, bytes),
        };
        if sent.is_err() {
            self.m().send_failures.inc();
        }
    }

    /// Remember an INVITE server transaction until its final response.
    fn track_invite(&self, meta: &Rc<TxnMeta>) {
        let Some(branch) = &meta.invite_branch else {
            return;
        };
        let mut invites = self.invites.borrow_mut();
        if invites.len() < INVITES_TRACKED_MAX {
            invites.insert(branch.clone(), Rc::clone(meta));
        }
    }

    /// A CANCEL for an INVITE still open here: before or after it rang?
    fn count_cancel(&self, cancel: &Message) {
        let Some(branch) = cancel.top_via().ok().and_then(|v| v.branch()) else {
            return;
        };
        let invites = self.invites.borrow();
        let Some(meta) = invites.get(branch) else {
            return;
        };
        if meta.finished() {
            return;
        }
        if meta.provisional_sent() {
            self.m().invites_cancelled_after_1xx.inc();
        } else {
            self.m().invites_cancelled_before_1xx.inc();
        }
    }

    /// Once a second: publish latencies, refresh gauges, answer the
    /// management thread's binding questions.
    fn metrics_tick(&self, shard: &Rc<Shard<Self>>) {
        let m = self.m();
        self.metrics.local.publish(m);
        m.transport.copy_from(shard.stats());
        {
            let t = self.throttle.borrow();
            m.throttle.rate.set(t.rate());
            m.throttle.smoothed_latency_us.set(t.smoothed_latency_us());
            m.throttle.target_latency_us.set(t.target_latency_us());
            m.throttle.penalties.set(t.penalties);
            m.throttle.admitted.set(t.admitted);
            m.throttle.rejected.set(t.rejected);
        }
        let core = self.core.borrow();
        let (servers, clients) = core.transactions();
        m.transactions_evicted.set(core.evicted());
        drop(core);
        m.server_transactions.set(servers as u64);
        m.client_transactions.set(clients as u64);
        if let Some(rx) = &self.bindings_queries {
            while let Ok(q) = rx.try_recv() {
                self.answer_bindings(q);
            }
        }
    }

    fn answer_bindings(&self, q: BindingsQuery) {
        let Some(scscf) = self.scscf.as_ref().map(Rc::clone) else {
            let _ = q.reply.send(Err("this node runs no S-CSCF".to_owned()));
            return;
        };
        glommio::spawn_local(async move {
            let mut aor = scscf.store.get_aor(&q.impu).await;
            // Bindings are kept under the default IMPU of the implicit
            // registration set: for another IMPU of the set, ask the HSS
            // cache (usually the shard's cache) which one that is.
            if aor.as_ref().is_ok_and(|a| a.value.bindings.is_empty()) {
                if let Ok(reg) = scscf.hss.get_reg_data(&q.impu).await {
                    if let Some(default) = reg.subscription.default_impu() {
                        if default != q.impu {
                            aor = scscf.store.get_aor(default).await;
                        }
                    }
                }
            }
            let answer = match aor {
                Ok(aor) => Ok(bindings_json(&aor.value, unix_ms() / 1000)),
                Err(e) => Err(e.to_string()),
            };
            let _ = q.reply.send(answer);
        })
        .detach();
    }
}

/// The IMPU whose owner shard must handle this request, when the S-CSCF
/// serves it: a REGISTER's To, or the Request-URI of a request for one of
/// our users that stops here — no Route, or only ours (terminating, or
/// originating on our Service-Route with a target that may be local). The
/// IMPU has no URI parameters, so a GRUU (`;gr=`) is owned by its AoR's
/// shard.
pub fn owning_impu(proxy: &Proxy, req: &Message) -> Option<String> {
    if req.method() == Some(Method::Register) {
        return req.to().ok()?.uri().ok().as_ref().and_then(impu_of);
    }
    let uri = req.request_uri().ok()?;
    if !proxy.home_domain_uri(&uri) {
        return None;
    }
    if req.header(HeaderName::Route).is_some() && proxy.preprocess(req) != Ok(RouteDecision::Local)
    {
        return None;
    }
    impu_of(&uri)
}

/// An INVITE's top-Via branch (its CANCEL carries the same one).
fn top_branch(req: &Message) -> Option<Bytes> {
    let via = req.top_via().ok()?;
    via.branch().map(Bytes::copy_from_slice)
}

/// Hand a decision for server transaction `key` to the core: forward, or
/// answer with the decided response (built against `request`, or the
/// transaction's own request when `None`).
fn carry_out(
    core: &mut Core<TxnOrigin, ShardBranches>,
    key: &sip_fastpath::ServerKey,
    request: Option<&Message>,
    decision: Decision,
    now_ms: u64,
) {
    match decision {
        Decision::Forward(targets) => core.forward(key, &targets, now_ms),
        other => {
            let answer = request
                .or_else(|| core.request(key))
                .and_then(|r| other.response(r));
            if let Some((status, bytes)) = answer {
                core.respond(key, status, bytes, now_ms);
            }
        }
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
fn mark_via(req: Message, origin: &Origin, limits: &Limits) -> Option<Message> {
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
    let mut e = req.edit();
    if e.set_top_via_received(ip.as_bytes(), port).is_err() {
        return Some(req);
    }
    Message::parse(e.finish(), limits).ok()
}

impl App for EngineApp {
    type Mesh = EngineMesh;

    fn on_start(&self, shard: &Rc<Shard<Self>>) {
        match self.registration_store() {
            Some(ShardBindings::Embedded(store)) => {
                store.remote.bind(shard);
                shard.timer_at(shard.now_ms() + STORE_MAINTENANCE_MS, TOKEN_STORE);
                self.m().registrations_known.set(1);
            }
            Some(ShardBindings::Redis(_)) => {
                shard.timer_at(shard.now_ms() + STORE_MAINTENANCE_MS, TOKEN_STORE);
            }
            None => {}
        }
        shard.timer_at(
            shard.now_ms() + super::metrics::sampler::SAMPLE_INTERVAL_MS,
            TOKEN_METRICS,
        );
    }

    fn on_message(&self, shard: &Rc<Shard<Self>>, msg: Inbound) {
        match Message::parse(msg.data.clone(), &self.limits) {
            Ok(m) if m.is_request() => self.on_request(shard, m, &msg),
            Ok(m) => {
                self.on_response(shard, m, &msg);
            }
            Err(bad) => {
                self.m().malformed.inc();
                if let Some(bytes) = bad.response() {
                    self.reply(shard, &msg.origin, bytes);
                }
            }
        }
    }

    fn on_mesh(&self, shard: &Rc<Shard<Self>>, from: usize, msg: EngineMesh) {
        let Some(ShardBindings::Embedded(store)) = self.registration_store() else {
            return;
        };
        match msg {
            EngineMesh::Ask(AorAsk { token, op }) => {
                let reply = EngineMesh::Answer(AorAnswer {
                    token,
                    reply: store.answer(op),
                });
                if shard.to_shard(from, reply).is_err() {
                    // The asker's wait runs out and it answers 500.
                    self.m().store_failures.inc();
                    tracing::warn!(
                        shard = shard.id(),
                        to = from,
                        "no room for an AoR answer on the mesh"
                    );
                }
            }
            EngineMesh::Answer(answer) => store.remote.answered(answer),
        }
    }

    fn on_timer(&self, shard: &Rc<Shard<Self>>, token: u64) {
        if token == TOKEN_METRICS {
            self.metrics_tick(shard);
            shard.timer_at(
                shard.now_ms() + super::metrics::sampler::SAMPLE_INTERVAL_MS,
                TOKEN_METRICS,
            );
            return;
        }
        if token == TOKEN_STORE {
            if let Some(ShardBindings::Redis(_)) = self.registration_store() {
                self.sweep_redis(shard);
            }
            if let Some(ShardBindings::Embedded(store)) = self.registration_store() {
                let now = unix_ms();
                let m = self.m();
                match store.maintain(now) {
                    Ok(swept) => self.on_expired(shard, swept),
                    Err(e) => {
                        m.store_failures.inc();
                        if m.store_failing.raise(now, false) {
                            tracing::error!(shard = shard.id(), error = %e, "registration store maintenance failed");
                        }
                    }
                }
                // Counting walks the whole store: once a second while it is
                // small, less often as it grows (every 1 + AoRs/20 000 s).
                let tick = shard.now_ms() / STORE_MAINTENANCE_MS;
                if tick % (1 + m.aors.get() / REGISTRATIONS_PER_COUNT_SECOND) == 0 {
                    let (aors, bindings) = store.count_registrations(now);
                    m.aors.set(aors);
                    m.bindings.set(bindings);
                }
            }
            shard.timer_at(shard.now_ms() + STORE_MAINTENANCE_MS, TOKEN_STORE);
            return;
        }
        self.core.borrow_mut().on_timer(shard.now_ms());
        self.run_actions(shard);
    }

    fn on_send_failure(&self, shard: &Rc<Shard<Self>>, failure: SendFailure) {
        // The client transaction times out into a 408/503 of its own.
        self.m().send_failures.inc();
        tracing::debug!(shard = shard.id(), to = %failure.to, reason = %failure.reason, "send failed");
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
