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
//! Today there is one backend, `local`: every node is this host with its own
//! loopback address in 127.0.0.0/8, and nothing is impaired.

pub mod cancel;
pub mod process;
pub mod registry;
mod local;
mod service;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use netproof_plan::{Backend, Plan, Role};
use netproof_sample::Sink;
use tokio::net::{TcpSocket, TcpStream};
use tokio::process::Command;

pub use cancel::{Cancel, Reason};
use service::RunningService;
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
    #[error("cannot write the lab registry in `{0}`: {1}\nhint: netproof records every lab there so `netproof lab gc` can clean up after a crash; check the directory's permissions")]
    Registry(String, #[source] std::io::Error),
    /// The backend is not in this build yet.
    #[error("the `{0}` backend is not in this build yet\nhint: use `--backend local`")]
    NotBuilt(&'static str),
    /// The run was interrupted while the lab was coming up.
    #[error("interrupted while the lab was coming up")]
    Interrupted,
}

/// A node of the running lab, as steps see it.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    /// The node's plan name.
    pub name: String,
    /// The node's address.
    pub addr: IpAddr,
    env: Arc<Vec<(String, String)>>,
}

impl NodeHandle {
    /// A command that runs on this node, with the lab's environment
    /// (`NP_NODE`, `NP_ADDR`, `NP_ADDR_<NODE>`) and supervised like every
    /// lab process (own process group, dies with netproof).
    pub fn command(&self, program: &str, args: &[String]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args);
        for (k, v) in self.env.iter() {
            cmd.env(k, v);
        }
        cmd.env("NP_NODE", &self.name)
            .env("NP_ADDR", self.addr.to_string());
        process::supervise(&mut cmd);
        cmd
    }

    /// Opens a TCP connection from this node to `target`, bound to the
    /// node's address so the far end sees who connected.
    pub async fn tcp_connect(&self, target: SocketAddr) -> std::io::Result<TcpStream> {
        let socket = match (self.addr, target) {
            (IpAddr::V4(_), SocketAddr::V4(_)) => {
                let s = TcpSocket::new_v4()?;
                s.bind(SocketAddr::new(self.addr, 0))?;
                s
            }
            (IpAddr::V6(_), SocketAddr::V6(_)) => {
                let s = TcpSocket::new_v6()?;
                s.bind(SocketAddr::new(self.addr, 0))?;
                s
            }
            // Mixed families: let the kernel pick the source address.
            (_, SocketAddr::V4(_)) => TcpSocket::new_v4()?,
            (_, SocketAddr::V6(_)) => TcpSocket::new_v6()?,
        };
        socket.set_nodelay(true)?;
        socket.connect(target).await
    }
}

/// A running lab.
pub struct Lab {
    backend: Backend,
    nodes: BTreeMap<String, NodeHandle>,
    services: Vec<RunningService>,
    topology: Topology,
    _lease: local::Lease,
    registry: registry::Registry,
    entry: registry::Entry,
}

impl Lab {
    /// Plans the lab for `plan` on `backend`: every node's address and the
    /// topology as it will be built. Nothing is created yet.
    pub fn plan(plan: &Plan, backend: Backend) -> Result<PlannedLab, LabError> {
        let (addrs, lease) = match backend {
            Backend::Local => {
                let lease = local::lease_block()?;
                (local::addresses(plan, lease.block)?, lease)
            }
            Backend::Netns => return Err(LabError::NotBuilt("netns")),
        };
        let mut env = Vec::new();
        for (name, addr) in &addrs {
            env.push((format!("NP_ADDR_{}", env_name(name)), addr.to_string()));
        }
        let env = Arc::new(env);
        let nodes: BTreeMap<String, NodeHandle> = addrs
            .iter()
            .map(|(name, addr)| {
                (
                    name.clone(),
                    NodeHandle {
                        name: name.clone(),
                        addr: *addr,
                        env: env.clone(),
                    },
                )
            })
            .collect();
        let topology = Topology {
            nodes: plan
                .nodes
                .iter()
                .map(|n| TopologyNode {
                    name: n.name.clone(),
                    role: match n.role {
                        Role::Host => "host".into(),
                        Role::Router => "router".into(),
                    },
                    addresses: vec![nodes[&n.name].addr.to_string()],
                    services: plan
                        .services
                        .iter()
                        .filter(|s| s.node == n.name)
                        .map(|s| s.name.clone())
                        .collect(),
                })
                .collect(),
            links: plan
                .links
                .iter()
                .map(|l| TopologyLink {
                    ends: l.ends.clone(),
                    // The local backend cannot shape anything; validation
                    // has already refused impairments on it.
                    mechanism: "none (local backend: loopback)".into(),
                    properties: l.mtu.map(|m| format!("mtu {m}")).unwrap_or_default(),
                })
                .collect(),
        };
        Ok(PlannedLab {
            backend,
            nodes,
            topology,
            lease,
            interactive: false,
        })
    }
}

