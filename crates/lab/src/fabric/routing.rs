//! Static routes for every node: shortest paths by cost, over links and
//! LANs alike, with equal-cost multipath, computed from the topology alone.
//!
//! # What each node gets
//!
//! - **Destinations**: every other node's loopbacks (/32 and /128), every
//!   link it is not attached to (the /31, and the link's /64 for IPv6) and
//!   every LAN it is not on (the LAN's IPv4 subnet and its /64). Its own
//!   links and LANs need no route: the kernel adds the connected routes
//!   when the addresses are configured.
//! - **Paths**: shortest by the sum of link and LAN costs (Dijkstra from
//!   every node). Crossing a LAN from any member to any other costs the
//!   LAN's cost; a LAN is not a node, so crossing one transits no host.
//!   Where several shortest paths tie, the route has one next hop per
//!   distinct first hop on them: a kernel multipath route. A first hop is
//!   a link (to the neighbour at its other end), or a LAN and the member
//!   the path crosses it to (the next hop is that member's address on the
//!   LAN, sent out of this node's interface on it). Two parallel links to
//!   one neighbour are two next hops, and so are two members of one LAN.
//! - **Only routers forward.** A path may start or end at a host but never
//!   pass through one: a host with links to two routers, or on a LAN with
//!   them, does not join them. (Its namespace has forwarding off; a route
//!   through it would be a black hole.)
//! - **A link or LAN is reached through its nearest router(s) on it**, as
//!   an IGP treats a subnet: such a member has the subnet on a connected
//!   route and delivers to any address on it. Ties between router members
//!   give a multipath route. A link or LAN with no member that forwards
//!   (hosts only) gets a /32 and /128 per member instead, each routed like
//!   that member's node.
//! - **A stub host** gets exactly two routes: `198.18.0.0/15` and
//!   `2001:2::/48`, plus a /32 for any node whose plan-fixed loopback lies
//!   outside 198.18.0.0/15. A stub host is a host whose only segment is
//!   either links, all to one and the same router (the routes then go
//!   through the cheapest of those links), or one LAN with at least one
//!   router on it (the routes then go through every router on the LAN,
//!   which all lie one crossing away: ECMP). Never a default route:
//!   nothing in a lab may route toward the root namespace or beyond. A
//!   router on a LAN reaches every destination any other router on it
//!   reaches (across the LAN), so whichever router a stub host on a LAN
//!   picks delivers, at most one extra crossing of the LAN longer than the
//!   shortest path. A host on one LAN without a router gets routes only to
//!   its LAN neighbours' loopbacks; their LAN addresses are on-link.
//! - **A node whose routes a routing daemon owns** (`static_routes`
//!   false) gets none: its daemon installs them. Every other node's routes
//!   are computed as if the daemon had converged on the same shortest
//!   paths, so they still lead to it, and through it when it forwards.
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
//! subtree or a rack contiguous numbers (see the addressing module). LAN
//! subnets of one size are laid out in walk order too, so theirs merge
//! the same way. Routes are never widened over addresses nobody has, which
//! could loop traffic to them between two routers.
//!
//! The cost is one Dijkstra search per node that is not a stub host, each
//! linear-logarithmic in the graph (a LAN is one vertex of the search, so
//! a big LAN costs its size per search, not its size squared), plus the
//! routes themselves: a 1000-node tree or leaf-spine takes well under a
//! second in a debug build.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::addressing::{LAB_V4, LAB_V6, bits};
use super::{Addressing, Adjacency, Dev, FabricError, Graph, Prefix, validate};

/// One next hop of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NextHop {
    /// The neighbour's address on `dev`, in the route's family: the other
    /// end's address on a link, a member's address on a LAN.
    pub via: IpAddr,
    /// Where to send it: this node's end of a link, or its interface on a
    /// LAN ([`Naming::dev`](super::Naming::dev) names it).
    pub dev: Dev,
}

impl NextHop {
    /// The link to send on, if the next hop is across a link.
    pub fn link(&self) -> Option<usize> {
        self.dev.link()
    }
}

