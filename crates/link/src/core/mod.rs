//! The sans-IO pipeline of one link direction.
//!
//! A [`Pipeline`] is given frames as they arrive ([`Pipeline::push`]) and is
//! asked what leaves ([`Pipeline::poll`]), always with the current time on a
//! clock of the caller's choosing: the emulator passes a monotonic clock,
//! tests a virtual one. It never reads a clock, sleeps or does I/O, so the
//! same seed and the same inputs give the same outputs, exactly.
//!
//! A frame may be a GSO super-frame standing for several wire segments
//! ([`Segments`]). Loss, duplication, corruption, reordering, queue limits,
//! the rate's per-packet overhead and trace opportunities act on segments;
//! jitter is drawn per frame. What leaves is a run of consecutive segments of
//! one frame ([`Out`]): the whole frame when every segment fared alike, else
//! the pieces the I/O layer must cut it into.
//!
//! Order of the stages, as on a real path: the link state (down and
//! blackhole drop everything), the loss model, corruption, duplication, the
//! bottleneck queue (limit, CoDel) served at the rate or by the trace, then
//! propagation delay with jitter, and reordering around the delay line.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::params::{LinkParams, LinkState};

/// Nanoseconds on the pipeline's clock.
pub type Nanos = u64;

/// The wire segments a frame stands for: `count` segments, all `size` bytes
/// on the wire but the last, which is `last` bytes. A plain frame is one
/// segment. Sizes are whole link-layer frames (Ethernet header included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    /// Number of wire segments, at least 1.
    pub count: u32,
    /// Wire bytes of every segment but the last.
    pub size: u32,
    /// Wire bytes of the last segment.
    pub last: u32,
}

impl Segments {
    /// One segment of `len` wire bytes.
    pub fn single(len: u32) -> Segments {
        Segments {
            count: 1,
            size: len,
            last: len,
        }
    }

    /// Wire bytes of segment `i` (0-based).
    pub fn len_of(&self, i: u32) -> u32 {
        if i + 1 >= self.count {
            self.last
        } else {
            self.size
        }
    }

    /// Wire bytes of all segments.
    pub fn bytes(&self) -> u64 {
        u64::from(self.count.saturating_sub(1)) * u64::from(self.size) + u64::from(self.last)
    }
}

/// Why segments were dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The loss model.
    Loss,
    /// The bottleneck queue was full.
    Queue,
    /// CoDel dropped it.
    Aqm,
    /// The link was down or blackholed.
    Down,
    /// A segment larger than the link's MTU (counted by the I/O layer
    /// through [`Pipeline::count_drop`]).
    Oversize,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 5] = [
        DropReason::Loss,
        DropReason::Queue,
        DropReason::Aqm,
        DropReason::Down,
        DropReason::Oversize,
    ];

    /// Index into [`Counters::dropped`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The reason's name in samples and reports.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Queue => "queue",
            DropReason::Aqm => "aqm",
            DropReason::Down => "down",
            DropReason::Oversize => "oversize",
        }
    }
}

/// What one direction has done so far. Counts are in wire segments.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// Frames pushed (a super-frame counts once).
    pub frames_in: u64,
    /// Segments pushed.
    pub segments_in: u64,
    /// Wire bytes pushed.
    pub bytes_in: u64,
    /// Segments released (duplicates included).
    pub segments_out: u64,
    /// Wire bytes released.
    pub bytes_out: u64,
    /// Segments dropped, by [`DropReason::index`].
    pub dropped: [u64; 5],
    /// Segments duplicated.
    pub duplicated: u64,
    /// Segments corrupted.
    pub corrupted: u64,
    /// Segments marked with ECN CE instead of dropped.
    pub ce_marked: u64,
    /// Segments waiting in the bottleneck queue now.
    pub queue_segments: u64,
    /// Bytes waiting in the bottleneck queue now.
    pub queue_bytes: u64,
    /// The longest sojourn time in the bottleneck queue since the last
    /// [`Pipeline::take_max_sojourn`].
    pub max_sojourn: Nanos,
}

