//! The HTTP probe against scripted fake peers on 127.0.0.1: each kind of
//! malformed answer (a bad status line, a truncated body, a TLS alert,
//! garbage instead of a ServerHello, silence) is a failed request with its
//! phase and reason; and against a small TLS peer with a lab CA: the
//! presented certificate is recorded whether or not it verifies.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use netproof_probe::http::{
    ByteRange, Client, Config, Endpoint, LoadConfig, Phase, RequestReport, Sni, Trust, Url, direct,
};
use netproof_sample::{Labels, MemorySink, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads until the end of a request head (or 64 KiB, EOF, or 2 s).
async fn read_head(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    buf
}

/// A peer that answers every connection (at most 8) with `reply` after
/// reading a request head (or, with `first_read`, any first bytes, as a
/// TLS ClientHello), then closes.
async fn scripted(reply: &'static [u8], first_read: bool) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..8 {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            tokio::spawn(async move {
                if first_read {
                    let mut b = [0u8; 4096];
                    let _ = s.read(&mut b).await;
                } else {
                    read_head(&mut s).await;
                }
                let _ = s.write_all(reply).await;
                let _ = s.shutdown().await;
                // Let the client read the reply before the socket goes.
                tokio::time::sleep(Duration::from_millis(200)).await;
            });
        }
    });
    addr
}

fn cfg(url: &str) -> Config {
    Config {
        timeout: Duration::from_secs(3),
        ..Config::new(Url::parse(url).unwrap())
    }
}

async fn one(cfg: Config) -> (RequestReport, Vec<netproof_sample::Sample>) {
    let client = Client::new(cfg, direct()).unwrap();
    let sink = MemorySink::new();
    let summary = client.run(&sink, &Labels::new()).await;
    (summary.requests[0].clone(), sink.contents().samples)
}

fn failure(r: &RequestReport) -> (Phase, String) {
    let f = r.failure.clone().expect("the request should have failed");
    (f.phase, f.reason)
}

#[tokio::test]
async fn a_bad_status_line_is_a_response_failure() {
    let addr = scripted(b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", false).await;
    let (r, samples) = one(cfg(&format!("http://{addr}/"))).await;
    let (phase, reason) = failure(&r);
    assert_eq!(phase, Phase::Response);
    assert!(reason.contains("invalid HTTP status-code"), "{reason}");
    let ttfb = samples.iter().find(|s| s.metric == "http.ttfb").unwrap();
    assert!(!ttfb.ok);
    assert_eq!(ttfb.value, Value::None);
    assert_eq!(ttfb.labels["phase"], "response");
    let total = samples.iter().find(|s| s.metric == "http.total").unwrap();
    assert_eq!((total.ok, &total.labels["error"]), (false, &reason));
}

#[tokio::test]
async fn garbage_instead_of_http_is_a_response_failure() {
    let addr = scripted(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", false).await;
    let (r, _) = one(cfg(&format!("http://{addr}/"))).await;
    let (phase, reason) = failure(&r);
    assert_eq!(phase, Phase::Response);
    assert!(reason.contains("invalid HTTP version"), "{reason}");
}

#[tokio::test]
async fn a_truncated_body_is_a_body_failure_with_the_bytes_that_came() {
    let addr = scripted(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
        false,
    )
    .await;
    let (r, samples) = one(cfg(&format!("http://{addr}/"))).await;
    let (phase, reason) = failure(&r);
    assert_eq!(phase, Phase::Body);
    assert!(
        reason.contains("end of file before message length reached"),
        "{reason}"
    );
    assert_eq!(r.status, Some(200));
    let bytes = samples.iter().find(|s| s.metric == "http.bytes").unwrap();
    assert_eq!((bytes.value.clone(), bytes.ok), (Value::Num(10.0), false));
}

#[tokio::test]
async fn a_tls_alert_is_a_tls_failure_naming_the_alert() {
    // A fatal handshake_failure alert record instead of a ServerHello.
    let addr = scripted(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28], true).await;
    let (r, samples) = one(Config {
        sni: Sni::Name("a.test".into()),
        ..cfg(&format!("https://{addr}/"))
    })
    .await;
    let (phase, reason) = failure(&r);
    assert_eq!(phase, Phase::Tls);
    assert_eq!(reason, "received fatal alert: HandshakeFailure");
    let tls = samples.iter().find(|s| s.metric == "http.tls").unwrap();
    assert_eq!((tls.ok, tls.labels["sni"].as_str()), (false, "a.test"));
    assert!(r.cert.is_none());
}

#[tokio::test]
async fn plain_http_instead_of_a_server_hello_is_a_tls_failure() {
    let addr = scripted(b"HTTP/1.1 400 Bad Request\r\n\r\n", true).await;
    let (r, _) = one(cfg(&format!("https://{addr}/"))).await;
    let (phase, reason) = failure(&r);
    assert_eq!(phase, Phase::Tls);
    assert!(reason.contains("corrupt message"), "{reason}");
}

#[tokio::test]
async fn a_peer_that_hangs_up_mid_handshake_is_a_tls_failure() {
    let addr = scripted(b"", true).await;
    let (r, _) = one(cfg(&format!("https://{addr}/"))).await;
    let (phase, reason) = failure(&r);
    assert_eq!(phase, Phase::Tls);
    assert!(reason.contains("closed the connection"), "{reason}");
}

#[tokio::test]
async fn a_silent_peer_times_out_in_the_response_phase() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(s);
    });
    let (r, _) = one(Config {
        timeout: Duration::from_millis(300),
        ..cfg(&format!("http://{addr}/"))
    })
    .await;
    let (phase, reason) = failure(&r);
    assert_eq!(phase, Phase::Response);
    assert!(reason.starts_with("timed out"), "{reason}");
    holder.abort();
}

