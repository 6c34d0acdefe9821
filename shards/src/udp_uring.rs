//! UDP driven by the shard's own io_uring (the `io-uring` crate), beside
//! glommio's reactor: one multishot `RECVMSG` per socket filling buffers from
//! a provided buffer ring, and sends queued as `SENDMSG` entries during a
//! processing pass and submitted together. glommio keeps scheduling, TCP and
//! timers; this ring only wakes it.
//!
//! Waking: glommio 0.9 cannot await readiness of an arbitrary descriptor, but
//! it reads files through its own ring. An eventfd is registered with our
//! ring (the kernel adds to it when a completion is posted) and glommio reads
//! it as a file: the read completes when our ring has work. Notifications
//! are switched off (a flag in the shared completion ring, no system call)
//! while the driver is busy, so under load it loops without waking anyone;
//! when idle it costs one eventfd read in glommio's ring per wake-up.
//!
//! The ring is set up with `COOP_TASKRUN | TASKRUN_FLAG`: datagrams arriving
//! while the shard runs are completed at its next `io_uring_enter` (the
//! submit at the end of a pass) instead of interrupting it one by one.
//!
//! Why not glommio's own datagram path: per datagram it tries a non-blocking
//! `recvmsg` that fails, submits a receive and parks; here a datagram costs
//! the kernel's multishot completion and nothing else, and the answers of a
//! pass leave in one `io_uring_enter`.
//!
//! Measured (`perf/README.md`, loopback OPTIONS, one pinned shard): no
//! cheaper than glommio's path, so not the default. strace counts 1.8 system
//! calls per request here against 3.1 there (`recvmsg` + `sendto` +
//! `io_uring_enter`), but both are dominated by what neither changes: glommio
//! parking and unparking the shard (9–13 `io_uring_enter` and a `membarrier`
//! per wake-up, across its three rings and preemption timers) and the kernel's
//! loopback wake-ups. Parking the shard in this ring instead (timers, mesh
//! and TCP readiness moved onto it) is what would remove that.
//!
//! Each datagram is copied into an exact-size `Bytes` (see `udp.rs` for why)
//! and its buffer goes straight back to the ring.

use crate::app::App;
use crate::origin::{Inbound, Origin, Transport};
use crate::shard::Shard;
use crate::stats::TransportStats;
use bytes::Bytes;
use io_uring::{IoUring, cqueue, opcode, squeue, types};
use std::alloc::Layout;
use std::cell::RefCell;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicU16, Ordering};

/// Buffer group id of our provided buffer ring.
const BGID: u16 = 0;
/// Tags in the high bits of `user_data`; the low bits index a socket or a send.
const TAG_RECV: u64 = 1 << 63;
const TAG_CANCEL: u64 = 1 << 62;
/// Completions handled per pass before other tasks get a turn.
const PASS_MAX: usize = 64;
/// Room reserved in each buffer for the address: a `sockaddr_in6` holds both families.
const NAME_LEN: usize = std::mem::size_of::<libc::sockaddr_in6>();
/// `struct io_uring_recvmsg_out` precedes the name in every buffer.
const RECVMSG_OUT_LEN: usize = 16;

/// Sizes of the provided buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RingSizes {
    /// Number of receive buffers (a power of two, at most 32 768).
    pub buffers: u16,
    /// Largest datagram received whole; longer ones are dropped and counted.
    pub datagram_max: usize,
    /// Submission queue entries (sends in flight per pass).
    pub entries: u32,
}

/// The provided buffer ring: the ring of descriptors the kernel reads and
/// the memory they point into.
struct BufPool {
    ring: *mut types::BufRingEntry,
    ring_layout: Layout,
    data: *mut u8,
    data_layout: Layout,
    count: u16,
    size: usize,
    tail: u16,
    /// The kernel may still write here: never free.
    leak: bool,
}

