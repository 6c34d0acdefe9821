//! Creating the SO_REUSEPORT socket groups: one socket per shard per
//! address, all on the same port (port 0 resolves once, for the group).

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;

fn new_socket(addr: SocketAddr, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let s = Socket::new(domain, ty, Some(proto))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// `n` UDP sockets bound to `addr` (same port), buffers sized as asked.
pub(crate) fn udp_group(
    addr: SocketAddr,
    n: usize,
    recv_buffer: usize,
    send_buffer: usize,
) -> io::Result<(SocketAddr, Vec<Socket>)> {
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
