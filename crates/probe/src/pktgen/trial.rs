//! One trial on real sockets: a sender thread on the absolute schedule,
//! a receiver thread reading kernel receive stamps, and the trial's
//! samples.
//!
//! Blocking by design: pacing to a few microseconds needs a thread that
//! sleeps to within a margin of the next deadline and spins the rest,
//! which an async runtime's timer (millisecond wheel) cannot do. The
//! caller runs [`run`] on a blocking thread with sockets made in the
//! right namespaces. Bounded: the sender stops at its last frame or when
//! `cancel` is set, the receiver `wait` after the sender.

use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use netproof_sample::metric::{
    PKTGEN_DELAY, PKTGEN_LATENESS, PKTGEN_LOSS, PKTGEN_LOST, PKTGEN_OFFERED, PKTGEN_RECEIVED,
    PKTGEN_RECEIVED_RATE, PKTGEN_REORDERED, PKTGEN_SENT,
};
use netproof_sample::{Labels, Sample, Sink, Timestamp};
use thiserror::Error;

use super::reception::Reception;
use super::schedule::Schedule;
use super::wire::{HEADER_LEN, Header};
use super::{OVERHEAD_V4, OVERHEAD_V6};

/// One trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Frame size in bytes (RFC 2544: Ethernet with FCS).
    pub frame: u32,
    /// Bits per second of whole frames; `None` only with `burst`.
    pub rate: Option<u64>,
    /// Send this many frames and stop; `None`: `duration` at `rate`.
    pub burst: Option<u32>,
    /// How long a constant-rate trial sends.
    pub duration: Duration,
    /// How long the receiver waits after the last frame.
    pub wait: Duration,
    /// Seeds the flow id that tells this trial's frames from strays.
    pub seed: u64,
}

/// Why a trial could not run. Loss is a result, never an error.
#[derive(Debug, Error)]
pub enum PktgenError {
    /// The frame leaves no room for the header.
    #[error(
        "a {frame}-byte frame over {family} leaves {payload} bytes of UDP payload, fewer than the generator's {HEADER_LEN}-byte header; hint: use frames of at least {min} bytes"
    )]
    FrameTooSmall {
        /// The frame size.
        frame: u32,
        /// `IPv4` or `IPv6`.
        family: &'static str,
        /// What is left for the payload.
        payload: i64,
        /// The smallest frame that works.
        min: u32,
    },
    /// Neither a rate nor a burst.
    #[error("a pktgen trial needs a `rate` or a `burst`")]
    NoLoad,
    /// A socket operation failed.
    #[error("pktgen {what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

fn io_err(what: &'static str) -> impl FnOnce(io::Error) -> PktgenError {
    move |source| PktgenError::Io { what, source }
}

/// What a trial measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Frames sent.
    pub sent: u64,
    /// Distinct frames received.
    pub received: u64,
    /// Frames received twice.
    pub duplicates: u64,
    /// Frames that arrived after a later-numbered one.
    pub reordered: u64,
    /// The rate offered, bits/s of whole frames, when measurable.
    pub offered: Option<f64>,
    /// The rate received, when at least two frames arrived.
    pub received_rate: Option<f64>,
    /// The latest a frame left behind its due time.
    pub lateness: Duration,
    /// (sequence, one-way delay in seconds) of an even sample of frames.
    pub delays: Vec<(u32, f64)>,
}

impl Summary {
    /// Frames lost.
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }

    /// The frame loss rate (RFC 2544 section 26.3), 0 when nothing was sent.
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            self.lost() as f64 / self.sent as f64
        }
    }
}

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// How close to a deadline the sender sleeps before it spins. The
/// sender's timer slack is 1 ns ([`raise_priority`]), so a sleep ends
/// within a few microseconds of its time on an idle core; spinning longer
/// would take a core the link emulator may need on a small host.
const SPIN_MARGIN: Duration = Duration::from_micros(20);
/// Frames sent in one go when the sender is behind.
const CATCH_UP: u64 = 64;

