//! Which URIs name this proxy: its own addresses plus Clearwater's `alias_list`.

use sip_fastpath::Uri;

/// The host names and addresses this element answers to, and its SIP ports.
#[derive(Debug, Clone)]
pub struct LocalIdentity {
    /// Lower-case host names and address literals (IPv6 with brackets).
    hosts: Vec<Box<[u8]>>,
    ports: Vec<u16>,
}

impl LocalIdentity {
    /// `hosts` are this node's names and addresses plus `alias_list`; `ports` its SIP ports.
    pub fn new<I, S>(hosts: I, ports: &[u16]) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        LocalIdentity {
            hosts: hosts
                .into_iter()
                .map(|h| h.as_ref().to_ascii_lowercase().into_boxed_slice())
                .collect(),
            ports: ports.to_vec(),
        }
    }

    /// Whether `host` is one of ours (case-insensitive).
    pub fn is_local_host(&self, host: &[u8]) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Whether the URI names this element: our host, and our port (an absent
    /// port means the transport's default, 5060 or 5061 for sips).
    pub fn is_local_uri(&self, uri: &Uri<'_>) -> bool {
        if !self.is_local_host(uri.host) {
            return false;
        }
        let default = if uri.scheme == sip_fastpath::Scheme::Sips {
            5061
        } else {
            5060
        };
        let port = uri.port.unwrap_or(default);
        self.ports.is_empty() || self.ports.contains(&port)
    }

    /// Whether a Via sent-by (`host[:port]`) is ours.
    pub fn is_local_sent_by(&self, host: &[u8], port: Option<u16>) -> bool {
        self.is_local_host(host)
            && (self.ports.is_empty() || self.ports.contains(&port.unwrap_or(5060)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hosts_case_insensitively_and_ports_exactly() {
        let me = LocalIdentity::new(
            ["scscf.example.com", "127.0.0.1", "Alias.Example.Com"],
            &[5054, 5060],
        );
        let u = |s: &'static [u8]| Uri::parse(s).expect("uri");
        assert!(me.is_local_uri(&u(b"sip:SCSCF.example.com:5054;lr")));
        assert!(
            me.is_local_uri(&u(b"sip:alias.example.com;lr")),
            "no port means 5060"
        );
        assert!(!me.is_local_uri(&u(b"sip:scscf.example.com:5070")));
        assert!(!me.is_local_uri(&u(b"sip:other.example.com:5054")));
        assert!(me.is_local_sent_by(b"127.0.0.1", Some(5054)));
    }
}
