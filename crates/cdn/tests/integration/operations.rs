//! The admin endpoint and draining: `GET /health` says `ok`, `POST /drain`
//! stops new sessions while in-flight transfers (HTTP/1.1 and HTTP/2)
//! finish byte-exact, and health then says `draining`.

use std::time::Duration;

use netproof_cdn::front::Limits;
use netproof_proto::cdn::{ByteSize, OriginKnobs, Span, Stall};

use crate::support::*;

#[tokio::test]
async fn the_admin_endpoint_says_ok() {
    let lab = lab(None).await;
    let admin = lab.running.admin.unwrap();
    let got = fetch(admin, Via::Plain, false, "localhost", "/health", &[]).await;
    assert_eq!((got.status, got.body.as_slice()), (200, &b"ok\n"[..]));
    let got = fetch(admin, Via::Plain, false, "localhost", "/drain", &[]).await;
    assert_eq!(got.status, 405, "draining takes a POST");
    let got = fetch(admin, Via::Plain, false, "localhost", "/metrics-nope", &[]).await;
    assert_eq!(got.status, 404);
}

#[tokio::test]
async fn a_drain_finishes_transfers_in_flight_and_refuses_new_sessions() {
    // Every body stalls for a while after 20 000 bytes, so the transfers
    // are surely in flight when the drain starts.
    let knobs = OriginKnobs {
        stall: Some(Stall {
            after: ByteSize(20_000),
            duration: Span(Duration::from_millis(800)),
        }),
        ..OriginKnobs::default()
    };
    let mut lab = lab_with(None, knobs, Limits::default()).await;
    let (http, https, admin) = (lab.http(), lab.https(), lab.running.admin.unwrap());
    let h1 = tokio::spawn(fetch(http, Via::Plain, false, "a.test", BIG, &[]));
    let h2 = tokio::spawn(fetch(
        https,
        Via::Tls(Some("a.test".into())),
        true,
        "a.test",
        BIG,
        &[],
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !h1.is_finished() && !h2.is_finished(),
        "both are stalled mid-body"
    );
    let got = fetch_method(admin, Via::Plain, false, "POST", "localhost", "/drain", &[]).await;
    assert_eq!(got.status, 202);
    let health = fetch(admin, Via::Plain, false, "localhost", "/health", &[]).await;
    assert_eq!(
        (health.status, health.body.as_slice()),
        (503, &b"draining\n"[..])
    );
    // The listeners close: a new session is refused.
    let deadline = tokio::time::Instant::now() + BOUND;
    while tokio::net::TcpStream::connect(http).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the listener closes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(tokio::net::TcpStream::connect(https).await.is_err());
    for (name, t) in [("h1", h1), ("h2", h2)] {
        let got = t.await.unwrap();
        assert_eq!(got.status, 200, "{name}");
        assert_eq!(got.body, whole(SEED, BIG), "{name} finishes whole");
    }
    tokio::time::timeout(BOUND, lab.running.wait())
        .await
        .expect("the listeners' tasks end once drained");
}

#[tokio::test]
async fn an_admin_drain_keeps_the_server_up_answering_draining_until_it_is_stopped() {
    let mut lab = lab(None).await;
    let (http, admin) = (lab.http(), lab.running.admin.unwrap());
    let got = fetch_method(admin, Via::Plain, false, "POST", "localhost", "/drain", &[]).await;
    assert_eq!(got.status, 202);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serve = lab.running.serve_until(
        async {
            let _ = rx.await;
        },
        BOUND,
    );
    tokio::pin!(serve);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut serve)
            .await
            .is_err(),
        "a drained server stays up until it is stopped"
    );
    let health = fetch(admin, Via::Plain, false, "localhost", "/health", &[]).await;
    assert_eq!(
        (health.status, health.body.as_slice()),
        (503, &b"draining\n"[..]),
        "its admin endpoint still answers, and says draining"
    );
    assert!(
        tokio::net::TcpStream::connect(http).await.is_err(),
        "new sessions are refused"
    );
    tx.send(()).unwrap();
    let ended = tokio::time::timeout(BOUND, serve).await.expect("stopped");
    assert_eq!(ended, Ok(true));
}