/// Runs one trial: frames from `tx` (connected to `rx`'s address) to `rx`.
pub fn run(
    cfg: &Config,
    tx: &UdpSocket,
    rx: &UdpSocket,
    cancel: &AtomicBool,
) -> Result<Summary, PktgenError> {
    let peer = tx
        .peer_addr()
        .map_err(io_err("reading the receiver's address"))?;
    let (family, overhead) = if peer.is_ipv4() {
        ("IPv4", OVERHEAD_V4)
    } else {
        ("IPv6", OVERHEAD_V6)
    };
    let payload = i64::from(cfg.frame) - i64::from(overhead);
    if payload < HEADER_LEN as i64 {
        return Err(PktgenError::FrameTooSmall {
            frame: cfg.frame,
            family,
            payload,
            min: overhead + HEADER_LEN as u32,
        });
    }
    let rate = match (cfg.rate, cfg.burst) {
        (Some(r), _) => r,
        (None, Some(_)) => 0,
        (None, None) => return Err(PktgenError::NoLoad),
    };
    let frames = match cfg.burst {
        Some(n) => u64::from(n),
        None => Schedule::frames_in(cfg.frame, rate, cfg.duration.as_nanos() as u64),
    };
    let flow = (netproof_proto::seed::derive_named(cfg.seed, "pktgen.flow", 0) & 0xffff) as u16;
    tx.set_nonblocking(false)
        .map_err(io_err("setting the sender blocking"))?;
    rx.set_nonblocking(true)
        .map_err(io_err("setting the receiver non-blocking"))?;
    crate::rxtime::enable(rx.as_raw_fd()).map_err(io_err("asking for receive stamps"))?;
    grow_buffer(rx.as_raw_fd(), libc::SO_RCVBUFFORCE, libc::SO_RCVBUF);
    grow_buffer(tx.as_raw_fd(), libc::SO_SNDBUFFORCE, libc::SO_SNDBUF);
    // The kernel turns receive stamping on from a work queue; frames read
    // before then carry no stamp and take the read time instead.
    std::thread::sleep(Duration::from_millis(20));

    let reception = Mutex::new(Reception::new(flow, frames));
    let sender_done = AtomicBool::new(false);
    let mut sched = Schedule::new(cfg.frame, rate, frames);
    let mut buf = vec![0u8; payload as usize];
    let (mut send_error, mut end) = (None, Duration::ZERO);
    std::thread::scope(|scope| {
        let receiver = scope.spawn(|| {
            raise_priority();
            receive(rx, &reception, &sender_done, cfg.wait, cancel)
        });
        raise_priority();
        let start = Instant::now();
        'send: while let Some((_, due)) = sched.next_due() {
            let now = start.elapsed();
            let due = Duration::from_nanos(due);
            if due > now {
                let gap = due - now;
                if gap > SPIN_MARGIN {
                    std::thread::sleep(gap - SPIN_MARGIN);
                } else {
                    std::hint::spin_loop();
                }
                continue;
            }
            let first = sched.sent();
            let n = sched.take_due(now.as_nanos() as u64, CATCH_UP);
            for seq in first..first + n {
                Header {
                    flow,
                    seq: seq as u32,
                    sent_ns: wall_ns(),
                }
                .emit(&mut buf);
                if let Err(e) = tx.send(&buf)
                    && !lost_not_failed(&e)
                {
                    send_error = Some(e);
                    break 'send;
                }
            }
            if first % 1024 < n && cancel.load(Ordering::Relaxed) {
                break;
            }
        }
        end = start.elapsed();
        sender_done.store(true, Ordering::SeqCst);
        let _ = receiver.join();
    });
    if let Some(e) = send_error {
        return Err(PktgenError::Io {
            what: "sending",
            source: e,
        });
    }
    let r = reception.into_inner().unwrap_or_else(|e| e.into_inner());
    let bits = f64::from(cfg.frame) * 8.0;
    let sent = sched.sent();
    // The send time of `sent` frames spans `sent` intervals: the last one
    // left at `end`, the schedule's next slot would follow it.
    let span = end.as_secs_f64() + sched.due_ns(1) as f64 / 1e9;
    let offered = (sent >= 2 && span > 0.0).then(|| sent as f64 * bits / span);
    let received_rate = match (r.first_ns, r.last_ns) {
        (Some(a), Some(b)) if r.received >= 2 && b > a => {
            Some((r.received - 1) as f64 * bits / ((b - a) as f64 / 1e9))
        }
        _ => None,
    };
    Ok(Summary {
        sent,
        received: r.received,
        duplicates: r.duplicates,
        reordered: r.reordered,
        offered,
        received_rate,
        lateness: Duration::from_nanos(sched.max_late_ns()),
        delays: r
            .delays
            .iter()
            .map(|(s, d)| (*s, *d as f64 / 1e9))
            .collect(),
    })
}

/// Raises the calling thread's priority (nice −15, as the link emulator
/// does), so a busy host preempts the sender less: a sender woken late
/// sends what is due at once, a burst a short queue may not absorb; and
/// sets its timer slack to 1 ns, so its sleeps end on time instead of up
/// to 50 µs late (the default slack). Best effort: without the privilege
/// the thread keeps its priority, and the trial's `pktgen.lateness` shows
/// what that cost.
fn raise_priority() {
    // SAFETY: gettid, setpriority and prctl(PR_SET_TIMERSLACK) take
    // values, no pointers; both change the calling thread only.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid);
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, -15);
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// Errors after which the frame simply counts as lost: the peer's ICMP
/// for an earlier frame, a full queue.
fn lost_not_failed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::WouldBlock
    ) || e.raw_os_error() == Some(libc::ENOBUFS)
}

