//! Decision micro-benchmark (not a test): one decision over 50 edges (40
//! embedded in 8 clusters of 5, 5 exchange, 5 tier) whose reports carry
//! 10,000 distinct client prefixes (each cluster's 1,250 /24s, learned by
//! all 5 of its edges: 50,000 routes), for clients spread over the space,
//! half on-net. Prints p50, p99 and p99.9 of single decisions; the goal is
//! a p99 under 50 µs.
//!
//! Run: `cargo bench -p netproof-steering --bench decision`.

use std::time::{Duration, Instant};

use netproof_proto::prefix::IpNet;
use netproof_proto::steering::{
    Contents, EdgeEntry, EdgeKind, EdgeReport, Health, HealthPolling, LearnedRoute, Origin,
    SiteTitles, SteeringConfig, SteeringListen,
};
use netproof_steering::decision::{Query, Steering};

const CLUSTERS: usize = 8;
const PER_CLUSTER: usize = 5;
const PREFIXES_PER_CLUSTER: u32 = 1250;
const QUERIES: usize = 200_000;

fn entry(name: String, kind: EdgeKind, cluster: Option<String>) -> EdgeEntry {
    EdgeEntry {
        host: format!("{name}.video.cdn.test"),
        url: format!("https://{name}.video.cdn.test"),
        addresses: vec!["198.18.1.2".parse().unwrap()],
        name,
        kind,
        cluster,
        health: None,
        weight: None,
    }
}

/// The `i`-th /24 of 10.0.0.0/8-sized space, inside 198.18.0.0/15 and
/// beyond (addresses are only data here: nothing is sent).
fn prefix(i: u32) -> IpNet {
    let base = u32::from(std::net::Ipv4Addr::new(100, 0, 0, 0)) + (i << 8);
    IpNet::new(std::net::Ipv4Addr::from(base).into(), 24).unwrap()
}

fn main() {
    let mut edges = Vec::new();
    for c in 0..CLUSTERS {
        for e in 0..PER_CLUSTER {
            edges.push(entry(
                format!("isp{c}-oca{e}"),
                EdgeKind::Embedded,
                Some(format!("isp{c}")),
            ));
        }
    }
    for e in 0..5 {
        edges.push(entry(
            format!("ix{e}"),
            EdgeKind::Exchange,
            Some("ix".into()),
        ));
        edges.push(entry(
            format!("tier{e}"),
            EdgeKind::Tier,
            Some("tier".into()),
        ));
    }
    let config = SteeringConfig {
        listen: SteeringListen::default(),
        admin: None,
        report_timeout: None,
        decision_log: false,
        dns: None,
        health: HealthPolling::default(),
        edges,
    };
    let mut s = Steering::new(&config);
    let now = Duration::from_secs(1);
    let built = Instant::now();
    for c in 0..CLUSTERS {
        let routes: Vec<LearnedRoute> = (0..PREFIXES_PER_CLUSTER)
            .map(|i| LearnedRoute {
                prefix: prefix(c as u32 * PREFIXES_PER_CLUSTER + i),
                local_pref: 100 + (i % 3),
                as_path_len: 1 + (i % 2),
                origin: Origin::Igp,
                med: 0,
                ebgp: true,
            })
            .collect();
        for e in 0..PER_CLUSTER {
            let report = EdgeReport {
                edge: format!("isp{c}-oca{e}"),
                seq: 1,
                health: Health::Ok,
                load: 0.2,
                routes: routes.clone(),
                contents: Contents {
                    titles: vec![SiteTitles {
                        site: "video.cdn.test".into(),
                        titles: (0..2000)
                            .filter(|t| t % PER_CLUSTER as u32 == e as u32)
                            .collect(),
                    }],
                    fills: true,
                },
            };
            s.report(report, now).expect("report");
        }
    }
    println!(
        "40 reports, 50,000 routes, indexed in {:?}",
        built.elapsed()
    );
    let mut rng = 0x1234_5678_u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut times = Vec::with_capacity(QUERIES);
    let mut on_net = 0usize;
    for _ in 0..QUERIES {
        let r = next();
        // Half the clients inside a learned /24, half beyond every route.
        let within = (r % 2 == 0) as u32;
        let net = if within == 1 {
            prefix((r >> 8) as u32 % (CLUSTERS as u32 * PREFIXES_PER_CLUSTER))
        } else {
            prefix(20_000 + (r >> 8) as u32 % 10_000)
        };
        let host = u32::from(match net.addr() {
            std::net::IpAddr::V4(a) => a,
            _ => unreachable!(),
        }) + (r >> 40) as u32 % 256;
        let q = Query {
            client: IpNet::from(std::net::IpAddr::from(std::net::Ipv4Addr::from(host))),
            site: "video.cdn.test",
            title: Some((r >> 20) as u32 % 2000),
        };
        let t = Instant::now();
        let d = s.decide(&q, now);
        times.push(t.elapsed());
        on_net += d.miss.is_none() as usize;
        std::hint::black_box(d);
    }
    times.sort_unstable();
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "decision over 50 edges, 10,000 prefixes: {QUERIES} decisions ({on_net} on-net hits): p50 {:?}, p99 {:?}, p99.9 {:?} (goal: p99 < 50µs)",
        at(0.5),
        at(0.99),
        at(0.999)
    );
    dns_path(&s, now);
}

/// The DNS request path without sockets: `Zone::respond` on a query with
/// an ECS option, after the decision above's reports.
fn dns_path(s: &Steering, now: Duration) {
    use netproof_steering::dns::{Transport, Zone};
    let face: netproof_proto::steering::DnsFace = toml::from_str(
        "zone = \"video.cdn.test\"\nsteered = [\"video.cdn.test\"]\nns = [{ name = \"ns.video.cdn.test\", address = \"198.18.0.9\" }]",
    )
    .expect("the [dns] table parses");
    let edges: Vec<EdgeEntry> = s.edges().iter().map(|e| e.entry.clone()).collect();
    let zone = Zone::new(&face, &edges);
    // video.cdn.test A, EDNS, ECS 100.0.5.0/24 (a learned prefix).
    let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    q.extend_from_slice(b"\x05video\x03cdn\x04test\x00\x00\x01\x00\x01");
    q.extend_from_slice(&[
        0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0, 100, 0, 5,
    ]);
    let source = "127.0.0.1".parse().unwrap();
    let n = 200_000;
    let t = Instant::now();
    for _ in 0..n {
        let out = zone.respond(&q, source, Transport::Udp, s, now);
        std::hint::black_box(out);
    }
    let per = t.elapsed() / n;
    println!(
        "DNS request path (read, decide, encode; no sockets): {per:?} a query, {:.0} queries/s on one core",
        1.0 / per.as_secs_f64()
    );
}
