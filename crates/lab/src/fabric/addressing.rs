//! Addresses for every node and link of a lab, from the benchmarking ranges
//! IPv4 198.18.0.0/15 (RFC 2544) and IPv6 2001:2::/48 (RFC 5180).
//!
//! # Layout
//!
//! | What | IPv4 | IPv6 |
//! |------|------|------|
//! | whole lab | `198.18.0.0/15` | `2001:2::/48` |
//! | node loopbacks | `198.18.0.1` … `198.18.255.255`, a /32 each | `2001:2:0:ffff::1`, `::2`, … (hex), a /128 each |
//! | link *k* | `198.19.0.0/16` + 2*k*, a /31 | the /64 `2001:2:0:`*k*`::/64` (hex), configured as the /127 `2001:2:0:`*k*`::a/127` |
//! | end `a` of link *k* | `198.19.0.0` + 2*k* (the lower address) | `2001:2:0:`*k*`::a` |
//! | end `b` of link *k* | `198.19.0.0` + 2*k* + 1 | `2001:2:0:`*k*`::b` |
//!
//! Numbers are handed out in a **depth-first walk** of the topology, not in
//! plan order: start at the first node of the plan; on reaching a node,
//! give it the next loopback number, give each of its links that has no
//! number yet the next link number (in plan order), then walk on into each
//! neighbour not yet reached, in the order of those links; when the walk
//! runs out, start again at the first node not yet reached (a topology in
//! several parts). The *n*-th node reached (counting from 1) gets
//! `2001:2:0:ffff::`*n* (hex) and, unless its plan fixes one, the next
//! free IPv4 loopback from `198.18.0.1` up, so `198.18.0.0` + *n* when no
//! node fixes its address; the *k*-th link numbered (from 0) gets the next
//! free slot, *k* when no fixed address lies in `198.19.0.0/16`.
//!
//! For example, `a - r1 - r2 - b` written in that order (nodes `a`, `r1`,
//! `r2`, `b`; links `a--r1`, `r1--r2`, `r2--b`):
//!
//! | | IPv4 | IPv6 |
//! |-|------|------|
//! | `a`, `r1`, `r2`, `b` loopbacks | `198.18.0.1` … `198.18.0.4` | `2001:2:0:ffff::1` … `::4` |
//! | `a--r1` (`a`, `r1`) | `198.19.0.0/31` (`.0`, `.1`) | `2001:2::a/127` (`::a`, `::b`) |
//! | `r1--r2` | `198.19.0.2/31` | `2001:2:0:1::a/127` |
//! | `r2--b` | `198.19.0.4/31` | `2001:2:0:2::a/127` |
//!
//! Why not plan order: the walk gives every subtree of a tree, and every
//! leaf switch with the hosts under it, a contiguous run of numbers, and
//! contiguous runs aggregate into a few prefixes in the routing tables of
//! the nodes that reach them through one next hop (see the routing module).
//! In plan order a tree's routes grow with the square of its size. For a
//! line written from one end to the other, and for most trees written top
//! down, the walk's order is the plan's order anyway.
//!
//! A node whose plan fixes its IPv4 loopback keeps it (it may lie anywhere,
//! also outside the lab's ranges), does not use up a number, and no other
//! node or link gets that address: the walk skips a loopback number equal
//! to it and a link slot whose /31 holds it. Its IPv6 loopback is still
//! allocated. Two nodes fixing the same address is an error naming both.
//!
//! Why these shapes:
//! - /31 and /127 for point-to-point links (RFC 3021, RFC 6164): no
//!   network or broadcast address is wasted and each end knows the other's.
//! - Each link owns a whole /64 as RFC 6164 recommends, and uses `::a` and
//!   `::b` in it, never `::0`: RFC 6164 §5.1 says an interface identifier of
//!   all zeros should not be assigned, since it is the Subnet-Router anycast
//!   address. Routes to a link subnet name its /64, so neighbouring links'
//!   /64s aggregate like the IPv4 /31s do.
//! - Loopbacks and links in separate blocks keep each block contiguous for
//!   aggregation, and let a person tell a node from a link by its address.
//!
//! Capacity: 65 535 IPv4 loopbacks and 32 768 links (the IPv6 side holds
//! more of each); beyond that [`allocate`] returns a [`FabricError`].
//! The same graph always gets the same addresses.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Adjacency, End, FabricError, Graph, validate};

/// An IP prefix: an address and a prefix length.
///
/// The fabric only makes prefixes whose host bits are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    /// The first address of the prefix.
    pub addr: IpAddr,
    /// The prefix length: 0 to 32 for IPv4, 0 to 128 for IPv6.
    pub len: u8,
}

impl Prefix {
    /// An IPv4 prefix.
    pub const fn v4(addr: Ipv4Addr, len: u8) -> Prefix {
        Prefix {
            addr: IpAddr::V4(addr),
            len,
        }
    }

    /// An IPv6 prefix.
    pub const fn v6(addr: Ipv6Addr, len: u8) -> Prefix {
        Prefix {
            addr: IpAddr::V6(addr),
            len,
        }
    }

