//! Interface names for link ends, and the way back from a name to the link.
//!
//! Every link end becomes an interface in its node's namespace. Its name:
//!
//! - is at most 15 bytes (the kernel's `IFNAMSIZ` is 16, with the NUL),
//! - is made of `a`-`z`, `0`-`9` and `-` only (so it is safe in a shell,
//!   in a file name and in `/proc/sys/net/*/conf/<name>`), and does not
//!   start with `-` (tools would take it for an option),
//! - is unique among the interfaces of its node, and never `lo`, `all` or
//!   `default` (the loopback device and the two sysctl directories that
//!   are not interfaces).
//!
//! The name is the peer node's name when that fits and no other link end
//! of the node would get the same name; it names the neighbour, which is
//! what a person reading `ip route` or a capture wants to know. Otherwise
//! (a name longer than 15 bytes, two links to the same peer, two long names
//! alike in their first bytes) it is the peer's name cut short, followed by
//! `-1`, `-2`, …, the first number that gives a name not yet used on that
//! node. A peer name with other characters has them lower-cased or turned
//! into `-` first. Names depend only on the graph, so they are the same on
//! every run.
//!
//! Since a name may be cut, messages should not show it alone: [`Naming`]
//! maps each name back to its link and end, and
//! [`Naming::describe`] renders "interface `xyz` (link 3: `a`--`b`, end
//! `a`)".

use std::collections::{HashMap, HashSet};

use super::{Adjacency, End, FabricError, Graph, validate};

/// The longest interface name the kernel accepts, in bytes.
pub const IFNAME_MAX: usize = 15;

/// Names an interface must not take: the loopback device, and the two
/// entries of `/proc/sys/net/ipv{4,6}/conf/` that are not interfaces.
const RESERVED: [&str; 3] = ["lo", "all", "default"];

/// One end of one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkEnd {
    /// The link's index in plan order.
    pub link: usize,
    /// Which end.
    pub end: End,
}

/// Every link end's interface name, and the reverse mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Naming {
    /// Per link, the names at end `a` and end `b`.
    links: Vec<[String; 2]>,
    /// Per node, interface name -> link end.
    nodes: Vec<HashMap<String, LinkEnd>>,
}

impl Naming {
    /// The interface name at `end` of `link`, if the link exists.
    pub fn interface(&self, link: usize, end: End) -> Option<&str> {
        self.links.get(link).map(|n| n[end.index()].as_str())
    }

    /// The link end that interface `name` of `node` belongs to.
    pub fn link_end(&self, node: usize, name: &str) -> Option<LinkEnd> {
        self.nodes.get(node)?.get(name).copied()
    }

    /// For messages: "interface `xyz` (link 3: `a`--`b`, end `a`)", or
    /// `None` if `node` has no interface `name`. `g` must be the graph the
    /// names were made for.
    pub fn describe(&self, g: &Graph, node: usize, name: &str) -> Option<String> {
        let LinkEnd { link, end } = self.link_end(node, name)?;
        let l = g.links.get(link)?;
        let node_name = |i: usize| g.nodes.get(i).map(|n| n.name.as_str());
        let (a, b) = (node_name(l.a)?, node_name(l.b)?);
        let at = if end == End::A { a } else { b };
        Some(format!(
            "interface `{name}` (link {link}: `{a}`--`{b}`, end `{at}`)"
        ))
    }
}

