//! The lab fabric: the nodes a run executes on, their addresses, links and
//! services, and their teardown.
//!
//! A [`Lab`] is built once per run ([`Lab::up`]), shared by every case and
//! repetition, and always taken down ([`Lab::down`]). Steps reach a node
//! through a [`NodeHandle`], which knows how to start a process *on* that
//! node and how to open a socket *from* it; that is the seam the namespace
//! backend plugs into (a handle that enters the node's namespace before exec
//! and creates sockets from a thread inside it), without steps changing.
//!
//! Two backends ([`backend`]): `local`, where every node is this host with
//! its own loopback address in 127.0.0.0/8 and nothing is impaired, and
//! `netns`, a network namespace per node with links, LANs, addresses and
//! routes between them.

mod backend;
pub mod cancel;
pub mod cdn;
pub mod collect;
pub mod control;
pub mod fabric;
pub mod netns;
pub mod preflight;
pub mod process;
pub mod registry;
pub mod rootless;
pub mod router;
mod service;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use netproof_plan::{Backend, Plan, Role};

use backend::{local, netns as netns_backend};
use netproof_sample::{Event, Severity, Sink};
use tokio::net::{TcpSocket, TcpStream};
use tokio::process::Command;

pub use cancel::{Cancel, Reason};
pub use collect::{Collector, CollectorError};
pub use service::ServiceFailure;

/// The topology as built, for the run record and the report's diagram.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    /// Nodes in plan order.
    pub nodes: Vec<TopologyNode>,
    /// Links in plan order.
    pub links: Vec<TopologyLink>,
}

/// A node as built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyNode {
    /// The node's plan name.
    pub name: String,
    /// `host` or `router`.
    pub role: String,
    /// Its addresses as built.
    pub addresses: Vec<String>,
    /// The services that run on it.
    pub services: Vec<String>,
    /// Sysctls the plan set in its namespace, as applied.
    pub sysctls: Vec<(String, String)>,
}

/// A link as built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyLink {
    /// The two node names.
    pub ends: [String; 2],
    /// What carries and shapes the link (`veth`, `veth + tbf`, ...).
    pub mechanism: String,
    /// The link's properties as text, empty if none.
    pub properties: String,
}

