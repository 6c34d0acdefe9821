//! One scenario instance and its steps: how a flow starts, what each
//! response moves it to, and the callee's side of a call.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_fastpath::{Message, Method};

use super::ids::{self, FlowRef};
use super::timers::{Timer, TimerKind};
use super::{Generator, Scenario};
use crate::sipmsg::{self, Challenge, Dialog, RequestIds};
use crate::stats::FLOW;

/// Where a flow stands: which request is outstanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Options,
    /// The first REGISTER (no credentials, or last nonce when refreshing).
    Register,
    /// The REGISTER answering a fresh challenge.
    RegisterAuthenticated,
    Invite,
    /// ACK sent; the BYE waits for the hold timer.
    Holding,
    Bye,
}

/// The UAC's outstanding client transaction.
#[derive(Debug)]
pub struct ClientTxn {
    pub seq: u64,
    pub bytes: Bytes,
    pub sent: Instant,
    pub interval: Duration,
    /// A provisional response came: an INVITE stops retransmitting.
    pub proceeding: bool,
    pub invite: bool,
}

/// The simulated callee's state for this call.
#[derive(Debug, Default)]
pub struct Callee {
    /// The 200 and where it went, resent until the ACK.
    pub ok: Option<(Bytes, SocketAddr)>,
    pub acked: bool,
    pub interval: Duration,
    pub resends: u32,
}

#[derive(Debug)]
pub struct Flow {
    pub started: Instant,
    pub step: Step,
    pub user: Option<usize>,
    pub client: Option<ClientTxn>,
    pub callee: Callee,
    pub call_id: String,
    pub from: String,
    pub to: String,
    pub cseq: u32,
    pub dialog: Option<Dialog>,
    /// The ACK for the 2xx, resent when the 2xx is.
    pub ack: Option<Bytes>,
}

/// The callee stops resending its 200 after this many tries (64·T1 with doubling capped at T2).
const CALLEE_RESENDS_MAX: u32 = 10;

impl Generator {
    pub(super) fn start_flow(&mut self, now: Instant) {
        self.stats.attempts += 1;
        if self.live >= self.cfg.max_outstanding {
            self.stats.skipped += 1;
            self.stats.attempts -= 1;
            return;
        }
        let user = if matches!(self.cfg.scenario, Scenario::Register | Scenario::Reregister) {
            match self.pick_user() {
                Some(u) => Some(u),
                None => {
                    self.stats.attempts -= 1;
                    self.stats.skipped += 1;
                    return;
                }
            }
        } else {
            None
        };
        let (slot, generation) = self.alloc_slot();
        let host = self.cfg.uac_bind.ip().to_string();
        let (step, call_id, from, to, cseq) = match (self.cfg.scenario, user) {
            (Scenario::Options, _) => (
                Step::Options,
                ids::call_id(slot, generation, &host),
                format!("<sip:load@{host}>;tag=rl{slot}x{generation}"),
                format!("<sip:{}>", self.cfg.server),
                1,
            ),
            (Scenario::Call, _) => (
                Step::Invite,
                ids::call_id(slot, generation, &host),
                format!("<sip:caller@{}>;tag=rl{slot}x{generation}", self.cfg.domain),
                format!("<sip:callee@{}>", self.cfg.domain),
                1,
            ),
            (_, Some(u)) => {
                let aor = self.cfg.users[u].public_id();
                let us = &mut self.users[u];
                us.busy = true;
                us.cseq += 1;
                (
                    Step::Register,
                    format!("rl-u{u}@{host}"),
                    format!("<{aor}>;tag=rlu{u}x{}", us.cseq),
                    format!("<{aor}>"),
                    us.cseq,
                )
            }
            (_, None) => return,
        };
        self.flows[slot as usize].flow = Some(Flow {
            started: now,
            step,
            user,
            client: None,
            callee: Callee::default(),
            call_id,
            from,
            to,
            cseq,
            dialog: None,
            ack: None,
        });
        self.live += 1;
        self.send_request(slot, generation, now);
    }

