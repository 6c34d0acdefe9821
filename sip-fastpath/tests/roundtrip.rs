//! Property tests: what the builder writes, the parser reads back exactly, and
//! forward edits that cancel out leave the message byte-for-byte unchanged.

use bytes::Bytes;
use proptest::prelude::*;
use sip_fastpath::{HeaderName, Limits, Message, MessageBuilder};

/// A header name: a known one in any case, a compact form, or a random token.
fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "Subject",
            "User-Agent",
            "Allow",
            "Supported",
            "Expires",
            "Contact",
            "Route",
            "Record-Route",
            "P-Asserted-Identity",
            "X-Custom",
            "s",
            "k",
            "m",
        ])
        .prop_flat_map(|n| {
            prop::bool::ANY.prop_map(move |upper| {
                if upper {
                    n.to_ascii_uppercase()
                } else {
                    n.to_string()
                }
            })
        }),
        "X-[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,20}",
    ]
}

/// A header value: printable, no CR/LF, no white space at either end.
fn header_value() -> impl Strategy<Value = String> {
    "[!-~]([ -~]{0,60}[!-~])?"
}

fn essentials(b: MessageBuilder) -> MessageBuilder {
    b.header(
        HeaderName::Via,
        b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKprop",
    )
    .header(HeaderName::From, b"<sip:a@example.com>;tag=1")
    .header(HeaderName::To, b"<sip:b@example.com>")
    .header(HeaderName::CallId, b"prop-call-id")
    .header(HeaderName::CSeq, b"1 MESSAGE")
}

proptest! {
    #[test]
    fn serialize_then_parse_preserves_every_header_and_the_body(
        headers in prop::collection::vec((header_name(), header_value()), 0..40),
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut b = essentials(MessageBuilder::request(b"MESSAGE", b"sip:b@example.com"));
        for (n, v) in &headers {
            b.push_header_text(n.as_bytes(), v.as_bytes());
        }
        let wire = b.body(b"application/octet-stream", Bytes::from(body.clone())).finish();
        let m = Message::parse(wire, &Limits::default()).expect("what we write parses");
        // Five essentials first, then ours, then Content-Type and Content-Length.
        let got: Vec<(Vec<u8>, Vec<u8>)> = m.headers()[5..5 + headers.len()]
            .iter()
            .map(|h| (m.get(h.name_span()).to_vec(), m.get(h.value()).to_vec()))
            .collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = headers
            .iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        prop_assert_eq!(got, want);
        for (h, (n, _)) in m.headers()[5..].iter().zip(&headers) {
            prop_assert_eq!(h.name, HeaderName::from_bytes(n.as_bytes()));
        }
        prop_assert_eq!(m.body(), &body[..]);
        prop_assert_eq!(m.content_length(), Some(body.len()));
    }

    #[test]
    fn push_then_pop_via_restores_the_message(
        headers in prop::collection::vec((header_name(), header_value()), 0..20),
        branch in "[A-Za-z0-9]{1,24}",
    ) {
        let mut b = essentials(MessageBuilder::request(b"OPTIONS", b"sip:b@example.com"));
        for (n, v) in &headers {
            b.push_header_text(n.as_bytes(), v.as_bytes());
        }
        let wire = b.finish();
        let m = Message::parse(wire.clone(), &Limits::default()).expect("parses");
        let mut e = m.edit();
        let via = format!("SIP/2.0/UDP proxy.example.com;branch=z9hG4bK{branch}");
        e.push_via(via.as_bytes());
        let pushed = Message::parse(e.finish(), &Limits::default()).expect("edited parses");
        let top = pushed.top_via().expect("top via");
        let expected_branch = format!("z9hG4bK{branch}");
        prop_assert_eq!(top.branch(), Some(expected_branch.as_bytes()));
        let mut e = pushed.edit();
        e.pop_via().expect("pops");
        prop_assert_eq!(e.finish(), wire);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(m) = Message::parse(Bytes::from(data), &Limits::default()) {
            let _ = m.validate();
            let _ = m.server_key();
            let _ = m.contacts();
        }
    }
}
