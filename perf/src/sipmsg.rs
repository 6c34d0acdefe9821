//! The requests and responses the generator writes, and what it reads back
//! from responses (digest challenge, dialog state). Built with `sip-fastpath`.

use bytes::Bytes;
use sip_fastpath::digest::{self, Algorithm, ResponseInput};
use sip_fastpath::{HeaderName, Message, MessageBuilder};

use crate::users::User;

/// What every request from the generator carries besides method and URI.
#[derive(Debug, Clone, Copy)]
pub struct RequestIds<'a> {
    /// `host:port` written in the Via sent-by.
    pub sent_by: &'a str,
    pub branch: &'a str,
    pub call_id: &'a str,
    /// The From header value, tag included.
    pub from: &'a str,
    /// The To header value (with the remote tag once a dialog exists).
    pub to: &'a str,
    pub cseq: u32,
}

fn base(method: &str, uri: &str, ids: &RequestIds<'_>) -> MessageBuilder {
    let via = format!("SIP/2.0/UDP {};rport;branch={}", ids.sent_by, ids.branch);
    let cseq = format!("{} {method}", ids.cseq);
    MessageBuilder::request(method.as_bytes(), uri.as_bytes())
        .header(HeaderName::Via, via.as_bytes())
        .header_u32(HeaderName::MaxForwards, 70)
        .header(HeaderName::From, ids.from.as_bytes())
        .header(HeaderName::To, ids.to.as_bytes())
        .header(HeaderName::CallId, ids.call_id.as_bytes())
        .header(HeaderName::CSeq, cseq.as_bytes())
}

/// OPTIONS to `uri`.
pub fn options(uri: &str, ids: &RequestIds<'_>) -> Bytes {
    base("OPTIONS", uri, ids).finish()
}

/// REGISTER for `user` at `registrar_uri`, binding `contact` for `expires_s`.
pub fn register(
    registrar_uri: &str,
    ids: &RequestIds<'_>,
    contact: &str,
    expires_s: u32,
    authorization: Option<&str>,
) -> Bytes {
    let mut b = base("REGISTER", registrar_uri, ids)
        .header(HeaderName::Contact, contact.as_bytes())
        .header_u32(HeaderName::Expires, expires_s);
    if let Some(a) = authorization {
        b = b.header(HeaderName::Authorization, a.as_bytes());
    }
    b.finish()
}

/// A small audio offer, so INVITEs are the size a real one is.
pub const SDP_OFFER: &[u8] = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

/// The answer the simulated callee sends in its 200.
pub const SDP_ANSWER: &[u8] = b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6002 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

/// The initial INVITE with an SDP offer.
pub fn invite(uri: &str, ids: &RequestIds<'_>, contact: &str) -> Bytes {
    base("INVITE", uri, ids)
        .header(HeaderName::Contact, contact.as_bytes())
        .body(b"application/sdp", Bytes::from_static(SDP_OFFER))
        .finish()
}

/// An in-dialog request (ACK for a 2xx, BYE): Route headers from the route set.
pub fn in_dialog(method: &str, dialog: &Dialog, ids: &RequestIds<'_>) -> Bytes {
    let mut b = base(method, &dialog.remote_target, ids);
    for r in &dialog.route_set {
        b.push_header(HeaderName::Route, r.as_bytes());
    }
    b.finish()
}

/// The ACK for a non-2xx final response: same branch and Request-URI as the
/// INVITE, To from the response (RFC 3261 §17.1.1.3).
pub fn ack_for_failure(invite_uri: &str, ids: &RequestIds<'_>) -> Bytes {
    base("ACK", invite_uri, ids).finish()
}

/// The UAC's view of a dialog after a 2xx to its INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// The callee's Contact URI: the Request-URI of ACK and BYE.
    pub remote_target: String,
    /// Record-Route values in reverse order (RFC 3261 §12.1.2).
    pub route_set: Vec<String>,
    /// The To header value with the callee's tag.
    pub to: String,
}

impl Dialog {
    /// From a 2xx to an INVITE; `None` when the response lacks a Contact.
    pub fn from_response(resp: &Message) -> Option<Dialog> {
        let sip_fastpath::Contacts::Addrs(contacts) = resp.contacts().ok()? else {
            return None;
        };
        let uri = contacts.first()?.uri().ok()?;
        let remote_target = String::from_utf8_lossy(uri.raw).into_owned();
        let mut route_set: Vec<String> = resp
            .list_values(HeaderName::RecordRoute)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        route_set.reverse();
        let to = String::from_utf8_lossy(resp.header_value(HeaderName::To)?).into_owned();
        Some(Dialog {
            remote_target,
            route_set,
            to,
        })
    }
}

