//! `kill -9` of a real process writing to an embedded store loses no
//! acknowledged write. The test runs its own binary again as the writer
//! (the ignored test below), reads the writer's acknowledgements from its
//! stdout, kills it with SIGKILL while it is still writing (and snapshotting),
//! then recovers the store and checks every acknowledged write.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use bytes::Bytes;
use stores::CasOutcome;
use stores::embedded::{ShardStore, ShardStoreConfig};

const CHILD_DIR_ENV: &str = "STORES_KILL9_CHILD_DIR";
const KEYS_COUNT: u64 = 100;
const SNAPSHOT_EVERY: u64 = 250;
const ACKS_BEFORE_KILL: usize = 3_000;

fn value(key: &str, version: u64) -> String {
    format!("{key} at version {version}")
}

#[test]
#[ignore = "the writer process of kill_9_loses_no_acknowledged_write"]
fn kill9_child_writer() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else {
        return;
    };
    let mut store = ShardStore::open(Path::new(&dir), ShardStoreConfig::default(), 0).unwrap();
    let mut versions = vec![0u64; KEYS_COUNT as usize];
    let mut stdout = std::io::stdout().lock();
    // Bounded in case the parent dies without killing us.
    for i in 0..1_000_000u64 {
        let slot = (i % KEYS_COUNT) as usize;
        let key = format!("sip:user{slot}@example.com");
        let next = value(&key, versions[slot] + 1);
        let outcome = store
            .cas(
                key.as_bytes(),
                versions[slot],
                Bytes::from(next),
                u64::MAX >> 12,
                i,
            )
            .unwrap();
        let CasOutcome::Written { version } = outcome else {
            panic!("conflict on {key}");
        };
        versions[slot] = version;
        writeln!(stdout, "ack {key} {version}").unwrap();
        stdout.flush().unwrap();
        if i % SNAPSHOT_EVERY == SNAPSHOT_EVERY - 1 {
            store.snapshot(i).unwrap();
        }
    }
}

#[test]
fn kill_9_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "kill9_child_writer",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acked: HashMap<String, u64> = HashMap::new();
    let mut acks_count = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let Some(ack) = line.strip_prefix("ack ") else {
            continue;
        };
        let (key, version) = ack.rsplit_once(' ').unwrap();
        acked.insert(key.to_owned(), version.parse().unwrap());
        acks_count += 1;
        if acks_count == ACKS_BEFORE_KILL {
            child.kill().unwrap(); // SIGKILL
            break;
        }
    }
    child.wait().unwrap();
    assert_eq!(acks_count, ACKS_BEFORE_KILL, "the writer stopped early");

    let store = ShardStore::open(dir.path(), ShardStoreConfig::default(), 0).unwrap();
    assert_eq!(acked.len(), KEYS_COUNT as usize);
    for (key, acked_version) in &acked {
        let record = store.get(key.as_bytes(), 0).unwrap();
        // The writer may have gone on after the last ack we read, never back.
        assert!(
            record.version >= *acked_version,
            "{key}: {} < {acked_version}",
            record.version
        );
        assert_eq!(record.value, value(key, record.version).into_bytes());
    }
}
