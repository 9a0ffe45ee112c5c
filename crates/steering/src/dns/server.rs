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

/// Answers TCP connections on `listener` until the task is dropped,
/// closing a connection idle for `idle` (the server passes [`TCP_IDLE`]).
pub async fn serve_tcp(listener: TcpListener, answer: Answer, idle: Duration) {
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
            let _ = connection(stream, peer.ip(), &answer, idle).await;
            drop(permit);
        });
    }
}

/// Serves one TCP connection until the client closes it, idles past
/// `idle`, or sends a broken frame.
async fn connection(
    mut stream: TcpStream,
    peer: IpAddr,
    answer: &Answer,
    idle: Duration,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let timeout = |e| std::io::Error::new(std::io::ErrorKind::TimedOut, e);
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(idle, stream.read_exact(&mut len)).await {
            Err(_) => return Err(timeout("idle")),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(r) => r?,
        };
        let len = usize::from(u16::from_be_bytes(len));
        tokio::time::timeout(idle, stream.read_exact(&mut buf[..len]))
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
        tokio::time::timeout(idle, stream.write_all(&framed))
            .await
            .map_err(|_| timeout("slow reader"))??;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A TCP loop whose answer echoes the query reversed; its address.
    async fn echo(idle: Duration) -> std::net::SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let answer: Answer = Arc::new(|q: &[u8], _, t| {
            assert_eq!(t, Transport::Tcp);
            Some(q.iter().rev().copied().collect())
        });
        tokio::spawn(serve_tcp(l, answer, idle));
        addr
    }

    #[tokio::test]
    async fn rfc1035_4_2_2_length_framed_queries_pipeline_on_one_connection() {
        let addr = echo(Duration::from_secs(5)).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        // Two frames in one write, the second split across two.
        s.write_all(&[0, 3, 1, 2, 3, 0, 2, 9]).await.unwrap();
        s.write_all(&[8]).await.unwrap();
        let mut got = [0u8; 9];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, [0, 3, 3, 2, 1, 0, 2, 8, 9]);
    }

    #[tokio::test]
    async fn an_idle_connection_is_closed_after_the_bound() {
        let idle = Duration::from_millis(200);
        let addr = echo(idle).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        let t0 = Instant::now();
        let mut buf = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("closed within the bound")
            .unwrap_or(0);
        assert_eq!(n, 0, "closed, not answered");
        assert!(t0.elapsed() >= idle, "closed after {:?}", t0.elapsed());
        // A half-sent frame is cut at the bound too.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&[0, 10, 1]).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("closed within the bound")
            .unwrap_or(0);
        assert_eq!(n, 0);
    }
}