/// A response from the simulated callee: the transaction headers copied, the
/// Record-Route copied (RFC 3261 §12.1.1), a Contact, and for a 200 to an
/// INVITE the SDP answer.
pub fn uas_response(req: &Message, status: u16, reason: &str, contact: &str) -> Bytes {
    let mut b = req.response(status, reason);
    for rr in req.headers_named(HeaderName::RecordRoute) {
        b.push_header(HeaderName::RecordRoute, req.get(rr.value()));
    }
    b.push_header(HeaderName::Contact, contact.as_bytes());
    if status == 200 && req.method() == Some(sip_fastpath::Method::Invite) {
        b = b.body(b"application/sdp", Bytes::from_static(SDP_ANSWER));
    }
    b.finish()
}

/// A digest challenge read from a 401's WWW-Authenticate (or a 407's
/// Proxy-Authenticate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// The server offered `qop=auth` (we then answer with qop, nc and cnonce).
    pub qop_auth: bool,
}

impl Challenge {
    /// The first digest challenge in the response, if it is one we can answer.
    pub fn from_response(resp: &Message) -> Option<Challenge> {
        let name = if resp.status() == Some(407) {
            HeaderName::ProxyAuthenticate
        } else {
            HeaderName::WwwAuthenticate
        };
        let params = resp.auth(name).ok()??;
        if !params.is_digest() {
            return None;
        }
        let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        Some(Challenge {
            realm: text(params.get(b"realm")?),
            nonce: text(params.get(b"nonce")?),
            opaque: params.get(b"opaque").map(text),
            algorithm: Algorithm::from_param(params.get(b"algorithm"))?,
            qop_auth: params.get(b"qop").is_some_and(|q| {
                q.split(|&c| c == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"auth"))
            }),
        })
    }
}

