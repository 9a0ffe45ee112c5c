//! Two runs side by side: what changed, and whether it matters.
//!
//! For every (case, metric, step) measured in both runs, [`compare`] pools
//! each run's numeric samples across repetitions and reports the medians,
//! their relative change and a two-sided Mann-Whitney p-value
//! ([`stats::mann_whitney`], no normality assumed). A change is flagged as a
//! regression when it is significant (p < [`SIGNIFICANCE`]), goes the wrong
//! way for the metric ([`Better`], from the catalogue; unknown metrics in
//! seconds count as lower-is-better, others are never flagged) and exceeds
//! [`MIN_RELATIVE_CHANGE`], so a tiny but significant shift is reported
//! without alarm; improvements symmetrically. Success ratios (ok attempts
//! over all attempts, failed attempts included) are compared the same way
//! on 0/1 outcomes, with a floor of [`MIN_SUCCESS_CHANGE`]. Metrics measured
//! in only one run and expectation verdict changes are listed too.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use netproof_sample::{Better, Unit, stats};
use netproof_store::Verdict;
use serde::Serialize;

use crate::Report;
use crate::markup::{md_code, md_text};
use crate::series::{self, MetricSeries};
use crate::summary::value_text;

/// p-values below this are significant.
pub const SIGNIFICANCE: f64 = 0.01;
/// Relative median changes at or below this (5 %) are never flagged.
pub const MIN_RELATIVE_CHANGE: f64 = 0.05;
/// Success-ratio changes below this (one percentage point) are never flagged.
pub const MIN_SUCCESS_CHANGE: f64 = 0.01;

/// The comparison of run `a` (before) with run `b` (after).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Run a's id.
    pub run_a: i64,
    /// Run b's id.
    pub run_b: i64,
    /// Run a's plan name.
    pub plan_a: String,
    /// Run b's plan name.
    pub plan_b: String,
    /// Whether both runs ran the same plan text (same SHA-256).
    pub same_plan: bool,
    /// Every (case, metric, step) measured in both runs.
    pub metrics: Vec<MetricComparison>,
    /// Series measured only in run a.
    pub only_in_a: Vec<SeriesId>,
    /// Series measured only in run b.
    pub only_in_b: Vec<SeriesId>,
    /// Cases run only in a.
    pub cases_only_in_a: Vec<String>,
    /// Cases run only in b.
    pub cases_only_in_b: Vec<String>,
    /// Case and expectation verdicts that differ.
    pub verdict_changes: Vec<VerdictChange>,
}

/// Names a series: a metric of a step in a case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SeriesId {
    /// The case id.
    pub case: String,
    /// The metric.
    pub metric: String,
    /// The step (empty when unknown).
    pub step: String,
}

/// One series in both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricComparison {
    /// Which series.
    #[serde(flatten)]
    pub id: SeriesId,
    /// Its canonical unit name.
    pub unit: String,
    /// Which direction is better.
    pub better: Better,
    /// Numeric samples in a.
    pub n_a: usize,
    /// Numeric samples in b.
    pub n_b: usize,
    /// Median in a.
    pub median_a: Option<f64>,
    /// Median in b.
    pub median_b: Option<f64>,
    /// (median b − median a) / |median a|; `None` when undefined.
    pub change: Option<f64>,
    /// Two-sided Mann-Whitney p-value of a against b.
    pub p_value: Option<f64>,
    /// Significant, large and the wrong way.
    pub regression: bool,
    /// Significant, large and the right way.
    pub improvement: bool,
    /// The success ratios.
    pub success: SuccessComparison,
}

/// Success ratios of one series in both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuccessComparison {
    /// Attempts in a.
    pub attempts_a: u64,
    /// Attempts in b.
    pub attempts_b: u64,
    /// Ok attempts over attempts in a.
    pub ratio_a: Option<f64>,
    /// Ok attempts over attempts in b.
    pub ratio_b: Option<f64>,
    /// Two-sided p-value of the ok/failed outcomes.
    pub p_value: Option<f64>,
    /// The ratio fell significantly.
    pub regression: bool,
    /// The ratio rose significantly.
    pub improvement: bool,
}

/// A verdict that differs between the runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerdictChange {
    /// The case id.
    pub case: String,
    /// The expectation, or `None` for the case's own verdict.
    pub expectation: Option<String>,
    /// In run a.
    pub before: Verdict,
    /// In run b.
    pub after: Verdict,
    /// Whether the change is for the worse (pass → fail, fail → error).
    pub worse: bool,
}

