//! UDP: each shard receives on its own SO_REUSEPORT socket (the kernel
//! spreads datagrams by 4-tuple, so a client's retransmissions land on the
//! same shard) and sends synchronously on a duplicate of it.
//!
//! Datagrams are read into large zeroed chunks and split off as `Bytes`, so a
//! message costs no allocation of its own; a chunk is freed when the last
//! message cut from it is dropped.

use crate::app::App;
use crate::origin::{Inbound, Origin, Transport};
use crate::shard::Shard;
use crate::stats::TransportStats;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::rc::Rc;

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;
/// Receive chunk: many typical SIP datagrams per allocation.
const CHUNK: usize = 1 << 20;

fn fresh_chunk() -> BytesMut {
    let mut b = BytesMut::with_capacity(CHUNK);
    b.resize(CHUNK, 0);
    b
}

/// RFC 5626 keep-alives over UDP (a bare CRLF or CRLFCRLF, or STUN we
/// don't speak) carry no SIP: count and skip them.
fn is_keepalive(data: &[u8]) -> bool {
    data.len() <= 4 && data.iter().all(|b| *b == b'\r' || *b == b'\n')
}

pub(crate) async fn receive_loop<A: App>(
    shard: Rc<Shard<A>>,
    sock: glommio::net::UdpSocket,
    local: SocketAddr,
) {
    let mut pool = fresh_chunk();
    loop {
        if pool.len() < MAX_DATAGRAM {
            pool = fresh_chunk();
        }
        match sock.recv_from(&mut pool[..MAX_DATAGRAM]).await {
            Ok((n, peer)) => {
                let data = pool.split_to(n).freeze();
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
