//! Per-segment random decisions with netem's meaning: loss (random with
//! correlation, Gilbert-Elliott, the 4-state Markov model), and the
//! correlated chances of duplication, corruption and reordering.
//!
//! Probabilities are compiled once into 32-bit thresholds, as netem keeps
//! them, so a decision is one draw and one comparison. Correlation follows
//! netem's `get_crandom`: each draw is mixed with the previous one,
//! `next = (1 - ρ)·fresh + ρ·last`, on 32-bit integers. (This is netem's
//! known quirk: strong correlation also pulls the draws towards the middle,
//! so a small probability with high correlation loses less than its `p`.
//! We keep it, because it is what the parameters mean to netem users.)

use super::rng::Rng;
use crate::params::{Chance, Loss};

/// A probability as a threshold on a 32-bit draw: `draw < threshold`
/// happens with probability `p` (0 never, 2^32 always).
fn threshold(p: f64) -> u64 {
    let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
    (p * 4_294_967_296.0).round() as u64
}

/// netem's correlation weight, scaled to 32 bits.
fn rho(correlation: f64) -> u64 {
    let c = if correlation.is_nan() {
        0.0
    } else {
        correlation.clamp(0.0, 1.0)
    };
    (c * f64::from(u32::MAX)).round() as u64
}

/// A stream of 32-bit draws correlated with netem's formula.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Correlated {
    rho: u64,
    last: u32,
}

impl Correlated {
    fn new(correlation: f64, rng: &mut Rng) -> Correlated {
        Correlated {
            rho: rho(correlation),
            last: rng.next_u32(),
        }
    }

    #[inline]
    fn draw(&mut self, rng: &mut Rng) -> u32 {
        let value = u64::from(rng.next_u32());
        if self.rho == 0 {
            return value as u32;
        }
        let rho = self.rho + 1;
        let answer = (value * ((1u64 << 32) - rho) + u64::from(self.last) * rho) >> 32;
        self.last = answer as u32;
        self.last
    }
}

/// A [`Chance`] compiled for drawing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Draw {
    threshold: u64,
    stream: Correlated,
}

impl Draw {
    pub(crate) fn new(chance: Chance, rng: &mut Rng) -> Draw {
        Draw {
            threshold: threshold(chance.p),
            stream: Correlated::new(chance.correlation, rng),
        }
    }

    /// Whether this chance can ever happen (netem draws nothing otherwise).
    #[inline]
    pub(crate) fn active(&self) -> bool {
        self.threshold > 0
    }

    /// One decision. Draws nothing when the probability is zero.
    #[inline]
    pub(crate) fn happens(&mut self, rng: &mut Rng) -> bool {
        self.threshold > 0 && u64::from(self.stream.draw(rng)) < self.threshold
    }
}

/// The 4-state model's states, numbered as netem's documentation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FourState {
    /// 1: good reception within a gap.
    GapTx,
    /// 2: good reception within a burst.
    BurstTx,
    /// 3: loss within a burst.
    BurstLoss,
    /// 4: isolated loss within a gap.
    GapLoss,
}

/// A loss model with its state.
#[derive(Debug, Clone)]
pub(crate) enum LossModel {
    None,
    Random(Draw),
    GilbertElliott {
        p: u64,
        r: u64,
        loss_bad: u64,
        loss_good: u64,
        bad: bool,
    },
    FourState {
        p13: u64,
        p31: u64,
        p32: u64,
        p23: u64,
        p14: u64,
        state: FourState,
    },
}

