//! The decision's order, miss classes and invariants, on a virtual clock.

use std::time::Duration;

use netproof_proto::steering::{
    Contents, EdgeEntry, EdgeKind, EdgeReport, Health, HealthPolling, LearnedRoute, Origin,
    SiteTitles, SteeringConfig, SteeringListen,
};
use proptest::prelude::*;

use super::*;

pub(crate) fn entry(name: &str, kind: EdgeKind, cluster: Option<&str>) -> EdgeEntry {
    EdgeEntry {
        name: name.into(),
        host: format!("{name}.video.cdn.test"),
        addresses: vec!["198.18.1.2".parse().unwrap()],
        kind,
        cluster: cluster.map(str::to_string),
        health: None,
        url: format!("https://{name}.video.cdn.test:8443"),
        weight: None,
    }
}

pub(crate) fn config(edges: Vec<EdgeEntry>) -> SteeringConfig {
    SteeringConfig {
        listen: SteeringListen::default(),
        admin: None,
        report_timeout: None,
        decision_log: false,
        dns: None,
        health: HealthPolling::default(),
        edges,
    }
}

pub(crate) fn route(prefix: &str) -> LearnedRoute {
    LearnedRoute {
        prefix: prefix.parse().unwrap(),
        local_pref: 100,
        as_path_len: 1,
        origin: Origin::Igp,
        med: 0,
        ebgp: true,
    }
}

pub(crate) fn report(
    edge: &str,
    seq: u64,
    routes: Vec<LearnedRoute>,
    titles: &[u32],
) -> EdgeReport {
    EdgeReport {
        edge: edge.into(),
        seq,
        health: Health::Ok,
        load: 0.1,
        routes,
        contents: Contents {
            titles: vec![SiteTitles {
                site: "video.cdn.test".into(),
                titles: titles.to_vec(),
            }],
            fills: true,
        },
    }
}

fn q(client: &str, title: Option<u32>) -> Query<'static> {
    Query {
        client: client.parse().unwrap(),
        site: "video.cdn.test",
        title,
    }
}

const T0: Duration = Duration::from_secs(100);

fn names(s: &Steering, d: &Decision) -> Vec<String> {
    d.ranked
        .iter()
        .map(|r| s.edges()[r.edge].entry.name.clone())
        .collect()
}

/// Two ISPs' embedded edges, an exchange edge and the tier.
fn world() -> Steering {
    let mut s = Steering::new(&config(vec![
        entry("a1", EdgeKind::Embedded, Some("isp-a")),
        entry("a2", EdgeKind::Embedded, Some("isp-a")),
        entry("b1", EdgeKind::Embedded, Some("isp-b")),
        entry("ix", EdgeKind::Exchange, None),
        entry("tier", EdgeKind::Tier, None),
    ]));
    s.report(report("a1", 1, vec![route("198.18.64.0/20")], &[1, 2]), T0)
        .unwrap();
    s.report(report("a2", 1, vec![route("198.18.64.0/20")], &[2, 3]), T0)
        .unwrap();
    s.report(report("b1", 1, vec![route("198.18.96.0/20")], &[1]), T0)
        .unwrap();
    s
}

#[test]
fn an_on_net_client_goes_to_its_isps_edges_then_exchange_then_tier() {
    let s = world();
    let d = s.decide(&q("198.18.64.7/32", Some(1)), T0);
    assert_eq!(names(&s, &d), ["a1", "a2", "ix", "tier"]);
    assert_eq!(d.miss, None);
    assert_eq!(d.ranked[0].reason.class, Class::OnNet);
    assert_eq!(d.ranked[0].reason.holds, Holds::Yes);
    let text = d.ranked[0].reason.to_string();
    assert!(
        text.starts_with("on-net via 198.18.64.0/20 (local_pref 100"),
        "{text}"
    );
    // b1's routes do not cover this client: it is no candidate.
    assert_eq!(d.scope, 20);
}

#[test]
fn a_client_no_edge_covers_is_a_route_miss_sent_to_the_exchange() {
    let s = world();
    let d = s.decide(&q("198.18.200.1/32", Some(1)), T0);
    assert_eq!(names(&s, &d), ["ix", "tier"]);
    assert_eq!(d.miss, Some(Miss::Route));
}

#[test]
fn the_edge_holding_the_title_comes_first_and_a_title_nobody_holds_is_a_content_miss() {
    let s = world();
    let d = s.decide(&q("198.18.64.7/32", Some(3)), T0);
    assert_eq!(names(&s, &d)[..2], ["a2", "a1"]);
    assert_eq!(d.miss, None);
    let d = s.decide(&q("198.18.64.7/32", Some(99)), T0);
    assert_eq!(d.miss, Some(Miss::Content));
    assert_eq!(d.ranked[0].reason.class, Class::OnNet);
}

