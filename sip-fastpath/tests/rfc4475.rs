//! RFC 4475 (SIP torture test messages): every message of the RFC's
//! Appendix A archive, byte for byte, with the RFC's verdict asserted.
//!
//! The `.dat` files under `tests/rfc4475/` are the members of the archive's
//! base64 gzipped tarball, unmodified (CRLFs and non-UTF-8 bytes included; the
//! directory's `.gitattributes` keeps git from touching them). `ARCHIVE` pins
//! their SHA-256. The archive also carries `test.dat`, which no section of the
//! RFC describes; it is tested here too.
//!
//! What this layer answers for: whether the bytes parse ([`Message::parse`]),
//! whether every header a SIP element interprets is well formed
//! ([`Message::validate`] / [`Message::parse_strict`]), and, when refused,
//! whether a 400 can be formed or the message must be dropped
//! ([`Malformed::disposition`]). Verdicts the RFC leaves to the transaction
//! layer (§3.2) or to the application (§3.3: unknown schemes, Require, 415,
//! 483, 505...) are noted where they fall, with what this layer exposes for
//! that decision asserted.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use sip_fastpath::framing::{Frame, StreamFramer};
use sip_fastpath::uri::unescape_into;
use sip_fastpath::{
    Contacts, Disposition, HeaderName, Limits, Malformed, Message, Method, ParseError, Scheme,
    ServerKey,
};

macro_rules! dat {
    ($name:literal) => {
        Bytes::from_static(include_bytes!(concat!("rfc4475/", $name, ".dat")))
    };
}

/// SHA-256 of every archive member (the 13 §3.1.1 hashes match an
/// independent decode of the RFC's Appendix A).
const ARCHIVE: &[(&str, &str)] = &[
    (
        "badaspec",
        "f8f6e2f4247287b0be6adb5ac222a6db4759395e44d27d2ddb9b39393e94867e",
    ),
    (
        "badbranch",
        "cb049c727f16b5ec49e822f9e8b7d0ee20ca2d20ffb50baecd0b411a5e64fa7d",
    ),
    (
        "baddate",
        "1208a6e3e0c8a8c33a06a1f3733d158413cb72e58c379d094c4ecea11e9d4c28",
    ),
    (
        "baddn",
        "9d9428e8017092f194ec11077ba6865c251308cdfd7fd9db6a993b28e5748951",
    ),
    (
        "badinv01",
        "9ee2b88f2e0b5a9eeb9bf729b6177f0a0c7d0b5e6c84be593e0480d7962f3ab8",
    ),
    (
        "badvers",
        "037d702d19e934bfeebbd2609050d7d54928d590cf90c78f3914522771dd8e03",
    ),
    (
        "bcast",
        "073637c63597199179cf5fc91b980b2d530c066a0048ea3b908772def57b4c36",
    ),
    (
        "bext01",
        "57181987c02c4f5752b7aa8c2847311f6184216ce7621e40303015949e70761c",
    ),
    (
        "bigcode",
        "f79450070975da54c3525c9a5cbe75bae3c9d8cb92eba609772c26f66f225c2e",
    ),
    (
        "clerr",
        "d9da629086a38df433438fb0fb19a8730f34516f049a5520dd0cac3285485290",
    ),
    (
        "cparam01",
        "dfa6b5cdb289adc694b9b7e103ebfa7a2167335c46e5dc9de67055021910ae1c",
    ),
    (
        "cparam02",
        "e93574215bd1d804bb46cc15ca6176b567def7ea1b15f72ab2c2dcf598af465a",
    ),
    (
        "dblreq",
        "a6be48426565c2a705389c4ce2ea17e57b891cb13f80490a2cb9392c797b46ef",
    ),
    (
        "esc01",
        "be3a316d4ce5f69cad474646191e390dd4b50fc8371e44b5197fe1237781973e",
    ),
    (
        "esc02",
        "9a9c59449f00327b02071feafc8e5c2a261c98c818044167894cc17809a12199",
    ),
    (
        "escnull",
        "263fe2ecd12a5ccbb6c67b3174e9211d11da9b600e7d69666a86d2ee42873e90",
    ),
    (
        "escruri",
        "c3cf30af13a9d107829cc105effd79355f1139c6ecc683a048b4c27951f8f416",
    ),
    (
        "insuf",
        "1e3efd9f3b238c6351ba12bc7eb46d843f2761b5d4a6b82b63bffdf07f2c5aee",
    ),
    (
        "intmeth",
        "b957a8292c1c0a9851fe94705b90f94320738f43aacde64998e401f742ef688d",
    ),
    (
        "inv2543",
        "76fac8afe22dee49ea696b511621946694897ac7030fc5d07f57c8b487ce0521",
    ),
    (
        "invut",
        "9b39e824947df46f90f824cd308fb3c118f548d94637f581101e355b381a0d92",
    ),
    (
        "longreq",
        "185739292bc676760e5b1cca77c87705aa570240171c506ad76f8c35af0ecdaa",
    ),
    (
        "ltgtruri",
        "bcacb2dc17610e8cc8f9b8b0e3d6ee65ab473f93787a03bbd33579e1cea473df",
    ),
    (
        "lwsdisp",
        "d1b36b6316c12824f6f04bf6b1fd1f021cade9b74871693b9c3474cd9fa7f4e6",
    ),
    (
        "lwsruri",
        "3e22ceeca585ad23cc180208e2dad94e0a5aa4bb877a61cac443aa927f758b9e",
    ),
    (
        "lwsstart",
        "f884e5626c6c5b1210cfc4a3540b8a28bd52939cff092f3f0c5c971e032adb0e",
    ),
    (
        "mcl01",
        "887191619bf003b7e87399200b5cf4c3b5397344dbf70288ad5e23bd157b7fe4",
    ),
    (
        "mismatch01",
        "a2c285636e451e75420da0cc62ee55ca3e398827008418befbfb078726bf0793",
    ),
    (
        "mismatch02",
        "01b287f9a9c492f7f57405c36c8a2af0e2393896ed2d25fb92b502f2a6722bc4",
    ),
    (
        "mpart01",
        "92147c8e24997bac59629e1b163767697d0d6d499af87f89e325d69968bec3ba",
    ),
    (
        "multi01",
        "d156ab12105b4bfd8a6498de6f7195087058162b8cda1606169855b722411791",
    ),
    (
        "ncl",
        "7ea6538edc1f054fdb6cd1c821040460cffca3cb682fa2e8e2a502d92170b4c2",
    ),
    (
        "noreason",
        "07e11e470a69fffa3674de805e5165d1351a9439a91045ee70c9570ea24ab4fe",
    ),
    (
        "novelsc",
        "9a50a7343fcf685e77c4d0f477138a28f32a41c75aa566d200f3df210b01e648",
    ),
    (
        "quotbal",
        "e61978a2ea359fc666f0336fe4dbc623447532280e3273ea98119b3d3f788c84",
    ),
    (
        "regaut01",
        "885ba0488872cfc04a3c7622854b8381955a5ee890745d6010834e3731a73faa",
    ),
    (
        "regbadct",
        "575d27530275814c1c98be164808fac89a0e2b4fc899dadcd97e6ba499437bda",
    ),
    (
        "regescrt",
        "dab4087c133348b06fd7b3c4c7ef15094f8754e265e4e8c2137bb3ecda2ef477",
    ),
    (
        "scalar02",
        "53158177326568e9964bce5dcfac27a2bf8a90953bbc03f6c5e2775864a97e4b",
    ),
    (
        "scalarlg",
        "0957eca31737e3592eb1418bb41e9f5219278a78ff420111620d7fb60175b551",
    ),
    (
        "sdp01",
        "497c5f1ced6c7b579b48075e2dca919ce9b819a735964128a6e744a3a0b9e57f",
    ),
    (
        "semiuri",
        "87bbaed6b4b354dbd3c5c7a20e66686303c63e43a0aa19b89de1ac75231611a2",
    ),
    (
        "test",
        "fe1cb604956316c0831e28bdc2ebda829a999e187ee801b08251bdb6e74014c7",
    ),
    (
        "transports",
        "33b4553a3b9418121b099ff07882535151edd6a1e81898c63a916aad2cbf90bc",
    ),
    (
        "trws",
        "64ae20694026e28c10746b57386b7fd1276de02b6f8d42d418070e87d6f4499f",
    ),
    (
        "unkscm",
        "81be1a6a566c7ab52fe1c58c4a75440dfd697ad04c5e09fa71340de7da7b8bbb",
    ),
    (
        "unksm2",
        "f6914409ced613ef5eb56e264d2f096dac26ab9e397d6a638934d2027f1f6acb",
    ),
    (
        "unreason",
        "4f939d6ebf4817eea70f011d3209e83732872ffc20ffd304b244084dc392f4d7",
    ),
    (
        "wsinv",
        "d6f6cdee99cd0a1f8e3d9a0fdd67c877700e19ab86d8186dada06f61260e3e61",
    ),
    (
        "zeromf",
        "50954ef47acca4f9f5263ded06246d06dee4e2ee508a8d284191795d7fddf365",
    ),
];

