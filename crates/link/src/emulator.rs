//! The forwarding engine: one thread per emulated link moves frames between
//! the link's two TAP devices through a [`Pipeline`] per direction.
//!
//! The thread reads what each end sends, pushes it into that direction's
//! pipeline, writes what the pipelines release, and sleeps until the next
//! release or the next frame, whichever comes first. It sleeps with
//! `ppoll` (nanosecond timeouts, timer slack set to 1 ns) and spins the last
//! stretch before a release, so frames leave within microseconds of their
//! time rather than at the next millisecond.
//!
//! The [`Emulator`] handle changes parameters and the link state at run
//! time, reads counters, and stops the thread; dropping it stops the thread
//! too, which closes the TAP devices and so removes them.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc;
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
}

enum Command {
    Params(Direction, Box<LinkParams>),
    State(LinkState),
    Stats(mpsc::Sender<Stats>),
    Stop,
}

/// A running emulated link.
pub struct Emulator {
    name: String,
    commands: mpsc::Sender<Command>,
    wake: OwnedFd,
    thread: Option<JoinHandle<Result<Stats, String>>>,
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

impl Emulator {
    /// Starts forwarding between `a` (the link's first end) and `b`.
    pub fn start(config: Config, a: Tap, b: Tap) -> io::Result<Emulator> {
        // SAFETY: eventfd has no memory preconditions; the result is
        // checked before it is owned.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nothing else owns.
        let wake = unsafe { OwnedFd::from_raw_fd(fd) };
        let wake_thread = wake.try_clone()?;
        let (tx, rx) = mpsc::channel();
        let name = config.name.clone();
        let thread = std::thread::Builder::new()
            .name(format!("link {}", config.name))
            .spawn(move || Engine::new(config, a, b, rx, wake_thread).run())?;
        Ok(Emulator {
            name,
            commands: tx,
            wake,
            thread: Some(thread),
        })
    }

    /// The link's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn send(&self, c: Command) -> io::Result<()> {
        self.commands.send(c).map_err(|_| self.dead())?;
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd.
        unsafe { libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
        Ok(())
    }

    fn dead(&self) -> io::Error {
        io::Error::other(format!("the emulator of link {} has stopped", self.name))
    }

    /// Changes one direction's parameters from now on.
    pub fn set_params(&self, dir: Direction, params: LinkParams) -> io::Result<()> {
        self.send(Command::Params(dir, Box::new(params)))
    }

    /// Takes the link down (carrier off on both ends), blackholes it or
    /// brings it up.
    pub fn set_state(&self, state: LinkState) -> io::Result<()> {
        self.send(Command::State(state))
    }

    /// The counters now (waits at most a second for the engine's answer).
    pub fn stats(&self) -> io::Result<Stats> {
        let (tx, rx) = mpsc::channel();
        self.send(Command::Stats(tx))?;
        rx.recv_timeout(Duration::from_secs(1))
            .map_err(|_| self.dead())
    }