impl BufPool {
    fn new(count: u16, datagram_max: usize) -> io::Result<Self> {
        if !count.is_power_of_two() || count > 32_768 {
            return Err(io::Error::other(
                "buffer count must be a power of two ≤ 32768",
            ));
        }
        // Header, name, payload; rounded so every buffer starts aligned.
        let size = (RECVMSG_OUT_LEN + NAME_LEN + datagram_max).next_multiple_of(64);
        let ring_layout =
            Layout::from_size_align(usize::from(count) * 16, 4096).map_err(io::Error::other)?;
        let data_layout =
            Layout::from_size_align(size * usize::from(count), 4096).map_err(io::Error::other)?;
        // SAFETY: both layouts have a non-zero size (count ≥ 1, size ≥ 64).
        // Zeroed allocations this large come from fresh mappings, so pages
        // are only touched as the kernel fills them.
        #[allow(unsafe_code)]
        let (ring, data) = unsafe {
            (
                std::alloc::alloc_zeroed(ring_layout).cast::<types::BufRingEntry>(),
                std::alloc::alloc_zeroed(data_layout),
            )
        };
        if ring.is_null() || data.is_null() {
            // SAFETY: each pointer is freed only if it was allocated, with its layout.
            #[allow(unsafe_code)]
            unsafe {
                if !ring.is_null() {
                    std::alloc::dealloc(ring.cast(), ring_layout);
                }
                if !data.is_null() {
                    std::alloc::dealloc(data, data_layout);
                }
            }
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        let mut pool = Self {
            ring,
            ring_layout,
            data,
            data_layout,
            count,
            size,
            tail: 0,
            leak: false,
        };
        for bid in 0..count {
            pool.give_back(bid);
        }
        pool.publish();
        Ok(pool)
    }

    /// Put buffer `bid` at the ring's tail (seen by the kernel after `publish`).
    fn give_back(&mut self, bid: u16) {
        let bid = bid & (self.count - 1);
        let slot = usize::from(self.tail & (self.count - 1));
        // SAFETY: `slot` < count, the ring holds `count` entries; the offset
        // of buffer `bid` (< count) lies inside the data allocation.
        #[allow(unsafe_code)]
        unsafe {
            let entry = &mut *self.ring.add(slot);
            entry.set_addr(self.data.add(usize::from(bid) * self.size) as u64);
            entry.set_len(self.size as u32);
            entry.set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: the tail field sits inside the first ring entry, which is
        // 2-byte aligned and lives as long as the pool; the kernel reads it
        // concurrently, hence the atomic store with release ordering.
        #[allow(unsafe_code)]
        unsafe {
            let tail = types::BufRingEntry::tail(self.ring).cast::<AtomicU16>();
            (*tail).store(self.tail, Ordering::Release);
        }
    }

    /// The first `len` bytes of buffer `bid`, as the kernel wrote them.
    fn filled(&self, bid: u16, len: usize) -> &[u8] {
        let bid = usize::from(bid & (self.count - 1));
        let len = len.min(self.size);
        // SAFETY: buffer `bid` is `size` bytes inside the data allocation,
        // initialised (zeroed at allocation), and the kernel has finished
        // writing it (its completion was posted) and owns it no more until
        // `give_back`.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(self.data.add(bid * self.size), len)
        }
    }
}

impl Drop for BufPool {
    fn drop(&mut self) {
        if self.leak {
            return;
        }
        // SAFETY: allocated in `new` with these layouts; the owner frees the
        // pool only once the kernel can no longer write to it.
        #[allow(unsafe_code)]
        unsafe {
            std::alloc::dealloc(self.ring.cast(), self.ring_layout);
            std::alloc::dealloc(self.data, self.data_layout);
        }
    }
}

/// One socket with a multishot receive on it.
struct RecvSock {
    local: SocketAddr,
    socket: socket2::Socket,
    /// Only `msg_namelen` and `msg_controllen` matter for a multishot receive.
    msg: Box<libc::msghdr>,
    armed: bool,
}

/// A send the kernel has not completed: everything its SQE points at.
struct PendingSend {
    data: Vec<u8>,
    addr: socket2::SockAddr,
    iov: libc::iovec,
    msg: libc::msghdr,
}

fn empty_msghdr() -> libc::msghdr {
    // SAFETY: msghdr is plain data; all-zero is its empty value.
    #[allow(unsafe_code)]
    unsafe {
        std::mem::zeroed()
    }
}

impl PendingSend {
    fn new() -> Box<Self> {
        Box::new(Self {
            data: Vec::new(),
            addr: socket2::SockAddr::from(SocketAddr::from(([0, 0, 0, 0], 0))),
            iov: libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
            msg: empty_msghdr(),
        })
    }

