//! Live control of a running lab: faults, and the way back to the plan.
//!
//! [`Control`] is shared by the lab and every step task. It owns the lab's
//! services (so a fault can stop and start them) and knows each link's two
//! interfaces and every node's routes (so a fault can take a link down and
//! put it back exactly). Every fault becomes an event at the moment it takes
//! effect; [`Control::restore`] returns the lab to the plan's state, which
//! the executor calls after every case.
//!
//! A link that goes down is set administratively down at both ends, as a
//! pulled cable: the kernel withdraws the routes through it, so traffic
//! takes another path or fails at once. When it comes back, its routes are
//! installed again (those that survived are left alone). Namespaces are
//! held weakly here, so a step task that outlives the lab never keeps its
//! namespaces alive.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use netproof_link::emulator::{Emulator, Stats};
use netproof_link::{Direction, LinkState};
use netproof_plan::{Fault, LinkId, LinkImpairments, Service};
use netproof_sample::{Event, Severity, Sink};

use crate::netns::{NetNs, Netlink, NetnsError};
use crate::router::{RouterError, Routers};
use crate::service::{self, RunningService, ServiceFailure};
use crate::{Cancel, LabError, NodeHandle};

mod emulation;
pub use emulation::{EmulatedLink, LinkLateness};

/// A link as the controller sees it.
pub(crate) struct LinkCtl {
    /// The two node names, as the plan writes them.
    pub(crate) ends: [String; 2],
    /// The two node indexes.
    pub(crate) nodes: [usize; 2],
    /// The interface at each end.
    pub(crate) ifnames: [String; 2],
    /// The rate each end's `tbf` gives what it sends, per the plan (veth
    /// links only).
    pub(crate) plan_tbf: [Option<u64>; 2],
    /// The plan's impairments.
    pub(crate) plan: LinkImpairments,
    /// The link's emulator, for an emulated link (held weakly: the lab
    /// owns it and stops it before its namespaces go).
    pub(crate) emulator: Option<Weak<Emulator>>,
    /// The link's addresses.
    pub(crate) addrs: crate::fabric::LinkAddresses,
    /// The ends' hardware addresses, for the permanent neighbour entries
    /// put back when the link comes up (see
    /// [`crate::netns::introduce_ends`]).
    pub(crate) macs: Option<crate::netns::Macs>,
}

/// A route as installed: destination, prefix length, next hops.
pub(crate) type InstalledRoute = (IpAddr, u8, Vec<(IpAddr, String)>);

/// What the namespace backend gives the controller.
pub(crate) struct NetnsParts {
    /// Each node's namespace, by node index.
    pub(crate) namespaces: Vec<Weak<NetNs>>,
    /// Each link, by link index.
    pub(crate) links: Vec<LinkCtl>,
    /// The routes the fabric owns and installed, by node: all that
    /// [`Control`] ever puts back. A node whose routes a routing daemon
    /// owns has none here, so a fault never touches its routes.
    pub(crate) routes: Vec<Vec<InstalledRoute>>,
}

