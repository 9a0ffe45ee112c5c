//! Order statistics and two-sample tests that every consumer agrees on.
//!
//! Percentiles use linear interpolation between closest ranks (the method
//! numpy and R call "type 7"), so `p50` of `[1, 2, 3, 4]` is 2.5. The
//! confidence interval of a median is distribution-free (binomial order
//! statistics), which suits a handful of repetitions of a lab case whose
//! distribution nobody knows. Mann-Whitney U compares two runs without
//! assuming normality, exactly for up to 20 values a side (the usual
//! handful of repetitions), by the normal approximation above that.
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

/// Both samples at most this long: [`mann_whitney`]'s p-value is exact.
///
/// Published tables of U's critical values stop at 20 a side, and that is
/// where the normal approximation (with continuity correction) comes
/// within about 0.01 of the exact p-value at the 5 % level; below about
/// eight a side it is off by more than the difference between "flag" and
/// "keep", and eight is more repetitions than most cases run. The exact
/// computation at the limit (40 values, 20 chosen) is a table of
/// 21 × 1,641 counts filled in about 1.3 million additions.
pub const EXACT_MAX_PER_SIDE: usize = 20;

/// The outcome of a Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U statistic of the first sample: the pairs (x from `a`, y from `b`)
    /// with x > y, a tie counting one half.
    pub u: f64,
    /// Two-sided p-value: the probability, if both samples came from one
    /// distribution, of a U at least as far from its mean as this one.
    /// Exact when [`MannWhitney::exact`], else the normal approximation with
    /// tie and continuity corrections.
    pub p_value: f64,
    /// Whether `p_value` is exact (both samples at most
    /// [`EXACT_MAX_PER_SIDE`] values).
    pub exact: bool,
    /// Probability that a value from `b` exceeds one from `a` (plus half
    /// the ties): the common-language effect size. 0.5 means no shift.
    pub prob_b_greater: f64,
}

/// Two-sided Mann-Whitney U test of `a` against `b`. `None` when either
/// side is empty.
///
/// With at most [`EXACT_MAX_PER_SIDE`] values a side the p-value is exact:
/// the permutation distribution of the rank sum over every way of choosing
/// `a.len()` of the pooled values. Ties get their mid-ranks and the
/// distribution is taken over those same mid-ranks (the exact conditional
/// test), so tied samples need no correction and no fallback. Larger
/// samples use the normal approximation with tie and continuity
/// corrections, which is good there.
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
    // Ranks doubled, so mid-ranks of ties (k + 1/2) stay whole numbers.
    let mut doubled_ranks = Vec::with_capacity(n);
    let mut doubled_rank_sum_a = 0u64;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        // Positions i..=j share the mean of ranks i + 1 ..= j + 1.
        let doubled = (i + j + 2) as u64;
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        for item in &all[i..=j] {
            doubled_ranks.push(doubled);
            if item.1 {
                doubled_rank_sum_a += doubled;
            }
        }
        i = j + 1;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let u1 = doubled_rank_sum_a as f64 / 2.0 - n1f * (n1f + 1.0) / 2.0;
    let exact = n1 <= EXACT_MAX_PER_SIDE && n2 <= EXACT_MAX_PER_SIDE;
    let p_value = if exact {
        exact_p_value(&doubled_ranks, n1, doubled_rank_sum_a)
    } else {
        let mu = n1f * n2f / 2.0;
        let nf = n as f64;
        let sigma2 = n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)).max(1.0));
        if sigma2 <= 0.0 {
            1.0
        } else {
            let z = ((u1 - mu).abs() - 0.5).max(0.0) / sigma2.sqrt();
            (2.0 * normal_sf(z)).min(1.0)
        }
    };
    Some(MannWhitney {
        u: u1,
        p_value,
        exact,
        // U1 counts pairs where a > b; the complement is b > a.
        prob_b_greater: 1.0 - u1 / (n1f * n2f),
    })
}

