//! The transaction table and fork contexts.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use sip_fastpath::transaction::{
    ClientInvite, ClientNonInvite, Output, ServerInvite, ServerNonInvite, State, TimerConfig,
    cancel_for,
};
use sip_fastpath::{ClientKey, HeaderName, Limits, Message, Method, ServerKey};
use smallvec::SmallVec;

/// The tables' hasher: keyed at random per table like SipHash (the keys
/// are branches and Call-IDs a peer chooses), several times cheaper on them.
type Map<K, V> = HashMap<K, V, ahash::RandomState>;

use super::timers::{ClientKeyOrd, ServerKeyOrd, TimerQueue, TxnRef};
use crate::proxy::{BestResponse, ForkTarget, Forward, Proxy, ResponseContext, Target};

/// Makes the branch prefixes of our client transactions (`z9hG4bK` + what
/// lets a response find its way back to this shard + a unique part).
pub trait Branches {
    fn next_prefix(&mut self) -> Vec<u8>;
}

/// Branches of the form `z9hG4bK` + shard id (2 hex digits) + `-` + a counter.
#[derive(Debug, Clone)]
pub struct ShardBranches {
    pub shard: u8,
    pub counter: u64,
}

impl Branches for ShardBranches {
    fn next_prefix(&mut self) -> Vec<u8> {
        self.counter += 1;
        format!("z9hG4bK{:02x}-{:x}", self.shard, self.counter).into_bytes()
    }
}

/// Limits and timers for one shard's table.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub timers: TimerConfig,
    /// Most server transactions at once. A full table first makes room by
    /// ending the oldest completed non-INVITE transaction (one that only
    /// waits out Timer J, 32 s on UDP, to absorb retransmissions); only a
    /// table full of unfinished ones answers new requests 503.
    pub server_transactions_max: usize,
    pub limits: Limits,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            timers: TimerConfig::default(),
            server_transactions_max: 100_000,
            limits: Limits::default(),
        }
    }
}

/// What the shard must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<O> {
    /// Send a response back toward the request's origin.
    Respond { to: O, bytes: Bytes },
    /// Send a request to a next hop.
    Request { to: Target, bytes: Bytes },
    /// Call [`Core::on_timer`] no later than this.
    WakeAt { at_ms: u64 },
}

/// What became of an incoming request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A new server transaction: ask the role, then call [`Core::forward`] or
    /// [`Core::respond`] with this key.
    New(ServerKey),
    /// A retransmission, an ACK or a CANCEL, handled here.
    Handled,
    /// Refused before a transaction was made (the response is in the actions).
    Refused,
}

enum ServerSide {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

struct ServerTxn<O> {
    side: ServerSide,
    origin: O,
    request: Message,
    fork: Option<u64>,
    /// In [`Core::completed`] already.
    listed_completed: bool,
}

impl<O> ServerTxn<O> {
    /// A non-INVITE transaction whose final response has gone: it only
    /// absorbs retransmissions until Timer J.
    fn completed_non_invite(&self) -> bool {
        matches!(&self.side, ServerSide::NonInvite(t) if t.state() == State::Completed)
    }
}

enum ClientSide {
    Invite(ClientInvite),
    NonInvite(ClientNonInvite),
}

struct ClientTxn {
    side: ClientSide,
    fork: Option<u64>,
    target: Target,
    provisional_seen: bool,
    /// A CANCEL is owed as soon as a provisional arrives (§9.1).
    cancel_owed: bool,
}

struct Fork {
    server: ServerKey,
    ctx: ResponseContext,
    branches: SmallVec<[ClientKey; 2]>,
    finished: bool,
}

/// One shard's transaction-stateful proxy.
pub struct Core<O, B> {
    proxy: Proxy,
    branches: B,
    cfg: CoreConfig,
    /// Boxed: a transaction holds its parsed request (~600 bytes), which
    /// inserts and table growth would otherwise copy.
    servers: Map<ServerKey, Box<ServerTxn<O>>>,
    clients: Map<ClientKey, Box<ClientTxn>>,
    forks: Map<u64, Fork>,
    next_fork: u64,
    /// Completed non-INVITE server transactions, oldest first (entries for
    /// ones ended since are skipped and trimmed): what a full table ends
    /// first.
    completed: VecDeque<ServerKey>,
    /// Completed transactions ended early to make room.
    evicted: u64,
    timers: TimerQueue,
    actions: Vec<Action<O>>,
    /// Deadline last announced with WakeAt, so it is announced only when it moves earlier.
    announced_wake: Option<u64>,
}

impl<O: Clone, B: Branches> Core<O, B> {
    pub fn new(proxy: Proxy, branches: B, cfg: CoreConfig) -> Self {
        let presize = cfg.server_transactions_max;
        Core {
            proxy,
            branches,
            cfg,
            // Sized for the table's bound up front: growing a table of
            // 100 000 transactions rehashes and copies them all at once, a
            // stall of milliseconds in the middle of traffic.
            servers: Map::with_capacity_and_hasher(presize, ahash::RandomState::new()),
            clients: Map::with_capacity_and_hasher(presize, ahash::RandomState::new()),
            forks: Map::with_capacity_and_hasher(presize, ahash::RandomState::new()),
            next_fork: 0,
            completed: VecDeque::new(),
            evicted: 0,
            timers: TimerQueue::with_capacity(presize * 2),
            actions: Vec::new(),
            announced_wake: None,
        }
    }

    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    /// Server and client transactions alive.
    pub fn transactions(&self) -> (usize, usize) {
        (self.servers.len(), self.clients.len())
    }

