//! `redis://host[:port][/db]` addresses, as in RIPTIDE_TEST_REDIS_URL.

use crate::StoreError;

/// Where a Redis server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisAddr {
    pub host: String,
    pub port: u16,
    /// The database to SELECT; 0 is Redis's default.
    pub db: u32,
}

impl RedisAddr {
    /// `host:port`, for `ToSocketAddrs`.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Parses `redis://host[:port][/db]` (no credentials, no TLS).
pub fn parse_redis_url(url: &str) -> Result<RedisAddr, StoreError> {
    let bad = |reason| StoreError::BadUrl {
        url: url.to_owned(),
        reason,
    };
    let rest = url
        .strip_prefix("redis://")
        .ok_or_else(|| bad("not a redis:// url"))?;
    let (authority, db) = match rest.split_once('/') {
        Some((authority, "")) => (authority, 0),
        Some((authority, db)) => (
            authority,
            db.parse().map_err(|_| bad("bad database number"))?,
        ),
        None => (rest, 0),
    };
    if authority.contains('@') {
        return Err(bad("credentials are not supported"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("unclosed IPv6 bracket"))?;
        match after.strip_prefix(':') {
            Some(port) => (host, port.parse().map_err(|_| bad("bad port"))?),
            None if after.is_empty() => (host, 6379),
            None => return Err(bad("junk after IPv6 address")),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, port.parse().map_err(|_| bad("bad port"))?),
            None => (authority, 6379),
        }
    };
    if host.is_empty() {
        return Err(bad("empty host"));
    }
    Ok(RedisAddr {
        host: host.to_owned(),
        port,
        db,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_and_db() {
        let addr = parse_redis_url("redis://127.0.0.1:6379").unwrap();
        assert_eq!(addr.host_port(), "127.0.0.1:6379");
        assert_eq!(addr.db, 0);
        assert_eq!(
            parse_redis_url("redis://cache/3").unwrap().host_port(),
            "cache:6379"
        );
        assert_eq!(parse_redis_url("redis://cache/3").unwrap().db, 3);
        assert_eq!(
            parse_redis_url("redis://[::1]:7000/").unwrap().host_port(),
            "[::1]:7000"
        );
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        for url in [
            "http://x",
            "redis://",
            "redis://u:p@x",
            "redis://x:port",
            "redis://x/db",
        ] {
            assert!(
                matches!(parse_redis_url(url), Err(StoreError::BadUrl { .. })),
                "{url}"
            );
        }
    }
}