/// Compares run `a` (before) with run `b` (after).
pub fn compare(a: &Report, b: &Report) -> Comparison {
    let series_a = all_series(a);
    let series_b = all_series(b);
    let mut metrics = Vec::new();
    let mut only_in_a = Vec::new();
    for (id, sa) in &series_a {
        match series_b.get(id) {
            Some(sb) => metrics.push(compare_series(id.clone(), sa, sb)),
            None => only_in_a.push(id.clone()),
        }
    }
    let only_in_b = series_b
        .keys()
        .filter(|id| !series_a.contains_key(*id))
        .cloned()
        .collect();
    // Cases in run a's execution order, then metric and step.
    let order = |case: &str| a.index().cases.iter().position(|g| g.id == case);
    metrics.sort_by_key(|m: &MetricComparison| order(&m.id.case));

    let (sa, sb) = (a.summary_ref(), b.summary_ref());
    let mut verdict_changes = Vec::new();
    for ca in &sa.cases {
        let Some(cb) = sb.cases.iter().find(|c| c.id == ca.id) else {
            continue;
        };
        if ca.verdict != cb.verdict {
            verdict_changes.push(change(&ca.id, None, ca.verdict, cb.verdict));
        }
        for ea in &ca.expectations {
            if let Some(eb) = cb.expectations.iter().find(|e| e.text == ea.text)
                && ea.verdict != eb.verdict
            {
                verdict_changes.push(change(&ca.id, Some(&ea.text), ea.verdict, eb.verdict));
            }
        }
    }
    let ids = |s: &crate::Summary| s.cases.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    let (ids_a, ids_b) = (ids(sa), ids(sb));
    Comparison {
        run_a: sa.run,
        run_b: sb.run,
        plan_a: sa.plan.clone(),
        plan_b: sb.plan.clone(),
        same_plan: a.data().run.info.plan_hash == b.data().run.info.plan_hash,
        metrics,
        only_in_a,
        only_in_b,
        cases_only_in_a: ids_a
            .iter()
            .filter(|i| !ids_b.contains(i))
            .cloned()
            .collect(),
        cases_only_in_b: ids_b
            .iter()
            .filter(|i| !ids_a.contains(i))
            .cloned()
            .collect(),
        verdict_changes,
    }
}

fn all_series(r: &Report) -> BTreeMap<SeriesId, MetricSeries> {
    let mut out = BTreeMap::new();
    for group in &r.index().cases {
        for s in series::for_case(r.data(), r.index(), group) {
            let id = SeriesId {
                case: group.id.clone(),
                metric: s.metric.clone(),
                step: s.step.clone(),
            };
            out.insert(id, s);
        }
    }
    out
}

fn compare_series(id: SeriesId, a: &MetricSeries, b: &MetricSeries) -> MetricComparison {
    let (va, vb) = (a.values(), b.values());
    let (ma, mb) = (stats::median(&va), stats::median(&vb));
    let change = match (ma, mb) {
        (Some(x), Some(y)) if x != 0.0 => Some((y - x) / x.abs()),
        (Some(x), Some(y)) if x == y => Some(0.0),
        _ => None,
    };
    let p_value = stats::mann_whitney(&va, &vb).map(|m| m.p_value);
    let better = a.better();
    let significant = p_value.is_some_and(|p| p < SIGNIFICANCE);
    // Undefined relative change (from a zero median) counts as large.
    let large = change.is_none_or(|c| c.abs() > MIN_RELATIVE_CHANGE);
    let direction = match (ma, mb) {
        (Some(x), Some(y)) => (y - x).signum(),
        _ => 0.0,
    };
    let (worse, better_way) = match better {
        Better::Lower => (direction > 0.0, direction < 0.0),
        Better::Higher => (direction < 0.0, direction > 0.0),
        Better::Neither => (false, false),
    };
    let comparable = ma.is_some() && mb.is_some() && significant && large;
    MetricComparison {
        id,
        unit: a.unit.as_str().to_string(),
        better,
        n_a: va.len(),
        n_b: vb.len(),
        median_a: ma,
        median_b: mb,
        change,
        p_value,
        regression: comparable && worse,
        improvement: comparable && better_way,
        success: compare_success(a, b),
    }
}

