//! The DNS face's sockets: UDP (one datagram, one answer) and TCP (two-byte
//! length framing, RFC 1035 section 4.2.2, several queries per connection),
//! both calling one answer function, so the request path stays the pure
//! [`super::Zone::respond`].
//!
//! Bounds: a TCP connection that sends nothing for [`TCP_IDLE`] is closed,
//! as is one that takes longer than that over a query or an answer; at most
//! [`MAX_TCP`] connections are served at once (more wait in the kernel's
//! backlog).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::Transport;
use super::wire::MAX_QUERY;

/// How long a TCP connection may sit idle, or take over one message.
pub const TCP_IDLE: Duration = Duration::from_secs(10);

/// TCP connections served at once.
pub const MAX_TCP: usize = 256;

/// What the loops call for each query: the bytes to send back, if any.
pub type Answer = Arc<dyn Fn(&[u8], IpAddr, Transport) -> Option<Vec<u8>> + Send + Sync>;

/// Answers datagrams on `socket` until the task is dropped.
pub async fn serve_udp(socket: Arc<UdpSocket>, answer: Answer) {
    // One byte over the largest query, so an oversized one is seen as such.
    let mut buf = vec![0u8; MAX_QUERY + 1];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            // An ICMP error from an earlier send surfaces here on Linux;
            // it concerns that client, not this socket.
            Err(_) => continue,
        };
        if let Some(reply) = answer(&buf[..n], peer.ip(), Transport::Udp) {
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

/// Answers TCP connections on `listener` until the task is dropped.
pub async fn serve_tcp(listener: TcpListener, answer: Answer) {
    let slots = Arc::new(Semaphore::new(MAX_TCP));
    let mut conns = JoinSet::new();
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let Ok((stream, peer)) = accepted else {
            // Out of descriptors, most likely: wait rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let answer = answer.clone();
        conns.spawn(async move {
            let _ = connection(stream, peer.ip(), &answer).await;
            drop(permit);
        });
    }
}

/// Serves one TCP connection until the client closes it, idles past
/// [`TCP_IDLE`], or sends a broken frame.
async fn connection(mut stream: TcpStream, peer: IpAddr, answer: &Answer) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let timeout = |e| std::io::Error::new(std::io::ErrorKind::TimedOut, e);
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut len)).await {
            Err(_) => return Err(timeout("idle")),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(r) => r?,
        };
        let len = usize::from(u16::from_be_bytes(len));
        tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut buf[..len]))
            .await
            .map_err(|_| timeout("slow query"))??;
        let Some(reply) = answer(&buf[..len], peer, Transport::Tcp) else {
            continue;
        };
        let Ok(n) = u16::try_from(reply.len()) else {
            // Never built: answers are far below 64 KiB.
            continue;
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&n.to_be_bytes());
        framed.extend_from_slice(&reply);
        tokio::time::timeout(TCP_IDLE, stream.write_all(&framed))
            .await
            .map_err(|_| timeout("slow reader"))??;
    }
}
