//! RFC 3261 §17 transaction state machines, with RFC 4320 and RFC 6026.
//!
//! Sans-IO in the quinn-proto manner: each machine is fed what happened
//! (`on_request`, `on_response`, `send`, `on_timeout`, `on_transport_error`),
//! always with `now_ms`, and is asked what to do (`poll_output`) and when to
//! wake it next (`poll_timeout`). It never reads a clock, touches a socket or
//! owns a timer; the shard's timer wheel calls `on_timeout` at the deadline.
//!
//! - [`ClientInvite`] — §17.1.1, with RFC 6026's Accepted state.
//! - [`ClientNonInvite`] — §17.1.2; a timeout is reported, and RFC 4320 §4.1
//!   leaves it to the proxy never to answer 408 upstream.
//! - [`ServerInvite`] — §17.2.1, with RFC 6026's Accepted state.
//! - [`ServerNonInvite`] — §17.2.2.
//!
//! Retransmissions happen on unreliable transports only (`reliable = false`);
//! on reliable ones the timers that only exist to absorb them are zero.

mod client_invite;
mod client_non_invite;
mod server_invite;
mod server_non_invite;
mod timers;

pub use client_invite::{ClientInvite, ack_for, cancel_for};
pub use client_non_invite::ClientNonInvite;
pub use server_invite::ServerInvite;
pub use server_non_invite::ServerNonInvite;
pub use timers::{Timer, TimerConfig};

use bytes::Bytes;

/// What a transaction asks its owner to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send these bytes to the transaction's peer (request, ACK or response).
    Send(Bytes),
    /// Hand this response to the transaction user (client transactions).
    Response(Bytes),
    /// Hand this request to the transaction user (a server transaction passes
    /// an ACK for a 2xx it sees in RFC 6026's Accepted state).
    Request(Bytes),
    /// No final response in time (Timer B or F): the TU acts as if it got 408
    /// (RFC 3261 §17.1.1.2, §17.1.2.2).
    Timeout,
    /// The transport reported a failure (§17.1.4, §17.2.4).
    TransportError,
    /// The server transaction sent a non-2xx final response and no ACK came
    /// before Timer H (§17.2.1).
    AckTimeout,
    /// The machine reached Terminated: the owner removes it from its table.
    Terminated,
}

/// A transaction's state (the names are RFC 3261's and RFC 6026's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Calling,
    Trying,
    Proceeding,
    Accepted,
    Completed,
    Confirmed,
    Terminated,
}

/// The output queue every machine keeps; short, so it lives inline.
pub(crate) type Outputs = smallvec::SmallVec<[Output; 4]>;

/// Take the oldest output.
pub(crate) fn pop(outputs: &mut Outputs) -> Option<Output> {
    if outputs.is_empty() {
        None
    } else {
        Some(outputs.remove(0))
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::Output;
    use crate::{Limits, Message};
    use bytes::Bytes;

    pub const INVITE: &[u8] = b"INVITE sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\nMax-Forwards: 70\r\nRoute: <sip:p1.example.com;lr>\r\nTo: Bob <sip:bob@biloxi.com>\r\nFrom: Alice <sip:alice@atlanta.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n";
    pub const OPTIONS: &[u8] = b"OPTIONS sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKopt1\r\nMax-Forwards: 70\r\nTo: <sip:bob@biloxi.com>\r\nFrom: <sip:alice@atlanta.com>;tag=1\r\nCall-ID: opt1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    pub fn msg(b: &[u8]) -> Message {
        Message::parse(Bytes::copy_from_slice(b), &Limits::default()).expect("test message parses")
    }

    /// A response to `req` with the given status and a To tag.
    pub fn response(req: &[u8], status: u16) -> Message {
        let r = msg(req);
        let reason = if status < 200 { "Provisional" } else { "Final" };
        msg(&r.response(status, reason).finish())
    }

    pub fn drain<F: FnMut() -> Option<Output>>(mut poll: F) -> Vec<Output> {
        std::iter::from_fn(&mut poll).collect()
    }

    pub fn sends(outs: &[Output]) -> usize {
        outs.iter().filter(|o| matches!(o, Output::Send(_))).count()
    }
}
