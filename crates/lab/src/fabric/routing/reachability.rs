//! Which nodes of a topology cannot reach each other, summarised.
//!
//! The routes of [`routes`](super::routes) never pass through a host, so a
//! plan may be wired end to end and still leave nodes unable to talk: a
//! line of a hundred hosts builds a lab where `n0` reaches `n1` and
//! nothing further. [`gaps`] finds such pairs without listing them all:
//! one [`Gap`] per pair of parts of the topology that no link or LAN joins
//! at all, and one per part in which some pairs are joined only through
//! hosts, each with an example pair, how many pairs are affected and, for
//! the second kind, the hosts on a path between the example pair (the
//! nodes that would join them as routers).
//!
//! It follows the routing rules exactly: two nodes reach each other when
//! they share a link or LAN, or when a chain of routers joins them (a
//! router's *domain*: the routers connected to it by links and LANs whose
//! ends are routers). A host belongs to the domains of its router
//! neighbours; its lab-wide routes as a stub host do not make an address
//! reachable that its router cannot reach. Pure, and quadratic in the
//! number of nodes: a 1000-node leaf-spine takes about 0.13 s in a debug
//! build, less than its routes take to compute.

use std::collections::{HashSet, VecDeque};

use super::super::{FabricError, Graph, validate};

/// Nodes that cannot reach each other (indexes into the graph's nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gap {
    /// No link or LAN joins the part of the topology holding `a` to the
    /// one holding `b`: every pair across the two is unreachable.
    Apart {
        /// The first node of its part, in plan order.
        a: usize,
        /// The first node of the other part.
        b: usize,
        /// How many pairs of nodes the two parts make.
        pairs: usize,
    },
    /// In one connected part, `a` and `b` (and `pairs - 1` other pairs)
    /// are joined only through hosts, which do not forward.
    ThroughHosts {
        /// The first node, in plan order, that cannot reach some node of
        /// its part.
        a: usize,
        /// The first node it cannot reach.
        b: usize,
        /// How many pairs of nodes of the part cannot reach each other.
        pairs: usize,
        /// The hosts on a shortest path (by hops) from `a` to `b`: as
        /// routers they would join the two.
        hosts: Vec<usize>,
    },
}

/// Finds every [`Gap`] of `g`: first those between parts (each pair of
/// parts once, in plan order of their first nodes), then those within
/// parts.
pub fn gaps(g: &Graph) -> Result<Vec<Gap>, FabricError> {
    validate(g)?;
    let n = g.nodes.len();
    // Which part of the wiring each node is in.
    let mut wired = Sets::new(n);
    // Which domain each router is in: routers joined by links and LANs.
    let mut domains = Sets::new(n);
    // Who shares a link or LAN with whom (an unordered pair, low first).
    let mut adjacent: HashSet<(usize, usize)> = HashSet::new();
    let pair = |a: usize, b: usize| (a.min(b), a.max(b));
    for l in &g.links {
        wired.join(l.a, l.b);
        adjacent.insert(pair(l.a, l.b));
        if g.nodes[l.a].router && g.nodes[l.b].router {
            domains.join(l.a, l.b);
        }
    }
    for lan in &g.lans {
        let first = lan.members[0];
        let mut router: Option<usize> = None;
        for (k, &m) in lan.members.iter().enumerate() {
            wired.join(first, m);
            for &o in &lan.members[k + 1..] {
                adjacent.insert(pair(m, o));
            }
            if g.nodes[m].router {
                if let Some(r) = router {
                    domains.join(r, m);
                }
                router = Some(m);
            }
        }
    }
    // Each node's domains: its own if it forwards, else its router
    // neighbours'. Sorted, deduplicated: few per node.
    let mut of: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (v, node) in g.nodes.iter().enumerate() {
        if node.router {
            of[v].push(domains.find(v));
        }
    }
    let mut attach = |host: usize, router: usize, g: &Graph| {
        if !g.nodes[host].router && g.nodes[router].router {
            of[host].push(domains.find(router));
        }
    };
    for l in &g.links {
        attach(l.a, l.b, g);
        attach(l.b, l.a, g);
    }
    for lan in &g.lans {
        for &m in &lan.members {
            for &o in &lan.members {
                attach(m, o, g);
            }
        }
    }
    for d in &mut of {
        d.sort_unstable();
        d.dedup();
    }
    let reaches = |a: usize, b: usize| {
        adjacent.contains(&pair(a, b)) || of[a].iter().any(|d| of[b].binary_search(d).is_ok())
    };

    let part: Vec<usize> = (0..n).map(|v| wired.find(v)).collect();
    // Parts in plan order of their first node, with their sizes.
    let mut parts: Vec<(usize, usize)> = Vec::new();
    for v in 0..n {
        match parts.iter_mut().find(|(first, _)| part[*first] == part[v]) {
            Some((_, size)) => *size += 1,
            None => parts.push((v, 1)),
        }
    }
    let mut out = Vec::new();
    for (i, &(a, size_a)) in parts.iter().enumerate() {
        for &(b, size_b) in &parts[i + 1..] {
            out.push(Gap::Apart {
                a,
                b,
                pairs: size_a * size_b,
            });
        }
    }
    for &(first, _) in &parts {
        let members: Vec<usize> = (0..n).filter(|&v| part[v] == part[first]).collect();
        let mut example = None;
        let mut pairs = 0;
        for (k, &a) in members.iter().enumerate() {
            for &b in &members[k + 1..] {
                if !reaches(a, b) {
                    pairs += 1;
                    example.get_or_insert((a, b));
                }
            }
        }
        if let Some((a, b)) = example {
            out.push(Gap::ThroughHosts {
                a,
                b,
                pairs,
                hosts: hosts_between(g, a, b),
            });
        }
    }
    Ok(out)
}

