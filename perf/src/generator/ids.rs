//! Branches and Call-IDs that name their flow: `z9hG4bK-rl-SLOT-GEN-TXN` and
//! `rl-SLOT-GEN@HOST`, read back without a lookup table.

const BRANCH_PREFIX: &str = "z9hG4bK-rl-";
const CALL_ID_PREFIX: &str = "rl-";

/// A flow's slot and generation, and for a branch the transaction number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRef {
    pub slot: u32,
    pub generation: u32,
    pub txn: u64,
}

pub fn branch(slot: u32, generation: u32, txn: u64) -> String {
    format!("{BRANCH_PREFIX}{slot}-{generation}-{txn}")
}

pub fn call_id(slot: u32, generation: u32, host: &str) -> String {
    format!("{CALL_ID_PREFIX}{slot}-{generation}@{host}")
}

pub fn parse_branch(b: &[u8]) -> Option<FlowRef> {
    let rest = b.strip_prefix(BRANCH_PREFIX.as_bytes())?;
    let mut it = rest.split(|&c| c == b'-');
    let slot = number(it.next()?)?;
    let generation = number(it.next()?)?;
    let txn = number(it.next()?)?;
    if it.next().is_some() {
        return None;
    }
    Some(FlowRef {
        slot: u32::try_from(slot).ok()?,
        generation: u32::try_from(generation).ok()?,
        txn,
    })
}

pub fn parse_call_id(c: &[u8]) -> Option<FlowRef> {
    let rest = c.strip_prefix(CALL_ID_PREFIX.as_bytes())?;
    let end = rest.iter().position(|&b| b == b'@').unwrap_or(rest.len());
    let mut it = rest[..end].split(|&b| b == b'-');
    let slot = number(it.next()?)?;
    let generation = number(it.next()?)?;
    if it.next().is_some() {
        return None;
    }
    Some(FlowRef {
        slot: u32::try_from(slot).ok()?,
        generation: u32::try_from(generation).ok()?,
        txn: 0,
    })
}

fn number(d: &[u8]) -> Option<u64> {
    if d.is_empty() || d.len() > 19 || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(d.iter().fold(0u64, |n, &c| n * 10 + u64::from(c - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_and_call_id_round_trip() {
        let b = branch(12, 3, 99);
        assert_eq!(b, "z9hG4bK-rl-12-3-99");
        assert_eq!(
            parse_branch(b.as_bytes()),
            Some(FlowRef {
                slot: 12,
                generation: 3,
                txn: 99
            })
        );
        let c = call_id(7, 0, "127.0.0.1");
        assert_eq!(
            parse_call_id(c.as_bytes()),
            Some(FlowRef {
                slot: 7,
                generation: 0,
                txn: 0
            })
        );
    }

    #[test]
    fn foreign_ids_are_not_ours() {
        assert_eq!(parse_branch(b"z9hG4bKabc"), None);
        assert_eq!(parse_branch(b"z9hG4bK-rl-1-2"), None);
        assert_eq!(parse_branch(b"z9hG4bK-rl-1-2-3-4"), None);
        assert_eq!(parse_branch(b"z9hG4bK-rl-1-x-3"), None);
        assert_eq!(parse_call_id(b"abc@h"), None);
        assert_eq!(parse_call_id(b"rl-99999999999-1@h"), None);
    }
}
