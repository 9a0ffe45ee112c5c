//! The edge's front over its cache and fill, over real sockets: an edge
//! fills from a fill tier (an edge in the parent role), which fills from
//! the origin. Each object crosses each tier once; later requests, whole
//! or ranges, are hits, byte-exact.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use netproof_cdn::front::Limits;
use netproof_cdn::metrics::AccessRecord;
use netproof_cdn::server::{self, Running};
use netproof_proto::cdn::{
    ByteSize, Cache, Fill, FillSource, Listen, Policy, Site, SourceKind, Tls,
};

use crate::support::{self, BIG, SEED, SMALL, Via};

pub(crate) type Log = Arc<Mutex<Vec<AccessRecord>>>;

/// An edge serving `a.test` with the lab's certificate, filling from
/// `sources` (name, address, kind) over https checked by the lab CA.
pub(crate) async fn edge(
    lab: &support::Lab,
    sources: &[(&str, SocketAddr, SourceKind)],
) -> (Running, Log) {
    edge_with(lab, sources, |_| {}).await
}

/// [`edge`] with its `[fill]` section changed by `adjust` first.
async fn edge_with(
    lab: &support::Lab,
    sources: &[(&str, SocketAddr, SourceKind)],
    adjust: impl FnOnce(&mut Fill),
) -> (Running, Log) {
    let dir = lab.dir.path();
    let sites = vec![Site {
        name: "a.test".into(),
        names: vec!["*.a.test".into()],
        cert: Some(dir.join("a.test.pem")),
        key: Some(dir.join("a.test.key")),
        seed: None,
    }];
    let fill = Fill {
        sources: sources
            .iter()
            .map(|(name, addr, kind)| FillSource {
                name: name.to_string(),
                url: format!("https://{addr}"),
                kind: *kind,
            })
            .collect(),
        cache: Cache {
            memory: ByteSize(64 << 20),
            policy: Policy::Sieve,
        },
        ca: Some(lab.ca()),
        timeouts: Default::default(),
        disk: None,
    };
    let mut fill = fill;
    adjust(&mut fill);
    let store = server::fill_store(&fill).expect("the fill store");
    let log: Log = Arc::default();
    let sink = log.clone();
    let running = server::start_fill(
        &Listen {
            https: vec!["127.0.0.1:0".parse().unwrap()],
            http: vec![],
        },
        Some("127.0.0.1:0".parse().unwrap()),
        &Tls::default(),
        &sites,
        store,
        Limits::default(),
        Some(Arc::new(move |r: &AccessRecord| {
            sink.lock().unwrap().push(r.clone())
        })),
    )
    .await
    .expect("the edge starts");
    (running, log)
}

fn records(log: &Log, path: &str) -> Vec<(&'static str, Option<String>)> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|r| r.path == path)
        .map(|r| (r.cache, r.source.clone()))
        .collect()
}