#[test]
fn the_archive_is_complete_and_byte_exact() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rfc4475");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/rfc4475 exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dat"))
        .collect();
    on_disk.sort();
    let listed: Vec<String> = ARCHIVE.iter().map(|(n, _)| format!("{n}.dat")).collect();
    assert_eq!(on_disk, listed);
    for (name, sha) in ARCHIVE {
        let bytes = std::fs::read(dir.join(format!("{name}.dat"))).expect("readable");
        let got: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(&got, sha, "{name}.dat is not the archive's bytes");
    }
}

fn limits() -> Limits {
    Limits::default()
}

/// A message the RFC calls valid: it parses, and every interpreted header checks.
fn valid(b: Bytes) -> Message {
    match Message::parse_strict(b, &limits()) {
        Ok(m) => m,
        Err(e) => panic!("refused a valid message: {e:?}"),
    }
}

/// A message refused by the strict parse (structure or header check).
fn refused(b: Bytes) -> Malformed {
    match Message::parse_strict(b, &limits()) {
        Ok(m) => panic!("accepted an invalid message: {:?}", m.start_line()),
        Err(e) => e,
    }
}

fn unescaped(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    unescape_into(s, &mut out);
    out
}

/// The refusal can be answered: the 400 it forms parses, copies the Call-ID,
/// CSeq and Via as written, and names the problem.
fn answers_400(e: &Malformed, call_id: &[u8], reason: &str) {
    assert_eq!(e.disposition(), Disposition::Respond(400));
    let request = e.partial.as_deref().expect("the request as read");
    let resp = e.response().expect("a 400 can be formed");
    let r = Message::parse(resp, &limits()).expect("the 400 parses");
    assert_eq!(r.status(), Some(400));
    assert_eq!(r.reason(), Some(reason.as_bytes()));
    assert_eq!(r.call_id(), Ok(call_id));
    assert_eq!(
        r.header_value(HeaderName::CSeq),
        request.header_value(HeaderName::CSeq)
    );
    assert_eq!(
        r.top_via().expect("via").raw(),
        request.top_via().expect("via").raw()
    );
}

/// What a proxy does to a request it forwards: decrement Max-Forwards, push
/// its Via; the result parses strictly, with the body untouched.
fn forwards(m: &Message) -> Message {
    let mut e = m.edit();
    e.decrement_max_forwards()
        .expect("Max-Forwards can be decremented");
    e.push_via(b"SIP/2.0/UDP proxy.example.org;branch=z9hG4bKfwd");
    let f = valid(e.finish());
    assert_eq!(f.top_via().expect("via").branch(), Some(&b"z9hG4bKfwd"[..]));
    assert_eq!(f.vias().count(), m.vias().count() + 1);
    assert_eq!(f.body(), m.body());
    assert_eq!(f.call_id(), m.call_id());
    let mf = m.max_forwards().expect("checked").map_or(70, |n| n - 1);
    assert_eq!(f.max_forwards(), Ok(Some(mf)));
    f
}

/// Transport, host and branch of one Via value.
type ViaSummary = (Vec<u8>, Vec<u8>, Option<Vec<u8>>);

// ---------------------------------------------------------------------------
// §3.1.1 Valid messages
// ---------------------------------------------------------------------------

