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

mod codel;
mod delay;
mod loss;
mod queue;
mod rng;
#[cfg(test)]
mod tests;
mod trace;

use std::sync::Arc;

use crate::params::{LinkParams, LinkState, Rate, Trace};
use codel::{Codel, Verdict};
use delay::{DelayLine, Jitter};
use loss::{Draw, LossModel};
use queue::{Queue, Queued};
use rng::Rng;
use trace::TraceClock;

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
    /// When the piece was due to leave; the I/O layer measures how late it
    /// really left.
    pub due: Nanos,
}

/// A run of consecutive segments of one frame on its way through the
/// pipeline.
pub(crate) struct Piece<T> {
    frame: Arc<T>,
    segs: Segments,
    first: u32,
    count: u32,
    corrupt: Option<u64>,
    ce: bool,
}

impl<T> Piece<T> {
    fn new(frame: Arc<T>, segs: Segments, first: u32, count: u32) -> Piece<T> {
        Piece {
            frame,
            segs,
            first,
            count,
            corrupt: None,
            ce: false,
        }
    }

    /// The first segment alone.
    fn first_segment(&self) -> Piece<T> {
        Piece {
            frame: Arc::clone(&self.frame),
            segs: self.segs,
            first: self.first,
            count: 1,
            corrupt: self.corrupt,
            ce: self.ce,
        }
    }

    /// Wire bytes of the first segment.
    fn len(&self) -> u32 {
        self.segs.len_of(self.first)
    }

    /// Wire bytes of all its segments.
    fn bytes(&self) -> u64 {
        let n = u64::from(self.count);
        if self.first + self.count >= self.segs.count {
            (n - 1) * u64::from(self.segs.size) + u64::from(self.segs.last)
        } else {
            n * u64::from(self.segs.size)
        }
    }

    /// Whether `next` carries on where this piece ends, with the same fate,
    /// so both leave as one.
    fn continues(&self, next: &Piece<T>) -> bool {
        Arc::ptr_eq(&self.frame, &next.frame)
            && next.first == self.first + self.count
            && self.corrupt.is_none()
            && next.corrupt.is_none()
            && next.ce == self.ce
    }
}

/// How a piece keeps its place in the delay line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Never before a piece released earlier (`keep_order`, or a fixed
    /// delay, which a change of delay must not turn into reordering).
    Keep,
    /// As its own delay says (jitter may reorder).
    Free,
    /// Reordered: skips the delay line.
    Skip,
}

/// The random decisions, compiled from the parameters.
struct Draws {
    loss: LossModel,
    duplicate: Draw,
    corrupt: Draw,
    /// The reorder chance and gap, when reordering is on and there is a
    /// delay to skip.
    reorder: Option<(Draw, u32)>,
}

impl Draws {
    fn new(p: &LinkParams, rng: &mut Rng) -> Draws {
        Draws {
            loss: LossModel::new(&p.loss, rng),
            duplicate: Draw::new(p.duplicate, rng),
            corrupt: Draw::new(p.corrupt, rng),
            reorder: Draws::reorder(p, rng),
        }
    }

    fn reorder(p: &LinkParams, rng: &mut Rng) -> Option<(Draw, u32)> {
        let r = p.reorder?;
        let d = Draw::new(r.chance, rng);
        let has_delay = !p.delay.is_zero() || !p.jitter.is_zero();
        (has_delay && d.active()).then_some((d, r.gap.max(1)))
    }

    /// Whether any segment may fare differently from its neighbours before
    /// the queue.
    fn per_segment(&self) -> bool {
        !self.loss.is_none()
            || self.duplicate.active()
            || self.corrupt.active()
            || self.reorder.is_some()
    }
}

/// A segment partly sent by a trace's opportunities.
struct Transit<T> {
    seg: Queued<T>,
    left: u64,
}

