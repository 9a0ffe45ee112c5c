//! The forwarding engine: a thread per direction of an emulated link moves
//! frames from one TAP device to the other through that direction's
//! [`Pipeline`].
//!
//! Each thread reads what its end sends, pushes it into its pipeline,
//! writes what the pipeline releases to the other end, and sleeps until the
//! next release or the next frame, whichever comes first. It sleeps with
//! `ppoll` (nanosecond timeouts, timer slack set to 1 ns) and spins the last
//! stretch before a release, so frames leave within microseconds of their
//! time rather than at the next millisecond. Two threads, because writing a
//! frame into a node runs that node's receive path on the writer's core:
//! the data's way and the acknowledgements' way then run side by side.
//!
//! The [`Emulator`] handle changes parameters and the link state at run
//! time, reads counters, and stops the threads; dropping it stops them too,
//! which closes the TAP devices and so removes them.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::core::{Counters, DropReason, Nanos, Pipeline};
use crate::params::{Direction, LinkParams, LinkState};
use crate::tap::{MAX_FRAME, Tap};
use crate::vnet::FrameInfo;

/// Frames read from one device before the engine looks at the other.
const BATCH: usize = 64;
/// Bounds of how long before a release the engine stops sleeping and
/// spins. In between, the margin follows how late timed sleeps wake on this
/// machine (twice their running mean), so a quiet host spins little and a
/// virtual machine with slow timers still releases on time.
const SPIN_MIN: Nanos = 20_000;
const SPIN_MAX: Nanos = 1_000_000;
/// How long segments behind a rate or a trace may wait to leave together
/// with the ones due just after them (the release lateness this costs is at
/// most this).
const COALESCE: Nanos = 20_000;
/// Frames shorter than this are copied out of the read buffer, so a queue
/// of small frames does not hold 64 KiB buffers.
const SMALL: usize = 2048;
/// Read buffers kept for reuse.
const POOL: usize = 256;

/// How an emulated link is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The link's name in messages (the plan's `a -- b`).
    pub name: String,
    /// The link's MTU: segments larger than this are dropped and counted.
    pub mtu: u32,
    /// Parameters per direction, indexed by [`Direction::index`].
    pub params: [LinkParams; 2],
    /// Seed of every random draw; each direction derives its own from it.
    pub seed: u64,
}

/// What an emulated link has done, per direction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Counters per direction, indexed by [`Direction::index`].
    pub dir: [Counters; 2],
    /// Frames the receiving kernel refused (its backlog was full) or that
    /// could not be written, per direction.
    pub write_failures: [u64; 2],
    /// Frames written to the receiving device, per direction: a super-frame
    /// passed whole counts once, each piece of a split one once.
    pub frames_written: [u64; 2],
    /// How late pieces left after the time the pipeline gave them, both
    /// directions together, since the emulator started.
    pub lateness: Lateness,
}

/// A histogram of lateness in nanoseconds: exact below 8 ns, then eight
/// buckets per power of two (within 12.5 %), so quantiles cost nothing to
/// keep at millions of releases a second.
#[derive(Debug, Clone, PartialEq)]
pub struct Lateness {
    counts: Vec<u64>,
    n: u64,
    min: Nanos,
    max: Nanos,
}

impl Default for Lateness {
    fn default() -> Self {
        Lateness {
            counts: vec![0; 8 * 62],
            n: 0,
            min: Nanos::MAX,
            max: 0,
        }
    }
}

impl Lateness {
    fn bucket(v: Nanos) -> usize {
        if v < 8 {
            return v as usize;
        }
        let e = 63 - v.leading_zeros() as usize;
        8 * (e - 2) + ((v >> (e - 3)) & 7) as usize
    }

    fn lower(b: usize) -> Nanos {
        if b < 8 {
            return b as Nanos;
        }
        let e = b / 8 + 2;
        ((8 + (b % 8)) as Nanos) << (e - 3)
    }

    /// Records one release `late` ns after its time.
    pub fn record(&mut self, late: Nanos) {
        let b = Self::bucket(late).min(self.counts.len() - 1);
        self.counts[b] += 1;
        self.n += 1;
        self.min = self.min.min(late);
        self.max = self.max.max(late);
    }