#[tokio::test]
async fn an_edge_fills_through_the_tier_from_the_origin_once_and_then_serves_hits() {
    let origin = support::lab(None).await;
    let (tier, tier_log) = edge(&origin, &[("origin", origin.https(), SourceKind::Origin)]).await;
    let (edge, edge_log) = edge(
        &origin,
        &[
            ("origin", origin.https(), SourceKind::Origin),
            ("tier", tier.https[0], SourceKind::Tier),
        ],
    )
    .await;
    let via = Via::Verified("a.test".into(), origin.ca());
    let want = support::whole(SEED, BIG);
    for h2 in [false, true, false] {
        let got = support::fetch(edge.https[0], via.clone(), h2, "a.test", BIG, &[]).await;
        assert_eq!(got.status, 200);
        assert!(got.body == want, "the body is not the catalogue's");
    }
    let got = support::fetch(
        edge.https[0],
        via.clone(),
        true,
        "a.test",
        BIG,
        &[("range", "bytes=1000-1999")],
    )
    .await;
    assert_eq!(got.status, 206);
    assert!(
        got.body == want[1000..2000],
        "the range is not the catalogue's"
    );

    // The tier is asked before the origin (whatever the config's order),
    // once; the tier asks the origin once; the rest are hits.
    let at_edge = records(&edge_log, BIG);
    assert_eq!(at_edge.len(), 4, "{at_edge:?}");
    assert_eq!(at_edge[0], ("miss", Some("tier".into())), "{at_edge:?}");
    assert!(at_edge[1..].iter().all(|(c, _)| *c == "hit"), "{at_edge:?}");
    assert_eq!(
        records(&tier_log, BIG),
        vec![("miss", Some("origin".into()))]
    );
    assert_eq!(
        records(&origin.log, BIG).len(),
        1,
        "the origin was asked more than once"
    );

    // Each tier's metrics count what happened there: the edge one miss
    // filled from the tier and three hits, the tier one miss filled from
    // the origin; the bytes by source are the object's.
    let len = want.len();
    let edge_text = metrics(&edge).await;
    for line in [
        "cdn_fill_opens_total{result=\"hit\"} 3".to_string(),
        "cdn_fill_opens_total{result=\"miss\"} 1".to_string(),
        "cdn_fill_hit_ratio 0.75".to_string(),
        format!("cdn_fill_bytes_total{{source=\"tier\"}} {len}"),
        "cdn_fill_bytes_total{source=\"origin\"} 0".to_string(),
        "cdn_fill_fetches_total{source=\"tier\"} 1".to_string(),
        "cdn_fill_fetches_total{source=\"origin\"} 0".to_string(),
        "cdn_fill_failures_total{kind=\"stall\"} 0".to_string(),
    ] {
        assert!(
            edge_text.contains(&format!("{line}\n")),
            "no `{line}` in\n{edge_text}"
        );
    }
    let tier_text = metrics(&tier).await;
    for line in [
        "cdn_fill_opens_total{result=\"hit\"} 0".to_string(),
        "cdn_fill_opens_total{result=\"miss\"} 1".to_string(),
        "cdn_fill_hit_ratio 0\n".to_string(),
        format!("cdn_fill_bytes_total{{source=\"origin\"}} {len}"),
        "cdn_fill_completed_total{source=\"origin\"} 1".to_string(),
    ] {
        assert!(
            tier_text.contains(line.trim_end()),
            "no `{line}` in\n{tier_text}"
        );
    }
    // The same counters as service samples, labelled by source.
    let samples = edge.front.metrics().sample_lines(0.0);
    let bytes = samples
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["metric"] == "svc.cdn.fill.bytes" && v["labels"]["source"] == "tier")
        .expect("a fill bytes sample for the tier");
    assert_eq!(bytes["value"].as_f64(), Some(len as f64));
}

/// The admin endpoint's `/metrics` text.
async fn metrics(running: &Running) -> String {
    let admin = running.admin.expect("an admin address");
    let got = support::fetch(admin, Via::Plain, false, "localhost", "/metrics", &[]).await;
    assert_eq!(got.status, 200);
    String::from_utf8(got.body).unwrap()
}

