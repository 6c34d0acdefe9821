//! Where a request or a response goes next (RFC 3261 §18.2.2, RFC 3581, and
//! the parts of RFC 3263 §4 that need no DNS: transport and port defaults).

use bytes::Bytes;
use sip_fastpath::{Scheme, Uri, Via};

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    fn from_token(t: &[u8]) -> Option<Transport> {
        if t.eq_ignore_ascii_case(b"udp") {
            Some(Transport::Udp)
        } else if t.eq_ignore_ascii_case(b"tcp") {
            Some(Transport::Tcp)
        } else if t.eq_ignore_ascii_case(b"tls") {
            Some(Transport::Tls)
        } else {
            None
        }
    }

    /// The token for a Via header.
    pub fn token(self) -> &'static [u8] {
        match self {
            Transport::Udp => b"UDP",
            Transport::Tcp => b"TCP",
            Transport::Tls => b"TLS",
        }
    }

    /// Whether the transport retransmits for us (RFC 3261 §17: no timers A/E).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    fn default_port(self) -> u16 {
        match self {
            Transport::Tls => 5061,
            Transport::Udp | Transport::Tcp => 5060,
        }
    }
}

/// A next hop: a host name or address literal to resolve, a port and a transport.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// As written; IPv6 keeps its brackets.
    pub host: Bytes,
    pub port: u16,
    pub transport: Transport,
}

/// The next hop for a request sent to `uri` (the top Route's, or the Request-URI):
/// `maddr` overrides the host, `transport` picks the protocol (sips means TLS),
/// an absent port is the transport's default. Resolution of names (RFC 3263
/// NAPTR/SRV) is the resolver's job; this says what to resolve.
pub fn request_target(uri: &Uri<'_>) -> Option<Target> {
    if !matches!(uri.scheme, Scheme::Sip | Scheme::Sips) {
        return None;
    }
    let transport = match uri.transport().and_then(Transport::from_token) {
        Some(t) => t,
        None if uri.scheme == Scheme::Sips => Transport::Tls,
        None => Transport::Udp,
    };
    let host = uri.params.value(b"maddr").unwrap_or(uri.host);
    Some(Target {
        host: Bytes::copy_from_slice(host),
        port: uri.port.unwrap_or(transport.default_port()),
        transport,
    })
}

/// Where to send a response (§18.2.2 with RFC 3581): the top Via's `received`
/// address if present, else its sent-by host; the `rport` value if filled in,
/// else the sent-by port, else the default.
pub fn response_target(via: &Via<'_>) -> Target {
    let transport = Transport::from_token(via.transport).unwrap_or(Transport::Udp);
    let host = via.received().unwrap_or(via.host);
    let port = match via.rport() {
        Some(Some(p)) => p,
        _ => via.port.unwrap_or(transport.default_port()),
    };
    Target {
        host: Bytes::copy_from_slice(host),
        port,
        transport,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &'static [u8]) -> Uri<'static> {
        Uri::parse(s).expect("uri")
    }

    #[test]
    fn request_targets_follow_transport_port_and_maddr() {
        let t = request_target(&uri(b"sip:scscf.example.com:5054;transport=tcp;lr")).expect("sip");
        assert_eq!(
            (&t.host[..], t.port, t.transport),
            (&b"scscf.example.com"[..], 5054, Transport::Tcp)
        );
        let t = request_target(&uri(b"sips:bob@biloxi.com")).expect("sips");
        assert_eq!((t.port, t.transport), (5061, Transport::Tls));
        let t = request_target(&uri(b"sip:bob@biloxi.com;maddr=10.0.0.9")).expect("maddr");
        assert_eq!(
            (&t.host[..], t.port, t.transport),
            (&b"10.0.0.9"[..], 5060, Transport::Udp)
        );
        assert_eq!(request_target(&uri(b"tel:+15551234")), None);
    }

    #[test]
    fn responses_go_to_received_and_rport() {
        let v =
            Via::parse(b"SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKx;received=192.0.2.7;rport=40000")
                .expect("via");
        let t = response_target(&v);
        assert_eq!((&t.host[..], t.port), (&b"192.0.2.7"[..], 40000));
        let v = Via::parse(b"SIP/2.0/TCP ua.example.com;branch=z9hG4bKx").expect("via");
        let t = response_target(&v);
        assert_eq!(
            (&t.host[..], t.port, t.transport),
            (&b"ua.example.com"[..], 5060, Transport::Tcp)
        );
        let v = Via::parse(b"SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKx;rport").expect("via");
        assert_eq!(
            response_target(&v).port,
            5062,
            "a bare rport was never filled in"
        );
    }
}
