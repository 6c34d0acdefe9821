//! Transaction matching keys (RFC 3261 §17.1.3 and §17.2.3, with the RFC 2543
//! fallback). Keys hold zero-copy `Bytes` slices of the message.

use bytes::Bytes;

use crate::error::ParseError;
use crate::message::Message;
use crate::method::Method;
use crate::span::Span;
use crate::via::BRANCH_MAGIC;

/// Identifies the server transaction a request belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerKey {
    /// §17.2.3: the top Via's branch (with the magic cookie) and sent-by, and the
    /// method, with ACK folded into INVITE (an ACK for a non-2xx final response
    /// belongs to the INVITE transaction).
    Branch {
        branch: Bytes,
        sent_by: Bytes,
        method: Bytes,
    },
    /// RFC 2543 peers (no magic cookie): Request-URI, From tag, Call-ID, CSeq
    /// number, the whole top Via, and the method (ACK folded into INVITE).
    Rfc2543 {
        request_uri: Bytes,
        from_tag: Bytes,
        call_id: Bytes,
        cseq: u32,
        top_via: Bytes,
        method: Bytes,
    },
}

/// Identifies the client transaction a response belongs to (§17.1.3): the top
/// Via branch we generated and the CSeq method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub branch: Bytes,
    pub method: Bytes,
}

const INVITE: Bytes = Bytes::from_static(b"INVITE");

impl Message {
    fn share(&self, part: &[u8]) -> Bytes {
        self.slice(Span::within(self.as_bytes(), part))
    }

    /// The server transaction key of a request.
    pub fn server_key(&self) -> Result<ServerKey, ParseError> {
        let method = match self.method() {
            Some(Method::Ack) => INVITE,
            Some(_) => self.share(self.method_bytes().unwrap_or_default()),
            None => return Err(ParseError::StartLine),
        };
        let via = self.top_via()?;
        if let Some(branch) = via.branch().filter(|b| b.starts_with(BRANCH_MAGIC)) {
            return Ok(ServerKey::Branch {
                branch: self.share(branch),
                sent_by: self.share(via.sent_by),
                method,
            });
        }
        let from = self.from()?;
        Ok(ServerKey::Rfc2543 {
            request_uri: self.share(self.request_uri_bytes().unwrap_or_default()),
            from_tag: from.tag().map(|t| self.share(t)).unwrap_or_default(),
            call_id: self.share(self.call_id()?),
            cseq: self.cseq()?.number,
            top_via: self.share(via.raw()),
            method,
        })
    }

    /// The client transaction key of a response (or of a request we send).
    pub fn client_key(&self) -> Result<ClientKey, ParseError> {
        let via = self.top_via()?;
        let branch = via
            .branch()
            .ok_or(ParseError::Header(crate::HeaderName::Via))?;
        let cseq = self.cseq()?;
        Ok(ClientKey {
            branch: self.share(branch),
            method: self.share(cseq.method_bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    fn parse(b: &'static [u8]) -> Message {
        Message::parse(Bytes::from_static(b), &Limits::default()).expect("parses")
    }

    #[test]
    fn ack_for_a_failure_matches_its_invite_and_cancel_does_not() {
        let invite = parse(b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h:5060;branch=z9hG4bKabc\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n");
        let ack = parse(b"ACK sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h:5060;branch=z9hG4bKabc\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 ACK\r\n\r\n");
        let cancel = parse(b"CANCEL sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h:5060;branch=z9hG4bKabc\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 CANCEL\r\n\r\n");
        assert_eq!(invite.server_key(), ack.server_key());
        assert_ne!(invite.server_key(), cancel.server_key());
        assert!(matches!(invite.server_key(), Ok(ServerKey::Branch { .. })));
    }

    #[test]
    fn same_branch_from_another_sender_is_another_transaction() {
        let a = parse(b"OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h1;branch=z9hG4bKabc\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n");
        let b = parse(b"OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h2;branch=z9hG4bKabc\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n");
        assert_ne!(a.server_key(), b.server_key());
    }

    #[test]
    fn rfc2543_requests_fall_back_to_dialog_fields() {
        let a = parse(b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=oldstyle\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 5 INVITE\r\n\r\n");
        match a.server_key() {
            Ok(ServerKey::Rfc2543 {
                cseq,
                call_id,
                from_tag,
                ..
            }) => {
                assert_eq!(cseq, 5);
                assert_eq!(&call_id[..], b"c");
                assert_eq!(&from_tag[..], b"1");
            }
            other => panic!("expected an RFC 2543 key, got {other:?}"),
        }
    }

    #[test]
    fn responses_match_by_branch_and_cseq_method() {
        let r = parse(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP us;branch=z9hG4bK1x\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 CANCEL\r\n\r\n");
        let k = r.client_key().expect("key");
        assert_eq!(&k.branch[..], b"z9hG4bK1x");
        assert_eq!(&k.method[..], b"CANCEL");
    }
}
