//! The stateful proxy core (RFC 3261 §16), sans-IO: it checks a request,
//! processes its Route set, builds what goes to each target, picks the best
//! response of a fork and says where responses go. The shard owns the
//! transactions and the sockets; nothing here reads a clock or does I/O.

mod hop;
mod local;
mod route;
mod select;
mod validate;

pub use hop::{Target, Transport, request_target, response_target};
pub use local::LocalIdentity;
pub use route::{ForkTarget, Forward, ForwardError, Proxy, RouteDecision};
pub use select::{BestResponse, ResponseContext};
pub use validate::{Rejection, validate_request};
