//! Memory per record in the embedded store's map at 1 M records: resident set
//! growth (from /proc/self/statm, so allocator overhead counts) divided by the
//! records inserted. Run:
//! `cargo run --release -p stores --example memory_per_record -- [records] [value_len]`.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use stores::embedded::{CasPlan, ShardMap};

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn main() {
    let mut args = std::env::args().skip(1);
    let records_count: u64 = args.next().map_or(1_000_000, |a| a.parse().unwrap());
    let value_len: usize = args.next().map_or(200, |a| a.parse().unwrap());
    let before = resident_bytes();
    let mut map = ShardMap::new();
    let mut key_bytes = 0;
    for i in 0..records_count {
        let key = format!("sip:+1555{i:07}@ims.example.com");
        key_bytes += key.len();
        let value = Bytes::from(vec![b'x'; value_len]);
        let CasPlan::Write(entry) = map
            .prepare_cas(key.as_bytes(), 0, value, 1_000 + i, 0)
            .unwrap()
        else {
            panic!("conflict")
        };
        map.apply(entry);
    }
    let grown = resident_bytes() - before;
    let per_record = grown as f64 / records_count as f64;
    let key_len = key_bytes as f64 / records_count as f64;
    println!(
        "{records_count} records, key {key_len:.0} B, value {value_len} B: {per_record:.0} B resident per record, {:.0} B beyond key and value",
        per_record - key_len - value_len as f64
    );
}
