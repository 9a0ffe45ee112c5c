//! Running an origin or an edge from its config: the store behind the
//! front, the listeners, the admin endpoint. What `netproof cdn origin`
//! and `netproof cdn edge` do, and what tests start in-process.
//!
//! The admin endpoint ([`crate::admin`]) answers `GET /health`, `GET
//! /metrics`, `POST /drain` and, on an edge that fills, `POST /prefill`
//! and `GET /prefill`. With `access_log = true` every request is one JSON
//! line on stdout.
//!
//! [`edge_objects`] is the one place that decides what an edge serves
//! from: its cache and fill sources, or (with no `[fill]`, or in a build
//! without the cache) the catalogue directly.

use std::net::SocketAddr;
use std::sync::Arc;

use netproof_proto::cdn::{ClientLimits, EdgeConfig, Listen, OriginConfig, Site, Tls};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::admin::{self, Admin};
use crate::cache::PolicyKind;
use crate::catalogue::Catalogue;
use crate::fill::{FillConfig, FillSource, FillStore};
use crate::front::{AccessLog, Front, FrontError, Limits};
use crate::object::Objects;
use crate::origin::Origin;
use crate::tls::CertError;

/// Why a server cannot start.
#[derive(Debug, Error)]
pub enum ServeError {
    /// A listener could not bind.
    #[error(
        "cannot listen for {what} on {addr}: {source}\nhint: {}",
        listen_hint(source)
    )]
    Listen {
        /// `https`, `http` or `admin`.
        what: &'static str,
        /// Where.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The front could not be built.
    #[error(transparent)]
    Front(#[from] FrontError),
    /// The config asks for something this build cannot do.
    #[error("{0}")]
    Unsupported(String),
    /// The `[fill]` section cannot be used: a source's URL, or the CA
    /// file an https source needs.
    #[error("`[fill]`: {0}")]
    Fill(String),
    /// `[report]` names a kernel table that cannot be read.
    #[error("`[report]`: {0}")]
    Routes(#[from] crate::routes::RoutesError),
}

fn listen_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            "another process listens there; name another port in `[listen]` or `admin`"
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "that address is not this host's (or this namespace's)"
        }
        std::io::ErrorKind::PermissionDenied => {
            "ports below 1024 need root or CAP_NET_BIND_SERVICE"
        }
        _ => "check the address in `[listen]` or `admin`",
    }
}

/// A listener's task ended while the server was not draining.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("a listener stopped unexpectedly")]
pub struct ListenerEnded;

/// A running server: its bound addresses and its tasks (stopped when this
/// is dropped).
pub struct Running {
    /// Bound HTTPS addresses, in config order.
    pub https: Vec<SocketAddr>,
    /// Bound HTTP addresses, in config order.
    pub http: Vec<SocketAddr>,
    /// The bound admin address.
    pub admin: Option<SocketAddr>,
    /// Sites whose certificate could not be loaded (they refuse TLS).
    pub broken: Vec<CertError>,
    /// The front, for its counters and its drain.
    pub front: Front,
    /// The edge's store, when it serves through a cache and fill (its
    /// counters are in the front's metrics; the admin endpoint prefills it).
    pub fill: Option<FillStore>,
    /// The listeners' tasks.
    tasks: JoinSet<()>,
    /// The admin endpoint's, apart so health answers while draining.
    admin_task: JoinSet<()>,
    /// What the admin endpoint serves from.
    admin_state: Arc<Admin>,
    /// The reports to steering, on an edge with `[report]`.
    reporter: Option<crate::reporter::Reporter>,
}

impl Running {
    /// Waits until a listener's task ends: after a drain (by
    /// [`Running::drain`] or the admin endpoint's `POST /drain`), or if
    /// one panicked.
    pub async fn wait(&mut self) {
        self.tasks.join_next().await;
    }