/// A static route: a destination and one or more equal-cost next hops.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    /// Where it leads.
    pub dest: Prefix,
    /// How: one next hop, or several for a multipath route. Sorted by
    /// device (links in plan order, then LANs in plan order), then, on one
    /// LAN, by the member's place in the LAN.
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
    /// among its computed routes. Connected routes (its own links' and
    /// LANs' subnets) are not in the table, so an address on one of them
    /// finds nothing or a shorter route. For tests and messages; a linear
    /// scan.
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
    let ids = HopIds::new(g);
    // Nodes whose loopback the stub hosts' lab-wide routes do not cover.
    let outside: Vec<usize> = (0..g.nodes.len())
        .filter(|&v| !LAB_V4.contains(addr.nodes[v].loopback_v4.into()))
        .collect();
    let targets = Targets::new(addr);
    let mut search = Search::default();
    let mut reach = Reach::default();
    let mut nodes = Vec::with_capacity(g.nodes.len());
    for s in 0..g.nodes.len() {
        let table = match stub_uplinks(g, &adj, &ids, s) {
            Some(uplinks) => {
                let ctx = Ctx {
                    g,
                    addr,
                    adj: &adj,
                    ids: &ids,
                };
                stub_routes(&ctx, &mut search, s, &uplinks, &outside)
            }
            None => {
                search.run(g, &adj, &ids, s);
                reach.compute(g, addr, &mut search, s);
                node_routes(addr, &ids, &targets, &search, &reach, s)
            }
        };
        nodes.push(table);
    }
    uplink_aggregates(g, &mut nodes);
    // After aggregation, which only ever narrows what a node's own table
    // covers, so dropping a table here cannot create a loop elsewhere.
    for (table, node) in nodes.iter_mut().zip(&g.nodes) {
        if !node.static_routes {
            table.clear();
        }
    }
    Ok(RouteTable { nodes })
}

/// The node at the far end of next hop `h` of node `s`, when it is across
/// a link (LAN next hops are left alone).
fn neighbour(g: &Graph, s: usize, h: &NextHop) -> Option<usize> {
    match h.dev {
        Dev::Link(l) => {
            let link = g.links.get(l)?;
            Some(if link.a == s { link.b } else { link.a })
        }
        Dev::Lan(_) => None,
    }
}

/// Whether `p` lies within `lab`.
fn within(lab: &Prefix, p: &Prefix) -> bool {
    p.len >= lab.len && lab.contains(p.addr)
}

/// Replaces, on each router, the routes through its most used set of next
/// hops by one route to the whole lab (`198.18.0.0/15`, `2001:2::/48`)
/// through that set: a leaf switch then holds its own rack's routes and
/// one uplink route instead of a route per rack, and a tree node its
/// subtree's and one toward the root.
///
/// Forwarding of every assigned address is unchanged: the routes a node
/// keeps are disjoint from the ones it drops (the aggregation is exact), so
/// a dropped destination now matches only the lab-wide route, which has the
/// same next hops. Addresses nobody has now follow lab-wide routes too, so
/// those must never form a cycle: routers are taken from the one whose
/// lab-wide route would replace the most routes, and a router gets one
/// only if none of its next hops can already reach it through lab-wide
/// routes. Each family is done on its own; next hops through LANs and to
/// hosts (which do not forward) are never chosen.
fn uplink_aggregates(g: &Graph, nodes: &mut [Vec<Route>]) {
    for v6 in [false, true] {
        let lab = if v6 { LAB_V6 } else { LAB_V4 };
        // Per router: its most used next-hop set and how many routes use it.
        let mut candidates: Vec<(usize, usize, Vec<NextHop>, Vec<usize>)> = Vec::new();
        for (s, routes) in nodes.iter().enumerate() {
            if !g.nodes[s].router {
                continue;
            }
            let mut counts: HashMap<&[NextHop], usize> = HashMap::new();
            for r in routes {
                if r.dest.addr.is_ipv6() == v6 && within(&lab, &r.dest) {
                    *counts.entry(r.nexthops.as_slice()).or_default() += 1;
                }
            }
            let best = counts
                .into_iter()
                .filter(|(_, n)| *n >= 2)
                .filter_map(|(hops, n)| {
                    let to: Option<Vec<usize>> = hops.iter().map(|h| neighbour(g, s, h)).collect();
                    let to = to?;
                    to.iter()
                        .all(|&v| g.nodes[v].router)
                        .then(|| (n, hops.to_vec(), to))
                })
                // Most routes replaced; ties by next hops, so the choice
                // does not depend on hash order.
                .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.2.cmp(&a.2)));
            if let Some((n, hops, to)) = best {
                candidates.push((n, s, hops, to));
            }
        }
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        // Lab-wide routes chosen so far, as edges between routers.
        let mut up: Vec<Vec<usize>> = vec![Vec::new(); g.nodes.len()];
        for (_, s, hops, to) in candidates {
            if to.iter().any(|&v| reaches(&up, v, s)) {
                continue;
            }
            up[s] = to;
            let routes = &mut nodes[s];
            routes.retain(|r| {
                !(r.dest.addr.is_ipv6() == v6 && within(&lab, &r.dest) && r.nexthops == hops)
            });
            routes.push(Route {
                dest: lab,
                nexthops: hops,
            });
            routes.sort_by_key(|r| (r.dest.addr.is_ipv6(), r.dest.addr, r.dest.len));
        }
    }
}

