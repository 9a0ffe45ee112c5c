//! Running the steering service from its config: the shared state both
//! faces decide from ([`Service`]), the listeners (API, DNS over UDP and
//! TCP, admin) and the health pollers. What `netproof cdn steering` does,
//! and what tests start in-process.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant, SystemTime};

use netproof_proto::prefix::IpNet;
use netproof_proto::steering::{EdgeReport, SteeringConfig};
use thiserror::Error;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinSet;

use crate::api;
use crate::decision::{Decision, Polled, Query, ReportError, Steering};
use crate::dns::{self, Transport, Zone};
use crate::health::{Params, Transition};
use crate::metrics::{self, Face, Metrics};
use crate::poller;

/// Why the service cannot start.
#[derive(Debug, Error)]
pub enum ServeError {
    /// A listener could not bind.
    #[error(
        "cannot listen for {what} on {addr}: {source}\nhint: {}",
        listen_hint(source)
    )]
    Listen {
        /// `api`, `dns (udp)`, `dns (tcp)` or `admin`.
        what: &'static str,
        /// Where.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
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

/// Where decision log lines go.
pub type DecisionLog = Arc<dyn Fn(&str) + Send + Sync>;

/// The state both faces decide from, the counters, the decision log.
pub struct Service {
    steering: RwLock<Steering>,
    metrics: Metrics,
    zone: Option<Zone>,
    epoch: Instant,
    log: Option<DecisionLog>,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Service {
    /// A service for a validated config; decisions are logged to `log`
    /// when given.
    pub fn new(config: &SteeringConfig, log: Option<DecisionLog>) -> Arc<Service> {
        Arc::new(Service {
            steering: RwLock::new(Steering::new(config)),
            metrics: Metrics::default(),
            zone: config.dns.as_ref().map(|d| Zone::new(d, &config.edges)),
            epoch: Instant::now(),
            log,
        })
    }

    /// Time since the service started: the decision core's clock.
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// When `now` is on the wall clock's monotonic twin.
    pub fn instant(&self, now: Duration) -> Instant {
        self.epoch + now
    }

    /// The decision state, to read.
    pub fn steering(&self) -> RwLockReadGuard<'_, Steering> {
        // A panic while holding the lock leaves consistent state (every
        // write is one assignment or a whole rebuild): keep serving.
        self.steering.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Decides for `q` from `face`, counted and logged; `f` reads the
    /// decision with the state it was made from.
    pub fn decide<T>(
        &self,
        face: Face,
        q: &Query<'_>,
        f: impl FnOnce(&Steering, &Decision) -> T,
    ) -> T {
        let s = self.steering();
        let d = s.decide(q, self.now());
        self.decided(face, &q.client, q.site, q.title, &s, &d);
        f(&s, &d)
    }

    fn decided(
        &self,
        face: Face,
        client: &IpNet,
        site: &str,
        title: Option<u32>,
        s: &Steering,
        d: &Decision,
    ) {
        self.metrics.decided(face, d);
        if let Some(log) = &self.log {
            let client = if client.prefix_len() == client.max_prefix_len() {
                client.addr().to_string()
            } else {
                client.to_string()
            };
            log(&metrics::decision_line(
                unix_now(),
                face,
                &client,
                site,
                title,
                d,
                s,
            ));
        }
    }

    /// Takes an edge's report.
    pub fn report(&self, report: EdgeReport) -> Result<(), ReportError> {
        let now = self.now();
        let mut s = self.steering.write().unwrap_or_else(|e| e.into_inner());
        s.report(report, now)
    }

    /// Answers one DNS packet (None: drop it), counted and logged.
    pub fn dns(&self, packet: &[u8], source: IpAddr, transport: Transport) -> Option<Vec<u8>> {
        let zone = self.zone.as_ref()?;
        let s = self.steering();
        let out = zone.respond(packet, source, transport, &s, self.now());
        self.metrics.dns(out.rcode, out.malformed, out.truncated);
        if let Some((client, _, d)) = &out.decided {
            // The log names the site; only it needs the name again.
            let site = match &self.log {
                Some(_) => dns::wire::read(packet)
                    .map(|r| r.question.name)
                    .unwrap_or_default(),
                None => String::new(),
            };
            self.decided(Face::Dns, client, &site, None, &s, d);
        }
        out.reply
    }

    /// Records a health transition of edge `i`.
    pub fn health_changed(&self, i: usize, t: Transition) {
        let name = {
            let mut s = self.steering.write().unwrap_or_else(|e| e.into_inner());
            s.set_polled(i, t.to);
            s.edges()[i].entry.name.clone()
        };
        self.metrics.transition(&name, t.to);
        tracing::info!(edge = %name, from = t.from.as_str(), to = t.to.as_str(), "health changed");
    }

    /// What the polls say about edge `i`.
    pub fn polled(&self, i: usize) -> Polled {
        self.steering().polled(i)
    }

    /// The counters as sample lines, stamped now.
    pub fn sample_lines(&self) -> Vec<String> {
        self.metrics.sample_lines(unix_now())
    }
}

/// A running service: its bound addresses and its tasks (stopped when this
/// is dropped).
pub struct Running {
    /// Bound API addresses, in config order.
    pub api: Vec<SocketAddr>,
    /// Bound DNS addresses (UDP and TCP on each), in config order.
    pub dns: Vec<SocketAddr>,
    /// The bound admin address.
    pub admin: Option<SocketAddr>,
    /// The shared state.
    pub service: Arc<Service>,
    tasks: JoinSet<()>,
}

impl Running {
    /// Waits until a task ends (none does unless it panicked).
    pub async fn wait(&mut self) {
        self.tasks.join_next().await;
    }
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen { what, addr, source })
}

/// UDP receive loops per DNS socket: one per core, so a burst is read in
/// parallel (they share the socket).
fn udp_loops() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

/// Starts the service: binds every listener (all or none), then the health
/// pollers.
pub async fn start(
    config: &SteeringConfig,
    log: Option<DecisionLog>,
) -> Result<Running, ServeError> {
    let service = Service::new(config, log);
    let mut tasks = JoinSet::new();
    let mut running = Running {
        api: Vec::new(),
        dns: Vec::new(),
        admin: None,
        service: service.clone(),
        tasks: JoinSet::new(),
    };
    for &addr in &config.listen.api {
        let l = bind("api", addr).await?;
        running.api.push(l.local_addr().unwrap_or(addr));
        tasks.spawn(api::serve(l, service.clone(), api::Role::Api));
    }
    for &addr in &config.listen.dns {
        let (udp, tcp, bound) = bind_dns(addr).await?;
        running.dns.push(bound);
        let s = service.clone();
        let answer: dns::server::Answer = Arc::new(move |p, src, t| s.dns(p, src, t));
        let udp = Arc::new(udp);
        for _ in 0..udp_loops() {
            tasks.spawn(dns::server::serve_udp(udp.clone(), answer.clone()));
        }
        tasks.spawn(dns::server::serve_tcp(tcp, answer, dns::server::TCP_IDLE));
    }
    if let Some(addr) = config.admin {
        let l = bind("admin", addr).await?;
        running.admin = Some(l.local_addr().unwrap_or(addr));
        tasks.spawn(api::serve(l, service.clone(), api::Role::Admin));
    }
    let params = Params::from_config(&config.health);
    for (i, e) in config.edges.iter().enumerate() {
        if let Some(url) = e
            .health
            .as_deref()
            .and_then(|u| netproof_proto::url::Url::parse(u).ok())
        {
            tasks.spawn(poller::poll(service.clone(), i, url, params));
        }
    }
    running.tasks = tasks;
    Ok(running)
}

/// UDP and TCP on one address for DNS. With port 0, UDP picks a port and
/// TCP takes the same one; when that port is taken for TCP (another
/// socket's ephemeral port), both try again, a bounded number of times.
async fn bind_dns(addr: SocketAddr) -> Result<(UdpSocket, TcpListener, SocketAddr), ServeError> {
    let attempts = if addr.port() == 0 { 32 } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let udp = UdpSocket::bind(addr)
            .await
            .map_err(|source| ServeError::Listen {
                what: "dns (udp)",
                addr,
                source,
            })?;
        let bound = udp.local_addr().unwrap_or(addr);
        match bind("dns (tcp)", bound).await {
            Ok(tcp) => return Ok((udp, tcp, bound)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("at least one attempt"))
}
