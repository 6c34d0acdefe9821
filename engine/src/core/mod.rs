//! The transaction-stateful proxy, sans-IO: the table of server and client
//! transactions, the fork contexts that join them, CANCEL and ACK handling,
//! and one timer queue. The shard feeds it messages and the time; it answers
//! with [`Action`]s. Roles decide *where* a request goes; this decides *how*
//! it gets there and back (RFC 3261 §16, §17).

mod table;
#[cfg(test)]
mod tests;
mod timers;

pub use table::{Action, Branches, Core, CoreConfig, Inbound, ShardBranches};
