//! The engine's side of the HSS-cache API (Clearwater's Homestead interface,
//! served by riptide-control): requests written and answers read sans-IO, so
//! the shard's own HTTP/1.1 keep-alive connection carries them.
//!
//! - [`HssRequest`]: the requests (`av`, `reg-data` GET/PUT,
//!   `registration-status`, `location`), encoded as HTTP/1.1.
//! - [`HttpResponseFramer`]: splits a keep-alive byte stream into responses.
//! - [`AuthVector`], [`RegData`]: the answers, parsed.
//! - [`HssError::sip_status`]: how a failure is answered in SIP (Sprout's mapping).

mod framing;
mod regdata;
mod request;

pub use framing::{HttpFrameError, HttpResponse, HttpResponseFramer};
pub use regdata::{ImsSubscription, PublicIdentity, RegData, RegistrationState, ServiceProfile};
pub use request::{AuthVector, HssError, HssRequest, RegDataReqType, parse_auth_vector};
