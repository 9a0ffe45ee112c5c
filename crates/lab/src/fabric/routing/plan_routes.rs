//! The plan's own routes (`[[route]]`) on top of the computed ones.
//!
//! [`apply`] puts each plan route into its node's table, replacing a
//! computed route to the same prefix or adding one, and then follows every
//! plan route hop by hop through the resulting tables: a route that comes
//! back to a node it has already passed loops, and is refused with the
//! path it takes. A route on a node whose routes a routing daemon owns is
//! refused too: the fabric installs nothing there for the daemon to fight
//! with.
//!
//! Pure, like the rest of the fabric: it reads the graph and the
//! addressing and edits a [`RouteTable`], so `netproof check` refuses a
//! looping route before anything exists.

use std::net::IpAddr;

use super::{NextHop, Route, RouteTable};
use crate::fabric::{Addressing, Dev, Graph, Prefix};

/// A route the plan gives: on `node`, traffic to `dest` goes to the
/// neighbour `via` (node indexes into the graph).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanRoute {
    /// The node that gets the route.
    pub node: usize,
    /// The neighbour it sends to, on a link or LAN the two share.
    pub via: usize,
    /// The destination.
    pub dest: Prefix,
}

/// Why a plan route cannot be installed as written. `route` is its index
/// in the list given to [`apply`], so the caller can point at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanRouteError {
    /// The route names a node the graph does not have.
    #[error("the route names node {index}, but the graph has only {nodes} nodes")]
    UnknownNode {
        /// The route's index.
        route: usize,
        /// The missing node index.
        index: usize,
        /// How many nodes the graph has.
        nodes: usize,
    },
    /// `via` shares no link or LAN with `node`.
    #[error("`{via}` shares no link or LAN with `{node}`")]
    NotNeighbours {
        /// The route's index.
        route: usize,
        /// The node's name.
        node: String,
        /// The next hop's name.
        via: String,
    },
    /// The node's routes belong to a routing daemon.
    #[error("node `{node}`'s routes belong to its routing daemon, which the fabric leaves alone")]
    DaemonOwned {
        /// The route's index.
        route: usize,
        /// The node's name.
        node: String,
    },
    /// Followed hop by hop, the route comes back to a node it passed.
    #[error("the route to {dest} from `{node}` loops: {path}")]
    Loops {
        /// The route's index.
        route: usize,
        /// The destination.
        dest: Prefix,
        /// The node's name.
        node: String,
        /// The nodes it passes, the repeated one last, joined by ` -> `.
        path: String,
    },
}

impl PlanRouteError {
    /// What to do about it, for the `hint:` line.
    pub fn hint(&self) -> &'static str {
        match self {
            PlanRouteError::UnknownNode { .. } => "name nodes the plan has in `node` and `via`",
            PlanRouteError::NotNeighbours { .. } => {
                "`via` names a neighbour: a node on a `[[link]]` or `[[lan]]` shared with `node`"
            }
            PlanRouteError::DaemonOwned { .. } => {
                "configure the route in the node's routing daemon, or remove this `[[route]]`"
            }
            PlanRouteError::Loops { .. } => {
                "a route must lead to its destination without coming back; fix or remove this `[[route]]`"
            }
        }
    }

    /// The index of the route at fault.
    pub fn route(&self) -> usize {
        match self {
            PlanRouteError::UnknownNode { route, .. }
            | PlanRouteError::NotNeighbours { route, .. }
            | PlanRouteError::DaemonOwned { route, .. }
            | PlanRouteError::Loops { route, .. } => *route,
        }
    }
}

