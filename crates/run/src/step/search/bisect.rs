//! The search's decisions, sans-IO: which value to try next, given what
//! the trials so far said.
//!
//! RFC 2544's throughput search: try the upper bound first (a path that
//! carries it needs no search); otherwise halve the interval between the
//! highest value that passed (initially the lower bound, untried) and the
//! lowest that failed until they are `resolution` apart or the trials run
//! out. If nothing passed by then, the lower bound itself is tried, so
//! "no value works" is an answer backed by a trial, not an assumption.

/// The state of one search.
#[derive(Debug, Clone, PartialEq)]
pub struct Bisect {
    min: f64,
    max: f64,
    resolution: f64,
    max_trials: u32,
    whole: bool,
    /// Highest value known (or assumed, for `min`) below the answer.
    lo: f64,
    /// Lowest value that failed.
    hi: f64,
    trials: u32,
    best: Option<f64>,
    max_tried: bool,
    min_tried: bool,
    done: bool,
}

impl Bisect {
    /// A search over `[min, max]`; `whole` rounds values to integers.
    pub fn new(min: f64, max: f64, resolution: f64, max_trials: u32, whole: bool) -> Bisect {
        Bisect {
            min,
            max,
            resolution: resolution.max(if whole { 1.0 } else { f64::MIN_POSITIVE }),
            max_trials,
            whole,
            lo: min,
            hi: max,
            trials: 0,
            best: None,
            max_tried: false,
            min_tried: false,
            done: false,
        }
    }

    /// The value to try next, or `None` when the search is over.
    pub fn next(&self) -> Option<f64> {
        if self.done || self.trials >= self.max_trials {
            return None;
        }
        if !self.max_tried {
            return Some(self.max);
        }
        if self.closed() {
            return (self.best.is_none() && !self.min_tried).then_some(self.min);
        }
        Some(self.mid())
    }

    fn mid(&self) -> f64 {
        let mid = (self.lo + self.hi) / 2.0;
        if self.whole { mid.floor() } else { mid }
    }

    /// Whether the bracket is as narrow as the resolution allows.
    fn closed(&self) -> bool {
        let mid = self.mid();
        self.hi - self.lo <= self.resolution || mid <= self.lo || mid >= self.hi
    }

    /// Records that a trial at `value` passed or failed.
    pub fn record(&mut self, value: f64, pass: bool) {
        self.trials += 1;
        if !self.max_tried && value == self.max {
            self.max_tried = true;
            if pass {
                self.best = Some(value);
                self.done = true;
            }
            return;
        }
        if self.closed() && self.best.is_none() && value == self.min {
            // The last resort: the lower bound itself.
            self.min_tried = true;
            self.done = true;
            if pass {
                self.best = Some(value);
            }
            return;
        }
        if pass {
            self.lo = value;
            self.best = Some(value);
        } else {
            self.hi = value;
        }
    }

    /// The highest value that passed, if any did.
    pub fn answer(&self) -> Option<f64> {
        self.best
    }

    /// Trials run.
    pub fn trials(&self) -> u32 {
        self.trials
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a search against a path that passes every value up to `truth`.
    fn run(mut b: Bisect, truth: f64) -> (Option<f64>, Vec<f64>) {
        let mut tried = Vec::new();
        while let Some(v) = b.next() {
            tried.push(v);
            b.record(v, v <= truth);
            assert!(tried.len() < 1000, "the search must end");
        }
        (b.answer(), tried)
    }

    #[test]
    fn finds_the_rate_within_the_resolution_and_never_above_it() {
        let (answer, tried) = run(Bisect::new(1e6, 100e6, 0.5e6, 50, false), 47.3e6);
        let a = answer.unwrap();
        assert!(a <= 47.3e6 && 47.3e6 - a <= 0.5e6, "{a}");
        assert_eq!(tried[0], 100e6);
        assert_eq!(tried[1], 50.5e6);
        // log2(99 / 0.5) ≈ 7.6: eight halvings after the first try.
        assert_eq!(tried.len(), 9, "{tried:?}");
    }

    #[test]
    fn a_path_that_carries_the_upper_bound_needs_one_trial() {
        assert_eq!(
            run(Bisect::new(1.0, 10.0, 0.1, 20, false), 50.0),
            (Some(10.0), vec![10.0])
        );
    }

    #[test]
    fn when_nothing_passes_the_lower_bound_is_tried_and_there_is_no_answer() {
        let (answer, tried) = run(Bisect::new(10.0, 20.0, 1.0, 20, false), 5.0);
        assert_eq!(answer, None);
        assert_eq!(tried.last(), Some(&10.0));
        let (answer, _) = run(Bisect::new(10.0, 20.0, 1.0, 20, false), 10.0);
        assert_eq!(answer, Some(10.0));
    }

    #[test]
    fn whole_values_for_bursts_and_sizes() {
        let (answer, tried) = run(Bisect::new(1.0, 10_000.0, 1.0, 100, true), 1234.0);
        assert_eq!(answer, Some(1234.0));
        assert!(tried.iter().all(|v| v.fract() == 0.0));
    }

    #[test]
    fn the_trial_count_bounds_the_search() {
        let b = Bisect::new(1.0, 1e9, 1.0, 5, false);
        let (answer, tried) = run(b, 3e8);
        assert_eq!(tried.len(), 5);
        assert!(answer.unwrap() <= 3e8);
    }
}
