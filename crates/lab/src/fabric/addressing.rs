//! Addresses for every node, link and LAN of a lab, from the benchmarking
//! ranges IPv4 198.18.0.0/15 (RFC 2544) and IPv6 2001:2::/48 (RFC 5180).
//!
//! # Layout
//!
//! | What | IPv4 | IPv6 |
//! |------|------|------|
//! | whole lab | `198.18.0.0/15` | `2001:2::/48` |
//! | node loopbacks | `198.18.0.1` … `198.18.255.255`, a /32 each | `2001:2:0:ffff::1`, `::2`, … (hex), a /128 each |
//! | links | `198.19.0.0/17` | `2001:2:0:0::/64` … `2001:2:0:3fff::/64` (within `2001:2::/50`) |
//! | link *k* | `198.19.0.0` + 2*k*, a /31 | the /64 `2001:2:0:`*k*`::/64` (hex), configured as the /127 `2001:2:0:`*k*`::a/127` |
//! | end `a` of link *k* | `198.19.0.0` + 2*k* (the lower address) | `2001:2:0:`*k*`::a` |
//! | end `b` of link *k* | `198.19.0.0` + 2*k* + 1 | `2001:2:0:`*k*`::b` |
//! | LANs | `198.19.128.0/17` | `2001:2:0:8000::/64` … `2001:2:0:bfff::/64` (`2001:2:0:8000::/50`) |
//! | LAN subnet *j* | the *j*-th block of `198.19.128.0/17` (below), the smallest prefix holding the members plus network and broadcast addresses | `2001:2:0:`(8000 + *j*)`::/64` (hex) |
//! | member *i* of LAN subnet *j* | the block's first address + *i* + 1 | `2001:2:0:`(8000 + *j*)`::`(*i* + 1) (hex) |
//!
//! Numbers are handed out in a **depth-first walk** of the topology, not in
//! plan order: start at the first node of the plan; on reaching a node,
//! give it the next loopback number, give each of its links that has no
//! number yet the next link number (in plan order) and each of its LANs
//! that has none the next LAN number (in plan order), then walk on: into
//! each neighbour across its links not yet reached, in the order of those
//! links, then across each of its LANs the walk has not yet crossed, in
//! plan order, into each member not yet reached, in member order. When the
//! walk runs out, start again at the first node not yet reached (a topology
//! in several parts). The *n*-th node reached (counting from 1) gets
//! `2001:2:0:ffff::`*n* (hex) and, unless its plan fixes one, the next
//! free IPv4 loopback from `198.18.0.1` up, so `198.18.0.0` + *n* when no
//! node fixes its address; the *k*-th link numbered (from 0) gets the next
//! free slot, *k* when no fixed address lies in `198.19.0.0/17`.
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
//! leaf switch with the hosts under it (on links or on a LAN), a contiguous
//! run of numbers, and contiguous runs aggregate into a few prefixes in the
//! routing tables of the nodes that reach them through one next hop (see
//! the routing module). In plan order a tree's routes grow with the square
//! of its size. For a line written from one end to the other, and for most
//! trees written top down, the walk's order is the plan's order anyway.
//!
//! # LAN subnets
//!
//! A LAN of *m* members gets an IPv4 block of the smallest power of two
//! that holds *m* + 2 addresses (its members, the network address and the
//! broadcast address): a /30 for 2 members, a /29 for 3 to 6, a /28 for 7
//! to 14, and so on. Member *i* (its place in the plan's member list, from
//! 0) gets the block's address *i* + 1; the addresses after the last
//! member's, up to the broadcast address, stay unused. The blocks are laid
//! out from `198.19.128.0` up, one right after the other, the largest
//! first and, among blocks of one size, in the order of the LANs' walk
//! numbers. Laying them out largest first keeps every block aligned to its
//! size with no gap between blocks (each offset is a sum of sizes no
//! smaller than the next block's), so the pool is used to the last address.
//! The *j*-th block laid out (from 0) is LAN subnet *j*, and its IPv6
//! subnet is the /64 `2001:2:0:`(8000 + *j*)`::/64`: both families list
//! the LANs in the same order. Member *i* gets the interface identifier
//! *i* + 1, never `::0` (the Subnet-Router anycast address). For example
//! the first LAN of three members in a lab gets `198.19.128.0/29`
//! (members `.1`, `.2`, `.3`) and `2001:2:0:8000::/64` (`::1`, `::2`,
//! `::3`).
//!
//! A node whose plan fixes its IPv4 loopback keeps it (it may lie anywhere,
//! also outside the lab's ranges), does not use up a number, and no other
//! node, link or LAN gets that address: the walk skips a loopback number
//! equal to it, a link slot whose /31 holds it, and a LAN block that holds
//! it (the next LAN takes the block after it). Its IPv6 loopback is still
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
//! - A LAN is a broadcast domain, so its IPv4 subnet keeps the network and
//!   broadcast addresses every host stack expects there, and its IPv6
//!   subnet is the /64 that every host on a LAN expects.
//! - Loopbacks, links and LANs in separate blocks keep each block
//!   contiguous for aggregation, and let a person tell a node from a link
//!   from a LAN by its address. The LAN block is a fixed half of
//!   `198.19.0.0/16`, rather than carved from its top as needed, so that an
//!   address says which it is without knowing the lab.
//!
//! Capacity: 65 535 IPv4 loopbacks, 16 384 links, and LANs whose IPv4
//! blocks add up to 32 768 addresses (8 192 LANs of two members, 4 096 of
//! up to six, or one of up to 32 766 members). The IPv6 side holds more of
//! each (16 384 LAN /64s; every LAN block takes at least four IPv4
//! addresses, so IPv4 runs out first). Beyond that [`allocate`] returns a
//! [`FabricError`]. The same graph always gets the same addresses.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

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

    /// The prefix as an [`IpNet`], for its arithmetic. A length beyond
    /// the family's width (which the fabric never makes) counts as the
    /// full width.
    pub fn net(&self) -> IpNet {
        match self.addr {
            IpAddr::V4(a) => IpNet::V4(Ipv4Net::new_assert(a, self.len.min(32))),
            IpAddr::V6(a) => IpNet::V6(Ipv6Net::new_assert(a, self.len.min(128))),
        }
    }

    /// Whether `ip` lies in this prefix (never across address families).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.net().contains(&ip)
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
pub const LINKS_V4: Prefix = Prefix::v4(LINK_V4_BASE, 17);
/// Where LAN subnets come from, IPv4.
pub const LANS_V4: Prefix = Prefix::v4(LAN_V4_BASE, 17);
/// Where node loopbacks come from, IPv6.
pub const LOOPBACKS_V6: Prefix = Prefix::v6(LOOPBACK_V6_BASE, 64);
/// Where link /64s come from, IPv6.
pub const LINKS_V6: Prefix = Prefix::v6(LAB_V6_BASE, 50);
/// Where LAN /64s come from, IPv6.
pub const LANS_V6: Prefix = Prefix::v6(LAN_V6_BASE, 50);

