//! Static routes for every node: shortest paths by link cost, with
//! equal-cost multipath, computed from the topology alone.
//!
//! # What each node gets
//!
//! - **Destinations**: every other node's loopbacks (/32 and /128) and every
//!   link it is not attached to (the /31, and the link's /64 for IPv6).
//!   Its own links need no route: the kernel adds the connected /31 and
//!   /127 when the addresses are configured.
//! - **Paths**: shortest by the sum of link costs (Dijkstra from every
//!   node). Where several shortest paths tie, the route has one next hop per
//!   distinct first link on them: a kernel multipath route. Two parallel
//!   links to one neighbour are two next hops.
//! - **Only routers forward.** A path may start or end at a host but never
//!   pass through one: a host with links to two routers does not join them.
//!   (Its namespace has forwarding off; a route through it would be a black
//!   hole.)
//! - **A link is reached through its nearest router end**, as an IGP
//!   treats a point-to-point subnet: that end owns one address and has the
//!   other on a connected route. A link between two hosts has no end that
//!   forwards, so it gets a /32 and /128 per end instead, each routed like
//!   that end's node.
//! - **A stub host** (not a router, every link to one and the same router)
//!   gets exactly two routes: `198.18.0.0/15` and `2001:2::/48` through its
//!   cheapest link(s) to that router, plus a /32 for any node whose
//!   plan-fixed loopback lies outside 198.18.0.0/15. Never a default route:
//!   nothing in a lab may route toward the root namespace or beyond.
//! - **Unreachable** destinations (another part of the graph, or behind a
//!   host) get no route. (A stub host's lab-wide routes still cover them;
//!   its router then has no route and answers "unreachable".)
//!
//! # Aggregation
//!
//! After the paths are known, each node's routes are merged exactly: two
//! routes whose prefixes are the two halves of one shorter prefix, and
//! whose next hops are the same, become one route to that shorter prefix,
//! repeatedly. A merged route covers precisely the addresses of the routes
//! it replaces, so forwarding is unchanged, while the table shrinks to a
//! handful of prefixes per neighbour wherever the addressing gave a
//! subtree or a rack contiguous numbers (see the addressing module). Routes
//! are never widened over addresses nobody has, which could loop traffic to
//! them between two routers.
//!
//! The cost is one Dijkstra search per node that is not a stub host, each
//! linear-logarithmic in the graph, plus the routes themselves: a 1000-node
//! tree or leaf-spine takes well under a second in a debug build.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::addressing::{LAB_V4, LAB_V6, bits};
use super::{Addressing, Adjacency, FabricError, Graph, Prefix, validate};

/// One next hop of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NextHop {
    /// The link to send on (index in plan order); the interface is this
    /// node's end of it.
    pub link: usize,
    /// The neighbour's address on that link, in the route's family.
    pub via: IpAddr,
}

/// A static route: a destination and one or more equal-cost next hops.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    /// Where it leads.
    pub dest: Prefix,
    /// How: one next hop, or several for a multipath route. Sorted by link.
    pub nexthops: Vec<NextHop>,
}

/// Every node's routes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteTable {
    /// Per node in plan order: its routes, IPv4 first, each family sorted
    /// by destination.
    pub nodes: Vec<Vec<Route>>,
}

impl RouteTable {
    /// How many routes the lab installs in total (a multipath route counts
    /// once, as the kernel stores it).
    pub fn installed(&self) -> usize {
        self.nodes.iter().map(Vec::len).sum()
    }

    /// How many next hops those routes have in total.
    pub fn nexthops(&self) -> usize {
        self.nodes.iter().flatten().map(|r| r.nexthops.len()).sum()
    }

    /// The route `node` would use for `ip`: the longest matching prefix
    /// among its computed routes. Connected routes (its own links) are not
    /// in the table, so an address on one of them finds nothing or a
    /// shorter route. For tests and messages; a linear scan.
    pub fn lookup(&self, node: usize, ip: IpAddr) -> Option<&Route> {
        self.nodes
            .get(node)?
            .iter()
            .filter(|r| r.dest.contains(ip))
            .max_by_key(|r| r.dest.len)
    }
}

/// Computes every node's routes, as the [module documentation](self) says.
/// `addr` must be [`allocate`](super::allocate)'s result for the same `g`.
pub fn routes(g: &Graph, addr: &Addressing) -> Result<RouteTable, FabricError> {
    validate(g)?;
    addr.check_matches(g)?;
    let adj = Adjacency::new(g);
    // Nodes whose loopback the stub hosts' lab-wide routes do not cover.
    let outside: Vec<usize> = (0..g.nodes.len())
        .filter(|&v| !LAB_V4.contains(addr.nodes[v].loopback_v4.into()))
        .collect();
    let targets = Targets::new(addr);
    let mut search = Search::default();
    let mut reach = Vec::with_capacity(g.links.len());
    let mut nodes = Vec::with_capacity(g.nodes.len());
    for s in 0..g.nodes.len() {
        let table = match stub_uplinks(g, &adj, s) {
            Some(uplinks) => stub_routes(g, addr, &adj, &mut search, s, &uplinks, &outside),
            None => {
                search.run(g, &adj, s);
                node_routes(g, addr, &targets, &mut search, &mut reach, s)
            }
        };
        nodes.push(table);
    }
    Ok(RouteTable { nodes })
}

