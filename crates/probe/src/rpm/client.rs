//! The thin I/O of the responsiveness test: an idle phase, then a loaded
//! one, each with probe rounds every `interval`; the arithmetic is
//! [`super::arith`]'s.
//!
//! Idle: each round a *foreign* probe (a fresh connection: TCP handshake,
//! TLS handshake, one GET of the small object) and a *self* probe (a GET
//! of the small object on one connection kept open). Loaded: `connections`
//! HTTP/2 connections each download the large object over and over (the
//! load-generating connections); each round a foreign probe and a self
//! probe on the next load connection in turn, multiplexed beside its
//! download. The draft ramps the load up until goodput saturates; here
//! the number of connections is fixed by the plan (4 by default, the
//! draft's starting point), which a lab link of known rate saturates.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use netproof_sample::metric::{RPM_GOODPUT, RPM_IDLE_LATENCY, RPM_PROBE, RPM_RPM};
use netproof_sample::{Labels, Metric, Sample, Sink, Timestamp};
use thiserror::Error;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::arith::{Latencies, TRIM_PERCENTILE, trimmed_mean};
use crate::http::client::Conn;
use crate::http::{self, RequestReport, SetupError};

/// One responsiveness test.
#[derive(Clone)]
pub struct Config {
    /// The load-generating object (large), over HTTP/2.
    pub load: http::Config,
    /// The probe object (small), over HTTP/2.
    pub probe: http::Config,
    /// Load-generating connections.
    pub connections: u32,
    /// How long the idle phase probes.
    pub idle: Duration,
    /// How long the loaded phase lasts.
    pub duration: Duration,
    /// Time between probe rounds.
    pub interval: Duration,
}

/// What the test measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Latencies without load.
    pub idle: Latencies,
    /// Latencies under load.
    pub load: Latencies,
    /// Responsiveness without load.
    pub idle_rpm: Option<f64>,
    /// Responsiveness under load.
    pub rpm: Option<f64>,
    /// The idle HTTP round trip (foreign probes' trimmed mean), seconds.
    pub idle_latency: Option<f64>,
    /// The load connections' goodput together, bit/s.
    pub goodput: f64,
}

/// Why the test could not run.
#[derive(Debug, Error)]
pub enum RpmError {
    /// A URL or setting the HTTP probe cannot use.
    #[error("responsiveness test: {0}")]
    Setup(#[from] SetupError),
    /// No load-generating connection could be opened.
    #[error(
        "responsiveness test: no load-generating connection to {url} could be opened ({reason}); hint: the load needs an HTTP/2 server (ALPN h2 over TLS, or prior knowledge over http)"
    )]
    Load {
        /// The load URL.
        url: String,
        /// The first failure.
        reason: String,
    },
}