const LOOPBACK_V4_BASE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);
const LINK_V4_BASE: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 0);
const LAN_V4_BASE: Ipv4Addr = Ipv4Addr::new(198, 19, 128, 0);
const LOOPBACK_V6_BASE: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0xffff, 0, 0, 0, 0);
/// The lab's IPv6 /48; link *k*'s /64 is this with *k* as the fourth group.
const LAB_V6_BASE: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0);
/// LAN subnet *j*'s /64 is this with 0x8000 + *j* as the fourth group.
const LAN_V6_BASE: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0x8000, 0, 0, 0, 0);

/// How many loopbacks [`LOOPBACKS_V4`] holds: `.0.1` to `.255.255`.
const LOOPBACK_CAPACITY: u32 = 0xffff;
/// How many /31s [`LINKS_V4`] holds; also how many /64s [`LINKS_V6`] holds.
const LINK_CAPACITY: u32 = 0x4000;
/// How many addresses [`LANS_V4`] holds. Every LAN block has at least 4,
/// so at most 0x2000 LANs fit, fewer than the 0x4000 /64s of [`LANS_V6`].
const LAN_CAPACITY: u64 = 0x8000;

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
        Prefix::v6(Ipv6Net::new_assert(self.v6[0], 64).network(), 64)
    }

    /// Each end's IPv4 and IPv6 address, end `a` first.
    pub fn end_addresses(&self) -> [[IpAddr; 2]; 2] {
        [0, 1].map(|e| [IpAddr::V4(self.v4[e]), IpAddr::V6(self.v6[e])])
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

/// A LAN's addresses. Index *k* of each list is member *k*'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanAddresses {
    /// The members (indices into the graph's nodes), as the graph lists
    /// them.
    pub members: Vec<usize>,
    /// Each member's IPv4 address, in [`Self::prefix_v4`].
    pub v4: Vec<Ipv4Addr>,
    /// Each member's IPv6 address, in [`Self::prefix_v6`].
    pub v6: Vec<Ipv6Addr>,
    /// The LAN's IPv4 subnet: what each member is configured with, and
    /// what routes to the LAN name. Its first address is the network
    /// address and its last the broadcast address; neither is a member's.
    pub prefix_v4: Prefix,
    /// The LAN's IPv6 subnet, a /64: what each member is configured with,
    /// and what routes to the LAN name.
    pub prefix_v6: Prefix,
}