fn compare_success(a: &MetricSeries, b: &MetricSeries) -> SuccessComparison {
    let outcomes = |s: &MetricSeries| {
        let ok = s.ok() as usize;
        let failed = s.attempts() as usize - ok;
        let mut v = vec![1.0; ok];
        v.extend(std::iter::repeat_n(0.0, failed));
        v
    };
    let (ra, rb) = (a.success_ratio(), b.success_ratio());
    let p_value = stats::mann_whitney(&outcomes(a), &outcomes(b)).map(|m| m.p_value);
    let significant = p_value.is_some_and(|p| p < SIGNIFICANCE);
    let delta = match (ra, rb) {
        (Some(x), Some(y)) => y - x,
        _ => 0.0,
    };
    SuccessComparison {
        attempts_a: a.attempts(),
        attempts_b: b.attempts(),
        ratio_a: ra,
        ratio_b: rb,
        p_value,
        regression: significant && delta <= -MIN_SUCCESS_CHANGE,
        improvement: significant && delta >= MIN_SUCCESS_CHANGE,
    }
}

fn change(case: &str, expectation: Option<&str>, before: Verdict, after: Verdict) -> VerdictChange {
    let rank = |v: Verdict| match v {
        Verdict::Pass => Some(0),
        Verdict::Fail => Some(1),
        Verdict::Error => Some(2),
        Verdict::Skipped => None,
    };
    VerdictChange {
        case: case.to_string(),
        expectation: expectation.map(str::to_string),
        before,
        after,
        worse: matches!((rank(before), rank(after)), (Some(x), Some(y)) if y > x),
    }
}

impl Comparison {
    /// Whether anything got worse: a flagged metric or success ratio, or a
    /// verdict that went from pass to fail or error.
    pub fn has_regressions(&self) -> bool {
        self.regressions() > 0
    }

    /// How many things got worse.
    pub fn regressions(&self) -> usize {
        self.metrics
            .iter()
            .map(|m| usize::from(m.regression) + usize::from(m.success.regression))
            .sum::<usize>()
            + self.verdict_changes.iter().filter(|v| v.worse).count()
    }

    /// How many things got better.
    pub fn improvements(&self) -> usize {
        self.metrics
            .iter()
            .map(|m| usize::from(m.improvement) + usize::from(m.success.improvement))
            .sum()
    }

    /// A table for a terminal; ANSI colours only when `color`.
    pub fn terminal(&self, color: bool) -> String {
        let paint = |code: &str, s: &str| {
            if color {
                format!("\u{1b}[{code}m{s}\u{1b}[0m")
            } else {
                s.to_string()
            }
        };
        let mut out = format!(
            "compare run {} ({}) → run {} ({})\n",
            self.run_a, self.plan_a, self.run_b, self.plan_b
        );
        if !self.same_plan {
            out.push_str(
                "! the runs ran different plan texts; differences may come from the plans\n",
            );
        }
        out.push('\n');
        let rows: Vec<[String; 8]> = self.metrics.iter().map(row).collect();
        let header = [
            "CASE", "METRIC", "STEP", "N A/B", "MEDIAN A", "MEDIAN B", "CHANGE", "p",
        ]
        .map(String::from);
        let mut widths = [0usize; 8];
        for r in std::iter::once(&header).chain(&rows) {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String; 8]| {
            let mut l = String::new();
            for (cell, w) in cells.iter().zip(widths) {
                let _ = write!(l, "{cell}{}  ", " ".repeat(w - cell.chars().count()));
            }
            l
        };
        if self.metrics.is_empty() {
            out.push_str("No metric was measured in both runs.\n");
        } else {
            let _ = writeln!(out, "{}SUCCESS A → B", line(&header).trim_end());
            for (m, cells) in self.metrics.iter().zip(&rows) {
                let mut flags = Vec::new();
                if m.regression {
                    flags.push(paint("1;31", "REGRESSION"));
                }
                if m.improvement {
                    flags.push(paint("32", "improvement"));
                }
                if m.success.regression {
                    flags.push(paint("1;31", "SUCCESS REGRESSION"));
                }
                if m.success.improvement {
                    flags.push(paint("32", "success improvement"));
                }
                let l = format!(
                    "{}{}  {}",
                    line(cells),
                    success_text(&m.success),
                    flags.join(" ")
                );
                let _ = writeln!(out, "{}", l.trim_end());
            }
        }
        for (title, list) in [
            (format!("only in run {}", self.run_a), &self.only_in_a),
            (format!("only in run {}", self.run_b), &self.only_in_b),
        ] {
            if !list.is_empty() {
                let _ = writeln!(out, "\n{title}:");
                for id in list {
                    let _ = writeln!(out, "  {} {}{}", id.case, id.metric, step_suffix(&id.step));
                }
            }
        }
        for (title, list) in [
            (
                format!("cases only in run {}", self.run_a),
                &self.cases_only_in_a,
            ),
            (
                format!("cases only in run {}", self.run_b),
                &self.cases_only_in_b,
            ),
        ] {
            if !list.is_empty() {
                let _ = writeln!(out, "\n{title}: {}", list.join(", "));
            }
        }
        if !self.verdict_changes.is_empty() {
            out.push_str("\nverdict changes:\n");
            for v in &self.verdict_changes {
                let what = v
                    .expectation
                    .as_ref()
                    .map_or_else(|| "case".to_string(), |e| format!("`{e}`"));
                let arrow = format!("{} → {}", v.before.as_str(), v.after.as_str());
                let arrow = if v.worse {
                    paint("1;31", &arrow)
                } else {
                    arrow
                };
                let _ = writeln!(out, "  {} {what}: {arrow}", v.case);
            }
        }
        let _ = writeln!(
            out,
            "\n{} regression(s), {} improvement(s)",
            self.regressions(),
            self.improvements()
        );
        out
    }

