//! The UDP echo client: sends a series of requests on a fixed schedule and
//! turns the replies into samples as they arrive.
//!
//! This is the thin I/O layer around [`Tracker`]: it owns the socket and
//! the clock, the tracker does the arithmetic. A series is bounded in time
//! (about `packets × interval + timeout`) and in samples (at most one RTT
//! sample per request plus four summary samples), whatever the network or
//! the peer does.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use netproof_sample::metric::{
    CONVERGENCE_EPISODES, CONVERGENCE_LOSS_PERIOD, CONVERGENCE_LOSS_TIME, CONVERGENCE_LOST,
    UDP_ECHO_DUPLICATES, UDP_ECHO_JITTER, UDP_ECHO_LOSS, UDP_ECHO_REORDERED, UDP_ECHO_RTT,
};
use netproof_sample::{Labels, Metric, Sample, Sink, Timestamp, Value};
use thiserror::Error;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::time::{Instant, MissedTickBehavior};

use super::server::is_peer_error;
use super::tracker::{Reception, Summary, Tracker};
use super::wire::{HEADER_LEN, Kind, MAX_PACKET_LEN, Packet};

/// One echo series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The responder.
    pub target: SocketAddr,
    /// How many requests to send; at least 1.
    pub packets: u32,
    /// Time between two requests; greater than zero.
    pub interval: Duration,
    /// Datagram size in bytes, `24..=65507` (header plus padding).
    pub size: usize,
    /// How long to wait for replies after the last request; with
    /// `convergence`, also how long each request's reply may take before
    /// it counts as lost.
    pub timeout: Duration,
    /// Also report the series' data-plane convergence
    /// ([`Tracker::convergence`]) as `convergence.*` samples.
    pub convergence: bool,
}

impl Config {
    /// Checks the values a plan could get wrong, so none is silently clamped.
    pub fn validate(&self) -> Result<(), ProbeError> {
        if !(HEADER_LEN..=MAX_PACKET_LEN).contains(&self.size) {
            return Err(ProbeError::InvalidSize { size: self.size });
        }
        if self.packets == 0 {
            return Err(ProbeError::NoPackets);
        }
        if self.interval.is_zero() {
            return Err(ProbeError::ZeroInterval);
        }
        Ok(())
    }
}

/// Why a series could not run to its end.
///
/// Losses, refusals and unreachable destinations are *results*, not
/// errors: they end up in the samples and the [`Summary`].
#[derive(Debug, Error)]
pub enum ProbeError {
    /// The configured size cannot be a UDP echo packet.
    #[error("udp echo packet size `{size}` is outside {HEADER_LEN}..={MAX_PACKET_LEN} bytes")]
    InvalidSize {
        /// The configured size.
        size: usize,
    },
    /// A series of zero packets measures nothing.
    #[error("udp echo needs at least one packet, but `packets` is 0")]
    NoPackets,
    /// A zero interval would be a flood, not a schedule.
    #[error("udp echo interval must be greater than zero")]
    ZeroInterval,
    /// Sending failed for a reason other than the peer being unreachable.
    #[error("cannot send to {target}: {source}")]
    Send {
        /// The responder.
        target: SocketAddr,
        /// The system's reason.
        source: io::Error,
    },
    /// Receiving failed for a reason other than the peer being unreachable.
    #[error("cannot receive from {target}: {source}")]
    Receive {
        /// The responder.
        target: SocketAddr,
        /// The system's reason.
        source: io::Error,
    },
}

