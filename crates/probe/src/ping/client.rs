//! The ping client: sends echo requests on a fixed schedule and turns the
//! replies into samples as they arrive.
//!
//! This is the thin I/O layer around [`Series`]: it owns the socket (via
//! tokio's [`AsyncFd`], since tokio has no ICMP socket type) and the clock;
//! the series decides what each datagram means. A run is bounded in time
//! (about `count × interval + timeout`) and in samples (one `ping.rtt` per
//! request plus one `ping.loss`), whatever the network does.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use netproof_sample::metric::{PING_LOSS, PING_RTT};
use netproof_sample::{Labels, Sample, Sink, Timestamp};
use socket2::{Domain, SockAddr, Socket, Type};
use thiserror::Error;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::time::{Instant, MissedTickBehavior};

use super::series::{Series, SocketKind};
use super::wire::{Family, MAX_PAYLOAD, STAMP_LEN};
use crate::udp_echo::client::{failed, with_labels};
use crate::udp_echo::server::is_peer_error;
use crate::udp_echo::tracker::Summary;

/// One ping series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The host to ping.
    pub target: IpAddr,
    /// How many echo requests to send; at least 1.
    pub count: u32,
    /// Time between two requests; greater than zero.
    pub interval: Duration,
    /// Payload bytes per request, `8..=65507`, counted like `ping -s`
    /// (after the 8-byte ICMP header; the first 8 are the send stamp).
    pub size: usize,
    /// How long to wait for replies after the last request.
    pub timeout: Duration,
}

impl Config {
    /// Checks the values a plan could get wrong, so none is silently clamped.
    pub fn validate(&self) -> Result<(), PingError> {
        if !(STAMP_LEN..=MAX_PAYLOAD).contains(&self.size) {
            return Err(PingError::InvalidSize { size: self.size });
        }
        if self.count == 0 {
            return Err(PingError::NoRequests);
        }
        if self.interval.is_zero() {
            return Err(PingError::ZeroInterval);
        }
        Ok(())
    }
}

/// Why a series could not run to its end.
///
/// Losses and unreachable destinations are *results*, not errors: they end
/// up in the samples and the [`Summary`].
#[derive(Debug, Error)]
pub enum PingError {
    /// The configured payload size cannot carry the stamp or fit a datagram.
    #[error("ping payload size `{size}` is outside {STAMP_LEN}..={MAX_PAYLOAD} bytes")]
    InvalidSize {
        /// The configured size.
        size: usize,
    },
    /// A series of zero requests measures nothing.
    #[error("ping needs at least one request, but `count` is 0")]
    NoRequests,
    /// A zero interval would be a flood, not a schedule.
    #[error("ping interval must be greater than zero")]
    ZeroInterval,
    /// The socket's IP version is not the target's.
    #[error(
        "cannot ping {target} from an {socket} socket\n\
         hint: open the socket with `open_socket({v6})`",
        v6 = target.is_ipv6()
    )]
    WrongFamily {
        /// The target.
        target: IpAddr,
        /// The socket's family, `IPv4` or `IPv6`.
        socket: &'static str,
    },
    /// The socket could not be inspected or registered with the runtime.
    #[error("cannot set up the ICMP socket to ping {target}: {source}")]
    Socket {
        /// The target.
        target: IpAddr,
        /// The system's reason.
        source: io::Error,
    },
    /// Sending failed for a reason other than the target being unreachable.
    #[error("cannot send an echo request to {target}: {source}")]
    Send {
        /// The target.
        target: IpAddr,
        /// The system's reason.
        source: io::Error,
    },
    /// Receiving failed.
    #[error("cannot receive echo replies from {target}: {source}")]
    Receive {
        /// The target.
        target: IpAddr,
        /// The system's reason.
        source: io::Error,
    },
}

