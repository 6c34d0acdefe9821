//! `/impu/<impu>/bindings` (Sprout's management API): the management
//! thread asks the shard that owns the AoR over a channel the shard polls
//! in its once-a-second metrics timer, and waits for the answer. Nothing on
//! the shard's message path looks at the channel.

use crate::registrar::Aor;
use serde_json::{Map, Value, json};
use std::sync::mpsc::Sender;

/// How long the management thread waits for the owner shard.
pub const ANSWER_WAIT_MS: u64 = 5_000;

/// One question for a shard: the bindings of `impu`.
#[derive(Debug)]
pub struct BindingsQuery {
    pub impu: String,
    pub reply: Sender<Result<Value, String>>,
}

/// An AoR's live bindings in the shape of Sprout's `/impu/<impu>/bindings`.
pub fn bindings_json(aor: &Aor, now_s: u64) -> Value {
    let mut bindings = Map::new();
    for b in aor.bindings.iter().filter(|b| b.expires_at_s > now_s) {
        bindings.insert(
            b.id.clone(),
            json!({
                "uri": b.uri,
                "cid": b.call_id,
                "cseq": b.cseq,
                "expires": b.expires_at_s,
                "expires_in_s": b.expires_at_s.saturating_sub(now_s),
                "priority": b.q_millis.unwrap_or(1000),
                "paths": b.path,
                "params": b.params,
            }),
        );
    }
    json!({ "bindings": bindings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registrar::Binding;

    #[test]
    fn only_live_bindings_are_shown() {
        let b = |id: &str, expires_at_s| Binding {
            id: id.into(),
            uri: format!("sip:{id}@10.0.0.1"),
            params: String::new(),
            path: vec![],
            call_id: "c".into(),
            cseq: 1,
            expires_at_s,
            q_millis: None,
            instance: None,
            reg_id: None,
        };
        let aor = Aor {
            bindings: vec![b("a", 100), b("b", 50)],
        };
        let v = bindings_json(&aor, 60);
        assert_eq!(v["bindings"]["a"]["uri"], "sip:a@10.0.0.1");
        assert_eq!(v["bindings"]["a"]["expires_in_s"], 40);
        assert!(v["bindings"].get("b").is_none());
    }
}