/// Names every link end of `g`, as the [module documentation](self) says.
pub fn name_interfaces(g: &Graph) -> Result<Naming, FabricError> {
    validate(g)?;
    let adj = Adjacency::new(g);
    let mut links = vec![[String::new(), String::new()]; g.links.len()];
    let mut nodes = Vec::with_capacity(g.nodes.len());
    for u in 0..g.nodes.len() {
        let ends = adj.of(u);
        let wanted: Vec<String> = ends
            .iter()
            .map(|&(_, _, peer)| sanitize(&g.nodes[peer].name))
            .collect();
        let mut count: HashMap<&str, usize> = HashMap::new();
        for w in &wanted {
            *count.entry(w.as_str()).or_default() += 1;
        }
        let mut names: Vec<Option<String>> = vec![None; ends.len()];
        let mut used: HashSet<String> = HashSet::new();
        // First the names that need no suffix, so that a peer called
        // `x-1` keeps its name even when a suffixed `x` comes first.
        for (i, w) in wanted.iter().enumerate() {
            if w.len() <= IFNAME_MAX && count[w.as_str()] == 1 && !RESERVED.contains(&w.as_str()) {
                used.insert(w.clone());
                names[i] = Some(w.clone());
            }
        }
        // Then the rest. The counter is shared by names that agree in
        // their first bytes, so that a spine with 500 leaves called
        // `datacenter-leaf-NNN` finds each free number at once instead of
        // retrying from 1 (which would be quadratic in the node's degree).
        let mut counters: HashMap<String, usize> = HashMap::new();
        for (i, w) in wanted.iter().enumerate() {
            if names[i].is_some() {
                continue;
            }
            let key: String = w.chars().take(IFNAME_MAX - 2).collect();
            let n = counters.entry(key).or_insert(0);
            let name = loop {
                *n += 1;
                let suffix = format!("-{n}");
                let stem = w[..w.len().min(IFNAME_MAX - suffix.len())].trim_end_matches('-');
                let stem = if stem.is_empty() { "if" } else { stem };
                let candidate = format!("{stem}{suffix}");
                if !used.contains(&candidate) {
                    break candidate;
                }
            };
            used.insert(name.clone());
            names[i] = Some(name);
        }
        let mut by_name = HashMap::with_capacity(ends.len());
        for (&(link, end, _), name) in ends.iter().zip(names) {
            // Every slot was filled by one of the two passes above.
            let name = name.unwrap_or_default();
            by_name.insert(name.clone(), LinkEnd { link, end });
            links[link][end.index()] = name;
        }
        nodes.push(by_name);
    }
    Ok(Naming { links, nodes })
}

