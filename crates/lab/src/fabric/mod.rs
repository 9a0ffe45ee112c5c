//! The lab fabric's arithmetic: which address each node, link end and LAN
//! member gets, what each interface is called, and which static routes
//! every node needs.
//!
//! This module is pure: it reads a [`Graph`] (nodes, point-to-point links,
//! LAN segments, their costs, which nodes forward) and returns values. It
//! creates no namespace, sends no netlink message and reads no clock, so
//! the netns backend can compute the whole fabric, and `netproof check`
//! can reject a plan that cannot be built, before anything exists in the
//! kernel.
//!
//! - [`addressing`]: loopbacks (/32 and /128), link subnets (/31 and
//!   /127) and LAN subnets (the smallest IPv4 prefix that holds the
//!   members, and a /64) from the benchmarking ranges 198.18.0.0/15 and
//!   2001:2::/48, numbered so that routes aggregate. The layout is
//!   documented there.
//! - [`naming`]: interface names that fit the kernel's 15-byte limit, for
//!   link ends, LAN members and the bridge ports in a LAN's own namespace,
//!   and the way back from an interface name to the plan's link or LAN.
//! - [`routing`]: shortest paths by cost with equal-cost multipath over
//!   links and LANs alike, hosts never used as transit, stub hosts reduced
//!   to two routes, none for a node whose routes a routing daemon owns;
//!   the plan's own routes on top; which nodes cannot reach each other.
//!
//! A **LAN** is a multi-access segment: N ≥ 2 nodes on one broadcast
//! domain (the lab builds it as a Linux bridge in a namespace of its own,
//! with a veth from each member). Any member reaches any other in one hop
//! at the LAN's cost. A LAN is not a node: crossing it from one member to
//! another transits no host, and it has no loopback.
//!
//! [`Fabric::plan`] runs all three. Each step validates the graph itself
//! (cheap, linear), so none of them panics on any input: self-links, links
//! or LANs naming missing nodes, LANs with fewer than two members or a
//! member twice, and zero costs are [`FabricError`]s; duplicate links,
//! isolated nodes, disconnected parts and an empty graph are fine.
//!
//! Plan-given routes (`[[route]]`) go on top of the computed ones with
//! [`routing::plan_routes::apply`], which also refuses a route that loops.
//! Nothing here touches the kernel.

pub mod addressing;
pub mod naming;
pub mod routing;

#[cfg(test)]
mod shapes;

use std::net::Ipv4Addr;

pub use addressing::{Addressing, LanAddresses, LinkAddresses, NodeAddresses, Prefix, allocate};
pub use naming::{LAN_BRIDGE, LanMember, LinkEnd, Naming, name_interfaces};
pub use routing::{NextHop, Route, RouteTable, routes};

/// The topology the fabric is computed for, independent of the plan crate:
/// nodes, links and LANs are referred to by their index, in plan order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    /// The nodes, in plan order.
    pub nodes: Vec<GraphNode>,
    /// The point-to-point links, in plan order.
    pub links: Vec<GraphLink>,
    /// The LAN segments, in plan order.
    pub lans: Vec<GraphLan>,
}

/// A node of the [`Graph`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphNode {
    /// The node's plan name, used in interface names and error messages.
    pub name: String,
    /// Whether the node forwards. Hosts (`false`) are only sources and
    /// destinations: no route ever sends traffic through one.
    pub router: bool,
    /// A loopback address the plan fixes for the node. It is used as is,
    /// and the allocator never hands it out to another node or link.
    pub loopback_v4: Option<Ipv4Addr>,
    /// Whether the fabric owns the node's routes (`routing = "static"`)
    /// and installs its computed static routes. `false`: a routing daemon
    /// owns them, and the node gets only its connected routes (from its
    /// addresses) and its loopbacks. Other nodes still route to it, and
    /// through it if it forwards.
    pub static_routes: bool,
}

/// A point-to-point link of the [`Graph`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphLink {
    /// Index of end `a` in [`Graph::nodes`]; it gets the lower address.
    pub a: usize,
    /// Index of end `b` in [`Graph::nodes`].
    pub b: usize,
    /// The link's cost for shortest paths, at least 1.
    pub cost: u32,
}

