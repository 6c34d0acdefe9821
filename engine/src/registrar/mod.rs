//! The S-CSCF registrar's rules (RFC 3261 §10.3, RFC 3327 Path, RFC 3608
//! Service-Route, RFC 3455 P-Associated-URI, RFC 5626 outbound, RFC 5627
//! public GRUU), sans-IO: given a REGISTER, the AoR's current bindings, the
//! subscriber's identities and the time, compute the new bindings and the
//! response. Fetching bindings and subscriber data, and storing the result,
//! is the caller's (the store and the HSS-cache client).

mod binding;
mod register;

pub use binding::{Aor, Binding};
pub use register::{RegisterKind, RegisterOutcome, RegistrarConfig, Rejected, apply_register};
