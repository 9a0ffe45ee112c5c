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

use crate::support::{self, BIG, SEED, Via};

type Log = Arc<Mutex<Vec<AccessRecord>>>;

/// An edge serving `a.test` with the lab's certificate, filling from
/// `sources` (name, address, kind) over https checked by the lab CA.
async fn edge(lab: &support::Lab, sources: &[(&str, SocketAddr, SourceKind)]) -> (Running, Log) {
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
    };
    let store = server::fill_store(&fill).expect("the fill store");
    let log: Log = Arc::default();
    let sink = log.clone();
    let running = server::start(
        &Listen {
            https: vec!["127.0.0.1:0".parse().unwrap()],
            http: vec![],
        },
        None,
        &Tls::default(),
        &sites,
        Arc::new(store),
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
}
