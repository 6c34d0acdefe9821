//! The TS 29.228 XML Homestead-prov stores and Homestead serves: parsing a
//! `<PublicIdentity>` and a `<ServiceProfile>` of iFCs as provisioned, and
//! writing `<IMSSubscription>` and `<ClearwaterRegData>`.
//!
//! Documents are kept as text: what was provisioned is spliced back verbatim
//! into the User-Data, so an iFC the engine understands survives untouched.

use quick_xml::Reader;
use quick_xml::events::Event;

/// Largest XML body accepted (a service profile with many iFCs fits easily).
pub const XML_BODY_BYTES_MAX: usize = 256 * 1024;

/// Why an XML body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("not well-formed XML: {0}")]
    Malformed(String),
    #[error("expected root element <{expected}>, found <{found}>")]
    WrongRoot {
        expected: &'static str,
        found: String,
    },
    #[error("no root element")]
    Empty,
    #[error("<{0}> is missing")]
    Missing(&'static str),
    #[error("<{element}> has an invalid value {value:?}")]
    InvalidValue {
        element: &'static str,
        value: String,
    },
    #[error("document larger than {XML_BODY_BYTES_MAX} bytes")]
    TooLarge,
}

/// An element directly under the root: its local name, its text (when it has
/// only text) and its exact source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub name: String,
    pub text: String,
    pub source: String,
}

/// A checked document: the root element's local name and source, its
/// attributes, and its direct children in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub root: String,
    pub root_source: String,
    pub children: Vec<Child>,
}

