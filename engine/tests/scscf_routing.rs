//! Routing at the S-CSCF end to end, through `riptide all-in-one` (two
//! shards) with the real control plane: a UE registers two devices with
//! `Supported: gruu` and `+sip.instance`, and a SIPp call to one device's
//! public GRUU reaches that device only; a registered UE's originating call
//! on its Service-Route to an off-net number reaches the SIPp UAS that
//! stands as the BGCF (`--bgcf-uri`), and one to a registered user of ours
//! reaches that user's device. A call to another IMPU of a user's
//! registration set, which another shard owns, finds the bindings stored
//! under the default IMPU.
#![allow(clippy::unwrap_used)]

mod support;

use engine::node::app::owner_shard;
use sip_fastpath::{HeaderName, Message};
use std::net::{SocketAddr, UdpSocket};
use support::{
    SippOutcome, SippServer, Ue, all_in_one, backends, data_dir, demo_users, http, http_raw, ok,
    sipp_client_with,
};

/// The pub-gruu the 200 OK gave the Contact of `instance`.
fn pub_gruu(ok: &Message, instance: &str) -> String {
    let text = String::from_utf8_lossy(ok.buffer()).into_owned();
    let contact = text
        .lines()
        .filter(|l| l.starts_with("Contact:"))
        .find(|l| l.contains(instance))
        .unwrap_or_else(|| panic!("no Contact for {instance} in\n{text}"));
    let start = contact.find("pub-gruu=\"").unwrap() + "pub-gruu=\"".len();
    let len = contact[start..].find('"').unwrap();
    contact[start..start + len].to_owned()
}

/// Is an INVITE waiting on `socket` now? (Anything forked to it was sent
/// before the call it belongs to was answered, so it is already queued.)
fn invite_waiting(socket: &UdpSocket) -> bool {
    socket.set_nonblocking(true).unwrap();
    let mut buf = vec![0u8; 65_536];
    let got = match socket.recv_from(&mut buf) {
        Ok((n, _)) => buf[..n].starts_with(b"INVITE "),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(e) => panic!("{e}"),
    };
    socket.set_nonblocking(false).unwrap();
    got
}

#[test]
fn a_call_to_a_public_gruu_reaches_only_that_device() {
    let dir = data_dir("gruu");
    for (store, flags) in backends(&dir) {
        let dir = data_dir(&format!("gruu-{store}"));
        // Device 1 is SIPp's UAS; device 2 is a socket that never answers.
        let device_1 = SippServer::start("uas", "u1");
        let device_2 = UdpSocket::bind("127.0.0.1:0").unwrap();
        let node = all_in_one(&dir, &flags);
        let user = demo_users(&dir)[40].clone();
        let dn = &user.0;
        let instance_1 = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";
        let instance_2 = "urn:uuid:00000000-0000-1000-8000-00000000beef";
        let answer = Ue::new(node.sip).register(
            &user,
            &[
                format!(
                    "<sip:{dn}@127.0.0.1:{}>;+sip.instance=\"<{instance_1}>\"",
                    device_1.port
                ),
                format!(
                    "<sip:{dn}@127.0.0.1:{}>;+sip.instance=\"<{instance_2}>\"",
                    device_2.local_addr().unwrap().port()
                ),
            ],
        );
        let gruu = pub_gruu(&answer, instance_1);
        assert_eq!(gruu, format!("sip:{dn}@example.com;gr={instance_1}"));

        let out = sipp_client_with(
            "call_uri_uac.xml",
            "u1",
            node.sip,
            1,
            10,
            &["-set".into(), "target".into(), gruu],
        );
        assert!(ok(&out, 1), "{store}: {out:?}");
        assert!(
            !invite_waiting(&device_2),
            "{store}: the GRUU call was forked to the other device"
        );

        // The AoR itself forks to both devices: device 2 sees that INVITE.
        let out = sipp_client_with(
            "call_uri_uac.xml",
            "u1",
            node.sip,
            1,
            10,
            &[
                "-set".into(),
                "target".into(),
                format!("sip:{dn}@example.com"),
            ],
        );
        assert!(ok(&out, 1), "{store}: {out:?}");
        assert!(
            invite_waiting(&device_2),
            "{store}: the AoR call was not forked"
        );
    }
}

/// Three calls from the registered `caller_dn` to `target`, sent on the
/// caller's Service-Route as its P-CSCF would.
fn orig_calls(sip: SocketAddr, target: &str, service_route: &str, caller_dn: &str) -> SippOutcome {
    let set = |name: &str, value: String| ["-set".to_owned(), name.to_owned(), value];
    let args: Vec<String> = [
        set("target", target.to_owned()),
        set("service_route", service_route.to_owned()),
        set("caller", format!("sip:{caller_dn}@example.com")),
    ]
    .concat();
    sipp_client_with("orig_call_uac.xml", "u1", sip, 3, 10, &args)
}

