//! An edge's reports to steering over loopback: the first at once, one at
//! once on a drain (long before the interval), a steering service that is
//! down counted and never in the way of the one that is up; and the
//! titles an edge's cache holds, by site, as its reports carry them; an
//! edge that restarts reports newer than before it stopped.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use netproof_cdn::fill::{FillConfig, FillSource, FillStore};
use netproof_cdn::object::{ObjectKey, Objects};
use netproof_proto::steering::{EdgeReport, Health, SiteTitles};
use tokio::sync::mpsc;

use crate::support::*;
use crate::upstream_server::{Knobs, start};

/// A steering stand-in on loopback: each report, parsed, with its arrival.
async fn receiver() -> (SocketAddr, mpsc::UnboundedReceiver<(Instant, EdgeReport)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let ok = req.uri().path() == "/report";
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let report: EdgeReport = serde_json::from_slice(&body).unwrap();
                        let _ = tx.send((Instant::now(), report));
                        let mut r = Response::new(http_body_util::Empty::<bytes::Bytes>::new());
                        *r.status_mut() = if ok { 204 } else { 404 }.try_into().unwrap();
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<(Instant, EdgeReport)>) -> (Instant, EdgeReport) {
    tokio::time::timeout(BOUND, rx.recv())
        .await
        .expect("a report in time")
        .expect("the receiver runs")
}

#[tokio::test]
async fn an_edge_reports_at_once_on_a_drain_and_counts_a_steering_that_is_down() {
    let (steering, mut reports) = receiver().await;
    // Nothing listens on port 1: every report there fails at once.
    let text = format!(
        "admin = \"127.0.0.1:0\"\n[listen]\nhttp = [\"127.0.0.1:0\"]\n[[site]]\nname = \"a.test\"\n\
         [catalogue]\nseed = {SEED}\ntitles = 2\nbitrates_kbps = [100]\nsegments = 1\n\
         [report]\nedge = \"oca-1\"\nsteering = [\"http://127.0.0.1:1\", \"http://{steering}\"]\n\
         interval = \"10s\"\ntimeout = \"300ms\"\n"
    );
    let config = netproof_cdn::config::edge_from(std::path::Path::new("edge.toml"), &text).unwrap();
    let started = Instant::now();
    let running = netproof_cdn::server::edge(&config).await.unwrap();
    let (at, first) = next(&mut reports).await;
    assert!(at - started < Duration::from_secs(2), "{:?}", at - started);
    assert_eq!((first.edge.as_str(), first.seq > 0), ("oca-1", true));
    assert_eq!(first.health, Health::Ok);
    assert!(first.routes.is_empty() && first.contents.fills);

    // A drain is a change: reported at once, not at the 10 s interval.
    let admin = running.admin.unwrap();
    let t0 = Instant::now();
    let got = fetch_method(admin, Via::Plain, false, "POST", "localhost", "/drain", &[]).await;
    assert_eq!(got.status, 202);
    let (at, drained) = next(&mut reports).await;
    assert_eq!(drained.health, Health::Draining);
    assert!(at - t0 < Duration::from_secs(1), "{:?}", at - t0);
    assert!(drained.seq > first.seq);

    let metrics = fetch(admin, Via::Plain, false, "localhost", "/metrics", &[]).await;
    let text = String::from_utf8(metrics.body).unwrap();
    let count = |result: &str| -> u64 {
        let key = format!("cdn_reports_total{{result=\"{result}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&key))
            .unwrap_or_else(|| panic!("no {key} in\n{text}"))
            .parse()
            .unwrap()
    };
    assert!(count("sent") >= 2, "{text}");
    assert!(count("failed") >= 2, "{text}");
    let samples = running.front.metrics().sample_lines(0.0).join("\n");
    assert!(
        samples.contains("\"metric\":\"svc.cdn.reports\""),
        "{samples}"
    );
}

#[tokio::test]
async fn an_edge_that_restarts_reports_newer_than_before_it_stopped() {
    let (steering, mut reports) = receiver().await;
    let text = format!(
        "admin = \"127.0.0.1:0\"\n[listen]\nhttp = [\"127.0.0.1:0\"]\n[[site]]\nname = \"a.test\"\n\
         [catalogue]\nseed = {SEED}\ntitles = 2\nbitrates_kbps = [100]\nsegments = 1\n\
         [report]\nedge = \"oca-1\"\nsteering = [\"http://{steering}\"]\ninterval = \"10s\"\n"
    );
    let config = netproof_cdn::config::edge_from(std::path::Path::new("edge.toml"), &text).unwrap();
    let running = netproof_cdn::server::edge(&config).await.unwrap();
    let (_, first) = next(&mut reports).await;
    // A drain is one more report from the first instance.
    let got = fetch_method(
        running.admin.unwrap(),
        Via::Plain,
        false,
        "POST",
        "localhost",
        "/drain",
        &[],
    )
    .await;
    assert_eq!(got.status, 202);
    let (_, last) = next(&mut reports).await;
    assert!(last.seq > first.seq);
    drop(running);

    // The same edge again: steering would refuse a report not above
    // `last` (409) until its report timeout; this one it takes at once.
    let again = netproof_cdn::server::edge(&config).await.unwrap();
    let (_, restarted) = next(&mut reports).await;
    assert_eq!(restarted.health, Health::Ok);
    assert!(
        restarted.seq > last.seq,
        "{} after {}",
        restarted.seq,
        last.seq
    );
    drop(again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_titles_an_edge_holds_are_listed_by_site() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let origin = start(Knobs::new("origin", 10_000, &log)).await;
    let source = FillSource::parse("origin", &origin.url(), "origin").unwrap();
    let store = FillStore::new(&FillConfig::new(vec![source], 10 << 20)).unwrap();
    assert!(store.titles().is_empty() && store.fills());
    for (site, path) in [
        ("a.test", "/t/7/100k/0000.m4s"),
        ("a.test", "/t/3/100k/0000.m4s"),
        ("a.test", "/t/7/100k/0001.m4s"),
        ("b.test", "/t/12/100k/0000.m4s"),
        // Not a catalogue path in its one spelling: no title.
        ("b.test", "/t/012/100k/0000.m4s"),
    ] {
        let key = ObjectKey {
            site: site.into(),
            path: path.into(),
        };
        let o = store.open(&key).await.unwrap();
        let mut at = 0;
        while at < o.meta.len {
            at += o.body.read_at(at, 1 << 20).await.unwrap().len() as u64;
        }
    }
    // A fill is kept a moment after its last byte is read.
    let deadline = Instant::now() + BOUND;
    while store.usage().2 < 5 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        store.titles(),
        [
            SiteTitles {
                site: "a.test".into(),
                titles: vec![3, 7]
            },
            SiteTitles {
                site: "b.test".into(),
                titles: vec![12]
            },
        ]
    );
}
