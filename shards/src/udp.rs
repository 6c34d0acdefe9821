//! UDP: each shard receives on its own SO_REUSEPORT socket (the kernel
//! spreads datagrams by 4-tuple, so a client's retransmissions land on the
//! same shard) and sends synchronously on a duplicate of it.
//!
//! Each datagram is read into one reusable buffer and copied into a `Bytes`
//! of its own size. (Cutting messages out of large shared chunks saved the
//! copy but pinned a whole chunk for as long as any transaction held one of
//! its messages — up to 32 s — and cost 22 KB of resident memory per call
//! plus the kernel's page zeroing at 3 000 calls/s; measured by `perf`.)

use crate::app::App;
use crate::origin::{Inbound, Origin, Transport};
use crate::shard::Shard;
use crate::stats::TransportStats;
use bytes::Bytes;
use std::net::SocketAddr;
use std::rc::Rc;

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// RFC 5626 keep-alives over UDP (a bare CRLF or CRLFCRLF, or STUN we
/// don't speak) carry no SIP: count and skip them.
pub(crate) fn is_keepalive(data: &[u8]) -> bool {
    data.len() <= 4 && data.iter().all(|b| *b == b'\r' || *b == b'\n')
}

pub(crate) async fn receive_loop<A: App>(
    shard: Rc<Shard<A>>,
    sock: glommio::net::UdpSocket,
    local: SocketAddr,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, peer)) => {
                let data = Bytes::copy_from_slice(&buf[..n]);
                let stats = shard.stats();
                TransportStats::bump(&stats.udp_rx);
                if is_keepalive(&data) {
                    TransportStats::bump(&stats.keepalives);
                } else {
                    let msg = Inbound {
                        data,
                        origin: Origin {
                            transport: Transport::Udp,
                            local,
                            peer,
                            conn: None,
                        },
                        received_us: shard.now_us(),
                        handed_from: None,
                    };
                    shard.app().on_message(&shard, msg);
                }
            }
            Err(e) => tracing::debug!(error = %e, "UDP receive error"),
        }
        glommio::yield_if_needed().await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keepalives_are_recognised() {
        assert!(super::is_keepalive(b"\r\n"));
        assert!(super::is_keepalive(b"\r\n\r\n"));
        assert!(!super::is_keepalive(b"OPTIONS"));
    }
}
