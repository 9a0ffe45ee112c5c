//! What "converged" means for the rendered routing of a lab.
//!
//! Derived from the nodes' [`RouterIntent`]s alone (pure): every OSPF
//! adjacency Full with the peer's router id, every BGP session (one per
//! family) Established, on every interface with BFD as many BFD sessions
//! up as the peer addresses it reaches there (an OSPF adjacency's IPv4 and
//! link-local IPv6 neighbour, a BGP session's address; OSPFv2 and BGP over
//! IPv4 to one node share one), and, inside each OSPF domain (routers
//! joined by OSPF links), every router holding the IPv4 and IPv6 loopbacks of every
//! other router and of the nodes attached to them; over each eBGP session,
//! the prefixes the peer originates itself (its loopback and listed
//! prefixes, not generated blocks) that both ends' policies let through.
//! What BGP passes on from further away depends on every policy on the
//! way, so it is not awaited: a case's expectations judge it.

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::config::{Family, NodeConfig, RouterIntent};
use super::ready::{Expectations, ExpectedRoute, ExpectedSession, Session};

/// The sessions and routes the rendered `configs` imply.
pub fn expectations(configs: &[NodeConfig]) -> Expectations {
    let intents: BTreeMap<&str, &RouterIntent> =
        configs.iter().map(|c| (c.node(), &c.intent)).collect();
    let mut e = Expectations::default();
    for r in intents.values() {
        for o in &r.ospf {
            if let Some(peer) = intents.get(o.peer.as_str()) {
                let s = ExpectedSession {
                    node: r.node.clone(),
                    session: Session::Ospf {
                        neighbour: peer.router_id,
                    },
                };
                if !e.sessions.contains(&s) {
                    e.sessions.push(s);
                }
            }
        }
        for n in &r.bgp {
            e.sessions.push(ExpectedSession {
                node: r.node.clone(),
                session: Session::Bgp { peer: n.address },
            });
        }
        e.sessions.extend(bfd(r, &intents));
    }
    for r in intents.values() {
        // A speaker puts what it learns in its own table, or nowhere.
        match r.speaker.map(|s| s.table) {
            Some(None) => continue,
            Some(Some(table)) => {
                e.tables.insert(r.node.clone(), table);
            }
            None => {}
        }
        for n in r.bgp.iter().filter(|n| !n.internal()) {
            let Some(peer) = intents.get(n.peer.as_str()) else {
                continue;
            };
            // The peer's half of the policy: what it exports to us.
            let peer_export = peer
                .bgp
                .iter()
                .find(|m| m.peer == r.node && m.family == n.family)
                .and_then(|m| m.export.prefixes.clone());
            let passes = |p: &IpNet| {
                n.import.prefixes.as_ref().is_none_or(|ps| ps.contains(p))
                    && peer_export.as_ref().is_none_or(|ps| ps.contains(p))
            };
            for o in &peer.originate {
                if matches!(o.what, netproof_plan::Originate::Generated { .. }) {
                    continue;
                }
                for p in o.prefixes(peer, n.family) {
                    let route = ExpectedRoute {
                        node: r.node.clone(),
                        prefix: p,
                    };
                    if passes(&p) && !e.routes.contains(&route) {
                        e.routes.push(route);
                    }
                }
            }
        }
    }
    for domain in ospf_domains(&intents) {
        let carried: Vec<(&str, IpNet)> = domain
            .iter()
            .flat_map(|r| {
                let own = Family::BOTH.map(|f| r.loopback(f));
                let attached = r
                    .attached
                    .iter()
                    .flat_map(|a| Family::BOTH.map(|f| a.loopback(f)));
                own.into_iter()
                    .chain(attached)
                    .map(move |p| (r.node.as_str(), p))
            })
            .collect();
        for r in &domain {
            for (owner, prefix) in &carried {
                if *owner != r.node {
                    e.routes.push(ExpectedRoute {
                        node: r.node.clone(),
                        prefix: *prefix,
                    });
                }
            }
        }
    }
    e
}

/// Which of a peer's addresses on a link a BFD session runs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PeerAddress {
    /// Its IPv4 address: OSPFv2's neighbour, and BGP over IPv4.
    V4,
    /// Its IPv6 link-local address: OSPFv3's neighbour.
    V6LinkLocal,
    /// Its global IPv6 address: BGP over IPv6.
    V6,
}