    /// Markdown tables for a wiki or a merge request.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# Run {} → run {}\n\nPlans: {} → {}{}\n\n**{} regression(s), {} improvement(s).**\n\n",
            self.run_a,
            self.run_b,
            md_code(&self.plan_a),
            md_code(&self.plan_b),
            if self.same_plan {
                " (same plan text)"
            } else {
                " (**different plan texts**)"
            },
            self.regressions(),
            self.improvements()
        );
        if !self.metrics.is_empty() {
            out.push_str("| Case | Metric | Step | N a/b | Median a | Median b | Change | p | Success a → b | Flag |\n");
            out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
            for m in &self.metrics {
                let r = row(m);
                let mut flags = Vec::new();
                if m.regression {
                    flags.push("❌ regression");
                }
                if m.improvement {
                    flags.push("✅ improvement");
                }
                if m.success.regression {
                    flags.push("❌ success regression");
                }
                if m.success.improvement {
                    flags.push("✅ success improvement");
                }
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    md_code(&r[0]),
                    md_code(&r[1]),
                    md_text(&r[2]),
                    r[3],
                    md_text(&r[4]),
                    md_text(&r[5]),
                    md_text(&r[6]),
                    md_text(&r[7]),
                    md_text(&success_text(&m.success)),
                    flags.join(", ")
                );
            }
            out.push('\n');
        }
        for (title, list) in [
            (format!("Only in run {}", self.run_a), &self.only_in_a),
            (format!("Only in run {}", self.run_b), &self.only_in_b),
        ] {
            if !list.is_empty() {
                let _ = writeln!(out, "## {title}\n");
                for id in list {
                    let _ = writeln!(
                        out,
                        "- {} {}{}",
                        md_code(&id.case),
                        md_code(&id.metric),
                        md_text(&step_suffix(&id.step))
                    );
                }
                out.push('\n');
            }
        }
        if !self.verdict_changes.is_empty() {
            out.push_str("## Verdict changes\n\n| Case | Expectation | Before | After |\n|---|---|---|---|\n");
            for v in &self.verdict_changes {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {}{} |",
                    md_code(&v.case),
                    v.expectation
                        .as_deref()
                        .map_or_else(|| "(case)".to_string(), md_code),
                    v.before.as_str(),
                    v.after.as_str(),
                    if v.worse { " ❌" } else { "" }
                );
            }
            out.push('\n');
        }
        out
    }
}

fn row(m: &MetricComparison) -> [String; 8] {
    let unit = Unit::from_name(&m.unit);
    let median = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| value_text(v, unit));
    [
        m.id.case.clone(),
        m.id.metric.clone(),
        if m.id.step.is_empty() {
            "—".to_string()
        } else {
            m.id.step.clone()
        },
        format!("{}/{}", m.n_a, m.n_b),
        median(m.median_a),
        median(m.median_b),
        m.change
            .map_or_else(|| "—".to_string(), |c| format!("{:+.1} %", c * 100.0)),
        m.p_value.map_or_else(|| "—".to_string(), p_text),
    ]
}

fn success_text(s: &SuccessComparison) -> String {
    let r = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| Unit::Ratio.format(v));
    format!("{} → {}", r(s.ratio_a), r(s.ratio_b))
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "<0.001".to_string()
    } else {
        format!("{p:.3}")
    }
}

fn step_suffix(step: &str) -> String {
    if step.is_empty() {
        String::new()
    } else {
        format!(" (step {step})")
    }
}