/// §3.1.1.1 A short tortuous INVITE: LWS and folding everywhere, odd case,
/// compact forms, escaped quotes, unknown headers and parameters.
#[test]
fn wsinv_short_tortuous_invite() {
    let m = valid(dat!("wsinv"));
    assert_eq!(m.method(), Some(Method::Invite));
    assert_eq!(
        m.request_uri_bytes(),
        Some(&b"sip:vivekg@chair-dnrc.example.com;unknownparam"[..])
    );
    let ruri = m.request_uri().expect("uri");
    assert_eq!(ruri.host, b"chair-dnrc.example.com");
    assert_eq!(ruri.params.get(b"unknownparam"), Some(None));
    assert_eq!(m.headers().len(), 14);

    let to = m.to().expect("to");
    assert_eq!(to.uri_raw, b"sip:vivekg@chair-dnrc.example.com");
    assert_eq!(to.tag(), Some(&b"1918181833n"[..]));
    let from = m.from().expect("from");
    assert_eq!(from.display_name, Some(&br#""J Rosenberg \\\"""#[..]));
    assert_eq!(from.uri_raw, b"sip:jdrosen@example.com");
    assert_eq!(from.tag(), Some(&b"98asjd8"[..]));
    assert_eq!(m.max_forwards(), Ok(Some(68)));
    assert_eq!(m.call_id(), Ok(&b"wsinv.ndaksdj@192.0.2.1"[..]));
    assert_eq!(m.content_length(), Some(150));
    assert_eq!(m.body().len(), 150);
    assert!(m.body().starts_with(b"v=0\r\n"));
    let cseq = m.cseq().expect("cseq");
    assert_eq!((cseq.number, cseq.method), (9, Method::Invite));

    let vias: Vec<ViaSummary> = m
        .vias()
        .map(|v| {
            let v = v.expect("via");
            (
                v.transport.to_vec(),
                v.host.to_vec(),
                v.branch().map(<[u8]>::to_vec),
            )
        })
        .collect();
    assert_eq!(
        vias,
        vec![
            (
                b"UDP".to_vec(),
                b"192.0.2.2".to_vec(),
                Some(b"390skdjuw".to_vec())
            ),
            (
                b"TCP".to_vec(),
                b"spindle.example.com".to_vec(),
                Some(b"z9hG4bK9ikj8".to_vec())
            ),
            (
                b"UDP".to_vec(),
                b"192.168.255.111".to_vec(),
                Some(b"z9hG4bK30239".to_vec())
            ),
        ]
    );
    // An empty Subject ("s :") is legal.
    assert_eq!(m.header_value(HeaderName::Subject), Some(&b""[..]));
    let folded: Vec<&[u8]> = m
        .headers_by_text(b"NewFangledHeader")
        .map(|h| m.get(h.value()))
        .collect();
    assert_eq!(
        folded,
        vec![&b"newfangled value\r\n continued newfangled value"[..]]
    );
    let unusual: Vec<&[u8]> = m
        .headers_by_text(b"UnknownHeaderWithUnusualValue")
        .map(|h| m.get(h.value()))
        .collect();
    assert_eq!(unusual, vec![&b";;,,;;,;"[..]]);
    let route = m.top_route().expect("route").expect("present");
    let route_uri = route.uri().expect("uri");
    assert_eq!(route_uri.host, b"services.example.com");
    assert!(route_uri.is_loose_router());
    assert_eq!(route_uri.params.value(b"unknownwith"), Some(&b"value"[..]));
    assert_eq!(route_uri.params.get(b"unknown-no-value"), Some(None));
    let Ok(Contacts::Addrs(contacts)) = m.contacts() else {
        panic!("one contact expected");
    };
    assert_eq!(contacts.len(), 1);
    assert_eq!(
        contacts[0].display_name,
        Some(&br#""Quoted string \"\"""#[..])
    );
    assert_eq!(contacts[0].uri_raw, b"sip:jdrosen@example.com");
    assert_eq!(
        contacts[0].params.value(b"newparam"),
        Some(&b"newvalue"[..])
    );
    assert_eq!(contacts[0].params.get(b"secondparam"), Some(None));
    assert_eq!(contacts[0].q_millis(), Some(330));
    // The top Via has no magic cookie: an RFC 2543 transaction key.
    assert!(matches!(m.server_key(), Ok(ServerKey::Rfc2543 { .. })));
    forwards(&m);
}

/// §3.1.1.2 Wide range of valid characters: an unknown method made of every
/// token character, a Request-URI with unusual user and password characters,
/// escaped controls in a quoted display name, UTF-8 in values.
#[test]
fn intmeth_wide_range_of_valid_characters() {
    let m = valid(dat!("intmeth"));
    let method: &[u8] = b"!interesting-Method0123456789_*+`.%indeed'~";
    assert_eq!(m.method(), Some(Method::Extension));
    assert_eq!(m.method_bytes(), Some(method));
    let ruri = m.request_uri().expect("uri");
    assert_eq!(ruri.scheme, Scheme::Sip);
    assert_eq!(
        ruri.user,
        Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..])
    );
    assert_eq!(
        ruri.password,
        Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..])
    );
    assert_eq!(ruri.host, b"example.com");
    let via = m.top_via().expect("via");
    assert_eq!(via.transport, b"TCP");
    assert_eq!(via.branch(), Some(&b"z9hG4bK-.!%66*_+`'~"[..]));
    let to = m.to().expect("to");
    assert_eq!(
        to.display_name,
        Some(&b"\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\""[..])
    );
    assert_eq!(
        to.uri().expect("uri").user,
        Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..])
    );
    let from = m.from().expect("from");
    assert_eq!(
        from.display_name,
        Some(&b"token1~` token2'+_ token3*%!.-"[..])
    );
    assert_eq!(from.tag(), Some(&b"_token~1'+`*%!-."[..]));
    assert_eq!(
        from.params.value(b"fromParam''~+*_!.-%"),
        Some(
            "\u{0440}\u{0430}\u{0431}\u{043e}\u{0442}\u{0430}\u{044e}\u{0449}\u{0438}\u{0439}"
                .as_bytes()
        )
    );
    assert_eq!(
        m.call_id(),
        Ok(&b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"[..])
    );
    let cseq = m.cseq().expect("cseq");
    assert_eq!(cseq.number, 139122385);
    assert_eq!(cseq.method_bytes, method);
    assert_eq!(m.max_forwards(), Ok(Some(255)));
    let ext: Vec<&[u8]> = m
        .headers_by_text(b"extensionHeader-!.%*+_`'~")
        .map(|h| m.get(h.value()))
        .collect();
    assert_eq!(ext, vec!["\u{feff}\u{5927}\u{505c}\u{96fb}".as_bytes()]);
    assert_eq!(m.body(), b"");
    forwards(&m);
}

/// §3.1.1.3 Valid use of the % escaping mechanism. Escapes are kept as
/// written; comparisons unescape once (RFC 3261 §19.1.4), never recursively.
#[test]
fn esc01_valid_escaping() {
    let m = valid(dat!("esc01"));
    let ruri = m.request_uri().expect("uri");
    assert_eq!(ruri.user, Some(&b"sips%3Auser%40example.com"[..]));
    assert_eq!(
        unescaped(ruri.user.unwrap_or_default()),
        b"sips:user@example.com"
    );
    assert_eq!(ruri.host, b"example.net");
    let to = m.to().expect("to").uri().expect("uri");
    assert_eq!(unescaped(to.user.unwrap_or_default()), b"user");
    let from = m.from().expect("from");
    assert_eq!(from.tag(), Some(&b"938"[..]));
    let from_uri = from.uri().expect("uri");
    assert_eq!(
        unescaped(from_uri.user.unwrap_or_default()),
        b"I have spaces"
    );
    assert_eq!(m.call_id(), Ok(&b"esc01.239409asdfakjkn23onasd0-3234"[..]));
    assert_eq!(
        m.header_value(HeaderName::ContentType),
        Some(&b"application/sdp"[..])
    );
    let Ok(Contacts::Addrs(contacts)) = m.contacts() else {
        panic!("one contact expected");
    };
    let c = contacts[0].uri().expect("uri");
    assert_eq!(unescaped(c.user.unwrap_or_default()), b"caller");
    let params: Vec<(Vec<u8>, Option<Vec<u8>>)> = c
        .params
        .iter()
        .map(|(n, v)| (unescaped(n), v.map(unescaped)))
        .collect();
    // "name" is "value%41" once unescaped, not "valueA".
    assert_eq!(
        params,
        vec![
            (b"lr".to_vec(), None),
            (b"name".to_vec(), Some(b"value%41".to_vec()))
        ]
    );
    assert_eq!(m.body().len(), 150);
    forwards(&m);
}