/// Whether `to` can be reached from `from` along lab-wide routes.
fn reaches(up: &[Vec<usize>], from: usize, to: usize) -> bool {
    let mut seen = vec![false; up.len()];
    let mut stack = vec![from];
    while let Some(v) = stack.pop() {
        if v == to {
            return true;
        }
        if std::mem::replace(&mut seen[v], true) {
            continue;
        }
        stack.extend(up[v].iter().copied());
    }
    false
}

/// What the per-node steps share.
struct Ctx<'a> {
    g: &'a Graph,
    addr: &'a Addressing,
    adj: &'a Adjacency,
    ids: &'a HopIds,
}

/// A first hop out of a node, as a number: link *l* is *l*, member *k* of
/// LAN *j* comes after all links and all members of earlier LANs. So hop
/// sets are sets of small integers, and sorting them sorts next hops by
/// device and member.
struct HopIds {
    links: usize,
    /// Per LAN, the id of its member 0.
    lan_first: Vec<usize>,
    /// Per LAN member id (minus `links`): the LAN and the member's place.
    lan_members: Vec<(usize, usize)>,
}

/// A first hop, decoded.
enum Hop {
    Link(usize),
    Lan(usize, usize),
}

impl HopIds {
    fn new(g: &Graph) -> HopIds {
        let mut lan_first = Vec::with_capacity(g.lans.len());
        let mut lan_members = Vec::new();
        for (l, lan) in g.lans.iter().enumerate() {
            lan_first.push(g.links.len() + lan_members.len());
            lan_members.extend((0..lan.members.len()).map(|k| (l, k)));
        }
        HopIds {
            links: g.links.len(),
            lan_first,
            lan_members,
        }
    }

    // Ids fit in u32: the addressing (checked to match the graph) holds at
    // most 2^14 links and 2^15 LAN members.
    fn link(&self, l: usize) -> u32 {
        l as u32
    }

    fn lan(&self, lan: usize, member: usize) -> u32 {
        (self.lan_first[lan] + member) as u32
    }

    fn decode(&self, id: u32) -> Option<Hop> {
        let id = id as usize;
        if id < self.links {
            return Some(Hop::Link(id));
        }
        let &(lan, member) = self.lan_members.get(id - self.links)?;
        Some(Hop::Lan(lan, member))
    }
}

/// A stub host's first hops toward its router(s), as the module
/// documentation defines them; `None` if `s` is not a stub host.
fn stub_uplinks(g: &Graph, adj: &Adjacency, ids: &HopIds, s: usize) -> Option<Vec<u32>> {
    if g.nodes[s].router {
        return None;
    }
    let ends = adj.of(s);
    match adj.lans_of(s) {
        [] => {
            let &(_, _, peer) = ends.first()?;
            if !g.nodes[peer].router || ends.iter().any(|e| e.2 != peer) {
                return None;
            }
            let cheapest = ends.iter().map(|e| g.links[e.0].cost).min()?;
            Some(
                ends.iter()
                    .filter(|e| g.links[e.0].cost == cheapest)
                    .map(|e| ids.link(e.0))
                    .collect(),
            )
        }
        &[(lan, _)] if ends.is_empty() => {
            let routers: Vec<u32> = g.lans[lan]
                .members
                .iter()
                .enumerate()
                .filter(|&(_, &m)| g.nodes[m].router)
                .map(|(k, _)| ids.lan(lan, k))
                .collect();
            (!routers.is_empty()).then_some(routers)
        }
        _ => None,
    }
}