/// The Authorization value answering `challenge` for `user`: `nc` is the
/// nonce count (1 for a fresh nonce), `cnonce` any client nonce.
pub fn authorization(
    user: &User,
    challenge: &Challenge,
    method: &str,
    uri: &str,
    nc: u32,
    cnonce: &str,
) -> String {
    let ha1 = digest::ha1(
        challenge.algorithm,
        user.auth_username.as_bytes(),
        challenge.realm.as_bytes(),
        user.password.as_bytes(),
    );
    let nc_text = format!("{nc:08x}");
    let qop = challenge
        .qop_auth
        .then_some((nc_text.as_bytes(), cnonce.as_bytes(), &b"auth"[..]));
    let response = digest::response(
        challenge.algorithm,
        ha1.as_bytes(),
        &ResponseInput {
            method: method.as_bytes(),
            uri: uri.as_bytes(),
            nonce: challenge.nonce.as_bytes(),
            qop,
        },
    );
    let mut v = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\", algorithm={}",
        user.auth_username,
        challenge.realm,
        challenge.nonce,
        uri,
        response.as_str(),
        challenge.algorithm.as_str()
    );
    if challenge.qop_auth {
        v.push_str(&format!(", qop=auth, nc={nc_text}, cnonce=\"{cnonce}\""));
    }
    if let Some(o) = &challenge.opaque {
        v.push_str(&format!(", opaque=\"{o}\""));
    }
    v
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use sip_fastpath::{Limits, Method};

    fn parse(b: Bytes) -> Message {
        Message::parse(b, &Limits::default()).unwrap()
    }

    fn ids<'a>() -> RequestIds<'a> {
        RequestIds {
            sent_by: "127.0.0.1:5999",
            branch: "z9hG4bK-rl-1-2-3",
            call_id: "rl-1-2",
            from: "<sip:a@example.com>;tag=f1",
            to: "<sip:b@example.com>",
            cseq: 7,
        }
    }

    #[test]
    fn options_has_the_transaction_headers() {
        let m = parse(options("sip:127.0.0.1:5060", &ids()));
        assert_eq!(m.method(), Some(Method::Options));
        assert_eq!(m.request_uri_bytes(), Some(&b"sip:127.0.0.1:5060"[..]));
        let via = m.top_via().unwrap();
        assert_eq!(via.branch(), Some(&b"z9hG4bK-rl-1-2-3"[..]));
        assert_eq!(m.call_id().unwrap(), b"rl-1-2");
        assert_eq!(m.cseq().unwrap().number, 7);
        assert_eq!(m.from().unwrap().tag(), Some(&b"f1"[..]));
        assert_eq!(m.max_forwards(), Ok(Some(70)));
        assert_eq!(m.content_length(), Some(0));
    }

    #[test]
    fn invite_carries_the_offer_and_contact() {
        let m = parse(invite(
            "sip:b@example.com",
            &ids(),
            "<sip:a@127.0.0.1:5999>",
        ));
        assert_eq!(m.body(), SDP_OFFER);
        assert_eq!(
            m.header_value(HeaderName::ContentType),
            Some(&b"application/sdp"[..])
        );
        assert!(matches!(m.contacts().unwrap(), sip_fastpath::Contacts::Addrs(a) if a.len() == 1));
    }

    const INVITE_VIA_PROXY: &[u8] = b"INVITE sip:127.0.0.1:6000 SIP/2.0\r\nRecord-Route: <sip:127.0.0.1:5060;lr>\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKp1\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK-rl-1-2-3\r\nFrom: <sip:a@example.com>;tag=f1\r\nTo: <sip:b@example.com>\r\nCall-ID: rl-1-2\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn callee_answers_with_record_route_contact_and_sdp_and_the_caller_builds_its_dialog() {
        let inv = parse(Bytes::from_static(INVITE_VIA_PROXY));
        let ok = parse(uas_response(&inv, 200, "OK", "<sip:uas@127.0.0.1:6000>"));
        assert_eq!(ok.status(), Some(200));
        assert_eq!(ok.vias().count(), 2);
        assert_eq!(ok.body(), SDP_ANSWER);
        assert!(ok.to().unwrap().tag().is_some());
        let d = Dialog::from_response(&ok).unwrap();
        assert_eq!(d.remote_target, "sip:uas@127.0.0.1:6000");
        assert_eq!(d.route_set, vec!["<sip:127.0.0.1:5060;lr>".to_owned()]);
        let bye = parse(in_dialog(
            "BYE",
            &d,
            &RequestIds {
                to: &d.to,
                cseq: 2,
                ..ids()
            },
        ));
        assert_eq!(bye.method(), Some(Method::Bye));
        assert_eq!(
            bye.request_uri_bytes(),
            Some(&b"sip:uas@127.0.0.1:6000"[..])
        );
        assert_eq!(
            bye.header_value(HeaderName::Route),
            Some(&b"<sip:127.0.0.1:5060;lr>"[..])
        );
        assert_eq!(bye.to().unwrap().tag(), ok.to().unwrap().tag());
        let ringing = parse(uas_response(&inv, 180, "Ringing", "<sip:uas@h>"));
        assert_eq!(ringing.to().unwrap().tag(), ok.to().unwrap().tag());
        assert_eq!(ringing.body(), b"");
    }

    fn rfc2617_user() -> User {
        User {
            dn: "Mufasa".into(),
            auth_username: "Mufasa".into(),
            password: "Circle Of Life".into(),
            domain: "testrealm@host.com".into(),
        }
    }

    #[test]
    fn authorization_reproduces_the_rfc2617_example() {
        let c = Challenge {
            realm: "testrealm@host.com".into(),
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093".into(),
            opaque: Some("5ccc069c403ebaf9f0171e9517f40e41".into()),
            algorithm: Algorithm::Md5,
            qop_auth: true,
        };
        let a = authorization(&rfc2617_user(), &c, "GET", "/dir/index.html", 1, "0a4f113b");
        assert_eq!(
            a,
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""
        );
    }

    #[test]
    fn reads_a_clearwater_style_challenge_and_answers_it_in_a_register() {
        let resp = parse(Bytes::from_static(b"SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-rl-1-2-3\r\nFrom: <sip:6505550000@example.com>;tag=f1\r\nTo: <sip:6505550000@example.com>;tag=t\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nWWW-Authenticate: Digest realm=\"example.com\", nonce=\"abc123\", opaque=\"op\", algorithm=MD5, qop=\"auth\"\r\nContent-Length: 0\r\n\r\n"));
        let c = Challenge::from_response(&resp).unwrap();
        assert_eq!(
            c,
            Challenge {
                realm: "example.com".into(),
                nonce: "abc123".into(),
                opaque: Some("op".into()),
                algorithm: Algorithm::Md5,
                qop_auth: true,
            }
        );
        let user = crate::users::range("6505550000..6505550000", "pw", "example.com")
            .unwrap()
            .remove(0);
        let auth = authorization(&user, &c, "REGISTER", "sip:example.com", 1, "cn");
        let reg = parse(register(
            "sip:example.com",
            &ids(),
            "<sip:6505550000@127.0.0.1:5999>",
            300,
            Some(&auth),
        ));
        let p = reg.auth(HeaderName::Authorization).unwrap().unwrap();
        assert_eq!(p.get(b"username"), Some(&b"6505550000@example.com"[..]));
        let ha1 = digest::ha1(
            Algorithm::Md5,
            b"6505550000@example.com",
            b"example.com",
            b"pw",
        );
        let expected = digest::response(
            Algorithm::Md5,
            ha1.as_bytes(),
            &ResponseInput {
                method: b"REGISTER",
                uri: b"sip:example.com",
                nonce: b"abc123",
                qop: Some((b"00000001", b"cn", b"auth")),
            },
        );
        assert_eq!(p.get(b"response"), Some(expected.as_bytes()));
        assert_eq!(reg.expires_s(), Ok(Some(300)));
    }
}