/// The hosts strictly between `a` and `b` on a path with fewest hops
/// (links and LAN crossings), in path order.
fn hosts_between(g: &Graph, a: usize, b: usize) -> Vec<usize> {
    let n = g.nodes.len();
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for l in &g.links {
        next[l.a].push(l.b);
        next[l.b].push(l.a);
    }
    for lan in &g.lans {
        for &m in &lan.members {
            next[m].extend(lan.members.iter().copied().filter(|&o| o != m));
        }
    }
    let mut from = vec![usize::MAX; n];
    from[a] = a;
    let mut queue = VecDeque::from([a]);
    while let Some(v) = queue.pop_front() {
        if v == b {
            break;
        }
        for &w in &next[v] {
            if from[w] == usize::MAX {
                from[w] = v;
                queue.push_back(w);
            }
        }
    }
    let mut path = Vec::new();
    let mut at = from[b];
    while at != a && at != usize::MAX {
        path.push(at);
        at = from[at];
    }
    path.reverse();
    path.retain(|&v| !g.nodes[v].router);
    path
}

/// Disjoint sets of node indexes (union by size, path halving).
struct Sets {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl Sets {
    fn new(n: usize) -> Sets {
        Sets {
            parent: (0..n).collect(),
            size: vec![1; n],
        }
    }

    fn find(&mut self, mut v: usize) -> usize {
        while self.parent[v] != v {
            self.parent[v] = self.parent[self.parent[v]];
            v = self.parent[v];
        }
        v
    }

