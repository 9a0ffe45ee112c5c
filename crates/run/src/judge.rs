//! Judging expectations over one case repetition's samples.
//!
//! Aggregates follow the plan language reference: numeric aggregates (min,
//! max, mean, sum, percentiles) use the samples that carry a number;
//! `count` counts every sample (attempt), `success_ratio` divides the
//! successful ones by all, and `rate` is successful samples per second of
//! the timeline. A metric with no sample at all is an *error*, never a pass:
//! an expectation that cannot be checked has not been met.
//!
//! `all(...)`/`any(...) [!]contains "TEXT"` test each sample instead: a
//! sample contains TEXT when it is successful and its value is a set with
//! TEXT as a member or a text equal to it. The result records how many
//! samples passed the test as `measured`, the count needed to pass (all of
//! them, or one) as `threshold`, with unit `text`, and says it in words in
//! `detail` ("3 of 3 answers contain 198.18.10.1"), which is what reports
//! show for it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use netproof_plan::{Aggregate, Contains, Expectation, TemplatePart};
use netproof_sample::{Artifact, Event, Sample, Sink, Value, stats};
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

/// The lab's node addresses, for `{addr:NODE}` and `{addr6:NODE}` in
/// `contains` expectations.
#[derive(Debug, Clone, Default)]
pub struct NodeAddresses {
    /// Each node's address (`NodeHandle::addr`), by plan name.
    pub addr: BTreeMap<String, IpAddr>,
    /// Each node's IPv6 address, for the nodes that have one.
    pub addr6: BTreeMap<String, IpAddr>,
}

impl NodeAddresses {
    fn resolve(&self, part: &TemplatePart) -> Option<String> {
        match part {
            TemplatePart::Text(t) => Some(t.clone()),
            TemplatePart::Addr(n) => self.addr.get(n).map(IpAddr::to_string),
            TemplatePart::Addr6(n) => self.addr6.get(n).map(IpAddr::to_string),
        }
    }
}