    /// How many releases were recorded.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Adds another histogram's releases to this one.
    pub fn merge(&mut self, other: &Lateness) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.n += other.n;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// The releases recorded since `earlier`, a copy of this histogram
    /// taken before (bucket by bucket; the least and greatest become the
    /// edges of the lowest and highest buckets still holding a release,
    /// within the buckets' 12.5 %).
    pub fn since(&self, earlier: &Lateness) -> Lateness {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .zip(&earlier.counts)
            .map(|(a, b)| a.saturating_sub(*b))
            .collect();
        let n: u64 = counts.iter().sum();
        let first = counts.iter().position(|&c| c > 0);
        let last = counts.iter().rposition(|&c| c > 0);
        let (min, max) = match (first, last) {
            (Some(f), Some(l)) => (
                Self::lower(f).max(self.min),
                Self::lower(l + 1).saturating_sub(1).min(self.max),
            ),
            _ => (Nanos::MAX, 0),
        };
        Lateness {
            counts,
            n,
            min,
            max,
        }
    }

    /// The least lateness seen (`None` before any release).
    pub fn min(&self) -> Option<Nanos> {
        (self.n > 0).then_some(self.min)
    }

    /// The greatest lateness seen.
    pub fn max(&self) -> Option<Nanos> {
        (self.n > 0).then_some(self.max)
    }

    /// The `q` quantile (0..=1), as the upper edge of its bucket, so it
    /// never understates.
    pub fn quantile(&self, q: f64) -> Option<Nanos> {
        if self.n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Self::lower(b + 1).saturating_sub(1).min(self.max));
            }
        }
        Some(self.max)
    }
}

enum Command {
    Params(Box<LinkParams>),
    State(LinkState),
    Stats(mpsc::Sender<Side>),
    Stop,
}

/// What one direction's engine reports.
#[derive(Debug, Clone, Default)]
struct Side {
    counters: Counters,
    write_failures: u64,
    frames_written: u64,
    lateness: Lateness,
}

/// The handle on one direction's thread.
struct Worker {
    commands: mpsc::Sender<Command>,
    wake: OwnedFd,
    thread: Option<JoinHandle<Result<Side, String>>>,
}

impl Worker {
    fn send(&self, c: Command) -> Result<(), ()> {
        self.commands.send(c).map_err(|_| ())?;
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd.
        unsafe { libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
        Ok(())
    }
}

/// A running emulated link: a thread per direction, each reading what one
/// end sends and writing it, shaped, to the other end.
pub struct Emulator {
    name: String,
    taps: [Arc<Tap>; 2],
    workers: [Worker; 2],
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("name", &self.name)
            .finish()
    }
}

fn now_ns(epoch: Instant) -> Nanos {
    epoch.elapsed().as_nanos() as Nanos
}

fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd has no memory preconditions; the result is checked
    // before it is owned.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Emulator {
    /// Starts forwarding between `a` (the link's first end) and `b`.
    pub fn start(config: Config, a: Tap, b: Tap) -> io::Result<Emulator> {
        let taps = [Arc::new(a), Arc::new(b)];
        let [pa, pb] = config.params;
        let seeds = [config.seed, config.seed ^ 0x9e37_79b9_7f4a_7c15];
        let mut workers = Vec::with_capacity(2);
        for (d, params) in [pa, pb].into_iter().enumerate() {
            let wake = eventfd()?;
            let wake_thread = wake.try_clone()?;
            let (tx, rx) = mpsc::channel();
            let engine = Engine {
                name: config.name.clone(),
                mtu: config.mtu,
                from: taps[d].clone(),
                to: taps[1 - d].clone(),
                pipe: Pipeline::new(params, seeds[d]),
                side: Side::default(),
                commands: rx,
                wake: wake_thread,
                pool: Vec::new(),
                scratch: Vec::with_capacity(256),
                epoch: Instant::now(),
                oversleep: 100_000,
            };
            let arrow = if d == 0 { "→" } else { "←" };
            let thread = std::thread::Builder::new()
                .name(format!("link{arrow} {}", config.name))
                .spawn(move || engine.run())?;
            workers.push(Worker {
                commands: tx,
                wake,
                thread: Some(thread),
            });
        }
        let workers: [Worker; 2] = workers
            .try_into()
            .map_err(|_| io::Error::other("two workers"))?;
        Ok(Emulator {
            name: config.name,
            taps,
            workers,
        })
    }

    /// The link's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn dead(&self) -> io::Error {
        io::Error::other(format!("the emulator of link {} has stopped", self.name))
    }

    /// Changes one direction's parameters from now on.
    pub fn set_params(&self, dir: Direction, params: LinkParams) -> io::Result<()> {
        self.workers[dir.index()]
            .send(Command::Params(Box::new(params)))
            .map_err(|_| self.dead())
    }

    /// Takes the link down (carrier off on both ends), blackholes it or
    /// brings it up.
    pub fn set_state(&self, state: LinkState) -> io::Result<()> {
        for w in &self.workers {
            w.send(Command::State(state)).map_err(|_| self.dead())?;
        }
        for t in &self.taps {
            t.set_carrier(state != LinkState::Down).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "link {}: cannot set the carrier of {}: {e}",
                        self.name,
                        t.name()
                    ),
                )
            })?;
        }
        Ok(())
    }

    /// The counters now (waits at most a second for the engines' answers).
    /// Their `max_sojourn` covers the time since the previous call.
    pub fn stats(&self) -> io::Result<Stats> {
        let mut sides = Vec::with_capacity(2);
        for w in &self.workers {
            let (tx, rx) = mpsc::channel();
            w.send(Command::Stats(tx)).map_err(|_| self.dead())?;
            sides.push(rx);
        }
        let mut out = Vec::with_capacity(2);
        for rx in sides {
            out.push(
                rx.recv_timeout(Duration::from_secs(1))
                    .map_err(|_| self.dead())?,
            );
        }
        Ok(merge(&out[0], &out[1]))
    }

    /// Whether both directions' engines are still running.
    pub fn is_alive(&self) -> bool {
        self.workers
            .iter()
            .all(|w| w.thread.as_ref().is_some_and(|t| !t.is_finished()))
    }

    /// Stops the engines, closing (and so removing) both TAP devices, and
    /// returns the final counters, or why an engine had died.
    pub fn stop(mut self) -> Result<Stats, String> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<Stats, String> {
        let mut sides = Vec::with_capacity(2);
        let mut failure = None;
        for w in &mut self.workers {
            let Some(thread) = w.thread.take() else {
                return Err("already stopped".into());
            };
            let _ = w.send(Command::Stop);
            match thread.join() {
                Ok(Ok(s)) => sides.push(s),
                Ok(Err(e)) => failure = Some(e),
                Err(p) => failure = Some(panic_message(&p)),
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(merge(&sides[0], &sides[1])),
        }
    }
}

