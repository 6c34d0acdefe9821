//! What a REGISTER came to, in the terms of Clearwater's statistics: the
//! digest authentication (attempted when the REGISTER carries a response),
//! and — once past authentication — which registration it was and whether
//! it succeeded. Registrations that fail authentication count only in the
//! authentication figures, as Clearwater counts them.

use sip_fastpath::{Contacts, Message};

use crate::registrar::{Aor, RegisterKind};

/// Initial, re- or de-registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationKind {
    Initial,
    Re,
    De,
}

/// The statistics a REGISTER contributes to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegisterOutcome {
    /// The REGISTER carried a digest response: was it accepted?
    pub digest: Option<bool>,
    /// Past authentication: which registration, and did it succeed?
    pub registration: Option<(RegistrationKind, bool)>,
}

fn removes_everything(req: &Message) -> bool {
    match req.contacts() {
        Ok(Contacts::Star) => true,
        Ok(Contacts::Addrs(addrs)) => {
            let header = req.expires_s().ok().flatten();
            !addrs.is_empty()
                && addrs.iter().all(|a| match a.expires_s() {
                    Some(Ok(e)) => e == 0,
                    _ => header == Some(0),
                })
        }
        _ => false,
    }
}

impl RegistrationKind {
    /// Before the AoR is known: a de-registration if every contact asks for
    /// expiry 0, otherwise counted as initial.
    pub fn asked_by(req: &Message) -> Self {
        if removes_everything(req) {
            RegistrationKind::De
        } else {
            RegistrationKind::Initial
        }
    }

    /// With the AoR as stored: a re-registration if it had bindings.
    pub fn for_aor(req: &Message, aor: &Aor) -> Self {
        match Self::asked_by(req) {
            RegistrationKind::De => RegistrationKind::De,
            _ if aor.bindings.is_empty() => RegistrationKind::Initial,
            _ => RegistrationKind::Re,
        }
    }
}

impl From<RegisterKind> for RegistrationKind {
    fn from(k: RegisterKind) -> Self {
        match k {
            RegisterKind::Initial => RegistrationKind::Initial,
            // A fetch (no Contact) refreshes nothing but is counted with re-registrations.
            RegisterKind::Refresh | RegisterKind::Fetch => RegistrationKind::Re,
            RegisterKind::Deregistration => RegistrationKind::De,
        }
    }
}
