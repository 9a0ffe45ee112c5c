//! Routing tests: small topologies with known answers, and a forwarding
//! simulator that walks every multipath branch hop by hop (across links
//! and LANs) through the computed tables, checked against an independent
//! shortest-path reference on seeded random graphs.

use std::collections::{BTreeSet, HashMap};

use super::super::shapes::*;
use super::super::{End, Fabric, GraphLink, GraphNode, allocate};
use super::*;

mod lan;

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

/// The devices of the next hops `node` uses toward `ip`, as link indexes
/// (a LAN hop as `usize::MAX`, so a test on links notices one).
fn hop_links(r: &RouteTable, node: usize, ip: IpAddr) -> Vec<usize> {
    r.lookup(node, ip)
        .map(|route| {
            route
                .nexthops
                .iter()
                .map(|h| h.link().unwrap_or(usize::MAX))
                .collect()
        })
        .unwrap_or_default()
}

/// The next hops `node` uses toward `ip`.
fn hops_to(r: &RouteTable, node: usize, ip: IpAddr) -> Vec<NextHop> {
    r.lookup(node, ip)
        .map(|route| route.nexthops.clone())
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
                    via: r1_on_a,
                    dev: Dev::Link(l_a),
                }]
            },
            Route {
                dest: LAB_V6,
                nexthops: vec![NextHop {
                    via: r1_on_a6,
                    dev: Dev::Link(l_a),
                }]
            },
        ]
    );
    assert_eq!(r.nodes[b].len(), 2);
    assert_eq!(r.nodes[b][0].dest, LAB_V4);
    assert_eq!(r.nodes[b][0].nexthops[0].link(), Some(l_b));

    // r1 reaches b's loopbacks and the r2--b link through r2.
    let r2_on_mid = IpAddr::V4(ad.links[l_mid].v4[1]);
    let to_b = r.lookup(r1, lo4(&ad, b)).unwrap();
    assert_eq!(
        to_b.nexthops,
        [NextHop {
            via: r2_on_mid,
            dev: Dev::Link(l_mid),
        }]
    );
    // r1 sends everything but a's addresses through r2, so it holds one
    // lab-wide route through r2; r2's would point back at r1 (a loop for
    // addresses nobody has), so r2 keeps its own routes.
    assert_eq!(to_b.dest, LAB_V4, "{to_b:?}");
    assert!(
        r.nodes[r2]
            .iter()
            .all(|x| x.dest != LAB_V4 && x.dest != LAB_V6),
        "{:?}",
        r.nodes[r2]
    );
    assert_eq!(hop_links(&r, r1, lo6(&ad, b)), [l_mid]);
    assert_eq!(hop_links(&r, r1, ad.links[l_b].v4[1].into()), [l_mid]);
    assert_eq!(hop_links(&r, r1, ad.links[l_b].v6[1].into()), [l_mid]);
    // ... and a's through the link to a, but has no route for its own links.
    assert_eq!(hop_links(&r, r1, lo4(&ad, a)), [l_a]);
    // Its own links are connected routes (the kernel's, longer than any
    // route here): the table has nothing more specific for them.
    assert!(
        r.lookup(r1, ad.links[l_mid].v4[1].into())
            .is_none_or(|x| x.dest == LAB_V4)
    );
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
                let l = &g.links[h.link().unwrap()];
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
                via: ad.links[0].v4[1].into(),
                dev: Dev::Link(0),
            },
            NextHop {
                via: ad.links[1].v4[0].into(),
                dev: Dev::Link(1),
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
    let links: Vec<_> = t.nodes[h][0].nexthops.iter().map(|n| n.dev).collect();
    assert_eq!(links, [Dev::Link(1), Dev::Link(2)]);
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
/// route, and returns every branch's fate. A packet sent on a LAN reaches
/// the member that owns the next hop's address.
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
        for l in &a.lans {
            for (i, &m) in l.members.iter().enumerate() {
                owner.insert(IpAddr::V4(l.v4[i]), m);
                owner.insert(IpAddr::V6(l.v6[i]), m);
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
        for &(l, _) in self.adj.lans_of(x) {
            let la = &self.a.lans[l];
            if la.prefix_v4.contains(dst) || la.prefix_v6.contains(dst) {
                // On-link: ARP or neighbour discovery finds the member.
                let Some(&m) = self.owner.get(&dst).filter(|m| la.members.contains(m)) else {
                    panic!("{dst} is on LAN {l} but no member has it");
                };
                let c = cost + u64::from(self.g.lans[l].cost);
                return self.at(s, m, dst, c, hops + 1, out);
            }
        }
        let Some(route) = self.t.lookup(x, dst) else {
            out.insert(Fate::NoRoute { at: x });
            return;
        };
        for hop in &route.nexthops {
            let Some((next, c)) = self.follow(x, hop, dst.is_ipv4()) else {
                out.insert(Fate::BadNextHop { at: x });
                continue;
            };
            self.at(s, next, dst, cost + c, hops + 1, out);
        }
    }

    /// Where `hop` at node `x` leads, and at what cost; `None` if the hop
    /// is not one `x` can use (not its device, a via that is not the
    /// neighbour's address on it, or in the wrong family).
    fn follow(&self, x: usize, hop: &NextHop, v4: bool) -> Option<(usize, u64)> {
        if hop.via.is_ipv4() != v4 {
            return None;
        }
        match hop.dev {
            Dev::Link(l) => {
                let la = &self.a.links[l];
                let peer = la.end_of(x)?.other().index();
                let expected: IpAddr = if v4 {
                    la.v4[peer].into()
                } else {
                    la.v6[peer].into()
                };
                (hop.via == expected).then(|| (la.ends[peer], u64::from(self.g.links[l].cost)))
            }
            Dev::Lan(l) => {
                let la = &self.a.lans[l];
                let mine = la.position(x)?;
                let k = if v4 {
                    la.v4.iter().position(|&a| IpAddr::V4(a) == hop.via)
                } else {
                    la.v6.iter().position(|&a| IpAddr::V6(a) == hop.via)
                }?;
                (k != mine).then(|| (la.members[k], u64::from(self.g.lans[l].cost)))
            }
        }
    }
}

/// Every hop out of `u` in `g`: (device, neighbour, cost), a LAN giving
/// one per other member.
fn segments_of(g: &Graph, u: usize) -> Vec<(Dev, usize, u64)> {
    let mut out = Vec::new();
    for (i, l) in g.links.iter().enumerate() {
        if l.a == u {
            out.push((Dev::Link(i), l.b, u64::from(l.cost)));
        }
        if l.b == u {
            out.push((Dev::Link(i), l.a, u64::from(l.cost)));
        }
    }
    for (i, l) in g.lans.iter().enumerate() {
        if l.members.contains(&u) {
            for &m in l.members.iter().filter(|&&m| m != u) {
                out.push((Dev::Lan(i), m, u64::from(l.cost)));
            }
        }
    }
    out
}

/// Shortest distances from `s` where only routers (and `s`) forward, by
/// Bellman-Ford over every link and every pair of LAN members: a
/// different algorithm from the one under test.
fn reference(g: &Graph, s: usize) -> Vec<Option<u64>> {
    let hops: Vec<_> = (0..g.nodes.len()).map(|u| segments_of(g, u)).collect();
    let mut dist = vec![None; g.nodes.len()];
    dist[s] = Some(0);
    for _ in 0..g.nodes.len() {
        let mut changed = false;
        for (u, out) in hops.iter().enumerate() {
            let Some(du) = dist[u] else { continue };
            if u != s && !g.nodes[u].router {
                continue;
            }
            for &(_, v, c) in out {
                let nd = du + c;
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

/// Every first hop out of `s` (device and neighbour) that starts a
/// shortest path to `v`. `all[w]` is `reference(g, w)`.
fn reference_first_hops(
    g: &Graph,
    s: usize,
    v: usize,
    all: &[Vec<Option<u64>>],
) -> BTreeSet<(Dev, usize)> {
    let mut hops = BTreeSet::new();
    let Some(target) = all[s][v] else { return hops };
    for (dev, w, c) in segments_of(g, s) {
        let rest = if w == v {
            Some(0)
        } else if g.nodes[w].router {
            all[w][v]
        } else {
            None
        };
        if rest.is_some_and(|r| c + r == target) {
            hops.insert((dev, w));
        }
    }
    hops
}

/// The first hops (device and neighbour) of `s`'s route toward `ip`.
fn route_first_hops(net: &Network<'_>, s: usize, ip: IpAddr) -> BTreeSet<(Dev, usize)> {
    hops_to(net.t, s, ip)
        .iter()
        .filter_map(|h| Some((h.dev, net.follow(s, h, ip.is_ipv4())?.0)))
        .collect()
}

/// If `s` is a stub host on a LAN (a host with no link and one LAN that
/// has a router): the LAN's cost and its routers. Its lab-wide routes go
/// through all of them, so a packet may cross the LAN once more than the
/// shortest path does.
fn lan_stub(g: &Graph, s: usize) -> Option<(u64, BTreeSet<(Dev, usize)>)> {
    let on: Vec<usize> = (0..g.lans.len())
        .filter(|&l| g.lans[l].members.contains(&s))
        .collect();
    let linked = g.links.iter().any(|l| l.a == s || l.b == s);
    if g.nodes[s].router || linked || on.len() != 1 {
        return None;
    }
    let l = on[0];
    let routers: BTreeSet<_> = g.lans[l]
        .members
        .iter()
        .filter(|&&m| g.nodes[m].router)
        .map(|&m| (Dev::Lan(l), m))
        .collect();
    (!routers.is_empty()).then(|| (u64::from(g.lans[l].cost), routers))
}

#[test]
fn every_packet_takes_a_shortest_path_through_routers_only() {
    let mut rng = Rng::new(0x5eed_0003);
    for round in 0..150 {
        let mut g = any(&mut rng);
        // Some plan-fixed loopbacks: in the lab, in the link block and in
        // the LAN block (a skipped slot or block), and outside the lab
        // (extra stub routes).
        for (i, n) in g.nodes.iter_mut().enumerate() {
            if rng.chance(8) {
                n.loopback_v4 = Some(match rng.below(4) {
                    0 => Ipv4Addr::new(198, 18, 200, i as u8),
                    1 => Ipv4Addr::new(198, 19, 0, rng.below(8) as u8 * 2 + i as u8 % 2),
                    2 => Ipv4Addr::new(198, 19, 128, rng.below(24) as u8),
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
            let stub = lan_stub(&g, s);
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
                        let link = &g.links[l];
                        let costs = segment_costs(&g, dist, &la.ends, end.index(), link.cost)
                            .filter(|_| la.end_of(s).is_none());
                        targets.push((la.v4[end.index()].into(), costs.clone()));
                        targets.push((la.v6[end.index()].into(), costs));
                    }
                }
                for (l, la) in a.lans.iter().enumerate() {
                    if let Some(k) = la.position(v) {
                        let costs = segment_costs(&g, dist, &la.members, k, g.lans[l].cost)
                            .filter(|_| la.position(s).is_none());
                        targets.push((la.v4[k].into(), costs.clone()));
                        targets.push((la.v6[k].into(), costs));
                    }
                }
                for (dst, costs) in targets {
                    let is_loopback = dst == lo4(&a, v) || dst == lo6(&a, v);
                    let route = t.lookup(s, dst);
                    let lab_wide = route.is_some_and(|r| r.dest == LAB_V4 || r.dest == LAB_V6);
                    let fates = net.send(s, dst);
                    let ctx = || format!("round {round}: {s} -> {v} ({dst}): {fates:?}\n{g:?}");
                    match dist[v] {
                        Some(_) => {
                            for f in &fates {
                                let Fate::Delivered { at, cost } = *f else {
                                    panic!("{}", ctx());
                                };
                                assert_eq!(at, v, "{}", ctx());
                                let Some(costs) = &costs else { continue };
                                match &stub {
                                    // Through any router on the LAN: at
                                    // most one crossing more.
                                    Some((c, _)) if lab_wide => {
                                        let least = *costs.first().unwrap();
                                        assert!(
                                            (least..=costs.last().unwrap() + c).contains(&cost),
                                            "{costs:?} {}",
                                            ctx()
                                        );
                                    }
                                    _ => assert!(costs.contains(&cost), "{costs:?} {}", ctx()),
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
                    // complete, not just correct. (A stub host on a LAN
                    // uses all its routers for the lab-wide prefixes.)
                    if is_loopback && dist[v].is_some() {
                        let got = route_first_hops(&net, s, dst);
                        let want = match &stub {
                            Some((_, routers)) if lab_wide => routers.clone(),
                            _ => reference_first_hops(&g, s, v, &all),
                        };
                        assert_eq!(got, want, "{}", ctx());
                    }
                }
            }
        }
        no_default_routes_outside(&t, &a);
    }
}

/// The costs at which a packet from the node whose distances are `dist`
/// may reach the address of member `at` of the link or LAN whose members
/// are `members` and whose cost is `cost`: the segment is reached at its
/// nearest router member(s), and crossed if that is not the member at
/// `at`; a segment without a router member is reached at each member like
/// a node.
fn segment_costs(
    g: &Graph,
    dist: &[Option<u64>],
    members: &[usize],
    at: usize,
    cost: u32,
) -> Option<BTreeSet<u64>> {
    let e = members[at];
    let d = dist[e]?;
    let nearest = members
        .iter()
        .filter(|&&r| g.nodes[r].router)
        .filter_map(|&r| dist[r])
        .min();
    Some(match nearest {
        None => BTreeSet::from([d]),
        Some(near) if g.nodes[e].router && d == near => {
            BTreeSet::from([near, near + u64::from(cost)])
        }
        Some(near) => BTreeSet::from([near + u64::from(cost)]),
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
fn a_thousand_node_tree_leaf_spine_and_campus_stay_small() {
    let mut rng = Rng::new(0x5eed_0004);
    let tree = tree(1000, &mut rng);
    // 4 spines, 32 leaves with 30 hosts each: 996 nodes.
    let fabric = leaf_spine(4, 32, 30);
    // 2 cores, 32 floors with a LAN of 30 desks each: 994 nodes.
    let campus = campus(2, 32, 30);
    for (what, g) in [
        ("tree", &tree),
        ("leaf-spine", &fabric),
        ("campus", &campus),
    ] {
        let f = Fabric::plan(g).unwrap();
        let t = &f.routes;
        let n = g.nodes.len();
        let routers = g.nodes.iter().filter(|n| n.router).count();
        // Without aggregation every router would hold a route per other
        // node, link and LAN and family: about 4n routes each.
        let unaggregated = routers * 2 * (n + g.links.len() + g.lans.len());
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
            static_routes: true,
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

#[test]
fn addresses_nobody_has_never_loop_between_lab_wide_routes() {
    // Routers' lab-wide routes carry every address the lab has not given
    // out too: on every graph, from every node, such a packet ends in "no
    // route" at some router, never in a loop and never through a host.
    let mut rng = Rng::new(0x5eed_0005);
    let mut graphs: Vec<Graph> = (0..150).map(|_| any(&mut rng)).collect();
    graphs.push(tree(300, &mut rng));
    graphs.push(leaf_spine(4, 8, 5));
    graphs.push(campus(2, 4, 5));
    let unassigned: [IpAddr; 5] = [
        "198.18.255.250".parse().unwrap(),
        "198.19.127.250".parse().unwrap(),
        "198.19.255.250".parse().unwrap(),
        "2001:2:0:ffff::fffe".parse().unwrap(),
        "2001:2:0:3ffe::1".parse().unwrap(),
    ];
    let mut lab_wide = 0;
    for g in &graphs {
        let (a, t) = plan(g);
        lab_wide += t
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, r)| g.nodes[*i].router && r.iter().any(|x| x.dest == LAB_V4))
            .count();
        let net = Network::new(g, &a, &t);
        for s in 0..g.nodes.len() {
            for &dst in &unassigned {
                for fate in net.send(s, dst) {
                    assert!(
                        matches!(fate, Fate::NoRoute { .. }),
                        "{dst} from {}: {fate:?}",
                        g.nodes[s].name
                    );
                }
            }
        }
    }
    assert!(lab_wide > 100, "lab-wide routes were tried: {lab_wide}");
}

#[test]
fn a_leaf_switch_holds_its_rack_and_one_route_up() {
    // 4 spines, 8 leaves of 5 hosts: a leaf reaches the other racks through
    // all four spines, so one lab-wide route per family does it.
    let g = leaf_spine(4, 8, 5);
    let (a, t) = plan(&g);
    for (i, n) in g.nodes.iter().enumerate() {
        if n.name.starts_with("leaf") {
            let up: Vec<&Route> = t.nodes[i].iter().filter(|r| r.dest == LAB_V4).collect();
            assert_eq!(up.len(), 1, "{}: {:?}", n.name, t.nodes[i]);
            assert_eq!(up[0].nexthops.len(), 4, "through every spine");
            // No route per rack: every other leaf and host is reached by
            // the lab-wide route.
            for (v, m) in g.nodes.iter().enumerate() {
                let other = (m.name.starts_with("leaf") || m.name.starts_with("host"))
                    && v != i
                    && !t.nodes[i].is_empty();
                if other
                    && !g
                        .links
                        .iter()
                        .any(|l| (l.a, l.b) == (i, v) || (l.a, l.b) == (v, i))
                {
                    let r4 = t.lookup(i, lo4(&a, v)).unwrap();
                    let r6 = t.lookup(i, lo6(&a, v)).unwrap();
                    assert_eq!(
                        (r4.dest, r6.dest),
                        (LAB_V4, LAB_V6),
                        "{} to {}",
                        n.name,
                        m.name
                    );
                }
            }
        }
    }
}

/// Route ownership: a node whose routes a routing daemon owns gets none
/// from the fabric, while every other node keeps its own and still routes
/// to the daemon's node, and through it, as before.
#[test]
fn a_daemon_owned_node_gets_no_static_routes_and_others_keep_theirs() {
    // h0 - r1 - r2 - r3 - h4, with r2's routes owned by a daemon.
    let mut g = line(5);
    let (_, all_static) = plan(&g);
    g.nodes[2].static_routes = false;
    let (a, r) = plan(&g);
    assert!(r.nodes[2].is_empty(), "r2 got {:?}", r.nodes[2]);
    assert!(
        !all_static.nodes[2].is_empty(),
        "r2 needs routes when static"
    );
    for v in [0, 1, 3, 4] {
        assert_eq!(r.nodes[v], all_static.nodes[v], "node {v}'s routes changed");
    }
    // r1 reaches the daemon's node and h4 behind it over link 1 (r1--r2).
    assert_eq!(hop_links(&r, 1, lo4(&a, 2)), vec![1]);
    assert_eq!(hop_links(&r, 1, lo6(&a, 4)), vec![1]);
    assert_eq!(hop_links(&r, 3, lo4(&a, 0)), vec![2]);
}
