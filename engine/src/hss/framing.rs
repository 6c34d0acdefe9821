//! HTTP/1.1 responses out of a keep-alive byte stream: status, headers
//! (httparse), and a body framed by Content-Length or chunked encoding.

use bytes::{Buf, Bytes, BytesMut};

/// One complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Bytes,
    /// Whether the server will close the connection after it.
    pub close: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpFrameError {
    #[error("malformed HTTP response: {0}")]
    Malformed(&'static str),
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
}

/// Accumulates bytes and yields responses in order.
#[derive(Debug)]
pub struct HttpResponseFramer {
    buf: BytesMut,
    max_bytes: usize,
}

/// Headers a response may carry before we refuse it.
const HEADERS_MAX: usize = 64;

impl HttpResponseFramer {
    pub fn new(max_bytes: usize) -> Self {
        HttpResponseFramer {
            buf: BytesMut::with_capacity(4096),
            max_bytes,
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    pub fn next_response(&mut self) -> Result<Option<HttpResponse>, HttpFrameError> {
        if self.buf.len() > self.max_bytes {
            return Err(HttpFrameError::TooLarge(self.max_bytes));
        }
        let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
        let mut resp = httparse::Response::new(&mut headers);
        let head_len = match resp.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(HttpFrameError::Malformed("status line or headers")),
        };
        let status = resp.code.ok_or(HttpFrameError::Malformed("status"))?;
        let mut length = None;
        let mut chunked = false;
        let mut close = false;
        for h in resp.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let n = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|s| s.trim().parse::<usize>().ok())
                    .ok_or(HttpFrameError::Malformed("Content-Length"))?;
                length = Some(n);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = h.value.eq_ignore_ascii_case(b"chunked");
            } else if h.name.eq_ignore_ascii_case("connection") {
                close = h.value.eq_ignore_ascii_case(b"close");
            }
        }
        if chunked {
            return Ok(self.take_chunked(head_len)?.map(|body| HttpResponse {
                status,
                body,
                close,
            }));
        }
        // No body for 1xx, 204, 304; otherwise Content-Length (0 if absent on keep-alive).
        let len = if matches!(status, 100..=199 | 204 | 304) {
            0
        } else {
            length.unwrap_or(0)
        };
        if head_len + len > self.max_bytes {
            return Err(HttpFrameError::TooLarge(self.max_bytes));
        }
        if self.buf.len() < head_len + len {
            return Ok(None);
        }
        self.buf.advance(head_len);
        let body = self.buf.split_to(len).freeze();
        Ok(Some(HttpResponse {
            status,
            body,
            close,
        }))
    }

    /// Decode a chunked body starting at `at`; consume it only once complete.
    fn take_chunked(&mut self, at: usize) -> Result<Option<Bytes>, HttpFrameError> {
        let mut pos = at;
        let mut body = BytesMut::new();
        loop {
            let rest = &self.buf[pos..];
            let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
                return Ok(None);
            };
            let size_text = std::str::from_utf8(&rest[..eol])
                .map_err(|_| HttpFrameError::Malformed("chunk size"))?;
            let size_text = size_text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| HttpFrameError::Malformed("chunk size"))?;
            let data_start = pos + eol + 2;
            if size == 0 {
                // Last chunk: skip trailers up to the empty line.
                let tail = &self.buf[data_start..];
                let Some(end) = tail.windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                let mut consumed = data_start + end + 2;
                if end != 0 {
                    let Some(t) = tail.windows(4).position(|w| w == b"\r\n\r\n") else {
                        return Ok(None);
                    };
                    consumed = data_start + t + 4;
                }
                self.buf.advance(consumed);
                return Ok(Some(body.freeze()));
            }
            if data_start + size + 2 > self.buf.len() {
                if data_start + size > self.max_bytes {
                    return Err(HttpFrameError::TooLarge(self.max_bytes));
                }
                return Ok(None);
            }
            body.extend_from_slice(&self.buf[data_start..data_start + size]);
            pos = data_start + size + 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_keep_alive_responses_byte_by_byte() {
        let wire = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        let mut f = HttpResponseFramer::new(1 << 20);
        let mut got = Vec::new();
        for b in wire {
            f.push(&[*b]);
            while let Some(r) = f.next_response().expect("frames") {
                got.push(r);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].status, &got[0].body[..]), (200, &b"hello"[..]));
        assert_eq!((got[1].status, got[1].body.len()), (404, 0));
    }

    #[test]
    fn decodes_chunked_bodies() {
        let mut f = HttpResponseFramer::new(1 << 20);
        f.push(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n");
        let r = f.next_response().expect("ok").expect("complete");
        assert_eq!((r.status, &r.body[..], r.close), (200, &b"abcde"[..], true));
    }

    #[test]
    fn refuses_garbage_and_oversize() {
        let mut f = HttpResponseFramer::new(1 << 20);
        f.push(b"NOT HTTP\r\n\r\n");
        assert!(f.next_response().is_err());
        let mut f = HttpResponseFramer::new(64);
        f.push(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
        assert_eq!(f.next_response(), Err(HttpFrameError::TooLarge(64)));
    }
}
