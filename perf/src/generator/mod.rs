//! The load generator: one thread, two non-blocking UDP sockets (the
//! simulated UACs and the simulated callee), flows started at a fixed rate,
//! RFC 3261 §17.1 retransmission timers of its own, latencies into histograms.
//!
//! A *flow* is one scenario instance (an OPTIONS transaction, a registration
//! with its challenge, a call INVITE…BYE). Branches and Call-IDs carry the
//! flow's slot and generation, so a response or a request reaching the
//! callee finds its flow without a map lookup.

mod flow;
mod ids;
mod timers;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use sip_fastpath::{Limits, Message};

use crate::sipmsg::Challenge;
use crate::stats::{Stats, Summary};
use crate::users::User;
use flow::Flow;
use timers::{TimerKind, Timers};

/// What each flow does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Scenario {
    /// OPTIONS to the server, expect 200.
    Options,
    /// INVITE → 100/180/200 → ACK → (hold) → BYE → 200, callee simulated here.
    Call,
    /// REGISTER → 401 → authenticated REGISTER → 200, users in turn.
    Register,
    /// Registers every user once (not measured), then refreshes: REGISTER with
    /// the last nonce (nc+1) → 200, or → 401 → REGISTER → 200 when the
    /// server allows each nonce once.
    Reregister,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Options => "options",
            Scenario::Call => "call",
            Scenario::Register => "register",
            Scenario::Reregister => "reregister",
        }
    }
}

/// Everything a run needs that does not change between ramp steps.
#[derive(Debug, Clone)]
pub struct Config {
    pub scenario: Scenario,
    /// Where every request goes (the proxy or registrar under test).
    pub server: SocketAddr,
    /// Address for the UAC socket (port 0: any).
    pub uac_bind: SocketAddr,
    /// Address for the simulated callee (calls only; the server routes here).
    pub uas_bind: SocketAddr,
    /// RFC 3261 T1 and T2.
    pub t1: Duration,
    pub t2: Duration,
    /// A transaction with no final response after this fails as `timeout`.
    pub timeout: Duration,
    /// After the last flow starts, wait at most this long for the rest.
    pub drain: Duration,
    pub users: Vec<User>,
    pub expires_s: u32,
    /// Time between the ACK and the BYE.
    pub hold: Duration,
    /// Domain of the call parties (`sip:caller@DOMAIN`).
    pub domain: String,
    /// Request-URI override: OPTIONS target, INVITE target or registrar URI.
    pub request_uri: Option<String>,
    /// Count an echo of the request itself as a 200 (OPTIONS against a raw echo).
    pub expect_echo: bool,
    /// Flows in progress at most; beyond it new flows are skipped and counted.
    pub max_outstanding: usize,
    /// Flows due are started together once per tick of this length (SIPp-like
    /// pacing when above 1 ms; the server then sees bursts, not a trickle).
    pub tick: Duration,
}

impl Config {
    /// Defaults for `scenario` against `server`: RFC timers, 32 s timeout.
    pub fn new(scenario: Scenario, server: SocketAddr) -> Config {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Config {
            scenario,
            server,
            uac_bind: any,
            uas_bind: any,
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            timeout: Duration::from_secs(32),
            drain: Duration::from_secs(5),
            users: Vec::new(),
            expires_s: 300,
            hold: Duration::ZERO,
            domain: "example.com".to_owned(),
            request_uri: None,
            expect_echo: false,
            max_outstanding: 200_000,
            tick: Duration::from_millis(1),
        }
    }
}

