//! The streaming client against a recording HTTP/1.1 peer on 127.0.0.1:
//! each segment's request carries CTA-5004 CMCD (as a query argument or
//! as headers), the cache result is read from the answer, and a first
//! server that refuses connections is left for the second.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netproof_probe::abr::{self, CmcdMode, PlayerConfig, Presentation, Server, SessionConfig};
use netproof_probe::http::{self, Url};
use netproof_sample::{Labels, MemorySink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A peer that answers every request head with 2000 bytes and an
/// `x-cache` header, keeping each head it read.
async fn recorder() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let kept = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tokio::time::timeout(Duration::from_secs(2), s.read(&mut chunk)).await {
                        Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                        _ => return,
                    }
                }
                kept.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf).into_owned());
                let body = vec![7u8; 2000];
                let head = "HTTP/1.1 200 OK\r\ncontent-length: 2000\r\nx-cache: HIT from test\r\nconnection: close\r\n\r\n";
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (addr, heads)
}

fn session(servers: Vec<Server>, cmcd: CmcdMode) -> SessionConfig {
    let presentation =
        Presentation::catalogue(7, &[100, 300], 3, Duration::from_millis(200)).unwrap();
    SessionConfig {
        http: http::Config {
            timeout: Duration::from_secs(2),
            ..http::Config::new(servers[0].url.clone())
        },
        servers,
        presentation,
        player: PlayerConfig::new(Duration::from_millis(200), vec![1], 1),
        connector: http::direct(),
        cmcd,
        session_id: "s-1".into(),
        verify: None,
        names: Vec::new(),
    }
}

fn server(addr: SocketAddr) -> Server {
    Server {
        url: Url::parse(&format!("http://{addr}/")).unwrap(),
        connect: None,
    }
}

#[tokio::test]
async fn cta_5004_keys_travel_as_a_query_argument_or_as_headers() {
    let (addr, heads) = recorder().await;
    let sink = MemorySink::new();
    let out = abr::play(
        &session(vec![server(addr)], CmcdMode::Query),
        &sink,
        &Labels::new(),
    )
    .await;
    assert_eq!(out.summary.segments, 3);
    assert_eq!(out.abandoned, None);
    let first = heads.lock().unwrap()[0].clone();
    // The first request: startup, no throughput measured yet, the session.
    assert!(
        first.starts_with("GET /t/7/100k/0000.m4s?CMCD=bl%3D0%2Cbr%3D100%2Cd%3D200%2Cot%3Dv%2Csf%3Do%2Csid%3D%22s-1%22%2Csu%2Ctb%3D300 HTTP/1.1"),
        "{first}"
    );
    let c = sink.contents();
    let cache: Vec<_> = c
        .samples
        .iter()
        .filter(|s| s.metric == "abr.bytes")
        .map(|s| s.labels.get("cache").cloned())
        .collect();
    assert_eq!(cache, vec![Some("hit".to_string()); 3]);

    heads.lock().unwrap().clear();
    let sink = MemorySink::new();
    abr::play(
        &session(vec![server(addr)], CmcdMode::Headers),
        &sink,
        &Labels::new(),
    )
    .await;
    let second = heads.lock().unwrap()[1].to_ascii_lowercase();
    assert!(second.contains("\r\ncmcd-object: br="), "{second}");
    assert!(second.contains("\r\ncmcd-request: bl="), "{second}");
    assert!(
        second.contains("mtp="),
        "a throughput is measured after the first: {second}"
    );
    assert!(
        second.contains("\r\ncmcd-session: sf=o,sid=\"s-1\""),
        "{second}"
    );
    assert!(!second.contains("?cmcd="), "{second}");
}

#[tokio::test]
async fn a_refusing_first_server_is_left_for_the_second() {
    // A port nobody listens on: bind, learn it, close.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (addr, heads) = recorder().await;
    let sink = MemorySink::new();
    let out = abr::play(
        &session(vec![server(dead), server(addr)], CmcdMode::Off),
        &sink,
        &Labels::new(),
    )
    .await;
    assert_eq!(out.summary.segments, 3);
    assert_eq!(
        out.failed_requests, 1,
        "the dead server is tried once, then left"
    );
    assert_eq!(heads.lock().unwrap().len(), 3);
    let c = sink.contents();
    let failed: Vec<_> = c
        .samples
        .iter()
        .filter(|s| s.metric == "abr.download" && !s.ok)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].labels.get("url").map(String::as_str), Some("0"));
    assert!(
        c.samples
            .iter()
            .filter(|s| s.metric == "abr.bytes")
            .all(|s| s.labels.get("url").map(String::as_str) == Some("1"))
    );
}

#[tokio::test]
async fn a_session_whose_every_server_fails_ends_with_what_it_measured() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let sink = MemorySink::new();
    let out = abr::play(
        &session(vec![server(dead)], CmcdMode::Off),
        &sink,
        &Labels::new(),
    )
    .await;
    let why = out.abandoned.expect("abandoned");
    assert!(
        why.contains("segment 0") && why.contains("connect"),
        "{why}"
    );
    // The session's figures are still recorded.
    assert!(
        sink.contents()
            .samples
            .iter()
            .any(|s| s.metric == "abr.stalls")
    );
}
