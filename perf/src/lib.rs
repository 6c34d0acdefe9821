//! Riptide's performance instruments.
//!
//! What it is for: `riptide-load`, a SIP load generator that simulates UEs
//! (OPTIONS pings, registrations with digest authentication, calls with the
//! callee simulated too) at a fixed offered rate or a ramp, with its own
//! RFC 3261 retransmission timers and HdrHistogram latencies; and
//! `riptide-compare`, which runs Riptide and Kamailio side by side on the
//! same pinned core under the same load, reads their CPU time from `/proc`,
//! measures the kernel's raw UDP echo floor, and writes a report.
//!
//! What it is not: not a SIP stack (messages come from `sip-fastpath`), not
//! part of the engine, and not run by `cargo test` beyond small loopback
//! checks: heavy runs are manual (see `perf/README.md`).
//!
//! Start reading at [`generator::Generator`] and [`compare`].

pub mod compare;
pub mod echo;
pub mod echo_uring;
pub mod generator;
pub mod procstat;
pub mod ramp;
pub mod sipmsg;
pub mod stats;
pub mod users;