    /// Completed non-INVITE transactions ended before Timer J to make room
    /// for new requests (a retransmission arriving later is taken as new).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// End the oldest completed non-INVITE server transaction; false when
    /// there is none.
    fn evict_completed(&mut self) -> bool {
        while let Some(key) = self.completed.pop_front() {
            if self
                .servers
                .get(&key)
                .is_some_and(|s| s.completed_non_invite())
            {
                if let Some(fork) = self.servers.remove(&key).and_then(|s| s.fork) {
                    self.forks.remove(&fork);
                }
                self.evicted += 1;
                return true;
            }
        }
        false
    }

    /// Fork contexts alive (one per forwarded request until its server
    /// transaction ends).
    pub fn forks(&self) -> usize {
        self.forks.len()
    }

    /// Transactions still waiting for a final response (server side: none
    /// sent yet; client side: none received). What a graceful stop waits
    /// for: the others only absorb retransmissions until their timers end.
    pub fn unfinished(&self) -> usize {
        let open = |s: State| matches!(s, State::Calling | State::Trying | State::Proceeding);
        let servers = self
            .servers
            .values()
            .filter(|s| match &s.side {
                ServerSide::Invite(t) => open(t.state()),
                ServerSide::NonInvite(t) => open(t.state()),
            })
            .count();
        let clients = self
            .clients
            .values()
            .filter(|c| match &c.side {
                ClientSide::Invite(t) => open(t.state()),
                ClientSide::NonInvite(t) => open(t.state()),
            })
            .count();
        servers + clients
    }

    /// Take the actions produced so far.
    pub fn drain_actions(&mut self) -> std::vec::Drain<'_, Action<O>> {
        self.actions.drain(..)
    }

    /// The server transaction's request (for the role deciding it).
    pub fn request(&self, key: &ServerKey) -> Option<&Message> {
        self.servers.get(key).map(|s| &s.request)
    }

