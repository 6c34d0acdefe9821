//! The messages the parser benchmarks read: what an S-CSCF sees most.

/// Initial REGISTER from a UE (as Clearwater's stress test sends it), no credentials.
pub const REGISTER: &[u8] = b"REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKPjz0SkVC4ZZdTjYJQCuBMC6Tg6CS5VwWgi\r\n\
Max-Forwards: 70\r\n\
From: <sip:6505550001@example.com>;tag=c2LjKDFVHVtyRDl5QKBdkJo2ZGoX.Fu2\r\n\
To: <sip:6505550001@example.com>\r\n\
Call-ID: 4V4kyQwGkKSGM2gsiAUX4ENc7cjybmZD\r\n\
CSeq: 26847 REGISTER\r\n\
User-Agent: SIPp/riptide-bench\r\n\
Supported: outbound, path, gruu\r\n\
Contact: <sip:6505550001@10.0.0.1:5060;ob>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-0000c0ffee01>\"\r\n\
Expires: 300\r\n\
Allow: PRACK, INVITE, ACK, BYE, CANCEL, UPDATE, INFO, SUBSCRIBE, NOTIFY, REFER, MESSAGE, OPTIONS\r\n\
Content-Length:  0\r\n\
\r\n";

/// The REGISTER that answers a 401 challenge.
pub const REGISTER_AUTH: &[u8] = b"REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKPjhSKRn6lrXBJ1q3ZzDO-Ie6XIxJb4p0ap\r\n\
Max-Forwards: 70\r\n\
From: <sip:6505550001@example.com>;tag=c2LjKDFVHVtyRDl5QKBdkJo2ZGoX.Fu2\r\n\
To: <sip:6505550001@example.com>\r\n\
Call-ID: 4V4kyQwGkKSGM2gsiAUX4ENc7cjybmZD\r\n\
CSeq: 26848 REGISTER\r\n\
User-Agent: SIPp/riptide-bench\r\n\
Supported: outbound, path, gruu\r\n\
Contact: <sip:6505550001@10.0.0.1:5060;ob>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-0000c0ffee01>\"\r\n\
Expires: 300\r\n\
Allow: PRACK, INVITE, ACK, BYE, CANCEL, UPDATE, INFO, SUBSCRIBE, NOTIFY, REFER, MESSAGE, OPTIONS\r\n\
Authorization: Digest username=\"6505550001@example.com\", realm=\"example.com\", nonce=\"6d8f4b2a1c0e9f3d\", uri=\"sip:example.com\", response=\"9e2d1f4c8b7a6e5d4c3b2a1f0e9d8c7b\", algorithm=MD5, cnonce=\"0a4f113b\", opaque=\"5ccc069c403ebaf9\", qop=auth, nc=00000001\r\n\
Content-Length:  0\r\n\
\r\n";

/// An originating INVITE with SDP, after the P-CSCF (Route set, IMS headers).
pub const INVITE_SDP: &[u8] = b"INVITE sip:6505550002@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKPjqeCcD3bYR8s0hvIbNXnhHPxjz8P2cJYI\r\n\
Max-Forwards: 70\r\n\
Route: <sip:scscf.example.com:5054;transport=udp;lr;orig>\r\n\
From: <sip:6505550001@example.com>;tag=UKvOTN0V0a8yWgJ8vBTDL3H0J8zvDz9Y\r\n\
To: <sip:6505550002@example.com>\r\n\
Call-ID: 0gQAAC8WAAACBAAALxYAAAL8P3UBkfMzBv7Bgl9n3w1Ye2VOoQ3BZfUQ\r\n\
CSeq: 10417 INVITE\r\n\
Contact: <sip:6505550001@10.0.0.1:5060;ob>;+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-0000c0ffee01>\"\r\n\
P-Asserted-Identity: <sip:6505550001@example.com>\r\n\
P-Charging-Vector: icid-value=\"1234bc9876e\";icid-generated-at=10.0.0.1\r\n\
Allow: PRACK, INVITE, ACK, BYE, CANCEL, UPDATE, INFO, SUBSCRIBE, NOTIFY, REFER, MESSAGE, OPTIONS\r\n\
Supported: replaces, 100rel, timer, norefersub\r\n\
Session-Expires: 1800\r\n\
Min-SE: 90\r\n\
User-Agent: SIPp/riptide-bench\r\n\
Content-Type: application/sdp\r\n\
Content-Length:   297\r\n\
\r\n\
v=0\r\n\
o=- 3787048911 3787048911 IN IP4 10.0.0.1\r\n\
s=riptide\r\n\
b=AS:84\r\n\
t=0 0\r\n\
a=X-nat:0\r\n\
m=audio 4000 RTP/AVP 96 97 98 9 100 102 0 8 103 3 104 101\r\n\
c=IN IP4 10.0.0.1\r\n\
b=TIAS:64000\r\n\
a=rtcp:4001 IN IP4 10.0.0.1\r\n\
a=sendrecv\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n";

