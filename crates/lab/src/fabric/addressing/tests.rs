//! Addressing tests: the documented layout, the walk's order, fixed
//! addresses, capacities, and uniqueness on seeded random graphs.

use super::super::shapes::*;
use super::*;

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

#[test]
fn a_line_in_plan_order_gets_the_documented_addresses() {
    // h0 - r1 - r2 - h3: the walk's order is the plan's order.
    let a = allocate(&line(4)).unwrap();
    let lo4: Vec<_> = a.nodes.iter().map(|n| n.loopback_v4).collect();
    assert_eq!(
        lo4,
        [
            v4("198.18.0.1"),
            v4("198.18.0.2"),
            v4("198.18.0.3"),
            v4("198.18.0.4")
        ]
    );
    assert_eq!(a.nodes[3].loopback_v6, v6("2001:2:0:ffff::4"));
    assert_eq!(a.links[0].v4, [v4("198.19.0.0"), v4("198.19.0.1")]);
    assert_eq!(a.links[2].v4, [v4("198.19.0.4"), v4("198.19.0.5")]);
    assert_eq!(a.links[0].v6, [v6("2001:2::a"), v6("2001:2::b")]);
    assert_eq!(a.links[2].v6, [v6("2001:2:0:2::a"), v6("2001:2:0:2::b")]);
    assert_eq!(a.links[2].subnet_v4().to_string(), "198.19.0.4/31");
    assert_eq!(a.links[2].subnet_v6().to_string(), "2001:2:0:2::a/127");
    assert_eq!(a.links[2].block_v6().to_string(), "2001:2:0:2::/64");
}

#[test]
fn numbers_follow_the_depth_first_walk_so_subtrees_are_contiguous() {
    // Plan order lists both children of the root before grandchildren:
    //   root -> x -> x1, root -> y -> y1
    let mut g = Graph::default();
    let root = add(&mut g, "root", true);
    let x = add(&mut g, "x", true);
    let y = add(&mut g, "y", true);
    let x1 = add(&mut g, "x1", false);
    let y1 = add(&mut g, "y1", false);
    let l_rx = link(&mut g, root, x, 1);
    let l_ry = link(&mut g, root, y, 1);
    let l_xx1 = link(&mut g, x, x1, 1);
    let l_yy1 = link(&mut g, y, y1, 1);
    let a = allocate(&g).unwrap();
    let n = |i: usize| a.nodes[i].loopback_v4.octets()[3];
    // root, x, x1, y, y1: x's subtree is 2..=3, y's is 4..=5.
    assert_eq!([n(root), n(x), n(x1), n(y), n(y1)], [1, 2, 3, 4, 5]);
    let k = |l: usize| a.links[l].v4[0].octets()[3] / 2;
    // root numbers both its links, then x's, then y's.
    assert_eq!([k(l_rx), k(l_ry), k(l_xx1), k(l_yy1)], [0, 1, 2, 3]);
}

