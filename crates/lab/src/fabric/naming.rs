//! Interface names for link ends and LAN members, the names of the bridge
//! and its ports in a LAN's own namespace, and the way back from a name to
//! the link or LAN.
//!
//! Every link end and every LAN membership becomes an interface in its
//! node's namespace. Its name:
//!
//! - is at most 15 bytes (the kernel's `IFNAMSIZ` is 16, with the NUL),
//! - is made of `a`-`z`, `0`-`9` and `-` only (so it is safe in a shell,
//!   in a file name and in `/proc/sys/net/*/conf/<name>`), and does not
//!   start with `-` (tools would take it for an option),
//! - is unique among the interfaces of its node, and never `lo`, `all` or
//!   `default` (the loopback device and the two sysctl directories that
//!   are not interfaces).
//!
//! A link end's name is the peer node's name, and a LAN interface's name
//! is the LAN's name, when that fits and no other interface of the node
//! would get the same name; it names the neighbour or the segment, which is
//! what a person reading `ip route` or a capture wants to know. Otherwise
//! (a name longer than 15 bytes, two links to the same peer, a LAN named
//! like a peer, two long names alike in their first bytes) it is the name
//! cut short, followed by `-1`, `-2`, …, the first number that gives a name
//! not yet used on that node. A name with other characters has them
//! lower-cased or turned into `-` first. The node's link ends come first
//! (in link order), then its LANs (in LAN order), when numbers are handed
//! out. Names depend only on the graph, so they are the same on every run.
//!
//! A LAN's own namespace holds the bridge, always called [`LAN_BRIDGE`],
//! and one port per member: the bridge's end of the veth whose other end is
//! the member's LAN interface. A port is named after its member node by the
//! same rules, unique within the LAN's namespace and never the bridge's
//! name.
//!
//! Since a name may be cut, messages should not show it alone: [`Naming`]
//! maps each name back to its link and end or its LAN and member, and
//! [`Naming::describe`] renders "interface `xyz` (link 3: `a`--`b`, end
//! `a`)" or "interface `office` (LAN 1: `office`, member `h2`)".

use std::collections::{HashMap, HashSet};

use super::{Adjacency, Dev, End, FabricError, Graph, validate};

/// The longest interface name the kernel accepts, in bytes.
pub const IFNAME_MAX: usize = 15;

/// The bridge's name in every LAN's namespace.
pub const LAN_BRIDGE: &str = "br0";

/// Names an interface must not take: the loopback device, and the two
/// entries of `/proc/sys/net/ipv{4,6}/conf/` that are not interfaces.
const RESERVED: [&str; 3] = ["lo", "all", "default"];

/// Names a bridge port must not take: those, and the bridge's.
const RESERVED_IN_LAN: [&str; 4] = ["lo", "all", "default", LAN_BRIDGE];

/// One end of one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkEnd {
    /// The link's index in plan order.
    pub link: usize,
    /// Which end.
    pub end: End,
}

/// One member of one LAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LanMember {
    /// The LAN's index in plan order.
    pub lan: usize,
    /// The member's place in the LAN's member list.
    pub member: usize,
}

/// What an interface of a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attachment {
    Link(LinkEnd),
    Lan(LanMember),
}

/// Every interface name of the lab, and the reverse mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Naming {
    /// Per link, the names at end `a` and end `b`.
    links: Vec<[String; 2]>,
    /// Per LAN, per member, the member's interface on the LAN.
    lans: Vec<Vec<String>>,
    /// Per LAN, per member, the bridge port in the LAN's namespace.
    ports: Vec<Vec<String>>,
    /// Per node, interface name -> what it is attached to.
    nodes: Vec<HashMap<String, Attachment>>,
    /// Per node, device -> interface name.
    devs: Vec<HashMap<Dev, String>>,
}

impl Naming {
    /// The interface name at `end` of `link`, if the link exists.
    pub fn interface(&self, link: usize, end: End) -> Option<&str> {
        self.links.get(link).map(|n| n[end.index()].as_str())
    }

    /// The interface name of member `member_pos` (its place in the LAN's
    /// member list) on `lan`, in that member's namespace, if both exist.
    pub fn lan_interface(&self, lan: usize, member_pos: usize) -> Option<&str> {
        self.lans.get(lan)?.get(member_pos).map(String::as_str)
    }

