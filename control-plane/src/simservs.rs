//! Validation of simservs documents (ETSI TS 183 023 / 3GPP TS 24.623) as
//! Homer's XSD check did: well-formed XML, root `<simservs>`, only known
//! services, and the values the MMTel services read are valid.

use crate::xml::{XmlError, parse_document};

/// The services a simservs document may configure.
pub const KNOWN_SERVICES: &[&str] = &[
    "originating-identity-presentation",
    "originating-identity-presentation-restriction",
    "terminating-identity-presentation",
    "terminating-identity-presentation-restriction",
    "communication-diversion",
    "incoming-communication-barring",
    "outgoing-communication-barring",
    "communication-waiting",
    "conference",
    "explicit-communication-transfer",
];

/// Shortest and longest no-reply timer of communication diversion, seconds.
pub const NO_REPLY_TIMER_S_MIN: u32 = 5;
pub const NO_REPLY_TIMER_S_MAX: u32 = 180;

/// Why a simservs document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimservsError {
    #[error("{0}")]
    Xml(#[from] XmlError),
    #[error("unknown service element <{0}>")]
    UnknownService(String),
    #[error("<{element}> has an invalid active attribute {value:?} (expected true or false)")]
    BadActive { element: String, value: String },
    #[error(
        "default-behaviour {0:?} is invalid (expected presentation-restricted or presentation-not-restricted)"
    )]
    BadDefaultBehaviour(String),
    #[error(
        "NoReplyTimer {0:?} is invalid (expected {NO_REPLY_TIMER_S_MIN}..={NO_REPLY_TIMER_S_MAX})"
    )]
    BadNoReplyTimer(String),
}

fn check_active(element: &str, source: &str) -> Result<(), SimservsError> {
    // The attribute sits in the start tag: everything up to the first '>'.
    let tag = source.split('>').next().unwrap_or_default();
    if let Some(i) = tag.find("active=") {
        let rest = &tag[i + "active=".len()..];
        let quote = rest.chars().next().unwrap_or('"');
        let value: String = rest.chars().skip(1).take_while(|c| *c != quote).collect();
        if value != "true" && value != "false" {
            return Err(SimservsError::BadActive {
                element: element.to_owned(),
                value,
            });
        }
    }
    Ok(())
}

fn element_text<'a>(source: &'a str, local_name: &str) -> Option<&'a str> {
    let open = source.find(&format!("{local_name}>"))?;
    let after = &source[open + local_name.len() + 1..];
    let end = after.find("</")?;
    Some(after[..end].trim())
}

/// Checks a simservs document; the error is the reason Homer would give.
pub fn validate(body: &str) -> Result<(), SimservsError> {
    let doc = parse_document(body)?;
    if doc.root != "simservs" {
        return Err(XmlError::WrongRoot {
            expected: "simservs",
            found: doc.root,
        }
        .into());
    }
    for child in &doc.children {
        if !KNOWN_SERVICES.contains(&child.name.as_str()) {
            return Err(SimservsError::UnknownService(child.name.clone()));
        }
        check_active(&child.name, &child.source)?;
        match child.name.as_str() {
            "originating-identity-presentation-restriction"
            | "terminating-identity-presentation-restriction" => {
                if let Some(v) = element_text(&child.source, "default-behaviour") {
                    if v != "presentation-restricted" && v != "presentation-not-restricted" {
                        return Err(SimservsError::BadDefaultBehaviour(v.to_owned()));
                    }
                }
            }
            "communication-diversion" => {
                if let Some(v) = element_text(&child.source, "NoReplyTimer") {
                    match v.parse::<u32>() {
                        Ok(s) if (NO_REPLY_TIMER_S_MIN..=NO_REPLY_TIMER_S_MAX).contains(&s) => {}
                        _ => return Err(SimservsError::BadNoReplyTimer(v.to_owned())),
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The document Ellis stored for a new line.
pub const DEFAULT_DOCUMENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<simservs xmlns="http://uri.etsi.org/ngn/params/xml/simservs/xcap" xmlns:cp="urn:ietf:params:xml:ns:common-policy">
  <originating-identity-presentation active="true"/>
  <originating-identity-presentation-restriction active="true">
    <default-behaviour>presentation-not-restricted</default-behaviour>
  </originating-identity-presentation-restriction>
  <communication-diversion active="false"/>
  <incoming-communication-barring active="false"/>
  <outgoing-communication-barring active="false"/>
</simservs>"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_default_document() {
        assert_eq!(validate(DEFAULT_DOCUMENT), Ok(()));
    }

    #[test]
    fn accepts_diversion_rules() {
        let doc = r#"<simservs xmlns:cp="urn:ietf:params:xml:ns:common-policy"><communication-diversion active="true"><NoReplyTimer>20</NoReplyTimer><cp:ruleset><cp:rule id="r1"><cp:conditions><busy/></cp:conditions><cp:actions><forward-to><target>sip:voicemail@example.com</target></forward-to></cp:actions></cp:rule></cp:ruleset></communication-diversion></simservs>"#;
        assert_eq!(validate(doc), Ok(()));
    }

    #[test]
    fn refuses_invalid_documents_with_the_reason() {
        assert!(matches!(
            validate("<simservs>"),
            Err(SimservsError::Xml(XmlError::Malformed(_)))
        ));
        assert!(matches!(
            validate("<other/>"),
            Err(SimservsError::Xml(XmlError::WrongRoot { .. }))
        ));
        assert_eq!(
            validate("<simservs><teleportation/></simservs>"),
            Err(SimservsError::UnknownService("teleportation".into()))
        );
        assert!(matches!(
            validate(r#"<simservs><communication-diversion active="yes"/></simservs>"#),
            Err(SimservsError::BadActive { .. })
        ));
        assert!(matches!(
            validate(
                "<simservs><originating-identity-presentation-restriction><default-behaviour>hidden</default-behaviour></originating-identity-presentation-restriction></simservs>"
            ),
            Err(SimservsError::BadDefaultBehaviour(_))
        ));
        assert!(matches!(
            validate(
                "<simservs><communication-diversion><NoReplyTimer>999</NoReplyTimer></communication-diversion></simservs>"
            ),
            Err(SimservsError::BadNoReplyTimer(_))
        ));
    }
}
