//! The `netns` backend: one network namespace per node, one veth pair per
//! link, addresses and static routes computed by [`crate::fabric`].
//!
//! [`blueprint`] is pure: it turns the plan into a [`Fabric`] (addresses,
//! interface names, routes) and fails before anything exists in the kernel
//! when the plan cannot be built, so `netproof check` can call it.
//! [`build`] then creates, in order: every namespace (`lo` up, loopback
//! addresses, forwarding on routers, ECMP hashing on flows), every veth
//! pair in place across its two namespaces (MTU, addresses, `tbf` rate),
//! every route. A failure midway tears down everything already created
//! and names the step that failed.
//!
//! The netlink sockets used to build the lab are closed when [`build`]
//! returns: a socket pins its namespace, and the lab must be deletable by
//! dropping its namespaces alone.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use netproof_plan::{Plan, Role};

use crate::fabric::{
    Dev, End, Fabric, Graph, GraphLan, GraphLink, GraphNode, LAN_BRIDGE, LinkAddresses,
};
use netproof_link::emulator::{Config as EmulatorConfig, Emulator};
use netproof_link::tap::Tap;

use crate::fabric::Route;
use crate::netns::{self, Batch, BatchError, NetNs, NetSysctls, Netlink, NetnsError, PrivateProc};
use crate::registry::{NamespaceEntry, Registry};
use crate::{LabError, TopologyLink};
use rtnetlink::packet_route::RouteNetlinkMessage;

/// How one link of the plan is made.
pub(crate) struct LinkSpec {
    /// The MTU the plan gives it.
    pub(crate) mtu: Option<u32>,
    /// The rate of each end's `tbf` (a veth link with a rate).
    pub(crate) tbf: [Option<u64>; 2],
    /// An emulated link: its parameters per direction.
    pub(crate) emulated: Option<[netproof_link::LinkParams; 2]>,
}

