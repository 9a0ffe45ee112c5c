//! The netns lab before anything exists: the [`Blueprint`].
//!
//! [`blueprint`] turns the plan into a [`Graph`] and computes its
//! [`Fabric`] (addresses, interface names, routes, the plan's own routes
//! on top), how each link is made (veth, veth with `tbf`, or emulated) and
//! every namespace's name. It is pure, and fails before anything exists in
//! the kernel when the plan cannot be built, so `netproof check` calls it.
//! The blueprint also says what the report shows of the topology and what
//! live control needs once the lab is built.

use std::net::IpAddr;
use std::sync::Arc;

use netproof_plan::{Plan, Role, Routing};

use super::build::Built;
use crate::fabric::routing::plan_routes::{self, PlanRoute};
use crate::fabric::{End, Fabric, Graph, GraphLan, GraphLink, GraphNode, Prefix};
use crate::{LabError, TopologyLink};

pub(crate) struct LinkSpec {
    /// The MTU the plan gives it.
    pub(crate) mtu: Option<u32>,
    /// The rate of each end's `tbf` (a veth link with a rate).
    pub(crate) tbf: [Option<u64>; 2],
    /// An emulated link: its parameters per direction.
    pub(crate) emulated: Option<[netproof_link::LinkParams; 2]>,
}

/// Each emulated link's own seed: stream `link` of the run's seed (see
/// [`netproof_proto::seed`]), so neighbouring links get unrelated streams.
/// The same values as before the derivation moved to `proto`: stream `k`
/// is SplitMix64's `k + 1`-th output.
pub(crate) fn link_seed(seed: u64, link: usize) -> u64 {
    netproof_proto::seed::derive(seed, link as u64)
}

/// Everything decided about a namespace lab before anything is created.
pub(crate) struct Blueprint {
    /// Namespace name per node, in plan order.
    pub(crate) names: Vec<String>,
    /// Addresses, interface names and routes.
    pub(crate) fabric: Fabric,
    /// The graph the fabric was computed from.
    pub(crate) graph: Graph,
    /// Per node: does it forward?
    pub(crate) routers: Vec<bool>,
    /// Per node: the plan's sysctls.
    pub(crate) sysctls: Vec<Vec<(String, String)>>,
    /// Per link: how it is made.
    pub(crate) links: Vec<LinkSpec>,
    /// Seeds every emulated link's random draws.
    pub(crate) seed: u64,
    /// Per LAN: MTU from the plan.
    pub(crate) lan_mtus: Vec<Option<u32>>,
}

impl Blueprint {
    /// A node's IPv4 and IPv6 loopback addresses.
    pub(crate) fn addresses(&self, node: usize) -> (IpAddr, IpAddr) {
        let a = &self.fabric.addressing.nodes[node];
        (IpAddr::V4(a.loopback_v4), IpAddr::V6(a.loopback_v6))
    }

    /// Each LAN's subnets, as the report shows them.
    pub(crate) fn lan_prefixes(&self, lan: usize) -> Vec<String> {
        let a = &self.fabric.addressing.lans[lan];
        vec![a.prefix_v4.to_string(), a.prefix_v6.to_string()]
    }

    /// The topology's links as the report shows them.
    pub(crate) fn topology_links(&self, plan: &Plan) -> Vec<TopologyLink> {
        plan.links
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let la = &self.fabric.addressing.links[i];
                let mut props = vec![format!("{}", la.subnet_v4()), format!("{}", la.subnet_v6())];
                let spec = &self.links[i];
                if spec.emulated.is_some() {
                    let summary = l.impairment.summary();
                    if !summary.is_empty() {
                        props.push(summary);
                    }
                } else if let Some(rate) = l.impairment.symmetric_rate() {
                    props.push(format!(
                        "rate {}",
                        netproof_sample::Unit::BitsPerSecond.format(rate as f64)
                    ));
                } else if !l.impairment.is_empty() {
                    props.push(l.impairment.summary());
                }
                if let Some(mtu) = l.mtu {
                    props.push(format!("mtu {mtu}"));
                }
                if l.cost != 1 {
                    props.push(format!("cost {}", l.cost));
                }
                let ifa = self.fabric.naming.interface(i, End::A).unwrap_or("?");
                let ifb = self.fabric.naming.interface(i, End::B).unwrap_or("?");
                TopologyLink {
                    ends: l.ends.clone(),
                    mechanism: if spec.emulated.is_some() {
                        format!("emulated {ifa}/{ifb} (TAP + netproof link emulator)")
                    } else if spec.tbf.iter().any(Option::is_some) {
                        format!("veth {ifa}/{ifb} + tbf")
                    } else {
                        format!("veth {ifa}/{ifb}")
                    },
                    properties: props.join(", "),
                }
            })
            .collect()
    }
}