/// Reads until the sender is done and `wait` has passed (or `cancel`).
fn receive(
    rx: &UdpSocket,
    reception: &Mutex<Reception>,
    sender_done: &AtomicBool,
    wait: Duration,
    cancel: &AtomicBool,
) {
    let fd = rx.as_raw_fd();
    let mut buf = vec![0u8; 65_536];
    let mut stop_at: Option<Instant> = None;
    let mut r = reception.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if stop_at.is_none() && sender_done.load(Ordering::SeqCst) {
            stop_at = Some(Instant::now() + wait);
        }
        if stop_at.is_some_and(|t| Instant::now() >= t) || cancel.load(Ordering::Relaxed) {
            return;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd we own, for the length of the call.
        let ready = unsafe { libc::poll(&mut pfd, 1, 10) };
        if ready <= 0 {
            continue;
        }
        loop {
            match crate::rxtime::recv(fd, &mut buf) {
                Ok((n, stamp)) => {
                    let at = stamp.map_or_else(wall_ns, |Timestamp(t)| t.max(0) as u64);
                    r.record(&buf[..n], at);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // An ICMP error queued on the socket: nothing to read.
                Err(_) => break,
            }
        }
    }
}

/// Asks for a large socket buffer: the forcing option as root (past the
/// global maximum), else the ordinary one; a refusal leaves the default.
fn grow_buffer(fd: i32, force: libc::c_int, plain: libc::c_int) {
    let size: libc::c_int = 8 * 1024 * 1024;
    for opt in [force, plain] {
        // SAFETY: setsockopt reads an int through the pointer, which
        // outlives the call.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return;
        }
    }
}

/// Writes a trial's samples, each with `labels`.
pub fn emit(summary: &Summary, sink: &dyn Sink, labels: &Labels) {
    let with = |s: Sample| {
        let mut s = s;
        for (k, v) in labels {
            s.labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        s
    };
    sink.sample(with(Sample::num(&PKTGEN_SENT, summary.sent as f64)));
    sink.sample(with(Sample::num(&PKTGEN_RECEIVED, summary.received as f64)));
    sink.sample(with(Sample::num(&PKTGEN_LOST, summary.lost() as f64)));
    sink.sample(with(Sample::num(&PKTGEN_LOSS, summary.loss())));
    sink.sample(with(Sample::num(
        &PKTGEN_REORDERED,
        summary.reordered as f64,
    )));
    sink.sample(with(Sample::num(
        &PKTGEN_LATENESS,
        summary.lateness.as_secs_f64(),
    )));
    if let Some(o) = summary.offered {
        sink.sample(with(Sample::num(&PKTGEN_OFFERED, o)));
    }
    if let Some(r) = summary.received_rate {
        sink.sample(with(Sample::num(&PKTGEN_RECEIVED_RATE, r)));
    }
    for (seq, d) in &summary.delays {
        sink.sample(with(
            Sample::num(&PKTGEN_DELAY, *d).label("seq", seq.to_string()),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (UdpSocket, UdpSocket) {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        (tx, rx)
    }

    #[test]
    fn a_constant_rate_trial_on_loopback_delivers_every_frame_on_time() {
        let (tx, rx) = pair();
        let cfg = Config {
            frame: 512,
            rate: Some(20_000_000),
            burst: None,
            duration: Duration::from_millis(500),
            wait: Duration::from_millis(100),
            seed: 1,
        };
        let s = run(&cfg, &tx, &rx, &AtomicBool::new(false)).unwrap();
        // 20 Mbit/s of 4096-bit frames for 0.5 s: 2442 frames due before the end.
        assert_eq!(s.sent, 2442);
        assert_eq!(s.received, 2442, "{s:?}");
        // Never early; late only as much as a busy host delays the sender
        // (the schedule's exactness is pinned on a virtual clock).
        let offered = s.offered.unwrap();
        assert!(offered <= 20e6 * 1.001, "offered {offered}");
        assert!(
            offered >= 20e6 * 0.8 || s.lateness > Duration::from_millis(20),
            "offered {offered}, {:?} late",
            s.lateness
        );
        assert!(!s.delays.is_empty());
        assert!(
            s.delays.iter().all(|(_, d)| *d >= 0.0 && *d < 0.1),
            "{:?}",
            &s.delays[..3]
        );
    }

    #[test]
    fn a_burst_goes_out_as_fast_as_it_can_and_is_counted() {
        let (tx, rx) = pair();
        let cfg = Config {
            frame: 64,
            rate: None,
            burst: Some(200_000),
            duration: Duration::ZERO,
            wait: Duration::from_millis(200),
            seed: 2,
        };
        let s = run(&cfg, &tx, &rx, &AtomicBool::new(false)).unwrap();
        assert_eq!(s.sent, 200_000);
        assert!(s.received > 0 && s.received <= 200_000);
        let pps = s.offered.unwrap() / (64.0 * 8.0);
        // The figure the docs quote: what one core sends at 64-byte frames.
        println!(
            "64-byte frames, one sender thread on loopback: {pps:.0} frames/s offered, {} of {} received",
            s.received, s.sent
        );
        assert!(pps > 10_000.0, "{pps}");
    }

    #[test]
    fn frames_too_small_for_the_header_are_refused_with_the_minimum() {
        let (tx, rx) = pair();
        let cfg = Config {
            frame: 60,
            rate: Some(1_000_000),
            burst: None,
            duration: Duration::from_millis(10),
            wait: Duration::ZERO,
            seed: 0,
        };
        let e = run(&cfg, &tx, &rx, &AtomicBool::new(false)).unwrap_err();
        assert!(e.to_string().contains("at least 62 bytes"), "{e}");
    }
}
