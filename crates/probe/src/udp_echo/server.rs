//! The UDP echo responder: answers every valid request with its reply.
//!
//! The responder keeps no per-client state, so any number of clients can
//! share one. It never answers a datagram that is not a well-formed
//! *request* (a reply, a foreign packet, a truncated one): those are counted
//! and dropped, which also means two responders pointed at each other cannot
//! bounce a packet forever.

use std::future::Future;
use std::io;

use tokio::net::UdpSocket;

use super::wire::{self, Kind, Packet};

/// What a responder did before it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServeStats {
    /// Requests answered.
    pub replied: u64,
    /// Datagrams ignored because they were not a well-formed request.
    pub malformed: u64,
    /// Replies the kernel refused to send (e.g. the client's network became
    /// unreachable); the client sees them as losses.
    pub send_failed: u64,
}

/// Echoes requests arriving on `socket` until `stop` resolves.
///
/// Returns an error only for a receive failure that is not about one peer
/// (a closed or broken socket); per-peer send failures are counted in
/// [`ServeStats::send_failed`] and serving goes on.
pub async fn serve(socket: UdpSocket, stop: impl Future<Output = ()>) -> io::Result<ServeStats> {
    let mut stats = ServeStats::default();
    // Room for any UDP payload (IPv6 allows a little more than the IPv4
    // limit the client sends), so a request is never truncated and the
    // reply is always the same size as the request.
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    tokio::pin!(stop);
    loop {
        let (len, peer) = tokio::select! {
            // Stop first, so a flood of requests cannot keep the responder
            // from noticing that it was asked to stop.
            biased;
            () = &mut stop => return Ok(stats),
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                // Some systems report an earlier ICMP error for one peer on
                // the next receive; that peer's problem is not the socket's.
                Err(e) if is_peer_error(&e) => continue,
                Err(e) => return Err(e),
            },
        };
        let datagram = &mut buf[..len];
        match Packet::parse(datagram) {
            Ok(p) if p.kind == Kind::Request => {
                wire::mark_as_reply(datagram);
                match socket.send_to(datagram, peer).await {
                    Ok(_) => stats.replied += 1,
                    Err(_) => stats.send_failed += 1,
                }
            }
            Ok(_) | Err(_) => stats.malformed += 1,
        }
    }
}

/// Errors that concern one remote peer (ICMP-reported) rather than our
/// socket; UDP keeps working for every other peer after them.
pub(crate) fn is_peer_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn echoes_requests_and_counts_the_rest() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(server, async {
            let _ = rx.await;
        }));

        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(addr).await.unwrap();
        client.send(b"junk").await.unwrap();
        let mut buf = Vec::new();
        Packet {
            kind: Kind::Reply,
            seq: 1,
            stamp_ns: 1,
        }
        .emit(&mut buf, 30);
        client.send(&buf).await.unwrap();
        let req = Packet {
            kind: Kind::Request,
            seq: 7,
            stamp_ns: 99,
        };
        req.emit(&mut buf, 100);
        client.send(&buf).await.unwrap();

        let mut got = [0u8; 200];
        let n = client.recv(&mut got).await.unwrap();
        assert_eq!(n, 100);
        assert_eq!(
            Packet::parse(&got[..n]),
            Ok(Packet {
                kind: Kind::Reply,
                ..req
            })
        );

        tx.send(()).unwrap();
        let stats = task.await.unwrap().unwrap();
        assert_eq!(
            stats,
            ServeStats {
                replied: 1,
                malformed: 2,
                send_failed: 0
            }
        );
    }
}