/// Runs the test and records it into `sink`: `rpm.probe` per probe
/// (labels `probe`, `phase`), then `rpm.rpm` per phase, `rpm.idle_latency`
/// and `rpm.goodput`.
pub async fn run(
    cfg: &Config,
    connector: http::Connector,
    sink: &dyn Sink,
    labels: &Labels,
) -> Result<Summary, RpmError> {
    let probe = Arc::new(http::Client::new(
        http::Config {
            http2: true,
            requests: 1,
            ..cfg.probe.clone()
        },
        connector.clone(),
    )?);
    let load = Arc::new(http::Client::new(
        http::Config {
            http2: true,
            requests: 1,
            ..cfg.load.clone()
        },
        connector,
    )?);
    let timeout = cfg.probe.timeout;

    // Idle: self probes on one quiet connection.
    let mut r = RequestReport::new(Timestamp::now());
    let quiet = probe
        .open(&mut r, Instant::now() + timeout)
        .await
        .map_err(|f| RpmError::Load {
            url: cfg.probe.url.to_string(),
            reason: f.to_string(),
        })?;
    let idle = rounds(
        &probe,
        std::slice::from_ref(&quiet),
        cfg.idle,
        cfg.interval,
        timeout,
        "idle",
        sink,
        labels,
    )
    .await;
    drop(quiet);

    // Loaded: the load connections, each downloading until the phase ends.
    let end = Instant::now() + cfg.duration;
    let bytes = Arc::new(AtomicU64::new(0));
    let mut conns = Vec::new();
    let mut first_failure = None;
    let mut loaders = JoinSet::new();
    for _ in 0..cfg.connections.max(1) {
        let mut r = RequestReport::new(Timestamp::now());
        match load.open(&mut r, Instant::now() + timeout).await {
            Ok(c) => {
                let Some(handle) = c.share() else {
                    first_failure.get_or_insert("the server did not speak HTTP/2".to_string());
                    continue;
                };
                conns.push(handle);
                let (load, bytes) = (load.clone(), bytes.clone());
                loaders.spawn(async move {
                    let mut c = c;
                    while Instant::now() < end {
                        let mut r = RequestReport::new(Timestamp::now());
                        let res = load.exchange(&mut c, &mut r, end).await;
                        bytes.fetch_add(r.bytes, Ordering::Relaxed);
                        if res.is_err() && Instant::now() < end {
                            // The connection broke: the load is lighter
                            // from here on, as the goodput will show.
                            break;
                        }
                    }
                    // `c` (the owner) drops here, closing the connection.
                });
            }
            Err(f) => {
                first_failure.get_or_insert(f.to_string());
            }
        }
    }
    if conns.is_empty() {
        return Err(RpmError::Load {
            url: cfg.load.url.to_string(),
            reason: first_failure.unwrap_or_default(),
        });
    }
    let started = Instant::now();
    let loaded = rounds(
        &probe,
        &conns,
        end.saturating_duration_since(Instant::now()),
        cfg.interval,
        timeout,
        "load",
        sink,
        labels,
    )
    .await;
    drop(conns);
    while loaders.join_next().await.is_some() {}
    let goodput =
        bytes.load(Ordering::Relaxed) as f64 * 8.0 / started.elapsed().as_secs_f64().max(1e-9);

    let summary = Summary {
        idle_rpm: idle.rpm(),
        rpm: loaded.rpm(),
        idle_latency: trimmed_mean(&idle.http_foreign, TRIM_PERCENTILE),
        idle,
        load: loaded,
        goodput,
    };
    let now = Timestamp::now();
    let emit = |m: &Metric, v: Option<f64>, phase: Option<&str>| {
        let mut s = match v {
            Some(v) => Sample::num(m, v),
            None => Sample::failed(m, "no_probes")
                .label("reason", "too few probes answered to compute it"),
        }
        .at(now);
        s.labels.extend(labels.clone());
        if let Some(p) = phase {
            s.labels.insert("phase".into(), p.into());
        }
        sink.sample(s);
    };
    emit(&RPM_RPM, summary.idle_rpm, Some("idle"));
    emit(&RPM_RPM, summary.rpm, Some("load"));
    emit(&RPM_IDLE_LATENCY, summary.idle_latency, None);
    emit(&RPM_GOODPUT, Some(summary.goodput), None);
    Ok(summary)
}

/// Probe rounds for `length`: a foreign probe and a self probe (on
/// `conns` in turn) every `interval`, each bounded by `timeout`.
#[allow(clippy::too_many_arguments)]
async fn rounds(
    probe: &Arc<http::Client>,
    conns: &[Conn],
    length: Duration,
    interval: Duration,
    timeout: Duration,
    phase: &'static str,
    sink: &dyn Sink,
    labels: &Labels,
) -> Latencies {
    let end = Instant::now() + length;
    let mut tasks: JoinSet<(bool, RequestReport)> = JoinSet::new();
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut k = 0usize;
    while Instant::now() < end {
        ticks.tick().await;
        if Instant::now() >= end {
            break;
        }
        let p = probe.clone();
        tasks.spawn(async move { (false, p.request().await) });
        if let Some(c) = conns[k % conns.len()].share() {
            let p = probe.clone();
            tasks.spawn(async move {
                let mut c = c;
                let mut r = RequestReport::new(Timestamp::now());
                let t = Instant::now();
                if p.exchange(&mut c, &mut r, t + timeout).await.is_ok() {
                    r.total = Some(t.elapsed());
                }
                (true, r)
            });
        }
        k += 1;
    }
    let mut l = Latencies::default();
    while let Some(Ok((self_probe, r))) = tasks.join_next().await {
        let record = |kind: &str, v: Option<Duration>, into: &mut Vec<f64>| {
            let Some(v) = v else { return };
            into.push(v.as_secs_f64());
            let mut s = Sample::num(&RPM_PROBE, v.as_secs_f64()).at(r.time);
            s.labels.extend(labels.clone());
            s.labels.insert("probe".into(), kind.into());
            s.labels.insert("phase".into(), phase.into());
            sink.sample(s);
        };
        if r.failure.is_some() {
            let mut s = Sample::failed(&RPM_PROBE, "probe")
                .label(
                    "reason",
                    r.failure
                        .as_ref()
                        .map(|f| f.to_string())
                        .unwrap_or_default(),
                )
                .label("phase", phase)
                .at(r.time);
            s.labels.extend(labels.clone());
            sink.sample(s);
            continue;
        }
        let http = match (r.ttfb, r.transfer) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        if self_probe {
            record("http_self", http, &mut l.http_self);
        } else {
            record("tcp_foreign", r.connect, &mut l.tcp_foreign);
            record("tls_foreign", r.tls, &mut l.tls_foreign);
            record("http_foreign", http, &mut l.http_foreign);
        }
    }
    l
}