/// How the bottleneck queue is served.
enum Service<T> {
    /// No rate and no trace: no queue, pieces go straight to the delay.
    Unlimited,
    /// Serialization at a rate: the link is busy until `busy_until`;
    /// `carry` keeps the sub-nanosecond remainder so rounding never adds up.
    Rate { busy_until: Nanos, carry: u128 },
    /// Delivery opportunities of a trace.
    Trace {
        clock: TraceClock,
        transit: Option<Transit<T>>,
    },
}

/// Serialization time of a segment of `len` wire bytes at `rate`.
fn tx_time(len: u32, rate: &Rate, carry: &mut u128) -> Nanos {
    let bytes = (i64::from(len) + i64::from(rate.overhead)).max(0) as u128;
    let bps = u128::from(rate.bits_per_second.max(1));
    let num = bytes * 8 * 1_000_000_000 + *carry;
    *carry = num % bps;
    u64::try_from(num / bps).unwrap_or(Nanos::MAX)
}

fn nanos(d: std::time::Duration) -> Nanos {
    u64::try_from(d.as_nanos()).unwrap_or(Nanos::MAX)
}

/// One direction of an emulated link.
pub struct Pipeline<T> {
    params: LinkParams,
    state: LinkState,
    rng: Rng,
    draws: Draws,
    /// Segments since the last reordered one (netem's `counter`).
    reorder_counter: u32,
    jitter: Jitter,
    delay_ns: Nanos,
    jitter_ns: Nanos,
    /// Only a fixed delay: whole frames, O(1) each.
    delay_only: bool,
    queue: Queue<T>,
    service: Service<T>,
    codel: Codel,
    line: DelayLine<T>,
    /// The latest release time given to a piece that was not reordered.
    last_at: Nanos,
    counters: Counters,
}

impl<T> Pipeline<T> {
    /// A pipeline shaping with `params`, its random draws seeded by `seed`.
    /// A trace's first period starts at time 0 of the caller's clock (or,
    /// for a trace installed by [`Pipeline::set_params`], at that call).
    pub fn new(params: LinkParams, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let draws = Draws::new(&params, &mut rng);
        let mut p = Pipeline {
            params: LinkParams::default(),
            state: LinkState::Up,
            rng,
            draws,
            reorder_counter: 0,
            jitter: Jitter::default(),
            delay_ns: 0,
            jitter_ns: 0,
            delay_only: true,
            queue: Queue::new(),
            service: Service::Unlimited,
            codel: Codel::default(),
            line: DelayLine::new(),
            last_at: 0,
            counters: Counters::default(),
        };
        p.params = params;
        p.service = p.service_for(0);
        p.cache_params();
        p
    }

    fn cache_params(&mut self) {
        self.delay_ns = nanos(self.params.delay);
        self.jitter_ns = nanos(self.params.jitter);
        self.delay_only = self.params.delay_only();
    }

    /// The service the parameters ask for, starting at `now`.
    fn service_for(&self, now: Nanos) -> Service<T> {
        match (&self.params.rate, &self.params.trace) {
            (Some(_), _) => Service::Rate {
                busy_until: now,
                carry: 0,
            },
            (None, Some(t)) => Service::Trace {
                clock: TraceClock::new(Arc::clone(t), now),
                transit: None,
            },
            (None, None) => Service::Unlimited,
        }
    }

    /// The parameters in force.
    pub fn params(&self) -> &LinkParams {
        &self.params
    }