    /// A request arrived from `origin` over a reliable (TCP) or unreliable
    /// (UDP) transport; the caller has validated it
    /// ([`crate::proxy::validate_request`]) and marked its top Via (RFC 3581).
    pub fn on_request(&mut self, req: Message, origin: O, reliable: bool, now_ms: u64) -> Inbound {
        let Ok(key) = req.server_key() else {
            return Inbound::Refused;
        };
        let method = req.method();
        if let Some(s) = self.servers.get_mut(&key) {
            match &mut s.side {
                ServerSide::Invite(t) => t.on_request(&req, now_ms),
                ServerSide::NonInvite(t) => t.on_request(),
            }
            self.pump_server(&key, now_ms);
            return Inbound::Handled;
        }
        match method {
            Some(Method::Ack) => {
                // An ACK for a 2xx (or for nothing we know): routed statelessly by its Route set.
                self.forward_stateless(&req);
                Inbound::Handled
            }
            Some(Method::Cancel) => {
                self.on_cancel(req, origin, key, reliable, now_ms);
                Inbound::Handled
            }
            _ => {
                while self.servers.len() >= self.cfg.server_transactions_max {
                    if self.evict_completed() {
                        continue;
                    }
                    let bytes = req
                        .response(503, "Service Unavailable")
                        .header(HeaderName::RetryAfter, b"1")
                        .finish();
                    self.actions.push(Action::Respond { to: origin, bytes });
                    return Inbound::Refused;
                }
                let side = if method == Some(Method::Invite) {
                    ServerSide::Invite(ServerInvite::new(reliable, self.cfg.timers))
                } else {
                    ServerSide::NonInvite(ServerNonInvite::new(reliable, self.cfg.timers, now_ms))
                };
                let is_invite = matches!(side, ServerSide::Invite(_));
                self.servers.insert(
                    key.clone(),
                    Box::new(ServerTxn {
                        side,
                        origin,
                        request: req,
                        fork: None,
                        listed_completed: false,
                    }),
                );
                if is_invite {
                    // §16.2: a stateful proxy answers an INVITE with 100 Trying at once.
                    if let Some(s) = self.servers.get(&key) {
                        let trying = s.request.response(100, "Trying").finish();
                        self.server_send(&key, 100, trying, now_ms);
                    }
                }
                self.pump_server(&key, now_ms);
                Inbound::New(key)
            }
        }
    }

    /// The role answers the request itself.
    pub fn respond(&mut self, key: &ServerKey, status: u16, bytes: Bytes, now_ms: u64) {
        self.server_send(key, status, bytes, now_ms);
    }

    /// The role sends the request on: one client transaction per target.
    /// If no target can be reached the request is answered 500.
    pub fn forward(&mut self, key: &ServerKey, targets: &[ForkTarget], now_ms: u64) {
        let Some(s) = self.servers.get(key) else {
            return;
        };
        let request = s.request.clone();
        let fork_id = self.next_fork;
        self.next_fork += 1;
        let mut fork = Fork {
            server: key.clone(),
            ctx: ResponseContext::new(targets.len()),
            branches: SmallVec::new(),
            finished: false,
        };
        let mut started = Vec::new();
        for target in targets {
            let prefix = self.branches.next_prefix();
            if let Ok(f) = self.proxy.forward(&request, target, &prefix) {
                started.push(f);
            }
        }
        if started.is_empty() {
            let bytes = request
                .response(500, "Server Internal Error - No Route")
                .finish();
            self.server_send(key, 500, bytes, now_ms);
            return;
        }
        fork.ctx = ResponseContext::new(started.len());
        for Forward { bytes, next_hop } in started {
            let Ok(msg) = Message::parse(bytes, &self.cfg.limits) else {
                continue;
            };
            let Ok(ckey) = msg.client_key() else { continue };
            let reliable = next_hop.transport.is_reliable();
            let side = if msg.method() == Some(Method::Invite) {
                ClientSide::Invite(ClientInvite::new(msg, reliable, self.cfg.timers, now_ms))
            } else {
                ClientSide::NonInvite(ClientNonInvite::new(msg, reliable, self.cfg.timers, now_ms))
            };
            self.clients.insert(
                ckey.clone(),
                Box::new(ClientTxn {
                    side,
                    fork: Some(fork_id),
                    target: next_hop,
                    provisional_seen: false,
                    cancel_owed: false,
                }),
            );
            fork.branches.push(ckey.clone());
            self.pump_client(&ckey, None, now_ms);
        }
        self.forks.insert(fork_id, fork);
        if let Some(s) = self.servers.get_mut(key) {
            s.fork = Some(fork_id);
        }
    }

    /// A response arrived (already parsed). Responses matching no client
    /// transaction are dropped (§16.7: a stateful proxy forwards them
    /// statelessly only for 2xx to INVITE, which our Accepted state covers).
    pub fn on_response(&mut self, resp: Message, now_ms: u64) {
        let Ok(ckey) = resp.client_key() else { return };
        let Some(c) = self.clients.get_mut(&ckey) else {
            return;
        };
        match &mut c.side {
            ClientSide::Invite(t) => t.on_response(&resp, now_ms),
            ClientSide::NonInvite(t) => t.on_response(&resp, now_ms),
        }
        self.pump_client(&ckey, Some(resp), now_ms);
    }