    /// Build and send the request of the flow's current step as a new client transaction.
    fn send_request(&mut self, slot: u32, generation: u32, now: Instant) {
        let txn = self.next_txn_seq();
        let branch = ids::branch(slot, generation, txn);
        let sent_by = self.uac_sent_by.clone();
        let request_uri = self.cfg.request_uri.clone();
        let server = self.cfg.server;
        let uac_contact_host = sent_by.clone();
        let expires_s = self.cfg.expires_s;
        let reuse_nonce = self.reuse_nonce;
        let Some(flow) = self.flows[slot as usize].flow.as_ref() else {
            return;
        };
        let ids = RequestIds {
            sent_by: &sent_by,
            branch: &branch,
            call_id: &flow.call_id,
            from: &flow.from,
            to: flow.dialog.as_ref().map_or(&flow.to, |d| &d.to),
            cseq: flow.cseq,
        };
        let (bytes, invite) = match flow.step {
            Step::Options => {
                let uri = request_uri.unwrap_or_else(|| format!("sip:{server}"));
                (sipmsg::options(&uri, &ids), false)
            }
            Step::Invite => {
                let uri = request_uri.unwrap_or_else(|| format!("sip:callee@{}", self.cfg.domain));
                let contact = format!("<sip:caller@{uac_contact_host}>");
                (sipmsg::invite(&uri, &ids, &contact), true)
            }
            Step::Bye => match &flow.dialog {
                Some(d) => (sipmsg::in_dialog("BYE", d, &ids), false),
                None => return,
            },
            Step::Holding => return,
            Step::Register | Step::RegisterAuthenticated => {
                let Some(u) = flow.user else { return };
                let user = &self.cfg.users[u];
                let uri = request_uri.unwrap_or_else(|| format!("sip:{}", user.domain));
                let contact = format!("<sip:{}@{uac_contact_host}>", user.dn);
                let us = &mut self.users[u];
                let fresh = flow.step == Step::RegisterAuthenticated;
                let auth = match &us.challenge {
                    Some(c) if fresh || reuse_nonce => {
                        us.nonce_count += 1;
                        let cnonce = format!("{:08x}", txn);
                        Some(sipmsg::authorization(
                            user,
                            c,
                            "REGISTER",
                            &uri,
                            us.nonce_count,
                            &cnonce,
                        ))
                    }
                    _ => None,
                };
                (
                    sipmsg::register(&uri, &ids, &contact, expires_s, auth.as_deref()),
                    false,
                )
            }
        };
        self.send(false, &bytes, server);
        let t1 = self.cfg.t1;
        if let Some(flow) = self.flows[slot as usize].flow.as_mut() {
            flow.client = Some(ClientTxn {
                seq: txn,
                bytes,
                sent: now,
                interval: t1,
                proceeding: false,
                invite,
            });
        }
        for (kind, after) in [
            (TimerKind::Retransmit, t1),
            (TimerKind::Timeout, self.cfg.timeout),
        ] {
            self.timers.push(Timer {
                at: now + after,
                slot,
                generation,
                txn,
                kind,
            });
        }
    }

    pub(super) fn on_retransmit_timer(&mut self, slot: u32, txn: u64, now: Instant) {
        let t2 = self.cfg.t2;
        let generation = self.flows[slot as usize].generation;
        let Some(flow) = self.flows[slot as usize].flow.as_mut() else {
            return;
        };
        let Some(c) = flow.client.as_mut().filter(|c| c.seq == txn) else {
            return;
        };
        if c.proceeding && c.invite {
            return;
        }
        // Timer A doubles without bound; timer E doubles up to T2, and is T2 once proceeding.
        c.interval = if c.invite {
            c.interval * 2
        } else if c.proceeding {
            t2
        } else {
            (c.interval * 2).min(t2)
        };
        let bytes = c.bytes.clone();
        let next = now + c.interval;
        self.stats.retransmissions += 1;
        let server = self.cfg.server;
        self.send(false, &bytes, server);
        self.timers.push(Timer {
            at: next,
            slot,
            generation,
            txn,
            kind: TimerKind::Retransmit,
        });
    }

    pub(super) fn on_callee_timer(&mut self, slot: u32, txn: u64, now: Instant) {
        let t2 = self.cfg.t2;
        let generation = self.flows[slot as usize].generation;
        let Some(flow) = self.flows[slot as usize].flow.as_mut() else {
            return;
        };
        let c = &mut flow.callee;
        if c.acked || c.resends >= CALLEE_RESENDS_MAX {
            return;
        }
        let Some((bytes, to)) = c.ok.clone() else {
            return;
        };
        c.resends += 1;
        c.interval = (c.interval * 2).min(t2);
        let next = now + c.interval;
        self.stats.retransmissions += 1;
        self.send(true, &bytes, to);
        self.timers.push(Timer {
            at: next,
            slot,
            generation,
            txn,
            kind: TimerKind::CalleeRetransmit,
        });
    }