    /// Serves until `stop` resolves (a signal, in the binary), then
    /// drains for at most `bound`: whether everything finished in time.
    /// A drain started by the admin endpoint (`POST /drain`) does not end
    /// it: the transfers in flight finish (for at most `bound`) and the
    /// server stays up, its admin endpoint answering `draining` and its
    /// reports to steering going on, until `stop`, as a drained Open
    /// Connect appliance waits for its maintenance (a lab would otherwise
    /// see its service exit). Err when a listener's task ended without a
    /// drain (it panicked).
    pub async fn serve_until(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
        bound: std::time::Duration,
    ) -> Result<bool, ListenerEnded> {
        tokio::pin!(stop);
        tokio::select! {
            () = &mut stop => return Ok(self.drain(bound).await),
            () = self.wait() => {}
        }
        if !self.front.is_draining() {
            return Err(ListenerEnded);
        }
        let finished = tokio::select! {
            f = self.drain(bound) => f,
            () = &mut stop => return Ok(self.drain(bound).await),
        };
        stop.await;
        Ok(finished)
    }

    /// Drains: stops accepting, lets in-flight transfers finish, for at
    /// most `bound`. Whether everything finished in time (what did not is
    /// cut off when this is dropped).
    pub async fn drain(&mut self, bound: std::time::Duration) -> bool {
        self.front.drain();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        tokio::time::timeout(bound, all).await.is_ok()
    }
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen { what, addr, source })
}

/// Starts a front over `objects`.
pub async fn start(
    listen: &Listen,
    admin: Option<SocketAddr>,
    tls: &Tls,
    sites: &[Site],
    objects: Arc<dyn Objects>,
    limits: Limits,
    log: Option<AccessLog>,
) -> Result<Running, ServeError> {
    let https = !listen.https.is_empty();
    let (front, broken) = Front::new(sites, tls, https, objects, limits, log)?;
    let mut tasks = JoinSet::new();
    let mut running = Running {
        https: Vec::new(),
        http: Vec::new(),
        admin: None,
        broken,
        front: front.clone(),
        fill: None,
        tasks: JoinSet::new(),
        admin_task: JoinSet::new(),
        admin_state: Admin::new(front.clone()),
        reporter: None,
    };
    for &addr in &listen.https {
        let l = bind("https", addr).await?;
        running.https.push(l.local_addr().unwrap_or(addr));
        tasks.spawn(front.clone().serve_https(l));
    }
    for &addr in &listen.http {
        let l = bind("http", addr).await?;
        running.http.push(l.local_addr().unwrap_or(addr));
        tasks.spawn(front.clone().serve_http(l));
    }
    if let Some(addr) = admin {
        let l = bind("admin", addr).await?;
        running.admin = Some(l.local_addr().unwrap_or(addr));
        running
            .admin_task
            .spawn(admin::serve(l, running.admin_state.clone()));
    }
    running.tasks = tasks;
    Ok(running)
}

/// Starts a front over an edge's cache and fill `store`: as [`start`],
/// with the store's counters exported beside the front's (`/metrics`, the
/// service samples) and `POST /prefill` on the admin endpoint.
pub async fn start_fill(
    listen: &Listen,
    admin: Option<SocketAddr>,
    tls: &Tls,
    sites: &[Site],
    store: FillStore,
    limits: Limits,
    log: Option<AccessLog>,
) -> Result<Running, ServeError> {
    let objects = Arc::new(store.clone());
    let mut running = start(listen, admin, tls, sites, objects, limits, log).await?;
    running
        .front
        .metrics()
        .attach_fill(store.counters().clone());
    running.admin_state.set_store(store.clone());
    running.fill = Some(store);
    Ok(running)
}

/// Starts an origin.
pub async fn origin(config: &OriginConfig) -> Result<Running, ServeError> {
    let objects = Arc::new(Origin::new(
        Catalogue::new(config.catalogue.clone()),
        &config.sites,
        config.knobs.clone(),
    ));
    start(
        &config.listen,
        config.admin,
        &config.tls,
        &config.sites,
        objects,
        limits(&config.limits),
        stdout_log(config.access_log),
    )
    .await
}

/// The front's limits: the config's, else the defaults.
fn limits(c: &ClientLimits) -> Limits {
    let d = Limits::default();
    Limits {
        max_connections: c.max_connections.map_or(d.max_connections, |n| n as usize),
        header_read_timeout: c.header_read_timeout.map_or(d.header_read_timeout, |s| s.0),
        idle_timeout: c.idle_timeout.map_or(d.idle_timeout, |s| s.0),
        handshake_timeout: c.handshake_timeout.map_or(d.handshake_timeout, |s| s.0),
        max_header_bytes: c
            .max_header_bytes
            .map_or(d.max_header_bytes, |b| b.0 as usize),
        max_streams: c.max_streams.unwrap_or(d.max_streams),
    }
}