    /// Whether the engine is still running.
    pub fn is_alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the engine, closing (and so removing) both TAP devices, and
    /// returns its final counters, or why it had died.
    pub fn stop(mut self) -> Result<Stats, String> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<Stats, String> {
        let Some(thread) = self.thread.take() else {
            return Err("already stopped".into());
        };
        let _ = self.send(Command::Stop);
        match thread.join() {
            Ok(r) => r,
            Err(p) => Err(panic_message(&p)),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if self.thread.is_some() {
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

struct Engine {
    name: String,
    mtu: u32,
    taps: [Tap; 2],
    pipes: [Pipeline<Frame>; 2],
    write_failures: [u64; 2],
    commands: mpsc::Receiver<Command>,
    wake: OwnedFd,
    pool: Vec<Vec<u8>>,
    scratch: Vec<u8>,
    epoch: Instant,
    /// Running mean of how late a timed sleep wakes, in ns.
    oversleep: Nanos,
}

impl Engine {
    fn new(
        config: Config,
        a: Tap,
        b: Tap,
        commands: mpsc::Receiver<Command>,
        wake: OwnedFd,
    ) -> Engine {
        let [pa, pb] = config.params;
        let seed = config.seed;
        Engine {
            name: config.name,
            mtu: config.mtu,
            taps: [a, b],
            pipes: [
                Pipeline::new(pa, seed),
                Pipeline::new(pb, seed ^ 0x9e37_79b9_7f4a_7c15),
            ],
            write_failures: [0; 2],
            commands,
            wake,
            pool: Vec::new(),
            scratch: Vec::with_capacity(256),
            epoch: Instant::now(),
            oversleep: 100_000,
        }
    }

    fn stats(&self) -> Stats {
        Stats {
            dir: [
                self.pipes[0].counters().clone(),
                self.pipes[1].counters().clone(),
            ],
            write_failures: self.write_failures,
        }
    }

    fn run(mut self) -> Result<Stats, String> {
        // SAFETY: prctl with PR_SET_TIMERSLACK takes a value, no pointers.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
        loop {
            if !self.commands()? {
                return Ok(self.stats());
            }
            let mut busy = false;
            for d in 0..2 {
                busy |= self.receive(d)?;
            }
            let now = now_ns(self.epoch);
            for d in 0..2 {
                busy |= self.release(d, now);
            }
            if busy {
                continue;
            }
            self.wait();
        }
    }

    /// Applies pending commands; false when told to stop.
    fn commands(&mut self) -> Result<bool, String> {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Params(d, p)) => {
                    let now = now_ns(self.epoch);
                    self.pipes[d.index()].set_params(now, *p);
                }
                Ok(Command::State(s)) => {
                    let now = now_ns(self.epoch);
                    for p in &mut self.pipes {
                        p.set_state(now, s);
                    }
                    for t in &self.taps {
                        t.set_carrier(s != LinkState::Down).map_err(|e| {
                            format!(
                                "link {}: cannot set the carrier of {}: {e}",
                                self.name,
                                t.name()
                            )
                        })?;
                    }
                }
                Ok(Command::Stats(reply)) => {
                    let _ = reply.send(self.stats());
                }
                Ok(Command::Stop) => return Ok(false),
                Err(mpsc::TryRecvError::Empty) => return Ok(true),
                Err(mpsc::TryRecvError::Disconnected) => return Ok(false),
            }
        }
    }

    /// Reads up to a batch of frames sent into device `d`; true when it
    /// read any.
    fn receive(&mut self, d: usize) -> Result<bool, String> {
        let mut any = false;
        for _ in 0..BATCH {
            let mut buf = self.pool.pop().unwrap_or_else(|| vec![0u8; MAX_FRAME]);
            let n = match self.taps[d].read_frame(&mut buf) {
                Ok(Some(n)) => n,
                Ok(None) => {
                    self.pool.push(buf);
                    break;
                }
                Err(e) => {
                    return Err(format!(
                        "link {}: reading {}: {e}",
                        self.name,
                        self.taps[d].name()
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
                self.pipes[d].count_drop(DropReason::Oversize, info.segs.count);
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
            self.pipes[d].push(now, Frame { buf: frame, info }, info.segs, info.ect);
        }
        Ok(any)
    }

    /// Writes everything direction `d` releases by `now` to the other
    /// device; true when it wrote any.
    fn release(&mut self, d: usize, now: Nanos) -> bool {
        let mut any = false;
        let to = &self.taps[1 - d];
        while let Some(out) = self.pipes[d].poll(now) {
            any = true;
            let f = &*out.frame;
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
            if !matches!(r, Ok(true)) {
                self.write_failures[d] += 1;
            }
            if let Ok(mut f) = std::sync::Arc::try_unwrap(out.frame)
                && f.buf.capacity() >= MAX_FRAME
                && self.pool.len() < POOL
            {
                f.buf.resize(MAX_FRAME, 0);
                self.pool.push(f.buf);
            }
        }
        any
    }

    /// Sleeps until a device is readable, a command arrives, or the next
    /// release is near; then spins to the release time.
    fn wait(&mut self) {
        let now = now_ns(self.epoch);
        let next = self.pipes.iter().filter_map(|p| p.next_deadline()).min();
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

    /// ppoll on both devices and the wake-up fd; true when one is ready.
    fn poll_fds(&self, timeout: Option<Nanos>) -> bool {
        let mut fds = [
            libc::pollfd {
                fd: self.taps[0].as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.taps[1].as_raw_fd(),
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
