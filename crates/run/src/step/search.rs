//! `search`: a trial step run again and again while [`bisect::Bisect`]
//! moves one of its keys, for the highest value at which the search's
//! conditions hold over that trial's samples.
//!
//! Every trial's samples go to the store as they arrive, labelled with
//! `trial` (1, 2, ...) and `value` (the key's value, in its canonical
//! unit), so a report can show each trial and plot rate against loss; a
//! `search.trial_*` sample per trial records the value tried and whether
//! it passed (`pass`), and `search.<unit>` the answer. A search whose
//! trial cannot run stops with the step's error and keeps every trial it
//! measured. A search over `pktgen`'s `burst` also reports RFC 9004's
//! buffer times.

mod bisect;

use std::sync::{Arc, Mutex};

use netproof_plan::{NodeAction, Search};
use netproof_sample::metric::{
    self, Metric, PKTGEN_OFFERED, SEARCH_BUFFER_TIME, SEARCH_CORRECTED_BUFFER_TIME,
};
use netproof_sample::{Artifact, Event, Labels, Sample, Severity, Sink, Unit};
use tokio::time::Instant;

use crate::judge::{NodeAddresses, judge};
use netproof_store::Verdict;

use super::{ActionOutcome, StepContext, StepError};
pub use bisect::Bisect;

/// Adds a trial's labels to every sample and keeps a copy for judging.
struct TrialSink {
    inner: Arc<dyn Sink>,
    labels: Labels,
    kept: Mutex<Vec<Sample>>,
}

impl Sink for TrialSink {
    fn sample(&self, mut sample: Sample) {
        for (k, v) in &self.labels {
            sample.labels.insert(k.clone(), v.clone());
        }
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sample.clone());
        self.inner.sample(sample);
    }
    fn event(&self, mut event: Event) {
        for (k, v) in &self.labels {
            event.labels.insert(k.clone(), v.clone());
        }
        self.inner.event(event);
    }
    fn artifact(&self, artifact: Artifact) {
        self.inner.artifact(artifact);
    }
}

/// The per-trial and answer metrics of a search over a key of `unit`.
fn metrics(unit: Unit) -> (&'static Metric, &'static Metric) {
    let (trial, answer) = match unit {
        Unit::BitsPerSecond => ("search.trial_rate", "search.rate"),
        Unit::Bytes => ("search.trial_size", "search.size"),
        Unit::Seconds => ("search.trial_duration", "search.duration"),
        _ => ("search.trial_count", "search.count"),
    };
    // Both are catalogued (sample::metric::procedure); a lookup that fails
    // is a programming error caught by this module's tests.
    (
        metric::lookup(trial).unwrap_or(&metric::SEARCH_TRIAL_COUNT),
        metric::lookup(answer).unwrap_or(&metric::SEARCH_COUNT),
    )
}

/// A value of the searched key for labels and messages.
fn show(unit: Unit, v: f64) -> String {
    unit.format(v)
}