    /// Changes the parameters from `now` on. Frames already pushed keep the
    /// fate and delay they were given; frames pushed from now on get the new
    /// ones; a new rate or trace serves the queue from now (a segment being
    /// serialized finishes at the old rate). A shorter delay does not let new
    /// frames overtake frames in flight (unless jitter reorders anyway).
    /// Without a rate or a trace, whatever waits in the queue leaves now.
    pub fn set_params(&mut self, now: Nanos, params: LinkParams) {
        self.advance(now);
        let old = std::mem::replace(&mut self.params, params);
        let new = &self.params;
        if old.loss != new.loss {
            self.draws.loss = LossModel::new(&new.loss, &mut self.rng);
        }
        if old.duplicate != new.duplicate {
            self.draws.duplicate = Draw::new(new.duplicate, &mut self.rng);
        }
        if old.corrupt != new.corrupt {
            self.draws.corrupt = Draw::new(new.corrupt, &mut self.rng);
        }
        if old.reorder != new.reorder
            || old.delay.is_zero() != new.delay.is_zero()
            || old.jitter.is_zero() != new.jitter.is_zero()
        {
            self.draws.reorder = Draws::reorder(new, &mut self.rng);
            self.reorder_counter = 0;
        }
        if new.codel.is_none() {
            self.codel = Codel::default();
        }
        let service = std::mem::replace(&mut self.service, Service::Unlimited);
        self.service = match (service, &new.rate, &new.trace) {
            (Service::Rate { busy_until, .. }, Some(_), _) => Service::Rate {
                busy_until,
                carry: 0,
            },
            (Service::Trace { clock, transit }, None, Some(t)) => Service::Trace {
                clock: if clock.follows(t) {
                    clock
                } else {
                    TraceClock::new(Arc::clone(t), now)
                },
                transit,
            },
            (old_service, _, _) => {
                // The kind of service changes: a segment half sent by a
                // trace leaves now, and the new service starts now.
                if let Service::Trace {
                    transit: Some(tr), ..
                } = old_service
                {
                    self.depart(tr.seg, now);
                }
                self.service_for(now)
            }
        };
        if matches!(self.service, Service::Unlimited) {
            let waiting: Vec<Queued<T>> = self.queue.drain().collect();
            for q in waiting {
                self.depart(q, now);
            }
        }
        self.cache_params();
        self.advance(now);
        self.sync_queue_counters();
    }

    /// The link state in force.
    pub fn state(&self) -> LinkState {
        self.state
    }

    /// Changes the link state. `Down` and `Blackhole` drop everything queued
    /// or in flight (counted as [`DropReason::Down`]) and everything pushed
    /// until the state is `Up` again.
    pub fn set_state(&mut self, now: Nanos, state: LinkState) {
        if state != LinkState::Up {
            let mut dropped = self.line.clear();
            dropped += self.queue.segments();
            self.queue.drain().for_each(drop);
            match &mut self.service {
                Service::Unlimited => {}
                Service::Rate { busy_until, .. } => *busy_until = (*busy_until).min(now),
                Service::Trace { transit, .. } => {
                    if transit.take().is_some() {
                        dropped += 1;
                    }
                }
            }
            self.codel = Codel::default();
            self.counters.dropped[DropReason::Down.index()] += dropped;
            self.sync_queue_counters();
        }
        self.state = state;
    }

    /// Takes a frame that arrived at `now`. `ect` says its segments are
    /// ECN-capable (CoDel marks them instead of dropping).
    pub fn push(&mut self, now: Nanos, frame: T, segs: Segments, ect: bool) {
        let segs = Segments {
            count: segs.count.max(1),
            ..segs
        };
        self.counters.frames_in += 1;
        self.counters.segments_in += u64::from(segs.count);
        self.counters.bytes_in += segs.bytes();
        if self.state != LinkState::Up {
            self.count_drop(DropReason::Down, segs.count);
            return;
        }
        let frame = Arc::new(frame);
        if self.delay_only {
            // The fast path: one piece, one FIFO insertion, no draw.
            let at = (now + self.delay_ns).max(self.last_at);
            self.last_at = at;
            self.line.insert(at, Piece::new(frame, segs, 0, segs.count));
            return;
        }
        self.advance(now);
        let delay = self.jitter.delay(
            &mut self.rng,
            self.delay_ns,
            self.jitter_ns,
            self.params.distribution,
            self.params.delay_correlation,
        );
        let order = if self.params.keep_order || self.jitter_ns == 0 {
            Order::Keep
        } else {
            Order::Free
        };
        if !self.draws.per_segment() {
            self.emit(
                now,
                Piece::new(frame, segs, 0, segs.count),
                delay,
                order,
                ect,
            );
        } else {
            self.push_segments(now, &frame, segs, delay, order, ect);
        }
        self.advance(now);
        self.sync_queue_counters();
    }

