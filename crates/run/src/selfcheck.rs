//! The emulation self-check: a result is only worth keeping if the lab did
//! what the plan said.
//!
//! Before the first case (and after the last, when the plan asks), every
//! emulated link is measured between its two ends, all links at once:
//! [`PROBES`] ICMP echoes (round trip and its spread against both
//! directions' `delay`, lost echoes against both directions' `loss`) and,
//! for a link with a `rate`, a short UDP burst above that rate whose
//! delivery rate at the far end is compared with it. Each figure is a
//! run-level sample beside the plan's own (`selfcheck.rtt` beside
//! `selfcheck.plan_rtt`, ...), labelled with the link and the phase, so the
//! report can set them side by side.
//!
//! During every case the emulator measures how late it released packets;
//! [`judge_lateness`] records each link's p50, p99 and max for the case
//! and warns when p99 passes the plan's `lateness_warning` share of the
//! link's delay: with both cores saturated, a 10 ms link has been seen
//! releasing 2.6-4.7 ms late at p99, which a latency result would
//! otherwise silently include.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netproof_lab::Lab;
use netproof_lab::control::EmulatedLink;
use netproof_probe::ping;
use netproof_proto::link::Loss;
use netproof_sample::metric::{
    LINK_LATENESS, PING_RTT, SELFCHECK_LOSS, SELFCHECK_PLAN_LOSS, SELFCHECK_PLAN_RATE,
    SELFCHECK_PLAN_RTT, SELFCHECK_RATE, SELFCHECK_RTT,
};
use netproof_sample::{Event, Labels, MemorySink, Sample, Severity, Sink, Value};

/// Echo requests per link, 10 ms apart.
pub const PROBES: u32 = 50;
const PROBE_INTERVAL: Duration = Duration::from_millis(10);
/// How long the rate burst sends for.
const BURST: Duration = Duration::from_millis(400);
/// The burst's datagram payload.
const DATAGRAM: usize = 1200;
/// Above this rate a userspace burst measures the sender, not the link.
const MAX_BURST_RATE: u64 = 400_000_000;

