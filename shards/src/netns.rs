//! Network namespaces: enter the signaling namespace on a thread, and come
//! back (for the main thread, which binds SIP sockets there and management
//! sockets outside).

use nix::sched::{CloneFlags, setns};
use std::fs::File;

/// Why a namespace could not be entered.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("network namespace {name}: cannot open {path}: {source}")]
    Open {
        name: String,
        path: String,
        source: std::io::Error,
    },
    #[error("network namespace {name}: setns failed: {source}")]
    Setns { name: String, source: nix::Error },
}

/// Move the calling thread into the named namespace (`ip netns add NAME`).
pub fn enter(name: &str) -> Result<(), NetnsError> {
    let path = format!("/var/run/netns/{name}");
    let file = File::open(&path).map_err(|source| NetnsError::Open {
        name: name.to_owned(),
        path: path.clone(),
        source,
    })?;
    setns(&file, CloneFlags::CLONE_NEWNET).map_err(|source| NetnsError::Setns {
        name: name.to_owned(),
        source,
    })
}

/// Enters a namespace and returns the thread to its original one on drop.
pub struct Visit {
    original: File,
}

impl Visit {
    pub fn new(name: &str) -> Result<Self, NetnsError> {
        let original =
            File::open("/proc/thread-self/ns/net").map_err(|source| NetnsError::Open {
                name: "(current)".to_owned(),
                path: "/proc/thread-self/ns/net".to_owned(),
                source,
            })?;
        enter(name)?;
        Ok(Self { original })
    }
}

impl Drop for Visit {
    fn drop(&mut self) {
        if let Err(e) = setns(&self.original, CloneFlags::CLONE_NEWNET) {
            tracing::error!(error = %e, "could not return to the original network namespace");
        }
    }
}