    /// Point the header at our own fields (call once the box is where it stays).
    fn link(&mut self) {
        self.iov = libc::iovec {
            iov_base: self.data.as_mut_ptr().cast(),
            iov_len: self.data.len(),
        };
        self.msg = empty_msghdr();
        self.msg.msg_name = self.addr.as_ptr().cast_mut().cast();
        self.msg.msg_namelen = self.addr.len();
        self.msg.msg_iov = &mut self.iov;
        self.msg.msg_iovlen = 1;
    }
}

/// A datagram taken off the ring.
pub(crate) struct Datagram {
    pub data: Bytes,
    pub peer: SocketAddr,
    pub local: SocketAddr,
}

/// What a reap saw besides datagrams.
#[derive(Debug, Default)]
pub(crate) struct Reaped {
    pub completions: usize,
    pub sent: u64,
    pub send_dropped: u64,
    pub rx_dropped: u64,
}

/// One shard's UDP ring.
pub(crate) struct UringUdp {
    // Field order matters: the ring is closed (and every request ended, see
    // Drop) before the memory its requests point into is freed.
    ring: IoUring,
    socks: Vec<RecvSock>,
    sends: Vec<Option<Box<PendingSend>>>,
    free_slots: Vec<usize>,
    // Boxed on purpose: the kernel holds pointers into each send's header,
    // which must not move when the vector grows.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<PendingSend>>,
    in_flight: usize,
    /// SQEs pushed and not yet submitted.
    queued: usize,
    /// The driver is dispatching a batch: sends wait for its one submit.
    in_pass: bool,
    pool: BufPool,
}

impl UringUdp {
    /// Ring, buffers and eventfd; returns the eventfd glommio should read.
    pub(crate) fn new(
        sockets: Vec<(SocketAddr, socket2::Socket)>,
        sizes: RingSizes,
    ) -> io::Result<(Self, OwnedFd)> {
        // COOP_TASKRUN: a datagram arriving while the shard runs does not
        // interrupt it (no IPI); its completion is produced at our next
        // system call, which the TASKRUN flag tells us to make. A sleeping
        // shard is still woken.
        let ring = IoUring::builder()
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .build(sizes.entries)
            .or_else(|_| IoUring::new(sizes.entries))?;
        let pool = BufPool::new(sizes.buffers, sizes.datagram_max)?;
        // SAFETY: the ring memory stays valid until the ring is dropped
        // (field order, and Drop ends every request first).
        #[allow(unsafe_code)]
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(pool.ring as u64, pool.count, BGID, 0)?;
        }
        // SAFETY: eventfd takes no pointers; the result is checked.
        #[allow(unsafe_code)]
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if efd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor we own.
        #[allow(unsafe_code)]
        let efd = unsafe { OwnedFd::from_raw_fd(efd) };
        ring.submitter().register_eventfd(efd.as_raw_fd())?;
        let socks = sockets
            .into_iter()
            .map(|(local, socket)| {
                let mut msg = Box::new(empty_msghdr());
                msg.msg_namelen = NAME_LEN as libc::socklen_t;
                RecvSock {
                    local,
                    socket,
                    msg,
                    armed: false,
                }
            })
            .collect();
        let mut me = Self {
            ring,
            socks,
            sends: Vec::new(),
            free_slots: Vec::new(),
            spare: Vec::new(),
            in_flight: 0,
            queued: 0,
            in_pass: false,
            pool,
        };
        me.ring.completion().disable_eventfd();
        for i in 0..me.socks.len() {
            me.arm(i);
        }
        me.submit();
        Ok((me, efd))
    }