#[test]
fn addresses_are_unique_in_range_and_link_ends_adjacent() {
    let mut rng = Rng::new(0x5eed_0001);
    for round in 0..300 {
        let g = any(&mut rng);
        let a = allocate(&g).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(a.nodes.len(), g.nodes.len());
        assert_eq!(a.links.len(), g.links.len());
        let mut seen: HashSet<IpAddr> = HashSet::new();
        for n in &a.nodes {
            assert!(LOOPBACKS_V4.contains(n.loopback_v4.into()), "{n:?}");
            assert!(LOOPBACKS_V6.contains(n.loopback_v6.into()), "{n:?}");
            assert!(seen.insert(n.loopback_v4.into()), "round {round}: {n:?}");
            assert!(seen.insert(n.loopback_v6.into()), "round {round}: {n:?}");
        }
        for (i, l) in a.links.iter().enumerate() {
            assert_eq!(l.ends, [g.links[i].a, g.links[i].b]);
            let [lo, hi] = l.v4.map(u32::from);
            assert!(lo % 2 == 0 && hi == lo + 1, "{l:?}");
            let [lo6, hi6] = l.v6.map(u128::from);
            assert!(lo6 % 2 == 0 && hi6 == lo6 + 1, "{l:?}");
            assert!(lo6 & 0xffff_ffff_ffff_ffff != 0, "IID ::0 used: {l:?}");
            assert!(l.subnet_v4().contains(l.v4[1].into()));
            assert!(l.subnet_v6().contains(l.v6[1].into()));
            assert!(l.block_v6().contains(l.v6[0].into()));
            for ip in l.v4 {
                assert!(LINKS_V4.contains(ip.into()) && LAB_V4.contains(ip.into()));
                assert!(seen.insert(ip.into()), "round {round}: {l:?}");
            }
            for ip in l.v6 {
                assert!(LINKS_V6.contains(ip.into()) && LAB_V6.contains(ip.into()));
                assert!(seen.insert(ip.into()), "round {round}: {l:?}");
            }
        }
        let mut prefixes_v4: Vec<Prefix> = Vec::new();
        for (i, l) in a.lans.iter().enumerate() {
            let m = g.lans[i].members.len();
            assert_eq!(l.members, g.lans[i].members);
            assert_eq!((l.v4.len(), l.v6.len()), (m, m));
            // The smallest prefix that holds the members, the network
            // and the broadcast address.
            let size = 1usize << (32 - l.prefix_v4.len);
            assert!(size >= m + 2 && size / 2 < m + 2, "{l:?}");
            assert!(LANS_V4.contains(l.prefix_v4.addr), "{l:?}");
            assert!(LANS_V4.contains(l.broadcast_v4().into()), "{l:?}");
            let net = bits(l.prefix_v4.addr).0 as u32;
            assert_eq!(
                u32::from(l.broadcast_v4()) as usize + 1 - size,
                net as usize
            );
            assert_eq!(l.prefix_v6.len, 64);
            assert!(LANS_V6.contains(l.prefix_v6.addr), "{l:?}");
            for (k, ip) in l.v4.iter().enumerate() {
                assert!(l.prefix_v4.contains((*ip).into()), "{l:?}");
                assert_ne!(*ip, l.broadcast_v4());
                assert_eq!(u32::from(*ip), net + k as u32 + 1);
                assert!(seen.insert((*ip).into()), "round {round}: {l:?}");
            }
            for ip in &l.v6 {
                assert!(l.prefix_v6.contains((*ip).into()), "{l:?}");
                assert!(u128::from(*ip) & 0xffff_ffff_ffff_ffff != 0);
                assert!(!LOOPBACKS_V6.contains((*ip).into()));
                assert!(seen.insert((*ip).into()), "round {round}: {l:?}");
            }
            prefixes_v4.push(l.prefix_v4);
        }
        // LAN subnets never overlap (each holds its network and
        // broadcast addresses, which `seen` does not).
        prefixes_v4.sort();
        for w in prefixes_v4.windows(2) {
            assert!(!w[0].contains(w[1].addr), "round {round}: {w:?}");
        }
    }
}

#[test]
fn the_same_graph_gets_the_same_addresses() {
    let mut rng = Rng::new(7);
    for _ in 0..50 {
        let g = any(&mut rng);
        assert_eq!(allocate(&g), allocate(&g.clone()));
    }
}

#[test]
fn a_fixed_loopback_is_kept_and_never_handed_out_again() {
    let mut g = line(4);
    // r2 fixes the address h0 would get next, and h3 one in the link
    // block, so the walk must skip .0.1 and the /31 198.19.0.2/31.
    g.nodes[2].loopback_v4 = Some(v4("198.18.0.1"));
    g.nodes[3].loopback_v4 = Some(v4("198.19.0.3"));
    let a = allocate(&g).unwrap();
    assert_eq!(a.nodes[0].loopback_v4, v4("198.18.0.2"));
    assert_eq!(a.nodes[1].loopback_v4, v4("198.18.0.3"));
    assert_eq!(a.nodes[2].loopback_v4, v4("198.18.0.1"));
    assert_eq!(a.nodes[3].loopback_v4, v4("198.19.0.3"));
    assert_eq!(a.links[0].v4[0], v4("198.19.0.0"));
    assert_eq!(a.links[1].v4[0], v4("198.19.0.4"));
    assert_eq!(a.links[2].v4[0], v4("198.19.0.6"));
    // The IPv6 side follows the same slots, so the two stay in step.
    assert_eq!(a.links[1].v6[0], v6("2001:2:0:2::a"));
    // Fixed nodes still get an IPv6 loopback.
    assert_eq!(a.nodes[3].loopback_v6, v6("2001:2:0:ffff::4"));
}

#[test]
fn a_fixed_loopback_outside_the_lab_is_kept() {
    let mut g = line(3);
    g.nodes[1].loopback_v4 = Some(v4("10.0.0.1"));
    let a = allocate(&g).unwrap();
    assert_eq!(a.nodes[1].loopback_v4, v4("10.0.0.1"));
    assert_eq!(a.nodes[2].loopback_v4, v4("198.18.0.2"));
}