impl LossModel {
    /// The model for `loss`, in its initial state (good, or state 1).
    pub(crate) fn new(loss: &Loss, rng: &mut Rng) -> LossModel {
        match *loss {
            Loss::None => LossModel::None,
            Loss::Random { p, correlation } => {
                let d = Draw::new(Chance { p, correlation }, rng);
                if d.active() {
                    LossModel::Random(d)
                } else {
                    LossModel::None
                }
            }
            Loss::GilbertElliott {
                p,
                r,
                loss_bad,
                loss_good,
            } => LossModel::GilbertElliott {
                p: threshold(p),
                r: threshold(r),
                loss_bad: threshold(loss_bad),
                loss_good: threshold(loss_good),
                bad: false,
            },
            Loss::FourState {
                p13,
                p31,
                p32,
                p23,
                p14,
            } => LossModel::FourState {
                p13: threshold(p13),
                p31: threshold(p31),
                p32: threshold(p32),
                p23: threshold(p23),
                p14: threshold(p14),
                state: FourState::GapTx,
            },
        }
    }

    /// Whether the model never loses anything.
    pub(crate) fn is_none(&self) -> bool {
        matches!(self, LossModel::None)
    }

    /// Decides the next segment's fate: `true` if it is lost.
    #[inline]
    pub(crate) fn lost(&mut self, rng: &mut Rng) -> bool {
        match self {
            LossModel::None => false,
            LossModel::Random(d) => d.happens(rng),
            LossModel::GilbertElliott {
                p,
                r,
                loss_bad,
                loss_good,
                bad,
            } => {
                // As netem's loss_gilb_ell: first the transition, then the
                // loss draw with the probability of the state the segment
                // arrived in. Always two draws.
                let was_bad = *bad;
                let t = u64::from(rng.next_u32());
                if was_bad {
                    if t < *r {
                        *bad = false;
                    }
                } else if t < *p {
                    *bad = true;
                }
                let l = u64::from(rng.next_u32());
                l < if was_bad { *loss_bad } else { *loss_good }
            }
            LossModel::FourState {
                p13,
                p31,
                p32,
                p23,
                p14,
                state,
            } => {
                // As netem's loss_4state: one draw picks the next state; a
                // segment is lost when the chain moves into (or stays in) a
                // loss state.
                let x = u64::from(rng.next_u32());
                match *state {
                    FourState::GapTx => {
                        if x < *p14 {
                            *state = FourState::GapLoss;
                            true
                        } else if x < *p13 + *p14 {
                            *state = FourState::BurstLoss;
                            true
                        } else {
                            false
                        }
                    }
                    FourState::BurstTx => {
                        if x < *p23 {
                            *state = FourState::BurstLoss;
                            true
                        } else {
                            false
                        }
                    }
                    FourState::BurstLoss => {
                        if x < *p32 {
                            *state = FourState::BurstTx;
                            false
                        } else if x < *p31 + *p32 {
                            *state = FourState::GapTx;
                            false
                        } else {
                            true
                        }
                    }
                    FourState::GapLoss => {
                        *state = FourState::GapTx;
                        false
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_cover_never_and_always() {
        assert_eq!(threshold(0.0), 0);
        assert_eq!(threshold(1.0), 1 << 32);
        assert_eq!(threshold(f64::NAN), 0);
        let mut rng = Rng::new(1);
        let mut always = Draw::new(
            Chance {
                p: 1.0,
                correlation: 0.0,
            },
            &mut rng,
        );
        let mut never = Draw::new(
            Chance {
                p: 0.0,
                correlation: 0.0,
            },
            &mut rng,
        );
        for _ in 0..1000 {
            assert!(always.happens(&mut rng));
            assert!(!never.happens(&mut rng));
        }
    }

    #[test]
    fn correlation_makes_successive_draws_alike() {
        // With ρ = 0.9 a draw moves at most 10 % of the range from the last.
        let mut rng = Rng::new(3);
        let mut c = Correlated::new(0.9, &mut rng);
        let mut last = c.draw(&mut rng);
        for _ in 0..10_000 {
            let d = c.draw(&mut rng);
            let step = (i64::from(d) - i64::from(last)).unsigned_abs();
            assert!(step <= (u64::from(u32::MAX) / 10) + 1, "step {step}");
            last = d;
        }
    }
}