/// Why the lab could not be built or kept up.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A routing daemon refused the configuration rendered from the plan.
    #[error(transparent)]
    RouterRefused(Box<router::config::Refused>),
    /// The plan's routing intent could not be rendered.
    #[error(transparent)]
    RouterConfig(Box<router::config::ConfigError>),
    /// An emulated link could not be made or started.
    #[error("{link}: the link emulator: {source}")]
    Emulator {
        /// The link, as messages name it.
        link: String,
        /// What failed.
        source: std::io::Error,
    },
    /// A service's command could not be started.
    #[error("service `{service}` on node `{node}`: cannot start `{program}`: {source}")]
    Spawn {
        /// The service.
        service: String,
        /// Its node.
        node: String,
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A service's sample channel could not be made.
    #[error(
        "service `{service}` on node `{node}`: cannot make its sample channel ({}): {source}\nhint: netproof gives every service a pipe; is the process out of file descriptors (`ulimit -n`)?",
        collect::SAMPLES_FD_ENV
    )]
    SampleChannel {
        /// The service.
        service: String,
        /// Its node.
        node: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A service did not become ready in time, or exited while starting.
    #[error("service `{service}` on node `{node}` {what}{output}")]
    NotReady {
        /// The service.
        service: String,
        /// Its node.
        node: String,
        /// What happened (`was not ready within 10s (tcp port 8080)`).
        what: String,
        /// The tail of its output, prefixed with a newline, if any.
        output: String,
    },
    /// The plan has more nodes than the local backend can address.
    #[error("the local backend can address at most 65534 nodes; the plan has {0}")]
    TooManyNodes(usize),
    /// The lock that reserves the lab's loopback block could not be taken.
    #[error("cannot reserve loopback addresses for the lab (`{0}`): {1}")]
    Lease(String, #[source] std::io::Error),
    /// Every loopback block is in use by another local lab on this host.
    #[error(
        "all {0} local labs this host can hold are in use\nhint: wait for another netproof run to finish"
    )]
    Busy(u8),
    /// The lab registry could not be written.
    #[error(
        "cannot write the lab registry in `{0}`: {1}\nhint: netproof records every lab there so `netproof lab gc` can clean up after a crash; check the directory's permissions"
    )]
    Registry(String, #[source] std::io::Error),
    /// A link names a node the plan does not have (validation prevents this).
    #[error("a link names node `{0}`, which the plan does not have")]
    UnknownNode(String),
    /// The plan's topology cannot be addressed or routed.
    #[error(transparent)]
    Fabric(#[from] fabric::FabricError),
    /// A plan route cannot be installed as written.
    #[error("plan route: {source}\nhint: {}", source.hint())]
    PlanRoute {
        /// What is wrong.
        source: fabric::routing::plan_routes::PlanRouteError,
        /// Where the route is written in the plan.
        span: netproof_plan::Span,
    },
    /// A sysctl could not be written in a node's namespace.
    #[error("could not set the sysctls of node `{node}`: {source}")]
    Sysctl {
        /// The node.
        node: String,
        /// The error, naming the file.
        #[source]
        source: std::io::Error,
    },
    /// A kernel operation failed while building the lab.
    #[error("could not {step}: {source}")]
    Netns {
        /// The step that failed, e.g. "create link `a--b`".
        step: String,
        /// The kernel's answer.
        #[source]
        source: netns::NetnsError,
    },
    /// The run was interrupted while the lab was coming up.
    #[error("interrupted while the lab was coming up")]
    Interrupted,
    /// Routing daemons could not be started, died, or did not converge.
    #[error(transparent)]
    Router(#[from] router::RouterError),
    /// A node's resolv.conf could not be written.
    #[error("could not write the resolvers of node `{node}` to {}: {source}\nhint: the lab writes them in its run directory, beside its registry entry", path.display())]
    Resolver {
        /// The node.
        node: String,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A CDN service's config or the lab's certificates could not be made.
    #[error(transparent)]
    Cdn(#[from] cdn::CdnError),
}

/// How long a lab's routing may take to converge at bring-up. BIRD 2's
/// OSPF alone needs about 7 s (it spaces router-LSA updates at least 5 s
/// apart), and a lab's bring-up shares two cores with everything else.
pub const CONVERGE_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// A node of the running lab, as steps see it.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    /// The node's plan name.
    pub name: String,
    /// The node's address (its IPv4 loopback on the netns backend).
    pub addr: IpAddr,
    /// The node's IPv6 address, where it has one (netns backend).
    pub addr6: Option<IpAddr>,
    env: Arc<Vec<(String, String)>>,
    ns: Option<Arc<netns::NetNs>>,
    /// The node's own resolv.conf, bound over `/etc/resolv.conf` for its
    /// processes, when the plan names its resolvers.
    resolv_conf: Option<Arc<std::path::PathBuf>>,
    /// The resolvers themselves, for netproof's own lookups on the node.
    resolvers: Arc<Vec<IpAddr>>,
}

impl LabError {
    /// Where in the plan the problem is written, when it is one place.
    pub fn span(&self) -> Option<netproof_plan::Span> {
        match self {
            LabError::PlanRoute { span, .. } => Some(*span),
            LabError::RouterRefused(r) => Some(r.span),
            LabError::RouterConfig(e) => e.span(),
            _ => None,
        }
    }
}

impl NodeHandle {
    /// A command that runs on this node, with the lab's environment
    /// (`NP_NODE`, `NP_ADDR`, `NP_ADDR_<NODE>`, and the `NP_ADDR6` forms
    /// where nodes have IPv6), inside the node's namespace when it has one,
    /// and supervised like every lab process (own process group, dies with
    /// netproof).
    pub fn command(&self, program: &str, args: &[String]) -> std::io::Result<Command> {
        let mut cmd = Command::new(program);
        cmd.args(args);
        for (k, v) in self.env.iter() {
            cmd.env(k, v);
        }
        cmd.env("NP_NODE", &self.name)
            .env("NP_ADDR", self.addr.to_string());
        if let Some(a6) = self.addr6 {
            cmd.env("NP_ADDR6", a6.to_string());
        }
        if let Some(ns) = &self.ns {
            netns::prepare_exec(cmd.as_std_mut(), ns).map_err(std::io::Error::other)?;
        }
        if let Some(file) = &self.resolv_conf {
            netns::resolv::bind_before_exec(cmd.as_std_mut(), file)?;
        }
        process::supervise(&mut cmd);
        Ok(cmd)
    }

    /// The DNS resolvers the plan names for this node (`resolver`), in
    /// order; empty when it names none.
    pub fn resolvers(&self) -> &[IpAddr] {
        &self.resolvers
    }

    /// Opens a TCP connection from this node to `target`, bound to the
    /// node's address of the target's family so the far end sees who
    /// connected. On the netns backend the socket is created by a thread
    /// inside the node's namespace (a socket belongs to the namespace it
    /// was made in); connecting happens on the runtime as usual.
    pub async fn tcp_connect(&self, target: SocketAddr) -> std::io::Result<TcpStream> {
        let source = match target {
            SocketAddr::V4(_) => Some(self.addr).filter(IpAddr::is_ipv4),
            SocketAddr::V6(_) => self.addr6.or(Some(self.addr)).filter(IpAddr::is_ipv6),
        };
        let make = move || -> std::io::Result<TcpSocket> {
            let s = match target {
                SocketAddr::V4(_) => TcpSocket::new_v4()?,
                SocketAddr::V6(_) => TcpSocket::new_v6()?,
            };
            if let Some(src) = source {
                s.bind(SocketAddr::new(src, 0))?;
            }
            Ok(s)
        };
        let socket = match &self.ns {
            Some(ns) => ns.run(make).map_err(std::io::Error::other)??,
            None => make()?,
        };
        socket.set_nodelay(true)?;
        socket.connect(target).await
    }
}

impl NodeHandle {
    /// Runs `f` on a thread inside this node's network namespace (on the
    /// local backend, on a plain thread), so a socket it creates belongs to
    /// the node.
    pub fn in_node<T: Send>(&self, f: impl FnOnce() -> T + Send) -> std::io::Result<T> {
        match &self.ns {
            Some(ns) => ns.run(f).map_err(std::io::Error::other),
            None => Ok(f()),
        }
    }

    /// The node's own address of the family of `target`, if it has one.
    pub fn source_for(&self, target: IpAddr) -> Option<IpAddr> {
        if target.is_ipv4() {
            Some(self.addr).filter(IpAddr::is_ipv4)
        } else {
            self.addr6.or(Some(self.addr)).filter(IpAddr::is_ipv6)
        }
    }

    /// A UDP socket on this node, bound to the node's address of
    /// `target`'s family (any port), created inside the node's namespace.
    pub fn udp_socket(&self, target: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
        self.udp_socket_at(target, 0)
    }

    /// A UDP socket on this node bound to `port` on the node's address of
    /// `target`'s family (for responders).
    pub fn udp_socket_at(
        &self,
        target: SocketAddr,
        port: u16,
    ) -> std::io::Result<tokio::net::UdpSocket> {
        let source = match target {
            SocketAddr::V4(_) => Some(self.addr).filter(IpAddr::is_ipv4),
            SocketAddr::V6(_) => self.addr6.or(Some(self.addr)).filter(IpAddr::is_ipv6),
        };
        let bind = source.unwrap_or(match target {
            SocketAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        });
        let make = move || -> std::io::Result<std::net::UdpSocket> {
            let s = std::net::UdpSocket::bind(SocketAddr::new(bind, port))?;
            s.set_nonblocking(true)?;
            Ok(s)
        };
        let socket = match &self.ns {
            Some(ns) => ns.run(make).map_err(std::io::Error::other)??,
            None => make()?,
        };
        tokio::net::UdpSocket::from_std(socket)
    }
}

/// Checks that `plan` can be built on `backend` without creating anything:
/// on the netns backend, computes every address, interface name and route.
/// Returns what is worth a warning about a lab that can be built (nodes
/// that cannot reach each other: see [`CheckWarning`]).
pub fn check(plan: &Plan, backend: Backend) -> Result<Vec<CheckWarning>, LabError> {
    match backend {
        Backend::Local => Ok(Vec::new()),
        Backend::Netns => {
            let bp = netns_backend::blueprint(plan, "np-000000")?;
            // The daemons' configurations render from the plan alone; one
            // that cannot is a plan the lab cannot build.
            router::config::render_blueprint(plan, &bp)
                .map_err(|e| LabError::RouterConfig(Box::new(e)))?;
            let gaps = fabric::routing::reachability::gaps(&bp.graph)?;
            Ok(gaps
                .iter()
                .map(|gap| CheckWarning::unreachable(&bp.graph, gap))
                .collect())
        }
    }
}

/// Something about a plan's lab that is not an error but probably not
/// what its author meant, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckWarning {
    /// What is wrong, naming an example.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl std::fmt::Display for CheckWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\nhint: {}", self.message, self.hint)
    }
}

impl CheckWarning {
    /// The warning about one gap in reachability, naming nodes by `g`.
    fn unreachable(g: &fabric::Graph, gap: &fabric::routing::reachability::Gap) -> CheckWarning {
        use fabric::routing::reachability::Gap;
        let name = |i: usize| g.nodes[i].name.as_str();
        let others = |pairs: usize| match pairs {
            0 | 1 => String::new(),
            2 => " (nor can 1 other pair)".to_string(),
            n => format!(" (nor can {} other pairs)", n - 1),
        };
        match gap {
            Gap::Apart { a, b, pairs } => CheckWarning {
                message: format!(
                    "nodes `{}` and `{}` cannot reach each other{}: no link or LAN joins their parts of the topology",
                    name(*a),
                    name(*b),
                    others(*pairs)
                ),
                hint:
                    "add a `[[link]]` or `[[lan]]` between the two parts if their nodes should talk"
                        .into(),
            },
            Gap::ThroughHosts { a, b, pairs, hosts } => {
                const SHOWN: usize = 5;
                let mut names: Vec<String> = hosts
                    .iter()
                    .take(SHOWN)
                    .map(|&h| format!("`{}`", name(h)))
                    .collect();
                if hosts.len() > SHOWN {
                    names.push(format!("and {} more", hosts.len() - SHOWN));
                }
                CheckWarning {
                    message: format!(
                        "nodes `{}` and `{}` cannot reach each other{}: every path between them passes through a host, and hosts do not forward",
                        name(*a),
                        name(*b),
                        others(*pairs)
                    ),
                    hint: format!(
                        "set `role = \"router\"` on the nodes that should forward between them ({})",
                        names.join(", ")
                    ),
                }
            }
        }
    }
}

/// A node's name, address and IPv6 address, as a backend plans them.
type NodeAddrs = (String, IpAddr, Option<IpAddr>);

/// What a backend holds for a planned lab.
enum Planned {
    Local(local::Lease),
    Netns(Box<netns_backend::Blueprint>),
}

/// What a backend holds for a running lab.
enum Running {
    Local(#[expect(dead_code, reason = "held for its lock")] local::Lease),
    Netns(netns_backend::Built),
}

/// A running lab.
pub struct Lab {
    backend: Backend,
    nodes: BTreeMap<String, NodeHandle>,
    control: Arc<control::Control>,
    topology: Topology,
    running: Option<Running>,
    registry: registry::Registry,
    entry: registry::Entry,
    /// The routing daemons, once [`Lab::start_routers`] started them.
    routers: Option<Arc<router::Routers>>,
    /// What converged routing means for the plan's daemons, once
    /// [`Lab::bring_up_routing`] waited for it: a restore waits for it
    /// again.
    routing_expect: Option<router::Expectations>,
}

impl Lab {
    /// Plans the lab for `plan` on `backend`: every node's address and the
    /// topology as it will be built. Nothing is created yet (the local
    /// backend reserves its block of loopback addresses).
    pub fn plan(plan: &Plan, backend: Backend) -> Result<PlannedLab, LabError> {
        let id = lab_id();
        let (addrs, planned, links): (Vec<NodeAddrs>, Planned, Vec<TopologyLink>) = match backend {
            Backend::Local => {
                let lease = local::lease_block()?;
                let addrs = local::addresses(plan, lease.block)?
                    .into_iter()
                    .map(|(n, a)| (n, a, None))
                    .collect();
                let links = plan
                    .links
                    .iter()
                    .map(|l| TopologyLink {
                        ends: l.ends.clone(),
                        // The local backend cannot shape anything;
                        // validation has refused link properties on it.
                        mechanism: "none (local backend: loopback)".into(),
                        properties: l.mtu.map(|m| format!("mtu {m}")).unwrap_or_default(),
                    })
                    .collect();
                (addrs, Planned::Local(lease), links)
            }
            Backend::Netns => {
                let bp = netns_backend::blueprint(plan, &id)?;
                let addrs = plan
                    .nodes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        let (v4, v6) = bp.addresses(i);
                        (n.name.clone(), v4, Some(v6))
                    })
                    .collect();
                let links = bp.topology_links(plan);
                (addrs, Planned::Netns(Box::new(bp)), links)
            }
        };
        // A LAN shows as a node of role `lan` joined to each member.
        let lan_prefixes: Vec<Vec<String>> = match &planned {
            Planned::Netns(bp) => (0..plan.lans.len()).map(|i| bp.lan_prefixes(i)).collect(),
            Planned::Local(_) => plan.lans.iter().map(|_| Vec::new()).collect(),
        };
        let mut links = links;
        let mut lan_nodes = Vec::new();
        for (lan, prefixes) in plan.lans.iter().zip(lan_prefixes) {
            lan_nodes.push(TopologyNode {
                name: lan.name.clone(),
                role: "lan".into(),
                addresses: prefixes,
                services: Vec::new(),
                sysctls: Vec::new(),
            });
            for m in &lan.nodes {
                links.push(TopologyLink {
                    ends: [m.clone(), lan.name.clone()],
                    mechanism: match backend {
                        Backend::Netns => format!("veth to bridge {}", fabric::LAN_BRIDGE),
                        Backend::Local => "none (local backend: loopback)".into(),
                    },
                    properties: lan.mtu.map(|m| format!("mtu {m}")).unwrap_or_default(),
                });
            }
        }
        let mut env = Vec::new();
        for (name, addr, addr6) in &addrs {
            env.push((format!("NP_ADDR_{}", env_name(name)), addr.to_string()));
            if let Some(a6) = addr6 {
                env.push((format!("NP_ADDR6_{}", env_name(name)), a6.to_string()));
            }
        }
        let env = Arc::new(env);
        let nodes: BTreeMap<String, NodeHandle> = addrs
            .iter()
            .map(|(name, addr, addr6)| {
                (
                    name.clone(),
                    NodeHandle {
                        name: name.clone(),
                        addr: *addr,
                        addr6: *addr6,
                        env: env.clone(),
                        ns: None,
                        resolv_conf: None,
                        resolvers: Arc::new(Vec::new()),
                    },
                )
            })
            .collect();
        let topology = Topology {
            nodes: plan
                .nodes
                .iter()
                .map(|n| TopologyNode {
                    sysctls: n.sysctl.clone(),
                    name: n.name.clone(),
                    role: match n.role {
                        Role::Host => "host".into(),
                        Role::Router => "router".into(),
                    },
                    addresses: std::iter::once(nodes[&n.name].addr)
                        .chain(nodes[&n.name].addr6)
                        .map(|a| a.to_string())
                        .collect(),
                    services: plan
                        .services
                        .iter()
                        .filter(|s| s.node == n.name)
                        .map(|s| s.name.clone())
                        .collect(),
                })
                .chain(lan_nodes)
                .collect(),
            links,
        };
        Ok(PlannedLab {
            id,
            backend,
            nodes,
            topology,
            planned,
            interactive: false,
            ip_netns: false,
        })
    }
}