/// A stub host's links to its one router, the cheapest only; `None` if `s`
/// is not a stub host.
fn stub_uplinks(g: &Graph, adj: &Adjacency, s: usize) -> Option<Vec<usize>> {
    let ends = adj.of(s);
    let &(_, _, peer) = ends.first()?;
    if g.nodes[s].router || !g.nodes[peer].router || ends.iter().any(|e| e.2 != peer) {
        return None;
    }
    let cheapest = ends.iter().map(|e| g.links[e.0].cost).min()?;
    Some(
        ends.iter()
            .filter(|e| g.links[e.0].cost == cheapest)
            .map(|e| e.0)
            .collect(),
    )
}

/// A stub host's routes: the two lab-wide prefixes through `uplinks`, and
/// a /32 for each reachable node whose loopback lies `outside` the lab.
fn stub_routes(
    g: &Graph,
    addr: &Addressing,
    adj: &Adjacency,
    search: &mut Search,
    s: usize,
    uplinks: &[usize],
    outside: &[usize],
) -> Vec<Route> {
    let hops = |v6: bool| -> Vec<NextHop> {
        uplinks
            .iter()
            .filter_map(|&l| nexthop(addr, s, l, v6))
            .collect()
    };
    let mut table = vec![
        Route {
            dest: LAB_V4,
            nexthops: hops(false),
        },
        Route {
            dest: LAB_V6,
            nexthops: hops(true),
        },
    ];
    // Rare (a plan that fixes an address outside the lab, with
    // `--allow-external`), so the search runs only then.
    if outside.iter().any(|&v| v != s) {
        search.run(g, adj, s);
        let v4: Vec<Dest> = outside
            .iter()
            .filter(|&&v| v != s && search.dist[v] != UNREACHED)
            .map(|&v| Dest {
                key: v4_key(addr.nodes[v].loopback_v4),
                len: 32,
                hops: search.hops[v],
            })
            .collect();
        table.extend(materialize(addr, &search.sets, s, aggregate(v4, 32), false));
    }
    table
}

/// A destination before it becomes a [`Route`]: the prefix as a number and
/// the interned set of first-hop links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dest {
    key: u128,
    len: u8,
    hops: u32,
}

fn v4_key(a: Ipv4Addr) -> u128 {
    bits(a.into()).0
}

fn v6_key(a: Ipv6Addr) -> u128 {
    u128::from(a)
}

/// Every destination, in address order, per family: computed once, so that
/// each node's destinations come out sorted and go straight into the
/// [`Aggregator`] without a sort per node (which dominated the run time of
/// a 1000-node tree in a debug build).
struct Targets {
    v4: Vec<(u128, Target)>,
    v6: Vec<(u128, Target)>,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    /// A node's loopback.
    Node(usize),
    /// A link: its subnet, or its two ends' addresses, which lie inside
    /// the subnet and so keep the order.
    Link(usize),
}

impl Targets {
    fn new(addr: &Addressing) -> Targets {
        let mut v4 = Vec::with_capacity(addr.nodes.len() + addr.links.len());
        let mut v6 = Vec::with_capacity(addr.nodes.len() + addr.links.len());
        for (v, a) in addr.nodes.iter().enumerate() {
            v4.push((v4_key(a.loopback_v4), Target::Node(v)));
            v6.push((v6_key(a.loopback_v6), Target::Node(v)));
        }
        for (l, la) in addr.links.iter().enumerate() {
            v4.push((v4_key(la.v4[0]), Target::Link(l)));
            v6.push((bits(la.block_v6().addr).0, Target::Link(l)));
        }
        v4.sort_unstable_by_key(|t| t.0);
        v6.sort_unstable_by_key(|t| t.0);
        Targets { v4, v6 }
    }
}

/// How node `s` reaches a link's addresses.
#[derive(Debug, Clone, Copy)]
enum LinkReach {
    /// Attached to `s`, or out of reach: no route.
    None,
    /// The whole subnet through these first hops.
    Subnet(u32),
    /// Each end's address on its own (a link between two hosts).
    Ends([Option<u32>; 2]),
}