#[test]
fn an_originating_call_reaches_the_bgcf_off_net_and_the_callee_on_net() {
    let dir = data_dir("orig");
    for (store, mut flags) in backends(&dir) {
        let dir = data_dir(&format!("orig-{store}"));
        let bgcf = SippServer::start("uas", "u1");
        flags.extend([
            "--bgcf-uri".to_owned(),
            format!("sip:127.0.0.1:{};transport=udp", bgcf.port),
        ]);
        let node = all_in_one(&dir, &flags);
        let caller = demo_users(&dir)[60].clone();
        let ue = Ue::new(node.sip);
        let contact = format!("<sip:{}@{}>", caller.0, ue.socket.local_addr().unwrap());
        let answer = ue.register(&caller, &[contact]);
        let service_route =
            String::from_utf8_lossy(answer.header_value(HeaderName::ServiceRoute).unwrap())
                .into_owned();
        assert_eq!(
            service_route,
            format!("<sip:{};transport=tcp;lr;orig>", node.sip)
        );
        let out = orig_calls(node.sip, "tel:+442071234567", &service_route, &caller.0);
        assert!(ok(&out, 3), "{store}: {out:?}");

        // To a registered user of ours: terminating routing to its binding
        // (on the shard that owns it), not the BGCF.
        let callee_device = SippServer::start("uas", "u1");
        let callee = demo_users(&dir)[61].clone();
        let contact = format!("<sip:{}@127.0.0.1:{}>", callee.0, callee_device.port);
        Ue::new(node.sip).register(&callee, &[contact]);
        let callee_impu = format!("sip:{}@example.com", callee.0);
        let out = orig_calls(node.sip, &callee_impu, &service_route, &caller.0);
        assert!(ok(&out, 3), "{store} to a local user: {out:?}");
    }
}

/// Add `alias` to the service profile (so the implicit registration set)
/// of `impu`, through the provisioning API.
fn add_to_registration_set(prov: SocketAddr, impu: &str, alias: &str) {
    let answer = http_raw(prov, "GET", &format!("/public/{impu}/service_profile"), "");
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    let profile = answer
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("location")
                .then(|| value.trim().to_owned())
        })
        .unwrap();
    let body = format!("<PublicIdentity><Identity>{alias}</Identity></PublicIdentity>");
    let (status, text) = http(prov, "PUT", &format!("{profile}/public_ids/{alias}"), &body);
    assert_eq!(status, 200, "{text}");
}

#[test]
fn a_call_to_another_impu_of_the_set_reaches_the_bindings_on_their_owner_shard() {
    let dir = data_dir("alias");
    for (store, flags) in backends(&dir) {
        let dir = data_dir(&format!("alias-{store}"));
        let device = SippServer::start("uas", "u1");
        let node = all_in_one(&dir, &flags);
        let user = demo_users(&dir)[20].clone();
        let dn = &user.0;
        let default = format!("sip:{dn}@example.com");
        // An alias the other of the two shards owns.
        let alias = (0..)
            .map(|i| format!("sip:alias{i}-{dn}@example.com"))
            .find(|a| owner_shard(a, 2) != owner_shard(&default, 2))
            .unwrap();
        add_to_registration_set(node.listening["provisioning"], &default, &alias);
        let contact = format!("<sip:{dn}@127.0.0.1:{}>", device.port);
        let answer = Ue::new(node.sip).register(&user, &[contact]);
        let associated =
            String::from_utf8_lossy(answer.header_value(HeaderName::PAssociatedUri).unwrap())
                .into_owned();
        assert_eq!(associated, format!("<{default}>, <{alias}>"), "{store}");
        // The management API answers for either IMPU of the set.
        for impu in [&default, &alias] {
            let path = format!(
                "/impu/{}/bindings",
                impu.replace(':', "%3A").replace('@', "%40")
            );
            let (status, body) = http(node.management, "GET", &path, "");
            assert_eq!(status, 200, "{store} {impu}: {body}");
            assert!(
                body.contains(&format!("127.0.0.1:{}", device.port)),
                "{store} {impu}: {body}"
            );
        }

        let out = sipp_client_with(
            "call_uri_uac.xml",
            "u1",
            node.sip,
            2,
            10,
            &["-set".into(), "target".into(), alias.clone()],
        );
        assert!(ok(&out, 2), "{store}: {out:?}");
    }
}
