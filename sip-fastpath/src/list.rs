//! Splitting comma-separated header values (RFC 3261 §7.3.1) without copying.

use crate::scan::{quoted_end, trim};

/// The values of one header line, split at commas outside quotes and `<...>`.
#[derive(Debug, Clone)]
pub struct ListValues<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> ListValues<'a> {
    pub fn new(line_value: &'a [u8]) -> Self {
        ListValues {
            rest: line_value,
            done: false,
        }
    }
}

/// Bytes that change how a list value is split.
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b',' as usize] = true;
    t[b'"' as usize] = true;
    t[b'<' as usize] = true;
    t
};

/// Index of the first comma of `s` outside a quoted string or angle brackets.
/// Header values are short, so a table-driven byte loop beats a vectorised
/// search's set-up cost.
#[inline]
pub(crate) fn top_level_comma(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if !SPECIAL[c as usize] {
            i += 1;
            continue;
        }
        match c {
            b',' => return Some(i),
            // Inside <...> nothing splits and quotes are literal.
            b'<' => i += 1 + s[i..].iter().position(|&c| c == b'>')?,
            _ => i += quoted_end(&s[i..])?,
        }
    }
    None
}

impl<'a> Iterator for ListValues<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.done {
                return None;
            }
            let (value, rest) = match top_level_comma(self.rest) {
                Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
                None => {
                    self.done = true;
                    (self.rest, &self.rest[self.rest.len()..])
                }
            };
            self.rest = rest;
            let value = trim(value);
            // Empty elements (",,") are allowed by RFC 3261 §7.3.1's list rule and skipped.
            if !value.is_empty() {
                return Some(value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_brackets() {
        let v: Vec<&[u8]> =
            ListValues::new(br#""Doe, John" <sip:a@b;x=1,2>;q=0.5 , <sip:c@d>,sip:e@f"#).collect();
        assert_eq!(
            v,
            vec![
                &br#""Doe, John" <sip:a@b;x=1,2>;q=0.5"#[..],
                b"<sip:c@d>",
                b"sip:e@f"
            ]
        );
    }

    #[test]
    fn skips_empty_elements_and_folding() {
        let v: Vec<&[u8]> = ListValues::new(b"a,\r\n b,, c").collect();
        assert_eq!(v, vec![&b"a"[..], b"b", b"c"]);
    }
}
