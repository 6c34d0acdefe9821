//! Riptide's control plane: the `riptide-control` server and the `riptidectl`
//! operator tool.
//!
//! `riptide-control` keeps subscribers (private and public identities,
//! implicit registration sets, service profiles with their iFCs), Homestead's
//! registration state and Homer's simservs documents in one SQL schema, on
//! SQLite (the embedded default) or PostgreSQL, and speaks Clearwater's HTTP
//! interfaces over them: Homestead-prov provisioning ([`api::prov`]), the
//! Homestead HSS cache the engine calls ([`api::hss`]) and the Homer XDMS
//! ([`api::xdms`]).
//!
//! It is not on the SIP path: engines fetch subscriber data from it
//! asynchronously and cache it. It does not speak Diameter (no external HSS
//! yet). Provisioning changes are pushed to the engines it is told about
//! ([`notify`]), which drop their cached copies. Its config service ([`api::config`]) checks and serves Clearwater's
//! configuration files but does not push changes to engines yet.
//!
//! Start reading at [`store::Store`] (the data) and [`api::serve`] (the listeners).

pub mod api;
pub mod config;
pub mod ctl;
pub mod digest;
pub mod notify;
pub mod server;
pub mod simservs;
pub mod store;
pub mod xml;
