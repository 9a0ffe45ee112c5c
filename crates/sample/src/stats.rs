//! Order statistics and two-sample tests that every consumer agrees on.
//!
//! Percentiles use linear interpolation between closest ranks (the method
//! numpy and R call "type 7"), so `p50` of `[1, 2, 3, 4]` is 2.5. The
//! confidence interval of a median is distribution-free (binomial order
//! statistics), which suits a handful of repetitions of a lab case whose
//! distribution nobody knows. Mann-Whitney U compares two runs without
//! assuming normality.
//!
//! Functions take slices of finite numbers; NaNs are the caller's to remove.

/// The `p`-th percentile (0..=100) of `values`, or `None` when empty.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    Some(percentile_sorted(&v, p))
}

/// [`percentile`] over values already sorted ascending (and non-empty).
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let rank = (p.clamp(0.0, 100.0) / 100.0) * (n - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// The arithmetic mean, or `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        None
    } else {
        Some(values.iter().sum::<f64>() / values.len() as f64)
    }
}

/// The median, or `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    percentile(values, 50.0)
}

/// A confidence interval for a median.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MedianInterval {
    /// The sample median.
    pub median: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// The interval's actual coverage (e.g. 0.961). With fewer than six
    /// values no interval reaches 95 %; the widest one, `[min, max]`, is
    /// returned with its true, lower, coverage so the report can say so.
    pub confidence: f64,
}

/// The distribution-free confidence interval of the median at (at least)
/// `level` (e.g. 0.95) from binomial order statistics: the narrowest
/// symmetric pair of order statistics `(x_(k), x_(n+1-k))` whose coverage
/// `1 - 2 P(Bin(n, 1/2) < k)` is at least `level`.
pub fn median_interval(values: &[f64], level: f64) -> Option<MedianInterval> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = percentile_sorted(&v, 50.0);
    // cdf[k] = P(Bin(n, 1/2) <= k)
    let mut cdf = Vec::with_capacity(n + 1);
    let mut acc = 0.0;
    for k in 0..=n {
        acc += binomial_half_pmf(n, k);
        cdf.push(acc);
    }
    // k is the 1-based rank of the lower bound; coverage = 1 - 2 * P(X <= k-1).
    let mut best = (1usize, 1.0 - 2.0 * 0.5f64.powi(n as i32));
    for k in 1..=n.div_ceil(2) {
        let coverage = 1.0 - 2.0 * cdf[k - 1];
        if coverage >= level {
            best = (k, coverage);
        } else {
            break;
        }
    }
    let (k, confidence) = best;
    Some(MedianInterval {
        median,
        low: v[k - 1],
        high: v[n - k],
        confidence: confidence.max(0.0),
    })
}

fn binomial_half_pmf(n: usize, k: usize) -> f64 {
    // C(n, k) / 2^n computed in log space to stay finite for large n.
    let ln_c = ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k);
    (ln_c - n as f64 * std::f64::consts::LN_2).exp()
}

fn ln_factorial(n: usize) -> f64 {
    (2..=n).map(|i| (i as f64).ln()).sum()
}

/// The outcome of a Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U statistic of the first sample.
    pub u: f64,
    /// Two-sided p-value from the normal approximation with tie correction
    /// and continuity correction.
    pub p_value: f64,
    /// Probability that a value from `b` exceeds one from `a` (plus half
    /// the ties): the common-language effect size. 0.5 means no shift.
    pub prob_b_greater: f64,
}

/// Two-sided Mann-Whitney U test of `a` against `b`. `None` when either
/// side is empty.
///
/// The normal approximation is good from about eight values a side; below
/// that the p-value is conservative enough for flagging, and the report
/// shows the sample sizes beside it.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = all.len();
    let mut rank_sum_a = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        for item in &all[i..=j] {
            if item.1 {
                rank_sum_a += avg_rank;
            }
        }
        i = j + 1;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let u1 = rank_sum_a - n1f * (n1f + 1.0) / 2.0;
    let mu = n1f * n2f / 2.0;
    let nf = n as f64;
    let sigma2 = n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)).max(1.0));
    let p_value = if sigma2 <= 0.0 {
        1.0
    } else {
        let z = ((u1 - mu).abs() - 0.5).max(0.0) / sigma2.sqrt();
        (2.0 * normal_sf(z)).min(1.0)
    };
    Some(MannWhitney {
        u: u1,
        p_value,
        // U1 counts pairs where a > b; the complement is b > a.
        prob_b_greater: 1.0 - u1 / (n1f * n2f),
    })
}

/// The standard normal survival function 1 - Φ(z), via erfc.
fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' erfcc, |error| < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile(&v, 50.0), Some(2.5));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&v, 100.0), Some(4.0));
        let w: Vec<f64> = (1..=100).map(f64::from).collect();
        assert!((percentile(&w, 99.0).unwrap() - 99.01).abs() < 1e-9);
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
    }

    #[test]
    fn mean_and_median() {
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
        assert_eq!(median(&[1.0, 2.0, 6.0]), Some(2.0));
        assert_eq!(mean(&[]), None);
    }

    #[test]
    fn median_interval_for_ten_values_uses_ranks_two_and_nine() {
        // For n = 10, P(Bin(10, .5) <= 1) = 11/1024, coverage 0.9785 with
        // (x_(2), x_(9)); (x_(3), x_(8)) would cover only 0.891.
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let ci = median_interval(&v, 0.95).unwrap();
        assert_eq!((ci.low, ci.high), (2.0, 9.0));
        assert!((ci.confidence - (1.0 - 22.0 / 1024.0)).abs() < 1e-12);
        assert_eq!(ci.median, 5.5);
    }

    #[test]
    fn median_interval_for_few_values_admits_lower_coverage() {
        let ci = median_interval(&[3.0, 1.0, 2.0], 0.95).unwrap();
        assert_eq!((ci.low, ci.high), (1.0, 3.0));
        assert!((ci.confidence - 0.75).abs() < 1e-12);
        let one = median_interval(&[5.0], 0.95).unwrap();
        assert_eq!((one.low, one.median, one.high), (5.0, 5.0, 5.0));
        assert_eq!(one.confidence, 0.0);
    }

    #[test]
    fn mann_whitney_sees_a_shift_and_not_noise() {
        let a: Vec<f64> = (0..30).map(|i| 10.0 + (i % 7) as f64 * 0.1).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 1.0).collect();
        let shifted = mann_whitney(&a, &b).unwrap();
        assert!(shifted.p_value < 1e-6, "{shifted:?}");
        assert!(shifted.prob_b_greater > 0.99);
        let same = mann_whitney(&a, &a).unwrap();
        assert!(same.p_value > 0.9, "{same:?}");
        assert!((same.prob_b_greater - 0.5).abs() < 1e-9);
    }

    #[test]
    fn mann_whitney_matches_a_textbook_value() {
        // Two samples with U = 3 (a below b mostly); exact two-sided p = 0.0556
        // for n1 = n2 = 5; the normal approximation with continuity gives ~0.056.
        let a = [1.0, 2.0, 3.0, 6.0, 7.0];
        let b = [4.0, 5.0, 8.0, 9.0, 10.0];
        let r = mann_whitney(&a, &b).unwrap();
        assert_eq!(r.u, 4.0);
        assert!(r.p_value > 0.05 && r.p_value < 0.12, "{r:?}");
    }

    #[test]
    fn erfc_is_accurate() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-7);
        assert!((erfc(-1.0) - 1.842_700_793).abs() < 1e-7);
    }
}