/// The BFD sessions `r` must have up, per interface: one per peer address
/// its BFD users there reach, when the peer runs a daemon too.
fn bfd(r: &RouterIntent, intents: &BTreeMap<&str, &RouterIntent>) -> Vec<ExpectedSession> {
    let mut peers: BTreeMap<&str, std::collections::BTreeSet<(&str, PeerAddress)>> =
        BTreeMap::new();
    for o in r.ospf.iter().filter(|o| o.bfd.is_some()) {
        if intents.contains_key(o.peer.as_str()) {
            let on = peers.entry(o.ifname.as_str()).or_default();
            on.insert((o.peer.as_str(), PeerAddress::V4));
            on.insert((o.peer.as_str(), PeerAddress::V6LinkLocal));
        }
    }
    for n in r.bgp.iter().filter(|n| n.bfd.is_some()) {
        if let (Some(ifname), true) = (&n.ifname, intents.contains_key(n.peer.as_str())) {
            let which = match n.family {
                Family::V4 => PeerAddress::V4,
                Family::V6 => PeerAddress::V6,
            };
            peers
                .entry(ifname.as_str())
                .or_default()
                .insert((n.peer.as_str(), which));
        }
    }
    peers
        .into_iter()
        .map(|(interface, p)| ExpectedSession {
            node: r.node.clone(),
            session: Session::Bfd {
                interface: interface.to_string(),
                count: p.len(),
            },
        })
        .collect()
}

/// The routers joined by OSPF links, each group in name order.
fn ospf_domains<'a>(intents: &BTreeMap<&str, &'a RouterIntent>) -> Vec<Vec<&'a RouterIntent>> {
    let names: Vec<&str> = intents
        .iter()
        .filter(|(_, r)| !r.ospf.is_empty())
        .map(|(n, _)| *n)
        .collect();
    let mut group: Vec<usize> = (0..names.len()).collect();
    fn root(group: &mut [usize], mut i: usize) -> usize {
        while group[i] != i {
            group[i] = group[group[i]];
            i = group[i];
        }
        i
    }
    for (i, n) in names.iter().enumerate() {
        for o in &intents[n].ospf {
            if let Some(j) = names.iter().position(|m| *m == o.peer) {
                let (a, b) = (root(&mut group, i), root(&mut group, j));
                group[a] = b;
            }
        }
    }
    let mut domains: BTreeMap<usize, Vec<&RouterIntent>> = BTreeMap::new();
    for (i, n) in names.iter().enumerate() {
        let r = root(&mut group, i);
        domains.entry(r).or_default().push(intents[n]);
    }
    domains.into_values().collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use netproof_plan::{Options, parse};

    use super::*;

    /// Two OSPF islands (r1--r2 and r3--r4, r2--r3 plain) and an eBGP
    /// session r2--r3; a host behind r1.
    const PLAN: &str = r#"
[plan]
name = "domains"
summary = "two OSPF domains joined by eBGP"
backend = "netns"

[[node]]
name = "h"
[[node]]
name = "r1"
role = "router"
[[node]]
name = "r2"
role = "router"
asn = 65001
[[node]]
name = "r3"
role = "router"
asn = 65002
originate = ["loopback", "198.18.30.0/24"]
[[node]]
name = "r4"
role = "router"

[[link]]
ends = ["h", "r1"]
[[link]]
ends = ["r1", "r2"]
ospf = true
[[link]]
ends = ["r2", "r3"]
[[link]]
ends = ["r3", "r4"]
ospf = true