/// §3.1.1.4 Escaped nulls in URIs: legal, and kept as written.
#[test]
fn escnull_escaped_nulls() {
    let m = valid(dat!("escnull"));
    assert_eq!(m.method(), Some(Method::Register));
    let to = m.to().expect("to").uri().expect("uri");
    assert_eq!(to.user, Some(&b"null-%00-null"[..]));
    assert_eq!(unescaped(to.user.unwrap_or_default()), b"null-\0-null");
    let Ok(Contacts::Addrs(contacts)) = m.contacts() else {
        panic!("contacts expected");
    };
    let users: Vec<Vec<u8>> = contacts
        .iter()
        .map(|c| unescaped(c.uri().expect("uri").user.unwrap_or_default()))
        .collect();
    assert_eq!(users, vec![b"\0".to_vec(), b"\0\0".to_vec()]);
    assert_eq!(m.content_length(), Some(0));
    forwards(&m);
}

/// §3.1.1.5 Use of % when it is not an escape: the method is an unknown
/// token (not REGISTER), `C%6Fntact` is not Contact.
#[test]
fn esc02_percent_not_an_escape() {
    let m = valid(dat!("esc02"));
    assert_eq!(m.method(), Some(Method::Extension));
    assert_eq!(m.method_bytes(), Some(&b"RE%47IST%45R"[..]));
    assert_eq!(m.cseq().expect("cseq").method_bytes, b"RE%47IST%45R");
    assert_eq!(m.to().expect("to").display_name, Some(&br#""%Z%45""#[..]));
    assert_eq!(
        m.top_via().expect("via").branch(),
        Some(&b"z9hG4bK209%fzsnel234"[..])
    );
    let Ok(Contacts::Addrs(contacts)) = m.contacts() else {
        panic!("contacts expected");
    };
    let hosts: Vec<&[u8]> = contacts
        .iter()
        .map(|c| c.uri().expect("uri").host)
        .collect();
    assert_eq!(hosts, vec![&b"host1.example.com"[..], b"host3.example.com"]);
    let other: Vec<&[u8]> = m
        .headers_by_text(b"C%6Fntact")
        .map(|h| m.get(h.value()))
        .collect();
    assert_eq!(other, vec![&b"<sip:alias2@host2.example.com>"[..]]);
    forwards(&m);
}

/// §3.1.1.6 No LWS between display name and `<`.
#[test]
fn lwsdisp_no_lws_before_bracket() {
    let m = valid(dat!("lwsdisp"));
    let from = m.from().expect("from");
    assert_eq!(from.display_name, Some(&b"caller"[..]));
    assert_eq!(from.uri_raw, b"sip:caller@example.com");
    assert_eq!(from.tag(), Some(&b"323"[..]));
    forwards(&m);
}

/// §3.1.1.7 Long values in header fields, and 34 Via values with every
/// spelling of the name.
#[test]
fn longreq_long_values() {
    let m = valid(dat!("longreq"));
    assert_eq!(m.headers().len(), 43);
    let to = m.to().expect("to");
    let name = to.display_name.expect("display name");
    assert_eq!(
        name,
        format!(
            "\"I have a user name of {} proportion\"",
            "extreme".repeat(10)
        )
        .as_bytes()
    );
    let to_uri = to.uri().expect("uri");
    assert_eq!(to_uri.port, Some(6000));
    assert_eq!(
        to_uri.params.value(b"unknownparam1"),
        Some(format!("very{}value", "long".repeat(20)).as_bytes())
    );
    assert_eq!(
        to_uri
            .params
            .value(format!("longparam{}", "name".repeat(25)).as_bytes()),
        Some(&b"shortvalue"[..])
    );
    assert_eq!(
        to_uri
            .params
            .get(format!("very{}ParameterNameWithNoValue", "long".repeat(25)).as_bytes()),
        Some(None)
    );
    let from = m.from().expect("from");
    let tag = from.tag().expect("tag");
    assert_eq!(tag.len(), 155);
    assert!(tag.starts_with(b"12982982") && tag.ends_with(b"982424"));
    assert_eq!(
        m.call_id(),
        Ok(format!("longreq.one{}longcallid", "really".repeat(20)).as_bytes())
    );
    let unknown: Vec<&[u8]> = m
        .headers_by_text(format!("Unknown-{}-Name", "Long".repeat(20)).as_bytes())
        .map(|h| m.get(h.value()))
        .collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].len(), 306);
    let hosts: Vec<Vec<u8>> = m.vias().map(|v| v.expect("via").host.to_vec()).collect();
    assert_eq!(hosts.len(), 34);
    for (i, host) in hosts.iter().take(33).enumerate() {
        assert_eq!(host, format!("sip{}.example.com", 33 - i).as_bytes());
    }
    let last = m.vias().last().expect("vias").expect("via");
    assert_eq!(last.received(), Some(&b"192.0.2.5"[..]));
    assert_eq!(
        last.branch(),
        Some(format!("very{}branchvalue", "long".repeat(50)).as_bytes())
    );
    let Ok(Contacts::Addrs(contacts)) = m.contacts() else {
        panic!("contact expected");
    };
    assert_eq!(
        contacts[0].uri().expect("uri").user,
        Some("amazinglylongcallername".repeat(5).as_bytes())
    );
    assert_eq!(m.body().len(), 150);
    forwards(&m);
}

/// §3.1.1.8 Extra trailing octets in a UDP datagram: only the first request
/// (Content-Length: 0) is the message; the rest is discarded (RFC 3261 §18.3).
#[test]
fn dblreq_extra_octets_in_a_datagram() {
    let bytes = dat!("dblreq");
    let m = valid(bytes.clone());
    assert_eq!(m.method(), Some(Method::Register));
    assert_eq!(
        m.call_id(),
        Ok(&b"dblreq.0ha0isndaksdj99sdfafnl3lk233412"[..])
    );
    assert_eq!(m.content_length(), Some(0));
    assert_eq!(m.body(), b"");
    assert_eq!(m.body_span().start, 300);
    // On a stream the same bytes are two messages (a CRLF between them).
    let mut framer = StreamFramer::new(limits());
    framer.push(&bytes);
    assert_eq!(
        framer.next_frame(),
        Ok(Some(Frame::Message(bytes.slice(..300))))
    );
    assert_eq!(framer.next_frame(), Ok(Some(Frame::Pong)));
    let Ok(Some(Frame::Message(second))) = framer.next_frame() else {
        panic!("the INVITE is framed");
    };
    let invite = valid(second);
    assert_eq!(invite.method(), Some(Method::Invite));
    assert_eq!(invite.body().len(), 150);
}

