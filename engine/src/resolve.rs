//! Turning a next hop into socket addresses. This resolver knows IP
//! literals and a static host table from config; RFC 3263 DNS (NAPTR, SRV,
//! A/AAAA) arrives with the I-CSCF/ENUM work behind the same trait.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use crate::proxy::Target;

/// Addresses for one next hop, in the order to try them (no allocation for
/// the usual one or two).
pub type Addrs = smallvec::SmallVec<[SocketAddr; 2]>;

/// Resolves next hops to addresses, in the order to try them.
pub trait Resolver {
    fn resolve(&self, target: &Target) -> Addrs;
}

/// IP literals, plus names from a static table (`name → addresses`).
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    hosts: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    pub fn new() -> Self {
        StaticResolver::default()
    }

    /// Add a name (case-insensitive) and its addresses.
    pub fn insert(&mut self, name: &str, addrs: Vec<IpAddr>) {
        self.hosts.insert(name.to_ascii_lowercase(), addrs);
    }
}

fn literal(host: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(host).ok()?;
    let text = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    text.parse().ok()
}

impl Resolver for StaticResolver {
    fn resolve(&self, target: &Target) -> Addrs {
        if let Some(ip) = literal(&target.host) {
            return smallvec::smallvec![SocketAddr::new(ip, target.port)];
        }
        let Ok(name) = std::str::from_utf8(&target.host) else {
            return Addrs::new();
        };
        // The table is keyed in lower case; most names already are.
        let ips = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.hosts.get(&name.to_ascii_lowercase())
        } else {
            self.hosts.get(name)
        };
        ips.map(|ips| {
            ips.iter()
                .map(|ip| SocketAddr::new(*ip, target.port))
                .collect()
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::Transport;
    use bytes::Bytes;

    fn target(host: &'static [u8], port: u16) -> Target {
        Target {
            host: Bytes::from_static(host),
            port,
            transport: Transport::Udp,
        }
    }

    #[test]
    fn literals_and_table_entries_resolve_unknown_names_do_not() {
        let mut r = StaticResolver::new();
        r.insert(
            "UAS.example.com",
            vec!["127.0.0.1".parse().expect("ip"), "::1".parse().expect("ip")],
        );
        assert_eq!(
            r.resolve(&target(b"10.0.0.2", 5070)).to_vec(),
            vec!["10.0.0.2:5070".parse().expect("addr")]
        );
        assert_eq!(
            r.resolve(&target(b"[::1]", 5060)).to_vec(),
            vec!["[::1]:5060".parse().expect("addr")]
        );
        assert_eq!(
            r.resolve(&target(b"uas.example.com", 5080)).to_vec(),
            vec![
                "127.0.0.1:5080".parse().expect("addr"),
                "[::1]:5080".parse().expect("addr")
            ]
        );
        assert!(r.resolve(&target(b"nowhere.example.com", 5060)).is_empty());
    }
}
