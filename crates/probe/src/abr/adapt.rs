//! Adaptation: which rendition the player asks for next.
//!
//! Two families, as the literature splits them:
//! - **throughput-based**: the harmonic mean of the last few segments'
//!   download throughputs (FESTIVE's estimator; the harmonic mean is not
//!   pulled up by one fast segment), times a safety factor, and the
//!   highest bitrate at or below it;
//! - **buffer-based**: BBA-0 (Huang et al., SIGCOMM 2014), a map from
//!   buffer level to bitrate with a reservoir (lowest bitrate below it) and
//!   a cushion (rising linearly to the highest), moving up or down only
//!   when the map crosses a neighbouring bitrate, so it does not
//!   oscillate.
//!
//! Pure: a decision is a function of what the player tells it.

use std::time::Duration;

/// An adaptation algorithm and its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Algorithm {
    /// Harmonic mean of the last `window` segment throughputs × `safety`.
    Throughput {
        /// Segments in the estimate.
        window: usize,
        /// Fraction of the estimate the chosen bitrate may use (0 to 1].
        safety: f64,
    },
    /// BBA-0's rate map.
    Bba {
        /// Below this buffer level, the lowest bitrate.
        reservoir: Duration,
        /// Above reservoir + cushion, the highest bitrate.
        cushion: Duration,
    },
}

impl Algorithm {
    /// The throughput rule with the usual window (5) and safety (0.9).
    pub const THROUGHPUT: Algorithm = Algorithm::Throughput {
        window: 5,
        safety: 0.9,
    };

    /// BBA-0 with a 4 s reservoir and an 8 s cushion (sized for short
    /// lab sessions and the player's 30 s buffer; the paper's 90 s
    /// cushion suits a 240 s buffer).
    pub const BBA: Algorithm = Algorithm::Bba {
        reservoir: Duration::from_secs(4),
        cushion: Duration::from_secs(8),
    };

    /// Its name in plans and labels.
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Throughput { .. } => "throughput",
            Algorithm::Bba { .. } => "bba",
        }
    }
}

/// What the player knows when it chooses.
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    /// Bitrates in kbit/s, lowest first.
    pub bitrates: &'a [u32],
    /// Throughputs of the segments downloaded so far, oldest first, bit/s.
    pub throughputs: &'a [f64],
    /// The buffer level now.
    pub buffer: Duration,
    /// The index of the last rendition chosen, if any.
    pub previous: Option<usize>,
}

/// The index into `s.bitrates` to ask for next.
pub fn choose(algorithm: &Algorithm, s: &Situation<'_>) -> usize {
    let top = s.bitrates.len().saturating_sub(1);
    match *algorithm {
        Algorithm::Throughput { window, safety } => {
            let recent = &s.throughputs[s.throughputs.len().saturating_sub(window.max(1))..];
            let Some(estimate) = harmonic_mean(recent) else {
                return 0;
            };
            let budget = estimate * safety;
            s.bitrates
                .iter()
                .rposition(|&kbps| f64::from(kbps) * 1000.0 <= budget)
                .unwrap_or(0)
        }
        Algorithm::Bba { reservoir, cushion } => {
            let (lo, hi) = (f64::from(s.bitrates[0]), f64::from(s.bitrates[top]));
            let b = s.buffer.as_secs_f64();
            let (r, c) = (reservoir.as_secs_f64(), cushion.as_secs_f64());
            // f(B): the rate the map suggests at this buffer level.
            let f = if b <= r {
                lo
            } else if b >= r + c || c == 0.0 {
                hi
            } else {
                lo + (b - r) / c * (hi - lo)
            };
            let Some(prev) = s.previous else {
                return 0;
            };
            let rate = |i: usize| f64::from(s.bitrates[i]);
            let up = (prev + 1).min(top);
            let down = prev.saturating_sub(1);
            if f >= hi {
                top
            } else if f <= lo {
                0
            } else if up != prev && f >= rate(up) {
                // The highest rate strictly below f(B).
                s.bitrates
                    .iter()
                    .rposition(|&k| f64::from(k) < f)
                    .unwrap_or(0)
            } else if down != prev && f <= rate(down) {
                // The lowest rate strictly above f(B).
                s.bitrates
                    .iter()
                    .position(|&k| f64::from(k) > f)
                    .unwrap_or(top)
            } else {
                prev
            }
        }
    }
}