/// A lab whose addresses are decided but which has not been built.
pub struct PlannedLab {
    id: String,
    backend: Backend,
    nodes: BTreeMap<String, NodeHandle>,
    topology: Topology,
    planned: Planned,
    interactive: bool,
    /// Bind-mount every namespace under `/run/netns` (see
    /// [`PlannedLab::ip_netns`]).
    ip_netns: bool,
}

impl PlannedLab {
    /// Seeds the random draws of the lab's emulated links (the run's seed;
    /// else the plan's, else 0).
    pub fn seed(mut self, seed: u64) -> Self {
        if let Planned::Netns(bp) = &mut self.planned {
            bp.seed = seed;
        }
        self
    }

    /// Marks the lab as interactive (`netproof lab up`): `lab exec` and
    /// `lab down` can find it, and its namespaces are named under
    /// `/run/netns` (as with [`PlannedLab::ip_netns`]).
    pub fn interactive(mut self) -> Self {
        self.interactive = true;
        self.ip_netns = true;
        self
    }

    /// With `on`, the netns backend bind-mounts each node's namespace at
    /// `/run/netns/<lab id>-<node>`, as `ip netns add` does, so `ip netns
    /// exec` and `ip -n` work while the lab is up (and `lab gc` removes
    /// what a killed owner left there). Otherwise, the default for runs,
    /// the namespaces are held by this process's descriptors alone and the
    /// kernel frees them when it exits, however it exits; building is
    /// faster too, by a file under `/run/netns` per node. Without root
    /// nothing is ever mounted.
    pub fn ip_netns(mut self, on: bool) -> Self {
        self.ip_netns |= on;
        self
    }