    pub(super) fn send_bye(&mut self, slot: u32, now: Instant) {
        let generation = self.flows[slot as usize].generation;
        let Some(flow) = self.flows[slot as usize].flow.as_mut() else {
            return;
        };
        if flow.step != Step::Holding {
            return;
        }
        flow.step = Step::Bye;
        flow.cseq += 1;
        self.send_request(slot, generation, now);
    }

    /// A datagram on the UAC socket: a response to one of our transactions
    /// (or, against a raw echo, our own request reflected).
    pub(super) fn on_uac_message(&mut self, msg: Message, now: Instant) {
        let echo = msg.is_request();
        if echo && !self.cfg.expect_echo {
            return;
        }
        let Some(r) = msg
            .top_via()
            .ok()
            .and_then(|v| v.branch())
            .and_then(ids::parse_branch)
        else {
            return;
        };
        let status = if echo { 200 } else { msg.status().unwrap_or(0) };
        let Some(flow) = self.flow_mut(r.slot, r.generation) else {
            return;
        };
        let current = flow.client.as_ref().is_some_and(|c| c.seq == r.txn);
        if !current {
            // A 2xx to the INVITE retransmitted after we moved on: resend the ACK.
            let is_invite_2xx = (200..300).contains(&status)
                && msg.cseq().is_ok_and(|c| c.method == Method::Invite);
            if is_invite_2xx {
                if let Some(ack) = flow.ack.clone() {
                    let server = self.cfg.server;
                    self.send(false, &ack, server);
                }
            }
            return;
        }
        if status < 200 {
            if let Some(c) = flow.client.as_mut() {
                c.proceeding = true;
            }
            return;
        }
        let Some(txn) = flow.client.take() else {
            return;
        };
        let latency = now.saturating_duration_since(txn.sent);
        let step = flow.step;
        match step {
            Step::Options => {
                if status == 200 {
                    self.stats.record("OPTIONS", latency);
                    self.succeed(r.slot, now);
                } else {
                    self.stats.fail(status.to_string());
                    self.end_flow(r.slot);
                }
            }
            Step::Register | Step::RegisterAuthenticated => {
                self.on_register_response(r, step, status, &msg, latency, now);
            }
            Step::Invite => self.on_invite_final(r, status, &msg, latency, now),
            Step::Bye => {
                if (200..300).contains(&status) {
                    self.stats.record("BYE", latency);
                    self.succeed(r.slot, now);
                } else {
                    self.stats.fail(format!("BYE-{status}"));
                    self.end_flow(r.slot);
                }
            }
            Step::Holding => {}
        }
    }

    fn on_register_response(
        &mut self,
        r: FlowRef,
        step: Step,
        status: u16,
        msg: &Message,
        latency: Duration,
        now: Instant,
    ) {
        let user = self.flow_mut(r.slot, r.generation).and_then(|f| f.user);
        let Some(u) = user else { return };
        match status {
            200..=299 => {
                self.stats.record("REGISTER-200", latency);
                self.succeed(r.slot, now);
            }
            401 | 407 if step == Step::Register => {
                self.stats.record("REGISTER-401", latency);
                let Some(c) = Challenge::from_response(msg) else {
                    self.stats.fail("401-without-digest-challenge");
                    self.end_flow(r.slot);
                    return;
                };
                self.users[u].challenge = Some(c);
                self.users[u].nonce_count = 0;
                self.users[u].cseq += 1;
                let cseq = self.users[u].cseq;
                if let Some(f) = self.flow_mut(r.slot, r.generation) {
                    f.step = Step::RegisterAuthenticated;
                    f.cseq = cseq;
                }
                self.send_request(r.slot, r.generation, now);
            }
            _ => {
                // A refused authenticated REGISTER keeps no nonce for the next refresh.
                self.users[u].challenge = None;
                let why = if step == Step::RegisterAuthenticated {
                    format!("{status}-after-auth")
                } else {
                    status.to_string()
                };
                self.stats.fail(why);
                self.end_flow(r.slot);
            }
        }
    }