    /// Decides each segment's fate and emits the runs that fare alike.
    fn push_segments(
        &mut self,
        now: Nanos,
        frame: &Arc<T>,
        segs: Segments,
        delay: Nanos,
        order: Order,
        ect: bool,
    ) {
        // Start of the run of plain segments not yet emitted.
        let mut run: Option<u32> = None;
        for j in 0..segs.count {
            if self.draws.loss.lost(&mut self.rng) {
                if let Some(s) = run.take() {
                    self.emit(
                        now,
                        Piece::new(Arc::clone(frame), segs, s, j - s),
                        delay,
                        order,
                        ect,
                    );
                }
                self.counters.dropped[DropReason::Loss.index()] += 1;
                continue;
            }
            let corrupt = if self.draws.corrupt.happens(&mut self.rng) {
                self.counters.corrupted += 1;
                Some(self.rng.next_u64())
            } else {
                None
            };
            let duplicate = self.draws.duplicate.happens(&mut self.rng);
            let reorder = self.reorder_now();
            if corrupt.is_some() || reorder {
                if let Some(s) = run.take() {
                    self.emit(
                        now,
                        Piece::new(Arc::clone(frame), segs, s, j - s),
                        delay,
                        order,
                        ect,
                    );
                }
                let mut one = Piece::new(Arc::clone(frame), segs, j, 1);
                one.corrupt = corrupt;
                let (d, o) = if reorder {
                    (0, Order::Skip)
                } else {
                    (delay, order)
                };
                self.emit(now, one, d, o, ect);
            } else if run.is_none() {
                run = Some(j);
            }
            if duplicate {
                // The copy follows its original on the wire.
                if let Some(s) = run.take() {
                    self.emit(
                        now,
                        Piece::new(Arc::clone(frame), segs, s, j + 1 - s),
                        delay,
                        order,
                        ect,
                    );
                }
                self.counters.duplicated += 1;
                self.emit(
                    now,
                    Piece::new(Arc::clone(frame), segs, j, 1),
                    delay,
                    order,
                    ect,
                );
            }
        }
        if let Some(s) = run {
            self.emit(
                now,
                Piece::new(Arc::clone(frame), segs, s, segs.count - s),
                delay,
                order,
                ect,
            );
        }
    }

    /// netem's reorder decision: after a reordered segment, `gap - 1`
    /// segments go the normal way; then each is reordered with the chance.
    fn reorder_now(&mut self) -> bool {
        let Some((draw, gap)) = &mut self.draws.reorder else {
            return false;
        };
        if self.reorder_counter < *gap - 1 || !draw.happens(&mut self.rng) {
            self.reorder_counter = self.reorder_counter.saturating_add(1);
            false
        } else {
            self.reorder_counter = 0;
            true
        }
    }

    /// Sends a piece on: into the queue, or with no queue to the delay line.
    fn emit(&mut self, now: Nanos, piece: Piece<T>, delay: Nanos, order: Order, ect: bool) {
        let q = Queued {
            piece,
            enq: now,
            delay,
            order,
            ect,
        };
        if matches!(self.service, Service::Unlimited) {
            self.depart(q, now);
        } else {
            let refused = self.queue.push(q, self.params.queue);
            self.counters.dropped[DropReason::Queue.index()] += u64::from(refused);
        }
    }

    /// When a piece leaving the link at `t` is released.
    fn release_time(&self, t: Nanos, delay: Nanos, order: Order) -> Nanos {
        let at = t.saturating_add(delay);
        match order {
            Order::Keep => at.max(self.last_at),
            Order::Free | Order::Skip => at,
        }
    }