[[bgp]]
ends = ["r2", "r3"]
b_to_a = { prefixes = ["198.18.30.0/24"] }
"#;

    #[test]
    fn adjacencies_sessions_and_each_domains_loopbacks() {
        let plan = parse(Path::new("d.toml"), PLAN, &Options::default()).unwrap();
        let configs = super::super::config::render(&plan).unwrap();
        let e = expectations(&configs);
        let ospf = e
            .sessions
            .iter()
            .filter(|s| matches!(s.session, Session::Ospf { .. }))
            .count();
        let bgp = e.sessions.len() - ospf;
        // r1<->r2 and r3<->r4, each seen from both ends; BGP one per family
        // at each end.
        assert_eq!((ospf, bgp), (4, 4));
        let routes_at = |node: &str| -> Vec<String> {
            e.routes
                .iter()
                .filter(|r| r.node == node)
                .map(|r| r.prefix.to_string())
                .collect()
        };
        let r1 = intents_of(&configs, "r1");
        let r2 = intents_of(&configs, "r2");
        let r3 = intents_of(&configs, "r3");
        // r2 holds r1's loopbacks and h's (attached to r1), nothing of the
        // other domain.
        let at_r2 = routes_at("r2");
        assert!(
            at_r2.contains(&r1.loopback(Family::V4).to_string()),
            "{at_r2:?}"
        );
        assert!(
            at_r2.contains(&r1.attached[0].loopback(Family::V6).to_string()),
            "{at_r2:?}"
        );
        assert!(
            !at_r2.contains(&r3.loopback(Family::V4).to_string()),
            "{at_r2:?}"
        );
        // Of what r3 originates, eBGP brings only what r3's export lets
        // through: its prefix, not its loopbacks.
        assert!(at_r2.contains(&"198.18.30.0/24".to_string()), "{at_r2:?}");
        assert_eq!(at_r2.len(), 5);
        // r3 gets nothing by eBGP: r2 originates nothing.
        assert_eq!(routes_at("r3").len(), 2);
        // r1 holds r2's two loopbacks, not its own.
        assert_eq!(routes_at("r1").len(), 2);
        assert!(!routes_at("r1").contains(&r1.loopback(Family::V4).to_string()));
        assert!(routes_at("r1").contains(&r2.loopback(Family::V6).to_string()));
    }

    #[test]
    fn bfd_counts_one_session_per_peer_address_on_each_interface() {
        // r1--r2 runs OSPF with BFD and an eBGP session with BFD over the
        // same link; r2--r3 runs OSPF without it; r3--r4 BGP with BFD on
        // the session only.
        let text = r#"
[plan]
name = "bfd"
summary = "BFD sessions to wait for"
backend = "netns"

[[node]]
name = "r1"
role = "router"
asn = 65001
[[node]]
name = "r2"
role = "router"
asn = 65002
[[node]]
name = "r3"
role = "router"
asn = 65002
[[node]]
name = "r4"
role = "router"
asn = 65004

[[link]]
ends = ["r1", "r2"]
ospf = true
bfd = true
[[link]]
ends = ["r2", "r3"]
ospf = true
[[link]]
ends = ["r3", "r4"]

[[bgp]]
ends = ["r1", "r2"]
[[bgp]]
ends = ["r3", "r4"]
bfd = true
"#;
        let plan = parse(Path::new("b.toml"), text, &Options::default()).unwrap();
        let configs = super::super::config::render(&plan).unwrap();
        let e = expectations(&configs);
        let mut bfd: Vec<(String, String, usize)> = e
            .sessions
            .iter()
            .filter_map(|s| match &s.session {
                Session::Bfd { interface, count } => {
                    Some((s.node.clone(), interface.clone(), *count))
                }
                _ => None,
            })
            .collect();
        bfd.sort();
        let ifname = |node: &str, peer: &str| -> String {
            let r = intents_of(&configs, node);
            r.ospf
                .iter()
                .find(|o| o.peer == peer)
                .map(|o| o.ifname.clone())
                .or_else(|| {
                    r.bgp
                        .iter()
                        .find(|n| n.peer == peer)
                        .and_then(|n| n.ifname.clone())
                })
                .unwrap()
        };
        // Over r1--r2: OSPFv2 and BGP over IPv4 share the neighbour's
        // address, OSPFv3 reaches its link-local one, BGP over IPv6 its
        // global one: three. Over r3--r4: one per BGP family.
        let mut want = vec![
            ("r1".to_string(), ifname("r1", "r2"), 3),
            ("r2".to_string(), ifname("r2", "r1"), 3),
            ("r3".to_string(), ifname("r3", "r4"), 2),
            ("r4".to_string(), ifname("r4", "r3"), 2),
        ];
        want.sort();
        assert_eq!(bfd, want);
    }

    fn intents_of<'a>(configs: &'a [NodeConfig], node: &str) -> &'a RouterIntent {
        &configs.iter().find(|c| c.node() == node).unwrap().intent
    }
}
