//! Test topologies: lines, trees, leaf-spines and random graphs, built from
//! a seeded generator so every failure reproduces from its seed.

use super::{Graph, GraphLink, GraphNode};

/// A small seeded generator (splitmix64): enough for shaping test graphs,
/// and no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
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
    });
    g.nodes.len() - 1
}

pub fn link(g: &mut Graph, a: usize, b: usize, cost: u32) -> usize {
    g.links.push(GraphLink { a, b, cost });
    g.links.len() - 1
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

/// A random graph of up to `max_nodes` nodes: a random forest plus extra
/// links (parallel ones included), random costs, a mix of routers and
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
    g
}

/// One of the shapes above, chosen and sized by the generator.
pub fn any(rng: &mut Rng) -> Graph {
    match rng.below(4) {
        0 => line(2 + rng.below(12)),
        1 => tree(1 + rng.below(40), rng),
        2 => leaf_spine(1 + rng.below(3), 1 + rng.below(4), rng.below(4)),
        _ => random(30, rng),
    }
}