#[test]
fn two_nodes_fixing_one_address_is_an_error_naming_both() {
    let mut g = line(4);
    g.nodes[1].loopback_v4 = Some(v4("198.18.9.9"));
    g.nodes[3].loopback_v4 = Some(v4("198.18.9.9"));
    let e = allocate(&g).unwrap_err();
    assert_eq!(
        e.to_string(),
        "nodes `r1` and `h3` both have the address `198.18.9.9`\n\
         hint: give one of them another address, or none to let the lab choose"
    );
}

#[test]
fn an_unusable_fixed_address_is_an_error() {
    for bad in ["0.0.0.0", "255.255.255.255", "224.0.0.1"] {
        let mut g = line(2);
        g.nodes[0].loopback_v4 = Some(v4(bad));
        let e = allocate(&g).unwrap_err();
        assert!(
            matches!(e, FabricError::UnusableLoopback { .. }),
            "{bad}: {e}"
        );
    }
}

#[test]
fn more_nodes_than_loopbacks_is_an_error() {
    let mut g = Graph::default();
    for i in 0..=LOOPBACK_CAPACITY {
        add(&mut g, &format!("n{i}"), false);
    }
    let e = allocate(&g).unwrap_err();
    assert_eq!(
        e,
        FabricError::TooManyNodes {
            needed: 65536,
            available: 65535,
            block: LOOPBACKS_V4
        }
    );
    // One node with an address of its own outside the block fits.
    g.nodes[0].loopback_v4 = Some(v4("10.1.2.3"));
    let a = allocate(&g).unwrap();
    assert_eq!(a.nodes[65535].loopback_v4, v4("198.18.255.255"));
}

#[test]
fn more_links_than_subnets_is_an_error() {
    let mut g = line(LINK_CAPACITY as usize + 1);
    assert!(allocate(&g).is_ok(), "exactly full");
    let (a, b) = (0, g.nodes.len() - 1);
    link(&mut g, a, b, 1);
    let e = allocate(&g).unwrap_err();
    assert_eq!(
        e.to_string(),
        "16385 links need a /31, but 198.19.0.0/17 has only 16384 left"
    );
}

#[test]
fn prefixes_contain_only_their_own_family_and_range() {
    assert!(LAB_V4.contains("198.19.255.255".parse().unwrap()));
    assert!(!LAB_V4.contains("198.20.0.0".parse().unwrap()));
    assert!(!LAB_V4.contains("2001:2::1".parse().unwrap()));
    assert!(LAB_V6.contains("2001:2:0:ffff::1".parse().unwrap()));
    assert!(!LAB_V6.contains("2001:2:1::1".parse().unwrap()));
    let all = Prefix::v6(Ipv6Addr::UNSPECIFIED, 0);
    assert!(all.contains("::1".parse().unwrap()));
    assert_eq!(LAB_V6.to_string(), "2001:2::/48");
}

#[test]
fn lan_subnets_follow_the_documented_layout() {
    // r1 - r2; LANs: `office` (3 members, a /29), `big` (8, a /28),
    // `pair` (2, a /30).
    let mut g = Graph::default();
    let r1 = add(&mut g, "r1", true);
    let r2 = add(&mut g, "r2", true);
    let h: Vec<usize> = (0..9)
        .map(|i| add(&mut g, &format!("h{i}"), false))
        .collect();
    link(&mut g, r1, r2, 1);
    let office = lan(&mut g, "office", &[r1, h[0], h[1]], 1);
    let mut big_members = vec![r2];
    big_members.extend(&h[2..9]);
    let big = lan(&mut g, "big", &big_members, 1);
    let pair = lan(&mut g, "pair", &[h[1], h[0]], 1);
    let a = allocate(&g).unwrap();
    // The largest block first, then by size.
    let big = &a.lans[big];
    assert_eq!(big.prefix_v4.to_string(), "198.19.128.0/28");
    assert_eq!(big.prefix_v6.to_string(), "2001:2:0:8000::/64");
    assert_eq!(big.v4[0], v4("198.19.128.1"));
    assert_eq!(big.v4[7], v4("198.19.128.8"));
    assert_eq!(big.broadcast_v4(), v4("198.19.128.15"));
    assert_eq!(big.v6[7], v6("2001:2:0:8000::8"));
    let office = &a.lans[office];
    assert_eq!(office.prefix_v4.to_string(), "198.19.128.16/29");
    assert_eq!(office.prefix_v6.to_string(), "2001:2:0:8001::/64");
    assert_eq!(
        office.v4,
        [
            v4("198.19.128.17"),
            v4("198.19.128.18"),
            v4("198.19.128.19")
        ]
    );
    assert_eq!(office.v6[0], v6("2001:2:0:8001::1"));
    assert_eq!(office.position(h[1]), Some(2));
    assert_eq!(office.position(r2), None);
    let pair = &a.lans[pair];
    assert_eq!(pair.prefix_v4.to_string(), "198.19.128.24/30");
    assert_eq!(pair.v4, [v4("198.19.128.25"), v4("198.19.128.26")]);
    assert_eq!(pair.broadcast_v4(), v4("198.19.128.27"));
    assert_eq!(pair.prefix_v6.to_string(), "2001:2:0:8002::/64");
    // The walk goes from r1 across its link first, to r2 and across
    // `big`, then back across `office`: each LAN's hosts contiguous.
    let n = |i: usize| a.nodes[i].loopback_v4.octets()[3];
    assert_eq!(
        [n(r1), n(r2), n(h[2]), n(h[8]), n(h[0]), n(h[1])],
        [1, 2, 3, 9, 10, 11]
    );
}