/// The exact two-sided p-value of a rank sum: the share of the
/// `C(N, k)` ways to choose `k` of the `doubled_ranks` whose sum lies at
/// least as far from its mean as `observed` does (all sums doubled).
///
/// Counts subsets by size and sum, one rank at a time (a knapsack count);
/// the counts are at most C(40, 20) ≈ 1.4e11 within the exact limit, well
/// inside the integers an `f64` holds exactly.
fn exact_p_value(doubled_ranks: &[u64], k: usize, observed: u64) -> f64 {
    let n = doubled_ranks.len();
    let max_sum: u64 = doubled_ranks.iter().sum();
    let width = max_sum as usize + 1;
    // counts[j * width + s]: subsets of j ranks seen so far that sum to s.
    let mut counts = vec![0.0f64; (k + 1) * width];
    counts[0] = 1.0;
    for (seen, &r) in doubled_ranks.iter().enumerate() {
        let r = r as usize;
        for j in (1..=k.min(seen + 1)).rev() {
            for s in (r..width).rev() {
                let from = counts[(j - 1) * width + s - r];
                if from != 0.0 {
                    counts[j * width + s] += from;
                }
            }
        }
    }
    // The mean of the doubled rank sum: k of the N ranks averaging (N + 1) / 2.
    let center = (k * (n + 1)) as u64;
    let distance = observed.abs_diff(center);
    let row = &counts[k * width..];
    let total: f64 = row.iter().sum();
    let extreme: f64 = row
        .iter()
        .enumerate()
        .filter(|&(s, _)| (s as u64).abs_diff(center) >= distance)
        .map(|(_, c)| c)
        .sum();
    (extreme / total).min(1.0)
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
    fn mann_whitney_small_samples_are_exact() {
        // U = 4 for n1 = n2 = 5: 12 of the C(10, 5) = 252 arrangements
        // have U <= 4 (1 + 1 + 2 + 3 + 5 for U = 0..4), so the exact
        // two-sided p is 24/252 = 0.0952; the normal approximation says
        // 0.117.
        let a = [1.0, 2.0, 3.0, 6.0, 7.0];
        let b = [4.0, 5.0, 8.0, 9.0, 10.0];
        let r = mann_whitney(&a, &b).unwrap();
        assert_eq!(r.u, 4.0);
        assert!(r.exact);
        assert!((r.p_value - 24.0 / 252.0).abs() < 1e-12, "{r:?}");
        // The test is symmetric: swapping the samples mirrors U.
        let s = mann_whitney(&b, &a).unwrap();
        assert_eq!(s.u, 21.0);
        assert!((s.p_value - r.p_value).abs() < 1e-12);
    }

    /// Samples of sizes `n1` and `n2`, no ties, whose U is `u`: `b` is
    /// 1..=n2 and each value of `a` sits just above as many of them as it
    /// should count (ties, even within `a`, would change the distribution).
    fn with_u(n1: usize, n2: usize, u: usize) -> (Vec<f64>, Vec<f64>) {
        let b: Vec<f64> = (1..=n2).map(|v| v as f64).collect();
        let mut left = u;
        let a = (0..n1)
            .map(|i| {
                let above = left.min(n2);
                left -= above;
                // Distinct within the gap between two values of `b`.
                above as f64 + 0.1 + 0.01 * i as f64
            })
            .collect();
        assert_eq!(left, 0, "U = {u} is more than {n1} x {n2}");
        (a, b)
    }

    #[test]
    fn mann_whitney_critical_values_match_the_published_table() {
        // Critical values of U, two-sided alpha = 0.05: the largest U that is
        // significant. From the table of Mann and Whitney (1947), extended in
        // Milton (1964), as printed in Zar, "Biostatistical Analysis", 5th ed.,
        // Table B.11; cross-checked by enumerating every arrangement (the
        // exact_p_value_is_the_enumerated_share test) and the recurrence
        // f(m, n, u) = f(m - 1, n, u - n) + f(m, n - 1, u).
        let table = [
            (3, 5, 0),
            (2, 8, 0),
            (4, 6, 2),
            (5, 5, 2),
            (6, 6, 5),
            (6, 7, 6),
            (7, 7, 8),
            (8, 8, 13),
            (10, 10, 23),
            (12, 15, 49),
            (10, 20, 55),
            (20, 20, 127),
        ];
        for (n1, n2, critical) in table {
            let (a, b) = with_u(n1, n2, critical);
            let at = mann_whitney(&a, &b).unwrap();
            assert!(at.exact);
            assert_eq!(at.u, critical as f64);
            assert!(at.p_value <= 0.05, "n1 = {n1}, n2 = {n2}: {at:?}");
            let (a, b) = with_u(n1, n2, critical + 1);
            let above = mann_whitney(&a, &b).unwrap();
            assert!(above.p_value > 0.05, "n1 = {n1}, n2 = {n2}: {above:?}");
        }
        // Too few values for any U to reach 0.05: the smallest p is 2/36.
        let (a, b) = with_u(2, 7, 0);
        let r = mann_whitney(&a, &b).unwrap();
        assert!((r.p_value - 2.0 / 36.0).abs() < 1e-12, "{r:?}");
    }

    /// The two-sided p-value by brute force: U over every way to split the
    /// pooled values into samples of `a`'s and `b`'s sizes.
    fn enumerated_p(a: &[f64], b: &[f64]) -> f64 {
        fn u_of(a: &[f64], b: &[f64]) -> f64 {
            let mut u = 0.0;
            for x in a {
                for y in b {
                    u += if x > y {
                        1.0
                    } else if x == y {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
            u
        }
        let pooled: Vec<f64> = a.iter().chain(b).copied().collect();
        let mu = (a.len() * b.len()) as f64 / 2.0;
        let observed = (u_of(a, b) - mu).abs();
        let (mut extreme, mut total) = (0u64, 0u64);
        for mask in 0u32..1 << pooled.len() {
            if mask.count_ones() as usize != a.len() {
                continue;
            }
            let mut x = Vec::new();
            let mut y = Vec::new();
            for (i, &v) in pooled.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    x.push(v);
                } else {
                    y.push(v);
                }
            }
            total += 1;
            if (u_of(&x, &y) - mu).abs() >= observed - 1e-9 {
                extreme += 1;
            }
        }
        extreme as f64 / total as f64
    }

    #[test]
    fn exact_p_value_is_the_enumerated_share_with_and_without_ties() {
        let cases: [(&[f64], &[f64]); 6] = [
            (&[1.0, 2.0, 3.0, 6.0, 7.0], &[4.0, 5.0, 8.0, 9.0, 10.0]),
            (&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0, 9.0, 10.0]),
            // Ties inside and across the samples (repetitions that measured
            // the same whole milliseconds).
            (&[3.0, 3.0, 4.0, 5.0, 5.0], &[4.0, 5.0, 6.0, 6.0, 7.0, 7.0]),
            (&[1.0, 1.0, 1.0, 2.0], &[1.0, 2.0, 2.0, 2.0, 3.0]),
            (&[2.0; 6], &[2.0; 5]),
            (
                &[9.0, 1.0, 5.0, 7.0, 3.0, 8.0, 2.0],
                &[6.0, 4.0, 10.0, 12.0, 11.0, 13.0, 14.0],
            ),
        ];
        for (a, b) in cases {
            let r = mann_whitney(a, b).unwrap();
            assert!(r.exact);
            let want = enumerated_p(a, b);
            assert!(
                (r.p_value - want).abs() < 1e-12,
                "{a:?} vs {b:?}: {} != {want}",
                r.p_value
            );
        }
        // Every value tied: no evidence of a shift at all.
        assert_eq!(mann_whitney(&[2.0; 6], &[2.0; 5]).unwrap().p_value, 1.0);
    }

    #[test]
    fn mann_whitney_above_twenty_a_side_uses_the_normal_approximation() {
        let (a, b) = with_u(21, 21, 150);
        let r = mann_whitney(&a, &b).unwrap();
        assert!(!r.exact);
        // Near the exact value at this size: z = (220.5 - 150 - 0.5) / 39.7.
        assert!((r.p_value - 0.0780).abs() < 0.002, "{r:?}");
        let (a, b) = with_u(20, 21, 150);
        assert!(!mann_whitney(&a, &b).unwrap().exact);
    }

    #[test]
    fn erfc_is_accurate() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-7);
        assert!((erfc(-1.0) - 1.842_700_793).abs() < 1e-7);
    }
}
