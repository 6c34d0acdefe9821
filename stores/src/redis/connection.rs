//! One Redis connection over any async byte stream, with pipelining: queue
//! several commands, send them in one write, read their replies in order.

use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::resp::{Limits, Value, decode, encode_command};
use crate::StoreError;

/// Bytes asked of the stream per read.
const READ_CHUNK_LEN: usize = 16 * 1024;

/// A Redis connection. After any I/O or protocol error the stream's position
/// in the reply sequence is unknown, so the connection refuses further use.
#[derive(Debug)]
pub struct Connection<S> {
    stream: S,
    limits: Limits,
    write_buf: Vec<u8>,
    queued_count: usize,
    read_buf: Vec<u8>,
    read_pos: usize,
    broken: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    pub fn new(stream: S) -> Self {
        Self::with_limits(stream, Limits::default())
    }

    pub fn with_limits(stream: S, limits: Limits) -> Self {
        Self {
            stream,
            limits,
            write_buf: Vec::with_capacity(4096),
            queued_count: 0,
            read_buf: Vec::with_capacity(READ_CHUNK_LEN),
            read_pos: 0,
            broken: false,
        }
    }

    /// Queues a command for the next [`Self::send_queued`].
    pub fn queue(&mut self, args: &[&[u8]]) {
        encode_command(&mut self.write_buf, args);
        self.queued_count += 1;
    }

    /// Sends every queued command in one write and returns their replies in
    /// order. Error replies are returned as [`Value::Error`], not as `Err`.
    pub async fn send_queued(&mut self) -> Result<Vec<Value>, StoreError> {
        let count = std::mem::take(&mut self.queued_count);
        let result = self.exchange(count).await;
        self.write_buf.clear();
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    /// Sends one command and returns its reply.
    pub async fn command(&mut self, args: &[&[u8]]) -> Result<Value, StoreError> {
        self.queue(args);
        let mut replies = self.send_queued().await?;
        replies.pop().ok_or(StoreError::ConnectionClosed)
    }

    async fn exchange(&mut self, count: usize) -> Result<Vec<Value>, StoreError> {
        if self.broken {
            return Err(StoreError::ConnectionClosed);
        }
        self.stream
            .write_all(&self.write_buf)
            .await
            .map_err(StoreError::Network)?;
        self.stream.flush().await.map_err(StoreError::Network)?;
        let mut replies = Vec::with_capacity(count);
        for _ in 0..count {
            replies.push(self.read_reply().await?);
        }
        Ok(replies)
    }

    async fn read_reply(&mut self) -> Result<Value, StoreError> {
        loop {
            if let Some((value, used)) = decode(&self.read_buf[self.read_pos..], &self.limits)? {
                self.read_pos += used;
                if self.read_pos == self.read_buf.len() {
                    self.read_buf.clear();
                    self.read_pos = 0;
                }
                return Ok(value);
            }
            if self.read_pos > 0 {
                self.read_buf.drain(..self.read_pos);
                self.read_pos = 0;
            }
            let filled = self.read_buf.len();
            self.read_buf.resize(filled + READ_CHUNK_LEN, 0);
            let read = self.stream.read(&mut self.read_buf[filled..]).await;
            let read_len = match read {
                Ok(len) => len,
                Err(e) => {
                    self.read_buf.truncate(filled);
                    return Err(StoreError::Network(e));
                }
            };
            self.read_buf.truncate(filled + read_len);
            if read_len == 0 {
                return Err(StoreError::ConnectionClosed);
            }
        }
    }

    /// The stream, e.g. to shut it down.
    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }
}