impl Blueprint {
    /// What live control needs: weak namespace handles, each link's
    /// interfaces, and every route as installed.
    pub(crate) fn control_parts(&self, built: &Built, plan: &Plan) -> crate::control::NetnsParts {
        use crate::control::LinkCtl;
        let ifname = |link: usize, node: usize| {
            let l = &self.graph.links[link];
            let end = if l.a == node { End::A } else { End::B };
            self.fabric
                .naming
                .interface(link, end)
                .unwrap_or_default()
                .to_string()
        };
        crate::control::NetnsParts {
            namespaces: built.namespaces.iter().map(Arc::downgrade).collect(),
            links: self
                .graph
                .links
                .iter()
                .enumerate()
                .map(|(i, l)| LinkCtl {
                    ends: plan.links[i].ends.clone(),
                    nodes: [l.a, l.b],
                    ifnames: [ifname(i, l.a), ifname(i, l.b)],
                    plan_tbf: self.links[i].tbf,
                    plan: plan.links[i].impairment.clone(),
                    emulator: built.emulators[i].as_ref().map(Arc::downgrade),
                    addrs: self.fabric.addressing.links[i],
                    macs: built.link_macs.get(i).copied().flatten(),
                })
                .collect(),
            routes: self
                .fabric
                .routes
                .nodes
                .iter()
                .enumerate()
                .map(|(node, routes)| {
                    routes
                        .iter()
                        .map(|r| {
                            (
                                r.dest.addr,
                                r.dest.len,
                                r.nexthops
                                    .iter()
                                    .map(|h| {
                                        (
                                            h.via,
                                            self.fabric
                                                .naming
                                                .dev(node, h.dev)
                                                .unwrap_or_default()
                                                .to_string(),
                                        )
                                    })
                                    .collect(),
                            )
                        })
                        .collect()
                })
                .collect(),
        }
    }
}

/// Computes the blueprint of `plan`'s lab with id `lab_id`. Pure.
pub(crate) fn blueprint(plan: &Plan, lab_id: &str) -> Result<Blueprint, LabError> {
    let index = |name: &str| plan.nodes.iter().position(|n| n.name == name);
    let graph = Graph {
        nodes: plan
            .nodes
            .iter()
            .map(|n| GraphNode {
                name: n.name.clone(),
                router: n.role == Role::Router,
                loopback_v4: match n.address {
                    Some(IpAddr::V4(a)) => Some(a),
                    _ => None,
                },
                static_routes: n.routing == Routing::Static,
            })
            .collect(),
        links: plan
            .links
            .iter()
            .map(|l| {
                Ok(GraphLink {
                    a: index(&l.ends[0]).ok_or_else(|| LabError::UnknownNode(l.ends[0].clone()))?,
                    b: index(&l.ends[1]).ok_or_else(|| LabError::UnknownNode(l.ends[1].clone()))?,
                    cost: l.cost,
                })
            })
            .collect::<Result<_, LabError>>()?,
        lans: plan
            .lans
            .iter()
            .map(|l| {
                Ok(GraphLan {
                    name: l.name.clone(),
                    members: l
                        .nodes
                        .iter()
                        .map(|n| index(n).ok_or_else(|| LabError::UnknownNode(n.clone())))
                        .collect::<Result<_, LabError>>()?,
                    cost: l.cost,
                })
            })
            .collect::<Result<_, LabError>>()?,
    };
    let mut fabric = Fabric::plan(&graph)?;
    let given = plan
        .routes
        .iter()
        .map(|r| match (index(&r.node), index(&r.via)) {
            (Some(node), Some(via)) => Ok(PlanRoute {
                node,
                via,
                dest: Prefix {
                    addr: r.to.addr(),
                    len: r.to.prefix_len(),
                },
            }),
            _ => Err(LabError::UnknownNode(format!("{} or {}", r.node, r.via))),
        })
        .collect::<Result<Vec<_>, LabError>>()?;
    plan_routes::apply(&graph, &fabric.addressing, &mut fabric.routes, &given).map_err(|e| {
        LabError::PlanRoute {
            span: plan.routes[e.route()].span,
            source: e,
        }
    })?;
    Ok(Blueprint {
        // Nodes first, then one namespace per LAN for its bridge (never the
        // root namespace).
        names: plan
            .nodes
            .iter()
            .map(|n| format!("{lab_id}-{}", n.name))
            .chain(plan.lans.iter().map(|l| format!("{lab_id}-lan-{}", l.name)))
            .collect(),
        lan_mtus: plan.lans.iter().map(|l| l.mtu).collect(),
        routers: plan.nodes.iter().map(|n| n.role == Role::Router).collect(),
        sysctls: plan.nodes.iter().map(|n| n.sysctl.clone()).collect(),
        links: plan
            .links
            .iter()
            .enumerate()
            .map(|(i, l)| {
                use netproof_plan::Direction;
                let emulated = plan.emulated(i);
                let dir = |d| l.impairment.direction(d);
                LinkSpec {
                    mtu: l.mtu,
                    tbf: if emulated {
                        [None, None]
                    } else {
                        [dir(Direction::AtoB).rate, dir(Direction::BtoA).rate]
                    },
                    emulated: emulated
                        .then(|| [dir(Direction::AtoB).params(), dir(Direction::BtoA).params()]),
                }
            })
            .collect(),
        seed: plan.seed.unwrap_or(0),
        fabric,
        graph,
    })
}