    fn join(&mut self, a: usize, b: usize) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a] < self.size[b] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b] = a;
        self.size[a] += self.size[b];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fabric::shapes::{self, Rng, add, lan, link};
    use crate::fabric::{Fabric, Graph};

    /// `n` hosts in a row, none of which forwards.
    fn host_line(n: usize) -> Graph {
        let mut g = Graph::default();
        for i in 0..n {
            add(&mut g, &format!("n{i}"), false);
            if i > 0 {
                link(&mut g, i - 1, i, 1);
            }
        }
        g
    }

    #[test]
    fn a_line_of_hosts_is_one_gap_with_an_example_pair_and_the_host_between() {
        let g = host_line(100);
        let gaps = gaps(&g).unwrap();
        // 100 * 99 / 2 pairs, of which the 99 neighbours reach each other.
        assert_eq!(
            gaps,
            vec![Gap::ThroughHosts {
                a: 0,
                b: 2,
                pairs: 4950 - 99,
                hosts: vec![1],
            }]
        );
    }

    #[test]
    fn routers_in_between_close_the_gap() {
        assert_eq!(gaps(&shapes::line(100)).unwrap(), vec![]);
        assert_eq!(gaps(&shapes::leaf_spine(2, 4, 8)).unwrap(), vec![]);
    }

    #[test]
    fn unconnected_parts_are_one_gap_per_pair_of_parts() {
        let mut g = Graph::default();
        let a = add(&mut g, "a", true);
        let b = add(&mut g, "b", false);
        link(&mut g, a, b, 1);
        let c = add(&mut g, "c", false);
        let d = add(&mut g, "d", false);
        assert_eq!(
            gaps(&g).unwrap(),
            vec![
                Gap::Apart { a, b: c, pairs: 2 },
                Gap::Apart { a, b: d, pairs: 2 },
                Gap::Apart {
                    a: c,
                    b: d,
                    pairs: 1
                },
            ]
        );
    }

    #[test]
    fn hosts_on_a_lan_reach_each_other_and_a_router_joins_two_lans() {
        let mut g = Graph::default();
        let h: Vec<usize> = (0..4)
            .map(|i| add(&mut g, &format!("h{i}"), false))
            .collect();
        let r = add(&mut g, "r", true);
        lan(&mut g, "left", &[h[0], h[1], r], 1);
        lan(&mut g, "right", &[h[2], h[3], r], 1);
        assert_eq!(gaps(&g).unwrap(), vec![]);
        // Without the router's forwarding, the two LANs are apart in all
        // but wiring: 2 * 2 pairs across them.
        g.nodes[r].router = false;
        assert_eq!(
            gaps(&g).unwrap(),
            vec![Gap::ThroughHosts {
                a: h[0],
                b: h[2],
                pairs: 4,
                hosts: vec![r],
            }]
        );
    }

    /// The summary agrees with the routes the fabric computes: on random
    /// graphs, a router reaches a node's loopback by its routes (followed
    /// hop by hop) exactly when no gap holds the pair. (Routers only: a
    /// stub host's two lab-wide routes cover every address, reachable or
    /// not.)
    #[test]
    fn gaps_agree_with_the_computed_routes_on_random_graphs() {
        for seed in 0..60 {
            let mut rng = Rng::new(seed);
            let g = shapes::random(24, &mut rng);
            let f = Fabric::plan(&g).unwrap();
            let gaps = gaps(&g).unwrap();
            let n = g.nodes.len();
            // Recompute the pair set the gaps summarise, to compare with.
            let counted: usize = gaps
                .iter()
                .map(|gap| match gap {
                    Gap::Apart { pairs, .. } | Gap::ThroughHosts { pairs, .. } => *pairs,
                })
                .sum();
            // Delivery is symmetric under these rules; a pair counts if
            // either way fails.
            let pairs = (0..n)
                .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
                .filter(|&(a, b)| !delivers(&g, &f, a, b) || !delivers(&g, &f, b, a))
                .count();
            assert_eq!(counted, pairs, "seed {seed}: {gaps:?}");
        }
    }

    /// Whether a packet from `a` to `b`'s loopback arrives, following each
    /// node's routes (first next hop) and stopping at a host that would
    /// have to forward.
    fn delivers(g: &Graph, f: &Fabric, a: usize, b: usize) -> bool {
        let target = std::net::IpAddr::V4(f.addressing.nodes[b].loopback_v4);
        let owner = |ip: std::net::IpAddr| {
            f.addressing
                .links
                .iter()
                .find_map(|l| {
                    (0..2).find_map(|e| (ip == std::net::IpAddr::V4(l.v4[e])).then_some(l.ends[e]))
                })
                .or_else(|| {
                    f.addressing.lans.iter().find_map(|l| {
                        l.v4.iter()
                            .position(|&x| std::net::IpAddr::V4(x) == ip)
                            .map(|k| l.members[k])
                    })
                })
        };
        let mut at = a;
        for _ in 0..=g.nodes.len() {
            if at == b {
                return true;
            }
            if at != a && !g.nodes[at].router {
                return false;
            }
            // A neighbour on a shared segment is delivered to directly.
            let on_link = g
                .links
                .iter()
                .any(|l| (l.a == at && l.b == b) || (l.b == at && l.a == b));
            let on_lan = g
                .lans
                .iter()
                .any(|l| l.members.contains(&at) && l.members.contains(&b));
            if on_link || on_lan {
                return true;
            }
            let Some(route) = f.routes.lookup(at, target) else {
                return false;
            };
            let Some(next) = route.nexthops.first().and_then(|h| owner(h.via)) else {
                return false;
            };
            at = next;
        }
        false
    }
}