    /// Fire every transaction timer due at `now_ms`.
    pub fn on_timer(&mut self, now_ms: u64) {
        while let Some(t) = self.timers.pop_due(now_ms) {
            match t {
                TxnRef::Server(ServerKeyOrd(key)) => {
                    if let Some(s) = self.servers.get_mut(&key) {
                        match &mut s.side {
                            ServerSide::Invite(t) => t.on_timeout(now_ms),
                            ServerSide::NonInvite(t) => t.on_timeout(now_ms),
                        }
                        self.pump_server(&key, now_ms);
                    }
                }
                TxnRef::Client(ClientKeyOrd(key)) => {
                    if let Some(c) = self.clients.get_mut(&key) {
                        match &mut c.side {
                            ClientSide::Invite(t) => t.on_timeout(now_ms),
                            ClientSide::NonInvite(t) => t.on_timeout(now_ms),
                        }
                        self.pump_client(&key, None, now_ms);
                    }
                }
            }
        }
        // Timer J ends completed transactions in about the order they
        // completed: drop the entries of those gone from the front.
        while let Some(key) = self.completed.front() {
            if self
                .servers
                .get(key)
                .is_some_and(|s| s.completed_non_invite())
            {
                break;
            }
            self.completed.pop_front();
        }
        self.announced_wake = None;
        self.announce_wake();
    }

    /// The earliest time [`Core::on_timer`] has work.
    pub fn next_deadline(&self) -> Option<u64> {
        self.timers.next()
    }

    fn announce_wake(&mut self) {
        if let Some(at) = self.timers.next() {
            if self.announced_wake.is_none_or(|w| at < w) {
                self.announced_wake = Some(at);
                self.actions.push(Action::WakeAt { at_ms: at });
            }
        }
    }

    fn server_send(&mut self, key: &ServerKey, status: u16, bytes: Bytes, now_ms: u64) {
        if let Some(s) = self.servers.get_mut(key) {
            match &mut s.side {
                ServerSide::Invite(t) => t.send(status, bytes, now_ms),
                ServerSide::NonInvite(t) => t.send(status, bytes, now_ms),
            }
        }
        self.pump_server(key, now_ms);
    }

    /// Carry out a server transaction's outputs and re-arm its timer.
    fn pump_server(&mut self, key: &ServerKey, _now_ms: u64) {
        let Some(s) = self.servers.get_mut(key) else {
            return;
        };
        let mut terminated = false;
        loop {
            let out = match &mut s.side {
                ServerSide::Invite(t) => t.poll_output(),
                ServerSide::NonInvite(t) => t.poll_output(),
            };
            match out {
                Some(Output::Send(bytes)) => self.actions.push(Action::Respond {
                    to: s.origin.clone(),
                    bytes,
                }),
                Some(Output::Request(ack)) => {
                    // An ACK for a 2xx in Accepted: it travels end to end by its Route set.
                    if let Ok(ack) = Message::parse(ack, &self.cfg.limits) {
                        forward_stateless_into(
                            &self.proxy,
                            &mut self.branches,
                            &ack,
                            &mut self.actions,
                        );
                    }
                }
                Some(Output::Terminated) => terminated = true,
                Some(_) => {}
                None => break,
            }
        }
        let deadline = match &s.side {
            ServerSide::Invite(t) => t.poll_timeout(),
            ServerSide::NonInvite(t) => t.poll_timeout(),
        };
        if !terminated && !s.listed_completed && s.completed_non_invite() {
            s.listed_completed = true;
            self.completed.push_back(key.clone());
        }
        if terminated {
            // Its fork (and the responses the fork gathered) goes with it:
            // nothing can be sent upstream any more.
            if let Some(fork) = self.servers.remove(key).and_then(|s| s.fork) {
                self.forks.remove(&fork);
            }
        } else if let Some(at) = deadline {
            self.timers
                .push(at, TxnRef::Server(ServerKeyOrd(key.clone())));
        }
        self.announce_wake();
    }

