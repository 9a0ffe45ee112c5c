//! Kept-alive HTTP/1.1 connections, plain and over TLS: an idle one is not
//! cut by the header-read timeout between requests, only by the (longer)
//! idle timeout; a head trickled after an idle spell (slowloris) is still
//! cut by the header-read timeout, counted from its first byte.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use netproof_cdn::front::Limits;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

const HEAD: Duration = Duration::from_millis(500);
const IDLE: Duration = Duration::from_millis(2500);

async fn lab() -> Lab {
    let limits = Limits {
        header_read_timeout: HEAD,
        idle_timeout: IDLE,
        ..Limits::default()
    };
    lab_with(None, Default::default(), limits).await
}

/// Reads one response (head, then `Content-Length` bytes); its status, or
/// `None` when the connection ended first.
async fn response<S: AsyncRead + Unpin>(s: &mut S) -> Option<u16> {
    let read = async {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if s.read(&mut byte).await.ok()? == 0 {
                return None;
            }
            head.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let len: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await.ok()?;
        text[9..12].parse().ok()
    };
    tokio::time::timeout(BOUND, read)
        .await
        .expect("a response or a close in time")
}

/// How long until the server closes `s` (reading and dropping anything).
async fn closes_after<S: AsyncRead + Unpin>(s: &mut S) -> Duration {
    let started = Instant::now();
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(BOUND, s.read_to_end(&mut sink))
        .await
        .expect("the server closes in time");
    started.elapsed()
}

const REQUEST: &[u8] = b"GET /t/0/100k/0002.m4s HTTP/1.1\r\nHost: a.test\r\n\r\n";

/// Idles longer than the header-read timeout between two requests, then
/// past the idle timeout.
async fn idle_then_close<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, what: &str) {
    s.write_all(REQUEST).await.unwrap();
    assert_eq!(response(&mut s).await, Some(200), "{what}: first");
    tokio::time::sleep(HEAD * 3).await;
    s.write_all(REQUEST).await.unwrap();
    assert_eq!(
        response(&mut s).await,
        Some(200),
        "{what}: the connection was cut while idle for {:?}, under the idle timeout",
        HEAD * 3
    );
    let took = closes_after(&mut s).await;
    assert!(
        took >= IDLE - Duration::from_millis(100) && took < IDLE + Duration::from_secs(2),
        "{what}: an idle connection closed after {took:?}, not the idle timeout {IDLE:?}"
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_outlives_the_header_timeout_until_the_idle_timeout() {
    let lab = lab().await;
    let plain = TcpStream::connect(lab.http()).await.unwrap();
    let (tls, _) = handshake(
        lab.https(),
        &Via::Tls(Some("a.test".into())),
        &[b"http/1.1"],
    )
    .await
    .unwrap();
    tokio::join!(idle_then_close(plain, "plain"), idle_then_close(tls, "tls"));
    // Closing an idle connection is no error.
    let m = lab.running.front.metrics();
    assert_eq!(m.header_timeouts.load(Ordering::Relaxed), 0);
    assert_eq!(m.protocol_errors.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_slowloris_after_an_idle_spell_is_cut_by_the_header_timeout_from_its_first_byte() {
    let lab = lab().await;
    let mut s = TcpStream::connect(lab.http()).await.unwrap();
    s.write_all(REQUEST).await.unwrap();
    assert_eq!(response(&mut s).await, Some(200));
    tokio::time::sleep(HEAD * 2).await;
    // One byte every 100 ms: the head would take 5 s.
    let first = Instant::now();
    let mut cut = None;
    for &b in REQUEST {
        if s.write_all(&[b]).await.is_err() {
            cut = Some(first.elapsed());
            break;
        }
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut = Some(first.elapsed());
                break;
            }
            Ok(Ok(n)) => panic!("answered: {:?}", String::from_utf8_lossy(&buf[..n])),
            Err(_) => {}
        }
    }
    let at = cut.expect("the trickled head is cut off before it is whole");
    assert!(
        at >= HEAD - Duration::from_millis(100) && at < HEAD + Duration::from_millis(1500),
        "cut {at:?} after its first byte; the header-read timeout is {HEAD:?}"
    );
    let m = lab.running.front.metrics();
    assert_eq!(m.header_timeouts.load(Ordering::Relaxed), 1);
    let got = fetch(lab.http(), Via::Plain, false, "a.test", SMALL, &[]).await;
    assert_eq!(got.status, 200);
}