/// Runs one series against `cfg.target` and records it into `sink`.
///
/// Emits, all carrying `labels`: one `udp_echo.rtt` sample per first reply
/// (label `seq`), stamped with the request's send time; after the series,
/// one failed `udp_echo.rtt` sample per lost request (labels `seq`,
/// `error=lost`), then `udp_echo.jitter` (no value when fewer than two
/// replies came back), `udp_echo.loss`, `udp_echo.duplicates` and
/// `udp_echo.reordered`; with `cfg.convergence`, then
/// `convergence.loss_time`, `convergence.loss_period`, `convergence.lost`
/// and `convergence.episodes`, stamped at the first lost request's send
/// time (at the series' end without loss).
///
/// The series ends early once every request has been answered after the
/// last send, so a later duplicate of an answered request is not seen.
pub async fn run(
    socket: UdpSocket,
    cfg: &Config,
    sink: &dyn Sink,
    labels: &Labels,
) -> Result<Summary, ProbeError> {
    cfg.validate()?;
    let target = cfg.target;
    // The socket is deliberately not connected: a responder bound to a
    // wildcard address on a host with several addresses answers from the
    // address of its outgoing interface, not the one we sent to, and a
    // connected socket would drop that reply as foreign. Replies are
    // recognised by their echoed sequence number and send stamp instead
    // (a reply whose stamp does not match is counted as stray). A lost
    // packet is then found by its timeout rather than by an ICMP error.

    // Round trips end when the reply reached the socket (the kernel's
    // stamp), not when this task woke to read it.
    let _ = crate::rxtime::enable(std::os::fd::AsRawFd::as_raw_fd(&socket));
    let wall_start = Timestamp::now();
    let start = Instant::now();
    let wall = |offset: Duration| {
        let ns = i64::try_from(offset.as_nanos()).unwrap_or(i64::MAX);
        Timestamp(wall_start.0.saturating_add(ns))
    };

    // `Skip` keeps the sends on the start + k × interval grid: after a
    // stall the next request waits for the next slot instead of a burst
    // catching up, which would measure our own queue, not the network.
    let mut ticks = tokio::time::interval_at(start, cfg.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let grace = tokio::time::sleep_until(start);
    tokio::pin!(grace);

    let mut tracker = Tracker::new();
    let mut out = Vec::with_capacity(cfg.size);
    let mut inbuf = vec![0u8; usize::from(u16::MAX)];
    let mut next_seq: u32 = 0;
    let mut last_sent = Duration::ZERO;
    let mut malformed = 0u64;
    let mut draining = false;

    loop {
        if draining && tracker.all_replied() {
            break;
        }
        tokio::select! {
            _ = ticks.tick(), if !draining => {
                let seq = u64::from(next_seq);
                let at = start.elapsed();
                let stamp_ns = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
                Packet { kind: Kind::Request, seq, stamp_ns }.emit(&mut out, cfg.size);
                // Recorded before sending so a refused send still counts
                // as a request, and so as a loss.
                tracker.sent(seq, Duration::from_nanos(stamp_ns));
                last_sent = at;
                match socket.send_to(&out, target).await {
                    Ok(_) => {}
                    // An earlier request's ICMP error surfacing now; this
                    // request is lost like that one, the series goes on.
                    Err(e) if is_peer_error(&e) => {}
                    Err(source) => return Err(ProbeError::Send { target, source }),
                }
                next_seq += 1;
                if next_seq == cfg.packets {
                    draining = true;
                    grace.as_mut().reset(start + at + cfg.timeout);
                }
            }
            r = socket.async_io(Interest::READABLE, || {
                crate::rxtime::recv(std::os::fd::AsRawFd::as_raw_fd(&socket), &mut inbuf)
            }) => match r {
                Ok((n, stamp)) => {
                    let at = crate::rxtime::offset(stamp, wall_start, start.elapsed());
                    match inbuf.get(..n).map(Packet::parse) {
                        Some(Ok(p)) if p.kind == Kind::Reply => {
                            let stamp = Duration::from_nanos(p.stamp_ns);
                            if let Reception::Reply { rtt, .. } = tracker.received(p.seq, stamp, at) {
                                let s = Sample::num(&UDP_ECHO_RTT, rtt.as_secs_f64())
                                    .at(wall(stamp));
                                sink.sample(with_labels(s, labels).label("seq", p.seq.to_string()));
                            }
                        }
                        _ => malformed += 1,
                    }
                }
                Err(e) if is_peer_error(&e) => {}
                Err(source) => return Err(ProbeError::Receive { target, source }),
            },
            () = &mut grace, if draining => break,
        }
    }

    // The timer never fires early, but clamp anyway so `finish` decides
    // every request even on a coarse clock.
    let now = start.elapsed().max(last_sent + cfg.timeout);
    let outcome = tracker.finish(now, cfg.timeout);
    let mut summary = outcome.summary;
    summary.stray += malformed;

    for (seq, sent_at) in &outcome.lost {
        let s = failed(&UDP_ECHO_RTT, labels, "lost").at(wall(*sent_at));
        sink.sample(s.label("seq", seq.to_string()));
    }
    sink.sample(if summary.received >= 2 {
        with_labels(
            Sample::num(&UDP_ECHO_JITTER, summary.jitter.as_secs_f64()),
            labels,
        )
    } else {
        // Jitter compares consecutive replies; with fewer than two, zero
        // would claim a perfectly steady path that was never observed.
        failed(&UDP_ECHO_JITTER, labels, "too few replies")
    });
    sink.sample(match summary.loss_ratio() {
        Some(r) => with_labels(Sample::num(&UDP_ECHO_LOSS, r), labels),
        None => failed(&UDP_ECHO_LOSS, labels, "nothing sent"),
    });
    sink.sample(with_labels(
        Sample::num(&UDP_ECHO_DUPLICATES, summary.duplicates as f64),
        labels,
    ));
    sink.sample(with_labels(
        Sample::num(&UDP_ECHO_REORDERED, summary.reordered as f64),
        labels,
    ));
    if cfg.convergence {
        let c = tracker.convergence(now, cfg.interval, cfg.timeout);
        let at = wall(c.first_lost_at.unwrap_or(now));
        for (metric, v) in [
            (&CONVERGENCE_LOSS_TIME, c.loss_time.as_secs_f64()),
            (&CONVERGENCE_LOSS_PERIOD, c.loss_period.as_secs_f64()),
            (&CONVERGENCE_LOST, c.lost as f64),
            (&CONVERGENCE_EPISODES, c.episodes as f64),
        ] {
            sink.sample(with_labels(Sample::num(metric, v).at(at), labels));
        }
    }
    Ok(summary)
}

/// Adds the caller's labels; the probe's own labels are added after, so a
/// caller's `seq` or `error` cannot mask them. Shared with [`crate::ping`].
pub(crate) fn with_labels(mut s: Sample, labels: &Labels) -> Sample {
    for (k, v) in labels {
        s.labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    s
}

/// A failed sample of `metric`: no value, the caller's labels and `error`.
pub(crate) fn failed(metric: &Metric, labels: &Labels, error: &str) -> Sample {
    let s = Sample {
        value: Value::None,
        ok: false,
        ..Sample::num(metric, 0.0)
    };
    with_labels(s, labels).label("error", error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config {
            target: "127.0.0.1:9".parse().unwrap(),
            packets: 1,
            interval: Duration::from_millis(1),
            size: 64,
            timeout: Duration::from_millis(1),
            convergence: false,
        }
    }

    #[test]
    fn config_rejects_what_cannot_run() {
        assert!(cfg().validate().is_ok());
        let e = Config { size: 23, ..cfg() }.validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "udp echo packet size `23` is outside 24..=65507 bytes"
        );
        assert!(matches!(
            Config {
                size: 65_508,
                ..cfg()
            }
            .validate(),
            Err(ProbeError::InvalidSize { .. })
        ));
        assert!(matches!(
            Config {
                packets: 0,
                ..cfg()
            }
            .validate(),
            Err(ProbeError::NoPackets)
        ));
        assert!(matches!(
            Config {
                interval: Duration::ZERO,
                ..cfg()
            }
            .validate(),
            Err(ProbeError::ZeroInterval)
        ));
    }

    #[test]
    fn send_error_names_the_target() {
        let e = ProbeError::Send {
            target: "198.18.0.4:7007".parse().unwrap(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(
            e.to_string().starts_with("cannot send to 198.18.0.4:7007"),
            "{e}"
        );
    }

    #[test]
    fn probe_labels_win_over_caller_labels() {
        let mut labels = Labels::new();
        labels.insert("step".into(), "ping".into());
        labels.insert("error".into(), "caller".into());
        let s = failed(&UDP_ECHO_RTT, &labels, "lost");
        assert_eq!(s.labels["error"], "lost");
        assert_eq!(s.labels["step"], "ping");
        assert_eq!(s.value, Value::None);
        assert!(!s.ok);
    }
}
