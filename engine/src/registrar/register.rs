//! Applying one REGISTER to an AoR.

use bytes::Bytes;
use sip_fastpath::{Contacts, HeaderName, Message, NameAddr};

use super::binding::{Aor, Binding};

/// The registrar's settings (Clearwater names where it had them).
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// `reg_max_expires`: the longest registration granted (default 300 s).
    pub reg_max_expires_s: u32,
    /// Shortest non-zero expiry accepted; shorter gets 423 with Min-Expires.
    /// Clearwater had none; the default, 1 s, refuses nothing SIPp sends.
    pub reg_min_expires_s: u32,
    /// The S-CSCF URI put in Service-Route (`sip:scscf.<sprout_hostname>:5054;transport=tcp`).
    pub scscf_uri: String,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            reg_max_expires_s: 300,
            reg_min_expires_s: 1,
            scscf_uri: "sip:scscf.example.com:5054;transport=tcp".into(),
        }
    }
}

/// What the REGISTER did, for statistics and the HSS-cache `reg-data` PUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterKind {
    /// The AoR had no bindings and now has some.
    Initial,
    /// The AoR had bindings and still has some.
    Refresh,
    /// The AoR had bindings and now has none.
    Deregistration,
    /// No Contact: the bindings were only read.
    Fetch,
}

/// A REGISTER the registrar refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub status: u16,
    pub reason: &'static str,
    pub headers: Vec<(HeaderName, String)>,
}

impl Rejected {
    fn new(status: u16, reason: &'static str) -> Self {
        Rejected {
            status,
            reason,
            headers: Vec::new(),
        }
    }

    pub fn response(&self, req: &Message) -> Bytes {
        let mut b = req.response(self.status, self.reason);
        for (n, v) in &self.headers {
            b.push_header(*n, v.as_bytes());
        }
        b.finish()
    }
}