#[test]
fn lans_of_one_size_are_laid_out_in_walk_order() {
    // Plan order lists the LANs backwards; the walk meets `near` first.
    let mut g = Graph::default();
    let r = add(&mut g, "r", true);
    let x = add(&mut g, "x", true);
    let y = add(&mut g, "y", true);
    link(&mut g, r, x, 1);
    let far = lan(&mut g, "far", &[x, y], 1);
    let near = lan(&mut g, "near", &[r, x], 1);
    let a = allocate(&g).unwrap();
    assert_eq!(a.lans[near].prefix_v4.to_string(), "198.19.128.0/30");
    assert_eq!(a.lans[far].prefix_v4.to_string(), "198.19.128.4/30");
    assert_eq!(a.lans[far].prefix_v6.to_string(), "2001:2:0:8001::/64");
}

#[test]
fn a_fixed_loopback_in_the_lan_block_costs_the_lan_its_block() {
    let mut g = Graph::default();
    let r = add(&mut g, "r", true);
    let h = add(&mut g, "h", false);
    let k = add(&mut g, "k", false);
    lan(&mut g, "a", &[r, h, k], 1);
    lan(&mut g, "b", &[h, k], 1);
    // In the unused tail of the first /29: the whole /29 is skipped.
    g.nodes[k].loopback_v4 = Some(v4("198.19.128.6"));
    let a = allocate(&g).unwrap();
    assert_eq!(a.lans[0].prefix_v4.to_string(), "198.19.128.8/29");
    assert_eq!(a.lans[1].prefix_v4.to_string(), "198.19.128.16/30");
    // The IPv6 side is not affected by IPv4 skips.
    assert_eq!(a.lans[1].prefix_v6.to_string(), "2001:2:0:8001::/64");
    assert_eq!(a.nodes[k].loopback_v4, v4("198.19.128.6"));
}

#[test]
fn more_lans_than_the_lan_block_holds_is_an_error() {
    let mut g = Graph::default();
    let x = add(&mut g, "x", true);
    let y = add(&mut g, "y", true);
    // 8192 LANs of two fill the /17 exactly.
    for i in 0..8192 {
        lan(&mut g, &format!("l{i}"), &[x, y], 1);
    }
    let a = allocate(&g).unwrap();
    assert_eq!(a.lans[8191].prefix_v4.to_string(), "198.19.255.252/30");
    assert_eq!(a.lans[8191].prefix_v6.to_string(), "2001:2:0:9fff::/64");
    lan(&mut g, "one-more", &[x, y], 1);
    let e = allocate(&g).unwrap_err();
    assert_eq!(
        e.to_string(),
        "8193 LANs need IPv4 subnets of 32772 addresses in all, more than 198.19.128.0/17 has left\n\
         hint: a LAN of n members takes the smallest power of two above n + 1 addresses; use fewer or smaller LANs"
    );
    // A fixed address in the block costs a block: 8192 no longer fit.
    g.lans.pop();
    g.nodes[x].loopback_v4 = Some(v4("198.19.200.1"));
    assert!(matches!(
        allocate(&g),
        Err(FabricError::TooManyLans { lans: 8192, .. })
    ));
}

#[test]
fn one_lan_may_fill_the_block() {
    let mut g = Graph::default();
    let members: Vec<usize> = (0..32766)
        .map(|i| add(&mut g, &format!("n{i}"), false))
        .collect();
    lan(&mut g, "all", &members, 1);
    let a = allocate(&g).unwrap();
    assert_eq!(a.lans[0].prefix_v4, LANS_V4);
    assert_eq!(a.lans[0].v4[32765], v4("198.19.255.254"));
    let m = add(&mut g, "one-more", false);
    g.lans[0].members.push(m);
    let e = allocate(&g).unwrap_err();
    assert!(
        matches!(
            e,
            FabricError::TooManyLans {
                lans: 1,
                needed: 65536,
                ..
            }
        ),
        "{e}"
    );
}
