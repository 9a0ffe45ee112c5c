//! Collectors: what the lab measures by itself while a case runs.
//!
//! A [`Collector`] turns one source of the running lab into samples: the
//! link emulators' counters ([`links::LinkCounters`]), what services write
//! on their sample channel ([`feed::ServiceSamples`]), and the services'
//! CPU and memory from `/proc` ([`resources::ServiceResources`]), and the
//! routing-table changes of the nodes a case watches
//! ([`routes::RouteMonitor`], from [`Lab::route_monitor`]). The executor
//! asks the lab for its collectors ([`Lab::collectors`]) at the start of
//! each case repetition,
//! calls [`Collector::begin`] once, [`Collector::collect`] every
//! [`INTERVAL`] while the case runs and once more after its teardown; it
//! knows no source by name.
//!
//! A collector's `collect` may block (a query to an emulator's thread, a
//! scan of `/proc`), so the executor calls it off the async workers. A
//! collector never fails the case by itself: an error is reported by the
//! executor once per case and the collector is not called again in it.
//! What fails a case (a dead link emulator, a service that exited) is the
//! lab's to say ([`Lab::failed_links`], [`Lab::failed_services`]).

pub(crate) mod feed;
pub(crate) mod line;
pub(crate) mod links;
pub(crate) mod resources;
pub(crate) mod routes;

use std::time::Duration;

use netproof_sample::Sink;

use crate::Lab;

pub use feed::SAMPLES_FD_ENV;

/// How often collectors are asked for samples while a case runs.
pub const INTERVAL: Duration = Duration::from_millis(100);

/// One source of samples the lab collects by itself.
pub trait Collector: Send {
    /// A short name for messages (`link counters`, `service resources`).
    fn name(&self) -> &'static str;

    /// Called once as a case repetition starts: forget what an earlier
    /// case left (counters' baselines, samples that arrived between cases).
    fn begin(&mut self);

    /// Records what the source measured since the last call into `sink`.
    fn collect(&mut self, sink: &dyn Sink) -> Result<(), CollectorError>;
}

/// Why a collector could not collect.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// A file of `/proc` could not be read.
    #[error(
        "cannot read `{path}`: {source}\nhint: netproof reads services' CPU and memory from /proc; is it mounted?"
    )]
    Proc {
        /// The file or directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A node's route monitor could not start or stopped reading.
    #[error(
        "cannot watch the routes of node `{node}`: {source}\nhint: route monitoring opens a netlink socket in the node's namespace; it needs the netns backend and CAP_NET_ADMIN there"
    )]
    RouteMonitor {
        /// The node.
        node: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `monitor_routes` on a backend without namespaces.
    #[error(
        "cannot watch the routes of node `{node}`: it has no network namespace of its own\nhint: `monitor_routes` needs the netns backend (`backend = \"netns\"` or `--backend netns`)"
    )]
    NoNamespace {
        /// The node.
        node: String,
    },
}

impl Lab {
    /// The collectors of this lab, fresh for one case repetition: the
    /// emulated links' counters when the lab has emulated links, and the
    /// services' samples and resources when the plan has services.
    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        let mut out: Vec<Box<dyn Collector>> = Vec::new();
        if self.control.has_emulated_links() {
            out.push(Box::new(links::LinkCounters::new(self.control.clone())));
        }
        if self.control.has_services() {
            out.push(Box::new(feed::ServiceSamples::new(self.control.clone())));
            out.push(Box::new(resources::ServiceResources::new(
                self.control.clone(),
            )));
        }
        out
    }

    /// A collector of the routing-table changes of `nodes` (a case's
    /// `monitor_routes`), or `None` when it names none. Its sockets are
    /// open when this returns, so no change after it is missed.
    pub fn route_monitor(
        &self,
        nodes: &[String],
    ) -> Result<Option<Box<dyn Collector>>, CollectorError> {
        if nodes.is_empty() {
            return Ok(None);
        }
        let mut watched = Vec::with_capacity(nodes.len());
        for node in nodes {
            let ns = self
                .node(node)
                .and_then(|n| n.ns.clone())
                .ok_or_else(|| CollectorError::NoNamespace { node: node.clone() })?;
            watched.push((node.clone(), ns));
        }
        Ok(Some(Box::new(routes::RouteMonitor::start(&watched)?)))
    }
}
