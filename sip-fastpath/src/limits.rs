//! The parser's resource limits, checked as bytes are read.

/// Limits on what the parser accepts. Exceeding one is a [`crate::ParseError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest whole message (start line, headers and body), in bytes.
    pub message_bytes_max: usize,
    /// Most header lines (each comma-separated list line counts once).
    pub headers_max: usize,
    /// Longest single header line (name, value and folded continuations), in
    /// bytes; at most 65 535 whatever is configured (header tables hold `u16` lengths).
    pub header_line_bytes_max: usize,
}

/// Default largest message: 64 KiB (RFC 3261 §18.1.1 lets TCP carry more than UDP's MTU).
pub const MESSAGE_BYTES_MAX_DEFAULT: usize = 64 * 1024;
/// Default most header lines in one message.
pub const HEADERS_MAX_DEFAULT: usize = 128;
/// Default longest header line.
pub const HEADER_LINE_BYTES_MAX_DEFAULT: usize = 8 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            message_bytes_max: MESSAGE_BYTES_MAX_DEFAULT,
            headers_max: HEADERS_MAX_DEFAULT,
            header_line_bytes_max: HEADER_LINE_BYTES_MAX_DEFAULT,
        }
    }
}

impl Limits {
    /// The same limits with the message size capped to what `u32` spans can address.
    pub(crate) fn message_bytes_cap(&self) -> usize {
        self.message_bytes_max.min(u32::MAX as usize - 1)
    }

    /// The header-line limit as enforced: never above what `u16` lengths hold.
    pub(crate) fn header_line_cap(&self) -> usize {
        self.header_line_bytes_max.min(usize::from(u16::MAX))
    }
}
