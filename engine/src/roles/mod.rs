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

    /// The response bytes for a `Respond` decision.
    pub fn response_bytes(&self, request: &Message) -> Option<Bytes> {
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
                Some(b.finish())
            }
            Decision::Ready(bytes) => Some(bytes.clone()),
            Decision::Forward(_) => None,
        }
    }
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
