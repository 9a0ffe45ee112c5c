//! Readiness of routing: polled from the daemons and the kernel, never
//! slept.
//!
//! An [`Expectations`] lists the sessions that must be up (an OSPF
//! adjacency by the neighbour's router id, a BGP session by the peer's
//! address, the BFD sessions on an interface by their number) and the
//! routes that must be in a node's FIB (by prefix, as the kernel holds it:
//! what forwards packets, whoever installed it). [`wait_converged`] asks
//! every node's daemon and kernel once per round, all nodes at once, until
//! nothing is missing, and fails at its bound naming each session or route
//! still missing. Sessions come from the daemons' control sockets
//! ([`control`]: BIRD's `show ospf neighbors` / `show protocols all` /
//! `show bfd sessions`, FRR's `show ip ospf neighbor json` / `show bgp
//! summary json` / `show bfd peers json`); routes from `ip -j route` inside
//! the node, the same view a packet gets. A node whose expectations all held is not asked
//! again until every node's did; then one more full round must confirm
//! them all at once (a session that dropped meanwhile is caught there).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use netproof_plan::Daemon;

use super::{NodeRouter, RouterError, Routers, control, query};
use crate::{Cancel, NodeHandle};

/// A session that must be up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// An OSPFv2 adjacency, in state Full, with the router `neighbour`.
    Ospf {
        /// The neighbour's router id.
        neighbour: Ipv4Addr,
    },
    /// A BGP session, Established, with `peer`.
    Bgp {
        /// The peer's address.
        peer: IpAddr,
    },
    /// At least `count` BFD sessions up on `interface`. Counted, not
    /// named: an OSPFv3 adjacency's session runs to the neighbour's
    /// link-local address, which the plan does not fix. A fault injected
    /// before BFD is up would be detected by the protocols' own timers,
    /// seconds later than the plan means to measure.
    Bfd {
        /// The node's interface.
        interface: String,
        /// How many sessions: one per peer address the interface's BFD
        /// users reach (OSPFv2 and BGP over IPv4 share the neighbour's
        /// address and so one session).
        count: usize,
    },
}

/// A session one node must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedSession {
    /// The node.
    pub node: String,
    /// The session.
    pub session: Session,
}

/// A route one node's FIB must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedRoute {
    /// The node.
    pub node: String,
    /// The destination, exactly as installed (`198.18.0.2/32`).
    pub prefix: IpNet,
}

/// What converged means for a lab.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    /// Sessions that must be up.
    pub sessions: Vec<ExpectedSession>,
    /// Routes that must be installed.
    pub routes: Vec<ExpectedRoute>,
    /// The kernel table a node's routes are looked for in, when not the
    /// main one (a BGP speaker's table of learned routes).
    pub tables: BTreeMap<String, u32>,
}

impl Expectations {
    /// Adds, for every node of `routers`, a route to every other one's
    /// loopback (its IPv4 address, and its IPv6 address with `v6`): what a
    /// connected routing domain that carries its loopbacks implies.
    pub fn loopbacks_everywhere<'a>(
        mut self,
        routers: impl IntoIterator<Item = &'a NodeHandle>,
        v6: bool,
    ) -> Expectations {
        let routers: Vec<&NodeHandle> = routers.into_iter().collect();
        for at in &routers {
            for other in routers.iter().filter(|o| o.name != at.name) {
                let addrs = std::iter::once(other.addr).chain(other.addr6.filter(|_| v6));
                for a in addrs {
                    self.routes.push(ExpectedRoute {
                        node: at.name.clone(),
                        prefix: IpNet::from(a),
                    });
                }
            }
        }
        self
    }
}

impl std::fmt::Display for ExpectedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.session {
            Session::Ospf { neighbour } => write!(
                f,
                "OSPF adjacency of `{}` with router {neighbour}",
                self.node
            ),
            Session::Bgp { peer } => write!(f, "BGP session of `{}` with {peer}", self.node),
            Session::Bfd { interface, count } => write!(
                f,
                "{count} BFD session(s) of `{}` on `{interface}`",
                self.node
            ),
        }
    }
}

/// What one node showed in one round.
#[derive(Debug, Default)]
struct Seen {
    neighbours: Vec<query::Neighbour>,
    peers: Vec<query::BgpPeer>,
    bfd: Vec<query::BfdSession>,
    routes: Vec<IpNet>,
}

/// What one node's expectations ask of it.
#[derive(Debug, Clone, Copy, Default)]
struct Want {
    ospf: bool,
    bgp: bool,
    bfd: bool,
    v4: bool,
    v6: bool,
    /// The kernel table its routes are looked for in, when not the main one.
    table: Option<u32>,
}

