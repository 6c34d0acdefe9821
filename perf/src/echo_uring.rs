//! The io_uring echo ceiling: one multishot `RECVMSG` into a provided buffer
//! ring, each datagram sent back with a `SENDMSG` straight from its buffer
//! (given back to the ring when the send completes), every send of a batch
//! submitted in the same `io_uring_enter` that waits for the next datagram.
//! The least a shard driving UDP on its own ring could do per datagram
//! (set up with `SINGLE_ISSUER | DEFER_TASKRUN`, 6.1+).

use std::alloc::Layout;
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::{IoUring, cqueue, opcode, types};

const BUFFERS: u16 = 256;
/// Header (`io_uring_recvmsg_out`), a `sockaddr_in6`, then the payload.
const BUF_SIZE: usize = 4096;
const NAME_LEN: u32 = 28;
const BGID: u16 = 0;
const TAG_RECV: u64 = 1 << 63;

/// Per buffer: the send's header and iovec (they must outlive the SQE).
struct SendSlot {
    iov: libc::iovec,
    msg: libc::msghdr,
}

/// Echo forever (until an I/O error).
pub fn run(sock: &UdpSocket) -> io::Result<()> {
    // The thread only ever waits in this ring: completions run as deferred
    // task work inside that wait (no signal-style notification per datagram).
    let mut ring: IoUring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(512)?;
    let ring_layout =
        Layout::from_size_align(usize::from(BUFFERS) * 16, 4096).map_err(io::Error::other)?;
    let data_layout =
        Layout::from_size_align(usize::from(BUFFERS) * BUF_SIZE, 4096).map_err(io::Error::other)?;
    // SAFETY: non-zero layouts; the memory is never freed (the process
    // echoes until it is killed), so the kernel can always write to it.
    #[allow(unsafe_code)]
    let (bufring, data) = unsafe {
        (
            std::alloc::alloc_zeroed(ring_layout).cast::<types::BufRingEntry>(),
            std::alloc::alloc_zeroed(data_layout),
        )
    };
    if bufring.is_null() || data.is_null() {
        return Err(io::ErrorKind::OutOfMemory.into());
    }
    let mut tail: u16 = 0;
    let give_back = |tail: &mut u16, bid: u16| {
        let slot = usize::from(*tail & (BUFFERS - 1));
        // SAFETY: slot < BUFFERS entries; buffer `bid` < BUFFERS lies inside `data`.
        #[allow(unsafe_code)]
        unsafe {
            let e = &mut *bufring.add(slot);
            e.set_addr(data.add(usize::from(bid) * BUF_SIZE) as u64);
            e.set_len(BUF_SIZE as u32);
            e.set_bid(bid);
        }
        *tail = tail.wrapping_add(1);
    };
    let publish = |tail: u16| {
        // SAFETY: the tail lies in the first ring entry, alive for the process.
        #[allow(unsafe_code)]
        unsafe {
            (*types::BufRingEntry::tail(bufring).cast::<AtomicU16>())
                .store(tail, Ordering::Release);
        }
    };
    for bid in 0..BUFFERS {
        give_back(&mut tail, bid);
    }
    publish(tail);
    // SAFETY: the ring memory lives for the rest of the process.
    #[allow(unsafe_code)]
    unsafe {
        ring.submitter()
            .register_buf_ring_with_flags(bufring as u64, BUFFERS, BGID, 0)?;
    }
    // SAFETY: msghdr is plain data; zero is its empty value.
    #[allow(unsafe_code)]
    let mut recv_msg: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
    recv_msg.msg_namelen = NAME_LEN;
    let mut slots: Vec<SendSlot> = (0..BUFFERS)
        .map(|_| SendSlot {
            iov: libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
            // SAFETY: as above.
            #[allow(unsafe_code)]
            msg: unsafe { std::mem::zeroed() },
        })
        .collect();
    let fd = types::Fd(sock.as_raw_fd());
    let recv = opcode::RecvMsgMulti::new(fd, &*recv_msg, BGID)
        .build()
        .user_data(TAG_RECV);
    // SAFETY: `recv_msg` outlives the ring's use of it (never dropped before return).
    #[allow(unsafe_code)]
    unsafe {
        ring.submission()
            .push(&recv)
            .map_err(|_| io::Error::other("submission queue full"))?;
    }
    let mut sends = Vec::with_capacity(64);
    loop {
        match ring.submit_and_wait(1) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(e) => return Err(e),
        }
        let mut rearm = false;
        let mut returned = false;
        for cqe in ring.completion() {
            let flags = cqe.flags();
            let res = cqe.result();
            if cqe.user_data() & TAG_RECV == 0 {
                // A send finished: its buffer goes back to the ring.
                give_back(&mut tail, cqe.user_data() as u16);
                returned = true;
                continue;
            }
            if !cqueue::more(flags) {
                rearm = true;
            }
            let Some(bid) = cqueue::buffer_select(flags) else {
                continue;
            };
            if res < 0 {
                give_back(&mut tail, bid);
                returned = true;
                continue;
            }
            let base = usize::from(bid) * BUF_SIZE;
            // SAFETY: the kernel wrote `res` bytes of buffer `bid` and posted
            // its completion; the buffer is ours until given back.
            #[allow(unsafe_code)]
            let filled = unsafe { std::slice::from_raw_parts(data.add(base), res as usize) };
            let Ok(out) = types::RecvMsgOut::parse(filled, &recv_msg) else {
                give_back(&mut tail, bid);
                returned = true;
                continue;
            };
            let payload = out.payload_data();
            let name = out.name_data();
            let slot = &mut slots[usize::from(bid)];
            slot.iov = libc::iovec {
                iov_base: payload.as_ptr().cast_mut().cast(),
                iov_len: payload.len(),
            };
            slot.msg.msg_name = name.as_ptr().cast_mut().cast();
            slot.msg.msg_namelen = name.len() as u32;
            slot.msg.msg_iov = &mut slot.iov;
            slot.msg.msg_iovlen = 1;
            sends.push(
                opcode::SendMsg::new(fd, &slot.msg)
                    .flags(libc::MSG_DONTWAIT as u32)
                    .build()
                    .user_data(u64::from(bid)),
            );
        }
        if returned {
            publish(tail);
        }
        if rearm {
            sends.push(recv.clone());
        }
        for e in sends.drain(..) {
            // SAFETY: each send points into its buffer and slot, both kept
            // until the send's completion gives the buffer back.
            #[allow(unsafe_code)]
            let pushed = unsafe { ring.submission().push(&e).is_ok() };
            if !pushed {
                ring.submit()?;
                // SAFETY: as above.
                #[allow(unsafe_code)]
                unsafe {
                    ring.submission()
                        .push(&e)
                        .map_err(|_| io::Error::other("submission queue full"))?;
                }
            }
        }
    }
}