    fn push(&mut self, entry: &squeue::Entry) {
        loop {
            // SAFETY: every pointer in our entries (msghdr, buffers) lives in
            // a box owned by `self` until its completion is reaped.
            #[allow(unsafe_code)]
            let pushed = unsafe { self.ring.submission().push(entry).is_ok() };
            if pushed {
                self.queued += 1;
                return;
            }
            // Queue full: hand it to the kernel and try again.
            if let Err(e) = self.ring.submit() {
                tracing::warn!(error = %e, "io_uring submit failed with a full queue");
                return;
            }
            self.queued = 0;
        }
    }

    fn arm(&mut self, i: usize) {
        let s = &self.socks[i];
        let entry = opcode::RecvMsgMulti::new(types::Fd(s.socket.as_raw_fd()), &*s.msg, BGID)
            .build()
            .user_data(TAG_RECV | i as u64);
        self.push(&entry);
        self.socks[i].armed = true;
    }

    /// Hand queued entries to the kernel (sends complete inline on loopback),
    /// and let it produce completions it has pending for us.
    pub(crate) fn submit(&mut self) {
        if self.queued == 0 && !self.ring.submission().taskrun() {
            return;
        }
        match self.ring.submit() {
            Ok(_) => self.queued = 0,
            // EBUSY/EAGAIN: completions are backed up; reaping them frees room
            // and the next pass submits again.
            Err(e) => tracing::debug!(error = %e, "io_uring submit deferred"),
        }
    }

    pub(crate) fn set_in_pass(&mut self, on: bool) {
        self.in_pass = on;
    }

    /// Index of our socket bound to `local`.
    pub(crate) fn socket_for(&self, local: SocketAddr) -> Option<usize> {
        self.socks.iter().position(|s| s.local == local)
    }

    /// Queue a datagram from socket `i` (submitted now, or at the end of the
    /// pass when the driver is dispatching).
    pub(crate) fn send(&mut self, i: usize, to: SocketAddr, data: &[u8]) {
        let fd = self.socks[i].socket.as_raw_fd();
        let mut p = self.spare.pop().unwrap_or_else(PendingSend::new);
        p.data.clear();
        p.data.extend_from_slice(data);
        p.addr = socket2::SockAddr::from(to);
        p.link();
        let slot = self.free_slots.pop().unwrap_or_else(|| {
            self.sends.push(None);
            self.sends.len() - 1
        });
        let entry = opcode::SendMsg::new(types::Fd(fd), &p.msg)
            .flags(libc::MSG_DONTWAIT as u32)
            .build()
            .user_data(slot as u64);
        self.sends[slot] = Some(p);
        self.in_flight += 1;
        self.push(&entry);
        if !self.in_pass {
            self.submit();
        }
    }

