//! The raw UDP echo floor: the least work a server can do per datagram
//! (receive it, send it back). Three variants, measured like a SIP server:
//! one `recvfrom`/`sendto` pair per datagram, `recvmmsg`/`sendmmsg`
//! batches of up to [`BATCH`], and io_uring (multishot receive into a
//! provided buffer ring, sends batched per wake-up; [`crate::echo_uring`]).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};

/// Datagrams per `recvmmsg`/`sendmmsg` call at most.
pub const BATCH: usize = 64;
/// Largest datagram echoed whole; longer ones are cut (SIP load here is far smaller).
const ECHO_DATAGRAM_MAX: usize = 4096;

/// Which echo loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EchoMode {
    /// One blocking `recvfrom` and one `sendto` per datagram.
    Blocking,
    /// Blocking `recvmmsg` (MSG_WAITFORONE) then one `sendmmsg` for the batch.
    Mmsg,
    /// io_uring: multishot `RECVMSG`, `SENDMSG`s submitted with the next wait.
    Uring,
}

impl EchoMode {
    pub fn name(self) -> &'static str {
        match self {
            EchoMode::Blocking => "recvfrom/sendto",
            EchoMode::Mmsg => "recvmmsg/sendmmsg",
            EchoMode::Uring => "io_uring multishot",
        }
    }
}

/// Echo forever (until an I/O error).
pub fn run(sock: &UdpSocket, mode: EchoMode) -> io::Result<()> {
    match mode {
        EchoMode::Blocking => run_blocking(sock),
        EchoMode::Mmsg => run_mmsg(sock),
        EchoMode::Uring => crate::echo_uring::run(sock),
    }
}

fn run_blocking(sock: &UdpSocket) -> io::Result<()> {
    let mut buf = vec![0u8; ECHO_DATAGRAM_MAX];
    loop {
        let (n, from) = sock.recv_from(&mut buf)?;
        // A refused send (buffer full) is dropped: the client retransmits.
        let _ = sock.send_to(&buf[..n], from);
    }
}

fn run_mmsg(sock: &UdpSocket) -> io::Result<()> {
    let fd = sock.as_raw_fd();
    let mut bufs = vec![[0u8; ECHO_DATAGRAM_MAX]; BATCH];
    let mut rx = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut tx = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut lens = [0usize; BATCH];
    let mut addrs: Vec<Option<SockaddrStorage>> = Vec::with_capacity(BATCH);
    loop {
        addrs.clear();
        let received = {
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bufs
                .iter_mut()
                .map(|b| [IoSliceMut::new(&mut b[..])])
                .collect();
            let results =
                match recvmmsg(fd, &mut rx, iovs.iter_mut(), MsgFlags::MSG_WAITFORONE, None) {
                    Ok(r) => r,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err(io::Error::from(e)),
                };
            let mut n = 0;
            for r in results {
                lens[n] = r.bytes;
                addrs.push(r.address);
                n += 1;
            }
            n
        };
        let iovs: Vec<[IoSlice<'_>; 1]> = bufs[..received]
            .iter()
            .zip(&lens[..received])
            .map(|(b, &len)| [IoSlice::new(&b[..len])])
            .collect();
        let _ = sendmmsg(fd, &mut tx, iovs.iter(), &addrs, [], MsgFlags::empty());
    }
}
