//! Routing tests: small topologies with known answers, and a forwarding
//! simulator that walks every multipath branch hop by hop through the
//! computed tables, checked against an independent shortest-path
//! reference on seeded random graphs.

use std::collections::{BTreeSet, HashMap};

use super::super::shapes::*;
use super::super::{End, Fabric, GraphLink, GraphNode, allocate};
use super::*;

fn plan(g: &Graph) -> (Addressing, RouteTable) {
    let a = allocate(g).unwrap();
    let r = routes(g, &a).unwrap();
    (a, r)
}

fn lo4(a: &Addressing, v: usize) -> IpAddr {
    a.nodes[v].loopback_v4.into()
}

fn lo6(a: &Addressing, v: usize) -> IpAddr {
    a.nodes[v].loopback_v6.into()
}

/// The links of the next hops `node` uses toward `ip`.
fn hop_links(r: &RouteTable, node: usize, ip: IpAddr) -> Vec<usize> {
    r.lookup(node, ip)
        .map(|route| route.nexthops.iter().map(|h| h.link).collect())
        .unwrap_or_default()
}

fn no_default_routes(r: &RouteTable) {
    for route in r.nodes.iter().flatten() {
        assert!(route.dest.len > 0, "default route {route:?}");
        assert!(
            LAB_V4.contains(route.dest.addr) || LAB_V6.contains(route.dest.addr),
            "route outside the lab {route:?}"
        );
    }
}

#[test]
fn a_line_gives_hosts_two_routes_and_routers_the_rest() {
    // a - r1 - r2 - b
    let mut g = Graph::default();
    let a = add(&mut g, "a", false);
    let r1 = add(&mut g, "r1", true);
    let r2 = add(&mut g, "r2", true);
    let b = add(&mut g, "b", false);
    let l_a = link(&mut g, a, r1, 1);
    let l_mid = link(&mut g, r1, r2, 1);
    let l_b = link(&mut g, r2, b, 1);
    let (ad, r) = plan(&g);

    let r1_on_a = IpAddr::V4(ad.links[l_a].v4[1]);
    let r1_on_a6 = IpAddr::V6(ad.links[l_a].v6[1]);
    assert_eq!(
        r.nodes[a],
        [
            Route {
                dest: LAB_V4,
                nexthops: vec![NextHop {
                    link: l_a,
                    via: r1_on_a
                }]
            },
            Route {
                dest: LAB_V6,
                nexthops: vec![NextHop {
                    link: l_a,
                    via: r1_on_a6
                }]
            },
        ]
    );
    assert_eq!(r.nodes[b].len(), 2);
    assert_eq!(r.nodes[b][0].dest, LAB_V4);
    assert_eq!(r.nodes[b][0].nexthops[0].link, l_b);

    // r1 reaches b's loopbacks and the r2--b link through r2.
    let r2_on_mid = IpAddr::V4(ad.links[l_mid].v4[1]);
    let to_b = r.lookup(r1, lo4(&ad, b)).unwrap();
    assert_eq!(
        to_b.nexthops,
        [NextHop {
            link: l_mid,
            via: r2_on_mid
        }]
    );
    assert!(to_b.dest.len >= 31, "{to_b:?}");
    assert_eq!(hop_links(&r, r1, lo6(&ad, b)), [l_mid]);
    assert_eq!(hop_links(&r, r1, ad.links[l_b].v4[1].into()), [l_mid]);
    assert_eq!(hop_links(&r, r1, ad.links[l_b].v6[1].into()), [l_mid]);
    // ... and a's through the link to a, but has no route for its own links.
    assert_eq!(hop_links(&r, r1, lo4(&ad, a)), [l_a]);
    assert!(r.lookup(r1, ad.links[l_mid].v4[1].into()).is_none());
    no_default_routes(&r);
}