/// The S-CSCF's 200 OK to a REGISTER.
pub const OK_200: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;rport=5060;received=10.0.0.1;branch=z9hG4bKPjhSKRn6lrXBJ1q3ZzDO-Ie6XIxJb4p0ap\r\n\
Call-ID: 4V4kyQwGkKSGM2gsiAUX4ENc7cjybmZD\r\n\
From: <sip:6505550001@example.com>;tag=c2LjKDFVHVtyRDl5QKBdkJo2ZGoX.Fu2\r\n\
To: <sip:6505550001@example.com>;tag=z9hG4bKPjhSKRn6lrXBJ1q3ZzDO-Ie6XIxJb4p0ap\r\n\
CSeq: 26848 REGISTER\r\n\
Supported: outbound\r\n\
Require: outbound\r\n\
Contact: <sip:6505550001@10.0.0.1:5060;ob>;expires=300;+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-0000c0ffee01>\";reg-id=1;pub-gruu=\"sip:6505550001@example.com;gr=urn:uuid:00000000-0000-0000-0000-0000c0ffee01\"\r\n\
Service-Route: <sip:scscf.example.com:5054;transport=udp;lr;orig>\r\n\
P-Associated-URI: <sip:6505550001@example.com>, <tel:+16505550001>\r\n\
Date: Tue, 24 Nov 2026 04:00:00 GMT\r\n\
Content-Length:  0\r\n\
\r\n";

/// A reg-event NOTIFY (RFC 3680) with its reginfo XML.
pub const NOTIFY_REGINFO: &[u8] = b"NOTIFY sip:6505550001@10.0.0.1:5060;ob SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.9:5054;rport;branch=z9hG4bKPjn0b8W1Zc7mB0x3nTqkLrPt9sJ2dHq4uY\r\n\
Max-Forwards: 70\r\n\
Route: <sip:pcscf.example.com:5058;transport=udp;lr>\r\n\
From: <sip:6505550001@example.com>;tag=9R2kZxBP5y2e8rGhJqLqUu2UQqZbnQ8t\r\n\
To: <sip:6505550001@example.com>;tag=oY0cQ1Wd4f6h8j0kL2n4p6r8t0v2x4z6\r\n\
Call-ID: Y8oDzV7tEw1bnT3Qhs5Rk9u0pF2xG4aJ\r\n\
CSeq: 3 NOTIFY\r\n\
Contact: <sip:scscf.example.com:5054;transport=udp>\r\n\
Event: reg\r\n\
Subscription-State: active;expires=599\r\n\
Content-Type: application/reginfo+xml\r\n\
Content-Length: 515\r\n\
\r\n\
<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" xmlns:gr=\"urn:ietf:params:xml:ns:gruuinfo\" version=\"2\" state=\"full\">\n\
  <registration aor=\"sip:6505550001@example.com\" id=\"sip:6505550001@example.com\" state=\"active\">\n\
    <contact id=\"1\" state=\"active\" event=\"registered\" expires=\"300\">\n\
      <uri>sip:6505550001@10.0.0.1:5060;ob</uri>\n\
      <unknown-param name=\"+sip.instance\">&quot;&lt;urn:uuid:00000000-0000-0000-0000-0000c0ffee01&gt;&quot;</unknown-param>\n\
    </contact>\n\
  </registration>\n\
</reginfo>\n";

/// Every benchmark input with its name.
pub const ALL: &[(&str, &[u8])] = &[
    ("register", REGISTER),
    ("register_auth", REGISTER_AUTH),
    ("invite_sdp", INVITE_SDP),
    ("ok_200", OK_200),
    ("notify_reginfo", NOTIFY_REGINFO),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every input is a complete message whose Content-Length matches its body.
    #[test]
    fn inputs_are_well_formed() {
        for (name, msg) in ALL {
            let m = sip_fastpath::Message::parse_strict(
                bytes::Bytes::from_static(msg),
                &sip_fastpath::Limits::default(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            let declared = m.content_length().unwrap_or(0);
            let available = msg.len() - m.headers_end() - 2;
            assert_eq!(declared, available, "{name}: Content-Length");
        }
    }
}
