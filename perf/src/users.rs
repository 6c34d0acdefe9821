//! Simulated subscribers: Clearwater's stress CSV, or a numeric range with one password.

use std::collections::HashSet;

/// One subscriber the generator registers as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The directory number: the user part of `sip:<dn>@<domain>`.
    pub dn: String,
    /// The private identity used as the digest username (`<dn>@<domain>`).
    pub auth_username: String,
    pub password: String,
    pub domain: String,
}

impl User {
    /// `sip:<dn>@<domain>`.
    pub fn public_id(&self) -> String {
        format!("sip:{}@{}", self.dn, self.domain)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsersError {
    #[error("line {line}: {reason}")]
    BadLine { line: usize, reason: &'static str },
    #[error(
        "bad range {0:?}: expected FIRST..LAST with FIRST <= LAST, both numbers of equal width"
    )]
    BadRange(String),
    #[error("no users")]
    Empty,
}

/// Users `first..last` (inclusive), each `<dn>@<domain>` with the same password.
pub fn range(spec: &str, password: &str, domain: &str) -> Result<Vec<User>, UsersError> {
    let bad = || UsersError::BadRange(spec.to_owned());
    let (a, b) = spec.split_once("..").ok_or_else(bad)?;
    let width = a.len();
    let first: u64 = a.parse().map_err(|_| bad())?;
    let last: u64 = b.parse().map_err(|_| bad())?;
    if first > last || b.len() != width {
        return Err(bad());
    }
    Ok((first..=last)
        .map(|n| {
            let dn = format!("{n:0width$}");
            User {
                auth_username: format!("{dn}@{domain}"),
                dn,
                password: password.to_owned(),
                domain: domain.to_owned(),
            }
        })
        .collect())
}

/// Clearwater's stress users file: lines
/// `dn;[authentication username=dn@domain password=pw];peer_dn;[authentication ...]`,
/// optionally after a SIPp `SEQUENTIAL`/`RANDOM`/`USER` line. Each distinct
/// dn becomes one user (the peer is a user too). `domain` is used when the
/// username has no `@`.
pub fn parse_csv(text: &str, domain: &str) -> Result<Vec<User>, UsersError> {
    let mut users = Vec::new();
    let mut seen = HashSet::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty()
            || line.starts_with('#')
            || matches!(line, "SEQUENTIAL" | "RANDOM" | "USER" | "USERS")
        {
            continue;
        }
        let fields: Vec<&str> = line.split(';').map(str::trim).collect();
        let mut j = 0;
        let mut any = false;
        while j < fields.len() {
            let dn = fields[j];
            if dn.is_empty() {
                j += 1;
                continue;
            }
            let auth = fields.get(j + 1).copied().ok_or(UsersError::BadLine {
                line: line_no,
                reason: "a dn without its [authentication ...] field",
            })?;
            let user = parse_auth(dn, auth, domain).ok_or(UsersError::BadLine {
                line: line_no,
                reason: "expected [authentication username=U password=P]",
            })?;
            if seen.insert(user.dn.clone()) {
                users.push(user);
            }
            any = true;
            j += 2;
        }
        if !any {
            return Err(UsersError::BadLine {
                line: line_no,
                reason: "no user on the line",
            });
        }
    }
    if users.is_empty() {
        return Err(UsersError::Empty);
    }
    Ok(users)
}

fn parse_auth(dn: &str, field: &str, default_domain: &str) -> Option<User> {
    if !dn.bytes().all(|c| c.is_ascii_graphic()) {
        return None;
    }
    let inner = field.strip_prefix('[')?.strip_suffix(']')?.trim();
    let mut words = inner.split_whitespace();
    if words.next()? != "authentication" {
        return None;
    }
    let (mut username, mut password) = (None, None);
    for w in words {
        match w.split_once('=') {
            Some(("username", v)) => username = Some(v),
            Some(("password", v)) => password = Some(v),
            _ => return None,
        }
    }
    let username = username?;
    let domain = match username.split_once('@') {
        Some((_, d)) if !d.is_empty() => d,
        Some(_) => return None,
        None => default_domain,
    };
    let auth_username = if username.contains('@') {
        username.to_owned()
    } else {
        format!("{username}@{domain}")
    };
    Some(User {
        dn: dn.to_owned(),
        auth_username,
        password: password?.to_owned(),
        domain: domain.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_clearwater_stress_lines_with_peers_once_each() -> Result<(), UsersError> {
        let text = "SEQUENTIAL\n\
            2010000000;[authentication username=2010000000@example.com password=7kkzTyGW];2010000001;[authentication username=2010000001@example.com password=pw1]\n\
            2010000001;[authentication username=2010000001@example.com password=pw1];2010000000;[authentication username=2010000000@example.com password=7kkzTyGW]\n";
        let users = parse_csv(text, "ignored.org")?;
        assert_eq!(
            users,
            vec![
                User {
                    dn: "2010000000".into(),
                    auth_username: "2010000000@example.com".into(),
                    password: "7kkzTyGW".into(),
                    domain: "example.com".into(),
                },
                User {
                    dn: "2010000001".into(),
                    auth_username: "2010000001@example.com".into(),
                    password: "pw1".into(),
                    domain: "example.com".into(),
                },
            ]
        );
        assert_eq!(users[0].public_id(), "sip:2010000000@example.com");
        Ok(())
    }

    #[test]
    fn username_without_domain_takes_the_default() -> Result<(), UsersError> {
        let users = parse_csv("42;[authentication username=42 password=x]", "d.org")?;
        assert_eq!(users[0].auth_username, "42@d.org");
        assert_eq!(users[0].domain, "d.org");
        Ok(())
    }

    #[test]
    fn malformed_lines_name_their_line() {
        assert_eq!(
            parse_csv("1;[authentication username=1@x password=p]\n2;garbage", "x"),
            Err(UsersError::BadLine {
                line: 2,
                reason: "expected [authentication username=U password=P]"
            })
        );
        assert_eq!(
            parse_csv("1", "x"),
            Err(UsersError::BadLine {
                line: 1,
                reason: "a dn without its [authentication ...] field"
            })
        );
        assert_eq!(parse_csv("SEQUENTIAL\n", "x"), Err(UsersError::Empty));
        assert!(parse_csv("1;[authentication username=1@x]", "x").is_err());
    }

    #[test]
    fn numeric_range_keeps_width_and_is_inclusive() -> Result<(), UsersError> {
        let users = range("6505550998..6505551001", "pw", "example.com")?;
        let dns: Vec<&str> = users.iter().map(|u| u.dn.as_str()).collect();
        assert_eq!(
            dns,
            ["6505550998", "6505550999", "6505551000", "6505551001"]
        );
        assert_eq!(users[3].auth_username, "6505551001@example.com");
        assert!(range("5..3", "p", "d").is_err());
        assert!(range("a..3", "p", "d").is_err());
        assert!(range("0009..10", "p", "d").is_err());
        Ok(())
    }
}