    /// The topology as it will be built.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// How many routes the lab will install (netns backend; a multipath
    /// route counts once), for benchmarks and reports.
    pub fn routes(&self) -> Option<usize> {
        match &self.planned {
            Planned::Local(_) => None,
            Planned::Netns(bp) => Some(bp.fabric.routes.installed()),
        }
    }

    /// Builds the lab and starts the plan's services in plan order, each
    /// ready before the next starts. On failure everything already created
    /// is removed again.
    pub async fn up(
        self,
        plan: &Plan,
        sink: Arc<dyn Sink>,
        cancel: &Cancel,
    ) -> Result<Lab, LabError> {
        let PlannedLab {
            id,
            backend,
            mut nodes,
            topology,
            planned,
            interactive,
            ip_netns,
        } = self;
        let registry = registry::Registry::default_location();
        let mut entry = registry::Entry {
            id,
            plan: plan.meta.name.clone(),
            owner: registry::ProcessId::current(),
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            interactive,
            backend: backend.as_str().to_string(),
            nodes: plan
                .nodes
                .iter()
                .map(|n| registry::NodeEntry {
                    name: n.name.clone(),
                    addresses: std::iter::once(nodes[&n.name].addr)
                        .chain(nodes[&n.name].addr6)
                        .map(|a| a.to_string())
                        .collect(),
                    namespace: None,
                    resolv_conf: None,
                })
                .collect(),
            namespaces: Vec::new(),
            processes: Vec::new(),
            user_namespace: None,
        };
        registry
            .write(&entry)
            .map_err(|e| LabError::Registry(registry.dir().display().to_string(), e))?;
        let mut router_configs = Vec::new();
        let (running, parts) = match planned {
            Planned::Local(lease) => (Running::Local(lease), None),
            Planned::Netns(bp) => {
                router_configs = match router::config::render_blueprint(plan, &bp) {
                    // A daemon with no protocol to run is not started
                    // (`check` refuses such a plan; a caller that sets a
                    // node's routing by hand starts its own daemons).
                    Ok(mut c) => {
                        c.retain(|c| !c.intent.ospf.is_empty() || !c.intent.bgp.is_empty());
                        c
                    }
                    Err(e) => {
                        let _ = registry.remove(&entry.id);
                        return Err(LabError::RouterConfig(Box::new(e)));
                    }
                };
                let built = match netns_backend::build(&bp, &registry, &mut entry, ip_netns).await {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = registry.remove(&entry.id);
                        return Err(e);
                    }
                };
                for (i, n) in plan.nodes.iter().enumerate() {
                    if let Some(h) = nodes.get_mut(&n.name) {
                        h.ns = Some(built.namespaces[i].clone());
                    }
                }
                // Each node's resolvers, in a file its processes see as
                // /etc/resolv.conf (`netns::resolv`).
                let run_dir = router::paths::RunDir::of(&registry, &entry.id);
                for (i, n) in plan.nodes.iter().enumerate() {
                    if n.resolver.is_empty() {
                        continue;
                    }
                    let path = resolv_path(run_dir.path(), &n.name);
                    if let Err(e) = netns::resolv::write(&path, &n.name, &n.resolver) {
                        drop(built.teardown());
                        let _ = registry.remove(&entry.id);
                        return Err(LabError::Resolver {
                            node: n.name.clone(),
                            path,
                            source: e,
                        });
                    }
                    if let Some(h) = nodes.get_mut(&n.name) {
                        h.resolv_conf = Some(Arc::new(path.clone()));
                        h.resolvers = Arc::new(n.resolver.clone());
                    }
                    entry.nodes[i].resolv_conf = Some(path);
                }
                if plan.nodes.iter().any(|n| !n.resolver.is_empty())
                    && let Err(e) = registry.write(&entry)
                {
                    drop(built.teardown());
                    let _ = registry.remove(&entry.id);
                    return Err(LabError::Registry(registry.dir().display().to_string(), e));
                }
                let parts = bp.control_parts(&built, plan);
                (Running::Netns(built), Some(parts))
            }
        };
        let control = Arc::new(control::Control::new(
            nodes.clone(),
            plan.services.clone(),
            parts,
            sink.clone(),
        ));
        let mut lab = Lab {
            backend,
            nodes,
            control,
            topology,
            running: Some(running),
            registry,
            entry,
            routers: None,
            routing_expect: None,
        };
        // Routing before services: a service may need routes to start.
        if !router_configs.is_empty()
            && let Err(e) = lab
                .bring_up_routing(&router_configs, sink.clone(), cancel)
                .await
        {
            lab.down().await;
            return Err(e);
        }
        let run_dir = router::paths::RunDir::of(&lab.registry, &lab.entry.id);
        match cdn::CdnFiles::prepare(run_dir.path(), &plan.services, sink.as_ref()).await {
            Ok(Some(files)) => lab.control.set_cdn(Arc::new(files)),
            Ok(None) => {}
            Err(e) => {
                lab.down().await;
                return Err(e.into());
            }
        }
        for i in 0..plan.services.len() {
            if cancel.is_cancelled() {
                lab.down().await;
                return Err(LabError::Interrupted);
            }
            if let Err(e) = lab.control.start_service(i, cancel).await {
                lab.down().await;
                return Err(e);
            }
            lab.record_processes();
        }
        Ok(lab)
    }
}