    /// Whether `ip` lies in this prefix (never across address families).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (net, width) = bits(self.addr);
        let (ip, ip_width) = bits(ip);
        if width != ip_width {
            return false;
        }
        let len = u32::from(self.len).min(width);
        let host_bits = width - len;
        // A shift by the full 128 bits would overflow: a /0 matches all.
        host_bits == 128 || (net >> host_bits) == (ip >> host_bits)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// An address as a number, and the family's width in bits.
pub(super) fn bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

/// The whole lab, IPv4: every lab address lies in it.
pub const LAB_V4: Prefix = Prefix::v4(Ipv4Addr::new(198, 18, 0, 0), 15);
/// The whole lab, IPv6: every lab address lies in it.
pub const LAB_V6: Prefix = Prefix::v6(LAB_V6_BASE, 48);
/// Where node loopbacks come from, IPv4.
pub const LOOPBACKS_V4: Prefix = Prefix::v4(LOOPBACK_V4_BASE, 16);
/// Where link subnets come from, IPv4.
pub const LINKS_V4: Prefix = Prefix::v4(LINK_V4_BASE, 16);
/// Where node loopbacks come from, IPv6.
pub const LOOPBACKS_V6: Prefix = Prefix::v6(LOOPBACK_V6_BASE, 64);

const LOOPBACK_V4_BASE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);
const LINK_V4_BASE: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 0);
const LOOPBACK_V6_BASE: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0xffff, 0, 0, 0, 0);
/// The lab's IPv6 /48; link *k*'s /64 is this with *k* as the fourth group.
const LAB_V6_BASE: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0);

/// How many loopbacks [`LOOPBACKS_V4`] holds: `.0.1` to `.255.255`.
const LOOPBACK_CAPACITY: u32 = 0xffff;
/// How many /31s [`LINKS_V4`] holds.
const LINK_CAPACITY: u32 = 0x8000;

/// A node's loopback addresses (on `lo`, as /32 and /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeAddresses {
    /// The IPv4 loopback.
    pub loopback_v4: Ipv4Addr,
    /// The IPv6 loopback.
    pub loopback_v6: Ipv6Addr,
}

/// A point-to-point link's addresses. Index 0 is end `a`, 1 is end `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkAddresses {
    /// The nodes at ends `a` and `b` (indices into the graph's nodes).
    pub ends: [usize; 2],
    /// The two ends' IPv4 addresses, one /31; `a`'s is the lower.
    pub v4: [Ipv4Addr; 2],
    /// The two ends' IPv6 addresses, one /127; `a`'s is the lower.
    pub v6: [Ipv6Addr; 2],
}

impl LinkAddresses {
    /// The link's IPv4 subnet, a /31 (what each end is configured with).
    pub fn subnet_v4(&self) -> Prefix {
        Prefix::v4(self.v4[0], 31)
    }

    /// The link's IPv6 subnet, a /127 (what each end is configured with).
    pub fn subnet_v6(&self) -> Prefix {
        Prefix::v6(self.v6[0], 127)
    }

    /// The /64 reserved for the link, of which [`Self::subnet_v6`] is a
    /// part; routes to the link name this.
    pub fn block_v6(&self) -> Prefix {
        let net = u128::from(self.v6[0]) & !((1u128 << 64) - 1);
        Prefix::v6(Ipv6Addr::from(net), 64)
    }

    /// The end at which `node` sits, if it is on this link.
    pub fn end_of(&self, node: usize) -> Option<End> {
        if self.ends[0] == node {
            Some(End::A)
        } else if self.ends[1] == node {
            Some(End::B)
        } else {
            None
        }
    }
}

/// Every node's and every link's addresses, indexed like the graph.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addressing {
    /// Per node, in plan order.
    pub nodes: Vec<NodeAddresses>,
    /// Per link, in plan order.
    pub links: Vec<LinkAddresses>,
}

impl Addressing {
    /// Refuses an addressing made for another graph, so routing never
    /// indexes past the end of one or the other.
    pub(super) fn check_matches(&self, g: &Graph) -> Result<(), FabricError> {
        let same = self.nodes.len() == g.nodes.len()
            && self.links.len() == g.links.len()
            && self
                .links
                .iter()
                .zip(&g.links)
                .all(|(a, l)| a.ends == [l.a, l.b]);
        if same {
            Ok(())
        } else {
            Err(FabricError::AddressingMismatch {
                addr_nodes: self.nodes.len(),
                addr_links: self.links.len(),
                nodes: g.nodes.len(),
                links: g.links.len(),
            })
        }
    }
}