#[test]
fn unusable_edges_sink_below_every_usable_one_and_make_a_health_miss() {
    let mut s = world();
    s.set_polled(0, Polled::Down);
    let d = s.decide(&q("198.18.64.7/32", Some(1)), T0);
    assert_eq!(names(&s, &d), ["a2", "ix", "tier", "a1"]);
    assert_eq!(d.ranked[3].reason.unusable, Some(Unusable::Down));
    assert_eq!(
        d.miss,
        Some(Miss::Content),
        "a2 is usable but lacks title 1"
    );
    s.set_polled(1, Polled::Draining);
    let d = s.decide(&q("198.18.64.7/32", Some(1)), T0);
    assert_eq!(names(&s, &d), ["ix", "tier", "a1", "a2"]);
    assert_eq!(d.miss, Some(Miss::Health));
    assert_eq!(d.usable().count(), 2);
}

#[test]
fn a_draining_report_takes_an_edge_out_and_recovery_brings_it_back() {
    let mut s = world();
    let mut r = report("a1", 2, vec![route("198.18.64.0/20")], &[1, 2]);
    r.health = Health::Draining;
    s.report(r.clone(), T0).unwrap();
    let d = s.decide(&q("198.18.64.7/32", Some(1)), T0);
    assert_eq!(d.ranked.last().map(|r| r.edge), Some(0));
    r.seq = 3;
    r.health = Health::Ok;
    s.report(r, T0).unwrap();
    assert_eq!(
        s.decide(&q("198.18.64.7/32", Some(1)), T0).ranked[0].edge,
        0
    );
}

#[test]
fn bgp_order_longest_match_then_local_pref_as_path_origin_med_ebgp() {
    let mut s = Steering::new(&config(vec![
        entry("x", EdgeKind::Embedded, None),
        entry("y", EdgeKind::Embedded, None),
    ]));
    let mut set = |x: LearnedRoute, y: LearnedRoute, seq| {
        s.report(report("x", seq, vec![x], &[]), T0).unwrap();
        s.report(report("y", seq, vec![y], &[]), T0).unwrap();
        let d = s.decide(&q("198.18.64.1/32", Some(1)), T0);
        s.edges()[d.ranked[0].edge].entry.name.clone()
    };
    let base = route("198.18.64.0/20");
    assert_eq!(
        set(base.clone(), route("198.18.64.0/24"), 1),
        "y",
        "longest match"
    );
    let lp = LearnedRoute {
        local_pref: 200,
        ..base.clone()
    };
    assert_eq!(set(lp, base.clone(), 2), "x", "higher local_pref");
    let long = LearnedRoute {
        as_path_len: 3,
        ..base.clone()
    };
    assert_eq!(set(long, base.clone(), 3), "y", "shorter AS path");
    let egp = LearnedRoute {
        origin: Origin::Egp,
        ..base.clone()
    };
    assert_eq!(set(base.clone(), egp, 4), "x", "lower origin");
    let med = LearnedRoute {
        med: 10,
        ..base.clone()
    };
    assert_eq!(set(med, base.clone(), 5), "y", "lower MED");
    let ibgp = LearnedRoute {
        ebgp: false,
        ..base.clone()
    };
    assert_eq!(set(ibgp, base, 6), "y", "eBGP over iBGP");
}

#[test]
fn a_loaded_edge_is_demoted_below_its_peer() {
    let mut s = world();
    let mut r = report("a1", 2, vec![route("198.18.64.0/20")], &[1, 2]);
    r.load = 0.95;
    s.report(r, T0).unwrap();
    let d = s.decide(&q("198.18.64.7/32", Some(2)), T0);
    assert_eq!(names(&s, &d)[..2], ["a2", "a1"]);
    assert!(d.ranked[1].reason.overloaded);
    assert!(d.ranked[1].reason.to_string().contains("(demoted)"));
}

#[test]
fn a_silent_edge_counts_as_having_no_routes_after_the_report_timeout() {
    let s = world();
    let later = T0 + DEFAULT_REPORT_TIMEOUT;
    let d = s.decide(&q("198.18.64.7/32", Some(1)), later);
    assert_eq!(names(&s, &d), ["ix", "tier"]);
    assert_eq!(d.miss, Some(Miss::Route));
}