/// What steps need of a running lab, cheap to clone into tasks.
#[derive(Clone)]
pub struct LabHandles {
    nodes: Arc<BTreeMap<String, NodeHandle>>,
    /// Live control: faults and restore.
    pub control: Arc<control::Control>,
    /// Every node's address, by name.
    pub addresses: Arc<BTreeMap<String, IpAddr>>,
    /// The lab CA's certificate (`ca = "{lab_ca}"`), when the lab made
    /// certificates for its CDN services.
    pub lab_ca: Option<std::path::PathBuf>,
}

impl LabHandles {
    /// A node by plan name.
    pub fn node(&self, name: &str) -> Option<NodeHandle> {
        self.nodes.get(name).cloned()
    }
}

impl Lab {
    /// Handles to the nodes for steps running in their own tasks.
    pub fn handles(&self) -> LabHandles {
        LabHandles {
            nodes: Arc::new(self.nodes.clone()),
            control: self.control.clone(),
            addresses: Arc::new(self.addresses()),
            lab_ca: self.lab_ca(),
        }
    }

    /// The lab CA's certificate, when the lab made certificates for its
    /// CDN services.
    pub fn lab_ca(&self) -> Option<std::path::PathBuf> {
        self.control.cdn().and_then(|f| f.ca())
    }