/// The harmonic mean of positive values (non-positive ones are skipped);
/// `None` without any.
pub fn harmonic_mean(values: &[f64]) -> Option<f64> {
    let positive: Vec<f64> = values.iter().copied().filter(|v| *v > 0.0).collect();
    if positive.is_empty() {
        return None;
    }
    Some(positive.len() as f64 / positive.iter().map(|v| 1.0 / v).sum::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATES: &[u32] = &[500, 1500, 4000];

    fn sit<'a>(tp: &'a [f64], buffer_s: u64, previous: Option<usize>) -> Situation<'a> {
        Situation {
            bitrates: RATES,
            throughputs: tp,
            buffer: Duration::from_secs(buffer_s),
            previous,
        }
    }

    #[test]
    fn the_harmonic_mean_is_not_pulled_up_by_one_fast_segment() {
        // 2 / (1/1e6 + 1/100e6) = 1.98 Mbit/s; the arithmetic mean is 50.5.
        let h = harmonic_mean(&[1e6, 100e6]).unwrap();
        assert!((h - 1.980_198e6).abs() < 10.0, "{h}");
        assert_eq!(harmonic_mean(&[]), None);
    }

    #[test]
    fn throughput_rule_picks_the_highest_bitrate_within_the_safe_estimate() {
        let a = Algorithm::THROUGHPUT;
        assert_eq!(choose(&a, &sit(&[], 0, None)), 0, "no history: lowest");
        // 0.9 × 2 Mbit/s = 1.8 Mbit/s: 1500 fits, 4000 does not.
        assert_eq!(choose(&a, &sit(&[2e6, 2e6], 0, Some(0))), 1);
        assert_eq!(choose(&a, &sit(&[10e6; 5], 0, Some(1))), 2);
        assert_eq!(choose(&a, &sit(&[0.4e6], 0, Some(2))), 0);
        // Only the last five count.
        assert_eq!(
            choose(&a, &sit(&[0.1e6, 10e6, 10e6, 10e6, 10e6, 10e6], 0, Some(2))),
            2
        );
    }

    #[test]
    fn bba_follows_its_rate_map_with_hysteresis() {
        let a = Algorithm::BBA; // reservoir 4 s, cushion 8 s
        assert_eq!(choose(&a, &sit(&[], 3, Some(1))), 0, "in the reservoir");
        assert_eq!(choose(&a, &sit(&[], 12, Some(0))), 2, "beyond the cushion");
        // At 5 s, f = 500 + 1/8 × 3500 = 937.5: from 500 it stays (1500 not reached).
        assert_eq!(choose(&a, &sit(&[], 5, Some(0))), 0);
        // At 7 s, f = 1812.5 >= 1500: up to the highest rate below f, 1500.
        assert_eq!(choose(&a, &sit(&[], 7, Some(0))), 1);
        // From 1500 at 7 s (f between its neighbours 500 and 4000): stays.
        assert_eq!(choose(&a, &sit(&[], 7, Some(1))), 1);
        // From 4000 at 9 s (f = 2687.5, above its lower neighbour 1500): stays.
        assert_eq!(choose(&a, &sit(&[], 9, Some(2))), 2);
        // From 4000 at 6 s (f = 1375 <= 1500): down to the lowest rate above f.
        assert_eq!(choose(&a, &sit(&[], 6, Some(2))), 1);
        assert_eq!(choose(&a, &sit(&[], 20, None)), 0, "first segment: lowest");
    }
}