/// §3.1.1.9 Semicolon-separated parameters in the URI user part.
#[test]
fn semiuri_semicolons_in_user_part() {
    let m = valid(dat!("semiuri"));
    let ruri = m.request_uri().expect("uri");
    assert_eq!(ruri.user, Some(&b"user;par=u%40example.net"[..]));
    assert_eq!(ruri.host, b"example.com");
    assert!(ruri.params.is_empty());
    let accept: Vec<&[u8]> = m.list_values(HeaderName::Accept).collect();
    assert_eq!(
        accept,
        vec![
            &b"application/sdp"[..],
            b"application/pkcs7-mime",
            b"multipart/mixed",
            b"multipart/signed",
            b"message/sip",
            b"message/sipfrag"
        ]
    );
    forwards(&m);
}

/// §3.1.1.10 Varied and unknown transport types.
#[test]
fn transports_varied_and_unknown() {
    let m = valid(dat!("transports"));
    let transports: Vec<Vec<u8>> = m
        .vias()
        .map(|v| v.expect("via").transport.to_vec())
        .collect();
    assert_eq!(
        transports,
        vec![
            b"UDP".to_vec(),
            b"SCTP".to_vec(),
            b"TLS".to_vec(),
            b"UNKNOWN".to_vec(),
            b"TCP".to_vec()
        ]
    );
    assert_eq!(m.call_id(), Ok(&b"transports.kijh4akdnaqjkwendsasfdj"[..]));
    forwards(&m);
}

/// §3.1.1.11 Multipart MIME message with a binary part: the body is
/// Content-Length octets, bare LFs and all.
#[test]
fn mpart01_multipart_binary_body() {
    let m = valid(dat!("mpart01"));
    assert_eq!(m.method(), Some(Method::Message));
    assert_eq!(m.body().len(), 553);
    assert!(m.body().starts_with(b"--7a9cbec02ceef655\r\n"));
    assert!(m.body().ends_with(b"--7a9cbec02ceef655--\r\n"));
    assert_eq!(
        m.header_value(HeaderName::ContentType),
        Some(&b"multipart/mixed;boundary=7a9cbec02ceef655"[..])
    );
    assert_eq!(m.top_via().expect("via").rport(), Some(None));
    forwards(&m);
}

/// §3.1.1.12 Unusual reason phrase: UTF-8 and symbols.
#[test]
fn unreason_unusual_reason_phrase() {
    let m = valid(dat!("unreason"));
    assert_eq!(m.status(), Some(200));
    let reason = String::from_utf8(m.reason().expect("reason").to_vec()).expect("UTF-8");
    assert!(reason.starts_with("= 2**3 * 5**2 "));
    assert!(reason.ends_with("\u{043f}\u{0440}\u{043e}\u{0441}\u{0442}\u{043e}\u{0435}"));
    assert_eq!(m.body().len(), 154);
    assert_eq!(m.cseq().expect("cseq").method, Method::Invite);
}

/// §3.1.1.13 Empty reason phrase.
#[test]
fn noreason_empty_reason_phrase() {
    let m = valid(dat!("noreason"));
    assert_eq!(m.status(), Some(100));
    assert_eq!(m.reason(), Some(&b""[..]));
    assert_eq!(m.to().expect("to").tag(), Some(&b"902jndnke3"[..]));
}

// ---------------------------------------------------------------------------
// §3.1.2 Invalid messages
// ---------------------------------------------------------------------------

/// §3.1.2.1 Extraneous header field separators: 400.
#[test]
fn badinv01_extraneous_separators() {
    let e = refused(dat!("badinv01"));
    assert_eq!(e.error, ParseError::Header(HeaderName::Via));
    answers_400(
        &e,
        b"badinv01.0ha0isndaksdjasdf3234nas",
        "Bad Request - Malformed Header",
    );
}

/// §3.1.2.2 Content-Length larger than the message: over UDP, 400; on a
/// stream the framer waits for the rest.
#[test]
fn clerr_content_length_larger_than_message() {
    let bytes = dat!("clerr");
    let e = refused(bytes.clone());
    assert_eq!(
        e.error,
        ParseError::BodyTruncated {
            declared: 9999,
            available: 154
        }
    );
    answers_400(
        &e,
        b"clerr.0ha0isndaksdjweiafasdk3",
        "Bad Request - Body Shorter Than Content-Length",
    );
    let mut framer = StreamFramer::new(limits());
    framer.push(&bytes);
    assert_eq!(framer.next_frame(), Ok(None));
}

/// §3.1.2.3 Negative Content-Length: 400 (a stream cannot be framed).
#[test]
fn ncl_negative_content_length() {
    let bytes = dat!("ncl");
    let e = refused(bytes.clone());
    assert_eq!(e.error, ParseError::Header(HeaderName::ContentLength));
    answers_400(
        &e,
        b"ncl.0ha0isndaksdj2193423r542w35",
        "Bad Request - Malformed Header",
    );
    let mut framer = StreamFramer::new(limits());
    framer.push(&bytes);
    assert_eq!(
        framer.next_frame(),
        Err(sip_fastpath::FrameError::BadContentLength)
    );
}

/// §3.1.2.4 Request scalar fields with overlarge values: 400 for the CSeq.
/// Max-Forwards > 255 is refused too; expiries past 2**32-1 saturate.
#[test]
fn scalar02_overlarge_request_scalars() {
    let bytes = dat!("scalar02");
    let e = refused(bytes.clone());
    assert_eq!(e.error, ParseError::Header(HeaderName::CSeq));
    answers_400(
        &e,
        b"scalar02.23o0pd9vanlq3wnrlnewofjas9ui32",
        "Bad Request - Malformed Header",
    );
    let m = Message::parse(bytes, &limits()).expect("structure is fine");
    assert_eq!(
        m.max_forwards(),
        Err(ParseError::Header(HeaderName::MaxForwards))
    );
    assert_eq!(m.expires_s(), Ok(Some(u32::MAX)));
    let Ok(Contacts::Addrs(contacts)) = m.contacts() else {
        panic!("contact expected");
    };
    assert_eq!(contacts[0].expires_s(), Some(Ok(u32::MAX)));
}