#[tokio::test]
async fn metrics_and_the_access_log_count_what_the_requests_did() {
    let lab = lab(None).await;
    let (_, len) = content(SEED, SMALL);
    for _ in 0..3 {
        let got = fetch(lab.http(), Via::Plain, false, "a.test", SMALL, &[]).await;
        assert_eq!(got.status, 200);
    }
    let got = fetch(
        lab.https(),
        Via::Tls(Some("b.test".into())),
        true,
        "b.test",
        SMALL,
        &[("range", "bytes=-10")],
    )
    .await;
    assert_eq!(got.status, 206);
    let got = fetch(lab.http(), Via::Plain, false, "c.test", SMALL, &[]).await;
    assert_eq!(got.status, 404);
    let m = lab.running.front.metrics();
    // A record is written when the body ends, just after the client has
    // it: wait (bounded) for the last one.
    let deadline = tokio::time::Instant::now() + BOUND;
    while lab.log.lock().unwrap().len() < 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "five access records"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(m.requests("a.test", 200, "origin"), 3);
    assert_eq!(m.requests("b.test", 206, "origin"), 1);
    assert_eq!(m.requests("-", 404, "-"), 1);
    assert_eq!(m.bytes("a.test"), 3 * len);
    assert_eq!(m.bytes("b.test"), 10);
    let log = lab.log.lock().unwrap().clone();
    let b = log
        .iter()
        .find(|r| r.site == "b.test")
        .expect("b.test's record");
    assert_eq!(
        (
            b.sni.as_deref(),
            b.range.as_deref(),
            b.status,
            b.bytes,
            b.complete,
            b.cache
        ),
        (Some("b.test"), Some("bytes=-10"), 206, 10, true, "origin")
    );
    assert_eq!(b.path, SMALL);
    let text = fetch(
        lab.running.admin.unwrap(),
        Via::Plain,
        false,
        "localhost",
        "/metrics",
        &[],
    )
    .await;
    let text = String::from_utf8(text.body).unwrap();
    assert!(
        text.contains("cdn_requests_total{site=\"a.test\",status=\"200\",cache=\"origin\"} 3\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "cdn_response_bytes_total{{site=\"a.test\"}} {}\n",
            3 * len
        )),
        "{text}"
    );
}

#[tokio::test]
async fn an_edge_without_fill_serves_its_catalogue_directly() {
    let text = format!(
        "[listen]\nhttp = [\"127.0.0.1:0\"]\n[[site]]\nname = \"a.test\"\n[catalogue]\nseed = {SEED}\ntitles = 5\nbitrates_kbps = [100, 800]\nsegments = 3\nsegment_ms = 1000\n"
    );
    let config = netproof_cdn::config::edge_from(std::path::Path::new("edge.toml"), &text).unwrap();
    let running = netproof_cdn::server::edge(&config).await.unwrap();
    let got = fetch(
        running.http[0],
        Via::Plain,
        true,
        "a.test",
        BIG,
        &[("range", "bytes=-100")],
    )
    .await;
    assert_eq!(got.status, 206);
    assert_eq!(got.body, whole(SEED, BIG)[whole(SEED, BIG).len() - 100..]);
}

/// A store whose `/down` fails upstream (502, or 504 when `?` stalls)
/// and whose `/up` serves.
struct Flaky;

impl netproof_cdn::object::Objects for Flaky {
    fn open<'a>(
        &'a self,
        key: &'a netproof_cdn::object::ObjectKey,
    ) -> netproof_cdn::object::BoxFuture<
        'a,
        Result<netproof_cdn::object::Opened, netproof_cdn::object::OpenError>,
    > {
        use netproof_cdn::object::{CacheStatus, ObjectMeta, OpenError, Opened};
        Box::pin(async move {
            match &*key.path {
                "/up" => Ok(Opened {
                    meta: ObjectMeta {
                        len: 10,
                        etag: "\"u\"".into(),
                        last_modified: std::time::SystemTime::UNIX_EPOCH,
                        content_type: "application/octet-stream".into(),
                    },
                    body: std::sync::Arc::new(netproof_cdn::origin::Synthetic::new(
                        netproof_proto::content::ContentKey::new(1, 1, "u"),
                        10,
                    )),
                    status: CacheStatus::Hit,
                    source: None,
                }),
                path => Err(OpenError::Upstream {
                    path: path.into(),
                    why: "tier: connection refused; origin: connection refused".into(),
                    timed_out: path == "/stalled",
                }),
            }
        })
    }
}

#[tokio::test]
async fn failing_fills_make_health_unhealthy_until_an_open_succeeds() {
    let site = netproof_proto::cdn::Site {
        name: "a.test".into(),
        names: vec![],
        cert: None,
        key: None,
        seed: None,
    };
    let listen = netproof_proto::cdn::Listen {
        https: vec![],
        http: vec!["127.0.0.1:0".parse().unwrap()],
    };
    let running = netproof_cdn::server::start(
        &listen,
        Some("127.0.0.1:0".parse().unwrap()),
        &Default::default(),
        &[site],
        std::sync::Arc::new(Flaky),
        Limits::default(),
        None,
    )
    .await
    .unwrap();
    let (http, admin) = (running.http[0], running.admin.unwrap());
    let health = || fetch(admin, Via::Plain, false, "localhost", "/health", &[]);
    let got = fetch(http, Via::Plain, false, "a.test", "/stalled", &[]).await;
    assert_eq!(got.status, 504);
    for _ in 0..netproof_cdn::metrics::UNHEALTHY_AFTER - 1 {
        let got = fetch(http, Via::Plain, false, "a.test", "/down", &[]).await;
        assert_eq!(got.status, 502);
        assert!(String::from_utf8_lossy(&got.body).contains("connection refused"));
    }
    let h = health().await;
    assert_eq!((h.status, h.body.as_slice()), (503, &b"unhealthy\n"[..]));
    let got = fetch(http, Via::Plain, false, "a.test", "/up", &[]).await;
    assert_eq!((got.status, got.body.len()), (200, 10));
    let h = health().await;
    assert_eq!((h.status, h.body.as_slice()), (200, &b"ok\n"[..]));
}