/// A stub host's routes: the two lab-wide prefixes through `uplinks`, and
/// a /32 for each reachable node whose loopback lies `outside` the lab.
fn stub_routes(
    ctx: &Ctx<'_>,
    search: &mut Search,
    s: usize,
    uplinks: &[u32],
    outside: &[usize],
) -> Vec<Route> {
    let hops = |v6: bool| -> Vec<NextHop> {
        uplinks
            .iter()
            .filter_map(|&h| nexthop(ctx.addr, ctx.ids, s, h, v6))
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
        search.run(ctx.g, ctx.adj, ctx.ids, s);
        let v4: Vec<Dest> = outside
            .iter()
            .filter(|&&v| v != s && search.dist[v] != UNREACHED)
            .map(|&v| Dest {
                key: v4_key(ctx.addr.nodes[v].loopback_v4),
                len: 32,
                hops: search.hops[v],
            })
            .collect();
        table.extend(materialize(
            ctx.addr,
            ctx.ids,
            &search.sets,
            s,
            aggregate(v4, 32),
            false,
        ));
    }
    table
}

/// A destination before it becomes a [`Route`]: the prefix as a number and
/// the interned set of first hops.
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
    /// A LAN: its subnet, or its members' addresses, which lie inside the
    /// subnet in member order and so keep the order.
    Lan(usize),
}

impl Targets {
    fn new(addr: &Addressing) -> Targets {
        let size = addr.nodes.len() + addr.links.len() + addr.lans.len();
        let mut v4 = Vec::with_capacity(size);
        let mut v6 = Vec::with_capacity(size);
        for (v, a) in addr.nodes.iter().enumerate() {
            v4.push((v4_key(a.loopback_v4), Target::Node(v)));
            v6.push((v6_key(a.loopback_v6), Target::Node(v)));
        }
        for (l, la) in addr.links.iter().enumerate() {
            v4.push((v4_key(la.v4[0]), Target::Link(l)));
            v6.push((bits(la.block_v6().addr).0, Target::Link(l)));
        }
        for (l, la) in addr.lans.iter().enumerate() {
            v4.push((bits(la.prefix_v4.addr).0, Target::Lan(l)));
            v6.push((bits(la.prefix_v6.addr).0, Target::Lan(l)));
        }
        v4.sort_unstable_by_key(|t| t.0);
        v6.sort_unstable_by_key(|t| t.0);
        Targets { v4, v6 }
    }
}

/// How node `s` reaches a link's or a LAN's addresses.
#[derive(Debug, Clone, Copy)]
enum SegmentReach {
    /// Attached to `s`, or out of reach: no route.
    None,
    /// The whole subnet through these first hops.
    Subnet(u32),
    /// Each member's address on its own, routed like the member (a link
    /// or LAN of hosts only); unreached members get nothing.
    Members,
}

/// How node `s` reaches every link and LAN, after its search: computed
/// once for both families. Buffers reused from one node to the next.
#[derive(Default)]
struct Reach {
    links: Vec<SegmentReach>,
    lans: Vec<SegmentReach>,
}

impl Reach {
    fn compute(&mut self, g: &Graph, addr: &Addressing, search: &mut Search, s: usize) {
        self.links.clear();
        for la in &addr.links {
            self.links.push(segment_reach(g, search, &la.ends, s));
        }
        self.lans.clear();
        for la in &addr.lans {
            self.lans.push(segment_reach(g, search, &la.members, s));
        }
    }
}