    /// Take up to `max` completions: datagrams (copied) into `out`, sends
    /// freed, buffers returned, receives re-armed.
    pub(crate) fn reap(&mut self, out: &mut Vec<Datagram>, max: usize) -> Reaped {
        let mut r = Reaped::default();
        let mut rearm = Vec::new();
        let mut returned = false;
        {
            let cq = self.ring.completion();
            for cqe in cq.take(max) {
                r.completions += 1;
                let ud = cqe.user_data();
                let res = cqe.result();
                if ud & TAG_CANCEL != 0 {
                    continue;
                }
                if ud & TAG_RECV == 0 {
                    let slot = ud as usize;
                    if let Some(p) = self.sends.get_mut(slot).and_then(Option::take) {
                        self.spare.push(p);
                        self.free_slots.push(slot);
                        self.in_flight -= 1;
                    }
                    match res {
                        n if n >= 0 => r.sent += 1,
                        e if e == -libc::EAGAIN || e == -libc::ENOBUFS => r.send_dropped += 1,
                        e => {
                            r.send_dropped += 1;
                            tracing::debug!(error = %io::Error::from_raw_os_error(-e), "UDP send failed");
                        }
                    }
                    continue;
                }
                let i = (ud & !TAG_RECV) as usize;
                let Some(sock) = self.socks.get_mut(i) else {
                    continue;
                };
                if !cqueue::more(cqe.flags()) {
                    sock.armed = false;
                    if res != -libc::ECANCELED {
                        rearm.push(i);
                    }
                }
                let Some(bid) = cqueue::buffer_select(cqe.flags()) else {
                    // ENOBUFS: every buffer was taken; the datagram stays
                    // queued in the socket and the re-armed receive gets it.
                    if res < 0 && res != -libc::ECANCELED && res != -libc::ENOBUFS {
                        tracing::debug!(error = %io::Error::from_raw_os_error(-res), "UDP receive failed");
                    }
                    continue;
                };
                returned = true;
                if res >= 0 {
                    let filled = self.pool.filled(bid, res as usize);
                    match types::RecvMsgOut::parse(filled, &sock.msg) {
                        Ok(m) if !m.is_payload_truncated() && !m.is_name_data_truncated() => {
                            match parse_sockaddr(m.name_data()) {
                                Some(peer) => out.push(Datagram {
                                    data: Bytes::copy_from_slice(m.payload_data()),
                                    peer,
                                    local: sock.local,
                                }),
                                None => r.rx_dropped += 1,
                            }
                        }
                        _ => r.rx_dropped += 1,
                    }
                }
                self.pool.give_back(bid);
            }
        }
        if returned {
            self.pool.publish();
        }
        for i in rearm {
            self.arm(i);
        }
        r
    }

    /// Turn wake-ups on and say whether the driver may sleep (nothing waits).
    pub(crate) fn prepare_idle(&mut self) -> bool {
        self.submit();
        let mut cq = self.ring.completion();
        cq.enable_eventfd();
        cq.sync();
        if cq.is_empty() {
            true
        } else {
            cq.disable_eventfd();
            false
        }
    }

    pub(crate) fn busy(&mut self) {
        self.ring.completion().disable_eventfd();
    }

    fn outstanding(&self) -> bool {
        self.in_flight > 0 || self.socks.iter().any(|s| s.armed)
    }
}

impl Drop for UringUdp {
    fn drop(&mut self) {
        // The kernel may write into our buffers until every request has
        // ended: cancel them all and wait (bounded) for their completions.
        if self.outstanding() {
            let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::any())
                .build()
                .user_data(TAG_CANCEL);
            self.push(&cancel);
            let ts = types::Timespec::new().nsec(50_000_000);
            for _ in 0..20 {
                let args = types::SubmitArgs::new().timespec(&ts);
                let _ = self.ring.submitter().submit_with_args(1, &args);
                self.reap_closing();
                if !self.outstanding() {
                    break;
                }
            }
        }
        if self.outstanding() {
            tracing::warn!("io_uring requests still pending at shutdown: leaking their buffers");
            self.pool.leak = true;
            std::mem::forget(std::mem::take(&mut self.sends));
        } else {
            let _ = self.ring.submitter().unregister_buf_ring(BGID);
        }
    }
}

impl UringUdp {
    /// Reap during shutdown: free what completed, re-arm nothing.
    fn reap_closing(&mut self) {
        for cqe in self.ring.completion() {
            let ud = cqe.user_data();
            if ud & TAG_CANCEL != 0 {
                continue;
            }
            if ud & TAG_RECV == 0 {
                if self
                    .sends
                    .get_mut(ud as usize)
                    .and_then(Option::take)
                    .is_some()
                {
                    self.in_flight -= 1;
                }
                continue;
            }
            if let Some(s) = self.socks.get_mut((ud & !TAG_RECV) as usize) {
                if !cqueue::more(cqe.flags()) {
                    s.armed = false;
                }
            }
        }
    }
}