#[test]
fn reports_are_taken_in_seq_order_and_unknown_edges_are_refused() {
    let mut s = world();
    let old = report("a1", 1, vec![], &[]);
    assert!(matches!(
        s.report(old.clone(), T0 + Duration::from_secs(1)),
        Err(ReportError::Stale {
            seq: 1,
            last: 1,
            ..
        })
    ));
    // Once the last report is past the timeout, a restarted edge's low seq
    // is taken again.
    s.report(old, T0 + DEFAULT_REPORT_TIMEOUT).unwrap();
    let e = s.report(report("zz", 1, vec![], &[]), T0).unwrap_err();
    assert_eq!(e.kind(), "unknown_edge");
    assert!(e.to_string().contains("hint:"), "{e}");
    let mut bad = report("a2", 9, vec![route("198.18.64.0/20")], &[]);
    bad.load = f64::NAN;
    assert_eq!(s.report(bad, T0).unwrap_err().kind(), "invalid");
    let host_bits = report("a2", 9, vec![route("198.18.64.0/20")], &[]);
    let mut host_bits = host_bits;
    host_bits.routes[0].prefix = "198.18.64.1/20".parse().unwrap();
    let e = s.report(host_bits, T0).unwrap_err();
    assert!(e.to_string().contains("bits set past its length"), "{e}");
}

#[test]
fn an_ecs_subnet_wider_than_the_route_is_not_covered() {
    let s = world();
    // A /16 client subnet spans both ISPs: neither /20 covers it all.
    let d = s.decide(&q("198.18.0.0/16", None), T0);
    assert_eq!(d.miss, Some(Miss::Route));
    assert_eq!(d.scope, 20, "routes inside the /16 split it down to /20");
}

#[test]
fn hrw_spreads_titles_within_a_cluster_by_weight() {
    let mut heavy = entry("a2", EdgeKind::Embedded, Some("isp-a"));
    heavy.weight = Some(3.0);
    let mut s = Steering::new(&config(vec![
        entry("a1", EdgeKind::Embedded, Some("isp-a")),
        heavy,
    ]));
    s.report(report("a1", 1, vec![route("198.18.64.0/20")], &[]), T0)
        .unwrap();
    s.report(report("a2", 1, vec![route("198.18.64.0/20")], &[]), T0)
        .unwrap();
    let n = 4000;
    let a2 = (0..n)
        .filter(|&t| s.decide(&q("198.18.64.7/32", Some(t)), T0).ranked[0].edge == 1)
        .count();
    let sd = (n as f64 * 0.75 * 0.25).sqrt();
    assert!(
        (a2 as f64 - n as f64 * 0.75).abs() < 5.0 * sd,
        "a2 got {a2} of {n}"
    );
}

#[test]
fn only_edges_of_one_cluster_share_titles() {
    // Three equal on-net edges: a1 and a2 in cluster isp-a, b alone.
    let world = |clusters: [Option<&str>; 3]| {
        let mut s = Steering::new(&config(vec![
            entry("a1", EdgeKind::Embedded, clusters[0]),
            entry("a2", EdgeKind::Embedded, clusters[1]),
            entry("b", EdgeKind::Embedded, clusters[2]),
        ]));
        for name in ["a1", "a2", "b"] {
            s.report(report(name, 1, vec![route("198.18.64.0/20")], &[]), T0)
                .unwrap();
        }
        let mut firsts = [0usize; 3];
        for t in 0..600 {
            firsts[s.decide(&q("198.18.64.7/32", Some(t)), T0).ranked[0].edge] += 1;
        }
        firsts
    };
    // The cluster's edges share its titles; the edge in no cluster is a
    // group of its own, after `isp-a` (clusters first, then lone edges).
    let shared = world([Some("isp-a"), Some("isp-a"), None]);
    assert_eq!(shared[2], 0, "{shared:?}");
    assert!(shared[0] > 200 && shared[1] > 200, "{shared:?}");
    // Without clusters nothing is hashed: one edge, by name, takes all.
    assert_eq!(world([None, None, None]), [600, 0, 0]);
    // Two clusters of one edge each: the same, by the clusters' names.
    assert_eq!(world([Some("z"), Some("y"), None]), [0, 600, 0]);
}

// Property tests over random worlds.

#[derive(Debug, Clone)]
struct World {
    kinds: Vec<u8>,
    routes: Vec<Vec<(u8, u8, u32)>>,
    polled: Vec<u8>,
    health: Vec<u8>,
    loads: Vec<f64>,
    titles: Vec<Vec<u32>>,
}