/// How much load one run (or one ramp step) offers.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// New flows per second.
    pub rate: f64,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum GeneratorError {
    #[error("socket: {0}")]
    Io(#[from] io::Error),
    #[error("the {0} scenario needs users (--users or --users-csv)")]
    NoUsers(&'static str),
    #[error("a run needs --count or --duration, and a rate above 0")]
    Unbounded,
}

/// Per-user registration state, kept across runs so refreshes reuse it.
#[derive(Debug, Clone, Default)]
struct UserState {
    cseq: u32,
    challenge: Option<Challenge>,
    nonce_count: u32,
    busy: bool,
}

const UAC: Token = Token(0);
const UAS: Token = Token(1);

/// The generator: sockets, flows, timers, users, counters.
pub struct Generator {
    cfg: Config,
    poll: Poll,
    uac: UdpSocket,
    uas: UdpSocket,
    /// Via sent-by of the UAC socket, `ip:port`.
    uac_sent_by: String,
    uas_contact: String,
    limits: Limits,
    flows: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    timers: Timers,
    users: Vec<UserState>,
    next_user: usize,
    next_txn: u64,
    /// Refreshes use the last nonce; off for the initial registrations.
    reuse_nonce: bool,
    stats: Stats,
    buf: Vec<u8>,
}

struct Slot {
    generation: u32,
    flow: Option<Flow>,
}

/// Socket buffers asked for: a generator descheduled for a few ms at tens of
/// thousands of datagrams per second must not drop what the server sent.
const SOCKET_BUFFER_BYTES: usize = 8 << 20;

/// Raise SO_RCVBUF/SO_SNDBUF (past rmem_max with the FORCE variants when root);
/// a refusal leaves the default, which only costs drops the timers recover.
fn enlarge_buffers(sock: &UdpSocket) {
    use nix::sys::socket::{setsockopt, sockopt};
    if setsockopt(sock, sockopt::RcvBufForce, &SOCKET_BUFFER_BYTES).is_err() {
        let _ = setsockopt(sock, sockopt::RcvBuf, &SOCKET_BUFFER_BYTES);
    }
    if setsockopt(sock, sockopt::SndBufForce, &SOCKET_BUFFER_BYTES).is_err() {
        let _ = setsockopt(sock, sockopt::SndBuf, &SOCKET_BUFFER_BYTES);
    }
}

/// The receive buffer: the largest UDP datagram.
const DATAGRAM_MAX: usize = 65_535;

impl Generator {
    pub fn new(cfg: Config) -> Result<Generator, GeneratorError> {
        if matches!(cfg.scenario, Scenario::Register | Scenario::Reregister) && cfg.users.is_empty()
        {
            return Err(GeneratorError::NoUsers(cfg.scenario.name()));
        }
        let poll = Poll::new()?;
        let mut uac = UdpSocket::bind(cfg.uac_bind)?;
        let mut uas = UdpSocket::bind(cfg.uas_bind)?;
        enlarge_buffers(&uac);
        enlarge_buffers(&uas);
        poll.registry()
            .register(&mut uac, UAC, Interest::READABLE)?;
        poll.registry()
            .register(&mut uas, UAS, Interest::READABLE)?;
        let uac_sent_by = uac.local_addr()?.to_string();
        let uas_contact = format!("<sip:uas@{}>", uas.local_addr()?);
        let users = vec![UserState::default(); cfg.users.len()];
        Ok(Generator {
            cfg,
            poll,
            uac,
            uas,
            uac_sent_by,
            uas_contact,
            limits: Limits::default(),
            flows: Vec::new(),
            free: Vec::new(),
            live: 0,
            timers: Timers::default(),
            users,
            next_user: 0,
            next_txn: 0,
            reuse_nonce: false,
            stats: Stats::new(),
            buf: vec![0; DATAGRAM_MAX],
        })
    }

    /// The simulated callee's address (the server's route target).
    pub fn uas_addr(&self) -> io::Result<SocketAddr> {
        self.uas.local_addr()
    }

    pub fn uac_addr(&self) -> io::Result<SocketAddr> {
        self.uac.local_addr()
    }

    /// For `reregister`: register every user once, unmeasured.
    pub fn warm_up(&mut self, rate: f64) -> Result<Summary, GeneratorError> {
        self.reuse_nonce = false;
        let n = self.users.len() as u64;
        let s = self.run_phase(Load {
            rate,
            count: Some(n),
            duration: None,
        })?;
        Ok(s)
    }

    /// One measured run at a fixed offered rate.
    pub fn run(&mut self, load: Load) -> Result<Summary, GeneratorError> {
        self.reuse_nonce = self.cfg.scenario == Scenario::Reregister;
        self.run_phase(load)
    }

    fn run_phase(&mut self, load: Load) -> Result<Summary, GeneratorError> {
        if load.rate <= 0.0 || (load.count.is_none() && load.duration.is_none()) {
            return Err(GeneratorError::Unbounded);
        }
        self.stats = Stats::new();
        let own_pid = std::process::id();
        let cpu_before = crate::procstat::process_ticks(own_pid).unwrap_or(0);
        let mut events = Events::with_capacity(64);
        let start = Instant::now();
        let mut started: u64 = 0;
        let mut sending_until: Option<Instant> = None;
        let mut drain_deadline: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if drain_deadline.is_none() {
                let elapsed = now.duration_since(start);
                let tick_s = self.cfg.tick.as_secs_f64().max(1e-6);
                let ticked_s = (elapsed.as_secs_f64() / tick_s).floor() * tick_s;
                let due = (ticked_s * load.rate) as u64;
                let due = load.count.map_or(due, |c| due.min(c));
                while started < due {
                    started += 1;
                    self.start_flow(now);
                }
                let count_done = load.count.is_some_and(|c| started >= c);
                let time_done = load.duration.is_some_and(|d| elapsed >= d);
                if count_done || time_done {
                    sending_until = Some(now);
                    drain_deadline = Some(now + self.cfg.drain);
                }
            }
            self.fire_timers(now);
            if let Some(deadline) = drain_deadline {
                if self.live == 0 || now >= deadline {
                    break;
                }
            }
            let mut wake = self.timers.next_at();
            if drain_deadline.is_none() {
                let tick_s = self.cfg.tick.as_secs_f64().max(1e-6);
                let first_due_s = (started + 1) as f64 / load.rate;
                let next_start =
                    start + Duration::from_secs_f64((first_due_s / tick_s).ceil() * tick_s);
                wake = Some(wake.map_or(next_start, |w| w.min(next_start)));
            } else if let Some(d) = drain_deadline {
                wake = Some(wake.map_or(d, |w| w.min(d)));
            }
            let timeout = wake.map(|w| w.saturating_duration_since(Instant::now()));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            for ev in events.iter() {
                match ev.token() {
                    UAC => self.drain_socket(true)?,
                    UAS => self.drain_socket(false)?,
                    _ => {}
                }
            }
        }
        self.abandon_live();
        let end = sending_until.unwrap_or_else(Instant::now);
        let mut summary = self
            .stats
            .summary(load.rate, end.saturating_duration_since(start));
        let cpu_after = crate::procstat::process_ticks(own_pid).unwrap_or(cpu_before);
        summary.generator_cpu_s =
            crate::procstat::ticks_to_duration(cpu_after.saturating_sub(cpu_before)).as_secs_f64();
        Ok(summary)
    }

    /// Flows still running at the end of the drain count as `unfinished`.
    fn abandon_live(&mut self) {
        for i in 0..self.flows.len() {
            if self.flows[i].flow.is_some() {
                self.stats.fail("unfinished");
                self.end_flow(i as u32);
            }
        }
        self.timers.clear();
    }

    fn drain_socket(&mut self, is_uac: bool) -> io::Result<()> {
        loop {
            let sock = if is_uac { &self.uac } else { &self.uas };
            let (n, from) = match sock.recv_from(&mut self.buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP port unreachable surfaces here on Linux; the timers cover it.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            };
            let now = Instant::now();
            let Ok(msg) = Message::parse(Bytes::copy_from_slice(&self.buf[..n]), &self.limits)
            else {
                self.stats.fail("unparsable-received");
                continue;
            };
            if is_uac {
                self.on_uac_message(msg, now);
            } else {
                self.on_uas_message(msg, from, now);
            }
        }
    }

    fn send(&mut self, to_uas_socket: bool, bytes: &[u8], to: SocketAddr) {
        let sock = if to_uas_socket { &self.uas } else { &self.uac };
        if sock.send_to(bytes, to).is_err() {
            // Counted, not fatal: the retransmission timer resends it.
            self.stats.send_errors += 1;
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some(t) = self.timers.pop_due(now) {
            let Some(flow) = self.flow_mut(t.slot, t.generation) else {
                continue;
            };
            match t.kind {
                TimerKind::Retransmit => self.on_retransmit_timer(t.slot, t.txn, now),
                TimerKind::Timeout => {
                    if flow.client.as_ref().is_some_and(|c| c.seq == t.txn) {
                        self.stats.fail("timeout");
                        self.end_flow(t.slot);
                    }
                }
                TimerKind::CalleeRetransmit => self.on_callee_timer(t.slot, t.txn, now),
                TimerKind::Hold => self.send_bye(t.slot, now),
            }
        }
    }

    fn flow_mut(&mut self, slot: u32, generation: u32) -> Option<&mut Flow> {
        let s = self.flows.get_mut(slot as usize)?;
        if s.generation != generation {
            return None;
        }
        s.flow.as_mut()
    }

    fn alloc_slot(&mut self) -> (u32, u32) {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.flows.push(Slot {
                    generation: 0,
                    flow: None,
                });
                (self.flows.len() - 1) as u32
            }
        };
        (slot, self.flows[slot as usize].generation)
    }

    fn end_flow(&mut self, slot: u32) {
        let Some(s) = self.flows.get_mut(slot as usize) else {
            return;
        };
        if let Some(f) = s.flow.take() {
            if let Some(u) = f.user {
                if let Some(us) = self.users.get_mut(u) {
                    us.busy = false;
                }
            }
            s.generation = s.generation.wrapping_add(1);
            self.free.push(slot);
            self.live -= 1;
        }
    }

    fn next_txn_seq(&mut self) -> u64 {
        self.next_txn += 1;
        self.next_txn
    }

    /// The next user not in a flow, in turn.
    fn pick_user(&mut self) -> Option<usize> {
        let n = self.users.len();
        for _ in 0..n {
            let i = self.next_user % n;
            self.next_user = (self.next_user + 1) % n;
            if !self.users[i].busy {
                return Some(i);
            }
        }
        None
    }
}