/// Judges one expectation over `samples`; `timeline_secs` is how long the
/// timeline ran (for `rate`), `addresses` resolve placeholders in a
/// `contains` text.
pub fn judge(
    exp: &Expectation,
    samples: &[Sample],
    timeline_secs: f64,
    addresses: &NodeAddresses,
) -> ExpectationResult {
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
    if let Some(c) = &exp.contains {
        result.op = if c.negated { "!contains" } else { "contains" }.to_string();
    }
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
    if let Some(contains) = &exp.contains {
        judge_contains(&mut result, exp.aggregate, contains, &matching, addresses);
        return result;
    }
    // A service's own metric (`svc.*`) takes its unit from the threshold;
    // samples in another unit cannot be compared with it. (A catalogued
    // metric's samples are always in its canonical unit.)
    let numeric = matches!(
        exp.aggregate,
        Aggregate::Min
            | Aggregate::Max
            | Aggregate::Mean
            | Aggregate::Sum
            | Aggregate::Percentile(_)
    );
    if numeric
        && let Some(other) = matching
            .iter()
            .find(|s| s.value.as_f64().is_some() && s.unit != exp.unit)
    {
        result.detail = Some(format!(
            "samples of `{}` are in `{}`, but the threshold is in `{}`",
            exp.metric,
            other.unit.as_str(),
            exp.unit.as_str()
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
        // Only with a `contains` test, judged above.
        Aggregate::All | Aggregate::Any => None,
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
                Aggregate::All | Aggregate::Any => {
                    format!("`{}` needs a `contains` test", exp.aggregate.name())
                }
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

/// Judges `all`/`any` `[!]contains` over `matching` (at least one sample).
fn judge_contains(
    result: &mut ExpectationResult,
    aggregate: Aggregate,
    c: &Contains,
    matching: &[&Sample],
    addresses: &NodeAddresses,
) {
    let needle = match c.text.expand(|p| addresses.resolve(p)) {
        Ok(t) => t,
        Err(part) => {
            result.detail = Some(match part {
                TemplatePart::Addr6(n) if addresses.addr.contains_key(n) => format!(
                    "node `{n}` has no IPv6 address in this lab, so `{{addr6:{n}}}` cannot be resolved"
                ),
                TemplatePart::Addr(n) | TemplatePart::Addr6(n) => {
                    format!("node `{n}` is not in the lab")
                }
                TemplatePart::Text(_) => "the text could not be resolved".to_string(),
            });
            return;
        }
    };
    let holds = |s: &Sample| contains(s, &needle) != c.negated;
    let n = matching.len();
    let k = matching.iter().filter(|s| holds(s)).count();
    let pass = match aggregate {
        Aggregate::Any => k >= 1,
        _ => k == n,
    };
    result.measured = Some(k as f64);
    result.threshold = match aggregate {
        Aggregate::Any => 1.0,
        _ => n as f64,
    };
    result.verdict = if pass { Verdict::Pass } else { Verdict::Fail };

    let (one, many) = nouns(&result.metric);
    let noun = if n == 1 { one } else { many };
    let verb = match (c.negated, k == 1) {
        (false, true) => "contains",
        (false, false) => "contain",
        (true, true) => "does not contain",
        (true, false) => "do not contain",
    };
    let mut detail = format!("{k} of {n} {noun} {verb} {needle}");
    if !pass {
        // The first sample that spoiled it: for `all`, the first that
        // failed the test; for `any`, every one did, so the first.
        if let Some(s) = matching.iter().find(|s| !holds(s)) {
            let which = match (aggregate, c.negated) {
                (Aggregate::Any, _) => "the first",
                (_, false) => "the first that does not",
                (_, true) => "the first that does",
            };
            detail.push_str(&format!("; {which}: {}", describe(s)));
        }
    }
    result.detail = Some(detail);
}

/// Whether one sample contains `needle`: a successful sample whose value is
/// a set with it as a member, or a text equal to it.
fn contains(s: &Sample, needle: &str) -> bool {
    s.ok && match &s.value {
        Value::Set(v) => v.iter().any(|x| x == needle),
        Value::Text(t) => t == needle,
        Value::Num(_) | Value::None => false,
    }
}

/// What the samples of a metric are, in words (singular, plural).
fn nouns(metric: &str) -> (&'static str, &'static str) {
    match metric {
        "dns.answer" => ("answer", "answers"),
        "dns.rcode" => ("response code", "response codes"),
        "http.cert_names" => ("certificate", "certificates"),
        "exec.stdout" => ("output", "outputs"),
        _ => ("sample", "samples"),
    }
}

/// A sample's value for a reader: `{198.18.10.1, 198.18.10.2}`, `"text"`,
/// or why it has none.
fn describe(s: &Sample) -> String {
    const MAX: usize = 200;
    let mut text = match &s.value {
        Value::Set(v) if v.is_empty() => "an empty set".to_string(),
        Value::Set(v) => format!("{{{}}}", v.join(", ")),
        Value::Text(t) => format!("\"{t}\""),
        Value::Num(v) => format!("the number {v}"),
        Value::None => "no value".to_string(),
    };
    if text.chars().count() > MAX {
        text = text.chars().take(MAX).collect::<String>() + "…";
    }
    if !s.ok {
        let why = s
            .labels
            .get("error")
            .or_else(|| s.labels.get("rcode"))
            .map_or_else(String::new, |e| format!(": {e}"));
        text = format!("{text} (failed{why})");
    }
    if let Some(step) = s.labels.get("step") {
        text.push_str(&format!(" in step `{step}`"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use netproof_plan::{Comparison, Span, Template};
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
            contains: None,
        }
    }

    fn latency(v: f64) -> Sample {
        Sample::num(&metric::TCP_CONNECT_LATENCY, v).label("step", "a")
    }

    #[test]
    fn a_service_metric_in_another_unit_than_the_threshold_is_an_error() {
        let mut e = exp(Aggregate::Max, "svc.fill", Comparison::Lt, 0.5);
        let s = |v: f64, unit: Unit| Sample {
            unit,
            metric: "svc.fill".into(),
            ..latency(v)
        };
        let r = judge(
            &e,
            &[s(0.1, Unit::Seconds), s(0.2, Unit::Seconds)],
            1.0,
            &NodeAddresses::default(),
        );
        assert_eq!(r.verdict, Verdict::Pass);
        e.unit = Unit::Bytes;
        let r = judge(&e, &[s(0.1, Unit::Seconds)], 1.0, &NodeAddresses::default());
        assert_eq!(r.verdict, Verdict::Error);
        assert!(r.detail.unwrap().contains("are in `s`"));
        // Counting does not compare units.
        e.aggregate = Aggregate::Count;
        e.unit = Unit::Count;
        e.op = Comparison::Eq;
        e.threshold = 1.0;
        let r = judge(&e, &[s(0.1, Unit::Seconds)], 1.0, &NodeAddresses::default());
        assert_eq!(r.verdict, Verdict::Pass);
    }

    #[test]
    fn unmeasured_metric_is_an_error_not_a_pass() {
        let e = exp(Aggregate::Max, "tcp_connect.latency", Comparison::Lt, 1.0);
        let r = judge(&e, &[], 1.0, &NodeAddresses::default());
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
            &NodeAddresses::default(),
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
            &NodeAddresses::default(),
        );
        assert_eq!(s.measured, Some(0.75));
        assert_eq!(s.verdict, Verdict::Fail);
        let c = judge(
            &exp(Aggregate::Count, "tcp_connect.latency", Comparison::Eq, 4.0),
            &samples,
            1.0,
            &NodeAddresses::default(),
        );
        assert_eq!(c.verdict, Verdict::Pass);
        let r = judge(
            &exp(Aggregate::Rate, "tcp_connect.latency", Comparison::Eq, 1.5),
            &samples,
            2.0,
            &NodeAddresses::default(),
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
            &NodeAddresses::default(),
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
        assert_eq!(
            judge(&e, &samples, 1.0, &NodeAddresses::default()).verdict,
            Verdict::Pass
        );
        e.labels = vec![("step".into(), "c".into())];
        let r = judge(&e, &samples, 1.0, &NodeAddresses::default());
        assert_eq!(r.verdict, Verdict::Error);
        assert!(r.detail.unwrap().contains("step=\"c\""));
    }

    fn contains_exp(aggregate: Aggregate, negated: bool, text: Template) -> Expectation {
        Expectation {
            aggregate,
            metric: "dns.answer".into(),
            labels: vec![("step".into(), "eu".into())],
            unit: Unit::Text,
            contains: Some(Contains { negated, text }),
            ..exp(aggregate, "dns.answer", Comparison::Eq, 0.0)
        }
    }

    fn lit(s: &str) -> Template {
        Template(vec![TemplatePart::Text(s.into())])
    }

    fn answer(items: &[&str]) -> Sample {
        Sample {
            value: Value::set(items.iter().copied()),
            ..Sample::num(&metric::DNS_ANSWER, 0.0)
        }
        .label("step", "eu")
    }

    fn failed_answer() -> Sample {
        Sample::failed(&metric::DNS_ANSWER, "no answer after 3 tries").label("step", "eu")
    }

    fn run(e: &Expectation, samples: &[Sample]) -> ExpectationResult {
        judge(e, samples, 1.0, &NodeAddresses::default())
    }

    #[test]
    fn all_contains_needs_every_answer_to_hold_the_address() {
        let e = contains_exp(Aggregate::All, false, lit("198.18.10.1"));
        let good = vec![
            answer(&["198.18.10.1"]),
            answer(&["198.18.10.1", "198.18.10.2"]),
            answer(&["198.18.10.1"]),
        ];
        let r = run(&e, &good);
        assert_eq!(r.verdict, Verdict::Pass);
        assert_eq!((r.measured, r.threshold), (Some(3.0), 3.0));
        assert_eq!(r.op, "contains");
        assert_eq!(r.aggregate, "all");
        assert_eq!(r.unit, "text");
        assert_eq!(
            r.detail.as_deref(),
            Some("3 of 3 answers contain 198.18.10.1")
        );

        let mut bad = good.clone();
        bad.insert(1, answer(&["198.18.10.2"]));
        let r = run(&e, &bad);
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(r.measured, Some(3.0));
        assert_eq!(
            r.detail.as_deref(),
            Some(
                "3 of 4 answers contain 198.18.10.1; the first that does not: \
                 {198.18.10.2} in step `eu`"
            )
        );
    }

    #[test]
    fn any_contains_needs_one_answer() {
        let e = contains_exp(Aggregate::Any, false, lit("198.18.10.2"));
        let samples = vec![answer(&["198.18.10.1"]), answer(&["198.18.10.2"])];
        let r = run(&e, &samples);
        assert_eq!(r.verdict, Verdict::Pass);
        assert_eq!((r.measured, r.threshold), (Some(1.0), 1.0));
        assert_eq!(
            r.detail.as_deref(),
            Some("1 of 2 answers contains 198.18.10.2")
        );
        let r = run(&e, &samples[..1]);
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(
            r.detail.as_deref(),
            Some("0 of 1 answer contain 198.18.10.2; the first: {198.18.10.1} in step `eu`")
        );
    }

    #[test]
    fn not_contains_negates_each_sample() {
        let samples = vec![answer(&["198.18.10.1"]), answer(&["198.18.10.2"])];
        let none = contains_exp(Aggregate::All, true, lit("198.18.10.9"));
        assert_eq!(run(&none, &samples).verdict, Verdict::Pass);
        let r = run(
            &contains_exp(Aggregate::All, true, lit("198.18.10.2")),
            &samples,
        );
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(r.op, "!contains");
        assert_eq!(
            r.detail.as_deref(),
            Some(
                "1 of 2 answers does not contain 198.18.10.2; the first that does: \
                 {198.18.10.2} in step `eu`"
            )
        );
        let some = contains_exp(Aggregate::Any, true, lit("198.18.10.2"));
        assert_eq!(run(&some, &samples).verdict, Verdict::Pass);
        assert_eq!(run(&some, &samples[1..]).verdict, Verdict::Fail);
    }

    #[test]
    fn failed_samples_and_numbers_never_contain() {
        let e = contains_exp(Aggregate::All, false, lit("198.18.10.1"));
        let r = run(&e, &[answer(&["198.18.10.1"]), failed_answer()]);
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(
            r.detail.as_deref().unwrap().ends_with(
                "the first that does not: no value (failed: no answer after 3 tries) in step `eu`"
            ),
            "{:?}",
            r.detail
        );
        // A failed sample with a value (an NXDOMAIN's empty answer, or a
        // set recorded although the attempt was not ok) does not count.
        let not_ok = answer(&["198.18.10.1"]).with_ok(false);
        assert_eq!(
            run(&e, std::slice::from_ref(&not_ok)).verdict,
            Verdict::Fail
        );
        // ... so `!contains` holds for it.
        let neg = contains_exp(Aggregate::All, true, lit("198.18.10.1"));
        assert_eq!(run(&neg, &[not_ok, failed_answer()]).verdict, Verdict::Pass);
        let number = Sample::num(&metric::DNS_ANSWER, 1.0).label("step", "eu");
        assert_eq!(run(&e, &[number]).verdict, Verdict::Fail);
        // Text values contain what they equal.
        let mut rcode = contains_exp(Aggregate::All, false, lit("NOERROR"));
        rcode.metric = "dns.rcode".into();
        let text = |t: &str| {
            Sample {
                value: Value::Text(t.into()),
                ..Sample::num(&metric::DNS_RCODE, 0.0)
            }
            .label("step", "eu")
        };
        assert_eq!(run(&rcode, &[text("NOERROR")]).verdict, Verdict::Pass);
        assert_eq!(run(&rcode, &[text("NOERRORS")]).verdict, Verdict::Fail);
    }

    #[test]
    fn contains_with_no_sample_is_an_error() {
        let e = contains_exp(Aggregate::All, true, lit("198.18.10.1"));
        let r = run(
            &e,
            &[Sample::num(&metric::DNS_LATENCY, 0.01).label("step", "eu")],
        );
        assert_eq!(r.verdict, Verdict::Error);
        assert_eq!(r.measured, None);
        assert!(r.detail.unwrap().contains("never measured"));
    }

    #[test]
    fn placeholders_resolve_to_the_lab_addresses() {
        let mut addresses = NodeAddresses::default();
        addresses
            .addr
            .insert("edge".into(), "198.18.10.1".parse().unwrap());
        addresses
            .addr6
            .insert("edge".into(), "2001:2:10::1".parse().unwrap());
        let t = |part: TemplatePart| Template(vec![part]);
        let samples = vec![answer(&["198.18.10.1", "2001:2:10::1"])];
        for part in [
            TemplatePart::Addr("edge".into()),
            TemplatePart::Addr6("edge".into()),
        ] {
            let e = contains_exp(Aggregate::All, false, t(part));
            let r = judge(&e, &samples, 1.0, &addresses);
            assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.detail);
        }
        addresses.addr6.clear();
        let e = contains_exp(Aggregate::All, false, t(TemplatePart::Addr6("edge".into())));
        let r = judge(&e, &samples, 1.0, &addresses);
        assert_eq!(r.verdict, Verdict::Error);
        assert!(r.detail.unwrap().contains("no IPv6 address"));
        let e = contains_exp(Aggregate::Any, false, t(TemplatePart::Addr("gone".into())));
        let r = judge(&e, &samples, 1.0, &addresses);
        assert_eq!(r.verdict, Verdict::Error);
        assert!(r.detail.unwrap().contains("`gone` is not in the lab"));
    }
}
