//! A case's samples as series: one per metric and step, split by repetition.
//!
//! Plots, the HTML statistics tables and run comparison all read samples
//! through [`MetricSeries`]. A series is keyed by the metric and the step
//! that produced it (the sample's `step` label, else the step row's name),
//! so two probes of the same kind in one case are never mixed. Numbers feed
//! the statistics; every sample, numeric or not, counts as an attempt, and
//! its `ok` flag counts toward the success ratio, so a failed attempt
//! (`Value::None`) lowers the ratio without polluting the percentiles.
//! Non-finite numbers are dropped here, once.

use std::collections::BTreeMap;

use netproof_sample::{Better, Timestamp, Unit, Value, metric};
use netproof_store::RunData;

use crate::case::{CaseGroup, Index};
use crate::time;

/// One metric of one step, per repetition.
#[derive(Debug, Clone)]
pub(crate) struct MetricSeries {
    /// The metric's name.
    pub metric: String,
    /// The step that produced it (empty when unknown).
    pub step: String,
    /// The unit recorded with its first sample.
    pub unit: Unit,
    /// Per repetition (or one entry, `run`, for run-level samples).
    pub reps: Vec<RepSeries>,
}

/// One repetition's samples of a series.
#[derive(Debug, Clone, Default)]
pub(crate) struct RepSeries {
    /// `rep 2`, or `run` for run-level samples.
    pub label: String,
    /// Numeric values: (seconds since the repetition started, value).
    pub points: Vec<(f64, f64)>,
    /// Times of attempts that produced no value.
    pub failures: Vec<f64>,
    /// Every sample.
    pub attempts: u64,
    /// Samples marked ok.
    pub ok: u64,
}

impl MetricSeries {
    /// Whether any repetition has a number to plot.
    pub fn is_numeric(&self) -> bool {
        self.unit != Unit::Text && self.reps.iter().any(|r| !r.points.is_empty())
    }

    /// Every numeric value, pooled across repetitions.
    pub fn values(&self) -> Vec<f64> {
        self.reps
            .iter()
            .flat_map(|r| r.points.iter().map(|p| p.1))
            .collect()
    }

    /// Attempts across repetitions.
    pub fn attempts(&self) -> u64 {
        self.reps.iter().map(|r| r.attempts).sum()
    }

    /// Successful attempts across repetitions.
    pub fn ok(&self) -> u64 {
        self.reps.iter().map(|r| r.ok).sum()
    }

    /// Successful attempts over all attempts, when there were any.
    pub fn success_ratio(&self) -> Option<f64> {
        let n = self.attempts();
        (n > 0).then(|| self.ok() as f64 / n as f64)
    }

    /// Which direction is better: the catalogue's word, else lower for
    /// durations and no opinion for anything else.
    pub fn better(&self) -> Better {
        match metric::lookup(&self.metric) {
            Some(m) => m.better,
            None if self.unit == Unit::Seconds => Better::Lower,
            None => Better::Neither,
        }
    }

    /// `tcp_connect.latency (step connect)`.
    pub fn title(&self) -> String {
        if self.step.is_empty() {
            self.metric.clone()
        } else {
            format!("{} (step {})", self.metric, self.step)
        }
    }
}

/// The series of one case, one entry per repetition.
pub(crate) fn for_case(data: &RunData, index: &Index, group: &CaseGroup) -> Vec<MetricSeries> {
    let parts: Vec<Part<'_>> = group
        .reps
        .iter()
        .map(|&ci| {
            let c = &data.cases[ci];
            Part {
                label: format!("rep {}", c.info.repetition),
                start: c.info.started,
                samples: index.samples(Some(c.id)),
            }
        })
        .collect();
    collect(data, index, &parts)
}

/// Samples that belong to no case (lab-level counters), timed from the
/// run's start.
pub(crate) fn for_run(data: &RunData, index: &Index) -> Vec<MetricSeries> {
    let part = Part {
        label: "run".to_string(),
        start: data.run.info.started,
        samples: index.samples(None),
    };
    collect(data, index, &[part])
}

struct Part<'a> {
    label: String,
    start: Timestamp,
    samples: &'a [usize],
}

fn collect(data: &RunData, index: &Index, parts: &[Part<'_>]) -> Vec<MetricSeries> {
    let mut out: Vec<MetricSeries> = Vec::new();
    let mut slot: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (p, part) in parts.iter().enumerate() {
        for &si in part.samples {
            let row = &data.samples[si];
            let s = &row.sample;
            let step = s
                .labels
                .get("step")
                .cloned()
                .or_else(|| {
                    row.step
                        .and_then(|id| index.step_row(id))
                        .map(|i| data.steps[i].info.name.clone())
                })
                .unwrap_or_default();
            let key = (s.metric.clone(), step);
            let i = *slot.entry(key.clone()).or_insert_with(|| {
                out.push(MetricSeries {
                    metric: key.0.clone(),
                    step: key.1.clone(),
                    unit: s.unit,
                    reps: parts
                        .iter()
                        .map(|part| RepSeries {
                            label: part.label.clone(),
                            ..RepSeries::default()
                        })
                        .collect(),
                });
                out.len() - 1
            });
            let rep = &mut out[i].reps[p];
            let t = time::seconds_between(part.start, s.time);
            rep.attempts += 1;
            if s.ok {
                rep.ok += 1;
            }
            match &s.value {
                Value::Num(v) if v.is_finite() && t.is_finite() => rep.points.push((t, *v)),
                Value::None => rep.failures.push(t),
                _ => {}
            }
        }
    }
    out
}