fn world_strategy() -> impl Strategy<Value = World> {
    (1usize..12).prop_flat_map(|n| {
        (
            proptest::collection::vec(0u8..3, n),
            proptest::collection::vec(
                proptest::collection::vec((0u8..8, 16u8..=26, 50u32..300), 0..4),
                n,
            ),
            proptest::collection::vec(0u8..5, n),
            proptest::collection::vec(0u8..3, n),
            proptest::collection::vec(0.0f64..=1.0, n),
            proptest::collection::vec(proptest::collection::vec(0u32..6, 0..4), n),
        )
            .prop_map(|(kinds, routes, polled, health, loads, titles)| World {
                kinds,
                routes,
                polled,
                health,
                loads,
                titles,
            })
    })
}

fn build(w: &World) -> Steering {
    let kinds = [EdgeKind::Embedded, EdgeKind::Exchange, EdgeKind::Tier];
    let edges = (0..w.kinds.len())
        .map(|i| entry(&format!("e{i}"), kinds[w.kinds[i] as usize], Some("c")))
        .collect();
    let mut s = Steering::new(&config(edges));
    for i in 0..w.kinds.len() {
        let routes = w.routes[i]
            .iter()
            .map(|&(third, len, lp)| {
                let net: IpNet = format!("198.18.{}.0/{len}", third * 32).parse().unwrap();
                LearnedRoute {
                    local_pref: lp,
                    ..route(&net.trunc().to_string())
                }
            })
            .collect();
        let mut r = report(&format!("e{i}"), 1, routes, &w.titles[i]);
        r.health = [Health::Ok, Health::Draining, Health::Unhealthy][w.health[i] as usize];
        r.load = w.loads[i];
        s.report(r, T0).unwrap();
        let p = [
            Polled::Unknown,
            Polled::Up,
            Polled::Draining,
            Polled::Unhealthy,
            Polled::Down,
        ];
        s.set_polled(i, p[w.polled[i] as usize]);
    }
    s
}

proptest! {
    #[test]
    fn a_usable_candidate_is_first_whenever_one_exists(w in world_strategy(), host in 0u32..65536, title in 0u32..6) {
        let s = build(&w);
        let client: IpNet = format!("198.18.{}.{}/32", host >> 8, host & 255).parse().unwrap();
        let query = Query { client, site: "video.cdn.test", title: Some(title) };
        let d = s.decide(&query, T0);
        // A usable candidate exists when an exchange or tier edge is
        // usable, or an embedded one covers the client and is usable.
        let exists = (0..w.kinds.len()).any(|i| {
            s.unusable(i, T0).is_none()
                && (w.kinds[i] != 0
                    || d.ranked.iter().any(|r| r.edge == i))
        });
        prop_assert_eq!(exists, d.ranked.first().is_some_and(|r| r.usable()));
        // No unusable edge ranks above a usable one.
        let first_unusable = d.ranked.iter().position(|r| !r.usable()).unwrap_or(d.ranked.len());
        prop_assert!(d.ranked[first_unusable..].iter().all(|r| !r.usable()));
        // The same inputs give the same answer.
        prop_assert_eq!(&d, &s.decide(&query, T0));
        prop_assert_eq!(&d, &build(&w).decide(&query, T0));
    }
}

proptest! {
    // Each case decides 6000 times: fewer cases keep the test under a second.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn removing_one_of_n_cluster_edges_moves_only_its_titles_about_one_in_n(n in 2usize..9, gone in 0usize..8) {
        let gone = gone % n;
        let all: Vec<EdgeEntry> = (0..n).map(|i| entry(&format!("c{i}"), EdgeKind::Exchange, Some("c"))).collect();
        let fewer: Vec<EdgeEntry> = all.iter().enumerate().filter(|(i, _)| *i != gone).map(|(_, e)| e.clone()).collect();
        let (before, after) = (Steering::new(&config(all)), Steering::new(&config(fewer)));
        let titles = 3000u32;
        let mut moved = 0u32;
        for t in 0..titles {
            let query = Query { client: "198.18.0.1/32".parse().unwrap(), site: "video.cdn.test", title: Some(t) };
            let b = &before.edges()[before.decide(&query, T0).ranked[0].edge].entry.name;
            let a = &after.edges()[after.decide(&query, T0).ranked[0].edge].entry.name;
            if a != b {
                moved += 1;
                // Only titles of the removed edge move.
                prop_assert_eq!(b, &format!("c{gone}"));
            }
        }
        // About 1/N: within five standard deviations of the binomial.
        let p = 1.0 / n as f64;
        let mean = titles as f64 * p;
        let sd = (titles as f64 * p * (1.0 - p)).sqrt();
        prop_assert!((moved as f64 - mean).abs() < 5.0 * sd, "moved {} of {}, expected {:.0}", moved, titles, mean);
    }
}
