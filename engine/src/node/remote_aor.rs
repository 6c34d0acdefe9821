//! AoRs another shard owns, read and written over the mesh.
//!
//! With the embedded store an AoR lives on shard `hash(default IMPU) % N`.
//! A request is handed to the shard of the IMPU it names, which is the
//! owner when it names the default IMPU; when it names another IMPU of the
//! implicit registration set (an alias, a TEL URI) the S-CSCF learns the
//! default IMPU only from the HSS cache, after its transaction exists on
//! the shard that received it. That shard then asks the owner: one mesh
//! message there ([`AorAsk`]) and one back ([`AorAnswer`]), matched by a
//! token. The owner runs the operation on its own store at once, so a
//! compare-and-set from a remote shard is as safe as a local one.
//!
//! An ask the owner cannot take (its queue is full) fails at once; one
//! whose answer never comes back (the owner's queue to us was full) fails
//! after `wait`. Either way the S-CSCF answers 500, as for a store failure.

use super::app::{EngineApp, owner_shard};
use crate::registrar::Aor;
use crate::scscf::{StoreError, Versioned};
use futures_channel::oneshot;
use shards::Shard;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::Duration;

/// What a shard asks the owner of an AoR to do.
#[derive(Debug)]
pub enum AorOp {
    Get {
        aor: String,
    },
    Set {
        aor: String,
        value: Aor,
        expected_version: u64,
    },
}

/// The owner's answer.
#[derive(Debug)]
pub enum AorReply {
    Got(Result<Versioned<Aor>, StoreError>),
    Set(Result<bool, StoreError>),
}

/// A question to the owner shard.
#[derive(Debug)]
pub struct AorAsk {
    pub token: u64,
    pub op: AorOp,
}

/// The owner's answer to the question with `token`.
#[derive(Debug)]
pub struct AorAnswer {
    pub token: u64,
    pub reply: AorReply,
}

/// What the engine's shards send one another over the mesh.
#[derive(Debug)]
pub enum EngineMesh {
    Ask(AorAsk),
    Answer(AorAnswer),
}

/// This shard's questions in flight, and the way to the other shards.
pub struct RemoteAors {
    shard: RefCell<Weak<Shard<EngineApp>>>,
    next_token: Cell<u64>,
    waiting: RefCell<HashMap<u64, oneshot::Sender<AorReply>>>,
    wait: Duration,
}

impl RemoteAors {
    pub fn new(wait: Duration) -> Self {
        RemoteAors {
            shard: RefCell::new(Weak::new()),
            next_token: Cell::new(0),
            waiting: RefCell::new(HashMap::new()),
            wait,
        }
    }

    /// Called once the shard runs (the app is built before its shard).
    pub fn bind(&self, shard: &Rc<Shard<EngineApp>>) {
        *self.shard.borrow_mut() = Rc::downgrade(shard);
    }

    /// The running shard and the owner of `aor`, when that is another
    /// shard (without a running shard, as in unit tests, all is local).
    pub fn owner_elsewhere(&self, aor: &str) -> Option<(Rc<Shard<EngineApp>>, usize)> {
        let shard = self.shard.borrow().upgrade()?;
        let owner = owner_shard(aor, shard.count());
        (owner != shard.id()).then_some((shard, owner))
    }

    /// Ask `owner` to run `op`, and wait for its answer.
    pub async fn ask(
        &self,
        shard: &Rc<Shard<EngineApp>>,
        owner: usize,
        op: AorOp,
    ) -> Result<AorReply, StoreError> {
        let token = self.next_token.get();
        self.next_token.set(token.wrapping_add(1));
        let (tx, rx) = oneshot::channel();
        self.waiting.borrow_mut().insert(token, tx);
        if shard
            .to_shard(owner, EngineMesh::Ask(AorAsk { token, op }))
            .is_err()
        {
            self.waiting.borrow_mut().remove(&token);
            return Err(StoreError(format!(
                "the queue to shard {owner}, which owns the AoR, is full"
            )));
        }
        let answer = glommio::timer::timeout(self.wait, async {
            Ok::<_, glommio::GlommioError<()>>(rx.await)
        })
        .await;
        self.waiting.borrow_mut().remove(&token);
        match answer {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(StoreError(format!(
                "shard {owner}, which owns the AoR, dropped the question"
            ))),
            Err(e) => Err(StoreError(format!(
                "shard {owner}, which owns the AoR: {e}"
            ))),
        }
    }

    /// The owner's answer has come back.
    pub fn answered(&self, answer: AorAnswer) {
        if let Some(tx) = self.waiting.borrow_mut().remove(&answer.token) {
            // The asker may have given up (timed out): nothing to do then.
            let _ = tx.send(answer.reply);
        }
    }
}
