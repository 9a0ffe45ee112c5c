//! Load mode: open-loop requests at a target rate over N connections.
//!
//! Request `i` is *scheduled* at `start + i / rate`, whatever happened to
//! the requests before it. Each connection claims the next scheduled
//! request when it is free, waits for its slot if it is early, and sends
//! it; a request's latency runs from its slot to its last body byte. When
//! the server stalls and every connection is busy, the waiting requests'
//! latencies include the wait, so a stall shows in the tail instead of
//! silently lowering the offered rate (the coordinated omission of a
//! closed-loop tool). Latencies go into an HDR histogram for the summary
//! and, one sample per request, into the sink as `http.latency`.
//!
//! At most one request is in flight per connection (HTTP/1.1 keep-alive
//! or one HTTP/2 stream at a time). The run is bounded by `requests` and
//! by `duration` (no request is scheduled after it), and each request by
//! the probe's timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use netproof_sample::metric::HTTP_LATENCY;
use netproof_sample::{Labels, Sample, Sink, Timestamp};
use thiserror::Error;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::client::{Client, Conn};
use super::report::{Failure, RequestReport};
use crate::udp_echo::client::{failed, with_labels};

/// How much load to offer.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadConfig {
    /// Connections, each with at most one request in flight.
    pub connections: u32,
    /// Requests per second offered, whatever the server does.
    pub rate: f64,
    /// At most this many requests.
    pub requests: u64,
    /// No request is scheduled after this long.
    pub duration: Duration,
}

/// A load setting that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LoadError {
    /// Zero connections.
    #[error("load mode needs at least one connection")]
    NoConnections,
    /// A rate that is not a positive number.
    #[error("load mode needs a request rate above 0 per second, not `{0}`")]
    Rate(String),
    /// Nothing to send.
    #[error("load mode needs at least one request and a duration above zero")]
    Empty,
}

impl LoadConfig {
    /// Checks the values a plan or a command line could get wrong.
    pub fn validate(&self) -> Result<(), LoadError> {
        if self.connections == 0 {
            return Err(LoadError::NoConnections);
        }
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(LoadError::Rate(self.rate.to_string()));
        }
        if self.requests == 0 || self.duration.is_zero() {
            return Err(LoadError::Empty);
        }
        Ok(())
    }

    /// Requests that will be scheduled: `requests`, or fewer when the
    /// duration ends first.
    pub fn scheduled(&self) -> u64 {
        // Slot i is at i / rate; slots at or after `duration` are not sent.
        let by_time = (self.duration.as_secs_f64() * self.rate).ceil();
        let by_time = if by_time >= u64::MAX as f64 {
            u64::MAX
        } else {
            by_time as u64
        };
        self.requests.min(by_time.max(1))
    }

    /// The offset of slot `i` from the start.
    pub fn slot(&self, i: u64) -> Duration {
        Duration::from_secs_f64(i as f64 / self.rate)
    }
}

/// What a load run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSummary {
    /// Requests scheduled and sent.
    pub sent: u64,
    /// Requests with a whole response below 400 that passed every check.
    pub ok: u64,
    /// Requests that failed (an error, or a status of 400 or above).
    pub failed: u64,
    /// From the first slot to the last response.
    pub elapsed: Duration,
    /// Successful requests per second over `elapsed`.
    pub achieved_rate: f64,
    /// Latency quantiles of the successful requests, from the HDR
    /// histogram: p50, p90, p99, p99.9 and max. `None` without any.
    pub latency: Option<Quantiles>,
    /// The first failure, as `phase: reason`.
    pub first_failure: Option<String>,
}

/// Latency quantiles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantiles {
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// Largest.
    pub max: Duration,
}

/// One request's end, sent from a connection to the recorder.
struct Done {
    slot: Duration,
    latency: Duration,
    status: Option<u16>,
    failure: Option<Failure>,
}

