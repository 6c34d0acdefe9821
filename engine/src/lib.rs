//! Riptide's engine: the SIP roles and the `riptide` binary that runs them on
//! the shards.
//!
//! What it is for: the RFC 3261 §16 proxy core ([`proxy`]), written sans-IO
//! like the transaction machines it drives (in `sip-fastpath`), and the roles
//! built on it (S-CSCF registrar and router, I-CSCF, BGCF, P-CSCF, MMTel) as
//! they arrive. What it is not: a parser (that is `sip-fastpath`) or a runtime
//! (sockets, timers and cores are `shards`); provisioning and subscriber data
//! live in the separate control-plane process.
//!
//! Start reading at [`core::Core`] (the transaction-stateful proxy) and
//! [`proxy::Proxy`] (routing decisions).

pub mod auth;
pub mod core;
pub mod hss;
pub mod node;
pub mod proxy;
pub mod registrar;
pub mod resolve;
pub mod roles;
pub mod scscf;
