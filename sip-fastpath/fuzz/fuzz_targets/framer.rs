//! StreamFramer fed one input whole, then split at fuzzer-chosen points.
//!
//! Input layout: byte 0 picks the limits (bit 7: a 512-byte message limit)
//! and the number of split points (low 4 bits); then two bytes per split
//! point (offsets, taken modulo the stream length); the rest is the stream.
//!
//! Checks: nothing panics; the messages framed (and the error, if any) are
//! the same however the stream is split; every frame is within the limit.
//! Keep-alives are not compared: how CRLFs are classified depends on how
//! they arrive (a double-CRLF ping split in two reads as two pongs; see
//! README.md).

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_fastpath::framing::{Frame, FrameError, StreamFramer};
use sip_fastpath::{Limits, Message};

#[derive(Debug, PartialEq, Eq)]
enum Event {
    Message(Bytes),
    Error(FrameError),
}

fn run(limits: Limits, stream: &[u8], cuts: &[usize]) -> (Vec<Event>, usize) {
    let mut framer = StreamFramer::new(limits);
    let mut events = Vec::new();
    let mut keepalive_octets = 0;
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
        framer.push(&stream[at..cut]);
        at = cut;
        loop {
            match framer.next_frame() {
                Ok(Some(Frame::Message(m))) => {
                    assert!(m.len() <= limits.message_bytes_max);
                    events.push(Event::Message(m));
                }
                Ok(Some(Frame::Ping)) => keepalive_octets += 4,
                Ok(Some(Frame::Pong)) => keepalive_octets += 2,
                Ok(None) => break,
                Err(e) => {
                    events.push(Event::Error(e));
                    return (events, keepalive_octets);
                }
            }
        }
    }
    (events, keepalive_octets)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(control & 0x0f);
    if rest.len() < 2 * n {
        return;
    }
    let (offsets, stream) = rest.split_at(2 * n);
    let limits = if control & 0x80 != 0 {
        Limits {
            message_bytes_max: 512,
            ..Limits::default()
        }
    } else {
        Limits::default()
    };
    let mut cuts: Vec<usize> = offsets
        .chunks(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (stream.len() + 1))
        .collect();
    cuts.sort_unstable();
    let (whole, _) = run(limits, stream, &[]);
    let (split, _) = run(limits, stream, &cuts);
    let (bytewise, _) = run(limits, stream, &(1..stream.len()).collect::<Vec<_>>());
    assert_eq!(whole, split);
    assert_eq!(whole, bytewise);
    for e in &whole {
        if let Event::Message(m) = e {
            let _ = Message::parse(m.clone(), &limits);
        }
    }
});