impl Client {
    /// Offers `load` and records one `http.latency` per request (failed,
    /// with `error` and `phase`, when it failed; not ok, with `status`,
    /// when the status is 400 or above).
    pub async fn load(
        &self,
        load: &LoadConfig,
        sink: &dyn Sink,
        labels: &Labels,
    ) -> Result<LoadSummary, LoadError> {
        load.validate()?;
        let labels = self.labels(labels);
        let total = load.scheduled();
        let next = Arc::new(AtomicU64::new(0));
        let wall = Timestamp::now();
        let start = Instant::now() + Duration::from_millis(1);
        let (tx, mut rx) = mpsc::channel::<Done>(1024);
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..load
            .connections
            .min(u32::try_from(total).unwrap_or(u32::MAX))
        {
            let client = self.clone();
            let load = load.clone();
            let next = next.clone();
            let tx = tx.clone();
            workers.spawn(async move { client.worker(&load, total, start, &next, &tx).await });
        }
        drop(tx);

        let mut hist = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)
            .expect("constant, valid histogram bounds");
        let (mut ok, mut failed_n, mut sent) = (0u64, 0u64, 0u64);
        let mut first_failure = None;
        let mut last = start;
        while let Some(d) = rx.recv().await {
            sent += 1;
            last = last.max(Instant::now());
            let time = Timestamp(
                wall.0
                    .saturating_add(i64::try_from(d.slot.as_nanos()).unwrap_or(i64::MAX)),
            );
            let sample = match (&d.failure, d.status) {
                (Some(f), _) => {
                    first_failure.get_or_insert_with(|| f.to_string());
                    failed(&HTTP_LATENCY, &labels, &f.reason).label("phase", f.phase.as_str())
                }
                (None, Some(s)) if s >= 400 => {
                    first_failure.get_or_insert_with(|| format!("status {s}"));
                    with_labels(Sample::num(&HTTP_LATENCY, d.latency.as_secs_f64()), &labels)
                        .with_ok(false)
                        .label("status", s.to_string())
                }
                (None, _) => {
                    hist.saturating_record(
                        u64::try_from(d.latency.as_nanos())
                            .unwrap_or(u64::MAX)
                            .max(1),
                    );
                    with_labels(Sample::num(&HTTP_LATENCY, d.latency.as_secs_f64()), &labels)
                }
            };
            if sample.ok {
                ok += 1;
            } else {
                failed_n += 1;
            }
            sink.sample(sample.at(time));
        }
        while workers.join_next().await.is_some() {}
        let elapsed = last.saturating_duration_since(start);
        let q = |p: f64| Duration::from_nanos(hist.value_at_quantile(p));
        Ok(LoadSummary {
            sent,
            ok,
            failed: failed_n,
            elapsed,
            achieved_rate: if elapsed.is_zero() {
                0.0
            } else {
                ok as f64 / elapsed.as_secs_f64()
            },
            latency: (!hist.is_empty()).then(|| Quantiles {
                p50: q(0.5),
                p90: q(0.9),
                p99: q(0.99),
                p999: q(0.999),
                max: Duration::from_nanos(hist.max()),
            }),
            first_failure,
        })
    }

    /// One connection: claims slots until none is left.
    async fn worker(
        &self,
        load: &LoadConfig,
        total: u64,
        start: Instant,
        next: &AtomicU64,
        tx: &mpsc::Sender<Done>,
    ) {
        let mut conn: Option<Conn> = None;
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= total {
                return;
            }
            let slot = load.slot(i);
            let due = start + slot;
            tokio::time::sleep_until(due).await;
            let deadline = Instant::now() + self.cfg.timeout;
            let mut r = RequestReport::new(Timestamp::now());
            if conn.as_ref().is_some_and(Conn::is_closed) {
                conn = None;
            }
            let result = match conn.as_mut() {
                Some(c) => self.exchange(c, &mut r, deadline).await,
                None => match self.open(&mut r, deadline).await {
                    Ok(mut c) => {
                        let res = self.exchange(&mut c, &mut r, deadline).await;
                        conn = Some(c);
                        res
                    }
                    Err(f) => Err(f),
                },
            };
            let failure = result.err();
            if failure.is_some() {
                // A connection that failed a request is not trusted with
                // the next one.
                conn = None;
            }
            let done = Done {
                slot,
                latency: Instant::now().saturating_duration_since(due),
                status: r.status,
                failure,
            };
            if tx.send(done).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load() -> LoadConfig {
        LoadConfig {
            connections: 2,
            rate: 100.0,
            requests: 1000,
            duration: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_schedule_is_bounded_by_count_and_time() {
        assert_eq!(load().scheduled(), 100);
        assert_eq!(
            LoadConfig {
                requests: 10,
                ..load()
            }
            .scheduled(),
            10
        );
        assert_eq!(load().slot(0), Duration::ZERO);
        assert_eq!(load().slot(50), Duration::from_millis(500));
        assert_eq!(
            LoadConfig {
                rate: 0.5,
                ..load()
            }
            .scheduled(),
            1
        );
    }

    #[test]
    fn settings_that_cannot_run_are_refused() {
        assert!(load().validate().is_ok());
        for (bad, want) in [
            (
                LoadConfig {
                    connections: 0,
                    ..load()
                },
                LoadError::NoConnections,
            ),
            (
                LoadConfig {
                    rate: f64::NAN,
                    ..load()
                },
                LoadError::Rate("NaN".into()),
            ),
            (
                LoadConfig {
                    rate: 0.0,
                    ..load()
                },
                LoadError::Rate("0".into()),
            ),
            (
                LoadConfig {
                    requests: 0,
                    ..load()
                },
                LoadError::Empty,
            ),
        ] {
            assert_eq!(bad.validate(), Err(want));
        }
    }
}