pub(super) async fn run(step: &Search, ctx: &StepContext) -> Result<ActionOutcome, StepError> {
    let whole = matches!(step.unit, Unit::Bytes | Unit::Count);
    let mut bisect = Bisect::new(step.min, step.max, step.resolution, step.max_trials, whole);
    let (trial_metric, answer_metric) = metrics(step.unit);
    let mut base = super::probe_labels(ctx, String::new());
    base.remove("to");
    base.insert("param".into(), step.param.to_string());
    let mut best_offered: Option<f64> = None;
    while let Some(value) = bisect.next() {
        let n = bisect.trials() + 1;
        let mut action = (*step.trial).clone();
        action
            .set_quantity(step.param, value)
            .map_err(|e| StepError(format!("search trial {n}: {e}")))?;
        let mut labels = Labels::new();
        labels.insert("trial".into(), n.to_string());
        labels.insert("value".into(), format!("{value}"));
        let sink = Arc::new(TrialSink {
            inner: ctx.sink.clone(),
            labels: labels.clone(),
            kept: Mutex::new(Vec::new()),
        });
        let trial_ctx = StepContext {
            sink: sink.clone(),
            seed: netproof_proto::seed::derive_named(ctx.seed, "search.trial", u64::from(n)),
            ..ctx.clone()
        };
        let started = Instant::now();
        let outcome = Box::pin(super::act(&action, &trial_ctx)).await?;
        let samples = std::mem::take(&mut *sink.kept.lock().unwrap_or_else(|e| e.into_inner()));
        let secs = started.elapsed().as_secs_f64();
        let mut pass = true;
        let mut why = Vec::new();
        for c in &step.condition {
            let r = judge(c, &samples, secs, &NodeAddresses::default());
            if r.verdict != Verdict::Pass {
                pass = false;
                why.push(match r.measured {
                    Some(m) => format!("`{}` measured {}", c.text, c.unit.format(m)),
                    None => format!("`{}`: {}", c.text, r.detail.unwrap_or_default()),
                });
            }
        }
        if let ActionOutcome::Failed(reason) = &outcome {
            pass = false;
            why.push(format!("the trial failed: {reason}"));
        }
        if pass {
            best_offered = samples
                .iter()
                .find(|s| s.metric == PKTGEN_OFFERED.name)
                .and_then(|s| s.value.as_f64());
        }
        let mut s = Sample::num(trial_metric, value)
            .label("trial", n.to_string())
            .label("pass", pass.to_string());
        for (k, v) in &base {
            s = s.label(k.clone(), v.clone());
        }
        ctx.sink.sample(s);
        ctx.sink.event(
            Event::new(
                "search.trial",
                Severity::Info,
                format!(
                    "search `{}` trial {n}: `{}` = {} {}{}",
                    ctx.step_name,
                    step.param,
                    show(step.unit, value),
                    if pass { "passed" } else { "failed" },
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", why.join("; "))
                    }
                ),
            )
            .label("step", &ctx.step_name)
            .label("trial", n.to_string()),
        );
        bisect.record(value, pass);
    }
    let Some(answer) = bisect.answer() else {
        let mut s = Sample::failed(
            answer_metric,
            format!(
                "no `{}` in {}..{} satisfied the condition",
                step.param,
                show(step.unit, step.min),
                show(step.unit, step.max)
            ),
        );
        for (k, v) in &base {
            s = s.label(k.clone(), v.clone());
        }
        ctx.sink.sample(s);
        return Ok(ActionOutcome::Failed(format!(
            "no `{}` between {} and {} satisfied the condition in {} trials",
            step.param,
            show(step.unit, step.min),
            show(step.unit, step.max),
            bisect.trials()
        )));
    };
    let mut s = Sample::num(answer_metric, answer).label("trials", bisect.trials().to_string());
    for (k, v) in &base {
        s = s.label(k.clone(), v.clone());
    }
    ctx.sink.sample(s.clone());
    if let (NodeAction::Pktgen(p), "burst") = (&*step.trial, step.param) {
        for (metric, value) in buffer_times(
            answer,
            p.frame,
            p.rate.map(|r| r as f64).or(best_offered),
            step.throughput,
        ) {
            let mut b = Sample::num(metric, value);
            b.labels = s.labels.clone();
            ctx.sink.sample(b);
        }
    }
    Ok(ActionOutcome::Ok)
}

/// RFC 9004 section 6: the implied buffer time of `burst` back-to-back
/// frames of `frame` bytes sent at `sent_rate` bits/s (the burst over the
/// frame rate it was sent at) and, given the `throughput` (bits/s), the
/// corrected one: while the burst arrives the device forwards at its
/// throughput, so what it held is `burst × (1 − T/R)` frames, which
/// drain at `T`: `burst × (1/T − 1/R)` seconds.
pub(crate) fn buffer_times(
    burst: f64,
    frame: u32,
    sent_rate: Option<f64>,
    throughput: Option<u64>,
) -> Vec<(&'static Metric, f64)> {
    let bits = f64::from(frame) * 8.0;
    let Some(r) = sent_rate.filter(|r| *r > 0.0).map(|r| r / bits) else {
        return Vec::new();
    };
    let mut out = vec![(&SEARCH_BUFFER_TIME, burst / r)];
    if let Some(t) = throughput
        .map(|t| t as f64 / bits)
        .filter(|t| *t > 0.0 && *t < r)
    {
        out.push((&SEARCH_CORRECTED_BUFFER_TIME, burst * (1.0 / t - 1.0 / r)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_has_catalogued_trial_and_answer_metrics() {
        for unit in [Unit::BitsPerSecond, Unit::Bytes, Unit::Seconds, Unit::Count] {
            let (t, a) = metrics(unit);
            assert_eq!((t.unit, a.unit), (unit, unit));
            assert!(t.name.starts_with("search.trial_") && a.name.starts_with("search."));
        }
    }

    #[test]
    fn rfc_9004_buffer_times_by_hand() {
        // 1000 frames of 1518 B sent at 100 Mbit/s (8234.5 frames/s) into a
        // device forwarding 50 Mbit/s (4117.3 frames/s).
        let t = buffer_times(1000.0, 1518, Some(100e6), Some(50_000_000));
        let (r, tp) = (100e6 / 12144.0, 50e6 / 12144.0);
        assert_eq!(t[0].0.name, "search.buffer_time");
        assert!((t[0].1 - 1000.0 / r).abs() < 1e-12);
        assert!((t[1].1 - 1000.0 * (1.0 / tp - 1.0 / r)).abs() < 1e-12);
        // 0.12144 s: the held half of the burst drains at 50 Mbit/s.
        assert!((t[1].1 - 0.12144).abs() < 1e-9, "{}", t[1].1);
        // No throughput, or one not below the sending rate: no correction.
        assert_eq!(buffer_times(1000.0, 1518, Some(100e6), None).len(), 1);
        assert_eq!(
            buffer_times(1000.0, 1518, Some(100e6), Some(200_000_000)).len(),
            1
        );
        assert!(buffer_times(1000.0, 1518, None, None).is_empty());
    }
}