#[tokio::test]
async fn a_peer_that_lacks_an_object_answers_504_and_the_asking_edge_falls_through_to_the_origin() {
    let origin = support::lab(None).await;
    let (peer, peer_log) = edge(&origin, &[("origin", origin.https(), SourceKind::Origin)]).await;
    let (edge, edge_log) = edge(
        &origin,
        &[
            ("origin", origin.https(), SourceKind::Origin),
            ("peer", peer.https[0], SourceKind::Peer),
        ],
    )
    .await;
    let via = Via::Verified("a.test".into(), origin.ca());

    // The peer lacks BIG: asked only-if-cached it answers 504 and does
    // not fill; the edge falls through to the origin.
    let got = support::fetch(edge.https[0], via.clone(), false, "a.test", BIG, &[]).await;
    assert_eq!(got.status, 200);
    assert!(got.body == support::whole(SEED, BIG));
    assert_eq!(
        records(&edge_log, BIG),
        vec![("miss", Some("origin".into()))]
    );
    let at_peer: Vec<u16> = peer_log.lock().unwrap().iter().map(|r| r.status).collect();
    assert_eq!(at_peer, [504], "the peer's answers");
    let peer_fill = peer.front.metrics().fill().unwrap();
    assert_eq!((peer_fill.not_cached, peer_fill.misses), (1, 0));
    assert_eq!(peer_fill.fetches_from("origin"), 0, "the peer filled");
    assert!(!peer.front.metrics().unhealthy());

    // Once the peer holds SMALL, the edge fills it from the peer, and the
    // origin is asked for it once (by the peer).
    let got = support::fetch(peer.https[0], via.clone(), true, "a.test", SMALL, &[]).await;
    assert_eq!(got.status, 200);
    let got = support::fetch(edge.https[0], via.clone(), false, "a.test", SMALL, &[]).await;
    assert_eq!(got.status, 200);
    assert!(got.body == support::whole(SEED, SMALL));
    assert_eq!(
        records(&edge_log, SMALL),
        vec![("miss", Some("peer".into()))]
    );
    assert_eq!(
        records(&peer_log, SMALL),
        vec![
            ("miss", Some("origin".into())),
            ("hit", Some("origin".into()))
        ]
    );
    assert_eq!(records(&origin.log, SMALL).len(), 1);
    assert_eq!(records(&origin.log, BIG).len(), 1);

    // A client's only-if-cached: the edge answers from its cache or 504;
    // the origin, which holds everything, answers.
    let oic = [("cache-control", "only-if-cached")];
    let got = support::fetch(peer.https[0], via.clone(), false, "a.test", BIG, &oic).await;
    assert_eq!(got.status, 504);
    let got = support::fetch(peer.https[0], via.clone(), false, "a.test", SMALL, &oic).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("x-cache"), Some("netproof; hit; source=origin"));
    let got = support::fetch(origin.https(), via, false, "a.test", BIG, &oic).await;
    assert_eq!(got.status, 200);
}

#[tokio::test]
async fn fill_timeouts_and_a_disk_tier_from_the_config_are_used() {
    use netproof_proto::cdn::{DiskTier, FillTimeouts, OriginKnobs, Span};
    use std::time::{Duration, Instant};
    // An origin that takes 1.5 s before every head.
    let knobs = OriginKnobs {
        latency: Span(Duration::from_millis(1500)),
        ..OriginKnobs::default()
    };
    let origin = support::lab_with(None, knobs, Limits::default()).await;
    let sources = [("origin", origin.https(), SourceKind::Origin)];
    let ms = |n| Some(Span(Duration::from_millis(n)));
    let (impatient, _) = edge_with(&origin, &sources, |f| {
        f.timeouts = FillTimeouts {
            connect: ms(200),
            stall: ms(300),
            lock: ms(1000),
        };
    })
    .await;
    let via = Via::Verified("a.test".into(), origin.ca());
    let started = Instant::now();
    let got = support::fetch(impatient.https[0], via.clone(), false, "a.test", SMALL, &[]).await;
    let took = started.elapsed();
    assert_eq!(got.status, 504, "a head later than `stall` is a stall");
    assert!(took < Duration::from_millis(1200), "gave up after {took:?}");
    let failures = impatient.fill.as_ref().unwrap().counters().snapshot();
    assert_eq!(
        failures.failed(netproof_cdn::fill::plan::FailKind::Stall),
        1
    );

    // The defaults (5 s stall) wait the origin out. A disk tier of its
    // own keeps what a one-object memory cache evicts.
    let dir = tempfile::tempdir().unwrap();
    let big = support::content(SEED, BIG).1;
    let (patient, _) = edge_with(&origin, &sources, |f| {
        f.cache.memory = ByteSize(big + 1000);
        f.disk = Some(DiskTier {
            dir: dir.path().join("tier"),
            size: ByteSize(16 << 20),
            policy: Some(Policy::Lru),
        });
    })
    .await;
    let other = "/t/4/800k/0000.m4s";
    for path in [BIG, other, BIG] {
        let got = support::fetch(patient.https[0], via.clone(), false, "a.test", path, &[]).await;
        assert_eq!(got.status, 200, "{path}");
        assert!(got.body == support::whole(SEED, path), "{path}");
    }
    let store = patient.fill.as_ref().unwrap();
    let c = store.counters().snapshot();
    assert_eq!((c.demoted, c.disk_hits), (1, 1), "{c:?}");
    assert!(dir.path().join("tier").is_dir());
    assert_eq!(
        records(&origin.log, BIG).len(),
        1,
        "BIG came back from disk"
    );
}