/// A run of consecutive segments of one frame that leaves now.
#[derive(Debug)]
pub struct Out<T> {
    /// The frame they belong to (shared with its other pieces and
    /// duplicates).
    pub frame: Arc<T>,
    /// Index of the first segment.
    pub first: u32,
    /// How many segments, at least 1.
    pub count: u32,
    /// Flip one bit of this piece's payload (then `count` is 1): a random
    /// value the I/O layer maps to a bit of the transport payload.
    pub corrupt: Option<u64>,
    /// Mark these segments ECN Congestion Experienced.
    pub ce: bool,
}

struct Pending<T> {
    at: Nanos,
    frame: Arc<T>,
    segs: Segments,
}

/// One direction of an emulated link.
pub struct Pipeline<T> {
    params: LinkParams,
    state: LinkState,
    #[allow(dead_code)]
    seed: u64,
    line: VecDeque<Pending<T>>,
    counters: Counters,
}

impl<T> Pipeline<T> {
    /// A pipeline shaping with `params`, its random draws seeded by `seed`.
    pub fn new(params: LinkParams, seed: u64) -> Self {
        Pipeline {
            params,
            state: LinkState::Up,
            seed,
            line: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    /// The parameters in force.
    pub fn params(&self) -> &LinkParams {
        &self.params
    }

    /// Changes the parameters from `now` on; what is already in flight
    /// keeps the fate it was given.
    pub fn set_params(&mut self, _now: Nanos, params: LinkParams) {
        self.params = params;
    }

    /// The link state in force.
    pub fn state(&self) -> LinkState {
        self.state
    }

    /// Changes the link state. `Down` and `Blackhole` drop everything queued
    /// or in flight (counted as [`DropReason::Down`]) and everything pushed
    /// until the state is `Up` again.
    pub fn set_state(&mut self, _now: Nanos, state: LinkState) {
        self.state = state;
        if state != LinkState::Up {
            let dropped: u64 = self.line.drain(..).map(|p| u64::from(p.segs.count)).sum();
            self.counters.dropped[DropReason::Down.index()] += dropped;
        }
    }

    /// Takes a frame that arrived at `now`. `ect` says its segments are
    /// ECN-capable (CoDel marks them instead of dropping).
    pub fn push(&mut self, now: Nanos, frame: T, segs: Segments, _ect: bool) {
        self.counters.frames_in += 1;
        self.counters.segments_in += u64::from(segs.count);
        self.counters.bytes_in += segs.bytes();
        if self.state != LinkState::Up {
            self.count_drop(DropReason::Down, segs.count);
            return;
        }
        let at = now + self.params.delay.as_nanos() as Nanos;
        self.line.push_back(Pending {
            at,
            frame: Arc::new(frame),
            segs,
        });
    }

    /// The next piece due at or before `now`, in release order.
    pub fn poll(&mut self, now: Nanos) -> Option<Out<T>> {
        if self.line.front().is_some_and(|p| p.at <= now) {
            let p = self.line.pop_front()?;
            self.counters.segments_out += u64::from(p.segs.count);
            self.counters.bytes_out += p.segs.bytes();
            return Some(Out {
                frame: p.frame,
                first: 0,
                count: p.segs.count,
                corrupt: None,
                ce: false,
            });
        }
        None
    }

    /// When [`Pipeline::poll`] next has something to release, if anything
    /// is pending.
    pub fn next_deadline(&self) -> Option<Nanos> {
        self.line.front().map(|p| p.at)
    }

    /// The counters so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Returns the longest sojourn time seen since the last call, and starts
    /// a new window.
    pub fn take_max_sojourn(&mut self) -> Nanos {
        std::mem::take(&mut self.counters.max_sojourn)
    }

    /// Counts segments the I/O layer dropped before pushing them (an
    /// oversize frame).
    pub fn count_drop(&mut self, reason: DropReason, segments: u32) {
        self.counters.dropped[reason.index()] += u64::from(segments);
    }
}
