//! `rrul`: flent's Realtime Response Under Load from a node.
//!
//! First an idle phase (UDP echo and ICMP latency probes alone), then the
//! load: `flows` TCP uploads to one iperf3 server and `flows` downloads
//! from another (iperf3 serves one test at a time), with the same latency
//! probes beside them. Every probe keeps its own samples (per-flow
//! `throughput.goodput` with `direction`, `udp_echo.rtt` and `ping.rtt`
//! with `phase`), and the step adds the summary: `rrul.idle_latency`,
//! `rrul.loaded_latency` and `rrul.latency_increase` per probe (medians;
//! the load's first second, TCP's ramp-up, is left out), `rrul.upload`
//! and `rrul.download`. The summary is [`summarize`], pure.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netproof_plan::Rrul;
use netproof_probe::throughput::{self, Protocol};
use netproof_probe::{ping, udp_echo};
use netproof_sample::metric::{
    PING_RTT, RRUL_DOWNLOAD, RRUL_IDLE_LATENCY, RRUL_LATENCY_INCREASE, RRUL_LOADED_LATENCY,
    RRUL_UPLOAD, UDP_ECHO_RTT,
};
use netproof_sample::{Artifact, Event, Labels, Sample, Sink, Timestamp};

use super::throughput::NodeConnector;
use super::{ActionOutcome, StepContext, StepError};

/// Keeps the round trips that pass through to the step's sink.
struct Capture {
    inner: Arc<dyn Sink>,
    rtts: Mutex<Vec<(&'static str, Timestamp, f64)>>,
}

impl Sink for Capture {
    fn sample(&self, sample: Sample) {
        let probe = if sample.metric == UDP_ECHO_RTT.name {
            Some("udp")
        } else if sample.metric == PING_RTT.name {
            Some("icmp")
        } else {
            None
        };
        if let (Some(p), Some(v)) = (probe, sample.value.as_f64())
            && let Ok(mut r) = self.rtts.lock()
        {
            r.push((p, sample.time, v));
        }
        self.inner.sample(sample);
    }
    fn event(&self, event: Event) {
        self.inner.event(event);
    }
    fn artifact(&self, artifact: Artifact) {
        self.inner.artifact(artifact);
    }
}

/// Median round trips of one probe before and under the load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LatencySummary {
    pub idle: f64,
    pub loaded: f64,
}

/// The medians of `idle` and `loaded` round trips (seconds); `None` if
/// either is empty.
pub(crate) fn summarize(idle: &[f64], loaded: &[f64]) -> Option<LatencySummary> {
    let median = |v: &[f64]| -> Option<f64> {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(v[n / 2]),
            _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
        }
    };
    Some(LatencySummary {
        idle: median(idle)?,
        loaded: median(loaded)?,
    })
}

pub(super) async fn run(step: &Rrul, ctx: &StepContext) -> Result<ActionOutcome, StepError> {
    let ip = super::resolve(&step.to, ctx)?;
    let capture = Arc::new(Capture {
        inner: ctx.sink.clone(),
        rtts: Mutex::new(Vec::new()),
    });
    let base = super::probe_labels(ctx, step.to.to_string());
    let phase_labels = |phase: &str| {
        let mut l = base.clone();
        l.insert("phase".into(), phase.into());
        l
    };

    // Idle.
    let (idle_labels, load_labels) = (phase_labels("idle"), phase_labels("load"));
    let (idle_udp, idle_icmp) = tokio::join!(
        echo(step, ctx, ip, step.idle, capture.as_ref(), &idle_labels),
        icmp(step, ctx, ip, step.idle, capture.as_ref(), &idle_labels),
    );
    idle_udp?;
    idle_icmp?;
    let load_start = Timestamp::now();

    // Load: uploads and downloads beside the same probes.
    let connector = NodeConnector(&ctx.node);
    let flows = |port: u16, reverse: bool| throughput::Config {
        streams: step.flows,
        reverse,
        interval: Duration::from_millis(200),
        seed: ctx.seed,
        ..throughput::Config::new(SocketAddr::new(ip, port), Protocol::Tcp, step.duration)
    };
    let (up_cfg, down_cfg) = (
        flows(step.upload_port, false),
        flows(step.download_port, true),
    );
    let mut up_labels = load_labels.clone();
    up_labels.insert("direction".into(), "upload".into());
    let mut down_labels = load_labels.clone();
    down_labels.insert("direction".into(), "download".into());
    let (up, down, udp, icmp_load) = tokio::join!(
        throughput::run(&connector, &up_cfg, ctx.sink.as_ref(), &up_labels),
        throughput::run(&connector, &down_cfg, ctx.sink.as_ref(), &down_labels),
        echo(step, ctx, ip, step.duration, capture.as_ref(), &load_labels),
        icmp(step, ctx, ip, step.duration, capture.as_ref(), &load_labels),
    );
    udp?;
    icmp_load?;

    // TCP's ramp-up is not "under load" yet.
    let ramp = Duration::from_secs(1).min(step.duration / 4);
    let settled = Timestamp(load_start.0 + i64::try_from(ramp.as_nanos()).unwrap_or(0));
    let rtts = capture.rtts.lock().map(|r| r.clone()).unwrap_or_default();
    let now = Timestamp::now();
    let mut failures = Vec::new();
    for probe in ["udp", "icmp"] {
        if probe == "icmp" && !step.ping {
            continue;
        }
        let of = |f: &dyn Fn(Timestamp) -> bool| -> Vec<f64> {
            rtts.iter()
                .filter(|(p, t, _)| *p == probe && f(*t))
                .map(|(_, _, v)| *v)
                .collect()
        };
        let idle = of(&|t| t < load_start);
        let loaded = of(&|t| t >= settled);
        let Some(s) = summarize(&idle, &loaded) else {
            failures.push(format!(
                "no {probe} round trips came back in one of the phases"
            ));
            continue;
        };
        for (m, v) in [
            (&RRUL_IDLE_LATENCY, s.idle),
            (&RRUL_LOADED_LATENCY, s.loaded),
            (&RRUL_LATENCY_INCREASE, s.loaded - s.idle),
        ] {
            ctx.sink
                .sample(labelled(Sample::num(m, v).at(now), &base).label("probe", probe));
        }
    }
    for (m, result) in [(&RRUL_UPLOAD, &up), (&RRUL_DOWNLOAD, &down)] {
        match result {
            Ok(s) => ctx
                .sink
                .sample(labelled(Sample::num(m, s.goodput()).at(now), &base)),
            Err(e) => {
                ctx.sink.sample(
                    labelled(Sample::failed(m, e.label()).at(now), &base)
                        .label("reason", e.to_string()),
                );
                failures.push(e.to_string());
            }
        }
    }
    Ok(match failures.is_empty() {
        true => ActionOutcome::Ok,
        false => ActionOutcome::Failed(failures.join("; ")),
    })
}