impl Want {
    fn of(expect: &Expectations, name: &str) -> Want {
        let sessions = expect.sessions.iter().filter(|s| s.node == name);
        let has = |f: fn(&Session) -> bool| sessions.clone().any(|s| f(&s.session));
        let routes = expect.routes.iter().filter(|r| r.node == name);
        Want {
            ospf: has(|s| matches!(s, Session::Ospf { .. })),
            bgp: has(|s| matches!(s, Session::Bgp { .. })),
            bfd: has(|s| matches!(s, Session::Bfd { .. })),
            v4: routes.clone().any(|r| r.prefix.addr().is_ipv4()),
            v6: routes.clone().any(|r| r.prefix.addr().is_ipv6()),
            table: expect.tables.get(name).copied(),
        }
    }
}

/// The round's answers for one node: only what its expectations ask.
async fn look(router: Option<&NodeRouter>, handle: Option<&NodeHandle>, want: Want) -> Seen {
    let mut seen = Seen::default();
    if let Some(r) = router {
        // A daemon that does not answer yet is not converged, which the
        // round shows: its errors read as "nothing listed".
        match r.daemon {
            Daemon::Bird => {
                let sock = r.dir.bird_socket();
                if want.ospf {
                    let t = control::bird(&sock, "show ospf neighbors").await;
                    seen.neighbours = query::bird_ospf_neighbours(&t.unwrap_or_default());
                }
                if want.bgp {
                    let t = control::bird(&sock, "show protocols all").await;
                    seen.peers = query::bird_bgp_peers(&t.unwrap_or_default());
                }
                if want.bfd {
                    let t = control::bird(&sock, "show bfd sessions").await;
                    seen.bfd = query::bird_bfd_sessions(&t.unwrap_or_default());
                }
            }
            Daemon::Frr => {
                if want.ospf && r.frr_daemons.contains(&"ospfd") {
                    let t = control::frr(&r.dir.vty_socket("ospfd"), "show ip ospf neighbor json")
                        .await;
                    seen.neighbours = query::frr_ospf_neighbours(&t.unwrap_or_default());
                }
                if want.bgp && r.frr_daemons.contains(&"bgpd") {
                    let t = control::frr(&r.dir.vty_socket("bgpd"), "show bgp summary json").await;
                    seen.peers = query::frr_bgp_peers(&t.unwrap_or_default());
                }
                if want.bfd && r.frr_daemons.contains(&"bfdd") {
                    // bfdd shows its peers in enable mode only.
                    let t = control::frr_enabled(&r.dir.vty_socket("bfdd"), "show bfd peers json")
                        .await;
                    seen.bfd = query::frr_bfd_peers(&t.unwrap_or_default());
                }
            }
        }
    }
    if let Some(h) = handle {
        for (on, family, v6) in [(want.v4, "-4", false), (want.v6, "-6", true)] {
            if !on {
                continue;
            }
            let mut args: Vec<String> = ["-j", family, "route", "show"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            if let Some(t) = want.table {
                args.extend(["table".to_string(), t.to_string()]);
            }
            if let Ok(mut cmd) = h.command("ip", &args) {
                cmd.stderr(std::process::Stdio::null());
                if let Ok(Ok(out)) =
                    tokio::time::timeout(Duration::from_secs(5), cmd.output()).await
                {
                    seen.routes.extend(query::fib_prefixes(
                        &String::from_utf8_lossy(&out.stdout),
                        v6,
                    ));
                }
            }
        }
    }
    seen
}

/// What is still missing, as (node, sentence), given the answers of the
/// nodes in `seen` (the expectations of other nodes are not looked at).
fn missing(expect: &Expectations, seen: &BTreeMap<&str, Seen>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for s in expect
        .sessions
        .iter()
        .filter(|s| seen.contains_key(s.node.as_str()))
    {
        let at = seen.get(s.node.as_str());
        // `None`: up; `Some(None)`: not listed at all; `Some(Some(how))`:
        // listed, and how it stands.
        let state: Option<Option<String>> = match &s.session {
            Session::Ospf { neighbour } => {
                let n: Vec<_> = at
                    .into_iter()
                    .flat_map(|a| &a.neighbours)
                    .filter(|n| n.router_id == *neighbour)
                    .collect();
                (!n.iter().any(|n| n.is_full()))
                    .then(|| n.first().map(|n| format!("state {}", n.state)))
            }
            Session::Bgp { peer } => {
                let p: Vec<_> = at
                    .into_iter()
                    .flat_map(|a| &a.peers)
                    .filter(|p| p.address == *peer)
                    .collect();
                (!p.iter().any(|p| p.is_established()))
                    .then(|| p.first().map(|p| format!("state {}", p.state)))
            }
            Session::Bfd { interface, count } => {
                let on: Vec<_> = at
                    .into_iter()
                    .flat_map(|a| &a.bfd)
                    .filter(|b| b.interface == *interface)
                    .collect();
                let up = on.iter().filter(|b| b.is_up()).count();
                (up < *count).then(|| {
                    (!on.is_empty()).then(|| {
                        let mut states: Vec<String> = on
                            .iter()
                            .map(|b| format!("{} {}", b.peer, b.state))
                            .collect();
                        states.sort();
                        format!("{up} of {count} up: {}", states.join(", "))
                    })
                })
            }
        };
        match state {
            None => {}
            Some(Some(state)) => out.push((s.node.clone(), format!("{s} ({state})"))),
            Some(None) => out.push((s.node.clone(), format!("{s} (no such session)"))),
        }
    }
    for r in &expect.routes {
        let Some(at) = seen.get(r.node.as_str()) else {
            continue;
        };
        if !at.routes.contains(&r.prefix.trunc()) {
            out.push((
                r.node.clone(),
                format!("route to {} in `{}`'s FIB", r.prefix, r.node),
            ));
        }
    }
    out
}

/// Polls until every expectation holds; returns how long that took.
/// Fails at `within` naming what is missing, at once when a daemon dies,
/// and when `cancel` fires.
pub async fn wait_converged(
    routers: &Routers,
    nodes: &BTreeMap<String, NodeHandle>,
    expect: &Expectations,
    within: Duration,
    cancel: &Cancel,
) -> Result<Duration, RouterError> {
    let start = Instant::now();
    let mut names: Vec<&str> = expect
        .sessions
        .iter()
        .map(|s| s.node.as_str())
        .chain(expect.routes.iter().map(|r| r.node.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    for n in &names {
        if !nodes.contains_key(*n) {
            return Err(RouterError::BadSpec(format!(
                "an expectation names node `{n}`, which the lab does not have"
            )));
        }
    }
    // Nodes whose expectations all held in an earlier round.
    let mut done: std::collections::BTreeSet<&str> = Default::default();
    loop {
        if let Some(f) = routers.failures().into_iter().next() {
            return Err(RouterError::Died(f));
        }
        let confirming = done.len() == names.len();
        let ask: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| confirming || !done.contains(n))
            .collect();
        let rounds = ask.iter().map(|&name| {
            let want = Want::of(expect, name);
            let router = routers.nodes().iter().find(|r| r.node == name);
            async move { (name, look(router, nodes.get(name), want).await) }
        });
        let seen: BTreeMap<&str, Seen> = futures::future::join_all(rounds)
            .await
            .into_iter()
            .collect();
        let left = missing(expect, &seen);
        if confirming && left.is_empty() {
            return Ok(start.elapsed());
        }
        if confirming {
            done.clear();
        }
        done.extend(
            ask.iter()
                .filter(|n| !left.iter().any(|(node, _)| node == *n)),
        );
        if done.len() == names.len() {
            // Everything held, node by node: confirm it all at once now.
            continue;
        }
        if start.elapsed() >= within {
            return Err(RouterError::NotConverged {
                within,
                missing: left.into_iter().map(|(_, what)| what).collect(),
            });
        }
        tokio::select! {
            // The pace of polling, not a guess at convergence: each round
            // asks again and the first complete one returns.
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            _ = cancel.cancelled() => return Err(RouterError::Interrupted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(name: &str, v4: &str, v6: &str) -> NodeHandle {
        NodeHandle {
            name: name.into(),
            addr: v4.parse().unwrap(),
            addr6: Some(v6.parse().unwrap()),
            env: Default::default(),
            ns: None,
            resolv_conf: None,
            resolvers: Default::default(),
        }
    }

    #[test]
    fn every_router_expects_every_other_loopback() {
        let a = handle("a", "198.18.0.1", "2001:2::1");
        let b = handle("b", "198.18.0.2", "2001:2::2");
        let c = handle("c", "198.18.0.3", "2001:2::3");
        let v4 = Expectations::default().loopbacks_everywhere([&a, &b, &c], false);
        assert_eq!(v4.routes.len(), 6);
        assert!(v4.routes.contains(&ExpectedRoute {
            node: "a".into(),
            prefix: "198.18.0.3/32".parse().unwrap()
        }));
        assert!(
            !v4.routes
                .iter()
                .any(|r| r.node == "a" && r.prefix.addr() == a.addr)
        );
        let both = Expectations::default().loopbacks_everywhere([&a, &b], true);
        assert_eq!(both.routes.len(), 4);
        assert!(both.routes.contains(&ExpectedRoute {
            node: "b".into(),
            prefix: "2001:2::1/128".parse().unwrap()
        }));
    }

    fn seen(neighbours: &[(&str, &str)], peers: &[(&str, &str)], routes: &[&str]) -> Seen {
        Seen {
            neighbours: neighbours
                .iter()
                .map(|(id, st)| query::Neighbour {
                    router_id: id.parse().unwrap(),
                    state: st.to_string(),
                })
                .collect(),
            peers: peers
                .iter()
                .map(|(a, st)| query::BgpPeer {
                    address: a.parse().unwrap(),
                    state: st.to_string(),
                })
                .collect(),
            bfd: Vec::new(),
            routes: routes.iter().map(|r| r.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn bfd_is_missing_until_enough_sessions_on_the_interface_are_up() {
        let expect = Expectations {
            sessions: vec![ExpectedSession {
                node: "a1".into(),
                session: Session::Bfd {
                    interface: "a2".into(),
                    count: 2,
                },
            }],
            ..Default::default()
        };
        let bfd = |list: &[(&str, &str, &str)]| Seen {
            bfd: list
                .iter()
                .map(|(peer, interface, state)| query::BfdSession {
                    peer: peer.parse().unwrap(),
                    interface: interface.to_string(),
                    state: state.to_string(),
                })
                .collect(),
            ..Default::default()
        };
        let what = |at: &BTreeMap<&str, Seen>| -> Vec<String> {
            missing(&expect, at).into_iter().map(|(_, w)| w).collect()
        };
        let mut at = BTreeMap::new();
        at.insert("a1", bfd(&[]));
        assert_eq!(
            what(&at),
            ["2 BFD session(s) of `a1` on `a2` (no such session)"]
        );
        // Up on another interface does not count; one of two up is not
        // enough.
        at.insert(
            "a1",
            bfd(&[
                ("198.19.0.1", "a2", "Up"),
                ("fe80::1", "a2", "Init"),
                ("198.19.0.3", "a3", "Up"),
            ]),
        );
        assert_eq!(
            what(&at),
            ["2 BFD session(s) of `a1` on `a2` (1 of 2 up: 198.19.0.1 Up, fe80::1 Init)"]
        );
        at.insert(
            "a1",
            bfd(&[("198.19.0.1", "a2", "up"), ("fe80::1", "a2", "up")]),
        );
        assert!(what(&at).is_empty());
    }

    #[test]
    fn missing_names_each_session_and_route_with_its_state() {
        let expect = Expectations {
            sessions: vec![
                ExpectedSession {
                    node: "r1".into(),
                    session: Session::Ospf {
                        neighbour: "198.18.0.2".parse().unwrap(),
                    },
                },
                ExpectedSession {
                    node: "r1".into(),
                    session: Session::Bgp {
                        peer: "198.18.1.1".parse().unwrap(),
                    },
                },
                ExpectedSession {
                    node: "r2".into(),
                    session: Session::Ospf {
                        neighbour: "198.18.0.1".parse().unwrap(),
                    },
                },
            ],
            routes: vec![
                ExpectedRoute {
                    node: "r1".into(),
                    prefix: "198.18.0.2/32".parse().unwrap(),
                },
                ExpectedRoute {
                    node: "r2".into(),
                    prefix: "198.18.0.1/32".parse().unwrap(),
                },
            ],
            tables: Default::default(),
        };
        let mut at = BTreeMap::new();
        at.insert(
            "r1",
            seen(
                &[("198.18.0.2", "Full/PtP")],
                &[("198.18.1.1", "Active")],
                &["198.18.0.2/32"],
            ),
        );
        at.insert("r2", seen(&[], &[], &[]));
        let what =
            |m: Vec<(String, String)>| -> Vec<String> { m.into_iter().map(|(_, w)| w).collect() };
        assert_eq!(
            what(missing(&expect, &at)),
            vec![
                "BGP session of `r1` with 198.18.1.1 (state Active)".to_string(),
                "OSPF adjacency of `r2` with router 198.18.0.1 (no such session)".to_string(),
                "route to 198.18.0.1/32 in `r2`'s FIB".to_string(),
            ]
        );
        at.insert(
            "r1",
            seen(
                &[("198.18.0.2", "Full/PtP")],
                &[("198.18.1.1", "Established")],
                &["198.18.0.2/32"],
            ),
        );
        at.insert(
            "r2",
            seen(&[("198.18.0.1", "Full/-")], &[], &["198.18.0.1/32"]),
        );
        assert!(missing(&expect, &at).is_empty());
        // A node that was not asked is not judged.
        at.remove("r2");
        at.insert("r1", seen(&[], &[], &[]));
        assert!(
            what(missing(&expect, &at))
                .iter()
                .all(|m| m.contains("`r1`"))
        );
    }
}