/// Installs `given` into `table` (computed for `g` and `addr`), as the
/// [module documentation](self) says.
pub fn apply(
    g: &Graph,
    addr: &Addressing,
    table: &mut RouteTable,
    given: &[PlanRoute],
) -> Result<(), PlanRouteError> {
    let name = |i: usize| g.nodes[i].name.clone();
    for (k, r) in given.iter().enumerate() {
        for index in [r.node, r.via] {
            if index >= g.nodes.len() || index >= table.nodes.len() {
                return Err(PlanRouteError::UnknownNode {
                    route: k,
                    index,
                    nodes: g.nodes.len(),
                });
            }
        }
        if !g.nodes[r.node].static_routes {
            return Err(PlanRouteError::DaemonOwned {
                route: k,
                node: name(r.node),
            });
        }
        let hop = next_hop(g, addr, r.node, r.via, r.dest.addr.is_ipv4()).ok_or_else(|| {
            PlanRouteError::NotNeighbours {
                route: k,
                node: name(r.node),
                via: name(r.via),
            }
        })?;
        let routes = &mut table.nodes[r.node];
        routes.retain(|x| x.dest != r.dest);
        routes.push(Route {
            dest: r.dest,
            nexthops: vec![hop],
        });
    }
    // Follow each plan route from its node; a loop is a plan error.
    for (k, r) in given.iter().enumerate() {
        let target = r.dest.addr;
        let mut seen = vec![r.node];
        let mut at = r.node;
        loop {
            if owns(addr, at, target) {
                break;
            }
            let Some(route) = table.lookup(at, target) else {
                break;
            };
            let Some(h) = route.nexthops.first() else {
                break;
            };
            let Some(next) = owner_of(addr, h.via) else {
                break;
            };
            if seen.contains(&next) {
                let path: Vec<&str> = seen
                    .iter()
                    .chain(std::iter::once(&next))
                    .map(|&i| g.nodes[i].name.as_str())
                    .collect();
                return Err(PlanRouteError::Loops {
                    route: k,
                    dest: r.dest,
                    node: name(r.node),
                    path: path.join(" -> "),
                });
            }
            seen.push(next);
            at = next;
        }
    }
    Ok(())
}

/// The next hop from `node` to its neighbour `via`: the neighbour's
/// address on a segment the two share, a link first, else a LAN.
fn next_hop(g: &Graph, addr: &Addressing, node: usize, via: usize, v4: bool) -> Option<NextHop> {
    let on_link = g
        .links
        .iter()
        .enumerate()
        .find(|(_, l)| (l.a == node && l.b == via) || (l.a == via && l.b == node));
    if let Some((i, l)) = on_link {
        let a = &addr.links[i];
        let end = usize::from(l.a != via);
        return Some(NextHop {
            via: if v4 {
                IpAddr::V4(a.v4[end])
            } else {
                IpAddr::V6(a.v6[end])
            },
            dev: Dev::Link(i),
        });
    }
    g.lans.iter().enumerate().find_map(|(i, lan)| {
        let a = &addr.lans[i];
        lan.members.contains(&node).then_some(())?;
        let k = a.position(via)?;
        Some(NextHop {
            via: if v4 {
                IpAddr::V4(a.v4[k])
            } else {
                IpAddr::V6(a.v6[k])
            },
            dev: Dev::Lan(i),
        })
    })
}

/// Whether `node` owns `ip` or has it on a directly connected segment.
fn owns(a: &Addressing, node: usize, ip: IpAddr) -> bool {
    let n = &a.nodes[node];
    if ip == IpAddr::V4(n.loopback_v4) || ip == IpAddr::V6(n.loopback_v6) {
        return true;
    }
    a.links.iter().any(|l| {
        l.ends.contains(&node) && (l.subnet_v4().contains(ip) || l.subnet_v6().contains(ip))
    }) || a.lans.iter().any(|l| {
        l.position(node).is_some() && (l.prefix_v4.contains(ip) || l.prefix_v6.contains(ip))
    })
}