    /// A piece leaves the link at `t` and enters the delay line.
    fn depart(&mut self, q: Queued<T>, t: Nanos) {
        let at = self.release_time(t, q.delay, q.order);
        if q.order != Order::Skip {
            self.last_at = self.last_at.max(at);
        }
        self.line.insert(at, q.piece);
    }

    /// Takes the head segment off the queue at `t` and asks CoDel about it;
    /// `None` if CoDel drops it.
    fn dequeue(&mut self, t: Nanos) -> Option<Queued<T>> {
        let mut seg = self.queue.pop_segment()?;
        let sojourn = t.saturating_sub(seg.enq);
        self.counters.max_sojourn = self.counters.max_sojourn.max(sojourn);
        let Some(cp) = &self.params.codel else {
            return Some(seg);
        };
        match self
            .codel
            .judge(cp, t, sojourn, self.queue.bytes(), seg.piece.len(), seg.ect)
        {
            Verdict::Pass => Some(seg),
            Verdict::Mark => {
                seg.piece.ce = true;
                self.counters.ce_marked += 1;
                Some(seg)
            }
            Verdict::Drop => {
                self.counters.dropped[DropReason::Aqm.index()] += 1;
                if self.queue.is_empty() {
                    self.codel.on_empty_after_drop();
                }
                None
            }
        }
    }

    /// Runs the bottleneck up to `now`: every segment whose turn on the
    /// link comes by `now` leaves the queue.
    fn advance(&mut self, now: Nanos) {
        match self.service {
            Service::Unlimited => {}
            Service::Rate { .. } => self.serve_rate(now),
            Service::Trace { .. } => self.serve_trace(now),
        }
    }

    fn serve_rate(&mut self, now: Nanos) {
        let (&Service::Rate { busy_until, carry }, Some(rate)) = (&self.service, self.params.rate)
        else {
            return;
        };
        let (mut busy_until, mut carry) = (busy_until, carry);
        loop {
            let Some(head) = self.queue.front() else {
                if busy_until <= now {
                    // The link asked for a segment and found none.
                    self.codel.on_empty();
                }
                break;
            };
            let t = busy_until.max(head.enq);
            if t > now {
                break;
            }
            let Some(seg) = self.dequeue(t) else {
                continue;
            };
            busy_until = t + tx_time(seg.piece.len(), &rate, &mut carry);
            self.depart(seg, busy_until);
        }
        self.service = Service::Rate { busy_until, carry };
    }

    fn serve_trace(&mut self, now: Nanos) {
        let (mut clock, mut transit) =
            match std::mem::replace(&mut self.service, Service::Unlimited) {
                Service::Trace { clock, transit } => (clock, transit),
                other => {
                    self.service = other;
                    return;
                }
            };
        loop {
            let t = clock.next();
            if t > now {
                break;
            }
            if transit.is_none() && self.queue.is_empty() {
                self.codel.on_empty();
                clock.skip_through(now);
                break;
            }
            clock.advance();
            let mut budget = u64::from(Trace::OPPORTUNITY_BYTES);
            while budget > 0 {
                let tr = match transit.as_mut() {
                    Some(tr) => tr,
                    None => {
                        if self.queue.is_empty() {
                            self.codel.on_empty();
                            break;
                        }
                        let Some(seg) = self.dequeue(t) else {
                            continue;
                        };
                        transit.insert(Transit {
                            left: trace::charge(seg.piece.len()),
                            seg,
                        })
                    }
                };
                let sent = budget.min(tr.left);
                tr.left -= sent;
                budget -= sent;
                if tr.left == 0
                    && let Some(done) = transit.take()
                {
                    self.depart(done.seg, t);
                }
            }
        }
        self.service = Service::Trace { clock, transit };
    }

    fn sync_queue_counters(&mut self) {
        self.counters.queue_segments = self.queue.segments();
        self.counters.queue_bytes = self.queue.bytes();
    }