fn local(name: &[u8]) -> String {
    let n = match name.iter().rposition(|b| *b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    String::from_utf8_lossy(n).into_owned()
}

/// Checks that `body` is one well-formed element tree and returns its shape.
pub fn parse_document(body: &str) -> Result<Document, XmlError> {
    if body.len() > XML_BODY_BYTES_MAX {
        return Err(XmlError::TooLarge);
    }
    let mut reader = Reader::from_str(body);
    reader.config_mut().trim_text(true);
    let mut depth = 0usize;
    let mut root: Option<(String, usize)> = None;
    let mut root_source = None;
    let mut children = Vec::new();
    let mut child: Option<(String, usize, String)> = None;
    let malformed = |e: &dyn std::fmt::Display| XmlError::Malformed(e.to_string());
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| malformed(&e))?;
        let after = reader.buffer_position() as usize;
        match event {
            Event::Start(e) => {
                let name = local(e.name().as_ref());
                match depth {
                    0 if root_source.is_some() => {
                        return Err(XmlError::Malformed("more than one root element".into()));
                    }
                    0 => root = Some((name, before)),
                    1 => child = Some((name, before, String::new())),
                    _ => {}
                }
                depth += 1;
            }
            Event::Empty(e) => {
                let name = local(e.name().as_ref());
                let source = body
                    .get(before..after)
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                match depth {
                    0 if root_source.is_some() => {
                        return Err(XmlError::Malformed("more than one root element".into()));
                    }
                    0 => {
                        root = Some((name, before));
                        root_source = Some(source);
                    }
                    1 => children.push(Child {
                        name,
                        text: String::new(),
                        source,
                    }),
                    _ => {}
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                match depth {
                    0 => {
                        let start = root.as_ref().map(|r| r.1).unwrap_or(0);
                        root_source =
                            Some(body.get(start..after).unwrap_or_default().trim().to_owned());
                    }
                    1 => {
                        if let Some((name, start, text)) = child.take() {
                            children.push(Child {
                                name,
                                text,
                                source: body
                                    .get(start..after)
                                    .unwrap_or_default()
                                    .trim()
                                    .to_owned(),
                            });
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) => {
                if depth == 0 {
                    return Err(XmlError::Malformed("text outside the root element".into()));
                }
                let text = t.unescape().map_err(|e| malformed(&e))?;
                if depth == 2 {
                    if let Some(c) = child.as_mut() {
                        c.2.push_str(&text);
                    }
                }
            }
            Event::CData(t) => {
                if depth == 0 {
                    return Err(XmlError::Malformed("CDATA outside the root element".into()));
                }
                if depth == 2 {
                    if let Some(c) = child.as_mut() {
                        c.2.push_str(&String::from_utf8_lossy(&t));
                    }
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if depth != 0 {
        return Err(XmlError::Malformed("unexpected end of document".into()));
    }
    match (root, root_source) {
        (Some((root, _)), Some(root_source)) => Ok(Document {
            root,
            root_source,
            children,
        }),
        _ => Err(XmlError::Empty),
    }
}

/// A provisioned `<PublicIdentity>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicIdentityDoc {
    pub identity: String,
    pub barred: bool,
    /// The element as provisioned, without any XML declaration.
    pub xml: String,
}

/// Parses the body of `PUT .../public_ids/<impu>`: one complete `<PublicIdentity>`.
pub fn parse_public_identity(body: &str) -> Result<PublicIdentityDoc, XmlError> {
    let doc = parse_document(body)?;
    if doc.root != "PublicIdentity" {
        return Err(XmlError::WrongRoot {
            expected: "PublicIdentity",
            found: doc.root,
        });
    }
    let identity = doc
        .children
        .iter()
        .find(|c| c.name == "Identity")
        .map(|c| c.text.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or(XmlError::Missing("Identity"))?;
    let barred = match doc.children.iter().find(|c| c.name == "BarringIndication") {
        None => false,
        Some(c) => match c.text.trim() {
            "0" | "false" => false,
            "1" | "true" => true,
            other => {
                return Err(XmlError::InvalidValue {
                    element: "BarringIndication",
                    value: other.to_owned(),
                });
            }
        },
    };
    Ok(PublicIdentityDoc {
        identity,
        barred,
        xml: doc.root_source,
    })
}

/// A provisioned `<ServiceProfile>` of iFCs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterCriteriaDoc {
    /// The document as provisioned (returned by GET).
    pub document: String,
    /// Its `<InitialFilterCriteria>` elements, concatenated, for the User-Data.
    pub ifcs: String,
}

/// Parses the body of `PUT .../filter_criteria`: a `<ServiceProfile>` with at
/// least one `<InitialFilterCriteria>`.
pub fn parse_filter_criteria(body: &str) -> Result<FilterCriteriaDoc, XmlError> {
    let doc = parse_document(body)?;
    if doc.root != "ServiceProfile" {
        return Err(XmlError::WrongRoot {
            expected: "ServiceProfile",
            found: doc.root,
        });
    }
    let ifcs: String = doc
        .children
        .iter()
        .filter(|c| c.name == "InitialFilterCriteria")
        .map(|c| c.source.as_str())
        .collect();
    if ifcs.is_empty() {
        return Err(XmlError::Missing("InitialFilterCriteria"));
    }
    Ok(FilterCriteriaDoc {
        document: body.trim().to_owned(),
        ifcs,
    })
}

/// Escapes text for an XML element body.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(text)
}

/// A `<PublicIdentity>` element for `impu`, as Ellis writes it.
pub fn public_identity_xml(impu: &str, barred: bool) -> String {
    format!(
        "<PublicIdentity><BarringIndication>{}</BarringIndication><Identity>{}</Identity></PublicIdentity>",
        u8::from(barred),
        escape(impu)
    )
}

/// One service profile of a subscription, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileXml {
    /// `<PublicIdentity>` elements, the default IMPU first.
    pub public_identities: Vec<String>,
    /// `<InitialFilterCriteria>` elements.
    pub ifcs: String,
}

/// The IMS subscription of an IRS (TS 29.228 User-Data).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    pub private_id: Option<String>,
    pub profiles: Vec<ProfileXml>,
}

/// Homestead's registration states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegState {
    Registered,
    Unregistered,
    NotRegistered,
}

impl RegState {
    pub fn as_str(self) -> &'static str {
        match self {
            RegState::Registered => "REGISTERED",
            RegState::Unregistered => "UNREGISTERED",
            RegState::NotRegistered => "NOT_REGISTERED",
        }
    }

    pub fn parse(s: &str) -> Option<RegState> {
        match s {
            "REGISTERED" => Some(RegState::Registered),
            "UNREGISTERED" => Some(RegState::Unregistered),
            "NOT_REGISTERED" => Some(RegState::NotRegistered),
            _ => None,
        }
    }
}

const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

fn write_subscription(sub: &Subscription, out: &mut String) {
    out.push_str("<IMSSubscription xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:noNamespaceSchemaLocation=\"CxDataType.xsd\">");
    if let Some(p) = &sub.private_id {
        out.push_str("<PrivateID>");
        out.push_str(&escape(p));
        out.push_str("</PrivateID>");
    }
    for profile in &sub.profiles {
        out.push_str("<ServiceProfile>");
        for p in &profile.public_identities {
            out.push_str(p);
        }
        out.push_str(&profile.ifcs);
        out.push_str("</ServiceProfile>");
    }
    out.push_str("</IMSSubscription>");
}

/// `<IMSSubscription>` as a document (provisioning's `GET /impu/<impu>`).
pub fn ims_subscription_document(sub: &Subscription) -> String {
    let mut out = String::from(DECL);
    write_subscription(sub, &mut out);
    out
}

/// `<ClearwaterRegData>` (the HSS cache's reg-data answer).
pub fn reg_data_document(state: RegState, sub: &Subscription) -> String {
    let mut out = String::from(DECL);
    out.push_str("<ClearwaterRegData><RegistrationState>");
    out.push_str(state.as_str());
    out.push_str("</RegistrationState>");
    write_subscription(sub, &mut out);
    out.push_str("</ClearwaterRegData>");
    out
}

/// The `<ServiceProfile>` document GET `.../filter_criteria` answers for
/// stored iFCs.
pub fn service_profile_document(ifcs: &str) -> String {
    format!("{DECL}<ServiceProfile>{ifcs}</ServiceProfile>")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_ellis_public_identity() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<PublicIdentity><BarringIndication>1</BarringIndication><Identity>sip:6505550001@example.com</Identity></PublicIdentity>"#;
        let p = parse_public_identity(body).unwrap();
        assert_eq!(p.identity, "sip:6505550001@example.com");
        assert!(p.barred);
        assert!(p.xml.starts_with("<PublicIdentity>") && p.xml.ends_with("</PublicIdentity>"));
    }

    #[test]
    fn refuses_bad_public_identities() {
        assert!(matches!(
            parse_public_identity("<PublicIdentity><Identity>x</Identity>"),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(
            parse_public_identity("<ServiceProfile/>"),
            Err(XmlError::WrongRoot { .. })
        ));
        assert_eq!(
            parse_public_identity(
                "<PublicIdentity><BarringIndication>0</BarringIndication></PublicIdentity>"
            ),
            Err(XmlError::Missing("Identity"))
        );
        assert!(matches!(
            parse_public_identity(
                "<PublicIdentity><Identity>sip:a@b</Identity><BarringIndication>maybe</BarringIndication></PublicIdentity>"
            ),
            Err(XmlError::InvalidValue { .. })
        ));
        assert!(matches!(parse_public_identity(""), Err(XmlError::Empty)));
        assert!(matches!(
            parse_public_identity("<a/><b/>"),
            Err(XmlError::Malformed(_))
        ));
    }

    #[test]
    fn extracts_ifcs_from_a_service_profile() {
        let body = "<ServiceProfile><InitialFilterCriteria><Priority>1</Priority></InitialFilterCriteria>\n<InitialFilterCriteria><Priority>2</Priority></InitialFilterCriteria></ServiceProfile>";
        let f = parse_filter_criteria(body).unwrap();
        assert_eq!(
            f.ifcs,
            "<InitialFilterCriteria><Priority>1</Priority></InitialFilterCriteria><InitialFilterCriteria><Priority>2</Priority></InitialFilterCriteria>"
        );
        assert_eq!(
            parse_filter_criteria("<ServiceProfile></ServiceProfile>"),
            Err(XmlError::Missing("InitialFilterCriteria"))
        );
    }

    #[test]
    fn reg_data_escapes_the_private_id() {
        let sub = Subscription {
            private_id: Some("a<b@example.com".into()),
            profiles: vec![ProfileXml {
                public_identities: vec![public_identity_xml("sip:a@example.com", false)],
                ifcs: String::new(),
            }],
        };
        let doc = reg_data_document(RegState::Unregistered, &sub);
        assert!(doc.contains("<PrivateID>a&lt;b@example.com</PrivateID>"));
        assert!(doc.contains("<RegistrationState>UNREGISTERED</RegistrationState>"));
    }
}