    /// Carry out a client transaction's outputs, feed its responses to the
    /// fork, and re-arm its timer. `incoming` is the response just given to
    /// the transaction, if any: passed up as it is, it needs no second parse.
    fn pump_client(&mut self, key: &ClientKey, mut incoming: Option<Message>, now_ms: u64) {
        let mut upstream: Vec<Message> = Vec::new();
        let mut terminated = false;
        let mut send_cancel = false;
        {
            let Some(c) = self.clients.get_mut(key) else {
                return;
            };
            loop {
                let out = match &mut c.side {
                    ClientSide::Invite(t) => t.poll_output(),
                    ClientSide::NonInvite(t) => t.poll_output(),
                };
                let request = match &c.side {
                    ClientSide::Invite(t) => t.request(),
                    ClientSide::NonInvite(t) => t.request(),
                };
                match out {
                    Some(Output::Send(bytes)) => self.actions.push(Action::Request {
                        to: c.target.clone(),
                        bytes,
                    }),
                    Some(Output::Response(bytes)) => {
                        let parsed = match incoming.take() {
                            Some(m) if same_bytes(m.buffer(), &bytes) => Ok(m),
                            _ => Message::parse(bytes, &self.cfg.limits),
                        };
                        if let Ok(m) = parsed {
                            if m.status().is_some_and(|s| s < 200) {
                                if !c.provisional_seen && c.cancel_owed {
                                    send_cancel = true;
                                }
                                c.provisional_seen = true;
                            }
                            upstream.push(m);
                        }
                    }
                    // No answer from the branch: it counts as 408 (§16.7 step 2, §16.8).
                    Some(Output::Timeout) => {
                        upstream.push(synthesize(request, 408, "Request Timeout"))
                    }
                    // §16.9: a transport failure counts as 503.
                    Some(Output::TransportError) => {
                        upstream.push(synthesize(request, 503, "Service Unavailable"))
                    }
                    Some(Output::Terminated) => terminated = true,
                    Some(_) => {}
                    None => break,
                }
            }
        }
        if send_cancel {
            self.cancel_branch(key, now_ms);
        }
        let fork = self.clients.get(key).and_then(|c| c.fork);
        let deadline = self.clients.get(key).and_then(|c| match &c.side {
            ClientSide::Invite(t) => t.poll_timeout(),
            ClientSide::NonInvite(t) => t.poll_timeout(),
        });
        if terminated {
            self.clients.remove(key);
        } else if let Some(at) = deadline {
            self.timers
                .push(at, TxnRef::Client(ClientKeyOrd(key.clone())));
        }
        if let Some(fork) = fork {
            for m in upstream {
                self.on_branch_response(fork, m, now_ms);
            }
        }
        self.announce_wake();
    }

    /// A response from one branch: pop our Via and let the fork decide (§16.7).
    fn on_branch_response(&mut self, fork_id: u64, resp: Message, now_ms: u64) {
        let Some(status) = resp.status() else { return };
        let mut e = resp.edit();
        if e.pop_via().is_err() {
            return;
        }
        let stripped = e.finish();
        let Some(fork) = self.forks.get_mut(&fork_id) else {
            return;
        };
        let server = fork.server.clone();
        if status < 200 {
            // 100 is hop by hop; other provisionals go up at once (§16.7 step 5).
            if status > 100 && !fork.finished {
                self.server_send(&server, status, stripped, now_ms);
            }
            return;
        }
        if fork.finished && !(200..300).contains(&status) {
            return;
        }
        let best = if ResponseContext::forwards_at_once(status) {
            // Sent as they are: only a response kept for the choice is parsed again.
            ResponseContext::forward_now(stripped)
        } else {
            let Ok(stripped) = Message::parse(stripped, &self.cfg.limits) else {
                return;
            };
            fork.ctx.on_final(stripped)
        };
        match best {
            BestResponse::ForwardNow {
                bytes,
                cancel_others,
            } => {
                fork.finished = true;
                let others: Vec<ClientKey> = fork.branches.clone().into_vec();
                self.server_send(&server, status, bytes, now_ms);
                if cancel_others {
                    for b in others {
                        self.cancel_branch(&b, now_ms);
                    }
                }
            }
            BestResponse::Final(bytes) => {
                fork.finished = true;
                let chosen = Message::parse(bytes.clone(), &self.cfg.limits)
                    .ok()
                    .and_then(|m| m.status())
                    .unwrap_or(500);
                let is_invite = self
                    .servers
                    .get(&server)
                    .is_some_and(|s| matches!(s.side, ServerSide::Invite(_)));
                // RFC 4320 §4.1: never answer 408 to a non-INVITE request.
                if chosen != 408 || is_invite {
                    self.server_send(&server, chosen, bytes, now_ms);
                }
            }
            BestResponse::Wait => {}
        }
    }