/// Why a fault could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// Link faults need namespaces.
    #[error("fault `{0}` needs the netns backend")]
    NeedsNetns(&'static str),
    /// The lab is gone.
    #[error("the lab is already down")]
    Gone,
    /// A kernel operation failed.
    #[error("{0}")]
    Netns(#[from] NetnsError),
    /// A service could not be started again.
    #[error(transparent)]
    Service(#[from] LabError),
    /// A node's routing daemons could not be started again, or did not
    /// take a routing change.
    #[error(transparent)]
    Router(#[from] RouterError),
    /// A routing fault in a lab without routing daemons.
    #[error("routing faults need routing daemons, and this lab runs none")]
    NoRouters,
    /// A link's emulator did not take the change.
    #[error("{0}")]
    Emulator(std::io::Error),
}

struct Services {
    defs: Vec<Service>,
    running: Vec<Option<RunningService>>,
}

#[derive(Default)]
struct State {
    down: BTreeSet<usize>,
    reshaped: BTreeSet<usize>,
    /// Emulated links' settings as `link_set` left them.
    current: BTreeMap<usize, LinkImpairments>,
    /// Each emulated link's counters at its last sample.
    sampled: BTreeMap<usize, (std::time::Instant, Stats)>,
    /// Emulated links whose emulator has died, with why.
    dead: BTreeMap<usize, String>,
    /// Emulated links a `link_blackhole` fault left dropping everything.
    blackholed: BTreeSet<usize>,
    /// Each emulator's lateness as the case began.
    lateness_mark: BTreeMap<usize, netproof_link::emulator::Lateness>,
}

/// Shared live control of one lab.
pub struct Control {
    nodes: Mutex<BTreeMap<String, NodeHandle>>,
    services: Mutex<Services>,
    netns: Option<NetnsParts>,
    state: Mutex<State>,
    sink: Arc<dyn Sink>,
    /// Every service start's sample channel not yet finished.
    feeds: Mutex<Vec<Arc<crate::collect::feed::Feed>>>,
    /// The routing daemons, once started: node faults reach them too.
    routers: Mutex<Option<Arc<Routers>>>,
    /// The lab's registry entry, rewritten whenever processes start.
    registry: Mutex<Option<(crate::registry::Registry, crate::registry::Entry)>>,
    /// Where CDN services' configs and the lab's certificates are.
    cdn: Mutex<Option<Arc<crate::cdn::CdnFiles>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Control {
    pub(crate) fn new(
        nodes: BTreeMap<String, NodeHandle>,
        defs: Vec<Service>,
        netns: Option<NetnsParts>,
        sink: Arc<dyn Sink>,
    ) -> Control {
        let running = defs.iter().map(|_| None).collect();
        Control {
            nodes: Mutex::new(nodes),
            services: Mutex::new(Services { defs, running }),
            netns,
            state: Mutex::default(),
            sink,
            feeds: Mutex::default(),
            routers: Mutex::default(),
            registry: Mutex::default(),
            cdn: Mutex::default(),
        }
    }

    /// Gives service starts the lab's CDN files.
    pub(crate) fn set_cdn(&self, files: Arc<crate::cdn::CdnFiles>) {
        *lock(&self.cdn) = Some(files);
    }

    /// The lab's CDN files, once prepared.
    pub(crate) fn cdn(&self) -> Option<Arc<crate::cdn::CdnFiles>> {
        lock(&self.cdn).clone()
    }

    /// Keeps the lab's registry entry, to rewrite when processes start.
    pub(crate) fn keep_registry(
        &self,
        registry: crate::registry::Registry,
        entry: crate::registry::Entry,
    ) {
        *lock(&self.registry) = Some((registry, entry));
    }

    /// Rewrites the kept registry entry's processes (services, then
    /// routing daemons) and returns it. Best effort: the entry is for
    /// cleaning up after a crash, which the death signal already covers
    /// in the common case.
    pub(crate) fn record_processes(&self) -> Option<crate::registry::Entry> {
        let mut processes = self.processes();
        if let Some(r) = self.routers() {
            processes.extend(r.processes());
        }
        let mut kept = lock(&self.registry);
        let (registry, entry) = kept.as_mut()?;
        entry.processes = processes
            .into_iter()
            .map(|(id, what)| crate::registry::ProcessEntry { id, what })
            .collect();
        let _ = registry.write(entry);
        Some(entry.clone())
    }

    /// Gives node faults the lab's routing daemons.
    pub(crate) fn set_routers(&self, routers: Arc<Routers>) {
        *lock(&self.routers) = Some(routers);
    }

    /// Takes the routing daemons back for the lab's teardown.
    pub(crate) fn clear_routers(&self) {
        lock(&self.routers).take();
    }

    fn routers(&self) -> Option<Arc<Routers>> {
        lock(&self.routers).clone()
    }

    /// Starts service `index` (of the plan's services) and keeps it.
    pub(crate) async fn start_service(
        &self,
        index: usize,
        cancel: &Cancel,
    ) -> Result<(), LabError> {
        let (svc, nodes) = {
            let s = lock(&self.services);
            (s.defs[index].clone(), lock(&self.nodes).clone())
        };
        let node = nodes[&svc.node].clone();
        let cdn = self.cdn();
        let running = service::start(
            &svc,
            &node,
            &nodes,
            cdn.as_deref(),
            self.sink.clone(),
            cancel,
        )
        .await?;
        lock(&self.feeds).push(running.feed());
        lock(&self.services).running[index] = Some(running);
        Ok(())
    }

    /// The registry records of the running services.
    pub(crate) fn processes(&self) -> Vec<(crate::registry::ProcessId, String)> {
        let s = lock(&self.services);
        s.running
            .iter()
            .zip(&s.defs)
            .filter_map(|(r, d)| {
                r.as_ref()
                    .and_then(RunningService::process)
                    .map(|p| (p, format!("service `{}` on `{}`", d.name, d.node)))
            })
            .collect()
    }

    /// Services that exited on their own (not stopped by a fault).
    pub fn failed_services(&self) -> Vec<ServiceFailure> {
        lock(&self.services)
            .running
            .iter()
            .flatten()
            .filter_map(RunningService::failure)
            .collect()
    }

    /// Stops every service, in reverse start order, and forgets the nodes'
    /// namespaces so they can be deleted.
    pub(crate) async fn stop_all(&self) {
        let running: Vec<RunningService> = {
            let mut s = lock(&self.services);
            s.running
                .iter_mut()
                .rev()
                .filter_map(Option::take)
                .collect()
        };
        for r in running {
            r.stop(Duration::from_secs(3)).await;
        }
        // What the services wrote since the last case belongs to the run.
        self.forward_feeds(None);
        for h in lock(&self.nodes).values_mut() {
            h.ns = None;
        }
    }

    /// Whether the plan has services.
    pub(crate) fn has_services(&self) -> bool {
        !lock(&self.services).defs.is_empty()
    }

    /// Each running service's name, node and process group (its pid).
    pub(crate) fn service_groups(&self) -> Vec<(String, String, u32)> {
        let s = lock(&self.services);
        s.running
            .iter()
            .zip(&s.defs)
            .filter_map(|(r, d)| Some((d.name.clone(), d.node.clone(), r.as_ref()?.process()?.pid)))
            .collect()
    }

    /// Forwards what the services' sample channels hold to `sink` (the
    /// lab's own when `None`), and forgets channels that are finished.
    pub(crate) fn forward_feeds(&self, sink: Option<&dyn Sink>) {
        let sink = sink.unwrap_or(self.sink.as_ref());
        let feeds = lock(&self.feeds).clone();
        let finished: Vec<_> = feeds.iter().filter(|f| f.forward(sink)).collect();
        if !finished.is_empty() {
            lock(&self.feeds).retain(|f| !finished.iter().any(|x| Arc::ptr_eq(f, x)));
        }
    }

    /// Records a warning about the lab itself (not a step) as an event.
    pub(crate) fn warn(&self, kind: &str, message: &str) {
        self.sink
            .event(Event::new(kind, Severity::Warning, message.to_string()));
    }

    fn event(&self, sink: &dyn Sink, kind: &str, message: String, labels: &[(&str, &str)]) {
        let mut e = Event::new(kind, Severity::Info, message);
        for (k, v) in labels {
            e = e.label(*k, *v);
        }
        sink.event(e);
    }

    /// The position of `link` among the lab's links, which are the plan's
    /// in plan order (a [`LinkId`] is only made by validating the plan this
    /// lab was built from); an error only on a backend without links.
    fn link_index(&self, link: &LinkId) -> Result<usize, FaultError> {
        self.netns
            .as_ref()
            .map(|_| link.index())
            .ok_or(FaultError::NeedsNetns("link"))
    }

    fn netlink(&self, node: usize) -> Result<Netlink, FaultError> {
        let parts = self.netns.as_ref().ok_or(FaultError::NeedsNetns("link"))?;
        let ns = parts.namespaces[node].upgrade().ok_or(FaultError::Gone)?;
        Ok(Netlink::new(&ns)?)
    }

    async fn set_link(&self, link: usize, up: bool) -> Result<(), FaultError> {
        let parts = self.netns.as_ref().ok_or(FaultError::NeedsNetns("link"))?;
        let l = &parts.links[link];
        if let Some(e) = self.emulator(link)? {
            // Carrier off and everything in flight dropped, as a pulled
            // cable; the administrative state below withdraws the routes.
            e.set_state(if up { LinkState::Up } else { LinkState::Down })
                .map_err(FaultError::Emulator)?;
        }
        for end in 0..2 {
            let nl = self.netlink(l.nodes[end])?;
            if up {
                nl.set_up(&l.ifnames[end]).await?;
            } else {
                nl.set_down(&l.ifnames[end]).await?;
            }
        }
        if up {
            {
                let mut st = lock(&self.state);
                st.down.remove(&link);
                st.blackholed.remove(&link);
            }
            // The kernel puts an IPv6 address's connected route back at
            // link-up from an allocation that may fail on a busy host, and
            // then goes on without it (see the netns backend's `up_then_address`):
            // make sure it is there.
            let subnet = l.addrs.subnet_v6();
            for end in 0..2 {
                let nl = self.netlink(l.nodes[end])?;
                if nl
                    .ensure_connected_route(&l.ifnames[end], subnet.addr, subnet.len)
                    .await?
                {
                    self.warn(
                        "lab.link",
                        &format!(
                            "the kernel had not restored the route to {subnet} on `{}` of {}--{} \
                             when the link came up; netproof added it",
                            l.ifnames[end], l.ends[0], l.ends[1]
                        ),
                    );
                }
            }
            // Taking an end down dropped its neighbour entries.
            if let Some(macs) = l.macs {
                let (na, nb) = (self.netlink(l.nodes[0])?, self.netlink(l.nodes[1])?);
                crate::netns::introduce_ends(
                    [&na, &nb],
                    [l.ifnames[0].as_str(), l.ifnames[1].as_str()],
                    l.addrs.end_addresses(),
                    macs,
                )
                .await?;
            }
            // The kernel dropped the routes through the link, on its two
            // ends only, when it went down (static routes elsewhere stay).
            // Put those back, each with its next hops over links that are
            // up. Replace rather than add: when several links of one ECMP
            // route come back one after another (`restore` after a
            // `partition`), the first put the route back with only its own
            // next hop, and an add of the later ones would answer EEXIST
            // and leave the route a single path.
            let down = lock(&self.state).down.clone();
            for end in 0..2 {
                let node = l.nodes[end];
                let link_of = |ifname: &str| {
                    parts.links.iter().position(|x| {
                        (x.nodes[0] == node && x.ifnames[0] == ifname)
                            || (x.nodes[1] == node && x.ifnames[1] == ifname)
                    })
                };
                let nl = self.netlink(node)?;
                for (dest, len, hops) in &parts.routes[node] {
                    if !hops.iter().any(|(_, ifn)| *ifn == l.ifnames[end]) {
                        continue;
                    }
                    let hops: Vec<(IpAddr, &str)> = hops
                        .iter()
                        .filter(|(_, ifn)| link_of(ifn).is_none_or(|k| !down.contains(&k)))
                        .map(|(via, ifn)| (*via, ifn.as_str()))
                        .collect();
                    nl.replace_route(*dest, *len, &hops).await?;
                }
            }
        } else {
            lock(&self.state).down.insert(link);
        }
        Ok(())
    }

    /// The emulator of link `link`, if it is an emulated link.
    fn emulator(&self, link: usize) -> Result<Option<Arc<Emulator>>, FaultError> {
        let parts = self.netns.as_ref().ok_or(FaultError::NeedsNetns("link"))?;
        match &parts.links[link].emulator {
            None => Ok(None),
            Some(w) => w.upgrade().map(Some).ok_or(FaultError::Gone),
        }
    }

    /// Gives an emulated link new settings, both directions.
    fn set_emulated(&self, link: usize, imp: &LinkImpairments) -> Result<(), FaultError> {
        if let Some(e) = self.emulator(link)? {
            for d in Direction::BOTH {
                e.set_params(d, imp.direction(d).params())
                    .map_err(FaultError::Emulator)?;
            }
        }
        Ok(())
    }

    /// Sets (or clears) each end's `tbf` of a veth link.
    async fn set_rate(&self, link: usize, rates: [Option<u64>; 2]) -> Result<(), FaultError> {
        let parts = self
            .netns
            .as_ref()
            .ok_or(FaultError::NeedsNetns("link_set"))?;
        let l = &parts.links[link];
        for (end, rate) in rates.into_iter().enumerate() {
            let nl = self.netlink(l.nodes[end])?;
            match rate {
                Some(r) => {
                    nl.set_rate(&l.ifnames[end], r, None, Duration::from_millis(50))
                        .await?
                }
                None => nl.clear_rate(&l.ifnames[end]).await?,
            }
        }
        Ok(())
    }

    /// Stops (or kills, with a zero grace) the services of `node`.
    async fn stop_node(&self, node: &str, grace: Duration) -> usize {
        let taken: Vec<RunningService> = {
            let mut s = lock(&self.services);
            let idx: Vec<usize> = (0..s.defs.len())
                .filter(|&i| s.defs[i].node == node)
                .collect();
            idx.into_iter()
                .filter_map(|i| s.running[i].take())
                .collect()
        };
        let n = taken.len();
        for r in taken {
            r.stop(grace).await;
        }
        n
    }

    /// Starts the stopped services of `node` (or of every node).
    async fn start_stopped(&self, node: Option<&str>) -> Result<usize, FaultError> {
        let idx: Vec<usize> = {
            let s = lock(&self.services);
            (0..s.defs.len())
                .filter(|&i| s.running[i].is_none() && node.is_none_or(|n| s.defs[i].node == n))
                .collect()
        };
        for &i in &idx {
            self.start_service(i, &Cancel::new()).await?;
        }
        if !idx.is_empty() {
            self.record_processes();
        }
        Ok(idx.len())
    }

    /// Starts the routing daemons a node fault stopped on `node` (or on
    /// every node); returns how many daemons it started.
    async fn start_routers(&self, node: Option<&str>) -> Result<usize, FaultError> {
        let Some(routers) = self.routers() else {
            return Ok(0);
        };
        let nodes = lock(&self.nodes).clone();
        let mut started = 0;
        for name in routers.stopped_nodes() {
            if node.is_some_and(|n| n != name) {
                continue;
            }
            let Some(handle) = nodes.get(&name) else {
                continue;
            };
            started += routers.start_node(handle).await?;
        }
        if started > 0 {
            self.record_processes();
        }
        Ok(started)
    }

    /// Applies `fault`, recording it as events in `sink`.
    pub async fn apply(
        &self,
        fault: &Fault,
        sink: &dyn Sink,
        cancel: &Cancel,
    ) -> Result<(), FaultError> {
        let kind = format!("fault.{}", fault.name());
        match fault {
            Fault::LinkDown { links } | Fault::LinkUp { links } => {
                let up = matches!(fault, Fault::LinkUp { .. });
                let idx: Vec<usize> = links
                    .iter()
                    .map(|l| self.link_index(l))
                    .collect::<Result<_, _>>()?;
                for &i in &idx {
                    self.set_link(i, up).await?;
                }
                let names: Vec<String> = links.iter().map(LinkId::to_string).collect();
                self.event(
                    sink,
                    &kind,
                    format!(
                        "link {} {}",
                        names.join(", "),
                        if up { "up" } else { "down" }
                    ),
                    &[("link", &names.join(","))],
                );
            }
            Fault::LinkBlackhole { link } => {
                let i = self.link_index(link)?;
                let name = link.to_string();
                let e = self.emulator(i)?.ok_or_else(|| {
                    FaultError::Emulator(std::io::Error::other(format!(
                        "link {name} is not emulated, so it cannot drop frames with its carrier up"
                    )))
                })?;
                e.set_state(LinkState::Blackhole)
                    .map_err(FaultError::Emulator)?;
                lock(&self.state).blackholed.insert(i);
                self.event(
                    sink,
                    &kind,
                    format!("link {name} drops every frame; carrier up, routes stay"),
                    &[("link", &name)],
                );
            }
            Fault::LinkFlap {
                link,
                period,
                flaps,
            } => {
                let i = self.link_index(link)?;
                let name = link.to_string();
                let half = *period / 2;
                for n in 1..=*flaps {
                    self.set_link(i, false).await?;
                    self.event(
                        sink,
                        "fault.link_flap",
                        format!("link {name} down (flap {n} of {flaps})"),
                        &[("link", &name)],
                    );
                    let interrupted = tokio::select! {
                        _ = tokio::time::sleep(half) => false,
                        _ = cancel.cancelled() => true,
                    };
                    self.set_link(i, true).await?;
                    self.event(
                        sink,
                        "fault.link_flap",
                        format!("link {name} up (flap {n} of {flaps})"),
                        &[("link", &name)],
                    );
                    if interrupted {
                        break;
                    }
                    if n < *flaps {
                        tokio::select! {
                            _ = tokio::time::sleep(*period - half) => {}
                            _ = cancel.cancelled() => break,
                        }
                    }
                }
            }
            Fault::LinkSet { link, change } => {
                let i = self.link_index(link)?;
                let parts = self
                    .netns
                    .as_ref()
                    .ok_or(FaultError::NeedsNetns("link_set"))?;
                let l = &parts.links[i];
                // `change` names directions by the link's own ends.
                if l.emulator.is_some() {
                    let now = lock(&self.state)
                        .current
                        .get(&i)
                        .cloned()
                        .unwrap_or_else(|| l.plan.clone());
                    let next = now.overlay(change);
                    self.set_emulated(i, &next)?;
                    lock(&self.state).current.insert(i, next);
                } else {
                    let rates = [
                        change.direction(Direction::AtoB).rate,
                        change.direction(Direction::BtoA).rate,
                    ];
                    self.set_rate(i, rates).await?;
                }
                lock(&self.state).reshaped.insert(i);
                let name = format!("{}--{}", l.ends[0], l.ends[1]);
                self.event(
                    sink,
                    &kind,
                    format!("link {name} set: {}", change.describe()),
                    &[("link", &name)],
                );
            }
            Fault::NodeStop { node } | Fault::NodeKill { node } => {
                let kill = matches!(fault, Fault::NodeKill { .. });
                let grace = if kill {
                    Duration::ZERO
                } else {
                    Duration::from_secs(3)
                };
                let n = self.stop_node(node.name(), grace).await;
                // Services first, as on a router that shuts down: they may
                // still need its routes to say goodbye.
                let daemons = match self.routers() {
                    Some(r) => r.stop_node(node.name(), grace).await,
                    None => 0,
                };
                self.event(
                    sink,
                    &kind,
                    format!(
                        "{} {n} service(s){} on node `{node}`",
                        if kill { "killed" } else { "stopped" },
                        if daemons > 0 {
                            format!(" and {daemons} routing daemon(s)")
                        } else {
                            String::new()
                        }
                    ),
                    &[("node", node.name())],
                );
            }
            Fault::NodeStart { node } => {
                // Daemons first: the services may need their routes.
                let daemons = self.start_routers(Some(node.name())).await?;
                let n = self.start_stopped(Some(node.name())).await?;
                self.event(
                    sink,
                    &kind,
                    format!(
                        "started {n} service(s){} on node `{node}`",
                        if daemons > 0 {
                            format!(" and {daemons} routing daemon(s)")
                        } else {
                            String::new()
                        }
                    ),
                    &[("node", node.name())],
                );
            }
            Fault::RouteWithdraw { node, prefix } | Fault::RouteAnnounce { node, prefix } => {
                let routers = self.routers().ok_or(FaultError::NoRouters)?;
                let what = if matches!(fault, Fault::RouteWithdraw { .. }) {
                    routers.withdraw(node.name(), *prefix).await?
                } else {
                    routers.announce(node.name(), *prefix).await?
                };
                self.event(
                    sink,
                    &kind,
                    what,
                    &[("node", node.name()), ("prefix", &prefix.to_string())],
                );
            }
            Fault::BgpPolicy {
                ends,
                a_to_b,
                b_to_a,
            } => {
                let routers = self.routers().ok_or(FaultError::NoRouters)?;
                let what = routers
                    .set_policy(ends, a_to_b.as_ref(), b_to_a.as_ref())
                    .await?;
                self.event(
                    sink,
                    &kind,
                    what,
                    &[("session", &format!("{}--{}", ends[0], ends[1]))],
                );
            }
            Fault::Restore => {
                self.restore(sink).await?;
            }
        }
        Ok(())
    }

    /// Returns the lab to the plan's state: links up with their planned
    /// rates, every service running. Records what it changed.
    pub async fn restore(&self, sink: &dyn Sink) -> Result<(), FaultError> {
        let (down, reshaped, blackholed) = {
            let st = lock(&self.state);
            (st.down.clone(), st.reshaped.clone(), st.blackholed.clone())
        };
        for i in down {
            self.set_link(i, true).await?;
        }
        for i in blackholed {
            if let Some(e) = self.emulator(i)? {
                e.set_state(LinkState::Up).map_err(FaultError::Emulator)?;
            }
            lock(&self.state).blackholed.remove(&i);
        }
        for i in reshaped {
            let Some(l) = self.netns.as_ref().map(|p| &p.links[i]) else {
                continue;
            };
            if l.emulator.is_some() {
                self.set_emulated(i, &l.plan)?;
                lock(&self.state).current.remove(&i);
            } else {
                self.set_rate(i, l.plan_tbf).await?;
            }
            lock(&self.state).reshaped.remove(&i);
        }
        // Intents first: a stopped daemon then starts with the plan's.
        if let Some(r) = self.routers() {
            r.restore_intents().await?;
        }
        self.start_routers(None).await?;
        self.start_stopped(None).await?;
        self.event(
            sink,
            "fault.restore",
            "lab restored to the plan's state".to_string(),
            &[],
        );
        Ok(())
    }

    /// Samples every emulated link's counters into `sink`: what each
    /// direction delivered and dropped since the last call, its queue now
    /// and the longest wait in it. The first call only takes a baseline.
    /// An emulator that has died is recorded as an error event, once.
    pub fn sample_links(&self, sink: &dyn Sink) {
        use netproof_link::core::DropReason;
        use netproof_sample::Sample;
        use netproof_sample::metric::{
            LINK_DELIVERED, LINK_DROPPED, LINK_QUEUE, LINK_SOJOURN, LINK_THROUGHPUT,
        };
        let Some(parts) = &self.netns else {
            return;
        };
        for (i, l) in parts.links.iter().enumerate() {
            let Some(e) = l.emulator.as_ref().and_then(Weak::upgrade) else {
                continue;
            };
            if lock(&self.state).dead.contains_key(&i) {
                continue;
            }
            let name = format!("{}--{}", l.ends[0], l.ends[1]);
            let stats = match e.stats() {
                Ok(s) if e.is_alive() => s,
                _ => {
                    let why = format!("the link emulator of {name} has stopped");
                    lock(&self.state).dead.insert(i, why.clone());
                    sink.event(
                        Event::new("lab.link_failed", Severity::Error, why).label("link", name),
                    );
                    continue;
                }
            };
            let now = std::time::Instant::now();
            let before = lock(&self.state).sampled.insert(i, (now, stats.clone()));
            let Some((then, before)) = before else {
                continue;
            };
            let secs = now.duration_since(then).as_secs_f64().max(1e-6);
            for d in Direction::BOTH {
                let (a, b) = (&before.dir[d.index()], &stats.dir[d.index()]);
                let direction = match d {
                    Direction::AtoB => format!("{}->{}", l.ends[0], l.ends[1]),
                    Direction::BtoA => format!("{}->{}", l.ends[1], l.ends[0]),
                };
                let tag = |s: Sample| {
                    s.label("link", name.clone())
                        .label("direction", direction.clone())
                };
                sink.sample(tag(Sample::num(
                    &LINK_DELIVERED,
                    b.segments_out.saturating_sub(a.segments_out) as f64,
                )));
                sink.sample(tag(Sample::num(
                    &LINK_THROUGHPUT,
                    b.bytes_out.saturating_sub(a.bytes_out) as f64 * 8.0 / secs,
                )));
                for r in DropReason::ALL {
                    let n = b.dropped[r.index()].saturating_sub(a.dropped[r.index()]);
                    if n > 0 {
                        sink.sample(
                            tag(Sample::num(&LINK_DROPPED, n as f64)).label("reason", r.name()),
                        );
                    }
                }
                let shaped = l.plan.direction(d).rate.is_some()
                    || l.plan.direction(d).trace.is_some()
                    || lock(&self.state).current.get(&i).is_some_and(|c| {
                        c.direction(d).rate.is_some() || c.direction(d).trace.is_some()
                    });
                if shaped {
                    sink.sample(tag(Sample::num(&LINK_QUEUE, b.queue_segments as f64)));
                    sink.sample(tag(Sample::num(&LINK_SOJOURN, b.max_sojourn as f64 / 1e9)));
                }
            }
        }
    }

    /// Whether the lab has emulated links (whose counters are sampled).
    pub fn has_emulated_links(&self) -> bool {
        self.netns
            .as_ref()
            .is_some_and(|p| p.links.iter().any(|l| l.emulator.is_some()))
    }

    /// Forgets the last samples, so the next [`Control::sample_links`]
    /// takes a fresh baseline (at the start of a case).
    pub fn reset_link_samples(&self) {
        lock(&self.state).sampled.clear();
        self.mark_lateness();
    }

    /// Emulated links whose emulator has died, each with why.
    pub fn failed_links(&self) -> Vec<String> {
        let Some(parts) = &self.netns else {
            return Vec::new();
        };
        let mut out: Vec<String> = lock(&self.state).dead.values().cloned().collect();
        for (i, l) in parts.links.iter().enumerate() {
            if let Some(e) = l.emulator.as_ref().and_then(Weak::upgrade)
                && !e.is_alive()
                && !lock(&self.state).dead.contains_key(&i)
            {
                out.push(format!(
                    "the link emulator of {}--{} has stopped",
                    l.ends[0], l.ends[1]
                ));
            }
        }
        out
    }

    /// Whether a fault has changed the lab since the last restore.
    pub fn is_changed(&self) -> bool {
        let st = lock(&self.state);
        let stopped = lock(&self.services).running.iter().any(Option::is_none)
            || self
                .routers()
                .is_some_and(|r| !r.stopped_nodes().is_empty() || r.intents_changed());
        !st.down.is_empty() || !st.reshaped.is_empty() || !st.blackholed.is_empty() || stopped
    }
}
