//! Byte classes and small scanning helpers shared by the parser and the views.

/// RFC 3261 `token` characters: alphanumerics and `-.!%*_+`~'`.
pub(crate) static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

#[inline]
pub(crate) fn is_token(c: u8) -> bool {
    TOKEN[c as usize]
}

/// Linear white space, including the CR and LF of a folded line.
#[inline]
pub(crate) fn is_lws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

#[inline]
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_lws(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_lws(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

#[inline]
pub(crate) fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_lws(*first) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Parse an unsigned decimal with no sign and no surrounding space; `None` on
/// anything else or on overflow of `u64`.
#[inline]
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

/// delta-seconds (RFC 3261 §25.1): digits only, any length; values past
/// 2**32-1 are taken as 2**32-1 (RFC 3261 §20.19 / §25.1).
#[inline]
pub(crate) fn parse_delta_seconds(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(parse_u32(s).unwrap_or(u32::MAX))
}

/// Parse an unsigned decimal that fits in `u32`.
#[inline]
pub(crate) fn parse_u32(s: &[u8]) -> Option<u32> {
    parse_u64(s).and_then(|n| u32::try_from(n).ok())
}

/// Write `n` in decimal into `out`.
#[inline]
pub(crate) fn push_u32(out: &mut Vec<u8>, n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Index of the end of a quoted string starting at `s[0] == b'"'`: the index just
/// past the closing quote, honouring `\` escapes. `None` if unterminated.
#[inline]
pub(crate) fn quoted_end(s: &[u8]) -> Option<usize> {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Finds line feeds. On x86_64 it uses memchr's SSE2 searcher directly: it is
/// inlined with no run-time dispatch, which on the 30–100 byte lines of a SIP
/// header costs fewer instructions than the generic `memchr` entry point
/// (measured with callgrind on the REGISTER benchmark; see benches/README.md).
pub(crate) struct LineFeeds {
    #[cfg(target_arch = "x86_64")]
    sse2: Option<memchr::arch::x86_64::sse2::memchr::One>,
}

impl LineFeeds {
    #[inline(always)]
    pub(crate) fn new() -> Self {
        LineFeeds {
            #[cfg(target_arch = "x86_64")]
            sse2: memchr::arch::x86_64::sse2::memchr::One::new(b'\n'),
        }
    }

    #[inline(always)]
    pub(crate) fn find(&self, s: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(f) = &self.sse2 {
            return f.find(s);
        }
        memchr::memchr(b'\n', s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_folded_whitespace() {
        assert_eq!(trim(b" \t\r\n abc \r\n\t"), b"abc");
        assert_eq!(trim(b"   "), b"");
    }

    #[test]
    fn numbers_reject_signs_spaces_and_overflow() {
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u64(b"36893488147419103232"), None);
        assert_eq!(parse_u32(b"-1"), None);
        assert_eq!(parse_u32(b" 1"), None);
        assert_eq!(parse_u32(b""), None);
    }

    #[test]
    fn delta_seconds_saturate_at_any_length() {
        assert_eq!(parse_delta_seconds(b"3600"), Some(3600));
        assert_eq!(parse_delta_seconds(b"4294967296"), Some(u32::MAX));
        assert_eq!(parse_delta_seconds(&[b'1'; 101]), Some(u32::MAX));
        assert_eq!(parse_delta_seconds(b""), None);
        assert_eq!(parse_delta_seconds(b"-1"), None);
        assert_eq!(parse_delta_seconds(b"1 "), None);
    }

    #[test]
    fn writes_numbers() {
        let mut v = Vec::new();
        push_u32(&mut v, 0);
        v.push(b' ');
        push_u32(&mut v, 4294967295);
        assert_eq!(v, b"0 4294967295");
    }

    #[test]
    fn finds_quoted_end_with_escapes() {
        assert_eq!(quoted_end(br#""a\"b" x"#), Some(6));
        assert_eq!(quoted_end(br#""abc"#), None);
    }
}