/// Pings `cfg.target` over `socket` (from [`super::open_socket`], either
/// kind) and records the series into `sink`.
///
/// Emits, all carrying `labels`: one `ping.rtt` sample per first reply
/// (label `seq`), stamped with the request's send time; after the series,
/// one failed `ping.rtt` sample per lost request (labels `seq`,
/// `error=lost`), stamped with its send time, then one `ping.loss`.
///
/// The series ends early once every request has been answered after the
/// last send. Must run inside a tokio runtime with I/O enabled.
pub async fn run(
    socket: Socket,
    cfg: &Config,
    sink: &dyn Sink,
    labels: &Labels,
) -> Result<Summary, PingError> {
    cfg.validate()?;
    let target = cfg.target;
    let setup = |source| PingError::Socket { target, source };
    let (family, domain) = match target {
        IpAddr::V4(_) => (Family::V4, Domain::IPV4),
        IpAddr::V6(_) => (Family::V6, Domain::IPV6),
    };
    if socket.domain().map_err(setup)? != domain {
        let socket = if target.is_ipv6() { "IPv4" } else { "IPv6" };
        return Err(PingError::WrongFamily { target, socket });
    }
    let kind = if socket.r#type().map_err(setup)? == Type::RAW {
        SocketKind::Raw { ident: raw_ident() }
    } else {
        SocketKind::Datagram
    };
    // AsyncFd needs a non-blocking socket; a caller's own may not be one.
    socket.set_nonblocking(true).map_err(setup)?;
    // Round trips end when the reply reached the socket, as ping measures
    // them; without stamps (an odd kernel), when the task read it.
    let _ = crate::rxtime::enable(std::os::fd::AsRawFd::as_raw_fd(&socket));
    // SAFETY: `Socket` owns its descriptor: it stays open, and is the
    // one `as_raw_fd` returns, until the socket is dropped, which only the
    // `AsyncFd` can do from here on.
    let socket = unsafe { AsyncFd::register(socket) }.map_err(|e| setup(e.into()))?;
    // Port 0: ICMP has no ports, but the address must be a socket address.
    let to = SockAddr::from(SocketAddr::new(target, 0));

    let wall_start = Timestamp::now();
    let start = Instant::now();
    let wall = |offset: Duration| {
        let ns = i64::try_from(offset.as_nanos()).unwrap_or(i64::MAX);
        Timestamp(wall_start.0.saturating_add(ns))
    };

    // Same schedule as udp_echo: sends stay on the start + k × interval
    // grid, and a stall skips slots rather than bursting to catch up.
    let mut ticks = tokio::time::interval_at(start, cfg.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let grace = tokio::time::sleep_until(start);
    tokio::pin!(grace);

    let mut series = Series::new(family, kind, cfg.size);
    let mut out = Vec::with_capacity(cfg.size + 8);
    // Room for the largest IPv4 datagram, header included (raw sockets).
    let mut inbuf = vec![0u8; usize::from(u16::MAX)];
    let mut sent: u32 = 0;
    let mut last_sent = Duration::ZERO;
    let mut draining = false;

    loop {
        if draining && series.all_replied() {
            break;
        }
        tokio::select! {
            _ = ticks.tick(), if !draining => {
                let at = start.elapsed();
                series.request(at, &mut out);
                last_sent = at;
                match socket.async_io(Interest::WRITABLE, |s| s.send_to(&out, &to)).await {
                    Ok(_) => {}
                    // No route, or an earlier ICMP error surfacing: this
                    // request is lost, the series goes on.
                    Err(e) if is_peer_error(&e) => {}
                    Err(source) => return Err(PingError::Send { target, source }),
                }
                sent += 1;
                if sent == cfg.count {
                    draining = true;
                    grace.as_mut().reset(start + at + cfg.timeout);
                }
            }
            r = socket.async_io(Interest::READABLE, |s| {
                crate::rxtime::recv(std::os::fd::AsRawFd::as_raw_fd(s), &mut inbuf)
            }) => match r {
                Ok((n, stamp)) => {
                    let at = crate::rxtime::offset(stamp, wall_start, start.elapsed());
                    if let Some(reply) = inbuf.get(..n).and_then(|d| series.receive(d, at)) {
                        let s = Sample::num(&PING_RTT, reply.rtt.as_secs_f64())
                            .at(wall(reply.sent_at));
                        sink.sample(with_labels(s, labels).label("seq", reply.seq.to_string()));
                    }
                }
                Err(e) if is_peer_error(&e) => {}
                Err(source) => return Err(PingError::Receive { target, source }),
            },
            () = &mut grace, if draining => break,
        }
    }

    // The timer never fires early, but clamp anyway so `finish` decides
    // every request even on a coarse clock.
    let now = start.elapsed().max(last_sent + cfg.timeout);
    let outcome = series.finish(now, cfg.timeout);
    for (seq, sent_at) in &outcome.lost {
        let s = failed(&PING_RTT, labels, "lost").at(wall(*sent_at));
        sink.sample(s.label("seq", seq.to_string()));
    }
    sink.sample(match outcome.summary.loss_ratio() {
        Some(r) => with_labels(Sample::num(&PING_LOSS, r), labels),
        None => failed(&PING_LOSS, labels, "nothing sent"),
    });
    Ok(outcome.summary)
}

/// The identifier for a series on a raw socket.
///
/// Like ping(8), derived from the process id so two programs pinging at
/// once tell their replies apart; unlike it, offset by a per-process
/// counter, because one netproof process runs a series per lab node and
/// raw sockets in one namespace all see each other's replies.
fn raw_ident() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Truncation intended: the identifier is 16 bits.
    (std::process::id() as u16).wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config {
            target: "127.0.0.1".parse().unwrap(),
            count: 1,
            interval: Duration::from_millis(1),
            size: 56,
            timeout: Duration::from_millis(1),
        }
    }

    #[test]
    fn config_rejects_what_cannot_run() {
        assert!(cfg().validate().is_ok());
        assert!(Config { size: 8, ..cfg() }.validate().is_ok());
        let e = Config { size: 7, ..cfg() }.validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "ping payload size `7` is outside 8..=65507 bytes"
        );
        assert!(matches!(
            Config {
                size: 65_508,
                ..cfg()
            }
            .validate(),
            Err(PingError::InvalidSize { .. })
        ));
        assert!(matches!(
            Config { count: 0, ..cfg() }.validate(),
            Err(PingError::NoRequests)
        ));
        assert!(matches!(
            Config {
                interval: Duration::ZERO,
                ..cfg()
            }
            .validate(),
            Err(PingError::ZeroInterval)
        ));
    }

    #[test]
    fn wrong_family_says_which_socket_to_open() {
        let e = PingError::WrongFamily {
            target: "::1".parse().unwrap(),
            socket: "IPv4",
        };
        assert_eq!(
            e.to_string(),
            "cannot ping ::1 from an IPv4 socket\nhint: open the socket with `open_socket(true)`"
        );
    }

    #[test]
    fn raw_idents_differ_within_a_process() {
        assert_ne!(raw_ident(), raw_ident());
    }
}
