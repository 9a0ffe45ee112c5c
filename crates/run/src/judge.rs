//! Judging expectations over one case repetition's samples.
//!
//! Aggregates follow the plan language reference: numeric aggregates (min,
//! max, mean, sum, percentiles) use the samples that carry a number;
//! `count` counts every sample (attempt), `success_ratio` divides the
//! successful ones by all, and `rate` is successful samples per second of
//! the timeline. A metric with no sample at all is an *error*, never a pass:
//! an expectation that cannot be checked has not been met.

use std::sync::{Arc, Mutex};

use netproof_plan::{Aggregate, Expectation};
use netproof_sample::{Artifact, Event, Sample, Sink, stats};
use netproof_store::{ExpectationResult, Verdict};

/// A sink that forwards to the store and keeps a copy of each sample for
/// judging the repetition it belongs to.
pub struct Tee {
    inner: Arc<dyn Sink>,
    kept: Arc<Mutex<Vec<Sample>>>,
}

impl Tee {
    /// Wraps `inner`, keeping samples in `kept`.
    pub fn new(inner: Arc<dyn Sink>, kept: Arc<Mutex<Vec<Sample>>>) -> Self {
        Tee { inner, kept }
    }
}

impl Sink for Tee {
    fn sample(&self, sample: Sample) {
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sample.clone());
        self.inner.sample(sample);
    }
    fn event(&self, event: Event) {
        self.inner.event(event);
    }
    fn artifact(&self, artifact: Artifact) {
        self.inner.artifact(artifact);
    }
}

/// Judges one expectation over `samples`; `timeline_secs` is how long the
/// timeline ran (for `rate`).
pub fn judge(exp: &Expectation, samples: &[Sample], timeline_secs: f64) -> ExpectationResult {
    let matching: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.metric == exp.metric)
        .filter(|s| {
            exp.labels
                .iter()
                .all(|(k, v)| s.labels.get(k).is_some_and(|x| x == v))
        })
        .collect();
    let mut result = ExpectationResult {
        text: exp.text.clone(),
        metric: exp.metric.clone(),
        aggregate: exp.aggregate.name(),
        op: exp.op.as_str().to_string(),
        threshold: exp.threshold,
        measured: None,
        unit: exp.unit.as_str().to_string(),
        verdict: Verdict::Error,
        detail: None,
        samples: matching.len() as u64,
    };
    if matching.is_empty() {
        let filter = if exp.labels.is_empty() {
            String::new()
        } else {
            let l: Vec<String> = exp
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            format!(" with {}", l.join(", "))
        };
        result.detail = Some(format!(
            "metric `{}`{filter} was never measured in this repetition",
            exp.metric
        ));
        return result;
    }
    let values: Vec<f64> = matching
        .iter()
        .filter_map(|s| s.value.as_f64())
        .filter(|v| v.is_finite())
        .collect();
    let ok = matching.iter().filter(|s| s.ok).count();
    let measured = match exp.aggregate {
        Aggregate::Count => Some(matching.len() as f64),
        Aggregate::SuccessRatio => Some(ok as f64 / matching.len() as f64),
        Aggregate::Rate => {
            if timeline_secs > 0.0 {
                Some(ok as f64 / timeline_secs)
            } else {
                None
            }
        }
        Aggregate::Min => values.iter().copied().reduce(f64::min),
        Aggregate::Max => values.iter().copied().reduce(f64::max),
        Aggregate::Mean => stats::mean(&values),
        Aggregate::Sum => (!values.is_empty()).then(|| values.iter().sum()),
        Aggregate::Percentile(p) => stats::percentile(&values, p),
    };
    match measured {
        Some(m) => {
            result.measured = Some(m);
            result.verdict = if exp.op.holds(m, exp.threshold) {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
        }
        None => {
            result.detail = Some(match exp.aggregate {
                Aggregate::Rate => "the timeline took no measurable time".to_string(),
                _ => format!(
                    "none of the {} samples of `{}` has a value ({} failed attempts)",
                    matching.len(),
                    exp.metric,
                    matching.len() - ok
                ),
            });
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use netproof_plan::{Comparison, Span};
    use netproof_sample::{Unit, metric};

    fn exp(aggregate: Aggregate, metric: &str, op: Comparison, threshold: f64) -> Expectation {
        Expectation {
            text: "t".into(),
            aggregate,
            metric: metric.into(),
            labels: vec![],
            op,
            threshold,
            unit: Unit::Seconds,
            span: Span::default(),
        }
    }

    fn latency(v: f64) -> Sample {
        Sample::num(&metric::TCP_CONNECT_LATENCY, v).label("step", "a")
    }

    #[test]
    fn unmeasured_metric_is_an_error_not_a_pass() {
        let e = exp(Aggregate::Max, "tcp_connect.latency", Comparison::Lt, 1.0);
        let r = judge(&e, &[], 1.0);
        assert_eq!(r.verdict, Verdict::Error);
        assert!(r.detail.unwrap().contains("never measured"));
    }

    #[test]
    fn failed_attempts_count_for_success_ratio_but_not_percentiles() {
        let samples = vec![
            latency(0.001),
            latency(0.003),
            Sample::failed(&metric::TCP_CONNECT_LATENCY, "refused"),
            latency(0.002),
        ];
        let p = judge(
            &exp(
                Aggregate::Percentile(50.0),
                "tcp_connect.latency",
                Comparison::Lt,
                0.0025,
            ),
            &samples,
            1.0,
        );
        assert_eq!(p.measured, Some(0.002));
        assert_eq!(p.verdict, Verdict::Pass);
        let s = judge(
            &exp(
                Aggregate::SuccessRatio,
                "tcp_connect.latency",
                Comparison::Ge,
                0.9,
            ),
            &samples,
            1.0,
        );
        assert_eq!(s.measured, Some(0.75));
        assert_eq!(s.verdict, Verdict::Fail);
        let c = judge(
            &exp(Aggregate::Count, "tcp_connect.latency", Comparison::Eq, 4.0),
            &samples,
            1.0,
        );
        assert_eq!(c.verdict, Verdict::Pass);
        let r = judge(
            &exp(Aggregate::Rate, "tcp_connect.latency", Comparison::Eq, 1.5),
            &samples,
            2.0,
        );
        assert_eq!(r.measured, Some(1.5));
    }

    #[test]
    fn all_attempts_failed_is_an_error_for_numeric_aggregates() {
        let samples = vec![Sample::failed(&metric::TCP_CONNECT_LATENCY, "refused")];
        let r = judge(
            &exp(Aggregate::Max, "tcp_connect.latency", Comparison::Lt, 1.0),
            &samples,
            1.0,
        );
        assert_eq!(r.verdict, Verdict::Error);
        assert!(r.detail.unwrap().contains("1 failed"));
    }

    #[test]
    fn label_filters_select_samples() {
        let samples = vec![
            latency(0.001),
            Sample::num(&metric::TCP_CONNECT_LATENCY, 9.0).label("step", "b"),
        ];
        let mut e = exp(Aggregate::Max, "tcp_connect.latency", Comparison::Lt, 1.0);
        e.labels = vec![("step".into(), "a".into())];
        assert_eq!(judge(&e, &samples, 1.0).verdict, Verdict::Pass);
        e.labels = vec![("step".into(), "c".into())];
        let r = judge(&e, &samples, 1.0);
        assert_eq!(r.verdict, Verdict::Error);
        assert!(r.detail.unwrap().contains("step=\"c\""));
    }
}
