//! Propagation delay: the jitter draw and the delay line.
//!
//! Jitter is drawn once per frame: every piece of a frame shares it. The
//! draw is a standardised variate (mean 0, standard deviation 1) of the
//! configured distribution, scaled by the jitter's standard deviation and
//! added to the delay; a negative result is clamped to zero. netem reads
//! its distributions from tables; computing them gives the same mean and
//! standard deviation without the tables' quantisation.
//!
//! Correlation is applied to the standardised variate as an AR(1) process,
//! `z = ρ·z_prev + sqrt(1 - ρ²)·fresh`, which keeps the configured standard
//! deviation whatever ρ is. (netem mixes uniform draws instead, which
//! shrinks the spread as ρ grows, so that `jitter 10ms 50%` does not have a
//! 10 ms standard deviation; we prefer the parameters to mean what they say.)
//!
//! The delay line releases pieces in time order. Pieces whose release times
//! never decrease (a fixed delay, `keep_order`, a rate) go to a FIFO at
//! O(1) each; only pieces that jitter or reordering put ahead of others go
//! to a binary heap.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use super::rng::Rng;
use super::{Nanos, Piece};
use crate::params::Distribution;

/// The standard deviation of a Pareto variate with shape 3 and scale 1
/// (mean 1.5): sqrt(3 / ((3 - 1)² (3 - 2))).
const PARETO_SD: f64 = 0.866_025_403_784_438_6;

/// The correlated jitter source of one pipeline.
#[derive(Debug, Clone, Default)]
pub(crate) struct Jitter {
    last: f64,
}

impl Jitter {
    /// A standardised draw from `dist` (mean 0, standard deviation 1).
    fn fresh(dist: Distribution, rng: &mut Rng) -> f64 {
        match dist {
            // Uniform on ±sqrt(3) has standard deviation 1.
            Distribution::Uniform => (2.0 * rng.unit() - 1.0) * 3f64.sqrt(),
            Distribution::Normal => rng.normal(),
            Distribution::Pareto => pareto(rng),
            // netem's pareto-normal table mixes the two; a mixture of two
            // standardised variates is standardised too. Two draws always,
            // so the sequence does not depend on which one is used.
            Distribution::ParetoNormal => {
                let pick = rng.unit();
                let p = pareto(rng);
                let n = rng.normal();
                if pick < 0.25 { p } else { n }
            }
        }
    }

    /// The delay of the next frame: `delay` plus the jitter draw, never
    /// negative. `jitter` is a standard deviation, or the half-width for
    /// the uniform distribution.
    pub(crate) fn delay(
        &mut self,
        rng: &mut Rng,
        delay: Nanos,
        jitter: Nanos,
        dist: Distribution,
        correlation: f64,
    ) -> Nanos {
        if jitter == 0 {
            return delay;
        }
        let rho = if correlation.is_nan() {
            0.0
        } else {
            correlation.clamp(0.0, 1.0)
        };
        let fresh = Jitter::fresh(dist, rng);
        let mut z = if rho == 0.0 {
            fresh
        } else {
            rho * self.last + (1.0 - rho * rho).sqrt() * fresh
        };
        let sigma = match dist {
            Distribution::Uniform => {
                // Stay inside the half-width, whatever the correlation.
                z = z.clamp(-3f64.sqrt(), 3f64.sqrt());
                jitter as f64 / 3f64.sqrt()
            }
            _ => jitter as f64,
        };
        self.last = z;
        let d = delay as f64 + z * sigma;
        if d <= 0.0 { 0 } else { d.round() as Nanos }
    }
}

/// A standardised Pareto variate of shape 3 (netem's tables use shape 3).
fn pareto(rng: &mut Rng) -> f64 {
    let x = rng.unit_open0().powf(-1.0 / 3.0);
    (x - 1.5) / PARETO_SD
}

/// A piece waiting in the delay line.
pub(crate) struct Entry<T> {
    pub(crate) at: Nanos,
    seq: u64,
    pub(crate) piece: Piece<T>,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    /// Reversed, so the heap's top is the earliest (then first inserted).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Pieces in flight, released by time, ties in insertion order.
pub(crate) struct DelayLine<T> {
    fifo: VecDeque<Entry<T>>,
    heap: BinaryHeap<Entry<T>>,
    seq: u64,
}

impl<T> DelayLine<T> {
    pub(crate) fn new() -> Self {
        DelayLine {
            fifo: VecDeque::new(),
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Adds a piece released at `at`.
    pub(crate) fn insert(&mut self, at: Nanos, piece: Piece<T>) {
        self.seq += 1;
        let e = Entry {
            at,
            seq: self.seq,
            piece,
        };
        if self.fifo.back().is_none_or(|b| at >= b.at) {
            self.fifo.push_back(e);
        } else {
            self.heap.push(e);
        }
    }

    /// Whether the FIFO's front comes before the heap's top.
    fn fifo_first(&self) -> Option<bool> {
        match (self.fifo.front(), self.heap.peek()) {
            (None, None) => None,
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
            (Some(f), Some(h)) => Some((f.at, f.seq) <= (h.at, h.seq)),
        }
    }

    /// The earliest entry.
    pub(crate) fn peek(&self) -> Option<&Entry<T>> {
        match self.fifo_first()? {
            true => self.fifo.front(),
            false => self.heap.peek(),
        }
    }

    /// Removes the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Nanos) -> Option<Entry<T>> {
        if self.peek()?.at > now {
            return None;
        }
        match self.fifo_first()? {
            true => self.fifo.pop_front(),
            false => self.heap.pop(),
        }
    }

    /// Empties the line, returning how many segments it held.
    pub(crate) fn clear(&mut self) -> u64 {
        let n = self
            .fifo
            .iter()
            .chain(self.heap.iter())
            .map(|e| u64::from(e.piece.count))
            .sum();
        self.fifo.clear();
        self.heap.clear();
        n
    }
}