/// §3.1.2.5 Response scalar fields with overlarge values: discarded (a
/// response is never answered).
#[test]
fn scalarlg_overlarge_response_scalars() {
    let e = refused(dat!("scalarlg"));
    assert_eq!(e.error, ParseError::Header(HeaderName::CSeq));
    assert_eq!(e.disposition(), Disposition::Drop);
    assert!(e.response().is_none());
}

/// §3.1.2.6 Unterminated quoted string in a display name: 400.
#[test]
fn quotbal_unterminated_quote() {
    let e = refused(dat!("quotbal"));
    assert_eq!(e.error, ParseError::Header(HeaderName::To));
    answers_400(&e, b"quotbal.aksdj", "Bad Request - Malformed Header");
}

/// §3.1.2.7 `<>` enclosing the Request-URI: 400.
#[test]
fn ltgtruri_bracketed_request_uri() {
    let e = refused(dat!("ltgtruri"));
    assert_eq!(e.error, ParseError::RequestUri);
    answers_400(
        &e,
        b"ltgtruri.1@192.0.2.5",
        "Bad Request - Malformed Request-URI",
    );
}

/// §3.1.2.8 Embedded LWS in the Request-URI: 400.
#[test]
fn lwsruri_lws_in_request_uri() {
    let e = refused(dat!("lwsruri"));
    assert_eq!(e.error, ParseError::StartLine);
    answers_400(
        &e,
        b"lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423",
        "Bad Request - Malformed Start Line",
    );
}

/// §3.1.2.9 Multiple SP between request-line elements: rejecting is
/// reasonable, and we do (400).
#[test]
fn lwsstart_multiple_spaces_in_request_line() {
    let e = refused(dat!("lwsstart"));
    assert_eq!(e.error, ParseError::RequestUri);
    answers_400(
        &e,
        b"lwsstart.dfknq234oi243099adsdfnawe3@example.com",
        "Bad Request - Malformed Request-URI",
    );
}

/// §3.1.2.10 SP at the end of the request line: rejecting is reasonable,
/// and we do (400).
#[test]
fn trws_trailing_spaces_in_request_line() {
    let e = refused(dat!("trws"));
    assert_eq!(e.error, ParseError::StartLine);
    answers_400(
        &e,
        b"trws.oicu34958239neffasdhr2345r",
        "Bad Request - Malformed Start Line",
    );
}

/// §3.1.2.11 Escaped headers in the Request-URI: headers are not allowed
/// there (RFC 3261 §19.1.1 Table 1); rejecting with 400 is acceptable.
#[test]
fn escruri_headers_in_request_uri() {
    let bytes = dat!("escruri");
    let e = refused(bytes.clone());
    assert_eq!(e.error, ParseError::RequestUri);
    answers_400(
        &e,
        b"escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5",
        "Bad Request - Malformed Request-URI",
    );
    let m = Message::parse(bytes, &limits()).expect("structure is fine");
    assert_eq!(
        m.request_uri().expect("uri").headers,
        Some(&b"Route=%3Csip:example.com%3E"[..])
    );
}

/// §3.1.2.12 Invalid time zone in Date: the RFC lets an element that does
/// not need the Date ignore it. No Riptide element interprets Date, so this
/// layer does not check it: the request is accepted and forwarded unchanged.
#[test]
fn baddate_date_is_not_interpreted() {
    let m = valid(dat!("baddate"));
    assert_eq!(
        m.header_value(HeaderName::Date),
        Some(&b"Fri, 01 Jan 2010 16:00:00 EST"[..])
    );
    let f = forwards(&m);
    assert_eq!(
        f.header_value(HeaderName::Date),
        m.header_value(HeaderName::Date)
    );
}

/// §3.1.2.13 A URI with headers outside `<>` in Contact: 400.
#[test]
fn regbadct_unbracketed_uri_with_headers() {
    let e = refused(dat!("regbadct"));
    assert_eq!(e.error, ParseError::Header(HeaderName::Contact));
    answers_400(
        &e,
        b"regbadct.k345asrl3fdbv@10.0.0.1",
        "Bad Request - Malformed Header",
    );
}

/// §3.1.2.14 Spaces within an addr-spec: 400.
#[test]
fn badaspec_spaces_in_addr_spec() {
    let e = refused(dat!("badaspec"));
    assert_eq!(e.error, ParseError::Header(HeaderName::To));
    answers_400(
        &e,
        b"badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3",
        "Bad Request - Malformed Header",
    );
}

/// §3.1.2.15 Non-token characters in an unquoted display name: 400. The
/// archive's copy lacks the final empty line (the RFC's figure has it), so
/// as archived it is refused as unterminated, still with a 400; with the
/// empty line, the From display name is what is refused.
#[test]
fn baddn_non_token_display_name() {
    let bytes = dat!("baddn");
    assert!(bytes.ends_with(b"l: 0\r\n"));
    let e = refused(bytes.clone());
    assert_eq!(e.error, ParseError::Unterminated);
    answers_400(
        &e,
        b"baddn.31415@c.example.com",
        "Bad Request - Unterminated Header Section",
    );
    let mut whole = bytes.to_vec();
    whole.extend_from_slice(b"\r\n");
    let e = refused(Bytes::from(whole));
    assert_eq!(e.error, ParseError::Header(HeaderName::From));
    answers_400(
        &e,
        b"baddn.31415@c.example.com",
        "Bad Request - Malformed Header",
    );
}

/// §3.1.2.16 Unknown protocol version: 505. This layer parses it and says
/// the version is not SIP/2.0; the answer (505) is the proxy's
/// (`engine::proxy::validate_request`), as RFC 3261 §8.2.6 gives it to the UAS/proxy core.
#[test]
fn badvers_unknown_version() {
    let m = valid(dat!("badvers"));
    assert_eq!(m.version(), b"SIP/7.0");
    assert!(!m.is_sip_2_0());
    assert_eq!(m.top_via().expect("via").host, b"c.example.com");
    let r = Message::parse(m.response(505, "Version Not Supported").finish(), &limits())
        .expect("the 505 parses");
    assert_eq!(r.status(), Some(505));
    assert_eq!(r.call_id(), Ok(&b"badvers.31417@c.example.com"[..]));
}

/// §3.1.2.17 Start line and CSeq method mismatch: 400.
#[test]
fn mismatch01_cseq_method_mismatch() {
    let e = refused(dat!("mismatch01"));
    assert_eq!(e.error, ParseError::Header(HeaderName::CSeq));
    answers_400(
        &e,
        b"mismatch01.dj0234sxdfl3",
        "Bad Request - Malformed Header",
    );
}

