//! Proactive fill against in-process upstreams: the rate cap holds, the
//! window ends it, the report says what came from where.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use netproof_cdn::fill::prefill::{ItemResult, Manifest, Pace, SitePaths, prefill};
use netproof_cdn::fill::{FillConfig, FillSource, FillStore};
use netproof_cdn::object::{CacheStatus, ObjectKey, Objects};
use tokio::time::timeout;

use crate::upstream_server::{Knobs, Mode, start};

const BOUND: Duration = Duration::from_secs(20);

fn manifest(site: &str, paths: &[&str]) -> Manifest {
    Manifest {
        sites: vec![SitePaths {
            site: site.into(),
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefill_respects_its_rate_cap_and_reports_sources_and_rate() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let size = 256 * 1024;
    let peer = start(Knobs::new("peer", size, &log)).await;
    let origin = start(Knobs::new("origin", size, &log)).await;
    let store = FillStore::new(&FillConfig::new(
        vec![
            FillSource::parse("peer", &peer.url(), "peer").unwrap(),
            FillSource::parse("origin", &origin.url(), "origin").unwrap(),
        ],
        16 << 20,
    ))
    .unwrap();
    // One object already cached, one the peer lacks, one nobody has.
    let a = ObjectKey {
        site: "a.test".into(),
        path: "/t/1/f".into(),
    };
    // Reading its last byte means it is cached (the fill commits the
    // object under the lock it appends the last bytes under).
    let o = store.open(&a).await.unwrap();
    timeout(BOUND, o.body.read_at(size - 1, 1))
        .await
        .unwrap()
        .unwrap();
    assert!(store.contains(&a));
    let (cap, burst) = (2 * 1024 * 1024u64, 64 * 1024u64);
    let pace = Pace {
        rate: cap,
        burst,
        window: Duration::from_secs(15),
    };
    let m = manifest(
        "a.test",
        &["/t/1/f", "/t/2/f", "/t/3/f", "/t/4/f", "/t/5/f", "/nothing"],
    );
    // The peer has nothing under /t/5/: it answers 404 for everything
    // once the first four are done, so /t/5/f comes from the origin.
    let report = {
        let peer_knobs = peer.knobs.clone();
        let store2 = store.clone();
        let m2 = m.clone();
        let run = tokio::spawn(async move { prefill(&store2, &m2, pace).await });
        timeout(BOUND, async {
            while peer_knobs.requests() < 4 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap();
        peer_knobs.set_mode(Mode::Status(404));
        timeout(BOUND, run).await.unwrap().unwrap()
    };
    let results: Vec<&ItemResult> = report.items.iter().map(|i| &i.result).collect();
    assert_eq!(results[0], &ItemResult::Present);
    for r in &results[1..4] {
        assert_eq!(
            *r,
            &ItemResult::Filled {
                source: "peer".into(),
                bytes: size
            }
        );
    }
    assert_eq!(
        results[4],
        &ItemResult::Filled {
            source: "origin".into(),
            bytes: size
        }
    );
    assert_eq!(results[5], &ItemResult::NotFound);
    assert_eq!(report.bytes, 4 * size);
    assert_eq!(
        report.by_source(),
        [("peer".into(), 3 * size), ("origin".into(), size)]
    );
    // The cap: never more than burst + cap * elapsed, and not absurdly
    // slower than the cap either (1 MiB at 2 MiB/s is about half a second).
    let secs = report.elapsed.as_secs_f64();
    assert!(
        report.bytes as f64 <= burst as f64 + cap as f64 * secs,
        "{} bytes in {secs} s",
        report.bytes
    );
    assert!(secs >= 0.45, "{secs} s is faster than the cap allows");
    assert!(report.rate > cap as f64 * 0.5, "rate {}", report.rate);
    assert!(report.rate <= cap as f64 * 1.15, "rate {}", report.rate);
    // The prefill's opens are counted apart: the one client open so far
    // was a miss, and the hit ratio is the clients' alone.
    let before = store.counters().snapshot();
    assert_eq!((before.misses, before.coalesced, before.hits), (1, 0, 0));
    assert_eq!(before.prefills, 5, "four fills and the one not found");
    // Everything filled is now a hit.
    for k in m.keys().iter().take(5) {
        assert_eq!(store.open(k).await.unwrap().status, CacheStatus::Hit);
    }
    let after = store.counters().snapshot();
    assert_eq!(netproof_cdn::metrics::hit_ratio(&after), Some(5.0 / 6.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_ends_a_prefill_and_the_report_says_where() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let origin = start(Knobs::new("origin", 512 * 1024, &log)).await;
    let store = FillStore::new(&FillConfig::new(
        vec![FillSource::parse("origin", &origin.url(), "origin").unwrap()],
        16 << 20,
    ))
    .unwrap();
    // 1 MiB/s for 300 ms: the first 512 KiB object cannot finish.
    let pace = Pace {
        rate: 1024 * 1024,
        burst: 16 * 1024,
        window: Duration::from_millis(300),
    };
    let m = manifest("a.test", &["/t/1/f", "/t/2/f"]);
    let report = timeout(BOUND, prefill(&store, &m, pace)).await.unwrap();
    match &report.items[0].result {
        ItemResult::Unfinished { bytes } => {
            assert!(*bytes > 0 && *bytes < 512 * 1024, "{bytes}")
        }
        other => panic!("expected unfinished, got {other:?}"),
    }
    assert_eq!(report.items[1].result, ItemResult::NotStarted);
    assert!(report.elapsed <= Duration::from_millis(300));
    assert_eq!(origin.knobs.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_fill_waiting_longer_than_the_lock_timeout_is_not_taken_for_stale() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let size = 32 * 1024;
    let origin = start(Knobs::new("origin", size, &log)).await;
    let mut c = FillConfig::new(
        vec![FillSource::parse("origin", &origin.url(), "origin").unwrap()],
        16 << 20,
    );
    c.lock_timeout = Duration::from_millis(200);
    let store = FillStore::new(&c).unwrap();
    // 16 KiB chunks at 16 KiB/s with no burst: a second before each
    // chunk, five times the lock timeout.
    let pace = Pace {
        rate: 16 * 1024,
        burst: 0,
        window: Duration::from_secs(10),
    };
    let m = manifest("a.test", &["/t/1/f"]);
    let run = {
        let (store, m) = (store.clone(), m.clone());
        tokio::spawn(async move { prefill(&store, &m, pace).await })
    };
    // Mid-way through the first wait (hyper's first read here is about
    // 8 KiB, so about half a second), past the lock timeout since the
    // last byte, a client asks: it joins the paced fill. (With one
    // heartbeat per wait instead of four per lock timeout, it replaced
    // the fill.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    let k = &m.keys()[0];
    let o = timeout(BOUND, store.open(k)).await.unwrap().unwrap();
    assert_eq!(o.status, CacheStatus::Filling);
    let report = timeout(BOUND, run).await.unwrap().unwrap();
    assert_eq!(
        report.items[0].result,
        ItemResult::Filled {
            source: "origin".into(),
            bytes: size
        }
    );
    assert_eq!(store.counters().snapshot().stale_locks, 0);
    assert_eq!(origin.knobs.requests(), 1);
}

/// One HTTP/1.1 request to an admin endpoint with a body: status and text.
async fn admin(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8(out).unwrap()
    };
    let text = timeout(BOUND, exchange)
        .await
        .expect("the admin answers in time");
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_posted_to_the_admin_endpoint_is_filled_once_at_its_cap_and_then_hit() {
    use crate::support::{self, Via};
    use netproof_proto::cdn::SourceKind;
    let origin = support::lab(None).await;
    let (edge, _) =
        crate::tiers::edge(&origin, &[("origin", origin.https(), SourceKind::Origin)]).await;
    let at = edge.admin.unwrap();

    // Refused manifests say what is wrong where, and start nothing.
    let (status, text) = admin(
        at,
        "POST",
        "/prefill",
        r#"{"rate": "fast", "window": "1m", "sites": [{"site": "nope.test", "paths": ["/a"]}]}"#,
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("`rate`: `\"fast\"` is not a rate"), "{text}");
    assert!(
        text.contains("`sites[0].site`: no site `nope.test`"),
        "{text}"
    );
    assert_eq!(
        json(&admin(at, "GET", "/prefill", "").await.1)["state"],
        "idle"
    );

    // 4 Mbit/s is 500 kB/s; the objects are about 312 kB, so the run
    // takes about 0.6 s at the cap.
    let (cap, burst) = (500_000.0, 16.0 * 1024.0);
    let manifest = format!(
        r#"{{"rate": "4Mbit", "burst": "16KiB", "window": "20s", "sites": [
            {{"site": "a.test", "titles": [3], "bitrates_kbps": [800], "segments": 3}},
            {{"site": "a.test", "paths": ["{}", "/t/9/800k/0000.m4s"]}}]}}"#,
        support::SMALL
    );
    let (status, text) = admin(at, "POST", "/prefill", &manifest).await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(json(&text)["objects"], 5);
    let (status, text) = admin(at, "POST", "/prefill", &manifest).await;
    assert_eq!(status, 409, "a second run while one runs: {text}");

    let report = timeout(BOUND, async {
        loop {
            let v = json(&admin(at, "GET", "/prefill", "").await.1);
            if v["state"] == "done" {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the prefill finishes in time");

    let paths = [
        "/t/3/800k/0000.m4s",
        "/t/3/800k/0001.m4s",
        "/t/3/800k/0002.m4s",
        support::SMALL,
    ];
    let total: u64 = paths
        .iter()
        .map(|p| support::content(support::SEED, p).1)
        .sum();
    assert_eq!(report["outcomes"]["filled"], 4, "{report:#}");
    assert_eq!(report["outcomes"]["not_found"], 1, "{report:#}");
    assert_eq!(report["items"][4]["path"], "/t/9/800k/0000.m4s");
    assert_eq!(report["items"][0]["source"], "origin");
    assert_eq!(report["by_source"]["origin"].as_u64(), Some(total));
    assert_eq!(report["bytes"].as_u64(), Some(total));
    // The cap holds: never more than the burst plus the cap's worth.
    let secs = report["elapsed_seconds"].as_f64().unwrap();
    assert!(
        total as f64 <= burst + cap * secs,
        "{total} bytes in {secs} s"
    );
    let rate = report["rate_bytes_per_second"].as_f64().unwrap();
    assert!(
        rate <= cap * 1.05 && rate > cap * 0.5,
        "rate {rate} against a cap of {cap}"
    );
    assert_eq!(report["cap_bytes_per_second"], 500_000);

    // Each object crossed from the origin once, and is now a hit.
    let via = Via::Verified("a.test".into(), origin.ca());
    for p in paths {
        let got = support::fetch(edge.https[0], via.clone(), false, "a.test", p, &[]).await;
        assert_eq!(got.status, 200);
        assert_eq!(got.body, support::whole(support::SEED, p), "{p}");
        assert_eq!(
            got.header("x-cache"),
            Some("netproof; hit; source=origin"),
            "{p}"
        );
        let asked = origin
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == p)
            .count();
        assert_eq!(asked, 1, "the origin was asked for {p} {asked} times");
    }

    // A server without a fill store has nothing to prefill.
    let (status, _) = admin(origin.running.admin.unwrap(), "GET", "/prefill", "").await;
    assert_eq!(status, 404);
}