impl LanAddresses {
    /// The place of `node` in [`Self::members`], if it is on this LAN.
    /// Linear in the LAN's size.
    pub fn position(&self, node: usize) -> Option<usize> {
        self.members.iter().position(|&m| m == node)
    }

    /// The LAN's IPv4 broadcast address: the last of [`Self::prefix_v4`].
    pub fn broadcast_v4(&self) -> Ipv4Addr {
        match self.prefix_v4.net() {
            IpNet::V4(net) => net.broadcast(),
            IpNet::V6(_) => Ipv4Addr::BROADCAST,
        }
    }
}

/// Every node's, link's and LAN's addresses, indexed like the graph.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addressing {
    /// Per node, in plan order.
    pub nodes: Vec<NodeAddresses>,
    /// Per link, in plan order.
    pub links: Vec<LinkAddresses>,
    /// Per LAN, in plan order.
    pub lans: Vec<LanAddresses>,
}

impl Addressing {
    /// Refuses an addressing made for another graph, so routing never
    /// indexes past the end of one or the other.
    pub(super) fn check_matches(&self, g: &Graph) -> Result<(), FabricError> {
        let same = self.nodes.len() == g.nodes.len()
            && self.links.len() == g.links.len()
            && self.lans.len() == g.lans.len()
            && self
                .links
                .iter()
                .zip(&g.links)
                .all(|(a, l)| a.ends == [l.a, l.b])
            && self.lans.iter().zip(&g.lans).all(|(a, l)| {
                a.members == l.members
                    && a.v4.len() == l.members.len()
                    && a.v6.len() == l.members.len()
            });
        if same {
            Ok(())
        } else {
            Err(FabricError::AddressingMismatch {
                addr_nodes: self.nodes.len(),
                addr_links: self.links.len(),
                addr_lans: self.lans.len(),
                nodes: g.nodes.len(),
                links: g.links.len(),
                lans: g.lans.len(),
            })
        }
    }
}

/// Allocates every node's loopbacks and every link's and LAN's subnets for
/// `g`, as the [module documentation](self) lays out.
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

    // The LANs' blocks, placed before anything is handed out for the same
    // reason; they depend on nothing but the LANs' sizes, their walk order
    // and the fixed addresses.
    let order = walk(g);
    let lan_blocks = place_lans(g, &order.lans, &fixed)?;
    let (node_order, link_order) = (order.nodes, order.links);

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

    let lans = g
        .lans
        .iter()
        .zip(lan_blocks)
        .map(|(l, (offset, size, j))| {
            let net = u32::from(LAN_V4_BASE) + offset;
            // Member i is address i + 1: after the network address.
            let v4 = (1..=l.members.len() as u32)
                .map(|i| Ipv4Addr::from(net + i))
                .collect();
            let block6 = u128::from(LAN_V6_BASE) | (u128::from(j) << 64);
            let v6 = (1..=l.members.len() as u128)
                .map(|i| Ipv6Addr::from(block6 | i))
                .collect();
            LanAddresses {
                members: l.members.clone(),
                v4,
                v6,
                prefix_v4: Prefix::v4(Ipv4Addr::from(net), 32 - size.trailing_zeros() as u8),
                prefix_v6: Prefix::v6(Ipv6Addr::from(block6), 64),
            }
        })
        .collect();

    Ok(Addressing { nodes, links, lans })
}

/// The IPv4 block size of a LAN of `members` members: the smallest power
/// of two that holds them and the network and broadcast addresses.
fn lan_block_size(members: usize) -> u64 {
    (members as u64)
        .saturating_add(2)
        .checked_next_power_of_two()
        .unwrap_or(u64::MAX)
}