#[tokio::test]
async fn a_refused_connect_is_a_connect_failure() {
    // Bind and drop to find a port nobody listens on.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let (r, samples) = one(cfg(&format!("http://{addr}/"))).await;
    assert_eq!(failure(&r), (Phase::Connect, "connection refused".into()));
    let names: Vec<&str> = samples.iter().map(|s| s.metric.as_str()).collect();
    assert_eq!(names, ["http.connect", "http.total"]);
}

#[tokio::test]
async fn a_range_must_be_answered_with_its_bytes() {
    let good = scripted(
        b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 10-14/100\r\nContent-Length: 5\r\n\r\nklmno",
        false,
    )
    .await;
    let range = Some(ByteRange::parse("10-14").unwrap());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let check = move |offset: u64, chunk: &[u8]| {
        log.lock().unwrap().push((offset, chunk.to_vec()));
        // The reference content: byte n is b'a' + n % 26.
        for (i, b) in chunk.iter().enumerate() {
            let want = b'a' + ((offset + i as u64) % 26) as u8;
            if *b != want {
                return Err(format!(
                    "byte {} is {b:#x}, not {want:#x}",
                    offset + i as u64
                ));
            }
        }
        Ok(())
    };
    let client = Client::new(
        Config {
            range,
            ..cfg(&format!("http://{good}/"))
        },
        direct(),
    )
    .unwrap()
    .with_body_check(Arc::new(check));
    let sink = MemorySink::new();
    let s = client.run(&sink, &Labels::new()).await;
    assert!(s.requests[0].ok(), "{:?}", s.requests[0].failure);
    assert_eq!(s.requests[0].bytes, 5);
    assert_eq!(seen.lock().unwrap()[0], (10, b"klmno".to_vec()));

    // The same check against wrong bytes fails in the verify phase.
    let bad = scripted(
        b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 10-14/100\r\nContent-Length: 5\r\n\r\nklmnX",
        false,
    )
    .await;
    let mut c2 = client.config().clone();
    c2.connect = Some(Endpoint::Addr(bad));
    let client2 =
        Client::new(c2, direct())
            .unwrap()
            .with_body_check(Arc::new(|o: u64, c: &[u8]| {
                if c.ends_with(b"X") {
                    Err(format!("wrong byte near offset {}", o + c.len() as u64 - 1))
                } else {
                    Ok(())
                }
            }));
    let s = client2.run(&sink, &Labels::new()).await;
    let (phase, reason) = failure(&s.requests[0]);
    assert_eq!(
        (phase, reason.as_str()),
        (Phase::Verify, "wrong byte near offset 14")
    );

    // A server that ignores the range answers 200: a verify failure too.
    let ignoring = scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", false).await;
    let (r, _) = one(Config {
        range: Some(ByteRange::parse("10-14").unwrap()),
        ..cfg(&format!("http://{ignoring}/"))
    })
    .await;
    let (phase, reason) = failure(&r);
    assert_eq!(phase, Phase::Verify);
    assert!(reason.contains("answered 200 instead of 206"), "{reason}");
}

/// A lab CA and a site certificate for `names`.
fn lab_pki(names: &[&str]) -> (String, rustls::ServerConfig) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "netproof test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let mut leaf =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf_cert.der().clone()], key)
    .unwrap();
    (ca_cert.pem(), server)
}