    /// The backend the lab runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A node by plan name.
    pub fn node(&self, name: &str) -> Option<&NodeHandle> {
        self.nodes.get(name)
    }

    /// Every node's address, by name.
    pub fn addresses(&self) -> BTreeMap<String, IpAddr> {
        self.nodes
            .iter()
            .map(|(k, v)| (k.clone(), v.addr))
            .collect()
    }

    /// The topology as built, for the store and the report.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// How long each phase of building the lab took, in order
    /// (`namespaces`, `loopbacks`, `links`, `LANs`, `routes`, `LAN
    /// routers' IPv6 link-local ready`); empty for the local backend. For
    /// benchmarks, and for finding what makes a large lab slow to come up.
    pub fn build_phases(&self) -> &[(&'static str, std::time::Duration)] {
        match &self.running {
            Some(Running::Netns(built)) => &built.phases,
            _ => &[],
        }
    }

    /// Services and routing daemons that have exited on their own since
    /// the lab came up.
    pub fn failed_services(&self) -> Vec<ServiceFailure> {
        let mut failed = self.control.failed_services();
        if let Some(r) = &self.routers {
            failed.extend(r.failures());
        }
        failed
    }

    /// Starts routing daemons on the nodes `specs` name (see
    /// [`router::Routers`]): configurations checked by the daemons
    /// themselves, per-node sockets and PID files in the lab's run
    /// directory beside its registry entry, every daemon registered so
    /// `lab gc` can kill it. Call once, after [`PlannedLab::up`] and
    /// before the traffic that needs routes; then
    /// [`Lab::wait_converged`]. On error nothing of the daemons is left
    /// running; the lab itself stays up (the caller takes it down).
    pub async fn start_routers(
        &mut self,
        specs: &[router::RouterSpec],
        sink: Arc<dyn Sink>,
        cancel: &Cancel,
    ) -> Result<(), LabError> {
        if self.backend != Backend::Netns {
            return Err(router::RouterError::BadSpec(
                "routing daemons need the netns backend (a node of the local backend has no routing table of its own)".into(),
            )
            .into());
        }
        if self.routers.is_some() {
            return Err(router::RouterError::BadSpec(
                "the lab's routing daemons are already running".into(),
            )
            .into());
        }
        let run = router::paths::RunDir::of(&self.registry, &self.entry.id);
        let routers =
            Arc::new(router::Routers::start(run, specs, &self.nodes, sink, cancel).await?);
        self.control.set_routers(routers.clone());
        self.routers = Some(routers);
        self.record_processes();
        Ok(())
    }

    /// Polls the routing daemons and the nodes' FIBs until `expect` holds,
    /// at most `within`; returns how long it took from the call. The error
    /// names every session and route still missing, or the daemon that
    /// died.
    pub async fn wait_converged(
        &self,
        expect: &router::Expectations,
        within: std::time::Duration,
        cancel: &Cancel,
    ) -> Result<std::time::Duration, LabError> {
        let Some(routers) = &self.routers else {
            return Err(router::RouterError::BadSpec(
                "no routing daemons are running (call `start_routers` first)".into(),
            )
            .into());
        };
        Ok(router::ready::wait_converged(routers, &self.nodes, expect, within, cancel).await?)
    }

    /// Starts the daemons of the rendered `configs` and waits until the
    /// routing they describe has converged ([`router::expectations`]),
    /// at most [`CONVERGE_WITHIN`]. A configuration a daemon refuses is an
    /// error pointing at the plan item that produced the refused line.
    async fn bring_up_routing(
        &mut self,
        configs: &[router::config::NodeConfig],
        sink: Arc<dyn Sink>,
        cancel: &Cancel,
    ) -> Result<(), LabError> {
        let specs: Vec<router::RouterSpec> = configs
            .iter()
            .filter_map(|c| {
                Some(router::RouterSpec {
                    node: c.node().to_string(),
                    daemon: c.daemon(),
                    config: c.files.first()?.text.clone(),
                    intent: Some(c.intent.clone()),
                })
            })
            .collect();
        if let Err(e) = self.start_routers(&specs, sink.clone(), cancel).await {
            // A refusal points at the plan line behind the refused line.
            if let LabError::Router(router::RouterError::Config { node, message, .. }) = &e
                && let Some(c) = configs.iter().find(|c| c.node() == node)
            {
                return Err(LabError::RouterRefused(Box::new(
                    c.refused(&c.files[0], message),
                )));
            }
            return Err(e);
        }
        let expect = router::expectations(configs);
        let took = self
            .wait_converged(&expect, CONVERGE_WITHIN, cancel)
            .await?;
        self.routing_expect = Some(expect);
        sink.event(Event::new(
            "lab.routing_converged",
            Severity::Info,
            format!(
                "routing converged in {:.2} s ({} daemon(s))",
                took.as_secs_f64(),
                specs.len()
            ),
        ));
        Ok(())
    }

    /// The running routing daemons, if any.
    pub fn routers(&self) -> Option<&router::Routers> {
        self.routers.as_deref()
    }

    /// Rewrites the registry entry's processes: services and daemons.
    ///
    /// The control keeps the entry too, and rewrites it when a node fault
    /// or a restore starts services or daemons again, so `lab gc` after a
    /// crash knows their new process ids.
    fn record_processes(&mut self) {
        self.control
            .keep_registry(self.registry.clone(), self.entry.clone());
        if let Some(entry) = self.control.record_processes() {
            self.entry = entry;
        }
    }

    /// The emulated links whose emulator runs, for the self-check.
    pub fn emulated_links(&self) -> Vec<control::EmulatedLink> {
        self.control.emulated_links()
    }

    /// Each emulated link's release lateness since the case began.
    pub fn case_lateness(&self) -> Vec<control::LinkLateness> {
        self.control.case_lateness()
    }

    /// Emulated links whose emulator has died, each with why.
    pub fn failed_links(&self) -> Vec<String> {
        self.control.failed_links()
    }

    /// Returns the lab to the plan's state if a fault changed it.
    ///
    /// With routing daemons, the plan's state includes converged routing:
    /// after putting links, daemons and intents back, it waits (at most
    /// [`CONVERGE_WITHIN`]) until every session is established and every
    /// expected route installed again, so the next case does not start
    /// while a session cut by this one is still coming back.
    pub async fn restore(&self, sink: &dyn Sink) -> Result<(), control::FaultError> {
        if !self.control.is_changed() {
            return Ok(());
        }
        self.control.restore(sink).await?;
        if let Some(expect) = &self.routing_expect {
            let took = self
                .wait_converged(expect, CONVERGE_WITHIN, &Cancel::new())
                .await?;
            sink.event(Event::new(
                "lab.routing_converged",
                Severity::Info,
                format!(
                    "routing converged again {:.2} s after the restore",
                    took.as_secs_f64()
                ),
            ));
        }
        Ok(())
    }

    /// Stops every service (in reverse start order) and keeps their output
    /// as artifacts. Never fails: what cannot be stopped politely is killed.
    pub async fn down(&mut self) {
        self.control.stop_all().await;
        // The CDN services' configs and certificates, now that nothing
        // reads them (the daemons' files beside them go with the daemons).
        let run_dir = router::paths::RunDir::of(&self.registry, &self.entry.id);
        let _ = router::paths::remove_tree(&run_dir.path().join("cdn"));
        let _ = router::paths::remove_tree(&run_dir.path().join(RESOLV_DIR));
        let _ = std::fs::remove_dir(run_dir.path());
        // Daemons after services (which may depend on their routes), and
        // before the namespaces they run in.
        let mut problems = Vec::new();
        if let Some(routers) = self.routers.take() {
            self.control.clear_routers();
            problems = routers.stop().await;
        }
        // Node handles hold the namespaces too; drop ours before deleting.
        for h in self.nodes.values_mut() {
            h.ns = None;
        }
        if let Some(Running::Netns(built)) = self.running.take() {
            problems.extend(built.teardown());
        }
        for problem in &problems {
            self.control.warn("lab.teardown", problem);
        }
        // With everything gone the entry has nothing left to clean up; with
        // something left, it stays, so `netproof lab gc` can finish the job.
        if problems.is_empty() {
            let _ = self.registry.remove(&self.entry.id);
        }
    }

    /// The lab's id (`np-` and 6 hex digits), as `netproof lab status` shows it.
    pub fn id(&self) -> &str {
        &self.entry.id
    }
}

/// A fresh lab id: `np-` and 6 hex digits from the clock and pid, short
/// enough to fit in namespace and interface names.
fn lab_id() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // Mixed, so two labs started in the same microsecond by neighbouring
    // pids still differ in their low bits.
    let mut state = t ^ (u64::from(std::process::id()) << 32);
    let z = netproof_proto::seed::splitmix64(&mut state);
    format!("np-{:06x}", z & 0xff_ffff)
}