    /// The name, in `lan`'s own namespace, of the bridge port that leads to
    /// member `member_pos`, if both exist. The bridge is [`LAN_BRIDGE`].
    pub fn lan_port(&self, lan: usize, member_pos: usize) -> Option<&str> {
        self.ports.get(lan)?.get(member_pos).map(String::as_str)
    }

    /// The member that bridge port `name` of `lan` leads to, as its place
    /// in the LAN's member list. Linear in the LAN's size.
    pub fn lan_port_member(&self, lan: usize, name: &str) -> Option<usize> {
        self.ports.get(lan)?.iter().position(|p| p == name)
    }

    /// The name of `node`'s interface for `dev` (as a route's next hop
    /// names it), if `node` is on that link or LAN.
    pub fn dev(&self, node: usize, dev: Dev) -> Option<&str> {
        self.devs.get(node)?.get(&dev).map(String::as_str)
    }

    /// The link end that interface `name` of `node` belongs to, if it is
    /// a link end.
    pub fn link_end(&self, node: usize, name: &str) -> Option<LinkEnd> {
        match self.nodes.get(node)?.get(name)? {
            Attachment::Link(e) => Some(*e),
            Attachment::Lan(_) => None,
        }
    }

    /// The LAN membership that interface `name` of `node` belongs to, if
    /// it is a LAN interface.
    pub fn lan_member(&self, node: usize, name: &str) -> Option<LanMember> {
        match self.nodes.get(node)?.get(name)? {
            Attachment::Lan(m) => Some(*m),
            Attachment::Link(_) => None,
        }
    }

    /// For messages: "interface `xyz` (link 3: `a`--`b`, end `a`)" or
    /// "interface `office` (LAN 1: `office`, member `h2`)", or `None` if
    /// `node` has no interface `name`. `g` must be the graph the names
    /// were made for.
    pub fn describe(&self, g: &Graph, node: usize, name: &str) -> Option<String> {
        let node_name = |i: usize| g.nodes.get(i).map(|n| n.name.as_str());
        match *self.nodes.get(node)?.get(name)? {
            Attachment::Link(LinkEnd { link, end }) => {
                let l = g.links.get(link)?;
                let (a, b) = (node_name(l.a)?, node_name(l.b)?);
                let at = if end == End::A { a } else { b };
                Some(format!(
                    "interface `{name}` (link {link}: `{a}`--`{b}`, end `{at}`)"
                ))
            }
            Attachment::Lan(LanMember { lan, member }) => {
                let l = g.lans.get(lan)?;
                let at = node_name(*l.members.get(member)?)?;
                Some(format!(
                    "interface `{name}` (LAN {lan}: `{}`, member `{at}`)",
                    l.name
                ))
            }
        }
    }
}

/// Names every link end and LAN member of `g`, and every LAN's bridge
/// ports, as the [module documentation](self) says.
pub fn name_interfaces(g: &Graph) -> Result<Naming, FabricError> {
    validate(g)?;
    let adj = Adjacency::new(g);
    let mut links = vec![[String::new(), String::new()]; g.links.len()];
    let mut lans: Vec<Vec<String>> = g
        .lans
        .iter()
        .map(|l| vec![String::new(); l.members.len()])
        .collect();
    let mut nodes = Vec::with_capacity(g.nodes.len());
    let mut devs = Vec::with_capacity(g.nodes.len());
    for u in 0..g.nodes.len() {
        let (ends, memberships) = (adj.of(u), adj.lans_of(u));
        let wanted: Vec<String> = ends
            .iter()
            .map(|&(_, _, peer)| sanitize(&g.nodes[peer].name))
            .chain(memberships.iter().map(|&(l, _)| sanitize(&g.lans[l].name)))
            .collect();
        let mut names = assign(&wanted, &RESERVED).into_iter();
        let mut by_name = HashMap::with_capacity(wanted.len());
        let mut by_dev = HashMap::with_capacity(wanted.len());
        for (&(link, end, _), name) in ends.iter().zip(&mut names) {
            by_name.insert(name.clone(), Attachment::Link(LinkEnd { link, end }));
            by_dev.insert(Dev::Link(link), name.clone());
            links[link][end.index()] = name;
        }
        for (&(lan, member), name) in memberships.iter().zip(&mut names) {
            by_name.insert(name.clone(), Attachment::Lan(LanMember { lan, member }));
            by_dev.insert(Dev::Lan(lan), name.clone());
            lans[lan][member] = name;
        }
        nodes.push(by_name);
        devs.push(by_dev);
    }
    let ports = g
        .lans
        .iter()
        .map(|l| {
            let wanted: Vec<String> = l
                .members
                .iter()
                .map(|&m| sanitize(&g.nodes[m].name))
                .collect();
            assign(&wanted, &RESERVED_IN_LAN)
        })
        .collect();
    Ok(Naming {
        links,
        lans,
        ports,
        nodes,
        devs,
    })
}

