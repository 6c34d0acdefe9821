//! `;name[=value]` parameter lists (URI, Via, name-addr and Contact parameters).

use crate::scan::{quoted_end, trim};

/// A raw parameter list starting at its first `;` (or empty). Names compare
/// case-insensitively; values are returned as written, quotes removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a>(pub &'a [u8]);

impl<'a> Params<'a> {
    /// `Some(Some(value))` for `name=value`, `Some(None)` for a bare `name`, `None` if absent.
    #[inline]
    pub fn get(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether the parameter is present (with or without a value).
    #[inline]
    pub fn has(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// The value of `name=value`; `None` if absent or valueless.
    #[inline]
    pub fn value(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.get(name).flatten()
    }

    #[inline]
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter { rest: self.0 }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// Iterates `(name, value)` pairs.
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let s = self.rest;
            let s = match s.iter().position(|&c| c == b';') {
                Some(i) => &s[i + 1..],
                None => return None,
            };
            // Find the end of this parameter: the next ';' outside a quoted value.
            let mut i = 0;
            while i < s.len() && s[i] != b';' {
                if s[i] == b'"' {
                    match quoted_end(&s[i..]) {
                        Some(n) => i += n,
                        None => i = s.len(),
                    }
                } else {
                    i += 1;
                }
            }
            let item = &s[..i];
            self.rest = &s[i..];
            let (name, value) = match item.iter().position(|&c| c == b'=') {
                Some(eq) => (trim(&item[..eq]), Some(unquote(trim(&item[eq + 1..])))),
                None => (trim(item), None),
            };
            if name.is_empty() {
                continue;
            }
            return Some((name, value));
        }
    }
}

/// The content of a quoted string (escapes left as written), or `s` itself.
#[inline]
pub fn unquote(s: &[u8]) -> &[u8] {
    if s.len() >= 2 && s[0] == b'"' && quoted_end(s) == Some(s.len()) {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flags_values_and_quoted_values() {
        let p = Params(br#";branch=z9hG4bK1;RPORT;x="a;b";ttl = 16"#);
        assert_eq!(p.get(b"branch"), Some(Some(&b"z9hG4bK1"[..])));
        assert_eq!(p.get(b"rport"), Some(None));
        assert_eq!(p.value(b"x"), Some(&b"a;b"[..]));
        assert_eq!(p.value(b"ttl"), Some(&b"16"[..]));
        assert_eq!(p.get(b"missing"), None);
        assert_eq!(p.iter().count(), 4);
    }

    #[test]
    fn empty_lists_have_no_params() {
        assert!(Params(b"").is_empty());
        assert!(Params(b";;").is_empty());
    }
}