/// The result of an accepted REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOutcome {
    pub aor: Aor,
    pub kind: RegisterKind,
    /// The 200 OK.
    pub response: Bytes,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Apply `req` to `current` at `now_s`. `aor_uri` is the default IMPU (for
/// GRUUs), `associated` the unbarred IMPUs of its implicit registration set
/// (P-Associated-URI).
pub fn apply_register(
    req: &Message,
    current: &Aor,
    aor_uri: &str,
    associated: &[&str],
    now_s: u64,
    cfg: &RegistrarConfig,
) -> Result<RegisterOutcome, Rejected> {
    let bad = |_| Rejected::new(400, "Bad Request");
    let call_id = text(req.call_id().map_err(bad)?);
    let cseq = req.cseq().map_err(bad)?.number;
    let header_expires = req.expires_s().map_err(bad)?;
    let supported: Vec<&[u8]> = req.option_tags(HeaderName::Supported).collect();
    let supports = |tag: &[u8]| supported.iter().any(|t| t.eq_ignore_ascii_case(tag));
    let path: Vec<String> = req.list_values(HeaderName::Path).map(text).collect();

    let mut aor = current.clone();
    aor.expire(now_s);
    let had_bindings = !aor.bindings.is_empty();

    let kind = match req.contacts().map_err(bad)? {
        Contacts::None => RegisterKind::Fetch,
        Contacts::Star => {
            // RFC 3261 §10.3 step 6: `*` only with Expires: 0.
            if header_expires != Some(0) {
                return Err(Rejected::new(
                    400,
                    "Bad Request - Wildcard Contact Needs Expires: 0",
                ));
            }
            // Bindings from this Call-ID with a CSeq not newer survive (step 6's ordering rule).
            aor.bindings
                .retain(|b| b.call_id == call_id && b.cseq >= cseq);
            if aor.bindings.is_empty() {
                RegisterKind::Deregistration
            } else {
                RegisterKind::Refresh
            }
        }
        Contacts::Addrs(addrs) => {
            for contact in &addrs {
                apply_contact(
                    &mut aor,
                    contact,
                    &call_id,
                    cseq,
                    header_expires,
                    &path,
                    now_s,
                    cfg,
                )?;
            }
            match (had_bindings, aor.bindings.is_empty()) {
                (_, false) if had_bindings => RegisterKind::Refresh,
                (_, false) => RegisterKind::Initial,
                (true, true) => RegisterKind::Deregistration,
                (false, true) => RegisterKind::Fetch,
            }
        }
    };

    let mut b = req.response(200, "OK");
    for binding in &aor.bindings {
        let remaining = binding.expires_at_s.saturating_sub(now_s);
        let mut contact = format!("<{}>;expires={remaining}", binding.uri);
        if let Some(q) = binding.q_millis {
            contact.push_str(&format!(";q={}.{:03}", q / 1000, q % 1000));
        }
        contact.push_str(&binding.params);
        if supports(b"gruu") {
            if let Some(instance) = &binding.instance {
                let urn = instance.trim_matches(|c| c == '"' || c == '<' || c == '>');
                contact.push_str(&format!(";pub-gruu=\"{aor_uri};gr={urn}\""));
            }
        }
        b.push_header(HeaderName::Contact, contact.as_bytes());
    }
    for p in &path {
        b.push_header(HeaderName::Path, p.as_bytes());
    }
    if !aor.bindings.is_empty() {
        b.push_header(
            HeaderName::ServiceRoute,
            format!("<{};lr;orig>", cfg.scscf_uri).as_bytes(),
        );
    }
    if !associated.is_empty() {
        let list: Vec<String> = associated.iter().map(|u| format!("<{u}>")).collect();
        b.push_header(HeaderName::PAssociatedUri, list.join(", ").as_bytes());
    }
    // RFC 5626 §6: outbound applies when the UA supports it and registered with reg-id.
    let outbound = supports(b"outbound") && aor.bindings.iter().any(|b| b.reg_id.is_some());
    if outbound {
        b.push_header(HeaderName::Supported, b"outbound");
        b.push_header(HeaderName::Require, b"outbound");
    }
    Ok(RegisterOutcome {
        aor,
        kind,
        response: b.finish(),
    })
}

#[allow(clippy::too_many_arguments)]
fn apply_contact(
    aor: &mut Aor,
    contact: &NameAddr<'_>,
    call_id: &str,
    cseq: u32,
    header_expires: Option<u32>,
    path: &[String],
    now_s: u64,
    cfg: &RegistrarConfig,
) -> Result<(), Rejected> {
    let expires = match contact.expires_s() {
        Some(Ok(e)) => e,
        Some(Err(())) => {
            return Err(Rejected::new(
                400,
                "Bad Request - Malformed Contact Expires",
            ));
        }
        None => header_expires.unwrap_or(cfg.reg_max_expires_s),
    }
    .min(cfg.reg_max_expires_s);
    if expires > 0 && expires < cfg.reg_min_expires_s {
        return Err(Rejected {
            status: 423,
            reason: "Interval Too Brief",
            headers: vec![(HeaderName::MinExpires, cfg.reg_min_expires_s.to_string())],
        });
    }
    let uri = text(contact.uri_raw);
    let instance = contact.params.value(b"+sip.instance").map(text);
    let reg_id = contact
        .params
        .value(b"reg-id")
        .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok());
    let id = match (&instance, reg_id) {
        (Some(i), Some(r)) => format!("{i};reg-id={r}"),
        (Some(i), None) => i.clone(),
        (None, _) => uri.clone(),
    };
    let mut params = String::new();
    for (name, value) in contact.params.iter() {
        if name.eq_ignore_ascii_case(b"expires") || name.eq_ignore_ascii_case(b"q") {
            continue;
        }
        params.push(';');
        params.push_str(&String::from_utf8_lossy(name));
        if let Some(v) = value {
            params.push('=');
            let quoted = name.eq_ignore_ascii_case(b"+sip.instance") || v.contains(&b'<');
            if quoted {
                params.push('"');
            }
            params.push_str(&String::from_utf8_lossy(v));
            if quoted {
                params.push('"');
            }
        }
    }
    // §10.3 step 7: the same binding from the same Call-ID must move forward in CSeq.
    if let Some(existing) = aor.bindings.iter().find(|b| b.id == id) {
        if existing.call_id == call_id && cseq <= existing.cseq {
            return Err(Rejected::new(400, "Bad Request - Out-of-Order CSeq"));
        }
    }
    aor.bindings.retain(|b| b.id != id);
    if expires > 0 {
        aor.bindings.push(Binding {
            id,
            uri,
            params,
            path: path.to_vec(),
            call_id: call_id.to_owned(),
            cseq,
            expires_at_s: now_s + u64::from(expires),
            q_millis: contact.q_millis(),
            instance,
            reg_id,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip_fastpath::Limits;

    const AOR: &str = "sip:6505550001@example.com";

    fn register(cseq: u32, call_id: &str, extra: &str) -> Message {
        let text = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKr{cseq}\r\nMax-Forwards: 70\r\nFrom: <{AOR}>;tag=f\r\nTo: <{AOR}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        Message::parse(Bytes::from(text), &Limits::default()).expect("parses")
    }

    fn apply(req: &Message, aor: &Aor, now_s: u64) -> Result<RegisterOutcome, Rejected> {
        apply_register(
            req,
            aor,
            AOR,
            &[AOR, "tel:+16505550001"],
            now_s,
            &RegistrarConfig::default(),
        )
    }

    fn response(o: &RegisterOutcome) -> Message {
        Message::parse(o.response.clone(), &Limits::default()).expect("parses")
    }

    fn values(m: &Message, name: HeaderName) -> Vec<String> {
        m.headers_named(name)
            .map(|h| text(m.get(h.value())))
            .collect()
    }

    #[test]
    fn initial_registration_answers_with_expires_service_route_and_associated_uris() {
        let req = register(
            1,
            "c1",
            "Contact: <sip:6505550001@10.0.0.1:5060>\r\nExpires: 3600\r\n",
        );
        let o = apply(&req, &Aor::default(), 1_000).expect("registers");
        assert_eq!(o.kind, RegisterKind::Initial);
        assert_eq!(o.aor.bindings.len(), 1);
        assert_eq!(
            o.aor.bindings[0].expires_at_s, 1_300,
            "capped at reg_max_expires"
        );
        let r = response(&o);
        assert_eq!(r.status(), Some(200));
        assert_eq!(
            values(&r, HeaderName::Contact),
            vec!["<sip:6505550001@10.0.0.1:5060>;expires=300"]
        );
        assert_eq!(
            values(&r, HeaderName::ServiceRoute),
            vec!["<sip:scscf.example.com:5054;transport=tcp;lr;orig>"]
        );
        assert_eq!(
            values(&r, HeaderName::PAssociatedUri),
            vec!["<sip:6505550001@example.com>, <tel:+16505550001>"]
        );
        assert!(r.to().expect("to").tag().is_some());
    }

    #[test]
    fn contact_expires_beats_the_header_and_zero_removes() {
        let req = register(
            1,
            "c1",
            "Contact: <sip:a@10.0.0.1>;expires=60, <sip:b@10.0.0.2>\r\nExpires: 120\r\n",
        );
        let o = apply(&req, &Aor::default(), 0).expect("ok");
        let exp: Vec<u64> = o.aor.bindings.iter().map(|b| b.expires_at_s).collect();
        assert_eq!(exp, vec![60, 120]);
        let req = register(2, "c1", "Contact: <sip:a@10.0.0.1>;expires=0\r\n");
        let o = apply(&req, &o.aor, 10).expect("ok");
        assert_eq!(o.kind, RegisterKind::Refresh);
        assert_eq!(o.aor.bindings.len(), 1);
        assert_eq!(o.aor.bindings[0].uri, "sip:b@10.0.0.2");
    }

    #[test]
    fn wildcard_with_expires_zero_removes_all_and_otherwise_is_400() {
        let req = register(1, "c1", "Contact: <sip:a@10.0.0.1>, <sip:b@10.0.0.2>\r\n");
        let o = apply(&req, &Aor::default(), 0).expect("ok");
        let star = register(2, "c2", "Contact: *\r\nExpires: 0\r\n");
        let d = apply(&star, &o.aor, 5).expect("ok");
        assert_eq!(d.kind, RegisterKind::Deregistration);
        assert!(d.aor.bindings.is_empty());
        assert!(values(&response(&d), HeaderName::ServiceRoute).is_empty());
        let bad = register(3, "c2", "Contact: *\r\nExpires: 60\r\n");
        assert_eq!(
            apply(&bad, &o.aor, 5).map(|_| ()).map_err(|e| e.status),
            Err(400)
        );
        let bad = register(3, "c2", "Contact: *\r\n");
        assert_eq!(
            apply(&bad, &o.aor, 5).map(|_| ()).map_err(|e| e.status),
            Err(400)
        );
    }

    #[test]
    fn fetch_returns_bindings_unchanged() {
        let o = apply(
            &register(1, "c1", "Contact: <sip:a@10.0.0.1>\r\n"),
            &Aor::default(),
            0,
        )
        .expect("ok");
        let f = apply(&register(2, "c1", ""), &o.aor, 100).expect("ok");
        assert_eq!(f.kind, RegisterKind::Fetch);
        assert_eq!(f.aor, o.aor);
        assert_eq!(
            values(&response(&f), HeaderName::Contact),
            vec!["<sip:a@10.0.0.1>;expires=200"]
        );
    }

    #[test]
    fn too_brief_is_423_with_min_expires() {
        let cfg = RegistrarConfig {
            reg_min_expires_s: 60,
            ..RegistrarConfig::default()
        };
        let req = register(1, "c1", "Contact: <sip:a@10.0.0.1>;expires=30\r\n");
        let e = apply_register(&req, &Aor::default(), AOR, &[], 0, &cfg).expect_err("423");
        assert_eq!(e.status, 423);
        let r = Message::parse(e.response(&req), &Limits::default()).expect("parses");
        assert_eq!(r.header_value(HeaderName::MinExpires), Some(&b"60"[..]));
        // Zero (deregistration) is never too brief.
        let zero = register(1, "c1", "Contact: <sip:a@10.0.0.1>;expires=0\r\n");
        assert!(apply_register(&zero, &Aor::default(), AOR, &[], 0, &cfg).is_ok());
    }

    #[test]
    fn out_of_order_cseq_for_the_same_call_id_is_refused() {
        let o = apply(
            &register(5, "c1", "Contact: <sip:a@10.0.0.1>\r\n"),
            &Aor::default(),
            0,
        )
        .expect("ok");
        let old = register(5, "c1", "Contact: <sip:a@10.0.0.1>\r\n");
        assert_eq!(
            apply(&old, &o.aor, 1).map_err(|e| e.status).map(|_| ()),
            Err(400)
        );
        let other_call = register(1, "c2", "Contact: <sip:a@10.0.0.1>\r\n");
        assert!(
            apply(&other_call, &o.aor, 1).is_ok(),
            "a new Call-ID replaces the binding"
        );
    }

    #[test]
    fn instance_and_reg_id_key_the_binding_and_bring_outbound_and_gruu() {
        let extra = "Supported: outbound, path, gruu\r\nContact: <sip:a@10.0.0.1;ob>;reg-id=1;+sip.instance=\"<urn:uuid:0000-1>\"\r\nPath: <sip:pcscf.example.com;lr>\r\n";
        let o = apply(&register(1, "c1", extra), &Aor::default(), 0).expect("ok");
        assert_eq!(o.aor.bindings[0].id, "<urn:uuid:0000-1>;reg-id=1");
        assert_eq!(
            o.aor.bindings[0].path,
            vec!["<sip:pcscf.example.com;lr>".to_string()]
        );
        let r = response(&o);
        let contact = values(&r, HeaderName::Contact).remove(0);
        assert!(contact.contains(";reg-id=1"), "{contact}");
        assert!(
            contact.contains(";+sip.instance=\"<urn:uuid:0000-1>\""),
            "{contact}"
        );
        assert!(
            contact.contains(";pub-gruu=\"sip:6505550001@example.com;gr=urn:uuid:0000-1\""),
            "{contact}"
        );
        assert_eq!(values(&r, HeaderName::Require), vec!["outbound"]);
        assert_eq!(
            values(&r, HeaderName::Path),
            vec!["<sip:pcscf.example.com;lr>"]
        );
        // The same instance from a new contact address replaces the binding.
        let moved = "Contact: <sip:a@10.0.0.9;ob>;reg-id=1;+sip.instance=\"<urn:uuid:0000-1>\"\r\n";
        let o2 = apply(&register(2, "c1", moved), &o.aor, 10).expect("ok");
        assert_eq!(o2.aor.bindings.len(), 1);
        assert_eq!(o2.aor.bindings[0].uri, "sip:a@10.0.0.9;ob");
    }

    #[test]
    fn expired_bindings_are_dropped_before_applying() {
        let o = apply(
            &register(1, "c1", "Contact: <sip:a@10.0.0.1>;expires=60\r\n"),
            &Aor::default(),
            0,
        )
        .expect("ok");
        let later = apply(
            &register(1, "c9", "Contact: <sip:b@10.0.0.2>\r\n"),
            &o.aor,
            61,
        )
        .expect("ok");
        assert_eq!(
            later.kind,
            RegisterKind::Initial,
            "the old binding had expired"
        );
        assert_eq!(later.aor.bindings.len(), 1);
    }
}