/// A lab whose addresses are decided but which has not been built.
pub struct PlannedLab {
    backend: Backend,
    nodes: BTreeMap<String, NodeHandle>,
    topology: Topology,
    lease: local::Lease,
    interactive: bool,
}

impl PlannedLab {
    /// Marks the lab as interactive (`netproof lab up`): `lab exec` and
    /// `lab down` can find it.
    pub fn interactive(mut self) -> Self {
        self.interactive = true;
        self
    }

    /// The topology as it will be built.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Builds the lab and starts the plan's services in plan order, each
    /// ready before the next starts. On failure everything already started
    /// is stopped again.
    pub async fn up(
        self,
        plan: &Plan,
        sink: Arc<dyn Sink>,
        cancel: &Cancel,
    ) -> Result<Lab, LabError> {
        let PlannedLab {
            backend,
            nodes,
            topology,
            lease,
            ..
        } = self;
        let registry = registry::Registry::default_location();
        let entry = registry::Entry {
            id: lab_id(),
            plan: plan.meta.name.clone(),
            owner: registry::ProcessId::current(),
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            interactive: self.interactive,
            backend: backend.as_str().to_string(),
            nodes: plan
                .nodes
                .iter()
                .map(|n| registry::NodeEntry {
                    name: n.name.clone(),
                    addresses: vec![nodes[&n.name].addr.to_string()],
                    namespace: None,
                })
                .collect(),
            namespaces: Vec::new(),
            processes: Vec::new(),
        };
        registry
            .write(&entry)
            .map_err(|e| LabError::Registry(registry.dir().display().to_string(), e))?;
        let mut lab = Lab {
            backend,
            nodes,
            services: Vec::new(),
            topology,
            _lease: lease,
            registry,
            entry,
        };
        for svc in &plan.services {
            if cancel.is_cancelled() {
                lab.down().await;
                return Err(LabError::Interrupted);
            }
            let node = lab.nodes[&svc.node].clone();
            let started = service::start(svc, &node, &lab.nodes, sink.clone(), cancel).await;
            match started {
                Ok(running) => {
                    if let Some(id) = running.process() {
                        lab.entry.processes.push(registry::ProcessEntry {
                            id,
                            what: format!("service `{}` on `{}`", svc.name, svc.node),
                        });
                        // Best effort: the entry is for cleaning up after a
                        // crash; PDEATHSIG already covers the common case.
                        let _ = lab.registry.write(&lab.entry);
                    }
                    lab.services.push(running)
                }
                Err(e) => {
                    lab.down().await;
                    return Err(e);
                }
            }
        }
        Ok(lab)
    }
}

/// What steps need of a running lab, cheap to clone into tasks.
#[derive(Clone)]
pub struct LabHandles {
    nodes: Arc<BTreeMap<String, NodeHandle>>,
    /// Every node's address, by name.
    pub addresses: Arc<BTreeMap<String, IpAddr>>,
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
            addresses: Arc::new(self.addresses()),
        }
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

    /// Services that have exited on their own since the lab came up.
    pub fn failed_services(&self) -> Vec<ServiceFailure> {
        self.services.iter().filter_map(|s| s.failure()).collect()
    }

    /// Stops every service (in reverse start order) and keeps their output
    /// as artifacts. Never fails: what cannot be stopped politely is killed.
    pub async fn down(&mut self) {
        while let Some(s) = self.services.pop() {
            s.stop(Duration::from_secs(3)).await;
        }
        // Everything is gone: the entry has nothing left to clean up.
        let _ = self.registry.remove(&self.entry.id);
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
    let mut z = t ^ (u64::from(std::process::id()) << 32);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    format!("np-{:06x}", (z ^ (z >> 31)) & 0xff_ffff)
}

/// Makes `cmd` enter the network namespace `ns` (an open namespace file,
/// e.g. `/run/netns/NAME`) between fork and exec. The file is kept open by
/// the closure until the command is dropped.
pub fn enter_before_exec(cmd: &mut std::process::Command, ns: std::fs::File) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and calls only setns,
    // which is async-signal-safe; `ns` lives as long as the closure.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
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