/// Where each LAN's IPv4 block lies, in plan order: `(offset in
/// [`LANS_V4`], size, place in the layout)`, the place being the *j* of
/// the LAN's IPv6 /64. `walk_order` lists the LANs by walk number.
fn place_lans(
    g: &Graph,
    walk_order: &[usize],
    fixed: &HashMap<Ipv4Addr, usize>,
) -> Result<Vec<(u32, u32, u32)>, FabricError> {
    let sizes: Vec<u64> = g
        .lans
        .iter()
        .map(|l| lan_block_size(l.members.len()))
        .collect();
    let too_many = || FabricError::TooManyLans {
        lans: g.lans.len(),
        needed: sizes.iter().fold(0u64, |a, &b| a.saturating_add(b)),
        block: LANS_V4,
    };
    // Largest first; a stable sort keeps the walk order among equals.
    let mut order = walk_order.to_vec();
    order.sort_by_key(|&l| Reverse(sizes[l]));
    let base = u64::from(u32::from(LAN_V4_BASE));
    let mut in_pool: Vec<u64> = fixed
        .keys()
        .map(|a| u64::from(u32::from(*a)))
        .filter(|a| (base..base + LAN_CAPACITY).contains(a))
        .map(|a| a - base)
        .collect();
    in_pool.sort_unstable();
    let mut placed = vec![(0, 0, 0); g.lans.len()];
    let mut next: u64 = 0;
    for (j, &l) in order.iter().enumerate() {
        let size = sizes[l];
        let offset = loop {
            let end = next.checked_add(size).filter(|&e| e <= LAN_CAPACITY);
            let Some(end) = end else {
                return Err(too_many());
            };
            // A fixed address in [next, end) costs the LAN this block.
            let first = in_pool.partition_point(|&a| a < next);
            if in_pool.get(first).is_some_and(|&a| a < end) {
                next = end;
                continue;
            }
            break next;
        };
        next = offset + size;
        // All three fit in u32: the pool holds 2^15 addresses, so at most
        // 2^13 blocks of 2^2 or more.
        placed[l] = (offset as u32, size as u32, j as u32);
    }
    Ok(placed)
}

/// The orders the depth-first walk hands out numbers in.
struct WalkOrder {
    /// Nodes, in the order they are reached.
    nodes: Vec<usize>,
    /// Links, in the order they are numbered.
    links: Vec<usize>,
    /// LANs, in the order they are numbered.
    lans: Vec<usize>,
}

/// Where the walk stands: at a node, with how many of its neighbours (link
/// ends, then LANs) it has looked at, or crossing a LAN, with how many of
/// its members it has looked at.
enum Frame {
    Node(usize, usize),
    Lan(usize, usize),
}

/// The depth-first walk that numbers nodes, links and LANs, as the
/// [module documentation](self) describes.
///
/// Iterative, with an explicit stack: a line of 65 000 nodes would overflow
/// the thread's stack if this recursed. Each LAN is crossed once, from the
/// first of its members the walk reaches, so a big LAN costs its size, not
/// its size squared.
fn walk(g: &Graph) -> WalkOrder {
    let adj = Adjacency::new(g);
    let mut reached = vec![false; g.nodes.len()];
    let mut link_numbered = vec![false; g.links.len()];
    let mut lan_numbered = vec![false; g.lans.len()];
    let mut crossed = vec![false; g.lans.len()];
    let mut order = WalkOrder {
        nodes: Vec::with_capacity(g.nodes.len()),
        links: Vec::with_capacity(g.links.len()),
        lans: Vec::with_capacity(g.lans.len()),
    };
    let mut reach = |u: usize, order: &mut WalkOrder, reached: &mut [bool]| {
        reached[u] = true;
        order.nodes.push(u);
        for &(l, _, _) in adj.of(u) {
            if !link_numbered[l] {
                link_numbered[l] = true;
                order.links.push(l);
            }
        }
        for &(l, _) in adj.lans_of(u) {
            if !lan_numbered[l] {
                lan_numbered[l] = true;
                order.lans.push(l);
            }
        }
    };
    let mut stack: Vec<Frame> = Vec::new();
    for root in 0..g.nodes.len() {
        if reached[root] {
            continue;
        }
        reach(root, &mut order, &mut reached);
        stack.push(Frame::Node(root, 0));
        while let Some(top) = stack.last_mut() {
            // What to do next at the top frame: walk into a node, start
            // crossing a LAN, or go back.
            let (into, cross) = match top {
                Frame::Node(u, seen) => {
                    let (ends, lans) = (adj.of(*u), adj.lans_of(*u));
                    let step = if let Some(&(_, _, v)) = ends.get(*seen) {
                        (Some(v), None)
                    } else if let Some(&(l, _)) = lans.get(*seen - ends.len()) {
                        (None, Some(l))
                    } else {
                        stack.pop();
                        continue;
                    };
                    *seen += 1;
                    step
                }
                Frame::Lan(l, seen) => {
                    let Some(&v) = g.lans[*l].members.get(*seen) else {
                        stack.pop();
                        continue;
                    };
                    *seen += 1;
                    (Some(v), None)
                }
            };
            if let Some(v) = into.filter(|&v| !reached[v]) {
                reach(v, &mut order, &mut reached);
                stack.push(Frame::Node(v, 0));
            }
            if let Some(l) = cross.filter(|&l| !crossed[l]) {
                crossed[l] = true;
                stack.push(Frame::Lan(l, 0));
            }
        }
    }
    order
}

#[cfg(test)]
mod tests;