/// Node `s`'s routes, after `search` has run from `s`.
fn node_routes(
    g: &Graph,
    addr: &Addressing,
    targets: &Targets,
    search: &mut Search,
    reach: &mut Vec<LinkReach>,
    s: usize,
) -> Vec<Route> {
    reach.clear();
    for la in &addr.links {
        reach.push(link_reach(g, search, la.ends, s));
    }
    let mut table = Vec::new();
    for v6 in [false, true] {
        let (list, width) = if v6 {
            (&targets.v6, 128)
        } else {
            (&targets.v4, 32)
        };
        let mut agg = Aggregator::new(width);
        for &(key, target) in list {
            match target {
                Target::Node(v) => {
                    if v != s && search.dist[v] != UNREACHED {
                        let len = if v6 { 128 } else { 32 };
                        agg.push(Dest {
                            key,
                            len,
                            hops: search.hops[v],
                        });
                    }
                }
                Target::Link(l) => match reach[l] {
                    LinkReach::None => {}
                    LinkReach::Subnet(hops) => {
                        let len = if v6 { 64 } else { 31 };
                        agg.push(Dest { key, len, hops });
                    }
                    LinkReach::Ends(ends) => {
                        let la = &addr.links[l];
                        for (i, hops) in ends.into_iter().enumerate() {
                            let Some(hops) = hops else { continue };
                            let (key, len) = if v6 {
                                (v6_key(la.v6[i]), 128)
                            } else {
                                (v4_key(la.v4[i]), 32)
                            };
                            agg.push(Dest { key, len, hops });
                        }
                    }
                },
            }
        }
        table.extend(materialize(addr, &search.sets, s, agg.finish(), v6));
    }
    table
}

/// How `s` reaches the link between `ends`: through its nearest router
/// end(s), or, if neither end forwards, each end on its own.
fn link_reach(g: &Graph, search: &mut Search, ends: [usize; 2], s: usize) -> LinkReach {
    if ends.contains(&s) {
        return LinkReach::None;
    }
    let [a, b] = ends;
    let forwards = |e: usize| g.nodes[e].router && search.dist[e] != UNREACHED;
    match (forwards(a), forwards(b)) {
        (true, true) => {
            let (da, db) = (search.dist[a], search.dist[b]);
            LinkReach::Subnet(if da < db {
                search.hops[a]
            } else if db < da {
                search.hops[b]
            } else {
                search.sets.union(search.hops[a], search.hops[b])
            })
        }
        (true, false) => LinkReach::Subnet(search.hops[a]),
        (false, true) => LinkReach::Subnet(search.hops[b]),
        (false, false) => {
            let at = |e: usize| (search.dist[e] != UNREACHED).then(|| search.hops[e]);
            match [at(a), at(b)] {
                [None, None] => LinkReach::None,
                ends => LinkReach::Ends(ends),
            }
        }
    }
}

/// Merges sibling prefixes with the same next hops into their parent,
/// repeatedly, as the module documentation explains.
///
/// Prefixes must come in address order and be disjoint. One pass with a
/// stack: a merged prefix can only merge again with the prefix just below
/// it on the stack, because sorted disjoint prefixes put its sibling there
/// or nowhere.
struct Aggregator {
    out: Vec<Dest>,
    /// The family's address size in bits.
    width: u32,
}

impl Aggregator {
    fn new(width: u32) -> Aggregator {
        Aggregator {
            out: Vec::new(),
            width,
        }
    }

    fn push(&mut self, mut d: Dest) {
        // Merge into the prefix below for as long as it is `d`'s sibling
        // with the same next hops. (Comparing in place, not by copying the
        // last two entries out, matters in a debug build.)
        while let Some(below) = self.out.last() {
            let len = u32::from(d.len);
            if below.len != d.len || len == 0 || len > self.width || below.hops != d.hops {
                break;
            }
            let half = 1u128 << (self.width - len);
            if below.key & half != 0 || below.key | half != d.key {
                break;
            }
            d = Dest {
                len: d.len - 1,
                ..*below
            };
            self.out.pop();
        }
        self.out.push(d);
    }

    fn finish(self) -> Vec<Dest> {
        self.out
    }
}

/// [`Aggregator`] over destinations in any order.
fn aggregate(mut dests: Vec<Dest>, width: u32) -> Vec<Dest> {
    dests.sort_unstable_by_key(|d| (d.key, d.len));
    let mut agg = Aggregator::new(width);
    for d in dests {
        agg.push(d);
    }
    agg.finish()
}

/// Turns destinations of one family into routes of node `s`.
fn materialize(
    addr: &Addressing,
    sets: &HopSets,
    s: usize,
    dests: Vec<Dest>,
    v6: bool,
) -> Vec<Route> {
    dests
        .into_iter()
        .map(|d| {
            let dest = if v6 {
                Prefix::v6(Ipv6Addr::from(d.key), d.len)
            } else {
                Prefix::v4(Ipv4Addr::from(d.key as u32), d.len)
            };
            let nexthops = sets
                .get(d.hops)
                .iter()
                .filter_map(|&l| nexthop(addr, s, l as usize, v6))
                .collect();
            Route { dest, nexthops }
        })
        .collect()
}

