//! RESP2, sans-IO: commands encoded into a buffer, replies decoded from one.
//!
//! The decoder is bounded (bulk length, array length, nesting depth, line
//! length) and never panics; it returns `Ok(None)` while a reply is incomplete.

use bytes::Bytes;

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `+OK`
    Simple(Bytes),
    /// `-ERR ...`: the server's error reply.
    Error(Bytes),
    /// `:42`
    Integer(i64),
    /// `$3\r\nfoo`
    Bulk(Bytes),
    /// `$-1` or `*-1`
    Nil,
    /// `*2\r\n...`
    Array(Vec<Value>),
}

/// How large a reply the decoder accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub bulk_len_max: usize,
    pub array_len_max: usize,
    pub depth_max: usize,
    /// Longest simple string, error or integer line, without its CRLF.
    pub line_len_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // A record value (1 MiB) with room to spare.
            bulk_len_max: 4 * 1024 * 1024,
            array_len_max: 64 * 1024,
            depth_max: 8,
            line_len_max: 64 * 1024,
        }
    }
}

/// Why bytes from the server are not a RESP2 reply within the limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RespError {
    #[error("unknown reply type byte 0x{0:02x}")]
    UnknownType(u8),
    #[error("line longer than {max} bytes")]
    LineTooLong { max: usize },
    #[error("line not terminated by CRLF")]
    MissingCrlf,
    #[error("malformed integer")]
    BadInteger,
    #[error("negative length other than -1")]
    BadLength,
    #[error("bulk string of {len} bytes exceeds the limit of {max}")]
    BulkTooLong { len: i64, max: usize },
    #[error("array of {len} elements exceeds the limit of {max}")]
    ArrayTooLong { len: i64, max: usize },
    #[error("replies nested deeper than {max}")]
    TooDeep { max: usize },
}

/// Appends a command (an array of bulk strings) to `buf`.
pub fn encode_command(buf: &mut Vec<u8>, args: &[&[u8]]) {
    buf.push(b'*');
    push_decimal(buf, args.len() as u64);
    buf.extend_from_slice(b"\r\n");
    for arg in args {
        buf.push(b'$');
        push_decimal(buf, arg.len() as u64);
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(arg);
        buf.extend_from_slice(b"\r\n");
    }
}

/// Appends `n` in decimal.
pub(crate) fn push_decimal(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[start..]);
}

/// Decodes one reply from the start of `buf`: the reply and the bytes it
/// took, `Ok(None)` if `buf` holds only part of it.
pub fn decode(buf: &[u8], limits: &Limits) -> Result<Option<(Value, usize)>, RespError> {
    Decoder { buf, limits }.value(0, 0)
}

struct Decoder<'a> {
    buf: &'a [u8],
    limits: &'a Limits,
}

type Step<T> = Result<Option<(T, usize)>, RespError>;

impl Decoder<'_> {
    fn value(&self, pos: usize, depth: usize) -> Step<Value> {
        let Some(&kind) = self.buf.get(pos) else {
            return Ok(None);
        };
        let Some((line, next)) = self.line(pos + 1)? else {
            return Ok(None);
        };
        match kind {
            b'+' => Ok(Some((Value::Simple(Bytes::copy_from_slice(line)), next))),
            b'-' => Ok(Some((Value::Error(Bytes::copy_from_slice(line)), next))),
            b':' => Ok(Some((Value::Integer(parse_integer(line)?), next))),
            b'$' => self.bulk(parse_integer(line)?, next),
            b'*' => self.array(parse_integer(line)?, next, depth),
            other => Err(RespError::UnknownType(other)),
        }
    }

    /// The line starting at `pos`, without CRLF, and where the next item starts.
    fn line(&self, pos: usize) -> Step<&[u8]> {
        let rest = self.buf.get(pos..).unwrap_or_default();
        let window = &rest[..rest.len().min(self.limits.line_len_max + 2)];
        match window.iter().position(|&b| b == b'\r' || b == b'\n') {
            Some(end) if end > self.limits.line_len_max => Err(RespError::LineTooLong {
                max: self.limits.line_len_max,
            }),
            Some(end) => match window.get(end..end + 2) {
                Some(b"\r\n") => Ok(Some((&rest[..end], pos + end + 2))),
                Some(_) => Err(RespError::MissingCrlf),
                None if window[end] == b'\r' => Ok(None),
                None => Err(RespError::MissingCrlf),
            },
            None if window.len() > self.limits.line_len_max => Err(RespError::LineTooLong {
                max: self.limits.line_len_max,
            }),
            None => Ok(None),
        }
    }

    fn bulk(&self, len: i64, pos: usize) -> Step<Value> {
        if len == -1 {
            return Ok(Some((Value::Nil, pos)));
        }
        let len_usize = usize::try_from(len).map_err(|_| RespError::BadLength)?;
        if len_usize > self.limits.bulk_len_max {
            return Err(RespError::BulkTooLong {
                len,
                max: self.limits.bulk_len_max,
            });
        }
        let end = pos + len_usize;
        match self.buf.get(end..end + 2) {
            None if self.buf.len() < end + 2 => Ok(None),
            Some(b"\r\n") => Ok(Some((
                Value::Bulk(Bytes::copy_from_slice(&self.buf[pos..end])),
                end + 2,
            ))),
            _ => Err(RespError::MissingCrlf),
        }
    }

    fn array(&self, len: i64, mut pos: usize, depth: usize) -> Step<Value> {
        if len == -1 {
            return Ok(Some((Value::Nil, pos)));
        }
        let len_usize = usize::try_from(len).map_err(|_| RespError::BadLength)?;
        if len_usize > self.limits.array_len_max {
            return Err(RespError::ArrayTooLong {
                len,
                max: self.limits.array_len_max,
            });
        }
        if len_usize > 0 && depth >= self.limits.depth_max {
            return Err(RespError::TooDeep {
                max: self.limits.depth_max,
            });
        }
        let mut items = Vec::with_capacity(len_usize.min(64));
        for _ in 0..len_usize {
            let Some((item, next)) = self.value(pos, depth + 1)? else {
                return Ok(None);
            };
            items.push(item);
            pos = next;
        }
        Ok(Some((Value::Array(items), pos)))
    }
}

