//! The netns lab's routes: every node's computed and plan-given routes,
//! sent in batches once its links and LANs are up. A node whose routes a
//! routing daemon owns has none here (see [`crate::fabric::routing`]).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use rtnetlink::packet_route::RouteNetlinkMessage;

use super::blueprint::Blueprint;
use super::build::at;
use crate::LabError;
use crate::fabric::{Dev, Route};
use crate::netns::{self, Batch, Netlink, NetnsError};

/// Installs every node's routes: the interfaces they leave by looked up
/// once per node (through `links`, by node), then each node's requests
/// built and sent through its batch socket (`batches`, by node) from
/// threads of their own (see [`send_routes`]).
pub(super) async fn install(
    bp: &Blueprint,
    links: &[Netlink],
    batches: &[Batch],
) -> Result<(), LabError> {
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
    send_routes(bp, batches, &indexes)
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
