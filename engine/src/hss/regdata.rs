//! `<ClearwaterRegData>`: registration state and the IMS subscription
//! (3GPP TS 29.228 User-Data), as the HSS cache returns them.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::request::HssError;

/// Homestead's registration states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    Registered,
    Unregistered,
    NotRegistered,
}

/// One public identity of a service profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicIdentity {
    pub identity: String,
    pub barred: bool,
}

/// A service profile: its identities and its iFCs (kept as XML for the iFC engine).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceProfile {
    pub public_identities: Vec<PublicIdentity>,
    pub initial_filter_criteria_xml: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImsSubscription {
    pub private_id: Option<String>,
    pub service_profiles: Vec<ServiceProfile>,
}

impl ImsSubscription {
    /// Every unbarred IMPU, in document order: the implicit registration set
    /// as P-Associated-URI lists it; the first is the default IMPU.
    pub fn unbarred(&self) -> impl Iterator<Item = &str> {
        self.service_profiles
            .iter()
            .flat_map(|sp| sp.public_identities.iter())
            .filter(|p| !p.barred)
            .map(|p| p.identity.as_str())
    }

    /// The default IMPU of the implicit registration set: the first
    /// unbarred one, under which its bindings are kept.
    pub fn default_impu(&self) -> Option<&str> {
        self.unbarred().next()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegData {
    pub state: RegistrationState,
    pub subscription: ImsSubscription,
}

impl RegData {
    pub fn parse(xml: &[u8]) -> Result<RegData, HssError> {
        let bad = |what: &str| HssError::Malformed(format!("reg-data: {what}"));
        let mut reader = Reader::from_reader(xml);
        reader.config_mut().trim_text(true);
        let mut path: Vec<Vec<u8>> = Vec::new();
        let mut state = None;
        let mut sub = ImsSubscription::default();
        let mut ifc_depth: Option<usize> = None;
        let mut ifc_start = 0usize;
        let mut current_identity: Option<PublicIdentity> = None;
        loop {
            let before = reader.buffer_position() as usize;
            match reader.read_event().map_err(|e| bad(&e.to_string()))? {
                Event::Start(e) => {
                    let name = e.name().as_ref().to_vec();
                    match name.as_slice() {
                        b"ServiceProfile" => sub.service_profiles.push(ServiceProfile::default()),
                        b"PublicIdentity" => {
                            current_identity = Some(PublicIdentity {
                                identity: String::new(),
                                barred: false,
                            })
                        }
                        b"InitialFilterCriteria" if ifc_depth.is_none() => {
                            ifc_depth = Some(path.len());
                            ifc_start = before;
                        }
                        _ => {}
                    }
                    path.push(name);
                }
                Event::End(e) => {
                    let name = e.name().as_ref().to_vec();
                    path.pop();
                    match name.as_slice() {
                        b"PublicIdentity" => {
                            if let (Some(p), Some(sp)) =
                                (current_identity.take(), sub.service_profiles.last_mut())
                            {
                                if p.identity.is_empty() {
                                    return Err(bad("empty Identity"));
                                }
                                sp.public_identities.push(p);
                            }
                        }
                        b"InitialFilterCriteria" if ifc_depth == Some(path.len()) => {
                            ifc_depth = None;
                            let end = reader.buffer_position() as usize;
                            if let Some(sp) = sub.service_profiles.last_mut() {
                                let text = String::from_utf8_lossy(&xml[ifc_start..end])
                                    .trim()
                                    .to_owned();
                                sp.initial_filter_criteria_xml.push(text);
                            }
                        }
                        _ => {}
                    }
                }
                Event::Text(t) => {
                    let text = t.unescape().map_err(|e| bad(&e.to_string()))?.into_owned();
                    match path.last().map(Vec::as_slice) {
                        Some(b"RegistrationState") => {
                            state = Some(match text.as_str() {
                                "REGISTERED" => RegistrationState::Registered,
                                "UNREGISTERED" => RegistrationState::Unregistered,
                                "NOT_REGISTERED" => RegistrationState::NotRegistered,
                                _ => return Err(bad("unknown RegistrationState")),
                            })
                        }
                        Some(b"PrivateID") => sub.private_id = Some(text),
                        Some(b"Identity") => {
                            if let Some(p) = current_identity.as_mut() {
                                p.identity = text;
                            }
                        }
                        Some(b"BarringIndication") => {
                            if let Some(p) = current_identity.as_mut() {
                                p.barred = text == "1" || text.eq_ignore_ascii_case("true");
                            }
                        }
                        _ => {}
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        Ok(RegData {
            state: state.ok_or_else(|| bad("no RegistrationState"))?,
            subscription: sub,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<ClearwaterRegData>
  <RegistrationState>REGISTERED</RegistrationState>
  <IMSSubscription>
    <PrivateID>6505550001@example.com</PrivateID>
    <ServiceProfile>
      <PublicIdentity><BarringIndication>1</BarringIndication><Identity>sip:barred@example.com</Identity></PublicIdentity>
      <PublicIdentity><Identity>sip:6505550001@example.com</Identity></PublicIdentity>
      <PublicIdentity><Identity>tel:+16505550001</Identity></PublicIdentity>
      <InitialFilterCriteria><Priority>0</Priority><TriggerPoint><ConditionTypeCNF>0</ConditionTypeCNF></TriggerPoint><ApplicationServer><ServerName>sip:mmtel.example.com</ServerName></ApplicationServer></InitialFilterCriteria>
    </ServiceProfile>
  </IMSSubscription>
  <ChargingAddresses><CCF priority="1">ccf1</CCF></ChargingAddresses>
</ClearwaterRegData>"#;

    #[test]
    fn reads_state_identities_barring_and_ifcs() {
        let r = RegData::parse(DOC).expect("parses");
        assert_eq!(r.state, RegistrationState::Registered);
        assert_eq!(
            r.subscription.private_id.as_deref(),
            Some("6505550001@example.com")
        );
        let unbarred: Vec<&str> = r.subscription.unbarred().collect();
        assert_eq!(
            unbarred,
            vec!["sip:6505550001@example.com", "tel:+16505550001"]
        );
        assert_eq!(
            r.subscription.default_impu(),
            Some("sip:6505550001@example.com")
        );
        let ifcs = &r.subscription.service_profiles[0].initial_filter_criteria_xml;
        assert_eq!(ifcs.len(), 1);
        assert!(
            ifcs[0].starts_with("<InitialFilterCriteria>")
                && ifcs[0].ends_with("</InitialFilterCriteria>"),
            "{}",
            ifcs[0]
        );
    }

    #[test]
    fn refuses_broken_documents() {
        assert!(
            RegData::parse(b"<ClearwaterRegData><IMSSubscription/></ClearwaterRegData>").is_err()
        );
        assert!(RegData::parse(b"<ClearwaterRegData><RegistrationState>MAYBE</RegistrationState></ClearwaterRegData>").is_err());
        assert!(
            RegData::parse(b"<ClearwaterRegData><RegistrationState>REGISTERED</Registr").is_err()
        );
    }
}