fn parse_integer(line: &[u8]) -> Result<i64, RespError> {
    let (negative, digits) = match line.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, line),
    };
    if digits.is_empty() || digits.len() > 19 {
        return Err(RespError::BadInteger);
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(RespError::BadInteger);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(i64::from(d - b'0')))
            .ok_or(RespError::BadInteger)?;
    }
    Ok(if negative { -n } else { n })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(bytes: &[u8]) -> Result<Option<(Value, usize)>, RespError> {
        decode(bytes, &Limits::default())
    }

    fn bulk(s: &str) -> Value {
        Value::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn encodes_a_command_as_an_array_of_bulk_strings() {
        let mut buf = Vec::new();
        encode_command(&mut buf, &[b"HMGET", b"{k}", b""]);
        assert_eq!(buf, b"*3\r\n$5\r\nHMGET\r\n$3\r\n{k}\r\n$0\r\n\r\n");
    }

    #[test]
    fn decodes_each_reply_type() {
        let cases: [(&[u8], Value); 8] = [
            (b"+OK\r\n", Value::Simple(Bytes::from_static(b"OK"))),
            (b"-ERR no\r\n", Value::Error(Bytes::from_static(b"ERR no"))),
            (b":-42\r\n", Value::Integer(-42)),
            (b"$3\r\nfoo\r\n", bulk("foo")),
            (b"$0\r\n\r\n", bulk("")),
            (b"$-1\r\n", Value::Nil),
            (b"*-1\r\n", Value::Nil),
            (
                b"*3\r\n:1\r\n$1\r\n\r\r\n*1\r\n$-1\r\n",
                Value::Array(vec![
                    Value::Integer(1),
                    bulk("\r"),
                    Value::Array(vec![Value::Nil]),
                ]),
            ),
        ];
        for (bytes, value) in cases {
            assert_eq!(
                decode_all(bytes),
                Ok(Some((value, bytes.len()))),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn every_prefix_of_a_reply_is_incomplete() {
        let bytes = b"*2\r\n$5\r\nhello\r\n:12\r\n";
        for len in 0..bytes.len() {
            assert_eq!(decode_all(&bytes[..len]), Ok(None), "{len}");
        }
        assert!(decode_all(bytes).unwrap().is_some());
    }

    #[test]
    fn leaves_the_next_reply_in_the_buffer() {
        let (value, used) = decode_all(b":1\r\n:2\r\n").unwrap().unwrap();
        assert_eq!((value, used), (Value::Integer(1), 4));
    }

    #[test]
    fn malformed_replies_are_typed_errors() {
        let cases: [(&[u8], RespError); 8] = [
            (b"!x\r\n", RespError::UnknownType(b'!')),
            (b":12a\r\n", RespError::BadInteger),
            (b":\r\n", RespError::BadInteger),
            (b":99999999999999999999\r\n", RespError::BadInteger),
            (b"$-2\r\n", RespError::BadLength),
            (b"$3\r\nfooXY", RespError::MissingCrlf),
            (b"+OK\rX", RespError::MissingCrlf),
            (b"+OK\n", RespError::MissingCrlf),
        ];
        for (bytes, error) in cases {
            assert_eq!(decode_all(bytes), Err(error), "{bytes:?}");
        }
    }

    #[test]
    fn limits_are_enforced_before_the_data_arrives() {
        let limits = Limits {
            bulk_len_max: 10,
            array_len_max: 3,
            depth_max: 2,
            line_len_max: 8,
        };
        assert_eq!(
            decode(b"$11\r\n", &limits),
            Err(RespError::BulkTooLong { len: 11, max: 10 })
        );
        assert_eq!(decode(b"$10\r\n", &limits), Ok(None));
        assert_eq!(
            decode(b"*4\r\n", &limits),
            Err(RespError::ArrayTooLong { len: 4, max: 3 })
        );
        assert_eq!(
            decode(b"*1\r\n*1\r\n*1\r\n:1\r\n", &limits),
            Err(RespError::TooDeep { max: 2 })
        );
        assert!(decode(b"*1\r\n*1\r\n:1\r\n", &limits).unwrap().is_some());
        assert_eq!(
            decode(b"+123456789", &limits),
            Err(RespError::LineTooLong { max: 8 })
        );
        assert!(decode(b"+12345678\r\n", &limits).unwrap().is_some());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_all(&bytes);
        }

        #[test]
        fn arbitrary_bytes_after_a_type_byte_never_panic(
            kind in prop::sample::select(vec![b'+', b'-', b':', b'$', b'*']),
            rest in proptest::collection::vec(
                prop::sample::select(vec![b'\r', b'\n', b'-', b'1', b'0', b'*', b'$', b':', b'x']),
                0..64,
            ),
        ) {
            let mut bytes = vec![kind];
            bytes.extend(rest);
            let _ = decode_all(&bytes);
        }

        #[test]
        fn encoded_commands_decode_to_the_same_arguments(
            args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..6),
        ) {
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            let mut buf = Vec::new();
            encode_command(&mut buf, &refs);
            let expected = Value::Array(args.iter().map(|a| Value::Bulk(Bytes::copy_from_slice(a))).collect());
            prop_assert_eq!(decode_all(&buf), Ok(Some((expected, buf.len()))));
        }
    }
}
