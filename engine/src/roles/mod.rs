//! The interface SIP roles implement (the shape of Clearwater's sproutlets):
//! a role sees a new request and decides to answer it or send it to one or
//! more targets; the proxy core does the rest (transactions, forking, CANCEL,
//! best response). Roles never touch sockets or timers.

mod static_route;

pub use static_route::{StaticRoute, StaticRoutes};

use bytes::Bytes;
use sip_fastpath::{HeaderName, Message};
use smallvec::SmallVec;

use crate::proxy::ForkTarget;

/// What a role decided for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Answer it here.
    Respond {
        status: u16,
        reason: &'static str,
        headers: Vec<(HeaderName, Bytes)>,
    },
    /// Answer with this complete response, built by the role (a registrar's 200 OK).
    Ready(Bytes),
    /// Send it to each of these targets in parallel.
    Forward(SmallVec<[ForkTarget; 2]>),
}

impl Decision {
    pub fn respond(status: u16, reason: &'static str) -> Decision {
        Decision::Respond {
            status,
            reason,
            headers: Vec::new(),
        }
    }

    /// The status and bytes of the response a `Respond` or `Ready` decision
    /// sends (a `Ready` response's status is read from its status line).
    pub fn response(&self, request: &Message) -> Option<(u16, Bytes)> {
        match self {
            Decision::Respond {
                status,
                reason,
                headers,
            } => {
                let mut b = request.response(*status, reason);
                for (name, value) in headers {
                    b.push_header(*name, value);
                }
                Some((*status, b.finish()))
            }
            Decision::Ready(bytes) => Some((status_of(bytes)?, bytes.clone())),
            Decision::Forward(_) => None,
        }
    }
}

/// The status code of a response on the wire (`SIP/2.0 200 ...`).
#[inline]
pub fn status_of(bytes: &[u8]) -> Option<u16> {
    let digits = bytes.get(8..11)?;
    digits.iter().try_fold(0u16, |v, d| {
        d.is_ascii_digit().then(|| v * 10 + u16::from(d - b'0'))
    })
}

/// What a role knows about a request besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestContext {
    /// The shard's clock, in milliseconds since the Unix epoch.
    pub now_ms: u64,
}

/// A SIP role. Roles that need data (subscriber profiles, bindings) await it;
/// on a shard's single-threaded executor their futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Role {
    /// The role's name in logs and statistics (`scscf`, `icscf`, `static-route`).
    fn name(&self) -> &'static str;

    /// Decide what happens to a new request addressed to this role.
    async fn on_request(&self, request: &Message, ctx: &RequestContext) -> Decision;
}