/// Node `s`'s next hop over `link`: the address of the link's other end.
fn nexthop(addr: &Addressing, s: usize, link: usize, v6: bool) -> Option<NextHop> {
    let la = addr.links.get(link)?;
    let peer = la.end_of(s)?.other().index();
    let via = if v6 {
        IpAddr::V6(la.v6[peer])
    } else {
        IpAddr::V4(la.v4[peer])
    };
    Some(NextHop { link, via })
}

const UNREACHED: u64 = u64::MAX;

/// Sets of first-hop links, interned so that equal sets have equal ids:
/// aggregation compares next hops by id, and a node's distance labels
/// share sets instead of copying them.
#[derive(Default)]
struct HopSets {
    sets: Vec<Vec<u32>>,
    index: HashMap<Vec<u32>, u32>,
    unions: HashMap<(u32, u32), u32>,
}

impl HopSets {
    fn clear(&mut self) {
        self.sets.clear();
        self.index.clear();
        self.unions.clear();
    }

    fn intern(&mut self, set: Vec<u32>) -> u32 {
        if let Some(&id) = self.index.get(&set) {
            return id;
        }
        let id = self.sets.len() as u32;
        self.sets.push(set.clone());
        self.index.insert(set, id);
        id
    }

    fn single(&mut self, link: usize) -> u32 {
        self.intern(vec![link as u32])
    }

    fn union(&mut self, a: u32, b: u32) -> u32 {
        if a == b {
            return a;
        }
        let key = (a.min(b), a.max(b));
        if let Some(&id) = self.unions.get(&key) {
            return id;
        }
        let (x, y) = (self.get(a), self.get(b));
        let mut merged = Vec::with_capacity(x.len() + y.len());
        let (mut i, mut j) = (0, 0);
        while i < x.len() || j < y.len() {
            let next = match (x.get(i), y.get(j)) {
                (Some(&p), Some(&q)) if p == q => {
                    i += 1;
                    j += 1;
                    p
                }
                (Some(&p), Some(&q)) if p < q => {
                    i += 1;
                    p
                }
                (_, Some(&q)) => {
                    j += 1;
                    q
                }
                (Some(&p), None) => {
                    i += 1;
                    p
                }
                (None, None) => break,
            };
            merged.push(next);
        }
        let id = self.intern(merged);
        self.unions.insert(key, id);
        id
    }

    fn get(&self, id: u32) -> &[u32] {
        self.sets.get(id as usize).map_or(&[], Vec::as_slice)
    }
}

/// Dijkstra's search from one node, with every first hop of every shortest
/// path. Its buffers are reused from one source node to the next.
#[derive(Default)]
struct Search {
    dist: Vec<u64>,
    hops: Vec<u32>,
    done: Vec<bool>,
    /// Distance and node packed as `dist << 64 | node`: one integer
    /// compares faster than a tuple, which counts in a debug build.
    heap: BinaryHeap<Reverse<u128>>,
    sets: HopSets,
}

impl Search {
    fn run(&mut self, g: &Graph, adj: &Adjacency, s: usize) {
        let n = g.nodes.len();
        self.dist.clear();
        self.dist.resize(n, UNREACHED);
        self.hops.clear();
        self.hops.resize(n, u32::MAX);
        self.done.clear();
        self.done.resize(n, false);
        self.heap.clear();
        self.sets.clear();
        self.dist[s] = 0;
        self.heap.push(Reverse(s as u128));
        while let Some(Reverse(packed)) = self.heap.pop() {
            let (d, u) = ((packed >> 64) as u64, packed as u64 as usize);
            if self.done[u] {
                continue;
            }
            self.done[u] = true;
            // Hosts are reached but never left: no path transits one.
            if u != s && !g.nodes[u].router {
                continue;
            }
            for &(l, _, v) in adj.of(u) {
                // Costs are at least 1 (validated), so every node on a
                // shortest path to `v` is done before `v` is, and its set
                // of first hops is complete when `v` takes it over.
                let nd = d + u64::from(g.links[l].cost);
                let via = if u == s {
                    self.sets.single(l)
                } else {
                    self.hops[u]
                };
                if nd < self.dist[v] {
                    self.dist[v] = nd;
                    self.hops[v] = via;
                    self.heap.push(Reverse(u128::from(nd) << 64 | v as u128));
                } else if nd == self.dist[v] && !self.done[v] {
                    self.hops[v] = self.sets.union(self.hops[v], via);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
