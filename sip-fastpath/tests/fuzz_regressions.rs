//! Inputs the fuzz targets (`fuzz/`) found, kept as exact regression tests.

use bytes::Bytes;
use sip_fastpath::framing::{FrameError, StreamFramer};
use sip_fastpath::{Disposition, HeaderName, Limits, Message};

/// `parse` target: a salvaged request with repeated single-valued headers
/// (RFC 4475 §3.3.8) was answered with a 400 that repeated them too, which
/// no parser (ours included) accepts.
#[test]
fn the_400_for_repeated_singletons_parses() {
    let req = Bytes::from_static(
        b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\nCSeq: 2 OPTIONS\r\nCall-ID: a\r\nCall-ID: b\r\nFrom: <sip:a@x>;tag=1\r\nFrom: <sip:b@x>;tag=2\r\nTo: <sip:c@x>\r\nTo: <sip:d@x>\r\n\r\n",
    );
    let e = Message::parse(req, &Limits::default()).expect_err("duplicates are refused");
    assert_eq!(e.disposition(), Disposition::Respond(400));
    let r =
        Message::parse(e.response().expect("a 400"), &Limits::default()).expect("the 400 parses");
    assert_eq!(r.status(), Some(400));
    assert_eq!(r.call_id(), Ok(&b"a"[..]));
    assert_eq!(r.header_value(HeaderName::CSeq), Some(&b"1 OPTIONS"[..]));
    assert_eq!(r.from().expect("from").tag(), Some(&b"1"[..]));
    assert_eq!(r.to().expect("to").uri_raw, b"sip:c@x");
}

/// `framer` target: a header section larger than the limit and without
/// Content-Length was MissingContentLength when it arrived whole but
/// TooLarge when it arrived in pieces.
#[test]
fn oversized_headers_without_content_length_are_too_large_either_way() {
    let limits = Limits {
        message_bytes_max: 512,
        ..Limits::default()
    };
    let mut msg = b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\nX-Pad: "
        .to_vec();
    msg.extend_from_slice(&[b'p'; 600]);
    msg.extend_from_slice(b"\r\n\r\n");
    for chunk in [msg.len(), 100, 1] {
        let mut framer = StreamFramer::new(limits);
        let mut result = Ok(None);
        for piece in msg.chunks(chunk) {
            framer.push(piece);
            result = framer.next_frame();
            if result.is_err() {
                break;
            }
        }
        assert_eq!(
            result,
            Err(FrameError::TooLarge { max: 512 }),
            "chunk {chunk}"
        );
    }
}