/// Probes every emulated link of `lab` between its ends, all at once, and
/// records what they apply into `sink` (run-level) as `phase`
/// (`before` or `after`). A link that cannot be probed is reported as a
/// warning event; the self-check never fails a run.
pub(crate) async fn probe(lab: &Lab, sink: &Arc<dyn Sink>, phase: &'static str) {
    let links = lab.emulated_links();
    if links.is_empty() {
        return;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for link in links {
        let (Some(a), Some(b)) = (lab.node(&link.ends[0]), lab.node(&link.ends[1])) else {
            continue;
        };
        let (a, b, sink) = (a.clone(), b.clone(), sink.clone());
        tasks.spawn(async move {
            if let Err(why) = probe_link(&link, &a, &b, sink.as_ref(), phase).await {
                sink.event(
                    Event::new(
                        "selfcheck.failed",
                        Severity::Warning,
                        format!("the self-check could not measure {}: {why}", link.name),
                    )
                    .label("link", link.name.clone())
                    .label("phase", phase),
                );
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

async fn probe_link(
    link: &EmulatedLink,
    a: &netproof_lab::NodeHandle,
    b: &netproof_lab::NodeHandle,
    sink: &dyn Sink,
    phase: &'static str,
) -> Result<(), String> {
    let tag = |s: Sample| s.label("link", link.name.clone()).label("phase", phase);
    let [ab, ba] = &link.params;
    let target = IpAddr::V4(link.v4[1]);
    let source = SocketAddr::new(IpAddr::V4(link.v4[0]), 0);
    let socket = a
        .in_node(move || -> std::io::Result<_> {
            let s = ping::open_socket(false)?;
            s.bind(&source.into())?;
            Ok(s)
        })
        .and_then(|r| r)
        .map_err(|e| format!("cannot open an ICMP socket on `{}`: {e}", link.ends[0]))?;
    // Long enough for the plan's round trip, its jitter and a trace's
    // wait for a delivery opportunity.
    let slow = ab.delay + ba.delay + 4 * (ab.jitter + ba.jitter);
    let cfg = ping::Config {
        target,
        count: PROBES,
        interval: PROBE_INTERVAL,
        size: 56,
        timeout: slow + Duration::from_secs(2),
    };
    let echoes = MemorySink::new();
    let bound = cfg.timeout + PROBE_INTERVAL * PROBES + Duration::from_secs(5);
    let summary = tokio::time::timeout(bound, ping::run(socket, &cfg, &echoes, &Labels::new()))
        .await
        .map_err(|_| format!("its echoes did not finish within {bound:?}"))?
        .map_err(|e| e.to_string())?;
    for s in echoes.contents().samples {
        if s.metric == PING_RTT.name
            && let Value::Num(rtt) = s.value
        {
            sink.sample(tag(Sample::num(&SELFCHECK_RTT, rtt)));
        }
    }
    let lost = summary.lost as f64 / summary.sent.max(1) as f64;
    sink.sample(tag(Sample::num(&SELFCHECK_LOSS, lost)));
    sink.sample(tag(Sample::num(
        &SELFCHECK_PLAN_RTT,
        (ab.delay + ba.delay).as_secs_f64(),
    )));
    let delivered = (1.0 - mean_loss(&ab.loss)) * (1.0 - mean_loss(&ba.loss));
    sink.sample(tag(Sample::num(&SELFCHECK_PLAN_LOSS, 1.0 - delivered)));

    if let Some(rate) = ab.rate
        && ab.trace.is_none()
        && rate.bits_per_second <= MAX_BURST_RATE
    {
        let plan = rate.bits_per_second;
        let measured = burst(link, a, b, plan).await?;
        sink.sample(tag(Sample::num(&SELFCHECK_PLAN_RATE, plan as f64)));
        if let Some(m) = measured {
            sink.sample(tag(Sample::num(&SELFCHECK_RATE, m)));
        }
    }
    Ok(())
}

/// The long-run share of segments a loss model drops.
fn mean_loss(loss: &Loss) -> f64 {
    match *loss {
        Loss::None => 0.0,
        Loss::Random { p, .. } => p,
        Loss::GilbertElliott {
            p,
            r,
            loss_bad,
            loss_good,
        } => {
            // The chain's stationary share of time in the bad state.
            let bad = if p + r > 0.0 { p / (p + r) } else { 0.0 };
            bad * loss_bad + (1.0 - bad) * loss_good
        }
        Loss::FourState {
            p13,
            p31,
            p32,
            p23,
            p14,
        } => {
            // netem's states: 1 good, 2 good within a burst, 3 burst
            // loss, 4 isolated loss; losses are the time in 3 and 4. The
            // stationary shares by iterating the chain (it mixes fast).
            let mut x = [1.0, 0.0, 0.0, 0.0];
            for _ in 0..20_000 {
                x = [
                    x[0] * (1.0 - p13 - p14) + x[2] * p31 + x[3],
                    x[1] * (1.0 - p23) + x[2] * p32,
                    x[0] * p13 + x[1] * p23 + x[2] * (1.0 - p31 - p32),
                    x[0] * p14,
                ];
            }
            x[2] + x[3]
        }
    }
}

/// Sends UDP from the link's first end to its second at 1.5 times `plan`
/// bit/s for [`BURST`], and returns the rate the second end received at,
/// from its first datagram to its last (`None` if fewer than two came).
async fn burst(
    link: &EmulatedLink,
    a: &netproof_lab::NodeHandle,
    b: &netproof_lab::NodeHandle,
    plan: u64,
) -> Result<Option<f64>, String> {
    let to = SocketAddr::new(IpAddr::V4(link.v4[1]), 0);
    let from = SocketAddr::new(IpAddr::V4(link.v4[0]), 0);
    let rx = b
        .in_node(move || UdpSocket::bind(to))
        .and_then(|r| r)
        .map_err(|e| {
            format!(
                "cannot bind the burst's receiver on `{}`: {e}",
                link.ends[1]
            )
        })?;
    let dest = rx.local_addr().map_err(|e| e.to_string())?;
    let tx = a
        .in_node(move || UdpSocket::bind(from))
        .and_then(|r| r)
        .map_err(|e| format!("cannot bind the burst's sender on `{}`: {e}", link.ends[0]))?;
    // The wait after the last datagram: the link's delay and its queue
    // draining at the rate.
    let [ab, _] = &link.params;
    let quiet = ab.delay + 4 * ab.jitter + Duration::from_millis(300);
    let receiver = tokio::task::spawn_blocking(move || receive(&rx, quiet));
    let sender = tokio::task::spawn_blocking(move || send(&tx, dest, plan));
    sender
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("the burst could not be sent: {e}"))?;
    let got = receiver.await.map_err(|e| e.to_string())?;
    Ok(got)
}

/// Paces datagrams at 1.5 x `plan` bit/s by absolute deadlines.
fn send(tx: &UdpSocket, dest: SocketAddr, plan: u64) -> std::io::Result<()> {
    let payload = [0u8; DATAGRAM];
    let wire_bits = (frame_bytes(DATAGRAM) * 8) as f64;
    let gap = Duration::from_secs_f64(wire_bits / (plan as f64 * 1.5));
    let start = Instant::now();
    let mut next = start;
    while next.duration_since(start) < BURST {
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        // A full socket buffer is the link keeping up less: carry on.
        let _ = tx.send_to(&payload, dest);
        next += gap;
    }
    Ok(())
}

/// The bytes a datagram of `payload` bytes is on the link: the emulator's
/// rate counts whole Ethernet frames (14 bytes of header, then IPv4's 20
/// and UDP's 8), as the plan's `rate` does.
fn frame_bytes(payload: usize) -> usize {
    payload + 14 + 20 + 8
}

/// Receives until quiet for `quiet`; the rate from first to last arrival.
fn receive(rx: &UdpSocket, quiet: Duration) -> Option<f64> {
    let _ = rx.set_read_timeout(Some(quiet));
    let deadline = Instant::now() + BURST * 4 + quiet * 4;
    let mut buf = [0u8; 2048];
    let (mut first, mut last, mut bits) = (None::<Instant>, None::<Instant>, 0.0);
    while Instant::now() < deadline {
        match rx.recv(&mut buf) {
            Ok(n) => {
                let now = Instant::now();
                if first.is_none() {
                    first = Some(now);
                } else {
                    // The first datagram's bits arrived before it was seen.
                    bits += (frame_bytes(n) * 8) as f64;
                }
                last = Some(now);
            }
            Err(_) => break,
        }
    }
    let secs = last?.duration_since(first?).as_secs_f64();
    (secs > 0.0).then(|| bits / secs)
}

/// Records each emulated link's release lateness over the case just ended
/// into `sink`, and warns when its p99 passed `share` of the link's delay.
pub(crate) fn judge_lateness(lab: &Lab, sink: &dyn Sink, share: f64) {
    for l in lab.case_lateness() {
        let quantiles = [
            ("p50", l.lateness.quantile(0.5)),
            ("p99", l.lateness.quantile(0.99)),
            ("max", l.lateness.max()),
        ];
        for (q, ns) in quantiles {
            if let Some(ns) = ns {
                sink.sample(
                    Sample::num(&LINK_LATENESS, ns as f64 / 1e9)
                        .label("link", l.link.clone())
                        .label("quantile", q),
                );
            }
        }
        let Some(p99) = l.lateness.quantile(0.99) else {
            continue;
        };
        let p99 = Duration::from_nanos(p99);
        if let Some(why) = too_late(p99, l.delay, share) {
            sink.event(
                Event::new(
                    "emulation.late",
                    Severity::Warning,
                    format!(
                        "the emulator of {} {why}: this case's timing results may be distorted (hint: run fewer things beside netproof, or raise `lateness_warning` if this is expected)",
                        l.link
                    ),
                )
                .label("link", l.link),
            );
        }
    }
}

/// Why a p99 lateness is too much for a link of `delay`, if it is.
fn too_late(p99: Duration, delay: Duration, share: f64) -> Option<String> {
    if delay.is_zero() {
        return None;
    }
    let ratio = p99.as_secs_f64() / delay.as_secs_f64();
    (ratio > share).then(|| {
        format!(
            "released packets {:.2} ms late at p99, {:.0} % of its {:.1} ms delay (the plan's `lateness_warning` is {:.0} %)",
            p99.as_secs_f64() * 1e3,
            ratio * 100.0,
            delay.as_secs_f64() * 1e3,
            share * 100.0
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_is_judged_against_the_links_delay() {
        let ms = Duration::from_millis;
        assert_eq!(too_late(ms(1), ms(10), 0.1), None);
        let why = too_late(Duration::from_micros(2600), ms(10), 0.1).unwrap();
        assert!(
            why.contains("2.60 ms late") && why.contains("26 %"),
            "{why}"
        );
        // A link without delay has nothing lateness distorts by a share.
        assert_eq!(too_late(ms(5), Duration::ZERO, 0.1), None);
    }

    #[test]
    fn mean_loss_of_the_models() {
        assert_eq!(mean_loss(&Loss::None), 0.0);
        assert_eq!(
            mean_loss(&Loss::Random {
                p: 0.02,
                correlation: 0.5
            }),
            0.02
        );
        // Simple Gilbert: a quarter of the time bad, everything lost there.
        let ge = Loss::GilbertElliott {
            p: 0.01,
            r: 0.03,
            loss_bad: 1.0,
            loss_good: 0.0,
        };
        assert!((mean_loss(&ge) - 0.25).abs() < 1e-12);
        // Isolated losses only: 1 -> 4 -> 1, so p14 / (1 + p14).
        let iso = Loss::FourState {
            p13: 0.0,
            p31: 1.0,
            p32: 0.0,
            p23: 0.0,
            p14: 0.1,
        };
        assert!(
            (mean_loss(&iso) - 0.1 / 1.1).abs() < 1e-9,
            "{}",
            mean_loss(&iso)
        );
    }
}
