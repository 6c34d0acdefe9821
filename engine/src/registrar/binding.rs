//! An address of record's bindings as the registrar sees them.

/// One registered contact.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Binding {
    /// `+sip.instance` (with `;reg-id=`) when present, else the contact URI (RFC 5626 §6).
    pub id: String,
    /// The contact URI as registered.
    pub uri: String,
    /// Contact header parameters to echo (`;+sip.instance=..;reg-id=..`), without `expires`/`q`.
    pub params: String,
    pub path: Vec<String>,
    pub call_id: String,
    pub cseq: u32,
    pub expires_at_s: u64,
    pub q_millis: Option<u16>,
    pub instance: Option<String>,
    pub reg_id: Option<u32>,
}

#[cfg(test)]
impl Binding {
    /// A plain contact for tests: `id` is its URI too, Call-ID `c1`, CSeq 1.
    pub(crate) fn plain(id: &str, expires_at_s: u64) -> Binding {
        Binding {
            id: id.into(),
            uri: id.into(),
            params: String::new(),
            path: vec![],
            call_id: "c1".into(),
            cseq: 1,
            expires_at_s,
            q_millis: None,
            instance: None,
            reg_id: None,
        }
    }
}

/// The bindings of one AoR (keyed by the default IMPU of its implicit registration set).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Aor {
    pub bindings: Vec<Binding>,
}

impl Aor {
    /// Drop bindings that expired at or before `now_s`; how many went.
    pub fn expire(&mut self, now_s: u64) -> usize {
        let before = self.bindings.len();
        self.bindings.retain(|b| b.expires_at_s > now_s);
        before - self.bindings.len()
    }

    /// The latest expiry (for a store's TTL).
    pub fn last_expiry_s(&self) -> Option<u64> {
        self.bindings.iter().map(|b| b.expires_at_s).max()
    }
}