#[test]
fn leaf_spine_spreads_leaf_to_leaf_traffic_over_both_spines() {
    let g = leaf_spine(2, 2, 2);
    let idx = |name: &str| g.nodes.iter().position(|n| n.name == name).unwrap();
    let (ad, r) = plan(&g);
    let (leaf0, leaf1) = (idx("leaf0"), idx("leaf1"));
    for dest in [
        lo4(&ad, leaf1),
        lo6(&ad, leaf1),
        lo4(&ad, idx("host1-0")),
        lo6(&ad, idx("host1-1")),
    ] {
        let route = r.lookup(leaf0, dest).unwrap();
        assert_eq!(route.nexthops.len(), 2, "{dest}: {route:?}");
        let peers: BTreeSet<_> = route
            .nexthops
            .iter()
            .map(|h| {
                let l = &g.links[h.link];
                &g.nodes[if l.a == leaf0 { l.b } else { l.a }].name
            })
            .collect();
        assert_eq!(peers, BTreeSet::from([&g.nodes[0].name, &g.nodes[1].name]));
    }
    // A spine reaches a leaf's hosts through that leaf alone.
    assert_eq!(hop_links(&r, 0, lo4(&ad, idx("host1-0"))).len(), 1);
    // Hosts are stubs: two routes each.
    for (i, n) in g.nodes.iter().enumerate() {
        if !n.router {
            assert_eq!(r.nodes[i].len(), 2, "{}", n.name);
        }
    }
    no_default_routes(&r);
}

#[test]
fn a_host_between_two_routers_never_carries_their_traffic() {
    //   r1 --1-- h --1-- r2       (h is a host: not a path)
    //   r1 --5-- r3 --5-- r2
    let mut g = Graph::default();
    let r1 = add(&mut g, "r1", true);
    let h = add(&mut g, "h", false);
    let r2 = add(&mut g, "r2", true);
    let r3 = add(&mut g, "r3", true);
    link(&mut g, r1, h, 1);
    link(&mut g, h, r2, 1);
    let via_r3 = link(&mut g, r1, r3, 5);
    link(&mut g, r3, r2, 5);
    let (ad, r) = plan(&g);
    assert_eq!(hop_links(&r, r1, lo4(&ad, r2)), [via_r3]);
    // The host itself reaches both, directly.
    assert_eq!(hop_links(&r, h, lo4(&ad, r1)), [0]);
    assert_eq!(hop_links(&r, h, lo4(&ad, r2)), [1]);

    // Without r3 the routers cannot reach each other at all.
    g.links.truncate(2);
    g.nodes.truncate(3);
    let (ad, r) = plan(&g);
    assert!(r.lookup(r1, lo4(&ad, r2)).is_none());
    assert!(r.lookup(r1, lo6(&ad, r2)).is_none());
}

#[test]
fn a_cheaper_longer_path_wins_over_a_dear_direct_link() {
    // r0 --10-- r1, and r0 -1- r2 -1- r3 -1- r1
    let mut g = Graph::default();
    let r: Vec<usize> = (0..4)
        .map(|i| add(&mut g, &format!("r{i}"), true))
        .collect();
    link(&mut g, r[0], r[1], 10);
    let cheap = link(&mut g, r[0], r[2], 1);
    link(&mut g, r[2], r[3], 1);
    link(&mut g, r[3], r[1], 1);
    let (ad, t) = plan(&g);
    assert_eq!(hop_links(&t, r[0], lo4(&ad, r[1])), [cheap]);
    // At cost 3 the two paths tie: both are next hops.
    g.links[0].cost = 3;
    let (ad, t) = plan(&g);
    assert_eq!(hop_links(&t, r[0], lo4(&ad, r[1])), [0, cheap]);
}

#[test]
fn parallel_links_are_two_next_hops() {
    let mut g = Graph::default();
    let r0 = add(&mut g, "r0", true);
    let r1 = add(&mut g, "r1", true);
    let r2 = add(&mut g, "r2", true);
    link(&mut g, r0, r1, 1);
    link(&mut g, r1, r0, 1);
    link(&mut g, r1, r2, 1);
    let (ad, t) = plan(&g);
    let route = t.lookup(r0, lo4(&ad, r2)).unwrap();
    assert_eq!(
        route.nexthops,
        [
            NextHop {
                link: 0,
                via: ad.links[0].v4[1].into()
            },
            NextHop {
                link: 1,
                via: ad.links[1].v4[0].into()
            },
        ]
    );
}