/// Each emulated link's own seed, from the run's seed and the link's index
/// (SplitMix64, so neighbouring links get unrelated streams).
pub(crate) fn link_seed(seed: u64, link: usize) -> u64 {
    let mut z = seed.wrapping_add((link as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
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

/// Installs the plan's `[[route]]`s into the computed table: each replaces
/// a computed route to the same prefix on its node, or adds one. Then
/// follows every plan route hop by hop and refuses one that loops.
fn apply_plan_routes(plan: &Plan, g: &Graph, fabric: &mut Fabric) -> Result<(), LabError> {
    use crate::fabric::{Dev, NextHop, Prefix, Route};
    let index = |name: &str| g.nodes.iter().position(|n| n.name == name);
    for r in &plan.routes {
        let (Some(node), Some(via)) = (index(&r.node), index(&r.via)) else {
            return Err(LabError::UnknownNode(format!("{} or {}", r.node, r.via)));
        };
        let v4 = r.to.addr().is_ipv4();
        // The neighbour's address on a segment the two share: a link
        // first, else a LAN.
        let hop = g
            .links
            .iter()
            .enumerate()
            .find(|(_, l)| (l.a == node && l.b == via) || (l.a == via && l.b == node))
            .map(|(i, l)| {
                let a = &fabric.addressing.links[i];
                let end = usize::from(l.a != via);
                let addr = if v4 {
                    IpAddr::V4(a.v4[end])
                } else {
                    IpAddr::V6(a.v6[end])
                };
                NextHop {
                    via: addr,
                    dev: Dev::Link(i),
                }
            })
            .or_else(|| {
                g.lans.iter().enumerate().find_map(|(i, lan)| {
                    let a = &fabric.addressing.lans[i];
                    (lan.members.contains(&node)).then_some(())?;
                    let k = a.position(via)?;
                    let addr = if v4 {
                        IpAddr::V4(a.v4[k])
                    } else {
                        IpAddr::V6(a.v6[k])
                    };
                    Some(NextHop {
                        via: addr,
                        dev: Dev::Lan(i),
                    })
                })
            })
            .ok_or_else(|| LabError::PlanRoute {
                message: format!("`{}` shares no link or LAN with `{}`", r.via, r.node),
                span: r.span,
            })?;
        let dest = Prefix {
            addr: r.to.addr(),
            len: r.to.prefix_len(),
        };
        let table = &mut fabric.routes.nodes[node];
        table.retain(|x| x.dest != dest);
        table.push(Route {
            dest,
            nexthops: vec![hop],
        });
    }
    // Follow each plan route from its node; a loop is a plan error.
    for r in &plan.routes {
        let Some(start) = index(&r.node) else {
            continue;
        };
        let target = r.to.addr();
        let mut seen = vec![start];
        let mut at = start;
        loop {
            if owns(fabric, at, target) {
                break;
            }
            let Some(route) = fabric.routes.lookup(at, target) else {
                break;
            };
            let Some(h) = route.nexthops.first() else {
                break;
            };
            let Some(next) = owner_of(fabric, h.via) else {
                break;
            };
            if seen.contains(&next) {
                let path: Vec<&str> = seen
                    .iter()
                    .chain(std::iter::once(&next))
                    .map(|&i| g.nodes[i].name.as_str())
                    .collect();
                return Err(LabError::PlanRoute {
                    message: format!(
                        "the route to {} from `{}` loops: {}",
                        r.to,
                        r.node,
                        path.join(" -> ")
                    ),
                    span: r.span,
                });
            }
            seen.push(next);
            at = next;
        }
    }
    Ok(())
}

/// Whether `node` owns `ip` or has it on a directly connected segment.
fn owns(f: &Fabric, node: usize, ip: IpAddr) -> bool {
    let a = &f.addressing;
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
fn owner_of(f: &Fabric, ip: IpAddr) -> Option<usize> {
    let a = &f.addressing;
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
    apply_plan_routes(plan, &graph, &mut fabric)?;
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

/// A built namespace lab: the namespaces, held open, and the emulators of
/// its emulated links (by link index).
pub(crate) struct Built {
    pub(crate) namespaces: Vec<Arc<NetNs>>,
    pub(crate) emulators: Vec<Option<Arc<Emulator>>>,
    /// How long each phase of the build took, in order (see
    /// [`crate::Lab::build_phases`]).
    pub(crate) phases: Vec<(&'static str, Duration)>,
    /// Per link: the hardware addresses of its two ends, each of which has
    /// a permanent neighbour entry for the other (see [`introduce_ends`]);
    /// `None` where an end had no Ethernet address.
    pub(crate) link_macs: Vec<Option<Macs>>,
}

/// The hardware addresses of a link's two ends, end `a` first.
pub(crate) type Macs = [[u8; 6]; 2];

/// Gives each end of a link permanent neighbour entries for the other
/// end's IPv4 and IPv6 addresses, as `ip neigh replace ... nud permanent`
/// would, instead of letting them find each other by ARP and neighbour
/// discovery. `nls[k]` acts in the namespace of end `k`, whose interface
/// is `ifnames[k]` and whose hardware address is `macs[k]`.
///
/// Why:
/// - The kernel's IPv6 neighbour table is one for the whole host: every
///   namespace's entries count against `net.ipv6.neigh.default.gc_thresh3`
///   (1024 by default, settable only in the host's own namespace), and
///   past it a new neighbour is refused ("neighbor table overflow") and
///   the packet that needed it dropped. A 1000-node leaf-spine reached
///   that limit from a few dozen pings between hosts and lost 3 of 40
///   first pings. Permanent entries do not count against it.
/// - An emulated link may be slow or lossy, and a lost solicitation would
///   hold the first packets back a second or more.
/// - No first packet of a measurement waits for address resolution.
///
/// Taking an end down drops its entries; a link fault puts them back when
/// it brings the link up. LAN members still use ARP and neighbour
/// discovery.
pub(crate) async fn introduce_ends(
    nls: [&Netlink; 2],
    ifnames: [&str; 2],
    addrs: &LinkAddresses,
    macs: Macs,
) -> Result<(), NetnsError> {
    for (me, peer) in [(0, 1), (1, 0)] {
        for addr in [IpAddr::V4(addrs.v4[peer]), IpAddr::V6(addrs.v6[peer])] {
            nls[me].add_neighbour(ifnames[me], addr, macs[peer]).await?;
        }
    }
    Ok(())
}

impl Built {
    /// Deletes every namespace. Processes must be stopped first: a process
    /// inside a namespace keeps it alive after its mount is gone.
    pub(crate) fn teardown(self) -> Vec<String> {
        let mut problems = Vec::new();
        // Emulators first: their TAP descriptors pin the namespaces.
        for e in self.emulators.into_iter().flatten() {
            match Arc::try_unwrap(e) {
                Ok(e) => {
                    let name = e.name().to_string();
                    if let Err(why) = e.stop() {
                        problems.push(format!("the link emulator of {name} had stopped: {why}"));
                    }
                }
                // A sampler holds it for a moment; it stops when dropped.
                Err(shared) => drop(shared),
            }
        }
        for ns in self.namespaces {
            match Arc::try_unwrap(ns) {
                Ok(ns) => {
                    if let Err(e) = ns.delete() {
                        problems.push(e.to_string());
                    }
                }
                // A node handle still holds it (a step task that outlived
                // the lab): its Drop removes the mount when the last one goes.
                Err(shared) => problems.push(format!(
                    "namespace `{}` is still in use by a step; it is removed when that step ends",
                    shared.name()
                )),
            }
        }
        problems
    }
}

/// Brings `ifname` up (unless it already is: `up` false) and then adds
/// its two addresses, in that order.
///
/// Why up first (kernel behaviour, seen here in about 1 of 6 builds of a
/// 1000-node leaf-spine): an IPv6 address added to an interface that is
/// down gets no connected route then; the kernel adds it when the
/// interface comes up, from the link-up notifier, with an allocation that
/// may not sleep, and on a busy host that allocation can fail and the
/// route is dropped without a word while the address stays. The interface
/// then holds `2001:2:0:425::a/127` with no route for it, its neighbour is
/// unreachable over IPv6 for the life of the lab, and a route through that
/// neighbour is refused with EHOSTUNREACH. Added to an interface that is
/// up, the address gets its connected route in the same request, from an
/// allocation that may sleep.
async fn up_then_address(
    nl: &Netlink,
    ifname: &str,
    up: bool,
    v4: (IpAddr, u8),
    v6: (IpAddr, u8),
    bring_up: &str,
    address: &str,
) -> Result<(), LabError> {
    if up {
        nl.set_up(ifname).await.map_err(at(bring_up))?;
    }
    for (addr, len) in [v4, v6] {
        nl.add_address(ifname, addr, len)
            .await
            .map_err(at(address))?;
    }
    Ok(())
}

/// One step of the build, for error messages.
fn at(step: impl Into<String>) -> impl FnOnce(NetnsError) -> LabError {
    let step = step.into();
    move |source| LabError::Netns { step, source }
}

/// Creates the lab described by `bp`. Registers every namespace in
/// `registry` (entry `entry`) *before* creating it, so that a crash at any
/// moment leaves nothing `lab gc` cannot find. On failure, everything
/// created is removed again.
pub(crate) async fn build(
    bp: &Blueprint,
    registry: &Registry,
    entry: &mut crate::registry::Entry,
    mount: bool,
) -> Result<Built, LabError> {
    // Without root nothing can be mounted: the namespaces die with this
    // process and leave gc nothing to remove.
    let mount = mount && !crate::rootless::active();
    let owners = bp
        .graph
        .nodes
        .iter()
        .map(|n| n.name.clone())
        .chain(bp.graph.lans.iter().map(|l| format!("lan:{}", l.name)));
    entry.namespaces = bp
        .names
        .iter()
        .zip(owners)
        .map(|(name, node)| NamespaceEntry {
            node,
            name: name.clone(),
            // Unmounted namespaces die with this process and leave gc
            // nothing to remove.
            path: mount.then(|| std::path::Path::new(crate::netns::RUN_DIR).join(name)),
        })
        .collect();
    for (n, ns) in entry.nodes.iter_mut().zip(&entry.namespaces) {
        n.namespace = ns.path.clone();
    }
    registry
        .write(entry)
        .map_err(|e| LabError::Registry(registry.dir().display().to_string(), e))?;

    let mut built = Built {
        namespaces: Vec::with_capacity(bp.names.len()),
        emulators: Vec::new(),
        phases: Vec::new(),
        link_macs: Vec::new(),
    };
    let done = match build_into(bp, &mut built, mount).await {
        Ok(()) => {
            record_entrances(&built, entry);
            registry
                .write(entry)
                .map_err(|e| LabError::Registry(registry.dir().display().to_string(), e))
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => Ok(built),
        Err(e) => {
            built.teardown();
            Err(e)
        }
    }
}

/// Records how another process (`lab exec`) enters each node, now that the
/// namespaces exist: its `/run/netns` mount, or, where there is none (a lab
/// built without root), this process's descriptor of it, which a process
/// of the same user can open as `/proc/<pid>/fd/<n>` while this one lives.
/// Such a namespace belongs to our user namespace, which the entering
/// process must join first, so that is recorded too.
fn record_entrances(built: &Built, entry: &mut crate::registry::Entry) {
    use std::os::fd::AsRawFd;
    let proc = std::path::PathBuf::from(format!("/proc/{}", std::process::id()));
    for (rec, ns) in entry.namespaces.iter_mut().zip(&built.namespaces) {
        rec.path = ns.path().map(std::path::Path::to_path_buf);
    }
    for (node, ns) in entry.nodes.iter_mut().zip(&built.namespaces) {
        node.namespace = Some(match ns.path() {
            Some(path) => path.to_path_buf(),
            None => proc.join(format!("fd/{}", ns.fd().as_raw_fd())),
        });
    }
    entry.user_namespace = crate::rootless::active().then(|| proc.join("ns/user"));
}

/// The sysctls every lab namespace gets (paths below `/proc/sys/net`),
/// written in one visit.
///
/// Flows, not host pairs, spread over equal-cost paths (policy 0 hashes
/// addresses only). IPv6 drops a link's addresses when it goes down unless
/// told to keep them, and a link fault must be reversible. Duplicate
/// address detection would hold a router's link-local address back for a
/// second or two after link-up, and with it every packet it forwards over
/// IPv6; lab addresses are unique by construction. All are set before the
/// veths exist, so `default` applies to them.
const NODE_SYSCTLS: &[(&str, &str)] = &[
    ("ipv4/fib_multipath_hash_policy", "1"),
    ("ipv6/fib_multipath_hash_policy", "1"),
    ("ipv6/conf/all/keep_addr_on_down", "1"),
    ("ipv6/conf/default/keep_addr_on_down", "1"),
    ("ipv6/conf/all/accept_dad", "0"),
    ("ipv6/conf/default/accept_dad", "0"),
];
const ROUTER_SYSCTLS: &[(&str, &str)] =
    &[("ipv4/ip_forward", "1"), ("ipv6/conf/all/forwarding", "1")];

/// Writes a node's sysctls from the calling thread, which must already be
/// inside the node's namespace (a builder thread of [`NetNs::create_here`]):
/// /proc/sys/net resolves to the namespace of the task that looks it up.
/// Every write goes through one descriptor of `/proc/sys/net` (see
/// [`NetSysctls`] for why that matters at a thousand nodes).
fn sysctls_here(
    router: bool,
    plan: &[(String, String)],
    proc: Option<&PrivateProc>,
) -> std::io::Result<()> {
    let mut net = NetSysctls::open_here(proc)?;
    for (key, value) in NODE_SYSCTLS
        .iter()
        .chain(if router { ROUTER_SYSCTLS } else { &[] })
    {
        net.write(key, value)
            .map_err(|e| std::io::Error::new(e.kind(), format!("net/{key}: {e}")))?;
    }
    // Unprivileged (datagram) ICMP sockets, so `ping` works inside a node
    // without raw sockets. Every group where that is allowed; in a rootless
    // lab only the groups of our user namespace exist (gid 0 inside), and
    // the kernel refuses a wider range. Best effort: without it, ping falls
    // back to a raw socket.
    for range in ["0 2147483647", "0 0"] {
        if net.write("ipv4/ping_group_range", range).is_ok() {
            break;
        }
    }
    // The plan's own, last, so they win over the lab's defaults.
    for (key, value) in plan {
        let written = netns::key_below_net(key)
            .map_err(std::io::Error::other)
            .and_then(|rel| net.write(&rel, value));
        if let Err(e) = written {
            let mut why = format!("`{key}` = `{value}`: {e}");
            if key.ends_with("tcp_congestion_control") {
                let read = |f: &str| {
                    std::fs::read_to_string(format!("/proc/sys/net/ipv4/{f}")).unwrap_or_default()
                };
                // A namespace other than the host's may only default to
                // an algorithm the host allows.
                why.push_str(&format!(
                    " (this kernel has: {}; a lab node may default only to those the host's \
                     net.ipv4.tcp_allowed_congestion_control lists: {})",
                    read("tcp_available_congestion_control").trim(),
                    read("tcp_allowed_congestion_control").trim()
                ));
            }
            return Err(std::io::Error::new(e.kind(), why));
        }
    }
    Ok(())
}

/// Times the phases of a build, one after the other.
struct Lap(std::time::Instant);

impl Lap {
    fn start() -> Lap {
        Lap(std::time::Instant::now())
    }

    /// The time since the start or the previous call.
    fn next(&mut self) -> Duration {
        let now = std::time::Instant::now();
        let lap = now - self.0;
        self.0 = now;
        lap
    }
}

/// One namespace as a builder thread made it (with its visit, for nodes).
type Made = Result<(NetNs, Option<Visited>), NetnsError>;

/// What a builder thread did inside a node's new namespace: its netlink
/// sockets opened (the connection's, and the batch's for routes), its
/// sysctls written and then `lo` up with the node's loopback addresses.
struct Visited {
    socket: std::io::Result<rtnetlink::sys::Socket>,
    batch: Result<Batch, NetnsError>,
    sysctls: std::io::Result<()>,
    /// `None` when the sysctls or the batch socket failed first.
    loopback: Option<Result<(), BatchError>>,
}

/// The kernel's index of `lo` in every namespace (`LOOPBACK_IFINDEX`).
const LOOPBACK_INDEX: u32 = 1;

/// Inside node `i`'s new namespace: its sysctls, then `lo` up and its
/// loopback addresses in one batch (a single system call).
fn visit(
    bp: &Blueprint,
    i: usize,
    router: bool,
    extra: &[(String, String)],
    proc: Option<&PrivateProc>,
) -> Visited {
    let socket = Netlink::open_socket();
    let batch = Batch::open_here(&bp.names[i]);
    let sysctls = sysctls_here(router, extra, proc);
    let loopback = match (&batch, &sysctls) {
        (Ok(b), Ok(())) => {
            let (v4, v6) = bp.addresses(i);
            let requests = [
                RouteNetlinkMessage::SetLink(netns::up_request(LOOPBACK_INDEX)),
                RouteNetlinkMessage::NewAddress(netns::address_request(LOOPBACK_INDEX, v4, 32)),
                RouteNetlinkMessage::NewAddress(netns::address_request(LOOPBACK_INDEX, v6, 128)),
            ];
            Some(b.send(requests, |k| match k {
                0 => "bring `lo` up".to_string(),
                1 => format!("add address {v4}/32 to interface `lo`"),
                _ => format!("add address {v6}/128 to interface `lo`"),
            }))
        }
        _ => None,
    };
    Visited {
        socket,
        batch,
        sysctls,
        loopback,
    }
}

async fn build_into(bp: &Blueprint, built: &mut Built, mount: bool) -> Result<(), LabError> {
    // Namespaces first (a cheap system call each, in order so a failure
    // leaves `built` holding exactly what exists).
    let n_nodes = bp.graph.nodes.len();
    let mut lap = Lap::start();
    // A few threads at once: most of the cost is the kernel's, but thread
    // starts and mounts overlap. Every namespace made is kept, even when
    // another fails, so teardown finds them all.
    let workers = 4usize.min(bp.names.len().max(1));
    // Each builder thread moves from namespace to namespace: it creates
    // one, opens the node's netlink socket and writes its sysctls while
    // inside, then goes on to the next (one visit per node, no thread per
    // namespace). The threads end when the scope does.
    let mut made: Vec<Option<Made>> = (0..bp.names.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        for (w, chunk) in made
            .chunks_mut(bp.names.len().div_ceil(workers).max(1))
            .enumerate()
        {
            let base = w * bp.names.len().div_ceil(workers).max(1);
            scope.spawn(move || {
                // A fresh private procfs every few dozen namespaces keeps
                // each one's sysctl lookups short (see PrivateProc).
                let mut proc: Option<PrivateProc> = None;
                for (k, slot) in chunk.iter_mut().enumerate() {
                    if k % 32 == 0 {
                        proc = PrivateProc::new().ok();
                    }
                    let proc = proc.as_ref();
                    let i = base + k;
                    let router = bp.routers.get(i).copied();
                    let extra = bp.sysctls.get(i).map_or(&[][..], Vec::as_slice);
                    *slot = Some(NetNs::create_here(&bp.names[i], mount, || {
                        router.map(|r| visit(bp, i, r, extra, proc))
                    }));
                }
            });
        }
    });
    let mut first_error = None;
    let mut visits: Vec<Option<Visited>> = Vec::with_capacity(bp.names.len());
    for (i, r) in made.into_iter().enumerate() {
        match r {
            Some(Ok((ns, visited))) => {
                built.namespaces.push(Arc::new(ns));
                visits.push(visited);
            }
            Some(Err(e)) => {
                let what = match bp.graph.nodes.get(i) {
                    Some(n) => format!("node `{}`", n.name),
                    None => format!("LAN `{}`", bp.graph.lans[i - n_nodes].name),
                };
                first_error.get_or_insert_with(|| at(format!("create the namespace of {what}"))(e));
            }
            None => {}
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    built.phases.push(("namespaces", lap.next()));
    // Then every node's netlink handle, and what its visit did.
    let mut links: Vec<Netlink> = Vec::with_capacity(n_nodes);
    let mut batches: Vec<Batch> = Vec::with_capacity(n_nodes);
    for (i, (ns, visited)) in built.namespaces[..n_nodes].iter().zip(visits).enumerate() {
        let node = &bp.graph.nodes[i].name;
        let Some(Visited {
            socket,
            batch,
            sysctls,
            loopback,
        }) = visited
        else {
            return Err(LabError::UnknownNode(node.clone()));
        };
        sysctls.map_err(|source| LabError::Sysctl {
            node: node.clone(),
            source,
        })?;
        let open = || at(format!("open netlink in node `{node}`"));
        links.push(Netlink::with_socket(ns, socket).map_err(open())?);
        batches.push(batch.map_err(open())?);
        if let Some(Err(e)) = loopback {
            let (v4, v6) = bp.addresses(i);
            return Err(at(match e.index {
                0 => format!("bring `lo` up in node `{node}`"),
                1 => format!("add loopback address {v4} to node `{node}`"),
                _ => format!("add loopback address {v6} to node `{node}`"),
            })(e.error));
        }
    }
    built.phases.push(("loopbacks", lap.next()));
    // Links: each veth pair created in place, in one request; all links at once.
    let namespaces = &built.namespaces;
    let links_ref = &links;
    let each_link = bp.graph.links.iter().enumerate().map(|(li, l)| async move {
        let links = links_ref;
        let (a, b) = (l.a, l.b);
        let (na, nb) = (&bp.graph.nodes[a].name, &bp.graph.nodes[b].name);
        let what = format!("link `{na}--{nb}`");
        let ifa = bp.fabric.naming.interface(li, End::A).unwrap_or_default();
        let ifb = bp.fabric.naming.interface(li, End::B).unwrap_or_default();
        let spec = &bp.links[li];
        let emulator = match &spec.emulated {
            None => {
                links[a]
                    .add_veth_up(ifa, &namespaces[b], ifb, spec.mtu)
                    .await
                    .map_err(at(format!("create {what}")))?;
                None
            }
            Some(params) => {
                // A TAP device in each node's namespace, made by a thread
                // inside it, and the emulator between them.
                let tap = |node: usize, name: &str| -> Result<Tap, LabError> {
                    let name = name.to_string();
                    namespaces[node]
                        .run(move || Tap::create(&name))
                        .map_err(at(format!("create {what}")))?
                        .map_err(|e| LabError::Emulator {
                            link: what.clone(),
                            source: e,
                        })
                };
                let (ta, tb) = (tap(a, ifa)?, tap(b, ifb)?);
                let config = EmulatorConfig {
                    name: format!("{na}--{nb}"),
                    mtu: spec.mtu.unwrap_or(1500),
                    params: params.clone(),
                    seed: link_seed(bp.seed, li),
                };
                let e = Emulator::start(config, ta, tb).map_err(|e| LabError::Emulator {
                    link: what.clone(),
                    source: e,
                })?;
                Some(Arc::new(e))
            }
        };
        let addrs = &bp.fabric.addressing.links[li];
        // A veth pair was made with its MTU and end `a` up.
        let veth = spec.emulated.is_none();
        let mtu = spec.mtu.filter(|_| !veth);
        for (end, (node, ifname, v4, v6)) in [
            (a, ifa, addrs.v4[0], addrs.v6[0]),
            (b, ifb, addrs.v4[1], addrs.v6[1]),
        ]
        .into_iter()
        .enumerate()
        {
            let nl = &links[node];
            if let Some(mtu) = mtu {
                nl.set_mtu(ifname, mtu)
                    .await
                    .map_err(at(format!("set the MTU of {what}")))?;
            }
            if let Some(rate) = spec.tbf[end] {
                // Each end shapes what it sends: the rate holds both ways.
                nl.set_rate(ifname, rate, None, Duration::from_millis(50))
                    .await
                    .map_err(at(format!("limit the rate of {what}")))?;
            }
            up_then_address(
                nl,
                ifname,
                !(veth && end == 0),
                (IpAddr::V4(v4), 31),
                (IpAddr::V6(v6), 127),
                &format!("bring {what} up"),
                &format!("address {what}"),
            )
            .await?;
        }
        // A packet sent before both ends are running is lost, and a lost
        // SYN costs a connect its one-second retry: wait until each end
        // carries traffic (usually one query), learning its address.
        let mut found = [None; 2];
        for (k, (node, ifname)) in [(a, ifa), (b, ifb)].into_iter().enumerate() {
            found[k] = links[node]
                .wait_ready(ifname, Duration::from_secs(5))
                .await
                .map_err(at(format!("wait for {what} to carry traffic")))?;
        }
        let macs = match found {
            [Some(ma), Some(mb)] => Some([ma, mb]),
            _ => None,
        };
        if let Some(macs) = macs {
            introduce_ends([&links[a], &links[b]], [ifa, ifb], addrs, macs)
                .await
                .map_err(at(format!("introduce the ends of {what}")))?;
        }
        Ok::<_, LabError>((emulator, macs))
    });
    let made: Vec<(Option<Arc<Emulator>>, Option<Macs>)> =
        futures::future::try_join_all(each_link).await?;
    (built.emulators, built.link_macs) = made.into_iter().unzip();
    built.phases.push(("links", lap.next()));
    // LANs: a bridge in the LAN's own namespace, and from each member a
    // veth pair created in place, its far end a port of the bridge.
    let each_lan = bp
        .graph
        .lans
        .iter()
        .enumerate()
        .map(|(li, lan)| async move {
            let lan_ns = &namespaces[n_nodes + li];
            let what = format!("LAN `{}`", lan.name);
            let br = Netlink::new(lan_ns).map_err(at(format!("open netlink in {what}")))?;
            br.add_bridge(LAN_BRIDGE)
                .await
                .map_err(at(format!("create the bridge of {what}")))?;
            let addrs = &bp.fabric.addressing.lans[li];
            for (k, &member) in lan.members.iter().enumerate() {
                let node = &bp.graph.nodes[member].name;
                let ifname = bp.fabric.naming.lan_interface(li, k).unwrap_or_default();
                let port = bp.fabric.naming.lan_port(li, k).unwrap_or_default();
                let nl = &links_ref[member];
                nl.add_veth(ifname, lan_ns, port)
                    .await
                    .map_err(at(format!("connect node `{node}` to {what}")))?;
                br.set_controller(port, LAN_BRIDGE)
                    .await
                    .map_err(at(format!("attach node `{node}` to the bridge of {what}")))?;
                if let Some(mtu) = bp.lan_mtus[li] {
                    nl.set_mtu(ifname, mtu)
                        .await
                        .map_err(at(format!("set the MTU of node `{node}` on {what}")))?;
                    br.set_mtu(port, mtu)
                        .await
                        .map_err(at(format!("set the MTU of {what}")))?;
                }
                br.set_up(port)
                    .await
                    .map_err(at(format!("bring the port of `{node}` on {what} up")))?;
                up_then_address(
                    nl,
                    ifname,
                    true,
                    (IpAddr::V4(addrs.v4[k]), addrs.prefix_v4.len),
                    (IpAddr::V6(addrs.v6[k]), addrs.prefix_v6.len),
                    &format!("bring node `{node}` up on {what}"),
                    &format!("address node `{node}` on {what}"),
                )
                .await?;
            }
            for (k, &member) in lan.members.iter().enumerate() {
                let ifname = bp.fabric.naming.lan_interface(li, k).unwrap_or_default();
                links_ref[member]
                    .wait_ready(ifname, Duration::from_secs(5))
                    .await
                    .map_err(at(format!("wait for {what} to carry traffic")))?;
            }
            Ok::<(), LabError>(())
        });
    futures::future::try_join_all(each_lan).await?;
    built.phases.push(("LANs", lap.next()));
    // Routes: the interfaces they leave by looked up once per node, then
    // each node's requests built and sent in batches from threads of
    // their own (see send_routes).
    let mut indexes: Vec<HashMap<Dev, u32>> = Vec::with_capacity(links.len());
    for (node, routes) in bp.fabric.routes.nodes.iter().enumerate() {
        let devs: BTreeSet<Dev> = routes
            .iter()
            .flat_map(|r| r.nexthops.iter().map(|h| h.dev))
            .collect();
        let mut mine = HashMap::with_capacity(devs.len());
        for dev in devs {
            let ifname = bp.fabric.naming.dev(node, dev).unwrap_or_default();
            let index = links[node].cached_index(ifname).await.map_err(at(format!(
                "add the routes of node `{}`",
                bp.graph.nodes[node].name
            )))?;
            mine.insert(dev, index);
        }
        indexes.push(mine);
    }
    send_routes(bp, &batches, &indexes)?;
    built.phases.push(("routes", lap.next()));
    // Closing the netlink sockets here lets the namespaces go with the lab.
    drop(links);
    routers_link_local_ready(bp, built).await;
    built
        .phases
        .push(("LAN routers' IPv6 link-local ready", lap.next()));
    Ok(())
}

/// Builds and sends every node's route requests through its batch
/// socket, from up to one thread per core, each taking the next node not
/// yet sent (`indexes[node]` maps the node's devices to interface
/// indexes). The kernel installs routes of different namespaces in
/// parallel, and building the requests is spread over the same threads.
/// The caller's runtime thread waits for them (a fraction of a second at
/// a thousand nodes); nothing else runs on the runtime while a lab builds.
fn send_routes(
    bp: &Blueprint,
    batches: &[Batch],
    indexes: &[HashMap<Dev, u32>],
) -> Result<(), LabError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4)
        .min(batches.len().max(1));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: std::sync::Mutex<Option<(usize, LabError)>> = std::sync::Mutex::new(None);
    let one_node = |node: usize, batch: &Batch| -> Result<(), LabError> {
        let name = &bp.graph.nodes[node].name;
        let routes = &bp.fabric.routes.nodes[node];
        let hops = |r: &Route| -> Vec<(IpAddr, &str)> {
            r.nexthops
                .iter()
                .map(|h| (h.via, bp.fabric.naming.dev(node, h.dev).unwrap_or_default()))
                .collect()
        };
        let fail =
            |r: &Route, error| at(format!("add the route to {} in node `{name}`", r.dest))(error);
        let mut requests = Vec::with_capacity(routes.len());
        for r in routes {
            let by_index: Vec<(IpAddr, u32)> = r
                .nexthops
                .iter()
                .map(|h| (h.via, indexes[node].get(&h.dev).copied().unwrap_or(0)))
                .collect();
            let message =
                netns::route_request(r.dest.addr, r.dest.len, &by_index).map_err(|reason| {
                    fail(
                        r,
                        NetnsError::InvalidArgument {
                            ns: batch.namespace().to_string(),
                            op: netns::route_op(r.dest.addr, r.dest.len, &hops(r)),
                            reason,
                        },
                    )
                })?;
            requests.push(RouteNetlinkMessage::NewRoute(message));
        }
        batch
            .send(requests, |i| {
                routes.get(i).map_or_else(String::new, |r| {
                    netns::route_op(r.dest.addr, r.dest.len, &hops(r))
                })
            })
            .map_err(|e| match routes.get(e.index) {
                Some(r) => fail(r, e.error),
                None => at(format!("add the routes of node `{name}`"))(e.error),
            })
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let node = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(node) else {
                        return;
                    };
                    if let Err(e) = one_node(node, batch) {
                        failed.store(true, Ordering::Relaxed);
                        let mut first = first_error.lock().unwrap_or_else(|p| p.into_inner());
                        // The lowest node's error among those seen.
                        if first.as_ref().is_none_or(|(n, _)| node < *n) {
                            *first = Some((node, e));
                        }
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// Waits, at most a few seconds, until no IPv6 link-local address of a
/// router on a LAN is tentative (see [`crate::netns::addrconf`]): such a
/// router solicits the LAN members it forwards to from its link-local
/// address, and a first IPv6 connection through it would otherwise stall
/// on a loaded host. Routers without a LAN never solicit: every link
/// neighbour has a permanent entry ([`introduce_ends`]). Best effort: a
/// slow kernel delays the lab, never fails it.
async fn routers_link_local_ready(bp: &Blueprint, built: &Built) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut on_lan = vec![false; bp.graph.nodes.len()];
    for &m in bp.graph.lans.iter().flat_map(|l| &l.members) {
        on_lan[m] = true;
    }
    let mut pending: Vec<usize> = (0..bp.graph.nodes.len())
        .filter(|&i| bp.routers.get(i).copied().unwrap_or(false) && on_lan[i])
        .collect();
    while !pending.is_empty() && std::time::Instant::now() < deadline {
        pending.retain(|&i| {
            crate::netns::addrconf::link_locals(&built.namespaces[i])
                .is_ok_and(|ll| ll.iter().any(|l| l.tentative))
        });
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
