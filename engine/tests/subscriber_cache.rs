//! `riptide all-in-one` end to end: a REGISTER fills the shards' subscriber
//! cache, a provisioning change (password, digest algorithms) through the
//! real control plane's API reaches every shard, and the next REGISTER is
//! challenged and verified with the new data — SHA-256 first when allowed.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use bytes::Bytes;
use sip_fastpath::digest::Algorithm;
use sip_fastpath::{AuthParams, HeaderName, Limits, Message};
use support::{all_in_one, data_dir, demo_users, digest_authorization, http};

/// A UE on one UDP socket, registering one user.
struct Ue {
    sock: UdpSocket,
    server: SocketAddr,
    dn: String,
    impi: String,
    realm: String,
    cseq: u32,
}

/// One challenge of a 401: (algorithm, nonce, opaque, stale).
type Offer = (String, String, String, bool);

impl Ue {
    fn new(server: SocketAddr, dn: &str, impi: &str, realm: &str) -> Ue {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        // Bounds a lost datagram's wait; the assertions are on what arrives.
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Ue {
            sock,
            server,
            dn: dn.into(),
            impi: impi.into(),
            realm: realm.into(),
            cseq: 0,
        }
    }

    /// Send a REGISTER (with `authorization` if given) and read the final answer.
    fn register(&mut self, authorization: Option<String>) -> Message {
        self.cseq += 1;
        let me = self.sock.local_addr().unwrap();
        let auth = authorization
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let (dn, realm, cseq) = (&self.dn, &self.realm, self.cseq);
        let req = format!(
            "REGISTER sip:{realm} SIP/2.0\r\nVia: SIP/2.0/UDP {me};rport;branch=z9hG4bK-cache-{dn}-{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:{dn}@{realm}>;tag=ue{dn}\r\nTo: <sip:{dn}@{realm}>\r\nCall-ID: cache-{dn}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{dn}@{me}>\r\nExpires: 300\r\n{auth}Content-Length: 0\r\n\r\n"
        );
        self.sock.send_to(req.as_bytes(), self.server).unwrap();
        let mut buf = vec![0u8; 65535];
        loop {
            let n = self.sock.recv(&mut buf).expect("an answer");
            let m = Message::parse(Bytes::copy_from_slice(&buf[..n]), &Limits::default()).unwrap();
            if m.status().is_some_and(|s| s >= 200) {
                return m;
            }
        }
    }

    fn offers(m: &Message) -> Vec<Offer> {
        assert_eq!(m.status(), Some(401));
        m.headers_named(HeaderName::WwwAuthenticate)
            .map(|h| {
                let p = AuthParams::parse(m.get(h.value())).unwrap();
                let s = |k: &[u8]| String::from_utf8_lossy(p.get(k).unwrap_or(b"")).into_owned();
                (
                    s(b"algorithm"),
                    s(b"nonce"),
                    s(b"opaque"),
                    p.get(b"stale").is_some(),
                )
            })
            .collect()
    }

    fn authorization(&self, offer: &Offer, alg: Algorithm, password: &str) -> String {
        let opaque = Some(offer.2.as_str());
        digest_authorization(alg, &self.impi, &self.realm, password, &offer.1, opaque)
    }

    /// REGISTER → 401 → REGISTER answering the challenge for `alg`: the
    /// algorithms offered and the final status.
    fn register_with(&mut self, alg: Algorithm, password: &str) -> (Vec<String>, u16) {
        let challenge = self.register(None);
        let offers = Self::offers(&challenge);
        let algs = offers.iter().map(|o| o.0.clone()).collect();
        let offer = offers
            .iter()
            .find(|o| o.0 == alg.as_str())
            .or(offers.first())
            .unwrap()
            .clone();
        let auth = self.authorization(&offer, alg, password);
        let answer = self.register(Some(auth));
        (algs, answer.status().unwrap())
    }
}

/// Requests the engine sent to the HSS cache so far (every shard, both
/// endpoints): a counter each shard bumps before it answers the REGISTER.
fn hss_requests(node: &support::Riptide) -> u64 {
    counter(node, "riptide_hss_requests_total{")
}

/// The sum of a counter over its labels.
fn counter(node: &support::Riptide, prefix: &str) -> u64 {
    let (status, text) = http(node.management, "GET", "/metrics", "");
    assert_eq!(status, 200);
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn put_private(prov: SocketAddr, impi: &str, body: &str) {
    let path = format!("/private/{}", impi.replace('@', "%40"));
    let (status, answer) = http(prov, "PUT", &path, body);
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn provisioning_changes_reach_the_cached_shards_at_once() {
    let dir = data_dir("subscriber-cache");
    let node = all_in_one(&dir, &[]);
    let prov = node.listening["provisioning"];
    let users = demo_users(&dir);
    // Several users, so both shards hold cached entries.
    let mut ues: Vec<(Ue, String)> = users[..6]
        .iter()
        .map(|(dn, impi, realm, pw)| (Ue::new(node.sip, dn, impi, realm), pw.clone()))
        .collect();
    for (ue, pw) in &mut ues {
        assert_eq!(
            ue.register_with(Algorithm::Md5, pw),
            (vec!["MD5".to_owned()], 200)
        );
    }
    // An av and a reg-data PUT per user, once.
    assert_eq!(hss_requests(&node), 2 * ues.len() as u64);
    for (ue, pw) in &mut ues {
        // Re-registrations are served from the shards' caches: no request.
        for _ in 0..2 {
            assert_eq!(
                ue.register_with(Algorithm::Md5, pw),
                (vec!["MD5".to_owned()], 200)
            );
        }
    }
    assert_eq!(hss_requests(&node), 2 * ues.len() as u64);
    // Each re-registration: a challenge from a cached vector, a PUT skipped.
    assert_eq!(
        counter(&node, "riptide_hss_cache_hits_total{"),
        2 * 2 * ues.len() as u64
    );
    for (ue, pw) in &mut ues {
        // New password, SHA-256 allowed: the cached MD5-only vector is gone.
        let new = format!("{pw}-new");
        put_private(
            prov,
            &ue.impi,
            &format!(r#"{{"plaintext_password":"{new}","digest_algorithms":["SHA-256","MD5"]}}"#),
        );
        let (algs, status) = ue.register_with(Algorithm::Sha256, &new);
        assert_eq!(algs, vec!["SHA-256".to_owned(), "MD5".to_owned()]);
        assert_eq!(status, 200, "{}", ue.dn);
        assert_eq!(ue.register_with(Algorithm::Md5, &new).1, 200);
        assert_eq!(
            ue.register_with(Algorithm::Sha256, pw).1,
            403,
            "old password"
        );
        // SHA-256 only: MD5 is refused even with the right password.
        put_private(
            prov,
            &ue.impi,
            &format!(r#"{{"plaintext_password":"{new}","digest_algorithms":["SHA-256"]}}"#),
        );
        let challenge = ue.register(None);
        let offers = Ue::offers(&challenge);
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].0, "SHA-256");
        let md5 = ue.authorization(&offers[0], Algorithm::Md5, &new);
        assert_eq!(ue.register(Some(md5)).status(), Some(403));
        assert_eq!(
            ue.register_with(Algorithm::Sha256, &new),
            (vec!["SHA-256".to_owned()], 200)
        );
    }
}