#[test]
fn a_stub_host_uses_only_its_cheapest_uplinks() {
    let mut g = Graph::default();
    let h = add(&mut g, "h", false);
    let r = add(&mut g, "r", true);
    link(&mut g, h, r, 3);
    link(&mut g, h, r, 1);
    link(&mut g, r, h, 1);
    let (_, t) = plan(&g);
    let links: Vec<usize> = t.nodes[h][0].nexthops.iter().map(|n| n.link).collect();
    assert_eq!(links, [1, 2]);
}

#[test]
fn graphs_without_paths_have_no_routes_and_no_panic() {
    // Nothing, one node, unconnected nodes, two separate pairs.
    let mut g = Graph::default();
    assert_eq!(plan(&g).1.installed(), 0);
    add(&mut g, "lonely", false);
    add(&mut g, "alone", true);
    let (_, t) = plan(&g);
    assert_eq!(t.nodes, [vec![], vec![]]);
    let x = add(&mut g, "x", true);
    let y = add(&mut g, "y", true);
    link(&mut g, x, y, 1);
    let (ad, t) = plan(&g);
    assert!(t.lookup(x, lo4(&ad, 0)).is_none());
    assert_eq!(hop_links(&t, x, lo4(&ad, y)), [0]);
}

#[test]
fn an_addressing_for_another_graph_is_an_error() {
    let g = line(4);
    let a = allocate(&line(3)).unwrap();
    let e = routes(&g, &a).unwrap_err();
    assert!(matches!(e, FabricError::AddressingMismatch { .. }), "{e}");
    // Same sizes, different links.
    let mut h = line(4);
    h.links[2] = GraphLink {
        a: 0,
        b: 3,
        cost: 1,
    };
    let e = routes(&h, &allocate(&g).unwrap()).unwrap_err();
    assert!(matches!(e, FabricError::AddressingMismatch { .. }), "{e}");
}

#[test]
fn routes_are_the_same_every_time() {
    let mut rng = Rng::new(11);
    for _ in 0..30 {
        let g = any(&mut rng);
        assert_eq!(Fabric::plan(&g), Fabric::plan(&g.clone()));
    }
}

#[test]
fn sibling_prefixes_with_the_same_next_hops_merge_exactly() {
    let d = |key: u128, len: u8, hops: u32| Dest { key, len, hops };
    // .4 .5 .6 .7 with the same hops: one /30.
    let merged = aggregate(vec![d(7, 32, 0), d(5, 32, 0), d(4, 32, 0), d(6, 32, 0)], 32);
    assert_eq!(merged, [d(4, 30, 0)]);
    // .5 and .6 are neighbours, not siblings; .4/.5 differ in hops.
    let merged = aggregate(vec![d(4, 32, 0), d(5, 32, 1), d(6, 32, 1)], 32);
    assert_eq!(merged, [d(4, 32, 0), d(5, 32, 1), d(6, 32, 1)]);
    // A /31 and two /32s make a /30; a hole stops it.
    let merged = aggregate(vec![d(8, 31, 2), d(10, 32, 2), d(11, 32, 2)], 32);
    assert_eq!(merged, [d(8, 30, 2)]);
    let merged = aggregate(vec![d(8, 31, 2), d(11, 32, 2)], 32);
    assert_eq!(merged, [d(8, 31, 2), d(11, 32, 2)]);
}

/// What became of a packet on one multipath branch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    Delivered { at: usize, cost: u64 },
    NoRoute { at: usize },
    HostForwarded { at: usize },
    Looped { at: usize },
    BadNextHop { at: usize },
}