/// Names for the interfaces of one namespace, one per `wanted` name (all
/// sanitized), in the same order: each wanted name as it is when it fits,
/// no other wanted name is the same and it is not `reserved`; otherwise
/// cut and numbered. The names come out distinct.
fn assign(wanted: &[String], reserved: &[&str]) -> Vec<String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for w in wanted {
        *count.entry(w.as_str()).or_default() += 1;
    }
    let mut names: Vec<Option<String>> = vec![None; wanted.len()];
    let mut used: HashSet<String> = HashSet::new();
    // First the names that need no suffix, so that a peer called `x-1`
    // keeps its name even when a suffixed `x` comes first.
    for (i, w) in wanted.iter().enumerate() {
        if w.len() <= IFNAME_MAX && count[w.as_str()] == 1 && !reserved.contains(&w.as_str()) {
            used.insert(w.clone());
            names[i] = Some(w.clone());
        }
    }
    // Then the rest. The counter is shared by names that agree in their
    // first bytes, so that a spine with 500 leaves called
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
            // Sanitized names are ASCII, so any byte is a char boundary.
            let stem =
                w[..w.len().min(IFNAME_MAX.saturating_sub(suffix.len()))].trim_end_matches('-');
            let stem = if stem.is_empty() { "if" } else { stem };
            let candidate = format!("{stem}{suffix}");
            if !used.contains(&candidate) {
                break candidate;
            }
        };
        used.insert(name.clone());
        names[i] = Some(name);
    }
    // Every slot was filled by one of the two passes above.
    names.into_iter().map(Option::unwrap_or_default).collect()
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

    /// `node`'s interface names: its link ends in link order, then its
    /// LAN interfaces in LAN order.
    fn names_at(n: &Naming, g: &Graph, node: usize) -> Vec<String> {
        let lans = g.lans.iter().enumerate().filter_map(|(i, l)| {
            let k = l.members.iter().position(|&m| m == node)?;
            Some(n.lan_interface(i, k).unwrap().to_string())
        });
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
            .chain(lans)
            .collect()
    }

    fn assert_name_shape(name: &str) {
        assert!(!name.is_empty() && name.len() <= IFNAME_MAX, "{name:?}");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{name:?}"
        );
        assert!(!RESERVED.contains(&name), "{name:?}");
        assert!(!name.starts_with('-'), "{name:?}");
    }

    fn assert_well_formed(n: &Naming, g: &Graph) {
        for u in 0..g.nodes.len() {
            let names = names_at(n, g, u);
            let unique: HashSet<_> = names.iter().collect();
            assert_eq!(unique.len(), names.len(), "node {u}: {names:?}");
            for name in &names {
                assert_name_shape(name);
                // The reverse mapping leads back to this very end or
                // membership, and the device to this very name.
                if let Some(end) = n.link_end(u, name) {
                    let l = &g.links[end.link];
                    assert_eq!([l.a, l.b][end.end.index()], u);
                    assert_eq!(n.interface(end.link, end.end), Some(name.as_str()));
                    assert_eq!(n.dev(u, Dev::Link(end.link)), Some(name.as_str()));
                    assert_eq!(n.lan_member(u, name), None);
                } else {
                    let m = n.lan_member(u, name).unwrap();
                    assert_eq!(g.lans[m.lan].members[m.member], u);
                    assert_eq!(n.lan_interface(m.lan, m.member), Some(name.as_str()));
                    assert_eq!(n.dev(u, Dev::Lan(m.lan)), Some(name.as_str()));
                }
                assert!(n.describe(g, u, name).is_some());
            }
        }
        for (i, l) in g.lans.iter().enumerate() {
            let ports: Vec<&str> = (0..l.members.len())
                .map(|k| n.lan_port(i, k).unwrap())
                .collect();
            let unique: HashSet<_> = ports.iter().collect();
            assert_eq!(unique.len(), ports.len(), "LAN {i}: {ports:?}");
            for (k, port) in ports.iter().enumerate() {
                assert_name_shape(port);
                assert_ne!(*port, LAN_BRIDGE);
                assert_eq!(n.lan_port_member(i, port), Some(k));
            }
            assert_eq!(n.lan_port(i, l.members.len()), None);
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
            for lan in &mut g.lans {
                let len = 1 + rng.below(18);
                lan.name = (0..len)
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

    #[test]
    fn a_lan_interface_takes_the_lans_name() {
        let mut g = Graph::default();
        let r = add(&mut g, "r", true);
        let h1 = add(&mut g, "h1", false);
        let h2 = add(&mut g, "h2", false);
        link(&mut g, r, h1, 1);
        lan(&mut g, "office", &[r, h1, h2], 1);
        let n = name_interfaces(&g).unwrap();
        assert_eq!(names_at(&n, &g, r), ["h1", "office"]);
        assert_eq!(names_at(&n, &g, h1), ["r", "office"]);
        assert_eq!(names_at(&n, &g, h2), ["office"]);
        assert_eq!(n.lan_interface(0, 2), Some("office"));
        assert_eq!(n.lan_interface(0, 3), None);
        assert_eq!(n.lan_interface(1, 0), None);
        assert_eq!(n.dev(h2, Dev::Lan(0)), Some("office"));
        assert_eq!(n.dev(h2, Dev::Link(0)), None);
        assert_eq!(
            n.lan_member(h1, "office"),
            Some(LanMember { lan: 0, member: 1 })
        );
        assert_eq!(n.link_end(h1, "office"), None);
        assert_eq!(n.lan_member(h1, "r"), None);
        assert_eq!(
            n.describe(&g, h2, "office").unwrap(),
            "interface `office` (LAN 0: `office`, member `h2`)"
        );
        assert_well_formed(&n, &g);
    }

    #[test]
    fn a_lan_named_like_a_peer_or_too_long_is_numbered() {
        let mut g = Graph::default();
        let r = add(&mut g, "r", true);
        let x = add(&mut g, "x", true);
        link(&mut g, r, x, 1);
        lan(&mut g, "x", &[r, x], 1);
        lan(&mut g, "Second Floor West Wing", &[r, x], 2);
        let n = name_interfaces(&g).unwrap();
        // At `r` the link to `x` and the LAN `x` would clash: both numbered.
        assert_eq!(names_at(&n, &g, r), ["x-1", "x-2", "second-floor-1"]);
        // At `x` the peer is `r`, so the LAN keeps its name.
        assert_eq!(names_at(&n, &g, x), ["r", "x", "second-floor-1"]);
        assert_well_formed(&n, &g);
    }

    #[test]
    fn bridge_ports_are_named_after_members_and_never_the_bridge() {
        let mut g = Graph::default();
        let a = add(&mut g, "br0", true);
        let b = add(&mut g, "edge-router-in-rack-7", true);
        let c = add(&mut g, "edge-router-in-rack-8", false);
        let d = add(&mut g, "d", false);
        lan(&mut g, "l", &[a, b, c, d], 1);
        let n = name_interfaces(&g).unwrap();
        let ports: Vec<_> = (0..4).map(|k| n.lan_port(0, k).unwrap()).collect();
        assert_eq!(ports, ["br0-1", "edge-router-i-1", "edge-router-i-2", "d"]);
        assert_eq!(n.lan_port_member(0, "d"), Some(3));
        assert_eq!(n.lan_port_member(0, LAN_BRIDGE), None);
        assert_eq!(n.lan_port(1, 0), None);
        assert_well_formed(&n, &g);
    }

    #[test]
    fn a_big_lan_is_named_quickly() {
        // 2000 members whose names agree in their first 13 bytes: the
        // ports share one counter, as a hub's interfaces do.
        let mut g = Graph::default();
        let members: Vec<usize> = (0..2000)
            .map(|i| add(&mut g, &format!("aaaaaaaaaaaaaaaa-{i}"), false))
            .collect();
        lan(&mut g, "big", &members, 1);
        let n = name_interfaces(&g).unwrap();
        assert_well_formed(&n, &g);
    }
}
