//! `;name[=value]` parameter lists (URI, Via, name-addr and Contact parameters).

use crate::scan::{quoted_end, trim, trim_start};

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
            let s = trim_start(self.rest);
            // A list's next element (',') or anything else ends the parameters.
            if s.first() != Some(&b';') {
                self.rest = s;
                return None;
            }
            let s = &s[1..];
            let (end, eq) = param_end(s);
            let item = &s[..end];
            self.rest = &s[end..];
            let (name, value) = match eq {
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

/// Bytes that matter while scanning a parameter.
static PARAM_STOP: [bool; 256] = {
    let mut t = [false; 256];
    t[b';' as usize] = true;
    t[b',' as usize] = true;
    t[b'"' as usize] = true;
    t[b'=' as usize] = true;
    t
};

/// End of one parameter (the next `;` or `,` outside a quoted value) and
/// where its first `=` is, in one pass.
#[inline]
fn param_end(s: &[u8]) -> (usize, Option<usize>) {
    let mut eq = None;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if !PARAM_STOP[c as usize] {
            i += 1;
            continue;
        }
        match c {
            b';' | b',' => return (i, eq),
            b'=' => {
                if eq.is_none() {
                    eq = Some(i);
                }
                i += 1;
            }
            _ => i += quoted_end(&s[i..]).unwrap_or(s.len() - i),
        }
    }
    (s.len(), eq)
}

impl<'a> Params<'a> {
    /// How many bytes of the list the parameters cover: up to the `,` that
    /// starts a list's next element, or the end.
    pub fn extent(&self) -> usize {
        let mut it = self.iter();
        while it.next().is_some() {}
        self.0.len() - it.rest.len()
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
    fn a_list_comma_ends_the_parameters() {
        let p = Params(b";branch=z9hG4bK1;rport , SIP/2.0/UDP b;branch=z9hG4bK2");
        assert_eq!(p.iter().count(), 2);
        assert_eq!(p.value(b"branch"), Some(&b"z9hG4bK1"[..]));
        // Up to the comma, white space before it included.
        assert_eq!(p.extent(), b";branch=z9hG4bK1;rport ".len());
        assert_eq!(Params(br#";x="a,b";y"#).iter().count(), 2);
    }

    #[test]
    fn empty_lists_have_no_params() {
        assert!(Params(b"").is_empty());
        assert!(Params(b";;").is_empty());
    }
}