/// A LAN segment of the [`Graph`]: several nodes on one bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphLan {
    /// The LAN's plan name, used for its members' interface names and in
    /// error messages.
    pub name: String,
    /// Indexes in [`Graph::nodes`] of its members, at least two, each
    /// once. Member *k* (from 0) gets address *k* + 1 of the LAN's subnet,
    /// just after the network address.
    pub members: Vec<usize>,
    /// The cost of crossing the LAN from any member to any other, at
    /// least 1.
    pub cost: u32,
}

/// Where a node sends a packet: its end of a link, or its interface on a
/// LAN. The same in every node's view, so routes and names can share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dev {
    /// The node's end of this link (index in [`Graph::links`]).
    Link(usize),
    /// The node's interface on this LAN (index in [`Graph::lans`]).
    Lan(usize),
}

impl Dev {
    /// The link's index, if this is a link end.
    pub fn link(self) -> Option<usize> {
        match self {
            Dev::Link(l) => Some(l),
            Dev::Lan(_) => None,
        }
    }

    /// The LAN's index, if this is a LAN interface.
    pub fn lan(self) -> Option<usize> {
        match self {
            Dev::Link(_) => None,
            Dev::Lan(l) => Some(l),
        }
    }
}

/// One of the two ends of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum End {
    /// End `a`, which has the lower addresses.
    A,
    /// End `b`.
    B,
}

impl End {
    /// 0 for `a`, 1 for `b`: the index into `[a, b]` arrays.
    pub fn index(self) -> usize {
        match self {
            End::A => 0,
            End::B => 1,
        }
    }

    /// The other end.
    pub fn other(self) -> End {
        match self {
            End::A => End::B,
            End::B => End::A,
        }
    }
}