    /// CANCEL a pending INVITE branch: now if it has had a provisional,
    /// otherwise as soon as it does (§9.1).
    fn cancel_branch(&mut self, key: &ClientKey, now_ms: u64) {
        let Some(c) = self.clients.get_mut(key) else {
            return;
        };
        let ClientSide::Invite(t) = &c.side else {
            return;
        };
        if !matches!(t.state(), State::Calling | State::Proceeding) {
            return;
        }
        if !c.provisional_seen {
            c.cancel_owed = true;
            return;
        }
        c.cancel_owed = false;
        let Ok(cancel) = Message::parse(cancel_for(t.request()), &self.cfg.limits) else {
            return;
        };
        let Ok(ckey) = cancel.client_key() else {
            return;
        };
        let target = c.target.clone();
        let side = ClientSide::NonInvite(ClientNonInvite::new(
            cancel,
            target.transport.is_reliable(),
            self.cfg.timers,
            now_ms,
        ));
        self.clients.insert(
            ckey.clone(),
            Box::new(ClientTxn {
                side,
                fork: None,
                target,
                provisional_seen: false,
                cancel_owed: false,
            }),
        );
        self.pump_client(&ckey, None, now_ms);
    }

    /// §16.10: answer the CANCEL, then cancel every pending branch of the INVITE.
    fn on_cancel(
        &mut self,
        cancel: Message,
        origin: O,
        key: ServerKey,
        reliable: bool,
        now_ms: u64,
    ) {
        let invite_key = match &key {
            ServerKey::Branch {
                branch, sent_by, ..
            } => ServerKey::Branch {
                branch: branch.clone(),
                sent_by: sent_by.clone(),
                method: Bytes::from_static(b"INVITE"),
            },
            ServerKey::Rfc2543 { .. } => key.clone(),
        };
        let fork = match self.servers.get(&invite_key) {
            Some(s) if matches!(&s.side, ServerSide::Invite(t) if t.state() == State::Proceeding) => {
                s.fork
            }
            _ => {
                let bytes = cancel
                    .response(481, "Call/Transaction Does Not Exist")
                    .finish();
                self.actions.push(Action::Respond { to: origin, bytes });
                return;
            }
        };
        // The CANCEL is its own transaction, answered 200 at once.
        let ok = cancel.response(200, "OK").finish();
        self.servers.insert(
            key.clone(),
            Box::new(ServerTxn {
                side: ServerSide::NonInvite(ServerNonInvite::new(
                    reliable,
                    self.cfg.timers,
                    now_ms,
                )),
                origin,
                request: cancel,
                fork: None,
                listed_completed: false,
            }),
        );
        self.server_send(&key, 200, ok, now_ms);
        match fork.and_then(|f| self.forks.get(&f)) {
            Some(f) => {
                let branches: Vec<ClientKey> = f.branches.clone().into_vec();
                for b in branches {
                    self.cancel_branch(&b, now_ms);
                }
            }
            None => {
                // Not forwarded yet: the role is still deciding; answer 487 ourselves.
                if let Some(s) = self.servers.get(&invite_key) {
                    let bytes = s.request.response(487, "Request Terminated").finish();
                    self.server_send(&invite_key, 487, bytes, now_ms);
                }
            }
        }
    }

    fn forward_stateless(&mut self, req: &Message) {
        forward_stateless_into(&self.proxy, &mut self.branches, req, &mut self.actions);
    }
}

/// Forward a request without a transaction (an ACK for a 2xx, §16.11 style).
fn forward_stateless_into<O, B: Branches>(
    proxy: &Proxy,
    branches: &mut B,
    req: &Message,
    actions: &mut Vec<Action<O>>,
) {
    let prefix = branches.next_prefix();
    if let Ok(Forward { bytes, next_hop }) = proxy.forward(req, &ForkTarget::unchanged(), &prefix) {
        actions.push(Action::Request {
            to: next_hop,
            bytes,
        });
    }
}

/// Whether two buffers are the same bytes in memory (a clone of one another).
fn same_bytes(a: &Bytes, b: &Bytes) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}

/// A response the proxy makes up for a branch (timeout, transport error),
/// shaped as if it had come from downstream: our Via stays on top.
fn synthesize(request: &Message, status: u16, reason: &str) -> Message {
    let bytes = request.response(status, reason).finish();
    Message::parse(bytes, &Limits::default()).unwrap_or_else(|_| request.clone())
}