/// Both directions' reports as one [`Stats`].
fn merge(a: &Side, b: &Side) -> Stats {
    let mut lateness = a.lateness.clone();
    lateness.merge(&b.lateness);
    Stats {
        dir: [a.counters.clone(), b.counters.clone()],
        write_failures: [a.write_failures, b.write_failures],
        frames_written: [a.frames_written, b.frames_written],
        lateness,
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if self.workers.iter().any(|w| w.thread.is_some()) {
            let _ = self.shutdown();
        }
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the emulator panicked".into())
}

/// A frame held by a pipeline: its buffer (virtio-net header first) and
/// what was parsed from it.
struct Frame {
    buf: Vec<u8>,
    info: FrameInfo,
}

/// One direction: reads what `from`'s node sends, shapes it, writes it to
/// `to`'s node.
struct Engine {
    name: String,
    mtu: u32,
    from: Arc<Tap>,
    to: Arc<Tap>,
    pipe: Pipeline<Frame>,
    side: Side,
    commands: mpsc::Receiver<Command>,
    wake: OwnedFd,
    pool: Vec<Vec<u8>>,
    scratch: Vec<u8>,
    epoch: Instant,
    /// Running mean of how late a timed sleep wakes, in ns.
    oversleep: Nanos,
}

impl Engine {
    fn report(&mut self) -> Side {
        self.side.counters = self.pipe.counters().clone();
        self.side.clone()
    }

    fn run(mut self) -> Result<Side, String> {
        // SAFETY: prctl with PR_SET_TIMERSLACK takes a value, no pointers.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
        // A frame due now should not wait behind the hosts' own work on a
        // busy core: a higher priority for this thread (Linux applies a
        // nice value to one thread, by its id). Best effort: without the
        // privilege the thread keeps the normal priority.
        // SAFETY: gettid and setpriority take values, no pointers.
        unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, -15);
        }
        loop {
            if !self.commands() {
                return Ok(self.report());
            }
            // Due frames first, then what the device has, each frame
            // pushed and whatever became due released at once, so an
            // unimpaired link adds no batch delay.
            let mut busy = self.release(now_ns(self.epoch));
            busy |= self.receive()?;
            if !busy {
                self.wait();
            }
        }
    }

    /// Applies pending commands; false when told to stop.
    fn commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Params(p)) => {
                    let now = now_ns(self.epoch);
                    self.pipe.set_params(now, *p);
                }
                Ok(Command::State(s)) => {
                    let now = now_ns(self.epoch);
                    self.pipe.set_state(now, s);
                }
                Ok(Command::Stats(reply)) => {
                    let side = self.report();
                    self.pipe.take_max_sojourn();
                    let _ = reply.send(side);
                }
                Ok(Command::Stop) => return false,
                Err(mpsc::TryRecvError::Empty) => return true,
                Err(mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// Reads up to a batch of frames the `from` node sent; true when it
    /// read any.
    fn receive(&mut self) -> Result<bool, String> {
        let mut any = false;
        for _ in 0..BATCH {
            let mut buf = self.pool.pop().unwrap_or_else(|| vec![0u8; MAX_FRAME]);
            let n = match self.from.read_frame(&mut buf) {
                Ok(Some(n)) => n,
                Ok(None) => {
                    self.pool.push(buf);
                    break;
                }
                Err(e) => {
                    return Err(format!(
                        "link {}: reading {}: {e}",
                        self.name,
                        self.from.name()
                    ));
                }
            };
            any = true;
            let Some(info) = FrameInfo::parse(&buf[..n]) else {
                self.pool.push(buf);
                continue;
            };
            let now = now_ns(self.epoch);
            let seg_ip = info.segs.size.max(info.segs.last) as usize;
            if seg_ip.saturating_sub(info.l3) > self.mtu as usize {
                self.pipe.count_drop(DropReason::Oversize, info.segs.count);
                self.pool.push(buf);
                continue;
            }
            let frame = if n <= SMALL {
                let small = buf[..n].to_vec();
                self.pool.push(buf);
                small
            } else {
                buf.truncate(n);
                buf
            };
            self.pipe
                .push(now, Frame { buf: frame, info }, info.segs, info.ect);
            self.release(now_ns(self.epoch));
        }
        Ok(any)
    }

    /// Writes everything due by `now` to the `to` node; true when it wrote
    /// any.
    fn release(&mut self, now: Nanos) -> bool {
        if self.due().is_none_or(|t| t > now) {
            return false;
        }
        let mut any = false;
        while let Some(out) = self.pipe.poll(now) {
            any = true;
            self.side
                .lateness
                .record(now_ns(self.epoch).saturating_sub(out.due));
            let f = &*out.frame;
            let to = &self.to;
            let r = crate::vnet::emit(
                &f.buf,
                &f.info,
                crate::vnet::Piece {
                    first: out.first,
                    count: out.count,
                    ce: out.ce,
                    corrupt: out.corrupt,
                },
                &mut self.scratch,
                |parts| to.write_frame(parts),
            );
            if matches!(r, Ok(true)) {
                self.side.frames_written += 1;
            } else {
                self.side.write_failures += 1;
            }
            if let Ok(mut f) = Arc::try_unwrap(out.frame)
                && f.buf.capacity() >= MAX_FRAME
                && self.pool.len() < POOL
            {
                f.buf.resize(MAX_FRAME, 0);
                self.pool.push(f.buf);
            }
        }
        any
    }

    /// When to release next: the pipeline's next deadline, and behind a
    /// rate or a trace, [`COALESCE`] later, so the segments that leave one
    /// after another within that window go as one piece (one write of a
    /// super-frame instead of one per 1500 bytes at 10 Gbit/s).
    fn due(&self) -> Option<Nanos> {
        let next = self.pipe.next_deadline()?;
        let p = self.pipe.params();
        let shaped = p.rate.is_some() || p.trace.is_some();
        Some(if shaped { next + COALESCE } else { next })
    }

    /// Sleeps until the device is readable, a command arrives, or the next
    /// release is near; then spins to the release time.
    fn wait(&mut self) {
        let now = now_ns(self.epoch);
        let next = self.due();
        let sleep = next.map(|t| t.saturating_sub(now));
        let margin = (2 * self.oversleep).clamp(SPIN_MIN, SPIN_MAX);
        if let Some(s) = sleep
            && s <= margin
        {
            // Spin to the release, still watching for frames.
            let end = next.unwrap_or(now);
            while now_ns(self.epoch) < end {
                if self.poll_fds(Some(0)) {
                    return;
                }
                std::hint::spin_loop();
            }
            return;
        }
        let timeout = sleep.map(|s| s - margin);
        if self.poll_fds(timeout) {
            self.drain_wake();
        } else if let Some(t) = timeout {
            // Woken by the timeout: learn how late.
            let late = now_ns(self.epoch).saturating_sub(now + t).min(SPIN_MAX);
            self.oversleep = (self.oversleep * 7 + late) / 8;
        }
    }

    /// ppoll on the device and the wake-up fd; true when one is ready.
    fn poll_fds(&self, timeout: Option<Nanos>) -> bool {
        let mut fds = [
            libc::pollfd {
                fd: self.from.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ts = timeout.map(|t| libc::timespec {
            tv_sec: (t / 1_000_000_000) as libc::time_t,
            tv_nsec: (t % 1_000_000_000) as libc::c_long,
        });
        let tsp = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `fds` and `ts` outlive the call; no signal mask is given.
        let n = unsafe {
            libc::ppoll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                tsp,
                std::ptr::null(),
            )
        };
        n > 0
    }

    fn drain_wake(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64; the fd is non-blocking.
        unsafe { libc::read(self.wake.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    }
}

#[cfg(test)]
mod tests {
    use super::Lateness;

    #[test]
    fn lateness_since_an_earlier_copy_counts_only_what_came_after() {
        let mut l = Lateness::default();
        for v in [100, 200, 300] {
            l.record(v);
        }
        let before = l.clone();
        for v in [50_000, 60_000] {
            l.record(v);
        }
        let d = l.since(&before);
        assert_eq!(d.count(), 2);
        let (min, max) = (d.min().unwrap(), d.max().unwrap());
        assert!((43_750..=50_000).contains(&min), "{min}");
        assert!((60_000..=61_440).contains(&max) && max <= 60_000, "{max}");
        assert!(d.quantile(0.5).unwrap() >= 50_000);
        assert_eq!(l.since(&l).count(), 0);
        assert_eq!(l.since(&l).quantile(0.99), None);
    }

    #[test]
    fn lateness_quantiles_are_within_a_bucket() {
        let mut l = Lateness::default();
        for v in 1..=10_000u64 {
            l.record(v * 1000);
        }
        assert_eq!(l.count(), 10_000);
        assert_eq!(l.min(), Some(1000));
        assert_eq!(l.max(), Some(10_000_000));
        for (q, want) in [(0.5, 5_000_000.0), (0.99, 9_900_000.0), (1.0, 10_000_000.0)] {
            let got = l.quantile(q).unwrap() as f64;
            assert!(got >= want && got <= want * 1.13, "q{q}: {got} for {want}");
        }
        for v in 0..8 {
            assert_eq!(Lateness::lower(Lateness::bucket(v)), v);
        }
        for v in [8u64, 9, 15, 16, 100, 12345, 1 << 40] {
            let b = Lateness::bucket(v);
            assert!(Lateness::lower(b) <= v && v < Lateness::lower(b + 1), "{v}");
        }
    }
}