/// Forwards a packet from `s` to `dst` through the computed tables the way
/// the kernel would (local addresses, then connected subnets, then the
/// longest matching route), following every next hop of every multipath
/// route, and returns every branch's fate.
struct Network<'a> {
    g: &'a Graph,
    a: &'a Addressing,
    t: &'a RouteTable,
    owner: HashMap<IpAddr, usize>,
    adj: Adjacency,
}

impl<'a> Network<'a> {
    fn new(g: &'a Graph, a: &'a Addressing, t: &'a RouteTable) -> Self {
        let mut owner = HashMap::new();
        for (v, n) in a.nodes.iter().enumerate() {
            owner.insert(IpAddr::V4(n.loopback_v4), v);
            owner.insert(IpAddr::V6(n.loopback_v6), v);
        }
        for l in &a.links {
            for i in 0..2 {
                owner.insert(IpAddr::V4(l.v4[i]), l.ends[i]);
                owner.insert(IpAddr::V6(l.v6[i]), l.ends[i]);
            }
        }
        Network {
            g,
            a,
            t,
            owner,
            adj: Adjacency::new(g),
        }
    }

    fn send(&self, s: usize, dst: IpAddr) -> BTreeSet<Fate> {
        let mut fates = BTreeSet::new();
        self.at(s, s, dst, 0, 0, &mut fates);
        fates
    }

    fn at(
        &self,
        s: usize,
        x: usize,
        dst: IpAddr,
        cost: u64,
        hops: usize,
        out: &mut BTreeSet<Fate>,
    ) {
        if self.owner.get(&dst) == Some(&x) {
            out.insert(Fate::Delivered { at: x, cost });
            return;
        }
        if x != s && !self.g.nodes[x].router {
            out.insert(Fate::HostForwarded { at: x });
            return;
        }
        if hops > self.g.nodes.len() {
            out.insert(Fate::Looped { at: x });
            return;
        }
        // Connected subnets first: nothing in a table is longer than them.
        for &(l, end, peer) in self.adj.of(x) {
            let la = &self.a.links[l];
            if la.subnet_v4().contains(dst) || la.subnet_v6().contains(dst) {
                assert_eq!(self.owner.get(&dst), Some(&la.ends[end.other().index()]));
                let c = cost + u64::from(self.g.links[l].cost);
                return self.at(s, peer, dst, c, hops + 1, out);
            }
        }
        let Some(route) = self.t.lookup(x, dst) else {
            out.insert(Fate::NoRoute { at: x });
            return;
        };
        for hop in &route.nexthops {
            let la = &self.a.links[hop.link];
            let Some(end) = la.end_of(x) else {
                out.insert(Fate::BadNextHop { at: x });
                continue;
            };
            let peer = end.other();
            let expected: IpAddr = if dst.is_ipv4() {
                la.v4[peer.index()].into()
            } else {
                la.v6[peer.index()].into()
            };
            if hop.via != expected {
                out.insert(Fate::BadNextHop { at: x });
                continue;
            }
            let c = cost + u64::from(self.g.links[hop.link].cost);
            self.at(s, la.ends[peer.index()], dst, c, hops + 1, out);
        }
    }
}