/// Allocates every node's loopbacks and every link's subnets for `g`, as
/// the [module documentation](self) lays out.
pub fn allocate(g: &Graph) -> Result<Addressing, FabricError> {
    validate(g)?;

    // Plan-fixed loopbacks first: they are taken before anything is handed
    // out, whatever their place in the walk.
    let mut fixed: HashMap<Ipv4Addr, usize> = HashMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        let Some(addr) = n.loopback_v4 else { continue };
        if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() {
            return Err(FabricError::UnusableLoopback {
                node: n.name.clone(),
                addr,
            });
        }
        if let Some(&first) = fixed.get(&addr) {
            return Err(FabricError::DuplicateLoopback {
                first: g.nodes[first].name.clone(),
                second: n.name.clone(),
                addr,
            });
        }
        fixed.insert(addr, i);
    }

    // Check capacity before handing anything out, so the loops below
    // cannot run past the end of a block.
    let loopback_base = u32::from(LOOPBACK_V4_BASE);
    let link_base = u32::from(LINK_V4_BASE);
    let needed = g.nodes.iter().filter(|n| n.loopback_v4.is_none()).count();
    let taken = fixed
        .keys()
        .filter(|a| {
            let off = u32::from(**a).wrapping_sub(loopback_base);
            (1..=LOOPBACK_CAPACITY).contains(&off)
        })
        .count();
    let available = LOOPBACK_CAPACITY as usize - taken;
    if needed > available {
        return Err(FabricError::TooManyNodes {
            needed,
            available,
            block: LOOPBACKS_V4,
        });
    }
    let blocked_slots: HashSet<u32> = fixed
        .keys()
        .map(|a| u32::from(*a).wrapping_sub(link_base) / 2)
        .filter(|slot| *slot < LINK_CAPACITY)
        .collect();
    let available = (LINK_CAPACITY as usize) - blocked_slots.len();
    if g.links.len() > available {
        return Err(FabricError::TooManyLinks {
            needed: g.links.len(),
            available,
            block: LINKS_V4,
        });
    }

    let (node_order, link_order) = walk(g);

    let mut nodes = vec![
        NodeAddresses {
            loopback_v4: Ipv4Addr::UNSPECIFIED,
            loopback_v6: Ipv6Addr::UNSPECIFIED,
        };
        g.nodes.len()
    ];
    let v6_loopback_base = u128::from(LOOPBACK_V6_BASE);
    let mut next: u32 = 1;
    for (position, &i) in node_order.iter().enumerate() {
        let loopback_v4 = match g.nodes[i].loopback_v4 {
            Some(a) => a,
            None => loop {
                // Cannot pass the block's end: capacity was checked above.
                let a = Ipv4Addr::from(loopback_base + next);
                next += 1;
                if !fixed.contains_key(&a) {
                    break a;
                }
            },
        };
        nodes[i] = NodeAddresses {
            loopback_v4,
            loopback_v6: Ipv6Addr::from(v6_loopback_base + position as u128 + 1),
        };
    }

    let mut links = vec![
        LinkAddresses {
            ends: [0, 0],
            v4: [Ipv4Addr::UNSPECIFIED; 2],
            v6: [Ipv6Addr::UNSPECIFIED; 2],
        };
        g.links.len()
    ];
    let v6_lab_base = u128::from(LAB_V6_BASE);
    let mut slot: u32 = 0;
    for &l in &link_order {
        while blocked_slots.contains(&slot) {
            slot += 1;
        }
        let v4 = link_base + 2 * slot;
        // The slot is the fourth group of the address: 2001:2:0:<slot>::.
        let v6 = v6_lab_base | (u128::from(slot) << 64);
        links[l] = LinkAddresses {
            ends: [g.links[l].a, g.links[l].b],
            v4: [Ipv4Addr::from(v4), Ipv4Addr::from(v4 + 1)],
            v6: [Ipv6Addr::from(v6 | 0xa), Ipv6Addr::from(v6 | 0xb)],
        };
        slot += 1;
    }

    Ok(Addressing { nodes, links })
}

/// The depth-first walk that numbers nodes and links: the order in which
/// nodes are reached, and the order in which links are numbered.
///
/// Iterative, with an explicit stack: a line of 65 000 nodes would overflow
/// the thread's stack if this recursed.
fn walk(g: &Graph) -> (Vec<usize>, Vec<usize>) {
    let adj = Adjacency::new(g);
    let mut reached = vec![false; g.nodes.len()];
    let mut numbered = vec![false; g.links.len()];
    let mut nodes = Vec::with_capacity(g.nodes.len());
    let mut links = Vec::with_capacity(g.links.len());
    // (node, how many of its link ends have been looked at)
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..g.nodes.len() {
        if reached[root] {
            continue;
        }
        stack.push((root, 0));
        let mut arrived = Some(root);
        while let Some(top) = stack.last_mut() {
            if let Some(u) = arrived.take() {
                reached[u] = true;
                nodes.push(u);
                for &(l, _, _) in adj.of(u) {
                    if !numbered[l] {
                        numbered[l] = true;
                        links.push(l);
                    }
                }
            }
            let (u, seen) = *top;
            let Some(&(_, _, v)) = adj.of(u).get(seen) else {
                stack.pop();
                continue;
            };
            top.1 += 1;
            if !reached[v] {
                stack.push((v, 0));
                arrived = Some(v);
            }
        }
    }
    (nodes, links)
}

#[cfg(test)]
mod tests {
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
                    assert!(LAB_V6.contains(ip.into()) && !LOOPBACKS_V6.contains(ip.into()));
                    assert!(seen.insert(ip.into()), "round {round}: {l:?}");
                }
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
            "32769 links need a /31, but 198.19.0.0/16 has only 32768 left"
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
}
