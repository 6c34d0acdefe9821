//! Creating the SO_REUSEPORT socket groups: one socket per shard per
//! address, all on the same port (port 0 resolves once, for the group).

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;

fn plain_socket(addr: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let s = Socket::new(domain, ty, Some(proto))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    if ty == Type::STREAM {
        // Restart without waiting out TIME_WAIT; UDP has no need of it.
        s.set_reuse_address(true)?;
    }
    Ok(s)
}

/// SO_REUSEPORT would let a second process (a stale instance, say) join the
/// group and silently take a share of the traffic. Bind the port once
/// without it first: that fails while anyone else holds the port.
fn ensure_unowned(addr: SocketAddr, ty: Type, proto: Protocol) -> io::Result<()> {
    if addr.port() == 0 {
        return Ok(());
    }
    let probe = plain_socket(addr, ty, proto)?;
    probe.bind(&addr.into()).map_err(|e| {
        if e.kind() == io::ErrorKind::AddrInUse {
            io::Error::new(
                e.kind(),
                format!("{addr} is already in use by another socket or process"),
            )
        } else {
            e
        }
    })
}

fn new_socket(addr: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let s = plain_socket(addr, ty, proto)?;
    s.set_reuse_port(true)?;
    // Blocking mode on purpose: io_uring arms its own poll for a blocking
    // socket, but completes a receive on an O_NONBLOCK one with EAGAIN. Our
    // synchronous sends pass MSG_DONTWAIT instead.
    Ok(s)
}

/// `n` UDP sockets bound to `addr` (same port), buffers sized as asked.
pub(crate) fn udp_group(
    addr: SocketAddr,
    n: usize,
    recv_buffer: usize,
    send_buffer: usize,
) -> io::Result<(SocketAddr, Vec<Socket>)> {
    ensure_unowned(addr, Type::DGRAM, Protocol::UDP)?;
    let mut bound = addr;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let s = new_socket(bound, Type::DGRAM, Protocol::UDP)?;
        // The kernel caps these at net.core.rmem_max/wmem_max; best effort.
        let _ = s.set_recv_buffer_size(recv_buffer);
        let _ = s.set_send_buffer_size(send_buffer);
        s.bind(&bound.into())?;
        if bound.port() == 0 {
            bound = s
                .local_addr()?
                .as_socket()
                .ok_or_else(|| io::Error::other("bound UDP socket has no inet address"))?;
        }
        out.push(s);
    }
    Ok((bound, out))
}

/// `n` listening TCP sockets on `addr` (same port).
pub(crate) fn tcp_group(
    addr: SocketAddr,
    n: usize,
    backlog: i32,
) -> io::Result<(SocketAddr, Vec<Socket>)> {
    ensure_unowned(addr, Type::STREAM, Protocol::TCP)?;
    let mut bound = addr;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let s = new_socket(bound, Type::STREAM, Protocol::TCP)?;
        s.bind(&bound.into())?;
        s.listen(backlog)?;
        if bound.port() == 0 {
            bound = s
                .local_addr()?
                .as_socket()
                .ok_or_else(|| io::Error::other("bound TCP socket has no inet address"))?;
        }
        out.push(s);
    }
    Ok((bound, out))
}
