//! Byte ranges into a message buffer.

/// A half-open byte range `[start, end)` into the buffer a [`crate::Message`] owns.
///
/// `u32` offsets keep header tables small; messages are bounded far below 4 GiB by
/// [`crate::Limits::message_bytes_max`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// A span from `usize` offsets. Callers guarantee `start <= end <= u32::MAX`,
    /// which the message-size limit enforces before any span is made.
    #[inline]
    pub(crate) const fn new(start: usize, end: usize) -> Self {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    #[inline]
    pub const fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    #[inline]
    pub const fn is_empty(self) -> bool {
        self.end == self.start
    }

    #[inline]
    pub const fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The bytes this span covers in `buf`, or an empty slice if it lies outside.
    #[inline]
    pub fn of(self, buf: &[u8]) -> &[u8] {
        buf.get(self.range()).unwrap_or(&[])
    }

    /// The span of `sub`, which must be a subslice of `buf`.
    #[inline]
    pub(crate) fn within(buf: &[u8], sub: &[u8]) -> Span {
        let start = (sub.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
        debug_assert!(start + sub.len() <= buf.len(), "sub-slice outside buffer");
        Span::new(start, start + sub.len())
    }
}
