//! The data movers both roles share: TCP and UDP senders (paced to a
//! rate when one is set) and receivers, counting into shared counters.
//!
//! A test's movers share one [`Run`]: bytes are counted only while it is
//! *counting* (from `TEST_RUNNING` to `TEST_END`), senders stop when it
//! stops counting or the byte limit is reached, and receivers keep
//! draining until told to stop, so a peer that is still writing after
//! `TEST_END` is never blocked on a full window while the results are
//! exchanged. Between the two, a UDP receiver may be in its *tail*: the
//! datagrams the path still held when the test ended are recorded (their
//! packet numbers, for loss) but their bytes are not counted, so a long
//! path's last round trip of traffic is neither lost nor goodput.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;

use super::reception::Reception;
use super::wire::UdpHeader;

/// A run's phase: not counting, counting, or recording the tail.
const OFF: u8 = 0;
const COUNTING: u8 = 1;
const TAIL: u8 = 2;

/// How long a UDP receiver records its tail after the end: half the
/// control connection's smoothed round trip (the path the datagrams took,
/// one way) and 2 ms for a path that reorders, at most 250 ms.
pub(crate) fn tail_window(control_rtt: Option<Duration>) -> Duration {
    (control_rtt.unwrap_or(Duration::from_millis(20)) / 2 + Duration::from_millis(2))
        .min(Duration::from_millis(250))
}

/// What the movers of one test share.
pub(crate) struct Run {
    phase: AtomicU8,
    limit: Option<u64>,
    total: AtomicU64,
    /// Woken when the byte limit is reached.
    pub limit_reached: Notify,
    stop: watch::Sender<bool>,
    /// Where a mover reports the error that ended it: (stream index, error).
    errors: mpsc::UnboundedSender<(usize, io::Error)>,
}

/// One stream's counters.
#[derive(Default)]
pub(crate) struct Counter {
    /// Payload bytes moved while counting.
    pub bytes: AtomicU64,
    /// UDP datagrams sent (the last packet number).
    pub packets: AtomicU64,
}

impl Run {
    /// A run with an optional byte limit over all streams, and the
    /// receiving end of its movers' errors.
    pub fn new(limit: Option<u64>) -> (Arc<Run>, mpsc::UnboundedReceiver<(usize, io::Error)>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let run = Run {
            phase: AtomicU8::new(OFF),
            limit,
            total: AtomicU64::new(0),
            limit_reached: Notify::new(),
            stop: watch::channel(false).0,
            errors: tx,
        };
        (Arc::new(run), rx)
    }

    /// Starts or stops counting (and sending).
    pub fn set_counting(&self, on: bool) {
        self.phase
            .store(if on { COUNTING } else { OFF }, Ordering::SeqCst);
    }

    /// Stops counting and sending, while UDP receivers still record which
    /// datagrams arrive (the tail the path held when the test ended).
    pub fn set_tail(&self) {
        self.phase.store(TAIL, Ordering::SeqCst);
    }

    fn counting(&self) -> bool {
        self.phase.load(Ordering::SeqCst) == COUNTING
    }

    fn recording(&self) -> bool {
        self.phase.load(Ordering::SeqCst) != OFF
    }

    /// Tells every mover to finish.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Bytes counted over all streams.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    /// Whether the byte limit has been reached.
    pub fn limit_hit(&self) -> bool {
        self.limit.is_some_and(|l| self.total() >= l)
    }

    /// How many more bytes may be sent; `None` without a limit.
    fn room(&self) -> Option<u64> {
        self.limit.map(|l| l.saturating_sub(self.total()))
    }

    fn count(&self, c: &Counter, n: u64) {
        if self.counting() {
            c.bytes.fetch_add(n, Ordering::Relaxed);
            let before = self.total.fetch_add(n, Ordering::SeqCst);
            if let Some(l) = self.limit
                && before < l
                && before + n >= l
            {
                self.limit_reached.notify_one();
            }
        }
    }

    fn fail(&self, stream: usize, e: io::Error) {
        let _ = self.errors.send((stream, e));
    }
}

/// Waits until a rate allows `sent` bytes since `start`.
async fn pace(start: Instant, rate: Option<u64>, sent: u64) {
    if let Some(rate) = rate {
        let due = start + Duration::from_secs_f64(sent as f64 * 8.0 / rate as f64);
        if due > Instant::now() {
            tokio::time::sleep_until(due).await;
        }
    }
}

