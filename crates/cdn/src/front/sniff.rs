//! Telling HTTP/2 with prior knowledge from HTTP/1.1 on a connection, under
//! a deadline.
//!
//! hyper-util's `auto` builder can do this itself, but it waits for the
//! first bytes with no deadline, so a client that connects and sends
//! nothing (or trickles `P`, `R`, `I`...) would hold a connection slot
//! forever. We read the first bytes ourselves under the header-read
//! timeout, decide with [`classify`] (sans-IO), and hand hyper a stream
//! that replays them ([`Prefixed`]) with the version already chosen.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// What every HTTP/2 connection opens with (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// HTTP/1.x.
    H1,
    /// HTTP/2.
    H2,
}

/// The protocol the first bytes show, or `None` while they are still a
/// prefix of the HTTP/2 preface (more bytes needed). Bytes that leave the
/// preface, or an empty stream that ended, are HTTP/1.x: hyper's HTTP/1
/// parser then answers them as it should (400, or a quiet close).
pub fn classify(first: &[u8]) -> Option<Proto> {
    let n = first.len().min(PREFACE.len());
    if first[..n] != PREFACE[..n] {
        return Some(Proto::H1);
    }
    (n == PREFACE.len()).then_some(Proto::H2)
}

/// Reads until [`classify`] decides (or the stream ends): the bytes read
/// and the protocol. The caller bounds it with a timeout.
pub async fn sniff<I: AsyncRead + Unpin>(io: &mut I) -> io::Result<(Bytes, Proto)> {
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        if let Some(p) = classify(&buf) {
            return Ok((buf.freeze(), p));
        }
        if io.read_buf(&mut buf).await? == 0 {
            return Ok((buf.freeze(), Proto::H1));
        }
    }
}

/// A stream whose first reads return `prefix`.
pub struct Prefixed<I> {
    prefix: Bytes,
    inner: I,
}

impl<I> Prefixed<I> {
    /// `inner`, with `prefix` read first.
    pub fn new(prefix: Bytes, inner: I) -> Prefixed<I> {
        Prefixed { prefix, inner }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefixed<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn rfc_9113_3_4_the_preface_decides() {
        assert_eq!(classify(b""), None);
        assert_eq!(classify(b"PRI * HT"), None);
        assert_eq!(classify(PREFACE), Some(Proto::H2));
        let mut more = PREFACE.to_vec();
        more.extend_from_slice(b"\x00\x00\x12\x04");
        assert_eq!(classify(&more), Some(Proto::H2));
        assert_eq!(classify(b"GET / HTTP/1.1\r\n"), Some(Proto::H1));
        assert_eq!(classify(b"PRI * HTTP/1.1"), Some(Proto::H1));
        assert_eq!(classify(b"P"), None);
        assert_eq!(classify(b"\x16\x03\x01"), Some(Proto::H1));
    }

    #[tokio::test]
    async fn sniffed_bytes_are_replayed_before_the_rest() {
        let (mut client, server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for piece in [&b"PRI * HTTP/2"[..], b".0\r\n\r\nSM\r\n\r\n", b"rest"] {
                client.write_all(piece).await.unwrap();
            }
        });
        let mut server = server;
        let (prefix, proto) = sniff(&mut server).await.unwrap();
        assert_eq!(proto, Proto::H2);
        let mut replay = Prefixed::new(prefix, server);
        let mut all = Vec::new();
        writer.await.unwrap();
        // The writer is gone: read what is left to the end.
        replay.read_to_end(&mut all).await.unwrap();
        assert_eq!(&all[..24], PREFACE);
        assert_eq!(&all[24..], b"rest");
    }

    #[tokio::test]
    async fn a_stream_that_ends_early_is_http_1() {
        let (client, mut server) = tokio::io::duplex(64);
        drop(client);
        let (prefix, proto) = sniff(&mut server).await.unwrap();
        assert_eq!((prefix.len(), proto), (0, Proto::H1));
    }
}
