//! Test topologies: lines, trees, leaf-spines, campuses with LANs and random
//! graphs, built from a seeded generator so every failure reproduces from
//! its seed.

use super::{Graph, GraphLan, GraphLink, GraphNode};

/// A small seeded generator (the run seeds' SplitMix64): enough for
/// shaping test graphs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        netproof_proto::seed::splitmix64(&mut self.0)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

pub fn add(g: &mut Graph, name: &str, router: bool) -> usize {
    g.nodes.push(GraphNode {
        name: name.to_string(),
        router,
        loopback_v4: None,
        static_routes: true,
    });
    g.nodes.len() - 1
}

pub fn link(g: &mut Graph, a: usize, b: usize, cost: u32) -> usize {
    g.links.push(GraphLink { a, b, cost });
    g.links.len() - 1
}

pub fn lan(g: &mut Graph, name: &str, members: &[usize], cost: u32) -> usize {
    g.lans.push(GraphLan {
        name: name.to_string(),
        members: members.to_vec(),
        cost,
    });
    g.lans.len() - 1
}

/// `h0 - r1 - ... - r(n-2) - h(n-1)`: routers in a row, a host at each end.
pub fn line(n: usize) -> Graph {
    let mut g = Graph::default();
    for i in 0..n {
        let router = i != 0 && i + 1 != n;
        add(
            &mut g,
            &format!("{}{i}", if router { "r" } else { "h" }),
            router,
        );
        if i > 0 {
            link(&mut g, i - 1, i, 1);
        }
    }
    g
}

/// A random tree of `n` nodes: node `i` hangs under a random earlier node.
/// Nodes that end up with children are routers, leaves are hosts, so every
/// leaf is a stub host.
pub fn tree(n: usize, rng: &mut Rng) -> Graph {
    let mut g = Graph::default();
    let mut parent = vec![usize::MAX; n];
    for (i, p) in parent.iter_mut().enumerate().skip(1) {
        *p = rng.below(i);
    }
    let mut has_child = vec![false; n];
    for &p in parent.iter().skip(1) {
        has_child[p] = true;
    }
    for (i, &router) in has_child.iter().enumerate() {
        add(&mut g, &format!("n{i}"), router);
    }
    for (i, &p) in parent.iter().enumerate().skip(1) {
        link(&mut g, p, i, 1 + rng.below(3) as u32);
    }
    g
}

/// `spines` spines fully meshed with `leaves` leaves, `hosts` hosts under
/// each leaf. Nodes in plan order: spines, then each leaf followed by its
/// hosts; links: the spine-leaf mesh, then the host links.
pub fn leaf_spine(spines: usize, leaves: usize, hosts: usize) -> Graph {
    let mut g = Graph::default();
    for s in 0..spines {
        add(&mut g, &format!("spine{s}"), true);
    }
    let mut leaf_ids = Vec::new();
    let mut host_ids = Vec::new();
    for l in 0..leaves {
        leaf_ids.push(add(&mut g, &format!("leaf{l}"), true));
        for h in 0..hosts {
            host_ids.push((leaf_ids[l], add(&mut g, &format!("host{l}-{h}"), false)));
        }
    }
    for &leaf in &leaf_ids {
        for s in 0..spines {
            link(&mut g, s, leaf, 1);
        }
    }
    for (leaf, host) in host_ids {
        link(&mut g, leaf, host, 1);
    }
    g
}

/// A campus: `cores` core routers, each linked to each of `floors` floor
/// routers, and under each floor router a LAN of `desks` hosts (the
/// router first among the LAN's members; no LAN without desks). Nodes in
/// plan order: the cores, then each floor router followed by its desks.
pub fn campus(cores: usize, floors: usize, desks: usize) -> Graph {
    let mut g = Graph::default();
    for c in 0..cores {
        add(&mut g, &format!("core{c}"), true);
    }
    let mut lans = Vec::new();
    for f in 0..floors {
        let router = add(&mut g, &format!("floor{f}"), true);
        for c in 0..cores {
            link(&mut g, c, router, 1);
        }
        let mut members = vec![router];
        for d in 0..desks {
            members.push(add(&mut g, &format!("desk{f}-{d}"), false));
        }
        lans.push(members);
    }
    for (f, members) in lans.iter().enumerate() {
        if members.len() >= 2 {
            lan(&mut g, &format!("lan{f}"), members, 1);
        }
    }
    g
}

/// A random graph of up to `max_nodes` nodes: a random forest plus extra
/// links (parallel ones included) and a few LANs (on random members,
/// overlapping and parallel to links), random costs, a mix of routers and
/// hosts, sometimes disconnected. Never a self-link.
pub fn random(max_nodes: usize, rng: &mut Rng) -> Graph {
    let n = 1 + rng.below(max_nodes);
    let mut g = Graph::default();
    for i in 0..n {
        let router = rng.chance(60);
        add(
            &mut g,
            &format!("{}{i}", if router { "r" } else { "h" }),
            router,
        );
    }
    if n < 2 {
        return g;
    }
    for i in 1..n {
        // Leave about one node in ten unattached to its predecessors, so
        // some graphs fall apart into several parts.
        if rng.chance(90) {
            let p = rng.below(i);
            link(&mut g, p, i, 1 + rng.below(4) as u32);
        }
    }
    for _ in 0..rng.below(n + 1) {
        let a = rng.below(n);
        let b = rng.below(n);
        if a != b {
            link(&mut g, a, b, 1 + rng.below(4) as u32);
        }
    }
    for l in 0..rng.below(4) {
        // Distinct members: the first few of a shuffle of all nodes.
        let size = 2 + rng.below(n.min(8) - 1);
        let mut members: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            members.swap(i, rng.below(i + 1));
        }
        members.truncate(size);
        lan(
            &mut g,
            &format!("lan{l}"),
            &members,
            1 + rng.below(4) as u32,
        );
    }
    g
}

/// One of the shapes above, chosen and sized by the generator.
pub fn any(rng: &mut Rng) -> Graph {
    match rng.below(5) {
        0 => line(2 + rng.below(12)),
        1 => tree(1 + rng.below(40), rng),
        2 => leaf_spine(1 + rng.below(3), 1 + rng.below(4), rng.below(4)),
        3 => campus(1 + rng.below(3), 1 + rng.below(4), rng.below(6)),
        _ => random(30, rng),
    }
}