/// One JSON line per request on stdout, when `on`.
fn stdout_log(on: bool) -> Option<AccessLog> {
    on.then(|| {
        Arc::new(|r: &crate::metrics::AccessRecord| {
            use std::io::Write;
            if let Ok(line) = serde_json::to_string(r) {
                // A closed stdout must not take serving down: drop the line.
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }
        }) as AccessLog
    })
}

/// What an edge serves from. The one switch between serving a catalogue
/// directly and serving through the cache and its fill sources.
pub fn edge_objects(config: &EdgeConfig) -> Result<Arc<dyn Objects>, ServeError> {
    match (&config.fill, &config.catalogue) {
        (_, Some(catalogue)) => Ok(Arc::new(Origin::new(
            Catalogue::new(catalogue.clone()),
            &config.sites,
            Default::default(),
        ))),
        (Some(fill), None) => Ok(Arc::new(fill_store(fill)?)),
        (None, None) => Err(ServeError::Unsupported(
            "the edge has nothing to serve from\nhint: add `[fill]` or `[catalogue]`".into(),
        )),
    }
}

/// The edge's cache, its ranked fill sources, its timeouts and its disk
/// tier, from the `[fill]` section (keys left out keep
/// [`FillConfig::new`]'s defaults).
pub fn fill_store(fill: &netproof_proto::cdn::Fill) -> Result<FillStore, ServeError> {
    use netproof_proto::cdn::{Policy, SourceKind};
    let sources = fill
        .sources
        .iter()
        .map(|s| {
            let kind = match s.kind {
                SourceKind::Peer => "peer",
                SourceKind::Tier => "tier",
                SourceKind::Origin => "origin",
            };
            FillSource::parse(&s.name, &s.url, kind).map_err(|e| ServeError::Fill(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut config = FillConfig::new(sources, fill.cache.memory.0);
    fn policy(p: Policy) -> PolicyKind {
        match p {
            Policy::Lru => PolicyKind::Lru,
            Policy::Sieve => PolicyKind::Sieve,
        }
    }
    config.policy = policy(fill.cache.policy);
    config.ca_file = fill.ca.clone();
    config.timeouts = crate::fill::Timeouts {
        connect: fill.timeouts.connect_or_default(),
        stall: fill.timeouts.stall_or_default(),
    };
    config.lock_timeout = fill.timeouts.lock_or_default();
    if let Some(d) = &fill.disk {
        config.disk = Some(crate::fill::disk::DiskConfig {
            dir: d.dir.clone(),
            budget: d.size.0,
        });
        config.disk_policy = d.policy.map(policy);
    }
    FillStore::new(&config).map_err(|e| ServeError::Fill(e.to_string()))
}

/// Starts an edge (and its reports to steering, with `[report]`).
pub async fn edge(config: &EdgeConfig) -> Result<Running, ServeError> {
    let (listen, tls, sites) = (&config.listen, &config.tls, &config.sites);
    let (limits, log) = (limits(&config.limits), stdout_log(config.access_log));
    let max_connections = limits.max_connections;
    let mut running = match (&config.fill, &config.catalogue) {
        (Some(fill), None) => {
            let store = fill_store(fill)?;
            start_fill(listen, config.admin, tls, sites, store, limits, log).await
        }
        _ => {
            let objects = edge_objects(config)?;
            start(listen, config.admin, tls, sites, objects, limits, log).await
        }
    }?;
    if let Some(report) = &config.report {
        let route_counters = report
            .table
            .map(|_| Arc::new(crate::routes::RouteCounters::default()));
        let routes = match (report.table, &route_counters) {
            (Some(table), Some(c)) => Some(crate::routes::watch(table, c.clone()).await?),
            _ => None,
        };
        let counters = Arc::new(crate::reporter::ReportCounters::default());
        running
            .front
            .metrics()
            .attach_reports(counters.clone(), route_counters);
        let sources = crate::reporter::Sources {
            edge: report.edge.clone(),
            front: running.front.clone(),
            max_connections,
            store: running.fill.clone(),
            routes,
        };
        running.reporter = Some(crate::reporter::start(report, sources, counters));
    }
    Ok(running)
}