/// Writes blocks of `len` bytes until the run stops counting, reaches its
/// limit, or is stopped.
pub(crate) async fn tcp_send(
    run: Arc<Run>,
    index: usize,
    stream: Arc<TcpStream>,
    counter: Arc<Counter>,
    len: usize,
    rate: Option<u64>,
) {
    let block = vec![0x5au8; len];
    let mut stop = run.stop.subscribe();
    let start = Instant::now();
    let mut sent = 0u64;
    loop {
        if *stop.borrow() || !run.counting() {
            return;
        }
        let room = run.room().map_or(len, |r| r.min(len as u64) as usize);
        if room == 0 {
            return;
        }
        pace(start, rate, sent).await;
        tokio::select! {
            _ = stop.changed() => return,
            r = stream.writable() => if let Err(e) = r {
                run.fail(index, e);
                return;
            },
        }
        match stream.try_write(&block[..room]) {
            Ok(n) => {
                sent += n as u64;
                run.count(&counter, n as u64);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                if run.counting() {
                    run.fail(index, e);
                }
                return;
            }
        }
    }
}

/// Reads and counts until stopped; the peer closing while the run is
/// still counting is an error.
pub(crate) async fn tcp_receive(
    run: Arc<Run>,
    index: usize,
    stream: Arc<TcpStream>,
    counter: Arc<Counter>,
) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut stop = run.stop.subscribe();
    loop {
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = stop.changed() => return,
            r = stream.readable() => if let Err(e) = r {
                run.fail(index, e);
                return;
            },
        }
        match stream.try_read(&mut buf) {
            Ok(0) => {
                if run.counting() {
                    run.fail(
                        index,
                        io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the peer closed the stream mid-test",
                        ),
                    );
                }
                return;
            }
            Ok(n) => run.count(&counter, n as u64),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                if run.counting() {
                    run.fail(index, e);
                }
                return;
            }
        }
    }
}

/// Where a UDP sender's datagrams go: its own connected socket (client),
/// or a shared socket and the peer's address (server).
pub(crate) enum UdpOut {
    Connected(Arc<UdpSocket>),
    To(Arc<UdpSocket>, SocketAddr),
}

/// The wall clock as iperf3 stamps it: seconds and microseconds.
fn wall() -> (u32, u32, f64) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as u32, d.subsec_micros(), d.as_secs_f64())
}

/// Sends datagrams of `len` bytes at `rate` bits/s (numbered from 1) until
/// the run stops counting, reaches its limit, or is stopped.
pub(crate) async fn udp_send(
    run: Arc<Run>,
    index: usize,
    out: UdpOut,
    counter: Arc<Counter>,
    len: usize,
    rate: Option<u64>,
    wide: bool,
) {
    let mut buf = vec![0u8; len];
    let mut stop = run.stop.subscribe();
    let start = Instant::now();
    let mut sent = 0u64;
    let mut count = 0u64;
    loop {
        if *stop.borrow() || !run.counting() || run.room() == Some(0) {
            return;
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = pace(start, rate, sent) => {}
        }
        count += 1;
        let (sec, usec, _) = wall();
        UdpHeader { sec, usec, count }.emit(&mut buf, wide);
        let r = match &out {
            UdpOut::Connected(s) => s.send(&buf).await,
            UdpOut::To(s, peer) => s.send_to(&buf, *peer).await,
        };
        match r {
            Ok(n) => {
                sent += n as u64;
                counter.packets.store(count, Ordering::Relaxed);
                run.count(&counter, n as u64);
            }
            // The peer's ICMP error for an earlier datagram, or a full
            // buffer: this datagram is lost like any other, and counted
            // as sent so the receiver's figures show the loss.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::WouldBlock
                ) || e.raw_os_error() == Some(libc::ENOBUFS) =>
            {
                counter.packets.store(count, Ordering::Relaxed);
            }
            Err(e) => {
                run.fail(index, e);
                return;
            }
        }
    }
}

/// Receives datagrams until stopped, handing each to the reception of the
/// stream `demux` names (datagrams it does not name are ignored).
/// Returns the receptions.
pub(crate) async fn udp_receive(
    run: Arc<Run>,
    socket: Arc<UdpSocket>,
    counters: Vec<Arc<Counter>>,
    demux: impl Fn(SocketAddr, &[u8]) -> Option<usize>,
    wide: bool,
) -> (Vec<Reception>, u64) {
    let mut receptions = vec![Reception::new(); counters.len()];
    let mut malformed = 0u64;
    let mut buf = vec![0u8; 65_536];
    let mut stop = run.stop.subscribe();
    loop {
        if *stop.borrow() {
            break;
        }
        let (n, from) = tokio::select! {
            _ = stop.changed() => break,
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => {
                    run.fail(0, e);
                    break;
                }
            },
        };
        let d = &buf[..n];
        let Some(i) = demux(from, d) else { continue };
        if !run.recording() {
            continue;
        }
        match UdpHeader::parse(d, wide) {
            Ok(h) => {
                let (_, _, now) = wall();
                if let (Some(r), Some(c)) = (receptions.get_mut(i), counters.get(i)) {
                    // In the tail, the packet number counts; the bytes
                    // arrived after the end.
                    let counted = run.counting();
                    r.record(h.count, h.time(), now, if counted { n } else { 0 });
                    if counted {
                        run.count(c, n as u64);
                    }
                }
            }
            Err(_) => malformed += 1,
        }
    }
    (receptions, malformed)
}