/// A node name as interface-name material: ASCII letters lower-cased, digits
/// and `-` kept, anything else `-`, and no leading `-` (tools would take
/// the name for an option). Never empty.
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    let s = s.trim_start_matches('-');
    if s.is_empty() {
        "if".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::shapes::*;
    use super::*;

    fn names_at(n: &Naming, g: &Graph, node: usize) -> Vec<String> {
        g.links
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                let mut v = Vec::new();
                if l.a == node {
                    v.push(n.interface(i, End::A).unwrap().to_string());
                }
                if l.b == node {
                    v.push(n.interface(i, End::B).unwrap().to_string());
                }
                v
            })
            .collect()
    }

    fn assert_well_formed(n: &Naming, g: &Graph) {
        for u in 0..g.nodes.len() {
            let names = names_at(n, g, u);
            let unique: HashSet<_> = names.iter().collect();
            assert_eq!(unique.len(), names.len(), "node {u}: {names:?}");
            for name in &names {
                assert!(!name.is_empty() && name.len() <= IFNAME_MAX, "{name:?}");
                assert!(
                    name.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                    "{name:?}"
                );
                assert!(!RESERVED.contains(&name.as_str()), "{name:?}");
                assert!(!name.starts_with('-'), "{name:?}");
                // The reverse mapping leads back to this very end.
                let end = n.link_end(u, name).unwrap();
                let l = &g.links[end.link];
                assert_eq!([l.a, l.b][end.end.index()], u);
                assert_eq!(n.interface(end.link, end.end), Some(name.as_str()));
            }
        }
    }

    #[test]
    fn short_unique_peer_names_are_used_as_they_are() {
        let g = line(3);
        let n = name_interfaces(&g).unwrap();
        assert_eq!(n.interface(0, End::A), Some("r1"));
        assert_eq!(n.interface(0, End::B), Some("h0"));
        assert_eq!(n.interface(1, End::A), Some("h2"));
        assert_eq!(n.interface(1, End::B), Some("r1"));
    }

    #[test]
    fn parallel_links_get_numbered_names() {
        let mut g = Graph::default();
        let a = add(&mut g, "a", true);
        let b = add(&mut g, "core", true);
        link(&mut g, a, b, 1);
        link(&mut g, a, b, 1);
        let n = name_interfaces(&g).unwrap();
        assert_eq!(names_at(&n, &g, a), ["core-1", "core-2"]);
        assert_eq!(names_at(&n, &g, b), ["a-1", "a-2"]);
    }

    #[test]
    fn long_names_are_cut_and_numbered_within_15_bytes() {
        let mut g = Graph::default();
        let spine = add(&mut g, "spine", true);
        for i in 0..12 {
            let leaf = add(&mut g, &format!("datacenter-leaf-{i:03}"), true);
            link(&mut g, spine, leaf, 1);
        }
        let n = name_interfaces(&g).unwrap();
        let names = names_at(&n, &g, spine);
        assert_eq!(names[0], "datacenter-le-1");
        assert_eq!(names[9], "datacenter-l-10");
        assert_well_formed(&n, &g);
    }

    #[test]
    fn a_suffixed_name_never_takes_a_peers_own_name() {
        // `x` twice needs suffixes; `x-1` is a real peer and keeps its name.
        let mut g = Graph::default();
        let u = add(&mut g, "u", true);
        let x = add(&mut g, "x", true);
        let x1 = add(&mut g, "x-1", true);
        link(&mut g, u, x, 1);
        link(&mut g, u, x, 1);
        link(&mut g, u, x1, 1);
        let n = name_interfaces(&g).unwrap();
        assert_eq!(names_at(&n, &g, u), ["x-2", "x-3", "x-1"]);
    }

    #[test]
    fn reserved_and_odd_names_are_mapped() {
        let mut g = Graph::default();
        let u = add(&mut g, "u", true);
        for name in ["lo", "Edge_A", "", "all", "Ünïcode.name", "-"] {
            let v = add(&mut g, name, true);
            link(&mut g, u, v, 1);
        }
        let n = name_interfaces(&g).unwrap();
        assert_eq!(
            names_at(&n, &g, u),
            ["lo-1", "edge-a", "if-1", "all-1", "n-code-name", "if-2"]
        );
        assert_well_formed(&n, &g);
    }

    #[test]
    fn names_are_well_formed_for_random_colliding_names() {
        let mut rng = Rng::new(0x5eed_0002);
        let alphabet = b"ab-_X.9";
        for _ in 0..200 {
            let mut g = random(20, &mut rng);
            for node in &mut g.nodes {
                // Short names from a tiny alphabet collide often; long ones
                // collide after cutting.
                let len = if rng.chance(50) {
                    1 + rng.below(3)
                } else {
                    14 + rng.below(6)
                };
                node.name = (0..len)
                    .map(|_| alphabet[rng.below(alphabet.len())] as char)
                    .collect();
            }
            let n = name_interfaces(&g).unwrap();
            assert_well_formed(&n, &g);
            assert_eq!(n, name_interfaces(&g).unwrap(), "deterministic");
        }
    }

    #[test]
    fn describe_names_the_link_and_the_end() {
        let mut g = Graph::default();
        let a = add(&mut g, "client-a", false);
        let b = add(&mut g, "a-very-long-router-name", true);
        link(&mut g, a, b, 1);
        let n = name_interfaces(&g).unwrap();
        let name = n.interface(0, End::A).unwrap();
        assert_eq!(name, "a-very-long-r-1");
        assert_eq!(
            n.describe(&g, a, name).unwrap(),
            "interface `a-very-long-r-1` (link 0: `client-a`--`a-very-long-router-name`, end `client-a`)"
        );
        assert_eq!(n.describe(&g, b, name), None);
        assert_eq!(n.link_end(9, name), None);
    }

    #[test]
    fn a_high_degree_node_is_named_quickly() {
        // 2000 peers whose names agree in their first 13 bytes: linear with
        // the shared counter, about two million string builds without it.
        let mut g = Graph::default();
        let hub = add(&mut g, "hub", true);
        for i in 0..2000 {
            let p = add(&mut g, &format!("aaaaaaaaaaaaaaaa-{i}"), false);
            link(&mut g, hub, p, 1);
        }
        let n = name_interfaces(&g).unwrap();
        assert_well_formed(&n, &g);
    }
}