/// Makes `cmd` enter the network namespace `ns` (an open namespace file,
/// e.g. `/run/netns/NAME`) between fork and exec, after the user namespace
/// `user` when one is given (a lab built without root: its network
/// namespaces belong to its owner's user namespace, and only a member of
/// that may enter them). The files are kept open by the closure until the
/// command is dropped.
///
/// Joining a user namespace needs a single-threaded process, which the
/// child between fork and exec is, and `CAP_SYS_ADMIN` in that namespace,
/// which its creator's uid has without asking.
pub fn enter_before_exec(
    cmd: &mut std::process::Command,
    user: Option<std::fs::File>,
    ns: std::fs::File,
) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and calls only setns,
    // which is async-signal-safe; the files live as long as the closure.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(user) = &user
                && libc::setns(user.as_raw_fd(), libc::CLONE_NEWUSER) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The directory of the nodes' resolv.conf files in a lab's run directory.
const RESOLV_DIR: &str = "resolv";

/// Where node `node`'s resolv.conf is written.
fn resolv_path(run_dir: &std::path::Path, node: &str) -> std::path::PathBuf {
    run_dir.join(RESOLV_DIR).join(format!("{node}.conf"))
}

/// `edge-a` -> `EDGE_A`, for environment variable names.
pub fn env_name(node: &str) -> String {
    node.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_shell_safe() {
        assert_eq!(env_name("edge-a"), "EDGE_A");
        assert_eq!(env_name("client1"), "CLIENT1");
    }
}