/// Node `s`'s routes, after `search` has run from `s` and `reach` has been
/// computed from it.
fn node_routes(
    addr: &Addressing,
    ids: &HopIds,
    targets: &Targets,
    search: &Search,
    reach: &Reach,
    s: usize,
) -> Vec<Route> {
    let mut table = Vec::new();
    for v6 in [false, true] {
        let (list, width) = if v6 {
            (&targets.v6, 128)
        } else {
            (&targets.v4, 32)
        };
        let host_len = width as u8;
        let mut agg = Aggregator::new(width);
        // Each member of a segment with no forwarding member, on its own.
        let members =
            |agg: &mut Aggregator, members: &[usize], v4s: &[Ipv4Addr], v6s: &[Ipv6Addr]| {
                for (i, &m) in members.iter().enumerate() {
                    if search.dist[m] == UNREACHED {
                        continue;
                    }
                    let key = if v6 { v6_key(v6s[i]) } else { v4_key(v4s[i]) };
                    agg.push(Dest {
                        key,
                        len: host_len,
                        hops: search.hops[m],
                    });
                }
            };
        for &(key, target) in list {
            match target {
                Target::Node(v) => {
                    if v != s && search.dist[v] != UNREACHED {
                        agg.push(Dest {
                            key,
                            len: host_len,
                            hops: search.hops[v],
                        });
                    }
                }
                Target::Link(l) => {
                    let la = &addr.links[l];
                    match reach.links[l] {
                        SegmentReach::None => {}
                        SegmentReach::Subnet(hops) => {
                            let len = if v6 { 64 } else { 31 };
                            agg.push(Dest { key, len, hops });
                        }
                        SegmentReach::Members => members(&mut agg, &la.ends, &la.v4, &la.v6),
                    }
                }
                Target::Lan(l) => {
                    let la = &addr.lans[l];
                    match reach.lans[l] {
                        SegmentReach::None => {}
                        SegmentReach::Subnet(hops) => {
                            let len = if v6 {
                                la.prefix_v6.len
                            } else {
                                la.prefix_v4.len
                            };
                            agg.push(Dest { key, len, hops });
                        }
                        SegmentReach::Members => members(&mut agg, &la.members, &la.v4, &la.v6),
                    }
                }
            }
        }
        table.extend(materialize(addr, ids, &search.sets, s, agg.finish(), v6));
    }
    table
}

/// How `s` reaches the link or LAN whose members are `members`: through
/// its nearest router member(s), or, if no member forwards, each member on
/// its own.
fn segment_reach(g: &Graph, search: &mut Search, members: &[usize], s: usize) -> SegmentReach {
    if members.contains(&s) {
        return SegmentReach::None;
    }
    let forwards = |m: usize| g.nodes[m].router && search.dist[m] != UNREACHED;
    let nearest = members
        .iter()
        .filter(|&&m| forwards(m))
        .map(|&m| search.dist[m])
        .min();
    match nearest {
        Some(d) => {
            let mut hops: Option<u32> = None;
            for &m in members {
                if forwards(m) && search.dist[m] == d {
                    let h = search.hops[m];
                    hops = Some(match hops {
                        None => h,
                        Some(acc) => search.sets.union(acc, h),
                    });
                }
            }
            hops.map_or(SegmentReach::None, SegmentReach::Subnet)
        }
        None if members.iter().any(|&m| search.dist[m] != UNREACHED) => SegmentReach::Members,
        None => SegmentReach::None,
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
    ids: &HopIds,
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
                .filter_map(|&h| nexthop(addr, ids, s, h, v6))
                .collect();
            Route { dest, nexthops }
        })
        .collect()
}

/// Node `s`'s next hop for first hop `hop`: across a link, the address of
/// the link's other end; across a LAN, the member's address on it.
fn nexthop(addr: &Addressing, ids: &HopIds, s: usize, hop: u32, v6: bool) -> Option<NextHop> {
    match ids.decode(hop)? {
        Hop::Link(link) => {
            let la = addr.links.get(link)?;
            let peer = la.end_of(s)?.other().index();
            let via = if v6 {
                IpAddr::V6(la.v6[peer])
            } else {
                IpAddr::V4(la.v4[peer])
            };
            Some(NextHop {
                via,
                dev: Dev::Link(link),
            })
        }
        Hop::Lan(lan, member) => {
            let la = addr.lans.get(lan)?;
            let via = if v6 {
                IpAddr::V6(*la.v6.get(member)?)
            } else {
                IpAddr::V4(*la.v4.get(member)?)
            };
            Some(NextHop {
                via,
                dev: Dev::Lan(lan),
            })
        }
    }
}

const UNREACHED: u64 = u64::MAX;