/// Why a fabric cannot be computed for a graph.
///
/// Nodes are named by their plan names; links by their index in plan order
/// and their two ends; LANs by their index in plan order and their name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FabricError {
    /// A link refers to a node index the graph does not have.
    #[error("link {link} refers to node {index}, but the graph has only {nodes} nodes")]
    UnknownNode {
        /// The link's index.
        link: usize,
        /// The missing node index.
        index: usize,
        /// How many nodes the graph has.
        nodes: usize,
    },
    /// A link connects a node to itself.
    #[error("link {link} connects node `{node}` to itself\nhint: a link needs two different nodes")]
    SelfLink {
        /// The link's index.
        link: usize,
        /// The node.
        node: String,
    },
    /// A link has cost 0.
    #[error(
        "link {link} (`{a}`--`{b}`) has cost 0\nhint: costs start at 1; with a zero cost, two routers could each send traffic to the other on an equal-cost path"
    )]
    ZeroCost {
        /// The link's index.
        link: usize,
        /// End `a`'s name.
        a: String,
        /// End `b`'s name.
        b: String,
    },
    /// Two nodes have the same plan-fixed loopback address.
    #[error(
        "nodes `{first}` and `{second}` both have the address `{addr}`\nhint: give one of them another address, or none to let the lab choose"
    )]
    DuplicateLoopback {
        /// The node that has it first in plan order.
        first: String,
        /// The node that has it too.
        second: String,
        /// The address.
        addr: Ipv4Addr,
    },
    /// A plan-fixed loopback address cannot be a unicast host address.
    #[error("node `{node}` has the address `{addr}`, which cannot be a node's own address")]
    UnusableLoopback {
        /// The node.
        node: String,
        /// The address (unspecified, broadcast or multicast).
        addr: Ipv4Addr,
    },
    /// More nodes need a loopback than the loopback block holds.
    #[error(
        "{needed} nodes need a loopback address, but {block} has only {available} left\nhint: fix some nodes' addresses in the plan, outside {block}"
    )]
    TooManyNodes {
        /// Nodes without a plan-fixed address.
        needed: usize,
        /// Free addresses in the block (plan-fixed ones taken out).
        available: usize,
        /// The block, `198.18.0.0/16`.
        block: Prefix,
    },
    /// More links need a subnet than the link block holds.
    #[error("{needed} links need a /31, but {block} has only {available} left")]
    TooManyLinks {
        /// The graph's links.
        needed: usize,
        /// Free /31s in the block (those holding plan-fixed addresses taken
        /// out).
        available: usize,
        /// The block, `198.19.0.0/17`.
        block: Prefix,
    },
    /// A LAN refers to a node index the graph does not have.
    #[error("LAN {lan} (`{name}`) refers to node {index}, but the graph has only {nodes} nodes")]
    LanUnknownNode {
        /// The LAN's index.
        lan: usize,
        /// The LAN's name.
        name: String,
        /// The missing node index.
        index: usize,
        /// How many nodes the graph has.
        nodes: usize,
    },
    /// A LAN has fewer than two members.
    #[error(
        "LAN {lan} (`{name}`) needs at least two members, but has {members}\nhint: list the nodes the LAN joins in its members"
    )]
    LanTooSmall {
        /// The LAN's index.
        lan: usize,
        /// The LAN's name.
        name: String,
        /// How many members it has.
        members: usize,
    },
    /// A LAN lists one node twice.
    #[error(
        "LAN {lan} (`{name}`) lists node `{node}` twice\nhint: a node has one interface on a LAN; list each member once"
    )]
    LanRepeatedMember {
        /// The LAN's index.
        lan: usize,
        /// The LAN's name.
        name: String,
        /// The node listed twice.
        node: String,
    },
    /// A LAN has cost 0.
    #[error(
        "LAN {lan} (`{name}`) has cost 0\nhint: costs start at 1; with a zero cost, two routers could each send traffic to the other on an equal-cost path"
    )]
    LanZeroCost {
        /// The LAN's index.
        lan: usize,
        /// The LAN's name.
        name: String,
    },
    /// The LANs' IPv4 subnets do not fit in the LAN block.
    #[error(
        "{lans} LANs need IPv4 subnets of {needed} addresses in all, more than {block} has left\nhint: a LAN of n members takes the smallest power of two above n + 1 addresses; use fewer or smaller LANs"
    )]
    TooManyLans {
        /// The graph's LANs.
        lans: usize,
        /// The addresses their subnets span together (network and
        /// broadcast addresses and rounding up included).
        needed: u64,
        /// The block, `198.19.128.0/17`.
        block: Prefix,
    },
    /// The addressing passed to [`routes`] was computed for another graph.
    #[error(
        "the addresses were allocated for a graph of {addr_nodes} nodes, {addr_links} links and {addr_lans} LANs, not for this one of {nodes} nodes, {links} links and {lans} LANs (or its links or LANs join other nodes)\nhint: allocate addresses for the same graph the routes are computed for"
    )]
    AddressingMismatch {
        /// Nodes in the addressing.
        addr_nodes: usize,
        /// Links in the addressing.
        addr_links: usize,
        /// LANs in the addressing.
        addr_lans: usize,
        /// Nodes in the graph.
        nodes: usize,
        /// Links in the graph.
        links: usize,
        /// LANs in the graph.
        lans: usize,
    },
}

/// The whole fabric of a graph: addresses, interface names and routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fabric {
    /// Every node's loopbacks and every link's and LAN's subnets.
    pub addressing: Addressing,
    /// Every link end's and LAN member's interface name, and every LAN's
    /// bridge port names.
    pub naming: Naming,
    /// Every node's static routes.
    pub routes: RouteTable,
}

impl Fabric {
    /// Computes the fabric of `g`: [`allocate`], [`name_interfaces`] and
    /// [`routes`] in one call.
    pub fn plan(g: &Graph) -> Result<Fabric, FabricError> {
        let addressing = allocate(g)?;
        let naming = name_interfaces(g)?;
        let routes = routes(g, &addressing)?;
        Ok(Fabric {
            addressing,
            naming,
            routes,
        })
    }
}

