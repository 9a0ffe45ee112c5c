//! An edge's reports to steering: its learned routes, health, load and
//! contents, as one [`EdgeReport`] (`POST {steering}/report`, JSON, whole
//! each time, `seq` increasing), on an interval and at once on a change.
//! `seq` starts at the reporter's start time in microseconds since 1970,
//! so the first report of an edge that restarted is newer than the last
//! of the instance before it, and steering takes it at once.
//!
//! One task per steering service, each with its own [`Schedule`], so a
//! service that is down or slow delays only its own reports; each report
//! is bounded by the configured timeout, and none of it runs on the
//! serving path. Changes come from the route reader ([`crate::routes`]) and
//! from health, looked at every [`HEALTH_POLL`] (a drain, or the front
//! turning unhealthy); contents ride the interval. Reports sent and
//! failed are counted ([`ReportCounters`], exported with the front's
//! metrics).

pub mod schedule;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use netproof_proto::cdn::report::Reporting;
use netproof_proto::steering::{Contents, EdgeReport, Health, LearnedRoute};
use netproof_proto::url::{Host, Url};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::fill::FillStore;
use crate::front::Front;
use schedule::Schedule;

/// How often health is looked at for a change.
pub const HEALTH_POLL: Duration = Duration::from_millis(100);

/// Reports sent and failed, for `/metrics` and the service samples.
#[derive(Debug, Default)]
pub struct ReportCounters {
    /// Reports a steering service accepted (2xx).
    pub sent: AtomicU64,
    /// Reports that failed: no connection, a timeout, a non-2xx answer.
    pub failed: AtomicU64,
    /// Learned routes in the last report.
    pub routes: AtomicU64,
}

/// What a report is made of.
#[derive(Clone)]
pub struct Sources {
    /// The edge's name.
    pub edge: String,
    /// The front: health and open connections.
    pub front: Front,
    /// The connection cap load is measured against.
    pub max_connections: usize,
    /// The cache, for contents (an edge serving a catalogue has none).
    pub store: Option<FillStore>,
    /// The learned routes, when the edge reads a table.
    pub routes: Option<watch::Receiver<Arc<Vec<LearnedRoute>>>>,
}

impl Sources {
    fn health(&self) -> Health {
        if self.front.is_draining() {
            Health::Draining
        } else if self.front.metrics().unhealthy() {
            Health::Unhealthy
        } else {
            Health::Ok
        }
    }

    /// The report as things are now.
    pub fn report(&self, seq: u64) -> EdgeReport {
        let open = self
            .front
            .metrics()
            .open_connections
            .load(Ordering::Relaxed)
            .max(0) as f64;
        let contents = match &self.store {
            Some(s) => Contents {
                titles: s.titles(),
                fills: s.fills(),
            },
            // A catalogue edge serves every title without filling.
            None => Contents {
                titles: Vec::new(),
                fills: true,
            },
        };
        EdgeReport {
            edge: self.edge.clone(),
            seq,
            health: self.health(),
            load: (open / self.max_connections.max(1) as f64).min(1.0),
            routes: self
                .routes
                .as_ref()
                .map(|r| r.borrow().as_ref().clone())
                .unwrap_or_default(),
            contents,
        }
    }
}

/// The running reporter: its tasks stop when it is dropped.
pub struct Reporter {
    _tasks: JoinSet<()>,
}

