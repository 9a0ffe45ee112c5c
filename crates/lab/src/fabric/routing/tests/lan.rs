//! Routing across LANs: small topologies with known answers, run through
//! the forwarding simulator of the parent module.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::super::super::shapes::*;
use super::*;

/// Every packet between every two of `nodes` arrives, for each of the
/// destination's addresses that is not on-link at the source; at a
/// loopback, at the shortest distance by the reference (up to one more
/// crossing of its LAN from a stub host on a LAN).
fn all_reach_all(g: &Graph, a: &Addressing, t: &RouteTable, nodes: &[usize]) {
    let net = Network::new(g, a, t);
    for &s in nodes {
        let dist = reference(g, s);
        let slack = lan_stub(g, s).map_or(0, |(c, _)| c);
        for &v in nodes {
            if v == s {
                continue;
            }
            let d = dist[v].unwrap_or_else(|| panic!("{s} cannot reach {v}"));
            for dst in [lo4(a, v), lo6(a, v)] {
                let fates = net.send(s, dst);
                assert!(
                    fates.iter().all(|f| matches!(f,
                        Fate::Delivered { at, cost } if *at == v && (d..=d + slack).contains(cost))),
                    "{} -> {} ({dst}): {fates:?}, shortest {d}",
                    g.nodes[s].name,
                    g.nodes[v].name
                );
            }
            for la in &a.lans {
                if let (Some(k), None) = (la.position(v), la.position(s)) {
                    for dst in [IpAddr::V4(la.v4[k]), IpAddr::V6(la.v6[k])] {
                        assert!(
                            net.send(s, dst)
                                .iter()
                                .all(|f| matches!(f, Fate::Delivered { at, .. } if *at == v)),
                            "{} -> {} ({dst})",
                            g.nodes[s].name,
                            g.nodes[v].name
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn three_routers_on_a_lan_carry_every_hosts_traffic() {
    // h1 - r1, h2 - r2, h3 - r3; r1, r2, r3 on the LAN `core`.
    let mut g = Graph::default();
    let r: Vec<usize> = (1..=3)
        .map(|i| add(&mut g, &format!("r{i}"), true))
        .collect();
    let h: Vec<usize> = (1..=3)
        .map(|i| add(&mut g, &format!("h{i}"), false))
        .collect();
    for i in 0..3 {
        link(&mut g, h[i], r[i], 1);
    }
    let core = lan(&mut g, "core", &r, 1);
    let (a, t) = plan(&g);
    // r1 sends to h2 across the LAN, to r2's address on it.
    assert_eq!(
        hops_to(&t, r[0], lo4(&a, h[1])),
        [NextHop {
            via: a.lans[core].v4[1].into(),
            dev: Dev::Lan(core),
        }]
    );
    assert_eq!(
        hops_to(&t, r[0], lo6(&a, h[2])),
        [NextHop {
            via: a.lans[core].v6[2].into(),
            dev: Dev::Lan(core),
        }]
    );
    // The routers are on the LAN: no route to it. The hosts are stubs.
    for &x in &r {
        assert!(t.lookup(x, a.lans[core].v4[0].into()).is_none());
        assert!(t.lookup(x, a.lans[core].v6[0].into()).is_none());
    }
    for &x in &h {
        assert_eq!(t.nodes[x].len(), 2);
    }
    let mut everyone = r.clone();
    everyone.extend(&h);
    all_reach_all(&g, &a, &t, &everyone);
    // A host reaches another at 1 + 1 + 1.
    assert_eq!(
        Network::new(&g, &a, &t).send(h[0], lo4(&a, h[2])),
        BTreeSet::from([Fate::Delivered { at: h[2], cost: 3 }])
    );
}

#[test]
fn a_host_on_a_lan_with_two_routers_spreads_over_both() {
    //        floor (LAN): desk, r1, r2
    //   r1 - core, r2 - core, core - server
    let mut g = Graph::default();
    let desk = add(&mut g, "desk", false);
    let r1 = add(&mut g, "r1", true);
    let r2 = add(&mut g, "r2", true);
    let core = add(&mut g, "core", true);
    let server = add(&mut g, "server", false);
    let l1 = link(&mut g, r1, core, 1);
    let l2 = link(&mut g, r2, core, 1);
    link(&mut g, core, server, 1);
    let floor = lan(&mut g, "floor", &[desk, r1, r2], 1);
    let (a, t) = plan(&g);
    let f = &a.lans[floor];
    let both = |v6: bool| -> Vec<NextHop> {
        [1, 2]
            .map(|k| NextHop {
                via: if v6 { f.v6[k].into() } else { f.v4[k].into() },
                dev: Dev::Lan(floor),
            })
            .to_vec()
    };
    assert_eq!(
        t.nodes[desk],
        [
            Route {
                dest: LAB_V4,
                nexthops: both(false)
            },
            Route {
                dest: LAB_V6,
                nexthops: both(true)
            },
        ]
    );
    // The core reaches the desk and the LAN over both routers.
    for dst in [lo4(&a, desk), lo6(&a, desk), f.v4[0].into(), f.v6[0].into()] {
        assert_eq!(hop_links(&t, core, dst), [l1, l2], "{dst}");
    }
    let route = t.lookup(core, f.v4[0].into()).unwrap();
    assert_eq!(route.dest, f.prefix_v4);
    all_reach_all(&g, &a, &t, &[desk, r1, r2, core, server]);
    // Either router may take the desk's packet for r1: r2 then crosses
    // the LAN once more, the price of two routes for every stub host.
    assert_eq!(
        Network::new(&g, &a, &t).send(desk, lo4(&a, r1)),
        BTreeSet::from([
            Fate::Delivered { at: r1, cost: 1 },
            Fate::Delivered { at: r1, cost: 2 }
        ])
    );
    assert_eq!(
        Network::new(&g, &a, &t).send(desk, lo4(&a, server)),
        BTreeSet::from([Fate::Delivered {
            at: server,
            cost: 3
        }])
    );
}

#[test]
fn a_lan_of_hosts_only_needs_no_lab_routes() {
    let mut g = Graph::default();
    let h: Vec<usize> = (0..3)
        .map(|i| add(&mut g, &format!("h{i}"), false))
        .collect();
    let l = lan(&mut g, "hosts", &h, 1);
    let (a, t) = plan(&g);
    let la = &a.lans[l];
    for (k, &x) in h.iter().enumerate() {
        // Nothing lab-wide, nothing toward the LAN (it is on-link); only
        // the neighbours' loopbacks, each through its owner's address.
        for route in &t.nodes[x] {
            assert!(route.dest.len == 32 || route.dest.len == 128, "{route:?}");
        }
        assert_eq!(t.nodes[x].len(), 4);
        for (j, &y) in h.iter().enumerate() {
            assert!(t.lookup(x, la.v4[j].into()).is_none());
            assert!(t.lookup(x, la.v6[j].into()).is_none());
            if j != k {
                assert_eq!(
                    hops_to(&t, x, lo4(&a, y)),
                    [NextHop {
                        via: la.v4[j].into(),
                        dev: Dev::Lan(l),
                    }]
                );
            }
        }
    }
    all_reach_all(&g, &a, &t, &h);
}

#[test]
fn crossing_a_lan_never_transits_a_host() {
    // r1 - h (link); h and r2 on a LAN: h does not join r1 to r2.
    let mut g = Graph::default();
    let r1 = add(&mut g, "r1", true);
    let h = add(&mut g, "h", false);
    let r2 = add(&mut g, "r2", true);
    link(&mut g, r1, h, 1);
    lan(&mut g, "l", &[h, r2], 1);
    let (a, t) = plan(&g);
    assert!(t.lookup(r1, lo4(&a, r2)).is_none());
    assert!(t.lookup(r1, a.lans[0].v4[1].into()).is_none());
    // h is on two segments: no stub, routes to each side.
    assert_eq!(hops_to(&t, h, lo4(&a, r2))[0].dev, Dev::Lan(0));
    assert_eq!(hop_links(&t, h, lo4(&a, r1)), [0]);
    // With r1 on the LAN too, the LAN joins the routers directly.
    g.lans[0].members.push(r1);
    let (a, t) = plan(&g);
    assert_eq!(
        hops_to(&t, r1, lo4(&a, r2)),
        [NextHop {
            via: a.lans[0].v4[1].into(),
            dev: Dev::Lan(0),
        }]
    );
}

#[test]
fn a_lan_and_a_link_of_equal_cost_are_two_next_hops() {
    // r0 - r1 - r3 (links), r0, r2 on a LAN of cost 1, r2 - r3 (link).
    let mut g = Graph::default();
    let r: Vec<usize> = (0..4)
        .map(|i| add(&mut g, &format!("r{i}"), true))
        .collect();
    let l01 = link(&mut g, r[0], r[1], 1);
    link(&mut g, r[1], r[3], 1);
    link(&mut g, r[2], r[3], 1);
    let l = lan(&mut g, "l", &[r[2], r[0]], 1);
    let (a, t) = plan(&g);
    assert_eq!(
        hops_to(&t, r[0], lo4(&a, r[3])),
        [
            NextHop {
                via: a.links[l01].v4[1].into(),
                dev: Dev::Link(l01),
            },
            NextHop {
                via: a.lans[l].v4[0].into(),
                dev: Dev::Lan(l),
            },
        ]
    );
    // A dearer LAN drops out.
    g.lans[l].cost = 2;
    let (a, t) = plan(&g);
    assert_eq!(hop_links(&t, r[0], lo4(&a, r[3])), [l01]);
}