/// Checks what every step relies on: links join two different existing
/// nodes, LANs at least two different existing nodes, and both cost at
/// least 1. Linear in the graph's size.
fn validate(g: &Graph) -> Result<(), FabricError> {
    let nodes = g.nodes.len();
    for (link, l) in g.links.iter().enumerate() {
        for index in [l.a, l.b] {
            if index >= nodes {
                return Err(FabricError::UnknownNode { link, index, nodes });
            }
        }
        if l.a == l.b {
            return Err(FabricError::SelfLink {
                link,
                node: g.nodes[l.a].name.clone(),
            });
        }
        if l.cost == 0 {
            return Err(FabricError::ZeroCost {
                link,
                a: g.nodes[l.a].name.clone(),
                b: g.nodes[l.b].name.clone(),
            });
        }
    }
    // Which LAN last listed each node (LAN index + 1; 0: none yet): finds
    // a repeated member in one pass without a set per LAN.
    let mut listed_by = vec![0usize; if g.lans.is_empty() { 0 } else { nodes }];
    for (lan, l) in g.lans.iter().enumerate() {
        let name = || l.name.clone();
        if l.members.len() < 2 {
            return Err(FabricError::LanTooSmall {
                lan,
                name: name(),
                members: l.members.len(),
            });
        }
        for &index in &l.members {
            let Some(mark) = listed_by.get_mut(index) else {
                return Err(FabricError::LanUnknownNode {
                    lan,
                    name: name(),
                    index,
                    nodes,
                });
            };
            if *mark == lan + 1 {
                return Err(FabricError::LanRepeatedMember {
                    lan,
                    name: name(),
                    node: g.nodes[index].name.clone(),
                });
            }
            *mark = lan + 1;
        }
        if l.cost == 0 {
            return Err(FabricError::LanZeroCost { lan, name: name() });
        }
    }
    Ok(())
}

/// Each node's link ends, in link order: `(link, end at this node, peer)`,
/// and its LAN memberships, in LAN order: `(lan, position in the LAN's
/// members)`.
///
/// Stored as flat arrays with offsets (compressed sparse rows) rather
/// than a `Vec` per node: the routing search walks them once per source
/// node, and few allocations keep a 1000-node lab cheap in a debug build.
struct Adjacency {
    start: Vec<usize>,
    ends: Vec<(usize, End, usize)>,
    lan_start: Vec<usize>,
    lans: Vec<(usize, usize)>,
}

impl Adjacency {
    /// Builds the adjacency of a validated graph.
    fn new(g: &Graph) -> Adjacency {
        let mut start = vec![0usize; g.nodes.len() + 1];
        for l in &g.links {
            start[l.a + 1] += 1;
            start[l.b + 1] += 1;
        }
        for i in 0..g.nodes.len() {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut ends = vec![(0, End::A, 0); 2 * g.links.len()];
        // Links in plan order, so every node's list is in link order too.
        for (i, l) in g.links.iter().enumerate() {
            ends[fill[l.a]] = (i, End::A, l.b);
            fill[l.a] += 1;
            ends[fill[l.b]] = (i, End::B, l.a);
            fill[l.b] += 1;
        }
        let mut lan_start = vec![0usize; g.nodes.len() + 1];
        for l in &g.lans {
            for &m in &l.members {
                lan_start[m + 1] += 1;
            }
        }
        for i in 0..g.nodes.len() {
            lan_start[i + 1] += lan_start[i];
        }
        let mut fill = lan_start.clone();
        let mut lans = vec![(0, 0); lan_start[g.nodes.len()]];
        for (i, l) in g.lans.iter().enumerate() {
            for (pos, &m) in l.members.iter().enumerate() {
                lans[fill[m]] = (i, pos);
                fill[m] += 1;
            }
        }
        Adjacency {
            start,
            ends,
            lan_start,
            lans,
        }
    }

    /// Node `u`'s link ends in link order.
    fn of(&self, u: usize) -> &[(usize, End, usize)] {
        &self.ends[self.start[u]..self.start[u + 1]]
    }

    /// Node `u`'s LANs in LAN order, with its position in each.
    fn lans_of(&self, u: usize) -> &[(usize, usize)] {
        &self.lans[self.lan_start[u]..self.lan_start[u + 1]]
    }
}

#[cfg(test)]
mod tests {
    use super::shapes::*;
    use super::*;