/// Shortest distances from `s` where only routers (and `s`) forward, by
/// Bellman-Ford: a different algorithm from the one under test.
fn reference(g: &Graph, s: usize) -> Vec<Option<u64>> {
    let mut dist = vec![None; g.nodes.len()];
    dist[s] = Some(0);
    for _ in 0..g.nodes.len() {
        let mut changed = false;
        for l in &g.links {
            for (u, v) in [(l.a, l.b), (l.b, l.a)] {
                let Some(du) = dist[u] else { continue };
                if u != s && !g.nodes[u].router {
                    continue;
                }
                let nd = du + u64::from(l.cost);
                if dist[v].is_none_or(|dv| nd < dv) {
                    dist[v] = Some(nd);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    dist
}

/// Every link out of `s` that starts a shortest path to `v`.
/// `all[w]` is `reference(g, w)`.
fn reference_first_hops(
    g: &Graph,
    s: usize,
    v: usize,
    all: &[Vec<Option<u64>>],
) -> BTreeSet<usize> {
    let mut hops = BTreeSet::new();
    let Some(target) = all[s][v] else { return hops };
    for (i, l) in g.links.iter().enumerate() {
        let w = match (l.a == s, l.b == s) {
            (true, _) => l.b,
            (_, true) => l.a,
            _ => continue,
        };
        let rest = if w == v {
            Some(0)
        } else if g.nodes[w].router {
            all[w][v]
        } else {
            None
        };
        if rest.is_some_and(|r| u64::from(l.cost) + r == target) {
            hops.insert(i);
        }
    }
    hops
}

#[test]
fn every_packet_takes_a_shortest_path_through_routers_only() {
    let mut rng = Rng::new(0x5eed_0003);
    for round in 0..150 {
        let mut g = any(&mut rng);
        // Some plan-fixed loopbacks: in the lab, in the link block (a
        // skipped slot), and outside the lab (extra stub routes).
        for (i, n) in g.nodes.iter_mut().enumerate() {
            if rng.chance(8) {
                n.loopback_v4 = Some(match rng.below(3) {
                    0 => Ipv4Addr::new(198, 18, 200, i as u8),
                    1 => Ipv4Addr::new(198, 19, 0, rng.below(8) as u8 * 2 + i as u8 % 2),
                    _ => Ipv4Addr::new(10, 0, 0, i as u8),
                });
            }
        }
        let a = match allocate(&g) {
            Ok(a) => a,
            // Two nodes drew the same fixed address: a correct refusal.
            Err(FabricError::DuplicateLoopback { .. }) => continue,
            Err(e) => panic!("round {round}: {e}"),
        };
        let t = routes(&g, &a).unwrap();
        let net = Network::new(&g, &a, &t);
        let all: Vec<_> = (0..g.nodes.len()).map(|w| reference(&g, w)).collect();
        for s in 0..g.nodes.len() {
            let dist = &all[s];
            for v in 0..g.nodes.len() {
                if v == s {
                    continue;
                }
                // Each address of `v`, with the costs a packet may arrive
                // with (`None`: a connected route of `s`, not ours).
                let mut targets = vec![
                    (lo4(&a, v), dist[v].map(|d| BTreeSet::from([d]))),
                    (lo6(&a, v), dist[v].map(|d| BTreeSet::from([d]))),
                ];
                for (l, la) in a.links.iter().enumerate() {
                    if let Some(end) = la.end_of(v) {
                        let costs = link_costs(&g, dist, l, end).filter(|_| la.end_of(s).is_none());
                        targets.push((la.v4[end.index()].into(), costs.clone()));
                        targets.push((la.v6[end.index()].into(), costs));
                    }
                }
                for (dst, costs) in targets {
                    let is_loopback = dst == lo4(&a, v) || dst == lo6(&a, v);
                    let fates = net.send(s, dst);
                    let ctx = || format!("round {round}: {s} -> {v} ({dst}): {fates:?}\n{g:?}");
                    match dist[v] {
                        Some(_) => {
                            for f in &fates {
                                let Fate::Delivered { at, cost } = *f else {
                                    panic!("{}", ctx());
                                };
                                assert_eq!(at, v, "{}", ctx());
                                if let Some(costs) = &costs {
                                    assert!(costs.contains(&cost), "{costs:?} {}", ctx());
                                }
                            }
                        }
                        None => {
                            for f in &fates {
                                assert!(
                                    matches!(f, Fate::NoRoute { .. }),
                                    "unreachable yet {}",
                                    ctx()
                                );
                            }
                        }
                    }
                    // Every equal-cost first hop is used: multipath is
                    // complete, not just correct.
                    if is_loopback && dist[v].is_some() {
                        let want = reference_first_hops(&g, s, v, &all);
                        let got: BTreeSet<usize> = hop_links(&t, s, dst).into_iter().collect();
                        assert_eq!(got, want, "{}", ctx());
                    }
                }
            }
        }
        no_default_routes_outside(&t, &a);
    }
}

/// The costs at which a packet from the node whose distances are `dist`
/// may reach the address of `end` on link `l`: the link is reached at its
/// nearest router end(s), and crossed if that is not `end`; a link without
/// a router end is reached at each end like a node.
fn link_costs(g: &Graph, dist: &[Option<u64>], l: usize, end: End) -> Option<BTreeSet<u64>> {
    let link = &g.links[l];
    let ends = [link.a, link.b];
    let e = ends[end.index()];
    let d = dist[e]?;
    let nearest = ends
        .iter()
        .filter(|&&r| g.nodes[r].router)
        .filter_map(|&r| dist[r])
        .min();
    Some(match nearest {
        None => BTreeSet::from([d]),
        Some(near) if g.nodes[e].router && d == near => {
            BTreeSet::from([near, near + u64::from(link.cost)])
        }
        Some(near) => BTreeSet::from([near + u64::from(link.cost)]),
    })
}

/// Like `no_default_routes`, but allowing /32s to plan-fixed loopbacks
/// outside the lab.
fn no_default_routes_outside(t: &RouteTable, a: &Addressing) {
    for route in t.nodes.iter().flatten() {
        assert!(route.dest.len > 0, "default route {route:?}");
        let fixed_outside = a
            .nodes
            .iter()
            .any(|n| route.dest.addr == IpAddr::V4(n.loopback_v4));
        assert!(
            LAB_V4.contains(route.dest.addr) || LAB_V6.contains(route.dest.addr) || fixed_outside,
            "route outside the lab {route:?}"
        );
    }
}

#[test]
fn a_thousand_node_tree_and_leaf_spine_stay_small() {
    let mut rng = Rng::new(0x5eed_0004);
    let tree = tree(1000, &mut rng);
    // 4 spines, 32 leaves with 30 hosts each: 996 nodes.
    let fabric = leaf_spine(4, 32, 30);
    for (what, g) in [("tree", &tree), ("leaf-spine", &fabric)] {
        let f = Fabric::plan(g).unwrap();
        let t = &f.routes;
        let n = g.nodes.len();
        let routers = g.nodes.iter().filter(|n| n.router).count();
        // Without aggregation every router would hold a route per other
        // node and link and family: about 4n routes each.
        let unaggregated = routers * 2 * (n + g.links.len());
        eprintln!(
            "{what}: {n} nodes, {routers} routers, {} routes ({} next hops), {unaggregated} unaggregated",
            t.installed(),
            t.nexthops()
        );
        for (i, node) in g.nodes.iter().enumerate() {
            if !node.router {
                assert_eq!(t.nodes[i].len(), 2, "{what}: stub host {}", node.name);
            }
        }
        assert!(
            t.installed() * 4 < unaggregated,
            "{what}: {} routes",
            t.installed()
        );
    }
}

#[test]
fn a_host_only_graph_links_hosts_directly() {
    // h0 - h1 - h2: all hosts. h0 is attached to a host, so it is no stub.
    let mut g = Graph::default();
    for i in 0..3 {
        g.nodes.push(GraphNode {
            name: format!("h{i}"),
            router: false,
            loopback_v4: None,
        });
    }
    link(&mut g, 0, 1, 1);
    link(&mut g, 1, 2, 1);
    let (a, t) = plan(&g);
    assert_eq!(hop_links(&t, 0, lo4(&a, 1)), [0]);
    assert!(t.lookup(0, lo4(&a, 2)).is_none());
    // The h1--h2 link: h0 reaches h1's end (h1 is its neighbour), not h2's.
    assert_eq!(hop_links(&t, 0, a.links[1].v4[End::A.index()].into()), [0]);
    assert!(t.lookup(0, a.links[1].v4[End::B.index()].into()).is_none());
}