/// §3.1.2.18 Unknown method with a CSeq method mismatch: 501 is preferred,
/// 400 acceptable; this layer cannot tell an unknown method from a
/// mismatched one, so it refuses with 400.
#[test]
fn mismatch02_unknown_method_cseq_mismatch() {
    let e = refused(dat!("mismatch02"));
    assert_eq!(e.error, ParseError::Header(HeaderName::CSeq));
    answers_400(
        &e,
        b"mismatch02.dj0234sxdfl3",
        "Bad Request - Malformed Header",
    );
    let m = e.partial.as_deref().expect("partial");
    assert_eq!(m.method(), Some(Method::Extension));
    assert_eq!(m.method_bytes(), Some(&b"NEWMETHOD"[..]));
}

/// §3.1.2.19 Overlarge response code: the response is dropped.
#[test]
fn bigcode_overlarge_response_code() {
    let e = refused(dat!("bigcode"));
    assert_eq!(e.error, ParseError::StartLine);
    assert_eq!(e.disposition(), Disposition::Drop);
}

// ---------------------------------------------------------------------------
// §3.2 Transaction layer semantics
// ---------------------------------------------------------------------------

/// §3.2.1 Missing transaction identifier (a bare magic cookie): parsers must
/// not break. The transaction layer may reject it (400) or treat it as an
/// RFC 2543 request; this layer gives it a branch key with the bare cookie,
/// which is unique enough for the one request that carries it.
#[test]
fn badbranch_missing_transaction_identifier() {
    let m = valid(dat!("badbranch"));
    let via = m.top_via().expect("via");
    assert_eq!(via.branch(), Some(&b"z9hG4bK"[..]));
    assert!(via.is_rfc3261_branch());
    let Ok(ServerKey::Branch {
        branch, sent_by, ..
    }) = m.server_key()
    else {
        panic!("branch key expected");
    };
    assert_eq!(
        (&branch[..], &sent_by[..]),
        (&b"z9hG4bK"[..], &b"192.0.2.1"[..])
    );
}

// ---------------------------------------------------------------------------
// §3.3 Application-layer semantics
// ---------------------------------------------------------------------------

/// §3.3.1 Missing required headers (To, From, Call-ID): the RFC asks for a
/// 400, but a response copies those very headers (RFC 3261 §8.2.6.2) and
/// could not be matched to a dialog without them, so this layer drops it.
#[test]
fn insuf_missing_required_headers() {
    let e = refused(dat!("insuf"));
    assert_eq!(e.error, ParseError::Missing(HeaderName::From));
    assert_eq!(e.disposition(), Disposition::Drop);
}

/// §3.3.2 Unknown scheme in the Request-URI: well formed; the answer (416)
/// is the routing layer's (`engine::proxy::validate_request`).
#[test]
fn unkscm_unknown_request_uri_scheme() {
    let m = valid(dat!("unkscm"));
    let ruri = m.request_uri().expect("uri");
    assert_eq!(ruri.scheme, Scheme::Other);
    assert_eq!(ruri.raw, b"nobodyKnowsThisScheme:totallyopaquecontent");
}

/// §3.3.3 Known but atypical scheme in the Request-URI: well formed; 416 or
/// 404 is the routing layer's choice.
#[test]
fn novelsc_atypical_request_uri_scheme() {
    let m = valid(dat!("novelsc"));
    let ruri = m.request_uri().expect("uri");
    assert_eq!(ruri.scheme, Scheme::Other);
    assert_eq!(ruri.raw, b"soap.beep://192.0.2.103:3002");
}

/// §3.3.4 Unknown schemes in To, From, Contact: syntactically valid; a
/// registrar refuses a non-SIP AOR (400), which is the registrar's check.
#[test]
fn unksm2_unknown_schemes_in_headers() {
    let m = valid(dat!("unksm2"));
    assert_eq!(
        m.to().expect("to").uri().expect("uri").scheme,
        Scheme::Other
    );
    assert_eq!(
        m.from().expect("from").uri().expect("uri").raw,
        b"http://www.example.com"
    );
    let Ok(Contacts::Addrs(contacts)) = m.contacts() else {
        panic!("contact expected");
    };
    assert_eq!(contacts[0].uri_raw, b"name:John_Smith");
    forwards(&m);
}

/// §3.3.5 Unknown Proxy-Require and Require option tags: 420 from the proxy
/// (Proxy-Require) or the UAS (Require), naming them in Unsupported.
#[test]
fn bext01_unknown_option_tags() {
    let m = valid(dat!("bext01"));
    let require: Vec<&[u8]> = m.option_tags(HeaderName::Require).collect();
    assert_eq!(
        require,
        vec![&b"nothingSupportsThis"[..], b"nothingSupportsThisEither"]
    );
    let proxy_require: Vec<&[u8]> = m.option_tags(HeaderName::ProxyRequire).collect();
    assert_eq!(
        proxy_require,
        vec![&b"noProxiesSupportThis"[..], b"norDoAnyProxiesSupportThis"]
    );
}

/// §3.3.6 Unknown Content-Type: the UAS answers 415; the body is intact.
#[test]
fn invut_unknown_content_type() {
    let m = valid(dat!("invut"));
    assert_eq!(
        m.header_value(HeaderName::ContentType),
        Some(&b"application/unknownformat"[..])
    );
    assert_eq!(
        m.body(),
        b"<audio>\r\n <pcmu port=\"443\"/>\r\n</audio>\r\n"
    );
    forwards(&m);
}

/// §3.3.7 Unknown authorization scheme: well formed; a registrar that
/// authenticates challenges with a scheme it knows (401).
#[test]
fn regaut01_unknown_auth_scheme() {
    let m = valid(dat!("regaut01"));
    let auth = m
        .auth(HeaderName::Authorization)
        .expect("well formed")
        .expect("present");
    assert_eq!(auth.scheme, b"NoOneKnowsThisScheme");
    assert!(!auth.is_digest());
    assert_eq!(auth.get(b"opaque-data"), Some(&b"here"[..]));
    assert_eq!(m.content_length(), Some(0));
}

/// §3.3.8 Multiple values in single-value headers (CSeq, Call-ID, To, From,
/// Max-Forwards): 400.
#[test]
fn multi01_multiple_single_values() {
    let e = refused(dat!("multi01"));
    assert_eq!(e.error, ParseError::Duplicate(HeaderName::CSeq));
    answers_400(
        &e,
        b"multi01.98asdh@192.0.2.1",
        "Bad Request - Duplicate Header",
    );
    // The 400 carries the first of each, once (fuzzing found it copied all).
    let r = Message::parse(e.response().expect("400"), &limits()).expect("parses");
    for name in [
        HeaderName::CSeq,
        HeaderName::CallId,
        HeaderName::From,
        HeaderName::To,
    ] {
        assert_eq!(r.headers_named(name).count(), 1, "{name:?}");
    }
    assert_eq!(r.header_value(HeaderName::CSeq), Some(&b"5 INVITE"[..]));
    assert_eq!(r.from().expect("from").tag(), Some(&b"3413415"[..]));
}