    #[test]
    fn self_link_is_an_error_naming_the_node() {
        let mut g = Graph::default();
        let r = add(&mut g, "core-1", true);
        link(&mut g, r, r, 1);
        let e = Fabric::plan(&g).unwrap_err();
        assert_eq!(
            e.to_string(),
            "link 0 connects node `core-1` to itself\nhint: a link needs two different nodes"
        );
    }

    #[test]
    fn link_to_missing_node_is_an_error() {
        let mut g = Graph::default();
        let r = add(&mut g, "r", true);
        link(&mut g, r, 7, 1);
        assert_eq!(
            Fabric::plan(&g).unwrap_err(),
            FabricError::UnknownNode {
                link: 0,
                index: 7,
                nodes: 1
            }
        );
    }

    #[test]
    fn zero_cost_is_an_error_naming_both_ends() {
        let mut g = Graph::default();
        let a = add(&mut g, "a", true);
        let b = add(&mut g, "b", true);
        link(&mut g, a, b, 0);
        let e = Fabric::plan(&g).unwrap_err().to_string();
        assert!(e.starts_with("link 0 (`a`--`b`) has cost 0"), "{e}");
    }

    #[test]
    fn empty_graph_has_an_empty_fabric() {
        let f = Fabric::plan(&Graph::default()).unwrap();
        assert!(f.addressing.nodes.is_empty());
        assert!(f.addressing.links.is_empty());
        assert_eq!(f.routes.installed(), 0);
    }

    #[test]
    fn adjacency_lists_ends_in_link_order() {
        let mut g = Graph::default();
        let a = add(&mut g, "a", true);
        let b = add(&mut g, "b", true);
        let c = add(&mut g, "c", true);
        link(&mut g, b, c, 1);
        link(&mut g, a, b, 1);
        link(&mut g, b, a, 1);
        let adj = Adjacency::new(&g);
        assert_eq!(adj.of(a), &[(1, End::A, b), (2, End::B, b)]);
        assert_eq!(adj.of(b), &[(0, End::A, c), (1, End::B, a), (2, End::A, a)]);
        assert_eq!(adj.of(c), &[(0, End::B, b)]);
    }

    #[test]
    fn lan_errors_name_the_lan_and_the_node() {
        let mut g = Graph::default();
        let a = add(&mut g, "a", true);
        let b = add(&mut g, "b", false);
        lan(&mut g, "office", &[a, b, a], 1);
        assert_eq!(
            Fabric::plan(&g).unwrap_err().to_string(),
            "LAN 0 (`office`) lists node `a` twice\nhint: a node has one interface on a LAN; list each member once"
        );
        g.lans[0].members = vec![a];
        assert_eq!(
            Fabric::plan(&g).unwrap_err(),
            FabricError::LanTooSmall {
                lan: 0,
                name: "office".into(),
                members: 1
            }
        );
        g.lans[0].members = vec![a, 9];
        assert_eq!(
            Fabric::plan(&g).unwrap_err().to_string(),
            "LAN 0 (`office`) refers to node 9, but the graph has only 2 nodes"
        );
        g.lans[0].members = vec![a, b];
        g.lans[0].cost = 0;
        let e = Fabric::plan(&g).unwrap_err().to_string();
        assert!(e.starts_with("LAN 0 (`office`) has cost 0"), "{e}");
        g.lans[0].cost = 1;
        // The same node on two LANs, and two LANs on the same nodes, are fine.
        lan(&mut g, "again", &[b, a], 1);
        assert!(Fabric::plan(&g).is_ok());
    }

    #[test]
    fn adjacency_lists_lans_in_lan_order() {
        let mut g = Graph::default();
        let a = add(&mut g, "a", true);
        let b = add(&mut g, "b", true);
        let c = add(&mut g, "c", true);
        lan(&mut g, "x", &[c, a], 1);
        lan(&mut g, "y", &[a, b, c], 1);
        let adj = Adjacency::new(&g);
        assert_eq!(adj.lans_of(a), &[(0, 1), (1, 0)]);
        assert_eq!(adj.lans_of(b), &[(1, 1)]);
        assert_eq!(adj.lans_of(c), &[(0, 0), (1, 2)]);
        assert!(adj.of(a).is_empty());
    }
}
