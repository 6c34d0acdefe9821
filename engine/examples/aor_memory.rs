//! Registration state per AoR in the embedded store: the encoded size of an
//! AoR with one binding (as a SIPp REGISTER leaves it, and as an IMS UE with
//! +sip.instance, reg-id and a Path leaves it), then the resident memory of
//! 1 M such records in a shard's map, on mimalloc as riptide runs.
//! `cargo run --release -p engine --example aor_memory -- sipp|ue [records]`
//! (one kind per process, so freed memory is not reused between them)

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use engine::node::records::encode_aor;
use engine::registrar::{Aor, Binding};
use stores::embedded::{CasPlan, ShardMap};

// The riptide binary's allocator, so its size classes count.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn sipp(i: u64) -> Aor {
    Aor {
        bindings: vec![Binding {
            id: format!("sip:{}@127.0.0.1:5099;transport=UDP", 6_505_550_000 + i),
            uri: format!("sip:{}@127.0.0.1:5099;transport=UDP", 6_505_550_000 + i),
            params: String::new(),
            path: Vec::new(),
            call_id: format!("{i}-12345@127.0.0.1"),
            cseq: 2,
            expires_at_s: 1_795_926_000,
            q_millis: None,
            instance: None,
            reg_id: None,
        }],
    }
}

fn ue(i: u64) -> Aor {
    let instance = format!("\"<urn:gsma:imei:35209900-{i:06}-0>\"");
    Aor {
        bindings: vec![Binding {
            id: format!("{instance};reg-id=1"),
            uri: format!(
                "sip:{}@10.1.{}.{}:5060;transport=tcp",
                6_505_550_000 + i,
                i % 250,
                i % 200
            ),
            params: format!(
                ";+sip.instance={instance};reg-id=1;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\""
            ),
            path: vec!["<sip:term@pcscf.example.com:5058;lr>".into()],
            call_id: format!("{i:016x}-ue@10.1.0.1"),
            cseq: 7,
            expires_at_s: 1_795_926_000,
            q_millis: None,
            instance: Some(instance),
            reg_id: Some(1),
        }],
    }
}

fn main() {
    let kind = std::env::args().nth(1).unwrap_or_else(|| "sipp".into());
    let records: u64 = std::env::args()
        .nth(2)
        .map_or(1_000_000, |a| a.parse().unwrap());
    let (name, make) = if kind == "ue" {
        ("IMS UE binding", ue as fn(u64) -> Aor)
    } else {
        ("SIPp-style binding", sipp as fn(u64) -> Aor)
    };
    {
        let before = resident_bytes();
        let mut map = ShardMap::new();
        let mut value_bytes = 0usize;
        for i in 0..records {
            let key = format!("aor:sip:{}@example.com", 6_505_550_000 + i);
            let value = Bytes::from(encode_aor(&make(i)));
            value_bytes += value.len();
            let CasPlan::Write(entry) = map
                .prepare_cas(key.as_bytes(), 0, value, 1_795_926_000_000, 0)
                .unwrap()
            else {
                panic!("conflict")
            };
            map.apply(entry);
        }
        let per = (resident_bytes() - before) as f64 / records as f64;
        println!(
            "{name}: {records} AoRs, encoded AoR {:.0} B, {per:.0} B resident per AoR",
            value_bytes as f64 / records as f64
        );
        drop(map);
    }
}
