//! SIP digest authentication as the S-CSCF does it (Clearwater's behaviour,
//! RFC 3261 §22, RFC 7616/8760): challenges, and verdicts on responses.

mod digest;

pub use digest::{CHALLENGE_VALIDITY_MS, Challenge, Verdict, verify};