    fn on_invite_final(
        &mut self,
        r: FlowRef,
        status: u16,
        msg: &Message,
        latency: Duration,
        now: Instant,
    ) {
        let sent_by = self.uac_sent_by.clone();
        let server = self.cfg.server;
        let hold = self.cfg.hold;
        let default_uri = format!("sip:callee@{}", self.cfg.domain);
        let invite_uri = self.cfg.request_uri.clone().unwrap_or(default_uri);
        let Some(flow) = self.flow_mut(r.slot, r.generation) else {
            return;
        };
        if !(200..300).contains(&status) {
            // ACK the failure hop by hop: same branch, To from the response.
            let to = msg
                .header_value(sip_fastpath::HeaderName::To)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_else(|| flow.to.clone());
            let branch = ids::branch(r.slot, r.generation, r.txn);
            let ack = sipmsg::ack_for_failure(
                &invite_uri,
                &RequestIds {
                    sent_by: &sent_by,
                    branch: &branch,
                    call_id: &flow.call_id,
                    from: &flow.from,
                    to: &to,
                    cseq: flow.cseq,
                },
            );
            self.send(false, &ack, server);
            self.stats.fail(status.to_string());
            self.end_flow(r.slot);
            return;
        }
        let Some(dialog) = Dialog::from_response(msg) else {
            self.stats.fail("2xx-without-contact");
            self.end_flow(r.slot);
            return;
        };
        let ack_branch = ids::branch(r.slot, r.generation, 0);
        let ack = sipmsg::in_dialog(
            "ACK",
            &dialog,
            &RequestIds {
                sent_by: &sent_by,
                branch: &ack_branch,
                call_id: &flow.call_id,
                from: &flow.from,
                to: &dialog.to,
                cseq: flow.cseq,
            },
        );
        flow.dialog = Some(dialog);
        flow.ack = Some(ack.clone());
        flow.step = Step::Holding;
        self.stats.record("INVITE", latency);
        self.send(false, &ack, server);
        if hold.is_zero() {
            self.send_bye(r.slot, now);
        } else {
            self.timers.push(Timer {
                at: now + hold,
                slot: r.slot,
                generation: r.generation,
                txn: 0,
                kind: TimerKind::Hold,
            });
        }
    }

    fn succeed(&mut self, slot: u32, now: Instant) {
        if let Some(f) = self.flows[slot as usize].flow.as_ref() {
            let total = now.saturating_duration_since(f.started);
            self.stats.record(FLOW, total);
            self.stats.successes += 1;
        }
        self.end_flow(slot);
    }

    /// A request reaching the simulated callee (through the server).
    pub(super) fn on_uas_message(&mut self, msg: Message, from: SocketAddr, now: Instant) {
        let Some(method) = msg.method() else {
            return;
        };
        let contact = self.uas_contact.clone();
        match method {
            Method::Invite => {
                let Some(r) = msg.call_id().ok().and_then(ids::parse_call_id) else {
                    let resp = sipmsg::uas_response(&msg, 404, "Not Found", &contact);
                    self.send(true, &resp, from);
                    return;
                };
                let t1 = self.cfg.t1;
                let Some(flow) = self.flow_mut(r.slot, r.generation) else {
                    let resp = sipmsg::uas_response(&msg, 481, "Call Does Not Exist", &contact);
                    self.send(true, &resp, from);
                    return;
                };
                if let Some((ok, to)) = flow.callee.ok.clone() {
                    self.send(true, &ok, to);
                    return;
                }
                let ringing = sipmsg::uas_response(&msg, 180, "Ringing", &contact);
                let ok = sipmsg::uas_response(&msg, 200, "OK", &contact);
                flow.callee.ok = Some((ok.clone(), from));
                flow.callee.interval = t1;
                self.send(true, &ringing, from);
                self.send(true, &ok, from);
                self.timers.push(Timer {
                    at: now + t1,
                    slot: r.slot,
                    generation: r.generation,
                    txn: 0,
                    kind: TimerKind::CalleeRetransmit,
                });
            }
            Method::Ack => {
                if let Some(r) = msg.call_id().ok().and_then(ids::parse_call_id) {
                    if let Some(flow) = self.flow_mut(r.slot, r.generation) {
                        flow.callee.acked = true;
                    }
                }
            }
            Method::Bye => {
                // In or out of a dialog we know (a retransmitted BYE after the end): 200.
                let resp = sipmsg::uas_response(&msg, 200, "OK", &contact);
                self.send(true, &resp, from);
            }
            _ => {
                // The callee only takes calls: a REGISTER routed here must not look accepted.
                let resp = sipmsg::uas_response(&msg, 405, "Method Not Allowed", &contact);
                self.send(true, &resp, from);
            }
        }
    }
}
