//! Why a message was refused, and what the caller can still do about it.

use crate::HeaderName;
use crate::message::Message;

/// One cause of a refused message or header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("message is {len} bytes; the limit is {max}")]
    MessageTooLarge { len: usize, max: usize },
    #[error("more than {max} header lines")]
    TooManyHeaders { max: usize },
    #[error("a header line is longer than {max} bytes")]
    HeaderLineTooLong { max: usize },
    #[error("no start line")]
    Empty,
    #[error("malformed start line")]
    StartLine,
    #[error("malformed Request-URI")]
    RequestUri,
    #[error("malformed header line at byte {at}")]
    HeaderLine { at: u32 },
    #[error("the header section does not end with an empty line")]
    Unterminated,
    #[error("missing {0} header")]
    Missing(HeaderName),
    #[error("{0} appears more than once")]
    Duplicate(HeaderName),
    #[error("malformed {0} header")]
    Header(HeaderName),
    #[error("Content-Length says {declared} body bytes; {available} arrived")]
    BodyTruncated { declared: usize, available: usize },
}

impl ParseError {
    /// The status a server answers a request with when this is why it was refused
    /// (RFC 3261 §18.1.1 / §21.5: 513 for an oversized message, 400 otherwise).
    pub fn status(&self) -> u16 {
        match self {
            ParseError::MessageTooLarge { .. } => 513,
            _ => 400,
        }
    }

    /// Reason phrase naming the problem, for the status line of the answer.
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::MessageTooLarge { .. } => "Message Too Large",
            ParseError::TooManyHeaders { .. } => "Bad Request - Too Many Headers",
            ParseError::HeaderLineTooLong { .. } => "Bad Request - Header Line Too Long",
            ParseError::Empty | ParseError::StartLine => "Bad Request - Malformed Start Line",
            ParseError::RequestUri => "Bad Request - Malformed Request-URI",
            ParseError::HeaderLine { .. } => "Bad Request - Malformed Header Line",
            ParseError::Unterminated => "Bad Request - Unterminated Header Section",
            ParseError::Missing(_) => "Bad Request - Missing Mandatory Header",
            ParseError::Duplicate(_) => "Bad Request - Duplicate Header",
            ParseError::Header(_) => "Bad Request - Malformed Header",
            ParseError::BodyTruncated { .. } => "Bad Request - Body Shorter Than Content-Length",
        }
    }
}

/// What a transport should do with a message that failed to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Answer with this status: the request's Via, From, To, Call-ID and CSeq
    /// were readable, so a response can be built and routed.
    Respond(u16),
    /// Drop it and count it: a response could not be routed (or it was a response).
    Drop,
}

/// A message that failed to parse: the cause, and what survived of it.
#[derive(Debug)]
pub struct Malformed {
    pub error: ParseError,
    /// The request as far as it could be read, present only when every header a
    /// response needs (Via, From, To, Call-ID, CSeq) was readable.
    pub partial: Option<Box<Message>>,
}

impl Malformed {
    pub fn disposition(&self) -> Disposition {
        match self.partial {
            Some(_) => Disposition::Respond(self.error.status()),
            None => Disposition::Drop,
        }
    }

    /// The error response (400 or 513, reason naming the problem) for the
    /// request, when one can be formed.
    pub fn response(&self) -> Option<bytes::Bytes> {
        let partial = self.partial.as_deref()?;
        Some(
            partial
                .response(self.error.status(), self.error.reason())
                .finish(),
        )
    }
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Malformed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