/// Starts reporting to every steering service `config` names.
pub fn start(config: &Reporting, sources: Sources, counters: Arc<ReportCounters>) -> Reporter {
    let mut tasks = JoinSet::new();
    // The generation of what reports carry: bumped on every change.
    let (changes, _) = watch::channel(0u64);
    let changes = Arc::new(changes);
    let seq = Arc::new(AtomicU64::new(first_seq(std::time::SystemTime::now())));
    {
        let (changes, sources) = (changes.clone(), sources.clone());
        tasks.spawn(async move { watch_changes(sources, changes).await });
    }
    let (interval, timeout) = (config.interval_or_default(), config.timeout_or_default());
    for url in config.urls() {
        let mut rx = changes.subscribe();
        let (sources, seq, counters) = (sources.clone(), seq.clone(), counters.clone());
        tasks.spawn(async move {
            let mut schedule = Schedule::new(Instant::now().into_std(), interval);
            loop {
                if schedule.ready(Instant::now().into_std()) {
                    schedule.sending(Instant::now().into_std());
                    rx.borrow_and_update();
                    let report = sources.report(seq.fetch_add(1, Ordering::Relaxed) + 1);
                    counters
                        .routes
                        .store(report.routes.len() as u64, Ordering::Relaxed);
                    let ok = match serde_json::to_vec(&report) {
                        Ok(body) => post(&url, body.into(), timeout).await.is_ok(),
                        Err(_) => false,
                    };
                    let c = if ok { &counters.sent } else { &counters.failed };
                    c.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(Instant::from_std(schedule.next())) => {}
                    r = rx.changed() => match r {
                        Ok(()) => schedule.change(),
                        Err(_) => return,
                    },
                }
            }
        });
    }
    Reporter { _tasks: tasks }
}

/// Where an edge's `seq` starts: its start time in microseconds since 1970
/// (one a microsecond is more reports than an edge ever sends, so a
/// restart always starts above where the last instance stopped, unless
/// the clock went back).
fn first_seq(now: std::time::SystemTime) -> u64 {
    now.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Bumps `changes` when the routes or the health change.
async fn watch_changes(sources: Sources, changes: Arc<watch::Sender<u64>>) {
    let bump = || changes.send_modify(|g| *g += 1);
    let mut routes = sources.routes.clone();
    let mut health = sources.health();
    let mut poll = tokio::time::interval(HEALTH_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            r = async { routes.as_mut().unwrap().changed().await }, if routes.is_some() => {
                if r.is_err() {
                    // The reader stopped: reports keep their last routes.
                    routes = None;
                } else {
                    bump();
                }
            }
            _ = poll.tick() => {
                let now = sources.health();
                if now != health {
                    health = now;
                    bump();
                }
            }
        }
    }
}

/// Why a report did not reach steering.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// No answer within the timeout.
    #[error("no answer from {url} within {timeout:?}")]
    Timeout {
        /// Where.
        url: String,
        /// The bound.
        timeout: Duration,
    },
    /// The connection or the exchange failed.
    #[error("report to {url} failed: {what}")]
    Failed {
        /// Where.
        url: String,
        /// What happened.
        what: String,
    },
    /// Steering answered with something other than 2xx.
    #[error("steering at {url} answered {status} to a report")]
    Status {
        /// Where.
        url: String,
        /// Its status.
        status: u16,
    },
}

/// `POST {url}/report` with `body`, bounded by `timeout` as a whole.
pub async fn post(url: &Url, body: Bytes, timeout: Duration) -> Result<(), PostError> {
    let failed = |what: String| PostError::Failed {
        url: url.to_string(),
        what,
    };
    let exchange = async {
        let stream = match &url.host {
            Host::Addr(ip) => tokio::net::TcpStream::connect((*ip, url.port)).await,
            Host::Name(n) => tokio::net::TcpStream::connect((n.as_str(), url.port)).await,
        }
        .map_err(|e| failed(e.to_string()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| failed(e.to_string()))?;
        let conn = tokio::spawn(conn);
        let req = Request::post("/report")
            .header(HOST, url.authority())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| failed(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| failed(e.to_string()));
        let result = match resp {
            Ok(r) if r.status().is_success() => {
                let _ = r.into_body().collect().await;
                Ok(())
            }
            Ok(r) => Err(PostError::Status {
                url: url.to_string(),
                status: r.status().as_u16(),
            }),
            Err(e) => Err(e),
        };
        conn.abort();
        result
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| PostError::Timeout {
            url: url.to_string(),
            timeout,
        })?
}
