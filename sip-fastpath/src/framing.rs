//! Finding message boundaries in a byte stream (TCP, TLS): RFC 3261 §18.3
//! requires Content-Length on streams; RFC 5626 §3.5.1 keep-alives are CRLFs.

use bytes::{Bytes, BytesMut};
use memchr::memchr;
use memchr::memmem;

use crate::header_name::HeaderName;
use crate::limits::Limits;
use crate::scan::{parse_u64, trim};

/// What the framer found at the front of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One complete message, ready for [`crate::Message::parse`].
    Message(Bytes),
    /// A double-CRLF keep-alive ping; answer it with a single CRLF pong.
    Ping,
    /// A single-CRLF pong (the answer to our ping).
    Pong,
}

/// Why the stream cannot be framed; the connection should be closed (after a
/// 400 when the headers were readable, RFC 3261 §18.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    #[error("message on a stream without Content-Length")]
    MissingContentLength,
    #[error("malformed Content-Length")]
    BadContentLength,
    #[error("message larger than {max} bytes")]
    TooLarge { max: usize },
}

/// Accumulates stream bytes and yields frames.
#[derive(Debug)]
pub struct StreamFramer {
    buf: BytesMut,
    limits: Limits,
    /// Bytes of `buf` already searched for the end of the headers.
    scanned: usize,
    /// Length of the message at the front, once its headers have been read.
    pending_total: Option<usize>,
}

impl StreamFramer {
    pub fn new(limits: Limits) -> Self {
        StreamFramer {
            buf: BytesMut::with_capacity(4096),
            limits,
            scanned: 0,
            pending_total: None,
        }
    }

    /// Append bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The receive buffer, for reading into it directly; call after appending.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes received but not yet framed.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(total) = self.pending_total {
            return Ok(self.take(total));
        }
        if self.buf.first() == Some(&b'\r') || self.buf.first() == Some(&b'\n') {
            return Ok(self.keep_alive());
        }
        if self.buf.is_empty() {
            return Ok(None);
        }
        let max = self.limits.message_bytes_cap();
        // Resume the search a few bytes back so a split "\r\n\r\n" is found.
        let from = self.scanned.saturating_sub(3);
        let Some(i) = memmem::find(&self.buf[from..], b"\r\n\r\n") else {
            self.scanned = self.buf.len();
            if self.buf.len() > max {
                return Err(FrameError::TooLarge { max });
            }
            return Ok(None);
        };
        let headers_end = from + i + 4;
        // Oversized headers are refused as such however the bytes arrived
        // (not as whatever else is wrong with them).
        if headers_end > max {
            return Err(FrameError::TooLarge { max });
        }
        let body_len = content_length(&self.buf[..headers_end])?;
        let total = headers_end
            .checked_add(body_len)
            .filter(|&t| t <= max)
            .ok_or(FrameError::TooLarge { max })?;
        self.pending_total = Some(total);
        Ok(self.take(total))
    }

    fn take(&mut self, total: usize) -> Option<Frame> {
        if self.buf.len() < total {
            return None;
        }
        self.scanned = 0;
        self.pending_total = None;
        Some(Frame::Message(self.buf.split_to(total).freeze()))
    }

    fn keep_alive(&mut self) -> Option<Frame> {
        let b = &self.buf[..];
        if b.starts_with(b"\r\n\r\n") {
            let _ = self.buf.split_to(4);
            return Some(Frame::Ping);
        }
        if b == b"\r\n\r" {
            return None;
        }
        if b.starts_with(b"\r\n") {
            let _ = self.buf.split_to(2);
            return Some(Frame::Pong);
        }
        if b == b"\r" {
            return None;
        }
        // A stray CR or LF: drop it; it cannot start a message.
        let _ = self.buf.split_to(1);
        Some(Frame::Pong)
    }
}

/// The Content-Length value in a header block (`l` or `Content-Length`).
fn content_length(block: &[u8]) -> Result<usize, FrameError> {
    let mut pos = match memchr(b'\n', block) {
        Some(i) => i + 1,
        None => return Err(FrameError::MissingContentLength),
    };
    while pos < block.len() {
        let end = memchr(b'\n', &block[pos..]).map_or(block.len(), |i| pos + i);
        let line = &block[pos..end];
        if let Some(colon) = memchr(b':', line) {
            let name = trim(&line[..colon]);
            if HeaderName::from_bytes(name) == HeaderName::ContentLength {
                return parse_u64(trim(&line[colon + 1..]))
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or(FrameError::BadContentLength);
            }
        }
        pos = end + 1;
    }
    Err(FrameError::MissingContentLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] =
        b"MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 5\r\n\r\nhello";

    #[test]
    fn frames_byte_by_byte() {
        let mut f = StreamFramer::new(Limits::default());
        let mut stream = MSG.to_vec();
        stream.extend_from_slice(MSG);
        let mut got = Vec::new();
        for b in &stream {
            f.push(&[*b]);
            while let Some(frame) = f.next_frame().expect("frames") {
                got.push(frame);
            }
        }
        assert_eq!(
            got,
            vec![
                Frame::Message(Bytes::from_static(MSG)),
                Frame::Message(Bytes::from_static(MSG))
            ]
        );
        assert_eq!(f.buffered_len(), 0);
    }

    #[test]
    fn keep_alives_between_messages() {
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"\r\n\r\n");
        f.push(MSG);
        f.push(b"\r\n");
        assert_eq!(f.next_frame(), Ok(Some(Frame::Ping)));
        assert_eq!(
            f.next_frame(),
            Ok(Some(Frame::Message(Bytes::from_static(MSG))))
        );
        assert_eq!(f.next_frame(), Ok(Some(Frame::Pong)));
        assert_eq!(f.next_frame(), Ok(None));
    }

    #[test]
    fn refuses_missing_or_bad_content_length() {
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FrameError::MissingContentLength));
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"OPTIONS sip:x SIP/2.0\r\nContent-Length: -3\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FrameError::BadContentLength));
    }

    #[test]
    fn enforces_the_size_limit_on_headers_and_bodies() {
        let limits = Limits {
            message_bytes_max: 64,
            ..Limits::default()
        };
        let mut f = StreamFramer::new(limits);
        f.push(&[b'A'; 65]);
        assert_eq!(f.next_frame(), Err(FrameError::TooLarge { max: 64 }));
        let mut f = StreamFramer::new(limits);
        f.push(b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 100\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FrameError::TooLarge { max: 64 }));
    }

    #[test]
    fn oversized_headers_are_too_large_however_they_arrive() {
        // Found by fuzzing: whole, this was MissingContentLength; in pieces, TooLarge.
        let limits = Limits {
            message_bytes_max: 64,
            ..Limits::default()
        };
        let mut msg = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP ".to_vec();
        msg.extend_from_slice(&[b'h'; 60]);
        msg.extend_from_slice(b"\r\n\r\n");
        let mut whole = StreamFramer::new(limits);
        whole.push(&msg);
        assert_eq!(whole.next_frame(), Err(FrameError::TooLarge { max: 64 }));
        let mut pieces = StreamFramer::new(limits);
        let mut got = Ok(None);
        for chunk in msg.chunks(16) {
            pieces.push(chunk);
            got = pieces.next_frame();
            if got.is_err() {
                break;
            }
        }
        assert_eq!(got, Err(FrameError::TooLarge { max: 64 }));
    }
}