    /// The next piece due at or before `now`, in release order. Segments of
    /// one frame that are due together and fared alike leave as one piece.
    pub fn poll(&mut self, now: Nanos) -> Option<Out<T>> {
        if self.state != LinkState::Up {
            return None;
        }
        self.advance(now);
        self.sync_queue_counters();
        let first = self.line.pop_due(now)?;
        let due = first.at;
        let mut piece = first.piece;
        while let Some(next) = self.line.peek()
            && next.at <= now
            && piece.continues(&next.piece)
        {
            let Some(next) = self.line.pop_due(now) else {
                break;
            };
            piece.count += next.piece.count;
        }
        self.counters.segments_out += u64::from(piece.count);
        self.counters.bytes_out += piece.bytes();
        Some(Out {
            frame: piece.frame,
            first: piece.first,
            count: piece.count,
            corrupt: piece.corrupt,
            ce: piece.ce,
            due,
        })
    }

    /// When [`Pipeline::poll`] next has something to release, if anything
    /// is pending: the earliest of the delay line's next release and the
    /// release of the next segment the bottleneck will let through (CoDel's
    /// decisions on the way are run ahead on a copy of its state). Exact as
    /// long as nothing is pushed before then.
    pub fn next_deadline(&self) -> Option<Nanos> {
        let line = self.line.peek().map(|e| e.at);
        let queue = match &self.service {
            Service::Unlimited => None,
            Service::Rate { busy_until, carry } => self.rate_deadline(*busy_until, *carry),
            Service::Trace { clock, transit } => self.trace_deadline(clock, transit.as_ref()),
        };
        match (line, queue) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs CoDel ahead on a copy: whether the segment would pass.
    fn would_pass(
        &self,
        codel: &mut Codel,
        t: Nanos,
        q: &Queued<T>,
        len: u32,
        backlog: u64,
    ) -> bool {
        match &self.params.codel {
            None => true,
            Some(cp) => {
                codel.judge(cp, t, t.saturating_sub(q.enq), backlog, len, q.ect) != Verdict::Drop
            }
        }
    }

    fn rate_deadline(&self, busy_until: Nanos, mut carry: u128) -> Option<Nanos> {
        let rate = self.params.rate?;
        let mut codel = self.codel;
        let mut backlog = self.queue.bytes();
        for q in self.queue.iter() {
            let t = busy_until.max(q.enq);
            for k in 0..q.piece.count {
                let len = q.piece.segs.len_of(q.piece.first + k);
                backlog -= u64::from(len);
                if self.would_pass(&mut codel, t, q, len, backlog) {
                    let done = t + tx_time(len, &rate, &mut carry);
                    return Some(self.release_time(done, q.delay, q.order));
                }
            }
        }
        None
    }

    fn trace_deadline(&self, clock: &TraceClock, transit: Option<&Transit<T>>) -> Option<Nanos> {
        let mut clock = clock.clone();
        let mut codel = self.codel;
        let mut backlog = self.queue.bytes();
        let mut current = transit.map(|tr| (tr.left, tr.seg.delay, tr.seg.order));
        let mut waiting = self.queue.iter().flat_map(|q| {
            (0..q.piece.count).map(move |k| (q, q.piece.segs.len_of(q.piece.first + k)))
        });
        if current.is_none() && self.queue.is_empty() {
            return None;
        }
        loop {
            let t = clock.next();
            clock.advance();
            let mut budget = u64::from(Trace::OPPORTUNITY_BYTES);
            while budget > 0 {
                let (left, delay, order) = match current.as_mut() {
                    Some(c) => c,
                    None => {
                        let (q, len) = waiting.next()?;
                        backlog -= u64::from(len);
                        if !self.would_pass(&mut codel, t, q, len, backlog) {
                            continue;
                        }
                        current.insert((trace::charge(len), q.delay, q.order))
                    }
                };
                let sent = budget.min(*left);
                *left -= sent;
                budget -= sent;
                if *left == 0 {
                    return Some(self.release_time(t, *delay, *order));
                }
            }
        }
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