/// A TLS peer that answers each request (HTTP/1.1, up to 8 connections)
/// with a short body; its handshake failures are the client's to report.
async fn tls_peer(server: rustls::ServerConfig) -> SocketAddr {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..8 {
            let Ok((s, _)) = l.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_secs(2), tls.read(&mut buf)).await;
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn the_certificate_is_recorded_whether_or_not_it_verifies() {
    let (ca_pem, server) = lab_pki(&["a.test", "www.a.test"]);
    let addr = tls_peer(server).await;
    let base = Config {
        connect: Some(Endpoint::Addr(addr)),
        trust: Trust::CaPem(ca_pem.clone().into_bytes()),
        ..cfg("https://a.test/")
    };

    // The right name, verified against the lab CA.
    let (r, samples) = one(base.clone()).await;
    assert!(r.ok(), "{:?}", r.failure);
    assert_eq!(r.status, Some(200));
    assert_eq!(r.bytes, 5);
    let cert = r.cert.clone().unwrap();
    assert_eq!(cert.subject, "CN=a.test");
    assert_eq!(cert.issuer, "CN=netproof test CA");
    assert_eq!(cert.names, ["a.test", "www.a.test"]);
    let names = samples
        .iter()
        .find(|s| s.metric == "http.cert_names")
        .unwrap();
    assert_eq!(
        names.value,
        Value::Set(vec!["a.test".into(), "www.a.test".into()])
    );
    let tls = samples.iter().find(|s| s.metric == "http.tls").unwrap();
    assert!(tls.ok);
    assert_eq!(tls.labels["cert_issuer"], "CN=netproof test CA");
    assert_eq!(tls.labels["proto"], "http/1.1");

    // A name the certificate does not carry: a verification failure that
    // still names the certificate presented.
    let (r, samples) = one(Config {
        sni: Sni::Name("b.test".into()),
        ..base.clone()
    })
    .await;
    let (phase, reason) = failure(&r);
    assert_eq!(phase, Phase::Tls);
    assert!(reason.starts_with("invalid peer certificate"), "{reason}");
    assert_eq!(r.cert.unwrap().subject, "CN=a.test");
    let tls = samples.iter().find(|s| s.metric == "http.tls").unwrap();
    assert_eq!(
        (tls.ok, tls.labels["cert_subject"].as_str()),
        (false, "CN=a.test")
    );

    // Another CA of the same name (a different key): the chain does not
    // verify. Insecure: accepted, still recorded.
    let (other_ca, _) = lab_pki(&["a.test"]);
    let (r, _) = one(Config {
        trust: Trust::CaPem(other_ca.into_bytes()),
        ..base.clone()
    })
    .await;
    assert_eq!(
        failure(&r),
        (Phase::Tls, "invalid peer certificate: BadSignature".into())
    );
    let (r, _) = one(Config {
        trust: Trust::Insecure,
        sni: Sni::Off,
        ..base
    })
    .await;
    assert!(r.ok(), "{:?}", r.failure);
    assert_eq!(r.cert.unwrap().subject, "CN=a.test");
}

#[tokio::test]
async fn load_mode_keeps_its_schedule_and_records_every_request() {
    // A keep-alive HTTP/1.1 peer for two connections.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let server = tokio::spawn(async move {
        for _ in 0..2 {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            tokio::spawn(async move {
                loop {
                    let head = read_head(&mut s).await;
                    if head.is_empty() {
                        return;
                    }
                    if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    let client = Client::new(cfg(&format!("http://{addr}/")), direct()).unwrap();
    let sink = MemorySink::new();
    let load = LoadConfig {
        connections: 2,
        rate: 200.0,
        requests: 30,
        duration: Duration::from_secs(5),
    };
    let started = std::time::Instant::now();
    let s = client.load(&load, &sink, &Labels::new()).await.unwrap();
    assert_eq!(
        (s.sent, s.ok, s.failed),
        (30, 30, 0),
        "{:?}",
        s.first_failure
    );
    // 30 requests at 200/s are scheduled over 145 ms: open loop, not as
    // fast as the server answers.
    assert!(started.elapsed() >= Duration::from_millis(140));
    let q = s.latency.unwrap();
    assert!(q.p50 <= q.p99 && q.p99 <= q.max);
    let latencies = sink
        .contents()
        .samples
        .iter()
        .filter(|x| x.metric == "http.latency" && x.ok)
        .count();
    assert_eq!(latencies, 30);
    server.abort();
}
