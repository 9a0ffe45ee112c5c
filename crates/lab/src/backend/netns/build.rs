//! Building the netns lab from its [`Blueprint`], and tearing it down.
//!
//! [`build`] creates, in order: every namespace (from a few builder
//! threads, each visiting the namespaces it creates to open the node's
//! netlink sockets, write its sysctls and bring `lo` up with its loopback
//! addresses), every link and LAN ([`super::links`]), every route
//! ([`super::routes`]). A failure midway tears down everything already
//! created and names the step that failed. [`Built::teardown`] stops the
//! emulators and deletes the namespaces.
//!
//! The netlink sockets used to build the lab are closed when [`build`]
//! returns: a socket pins its namespace, and the lab must be deletable by
//! dropping its namespaces alone.

use std::sync::Arc;
use std::time::Duration;

use netproof_link::emulator::Emulator;
use rtnetlink::packet_route::RouteNetlinkMessage;

use super::blueprint::Blueprint;
use super::sysctls::sysctls_here;
use super::{links, routes};
use crate::LabError;
use crate::netns::{self, Batch, BatchError, Macs, NetNs, Netlink, NetnsError, PrivateProc};
use crate::registry::{NamespaceEntry, Registry};

/// A built namespace lab: the namespaces, held open, and the emulators of
/// its emulated links (by link index).
pub(crate) struct Built {
    pub(crate) namespaces: Vec<Arc<NetNs>>,
    pub(crate) emulators: Vec<Option<Arc<Emulator>>>,
    /// How long each phase of the build took, in order (see
    /// [`crate::Lab::build_phases`]).
    pub(crate) phases: Vec<(&'static str, Duration)>,
    /// Per link: the hardware addresses of its two ends, each of which has
    /// a permanent neighbour entry for the other (see
    /// [`crate::netns::introduce_ends`]);
    /// `None` where an end had no Ethernet address.
    pub(crate) link_macs: Vec<Option<Macs>>,
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

/// One step of the build, for error messages.
pub(super) fn at(step: impl Into<String>) -> impl FnOnce(NetnsError) -> LabError {
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
    // Links, then LANs, each all at once; then routes.
    let made = links::make_links(bp, &built.namespaces, &links).await?;
    (built.emulators, built.link_macs) = made.into_iter().unzip();
    built.phases.push(("links", lap.next()));
    links::make_lans(bp, &built.namespaces, &links).await?;
    built.phases.push(("LANs", lap.next()));
    routes::install(bp, &links, &batches).await?;
    built.phases.push(("routes", lap.next()));
    // Closing the netlink sockets here lets the namespaces go with the lab.
    drop(links);
    routers_link_local_ready(bp, built).await;
    built
        .phases
        .push(("LAN routers' IPv6 link-local ready", lap.next()));
    Ok(())
}

/// Waits, at most a few seconds, until no IPv6 link-local address of a
/// router on a LAN is tentative (see [`crate::netns::addrconf`]): such a
/// router solicits the LAN members it forwards to from its link-local
/// address, and a first IPv6 connection through it would otherwise stall
/// on a loaded host. Routers without a LAN never solicit: every link
/// neighbour has a permanent entry
/// ([`crate::netns::introduce_ends`]). Best effort: a
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