/// A `sockaddr_in` or `sockaddr_in6` as the kernel wrote it.
fn parse_sockaddr(b: &[u8]) -> Option<SocketAddr> {
    let family = i32::from(u16::from_ne_bytes([*b.first()?, *b.get(1)?]));
    let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
    match family {
        libc::AF_INET => {
            let ip: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        libc::AF_INET6 => {
            let flow = u32::from_be_bytes(b.get(4..8)?.try_into().ok()?);
            let ip: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            let scope = u32::from_ne_bytes(b.get(24..28)?.try_into().ok()?);
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                flow,
                scope,
            )))
        }
        _ => None,
    }
}

/// The shard's UDP driver: reap, dispatch, submit the answers, sleep on the
/// eventfd when nothing is left.
pub(crate) async fn drive<A: App>(shard: Rc<Shard<A>>, udp: Rc<RefCell<UringUdp>>, wake: OwnedFd) {
    // SAFETY: `wake` is an eventfd we own; glommio takes it over and closes it.
    #[allow(unsafe_code)]
    let wake = unsafe {
        <glommio::io::BufferedFile as FromRawFd>::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(
            wake,
        ))
    };
    let mut batch = Vec::with_capacity(PASS_MAX);
    loop {
        let reaped = udp.borrow_mut().reap(&mut batch, PASS_MAX);
        let stats = shard.stats();
        stats.udp_tx.set(stats.udp_tx.get() + reaped.sent);
        stats
            .udp_tx_dropped
            .set(stats.udp_tx_dropped.get() + reaped.send_dropped);
        stats
            .udp_rx_dropped
            .set(stats.udp_rx_dropped.get() + reaped.rx_dropped);
        if reaped.completions == 0 {
            let sleep = udp.borrow_mut().prepare_idle();
            if sleep {
                if let Err(e) = wake.read_at(0, 8).await {
                    tracing::warn!(error = %e, "waiting on the UDP ring failed");
                    glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
                }
                udp.borrow_mut().busy();
            }
            continue;
        }
        if !batch.is_empty() {
            udp.borrow_mut().set_in_pass(true);
            for d in batch.drain(..) {
                dispatch(&shard, d);
            }
            let mut u = udp.borrow_mut();
            u.set_in_pass(false);
            u.submit();
        }
        glommio::yield_if_needed().await;
    }
}

fn dispatch<A: App>(shard: &Rc<Shard<A>>, d: Datagram) {
    let stats = shard.stats();
    TransportStats::bump(&stats.udp_rx);
    if crate::udp::is_keepalive(&d.data) {
        TransportStats::bump(&stats.keepalives);
        return;
    }
    let msg = Inbound {
        data: d.data,
        origin: Origin {
            transport: Transport::Udp,
            local: d.local,
            peer: d.peer,
            conn: None,
        },
        received_us: shard.now_us(),
        handed_from: None,
    };
    shard.app().on_message(shard, msg);
}

#[cfg(test)]
mod tests {
    use super::parse_sockaddr;
    use std::net::SocketAddr;

    fn raw(addr: SocketAddr) -> Vec<u8> {
        let s = socket2::SockAddr::from(addr);
        // SAFETY: `as_ptr` points at `len` initialised bytes of the address.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(s.as_ptr().cast::<u8>(), s.len() as usize).to_vec()
        }
    }

    #[test]
    fn addresses_parse_as_the_kernel_writes_them() {
        for a in ["127.0.0.1:5060", "[::1]:5070", "[fe80::1%2]:9"] {
            let addr: SocketAddr = a.parse().unwrap_or_else(|_| unreachable!());
            assert_eq!(parse_sockaddr(&raw(addr)), Some(addr));
        }
        assert_eq!(parse_sockaddr(&[0, 0, 0]), None);
        assert_eq!(parse_sockaddr(&[0u8; 28]), None);
    }
}