fn labelled(mut s: Sample, labels: &Labels) -> Sample {
    s.labels
        .extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    s
}

/// UDP echo probes for `length`.
async fn echo(
    step: &Rrul,
    ctx: &StepContext,
    ip: std::net::IpAddr,
    length: Duration,
    sink: &dyn Sink,
    labels: &Labels,
) -> Result<(), StepError> {
    let target = SocketAddr::new(ip, step.echo_port);
    let socket = ctx.node.udp_socket(target).map_err(|e| {
        StepError(format!(
            "cannot open a UDP socket on `{}`: {e}",
            ctx.node.name
        ))
    })?;
    let cfg = udp_echo::Config {
        target,
        packets: packets(length, step.interval),
        interval: step.interval,
        size: 64,
        timeout: Duration::from_secs(1),
        convergence: false,
    };
    udp_echo::run(socket, &cfg, sink, labels)
        .await
        .map(|_| ())
        .map_err(|e| StepError(e.to_string()))
}

/// ICMP echo probes for `length`, when the step asks for them.
async fn icmp(
    step: &Rrul,
    ctx: &StepContext,
    target: std::net::IpAddr,
    length: Duration,
    sink: &dyn Sink,
    labels: &Labels,
) -> Result<(), StepError> {
    if !step.ping {
        return Ok(());
    }
    let source = ctx.node.source_for(target);
    let socket = ctx
        .node
        .in_node(move || -> std::io::Result<_> {
            let s = ping::open_socket(target.is_ipv6())?;
            if let Some(src) = source {
                s.bind(&SocketAddr::new(src, 0).into())?;
            }
            Ok(s)
        })
        .and_then(|r| r)
        .map_err(|e| {
            StepError(format!(
                "cannot open an ICMP socket on `{}`: {e}",
                ctx.node.name
            ))
        })?;
    let cfg = ping::Config {
        target,
        count: packets(length, step.interval),
        interval: step.interval,
        size: 56,
        timeout: Duration::from_secs(1),
    };
    ping::run(socket, &cfg, sink, labels)
        .await
        .map(|_| ())
        .map_err(|e| StepError(e.to_string()))
}

/// Probes that fit in `length` at `interval`, at least one.
fn packets(length: Duration, interval: Duration) -> u32 {
    let n = length.as_nanos() / interval.as_nanos().max(1);
    u32::try_from(n).unwrap_or(u32::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_the_median_of_each_phase() {
        let s = summarize(&[0.010, 0.012, 0.011], &[0.050, 0.090, 0.070, 0.060]).unwrap();
        assert_eq!(s.idle, 0.011);
        assert!((s.loaded - 0.065).abs() < 1e-12);
        assert_eq!(summarize(&[], &[0.1]), None);
        assert_eq!(
            packets(Duration::from_secs(5), Duration::from_millis(100)),
            50
        );
        assert_eq!(
            packets(Duration::from_millis(10), Duration::from_millis(100)),
            1
        );
    }
}