/// Sets of first hops ([`HopIds`]), interned so that equal sets have equal ids:
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

    fn single(&mut self, hop: u32) -> u32 {
        self.intern(vec![hop])
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
///
/// The search's vertices are the nodes (`0..n`) and the LANs (`n + lan`):
/// a member enters a LAN at the LAN's cost and leaves it to any member at
/// no cost. That makes crossing a LAN linear in its size instead of
/// quadratic (every member to every other). The source's own LANs are the
/// exception: it crosses them directly to each member, since each member
/// is then a first hop of its own.
#[derive(Default)]
struct Search {
    dist: Vec<u64>,
    hops: Vec<u32>,
    done: Vec<bool>,
    /// Distance, kind and vertex packed as `dist << 64 | node? << 63 |
    /// vertex`: one integer compares faster than a tuple, which counts in
    /// a debug build. See [`Search::key`] for why the kind is there.
    heap: BinaryHeap<Reverse<u128>>,
    sets: HopSets,
}

impl Search {
    fn run(&mut self, g: &Graph, adj: &Adjacency, ids: &HopIds, s: usize) {
        let n = g.nodes.len();
        let vertices = n + g.lans.len();
        self.dist.clear();
        self.dist.resize(vertices, UNREACHED);
        self.hops.clear();
        self.hops.resize(vertices, u32::MAX);
        self.done.clear();
        self.done.resize(vertices, false);
        self.heap.clear();
        self.sets.clear();
        self.dist[s] = 0;
        self.heap.push(Reverse(Search::key(0, s, n)));
        // No path worth having crosses one of the source's LANs from
        // elsewhere: the source crosses it directly for less.
        for &(lan, _) in adj.lans_of(s) {
            self.done[n + lan] = true;
        }
        while let Some(Reverse(packed)) = self.heap.pop() {
            let (d, v) = ((packed >> 64) as u64, (packed as u64 & !(1 << 63)) as usize);
            if self.done[v] {
                continue;
            }
            self.done[v] = true;
            if v >= n {
                // A LAN: every member is reached at the LAN's distance,
                // the crossing's cost already paid on entering.
                let via = self.hops[v];
                for &m in &g.lans[v - n].members {
                    self.relax(m, d, via, n);
                }
                continue;
            }
            let u = v;
            // Hosts are reached but never left: no path transits one.
            if u != s && !g.nodes[u].router {
                continue;
            }
            for &(l, _, w) in adj.of(u) {
                // Costs are at least 1 (validated), so every node on a
                // shortest path to `w` is done before `w` is, and its set
                // of first hops is complete when `w` takes it over.
                let nd = d + u64::from(g.links[l].cost);
                let via = if u == s {
                    self.sets.single(ids.link(l))
                } else {
                    self.hops[u]
                };
                self.relax(w, nd, via, n);
            }
            for &(lan, pos) in adj.lans_of(u) {
                let nd = d + u64::from(g.lans[lan].cost);
                if u == s {
                    for (k, &m) in g.lans[lan].members.iter().enumerate() {
                        if k != pos {
                            let via = self.sets.single(ids.lan(lan, k));
                            self.relax(m, nd, via, n);
                        }
                    }
                } else {
                    let via = self.hops[u];
                    self.relax(n + lan, nd, via, n);
                }
            }
        }
    }

    /// Offers vertex `v` a path of length `nd` with first hops `via`.
    fn relax(&mut self, v: usize, nd: u64, via: u32, n: usize) {
        if nd < self.dist[v] {
            self.dist[v] = nd;
            self.hops[v] = via;
            self.heap.push(Reverse(Search::key(nd, v, n)));
        } else if nd == self.dist[v] && !self.done[v] {
            self.hops[v] = self.sets.union(self.hops[v], via);
        }
    }

    /// The heap key of vertex `v` at distance `d`. At equal distance LANs
    /// come out before nodes: a LAN hands its members their distance at
    /// no cost, so a member at distance `d` must not be finished before
    /// every LAN at `d` has offered it its first hops. (A LAN at `d` was
    /// entered from a node at `d` minus at least 1, so it is on the heap
    /// before any node at `d` comes out.)
    fn key(d: u64, v: usize, n: usize) -> u128 {
        let node = u128::from(v < n) << 63;
        u128::from(d) << 64 | node | v as u128
    }
}

pub mod plan_routes;
pub mod reachability;

#[cfg(test)]
mod tests;