/// The node that owns the interface address `ip`.
fn owner_of(a: &Addressing, ip: IpAddr) -> Option<usize> {
    for l in &a.links {
        for e in 0..2 {
            if ip == IpAddr::V4(l.v4[e]) || ip == IpAddr::V6(l.v6[e]) {
                return Some(l.ends[e]);
            }
        }
    }
    for l in &a.lans {
        for (k, &m) in l.members.iter().enumerate() {
            if ip == IpAddr::V4(l.v4[k]) || ip == IpAddr::V6(l.v6[k]) {
                return Some(m);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::fabric::shapes::{add, lan, line, link};
    use crate::fabric::{Fabric, Graph};

    fn prefix(a: [u8; 4], len: u8) -> Prefix {
        Prefix::v4(Ipv4Addr::from(a), len)
    }

    /// A square of routers r0-r1-r2-r3-r0, where r0 reaches r2's loopback
    /// through r1 and r3 (equal cost).
    fn square() -> Graph {
        let mut g = Graph::default();
        for i in 0..4 {
            add(&mut g, &format!("r{i}"), true);
        }
        for i in 0..4 {
            link(&mut g, i, (i + 1) % 4, 1);
        }
        g
    }

    #[test]
    fn a_plan_route_replaces_the_computed_route_to_its_prefix() {
        let g = square();
        let mut f = Fabric::plan(&g).unwrap();
        let r2 = f.addressing.nodes[2].loopback_v4;
        let dest = Prefix::v4(r2, 32);
        let before = f.routes.lookup(0, r2.into()).unwrap().nexthops.len();
        assert_eq!(before, 2, "ECMP over r1 and r3 before the plan route");
        apply(
            &g,
            &f.addressing,
            &mut f.routes,
            &[PlanRoute {
                node: 0,
                via: 3,
                dest,
            }],
        )
        .unwrap();
        let route = f.routes.lookup(0, r2.into()).unwrap();
        assert_eq!(route.dest, dest);
        // Link 3 is r3--r0; r3 is its end `a`.
        assert_eq!(
            route.nexthops,
            vec![NextHop {
                via: IpAddr::V4(f.addressing.links[3].v4[0]),
                dev: Dev::Link(3),
            }]
        );
        assert_eq!(
            f.routes.nodes[0].iter().filter(|r| r.dest == dest).count(),
            1
        );
    }

    #[test]
    fn a_plan_route_for_a_new_prefix_is_added_and_may_go_through_a_lan() {
        let mut g = Graph::default();
        let (a, b) = (add(&mut g, "a", true), add(&mut g, "b", true));
        lan(&mut g, "seg", &[a, b], 1);
        let mut f = Fabric::plan(&g).unwrap();
        let dest = prefix([198, 18, 200, 0], 24);
        apply(
            &g,
            &f.addressing,
            &mut f.routes,
            &[PlanRoute {
                node: a,
                via: b,
                dest,
            }],
        )
        .unwrap();
        let route = f.routes.nodes[a].iter().find(|r| r.dest == dest).unwrap();
        assert_eq!(route.nexthops[0].dev, Dev::Lan(0));
        assert_eq!(
            route.nexthops[0].via,
            IpAddr::V4(f.addressing.lans[0].v4[1])
        );
    }

    #[test]
    fn two_routes_pointing_at_each_other_loop_and_the_path_is_named() {
        let (err, _) = refused(&line(3), &[(0, 1), (1, 0)]);
        assert_eq!(err.route(), 0);
        assert_eq!(
            err.to_string(),
            "the route to 198.18.200.0/24 from `h0` loops: h0 -> r1 -> h0"
        );
    }

    /// Applies `(node, via)` routes to 198.18.200.0/24 on `g`'s fabric;
    /// returns the error and the table as left.
    fn refused(g: &Graph, routes: &[(usize, usize)]) -> (PlanRouteError, RouteTable) {
        let mut f = Fabric::plan(g).unwrap();
        let given: Vec<PlanRoute> = routes
            .iter()
            .map(|&(node, via)| PlanRoute {
                node,
                via,
                dest: prefix([198, 18, 200, 0], 24),
            })
            .collect();
        let err = apply(g, &f.addressing, &mut f.routes, &given).unwrap_err();
        (err, f.routes)
    }

    #[test]
    fn a_route_to_a_node_that_is_not_a_neighbour_is_refused() {
        let (err, _) = refused(&line(3), &[(0, 2)]);
        assert_eq!(err.to_string(), "`h2` shares no link or LAN with `h0`");
        assert!(
            err.hint().starts_with("`via` names a neighbour"),
            "{}",
            err.hint()
        );
    }

    #[test]
    fn a_route_on_a_daemon_owned_node_is_refused() {
        let mut g = line(3);
        g.nodes[1].static_routes = false;
        let (err, table) = refused(&g, &[(1, 2)]);
        assert!(
            matches!(err, PlanRouteError::DaemonOwned { route: 0, .. }),
            "{err:?}"
        );
        assert!(table.nodes[1].is_empty(), "nothing was installed");
        assert!(err.hint().contains("routing daemon"), "{}", err.hint());
    }

    #[test]
    fn a_route_naming_a_missing_node_is_an_error_not_a_panic() {
        let (err, _) = refused(&line(2), &[(0, 7)]);
        assert!(
            matches!(err, PlanRouteError::UnknownNode { index: 7, .. }),
            "{err:?}"
        );
    }
}
