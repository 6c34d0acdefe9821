//! What the S-CSCF's unit tests share: an in-memory registration store
//! (optionally broken), a one-poll executor for futures that never wait,
//! and the status a decision answers with.

use super::deps::{BindingStore, StoreError, Versioned};
use crate::auth::Challenge;
use crate::registrar::Aor;
use crate::roles::Decision;
use sip_fastpath::{Limits, Message};
use std::cell::RefCell;
use std::collections::HashMap;

/// The registration store in memory; `broken` makes reads and challenge
/// writes fail as an unreachable store would.
#[derive(Default)]
pub(super) struct MemStore {
    pub(super) broken: bool,
    pub(super) aors: RefCell<HashMap<String, Versioned<Aor>>>,
    pub(super) challenges: RefCell<HashMap<(String, String), Versioned<Challenge>>>,
    /// Another use of the same nonce lands between each read of a stored
    /// challenge and the write that follows it (bumps its version first).
    pub(super) concurrent_use: std::cell::Cell<bool>,
}

impl BindingStore for MemStore {
    async fn get_aor(&self, aor: &str) -> Result<Versioned<Aor>, StoreError> {
        if self.broken {
            return Err(StoreError("down".into()));
        }
        Ok(self.aors.borrow().get(aor).cloned().unwrap_or(Versioned {
            value: Aor::default(),
            version: 0,
        }))
    }

    async fn set_aor(
        &self,
        aor: &str,
        value: &Aor,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let mut aors = self.aors.borrow_mut();
        let version = aors.get(aor).map_or(0, |v| v.version);
        if version != expected_version {
            return Ok(false);
        }
        aors.insert(
            aor.into(),
            Versioned {
                value: value.clone(),
                version: version + 1,
            },
        );
        Ok(true)
    }

    async fn put_challenge(
        &self,
        impi: &str,
        challenge: &Challenge,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        if self.broken {
            return Err(StoreError("down".into()));
        }
        let key = (impi.to_owned(), challenge.nonce.clone());
        let mut challenges = self.challenges.borrow_mut();
        if self.concurrent_use.get() && expected_version > 0 {
            if let Some(held) = challenges.get_mut(&key) {
                held.version += 1;
            }
        }
        let version = challenges.get(&key).map_or(0, |v| v.version);
        if version != expected_version {
            return Ok(false);
        }
        challenges.insert(
            key,
            Versioned {
                value: challenge.clone(),
                version: version + 1,
            },
        );
        Ok(true)
    }

    async fn get_challenge(
        &self,
        impi: &str,
        nonce: &str,
    ) -> Result<Option<Versioned<Challenge>>, StoreError> {
        if self.broken {
            return Err(StoreError("down".into()));
        }
        Ok(self
            .challenges
            .borrow()
            .get(&(impi.into(), nonce.into()))
            .cloned())
    }
}

/// A UE registering `impu` from `contact` (its host sends), on one Call-ID,
/// with `extra` header lines (each ending CRLF).
pub(super) struct RegisteringUe<'a> {
    pub(super) impu: &'a str,
    pub(super) contact: &'a str,
    pub(super) call_id: &'a str,
    pub(super) extra: &'a str,
}

impl RegisteringUe<'_> {
    /// Its REGISTER with CSeq `cseq`, Expires 300, and `authorization` if any.
    pub(super) fn register(&self, cseq: u32, authorization: Option<&str>) -> Message {
        let RegisteringUe {
            impu,
            contact,
            call_id,
            extra,
        } = self;
        let sent_by = contact.rsplit('@').next().unwrap_or(contact);
        let auth = authorization
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let text = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {sent_by};branch=z9hG4bK{call_id}{cseq}\r\nMax-Forwards: 70\r\nFrom: <{impu}>;tag=f\r\nTo: <{impu}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: <{contact}>\r\n{extra}Expires: 300\r\n{auth}Content-Length: 0\r\n\r\n"
        );
        Message::parse(bytes::Bytes::from(text), &Limits::default()).expect("parses")
    }
}

pub(super) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    // The stand-ins never wait, so one poll completes the future.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(f).as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("stand-ins never wait"),
    }
}

/// The status `d` answers with (0 for a forward).
pub(super) fn status(d: &Decision) -> u16 {
    match d {
        Decision::Respond { status, .. } => *status,
        Decision::Ready(b) => Message::parse(b.clone(), &Limits::default())
            .ok()
            .and_then(|m| m.status())
            .unwrap_or(0),
        Decision::Forward(_) => 0,
    }
}