/// §3.3.9 Multiple Content-Length values: 400.
#[test]
fn mcl01_multiple_content_lengths() {
    let e = refused(dat!("mcl01"));
    assert_eq!(e.error, ParseError::Duplicate(HeaderName::ContentLength));
    answers_400(
        &e,
        b"mcl01.fhn2323orihawfdoa3o4r52o3irsdf",
        "Bad Request - Duplicate Header",
    );
}

/// §3.3.10 200 OK with a broadcast Via: well formed; whoever forwards the
/// response (after popping its own Via) must not send it to 255.255.255.255,
/// which is the transport layer's check.
#[test]
fn bcast_broadcast_via_in_response() {
    let m = valid(dat!("bcast"));
    assert_eq!(m.status(), Some(200));
    let hosts: Vec<Vec<u8>> = m.vias().map(|v| v.expect("via").host.to_vec()).collect();
    assert_eq!(
        hosts,
        vec![b"192.0.2.198".to_vec(), b"255.255.255.255".to_vec()]
    );
    let mut e = m.edit();
    e.pop_via().expect("pop");
    let f = valid(e.finish());
    assert_eq!(f.top_via().expect("via").host, b"255.255.255.255");
}

/// §3.3.11 Max-Forwards of zero: a proxy answers 483 instead of forwarding
/// (the editor refuses to decrement); a UAS processes it normally.
#[test]
fn zeromf_max_forwards_zero() {
    let m = valid(dat!("zeromf"));
    assert_eq!(m.max_forwards(), Ok(Some(0)));
    assert_eq!(
        m.edit().decrement_max_forwards().err(),
        Some(sip_fastpath::EditError::MaxForwardsExhausted)
    );
}

/// §3.3.12 REGISTER with a contact parameter: `unknownparam` is a header
/// (contact) parameter, not a URI parameter.
#[test]
fn cparam01_contact_param() {
    let m = valid(dat!("cparam01"));
    let Ok(Contacts::Addrs(contacts)) = m.contacts() else {
        panic!("contact expected");
    };
    assert!(!contacts[0].bracketed);
    assert_eq!(contacts[0].params.get(b"unknownparam"), Some(None));
    let uri = contacts[0].uri().expect("uri");
    assert!(uri.params.is_empty());
    assert_eq!(uri.user, Some(&b"+19725552222"[..]));
}

/// §3.3.13 REGISTER with a URI parameter: inside `<>` it belongs to the URI.
#[test]
fn cparam02_uri_param() {
    let m = valid(dat!("cparam02"));
    let Ok(Contacts::Addrs(contacts)) = m.contacts() else {
        panic!("contact expected");
    };
    assert!(contacts[0].params.is_empty());
    let uri = contacts[0].uri().expect("uri");
    assert_eq!(uri.params.get(b"unknownparam"), Some(None));
}

/// §3.3.14 REGISTER with a URL-escaped header in a bracketed Contact: legal;
/// the registrar stores the URI as written.
#[test]
fn regescrt_escaped_header_in_contact() {
    let m = valid(dat!("regescrt"));
    let Ok(Contacts::Addrs(contacts)) = m.contacts() else {
        panic!("contact expected");
    };
    let uri = contacts[0].uri().expect("uri");
    assert_eq!(uri.headers, Some(&b"Route=%3Csip:sip.example.com%3E"[..]));
    assert_eq!(m.content_length(), Some(0));
}

/// §3.3.15 Unacceptable Accept offering: the UAS answers 406 (or 400); the
/// request itself is well formed.
#[test]
fn sdp01_unacceptable_accept() {
    let m = valid(dat!("sdp01"));
    let accept: Vec<&[u8]> = m.list_values(HeaderName::Accept).collect();
    assert_eq!(accept, vec![&b"text/nobodyKnowsThis"[..]]);
    assert_eq!(m.body().len(), 150);
}

// ---------------------------------------------------------------------------
// §3.4 Backward compatibility
// ---------------------------------------------------------------------------

/// §3.4.1 INVITE with RFC 2543 syntax: no branch, no Max-Forwards, no From
/// tag, no Content-Length (the body runs to the end of the datagram). It
/// must be accepted; the transaction key falls back to RFC 2543 matching.
#[test]
fn inv2543_rfc2543_syntax() {
    let m = valid(dat!("inv2543"));
    assert_eq!(m.top_via().expect("via").branch(), None);
    assert_eq!(m.max_forwards(), Ok(None));
    assert_eq!(m.from().expect("from").tag(), None);
    assert_eq!(m.content_length(), None);
    assert_eq!(m.body().len(), 105);
    let Ok(ServerKey::Rfc2543 { call_id, cseq, .. }) = m.server_key() else {
        panic!("RFC 2543 key expected");
    };
    assert_eq!(&call_id[..], b"inv2543.1717@ift.client.example.com");
    assert_eq!(cseq, 56);
    let f = forwards(&m);
    assert_eq!(f.max_forwards(), Ok(Some(70)));
}

// ---------------------------------------------------------------------------
// The archive's extra member
// ---------------------------------------------------------------------------

/// `test.dat`: a request line without a SIP version and no Via. Dropped.
#[test]
fn test_dat_garbage_is_dropped() {
    let e = refused(dat!("test"));
    assert_eq!(e.error, ParseError::StartLine);
    assert_eq!(e.disposition(), Disposition::Drop);
}

/// Every archive member, whatever its verdict, survives every view and a
/// forward edit without a panic, and the stream framer frames it the same
/// whether it arrives whole or byte by byte.
#[test]
fn every_member_survives_every_view_and_any_split() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rfc4475");
    for (name, _) in ARCHIVE {
        let bytes = Bytes::from(std::fs::read(dir.join(format!("{name}.dat"))).expect("readable"));
        if let Ok(m) = Message::parse(bytes.clone(), &limits()) {
            let _ = m.validate();
            let _ = m.request_uri().map(|u| u.check());
            let _ = m.vias().count();
            let _ = m.contacts();
            let _ = m.routes().count();
            let _ = m.server_key();
            let _ = m.client_key();
            let mut e = m.edit();
            let _ = e.decrement_max_forwards();
            let _ = e.pop_via();
            e.push_via(b"SIP/2.0/UDP p;branch=z9hG4bKx");
            let _ = e.finish();
        }
        let whole = frames(&bytes, bytes.len());
        assert_eq!(frames(&bytes, 1), whole, "{name}");
        assert_eq!(frames(&bytes, 7), whole, "{name}");
    }
}

fn frames(bytes: &[u8], chunk: usize) -> Vec<Result<Frame, sip_fastpath::FrameError>> {
    let mut framer = StreamFramer::new(limits());
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk) {
        framer.push(piece);
        loop {
            match framer.next_frame() {
                Ok(Some(f)) => out.push(Ok(f)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }
    out
}
