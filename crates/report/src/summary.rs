//! The run's verdicts and figures as a serialisable value.
//!
//! [`Summary`] is what every format agrees on: each case's overall verdict
//! (the worst of its repetitions: error > fail > pass, skipped only when all
//! were skipped; an unfinished repetition counts as an error, never a pass),
//! and each expectation's per-repetition measurements with their median and
//! the distribution-free confidence interval of that median from
//! [`stats::median_interval`]. With fewer than six repetitions no interval
//! reaches 95 %; the interval then carries its true coverage and the reports
//! say it ("75 % CI, 3 reps"). An expectation passes for a case only when it
//! passed in every repetition that ran.

use std::collections::BTreeMap;

use netproof_sample::{Timestamp, Unit, stats};
use netproof_store::{HostFacts, RunData, RunStatus, Topology, Verdict};
use serde::Serialize;

use crate::case::Index;
use crate::time;

/// Verdicts and figures of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The run's id.
    pub run: i64,
    /// The plan's name.
    pub plan: String,
    /// Where the run stands.
    pub status: RunStatus,
    /// What the status means for the data, when it is not a plain finish.
    pub status_note: Option<String>,
    /// Cases by verdict.
    pub counts: Counts,
    /// The cases in execution order.
    pub cases: Vec<CaseSummary>,
}

/// How many cases ended how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counts {
    /// All cases.
    pub cases: usize,
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases that errored (or did not finish).
    pub errored: usize,
    /// Cases skipped in every repetition.
    pub skipped: usize,
}

/// One case across its repetitions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseSummary {
    /// The case id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its purpose (procedure prose), if any.
    pub purpose: Option<String>,
    /// The worst verdict of its repetitions.
    pub verdict: Verdict,
    /// How many repetitions were recorded.
    pub repetitions: u32,
    /// How many the plan asked for.
    pub planned_repetitions: u32,
    /// Each repetition.
    pub reps: Vec<RepSummary>,
    /// Each expectation, in the order the plan lists them.
    pub expectations: Vec<ExpectationSummary>,
}

/// One repetition of a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepSummary {
    /// The repetition, counting from 1.
    pub repetition: u32,
    /// Its verdict; `None` when it never finished.
    pub verdict: Option<Verdict>,
    /// Its duration, when it finished.
    pub duration_s: Option<f64>,
    /// Why it errored, if it did.
    pub error: Option<String>,
    /// Steps that recorded an error.
    pub step_errors: Vec<StepError>,
}

/// A step's error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepError {
    /// The step's name.
    pub step: String,
    /// The error.
    pub message: String,
}

/// One expectation across a case's repetitions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectationSummary {
    /// The expectation as written.
    pub text: String,
    /// The metric it is about.
    pub metric: String,
    /// The aggregate (`p99`, `success_ratio`, ...).
    pub aggregate: String,
    /// The comparison operator.
    pub op: String,
    /// The threshold, in `unit`.
    pub threshold: f64,
    /// The canonical unit name of threshold and measurements.
    pub unit: String,
    /// Pass only if it passed in every repetition that ran.
    pub verdict: Verdict,
    /// The measurement of each repetition.
    pub measured: Vec<RepMeasurement>,
    /// The median of the measured values, if any was measured.
    pub median: Option<f64>,
    /// The median's confidence interval, from two measured values on.
    pub ci: Option<Interval>,
    /// Why, when a verdict is not a plain comparison.
    pub detail: Option<String>,
}

/// One repetition's measurement of an expectation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepMeasurement {
    /// The repetition.
    pub repetition: u32,
    /// The measured aggregate; `None` when nothing was measured.
    pub value: Option<f64>,
    /// The verdict; `None` when the repetition did not judge it.
    pub verdict: Option<Verdict>,
    /// How many samples the aggregate was computed over.
    pub samples: u64,
    /// The repetition's detail, if any.
    pub detail: Option<String>,
}

/// A confidence interval for a median.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// The true coverage (at least 0.95 from six values on).
    pub confidence: f64,
    /// How many values it is computed from.
    pub n: usize,
}

impl Interval {
    /// `[3.90 ms, 5.60 ms] (75 % CI, 3 reps)`; the coverage shown is the
    /// true one whenever 95 % was out of reach.
    pub fn describe(&self, unit: Option<Unit>) -> String {
        let coverage = if self.confidence >= 0.95 {
            "95 % CI".to_string()
        } else {
            format!("{} % CI", percent(self.confidence))
        };
        format!(
            "[{}, {}] ({coverage}, {} reps)",
            value_text(self.low, unit),
            value_text(self.high, unit),
            self.n
        )
    }
}

impl ExpectationSummary {
    /// The canonical unit, if its name is known.
    pub fn unit(&self) -> Option<Unit> {
        Unit::from_name(&self.unit)
    }

    /// `< 5.00 ms`.
    pub fn threshold_text(&self) -> String {
        match self.unit() {
            Some(Unit::Text) => self.op.clone(),
            unit => format!("{} {}", self.op, value_text(self.threshold, unit)),
        }
    }

    /// Whether it is `all(...)`/`any(...) [!]contains "TEXT"`, whose
    /// measurement is a count of samples that passed the test and whose
    /// detail says it in words.
    pub fn is_membership(&self) -> bool {
        self.op == "contains" || self.op == "!contains"
    }

    /// One repetition's measurement as a table cell: the value in its unit,
    /// or `3 of 4` samples for a `contains` test.
    pub fn rep_text(&self, m: &RepMeasurement) -> Option<String> {
        let v = m.value?;
        Some(if self.is_membership() {
            format!("{} of {}", value_text(v, None), m.samples)
        } else {
            value_text(v, self.unit())
        })
    }

    /// The key figure: the measured value for one repetition, the median
    /// and its interval for several, `not measured` for none. A `contains`
    /// test says what it found in words (`3 of 3 answers contain
    /// 198.18.10.1`), or in how many repetitions it held.
    pub fn figure(&self) -> String {
        let unit = self.unit();
        if self.is_membership() && self.median.is_some() {
            // `detail` is the repetitions' own when they all say the same.
            if let Some(d) = &self.detail
                && self.measured.iter().all(|m| m.detail.as_ref() == Some(d))
            {
                return d.clone();
            }
            let held = self
                .measured
                .iter()
                .filter(|m| m.verdict == Some(Verdict::Pass))
                .count();
            return format!("held in {held} of {} repetitions", self.measured.len());
        }
        match (self.median, &self.ci) {
            (None, _) => "not measured".to_string(),
            (Some(m), None) => value_text(m, unit),
            (Some(m), Some(ci)) => format!("median {} {}", value_text(m, unit), ci.describe(unit)),
        }
    }
}

/// A value in a unit, or a plain number when the unit is unknown.
pub(crate) fn value_text(v: f64, unit: Option<Unit>) -> String {
    match unit {
        Some(Unit::Text) | None => {
            if v.fract() == 0.0 && v.abs() < 1e15 {
                format!("{}", v as i64)
            } else {
                format!("{v}")
            }
        }
        Some(u) => u.format(v),
    }
}

/// `75`, `87.5`, `96.1`: a coverage as a percentage.
fn percent(p: f64) -> String {
    let v = (p * 1000.0).round() / 10.0;
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// `1 case`, `3 cases`.
pub(crate) fn cases_text(n: usize) -> String {
    if n == 1 {
        "1 case".to_string()
    } else {
        format!("{n} cases")
    }
}

/// The worst of several verdicts: error > fail > pass > skipped, where
/// `None` (not finished, not judged) counts as an error. Empty means skipped.
pub(crate) fn worst<I: IntoIterator<Item = Option<Verdict>>>(verdicts: I) -> Verdict {
    let rank = |v: Verdict| match v {
        Verdict::Skipped => 0,
        Verdict::Pass => 1,
        Verdict::Fail => 2,
        Verdict::Error => 3,
    };
    verdicts
        .into_iter()
        .map(|v| v.unwrap_or(Verdict::Error))
        .max_by_key(|&v| rank(v))
        .unwrap_or(Verdict::Skipped)
}

/// The note a report shows for a status, when it needs one.
pub(crate) fn status_note(status: RunStatus) -> Option<&'static str> {
    Some(match status {
        RunStatus::Aborted => {
            "This run was aborted: the netproof process that owned it died before finishing \
             (a crash, SIGKILL or power loss). Everything measured up to the crash is kept; \
             samples from up to the last 100 ms before it may be lost. Cases without a verdict \
             did not finish; cases not reached are missing."
        }
        RunStatus::Interrupted => {
            "This run was interrupted (Ctrl-C or SIGTERM) and its lab was torn down in order. \
             Cases that had not finished have no verdict; cases not reached are missing."
        }
        RunStatus::Running => {
            "This run was still running when the report was made (or its owner died and no \
             store has been opened since to notice). The report shows what was recorded so far."
        }
        RunStatus::Error => {
            "The lab or its infrastructure failed during this run (a service did not start, a \
             step could not run, or the store could not write); see the errors below."
        }
        RunStatus::Passed | RunStatus::Failed => return None,
    })
}

pub(crate) fn build(data: &RunData, index: &Index) -> Summary {
    let mut counts = Counts::default();
    let mut cases = Vec::new();
    for group in &index.cases {
        let reps: Vec<RepSummary> = group
            .reps
            .iter()
            .map(|&i| {
                let c = &data.cases[i];
                let step_errors = index
                    .steps(c.id)
                    .iter()
                    .map(|&s| &data.steps[s])
                    // A step whose attempts failed (verdict `fail`) measured
                    // something; in a passing case that is the expected
                    // result (a closed port refused), not a problem.
                    .filter(|s| {
                        s.verdict == Some(Verdict::Error) || c.verdict != Some(Verdict::Pass)
                    })
                    .filter_map(|s| {
                        s.error.as_ref().map(|e| StepError {
                            step: s.info.name.clone(),
                            message: e.clone(),
                        })
                    })
                    .collect();
                RepSummary {
                    repetition: c.info.repetition,
                    verdict: c.verdict,
                    duration_s: c
                        .ended
                        .map(|e| time::seconds_between(c.info.started, e))
                        .filter(|d| d.is_finite() && *d >= 0.0),
                    error: c.error.clone(),
                    step_errors,
                }
            })
            .collect();
        let expectations = expectations(data, index, &group.reps);
        let verdict = worst(reps.iter().map(|r| r.verdict));
        counts.cases += 1;
        match verdict {
            Verdict::Pass => counts.passed += 1,
            Verdict::Fail => counts.failed += 1,
            Verdict::Error => counts.errored += 1,
            Verdict::Skipped => counts.skipped += 1,
        }
        cases.push(CaseSummary {
            id: group.id.clone(),
            title: group.title.clone(),
            purpose: group.purpose.clone(),
            verdict,
            repetitions: reps.len() as u32,
            planned_repetitions: group.planned.max(reps.len() as u32),
            reps,
            expectations,
        });
    }
    Summary {
        run: data.run.id.0,
        plan: data.run.info.plan_name.clone(),
        status: data.run.status,
        status_note: status_note(data.run.status).map(str::to_string),
        counts,
        cases,
    }
}

/// Groups a case's expectation rows by their text (and occurrence, should
/// a case list the same expectation twice), in the order first seen.
fn expectations(data: &RunData, index: &Index, reps: &[usize]) -> Vec<ExpectationSummary> {
    type Key = (String, usize);
    let mut order: Vec<Key> = Vec::new();
    let mut rows: BTreeMap<Key, BTreeMap<usize, usize>> = BTreeMap::new();
    for (r, &ci) in reps.iter().enumerate() {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for &ei in index.expectations(data.cases[ci].id) {
            let text = data.expectations[ei].result.text.as_str();
            let n = seen.entry(text).or_default();
            let key = (text.to_string(), *n);
            *n += 1;
            if !rows.contains_key(&key) {
                order.push(key.clone());
            }
            rows.entry(key).or_default().entry(r).or_insert(ei);
        }
    }
    order
        .into_iter()
        .map(|key| {
            let by_rep = &rows[&key];
            let first = by_rep
                .values()
                .next()
                .map(|&ei| &data.expectations[ei].result);
            let mut measured = Vec::new();
            let mut details: Vec<String> = Vec::new();
            let mut verdicts = Vec::new();
            for (r, &ci) in reps.iter().enumerate() {
                let case = &data.cases[ci];
                let repetition = case.info.repetition;
                match by_rep.get(&r).map(|&ei| &data.expectations[ei].result) {
                    Some(e) => {
                        verdicts.push(Some(e.verdict));
                        if let Some(d) = &e.detail {
                            details.push(if reps.len() > 1 {
                                format!("rep {repetition}: {d}")
                            } else {
                                d.clone()
                            });
                        }
                        measured.push(RepMeasurement {
                            repetition,
                            value: e.measured.filter(|v| v.is_finite()),
                            verdict: Some(e.verdict),
                            samples: e.samples,
                            detail: e.detail.clone(),
                        });
                    }
                    None => {
                        // A skipped repetition judges nothing; any other
                        // repetition without a judgement cannot be a pass.
                        if case.verdict != Some(Verdict::Skipped) {
                            verdicts.push(None);
                            details.push(format!("not judged in repetition {repetition}"));
                        }
                        measured.push(RepMeasurement {
                            repetition,
                            value: None,
                            verdict: None,
                            samples: 0,
                            detail: None,
                        });
                    }
                }
            }
            let values: Vec<f64> = measured.iter().filter_map(|m| m.value).collect();
            let ci = if values.len() >= 2 {
                stats::median_interval(&values, 0.95).map(|i| Interval {
                    low: i.low,
                    high: i.high,
                    confidence: i.confidence,
                    n: values.len(),
                })
            } else {
                None
            };
            // When every repetition says the same thing, say it once.
            let first_detail = measured.first().and_then(|m| m.detail.as_deref());
            let all_same = first_detail.is_some()
                && measured.iter().all(|m| m.detail.as_deref() == first_detail)
                && verdicts.iter().all(Option::is_some);
            let detail = if all_same {
                first_detail.map(str::to_string)
            } else if details.is_empty() {
                None
            } else {
                Some(details.join("; "))
            };
            let e = first.cloned();
            ExpectationSummary {
                text: key.0.clone(),
                metric: e.as_ref().map(|e| e.metric.clone()).unwrap_or_default(),
                aggregate: e.as_ref().map(|e| e.aggregate.clone()).unwrap_or_default(),
                op: e.as_ref().map(|e| e.op.clone()).unwrap_or_default(),
                threshold: e.as_ref().map_or(0.0, |e| e.threshold),
                unit: e.as_ref().map(|e| e.unit.clone()).unwrap_or_default(),
                verdict: worst(verdicts),
                median: stats::median(&values),
                ci,
                measured,
                detail,
            }
        })
        .collect()
}

/// Something that went wrong in a case, for the failure lists of every
/// format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Problem {
    /// The repetition, when the case repeated.
    pub repetition: Option<u32>,
    /// The expectation concerned, if any.
    pub expectation: Option<String>,
    /// Fail or error.
    pub verdict: Verdict,
    /// What happened, as a sentence fragment.
    pub message: String,
}

/// A case's failures and errors: unfinished repetitions, case and step
/// errors, and each failed or errored judgement of an expectation.
pub(crate) fn problems(case: &CaseSummary) -> Vec<Problem> {
    let multi = case.reps.len() > 1;
    let rep = |r: u32| multi.then_some(r);
    let mut out = Vec::new();
    for r in &case.reps {
        if r.verdict.is_none() {
            out.push(Problem {
                repetition: rep(r.repetition),
                expectation: None,
                verdict: Verdict::Error,
                message: "did not finish".to_string(),
            });
        }
        if let Some(e) = &r.error {
            out.push(Problem {
                repetition: rep(r.repetition),
                expectation: None,
                verdict: Verdict::Error,
                message: format!("error: {e}"),
            });
        }
        for s in &r.step_errors {
            out.push(Problem {
                repetition: rep(r.repetition),
                expectation: None,
                verdict: Verdict::Error,
                message: format!("step `{}`: {}", s.step, s.message),
            });
        }
    }
    for e in &case.expectations {
        for m in &e.measured {
            let verdict = match m.verdict {
                Some(v @ (Verdict::Fail | Verdict::Error)) => v,
                Some(_) => continue,
                None => {
                    // Unfinished repetitions are reported above; a finished
                    // one that did not judge the expectation is worth a line.
                    let finished = case.reps.iter().any(|r| {
                        r.repetition == m.repetition
                            && r.verdict.is_some_and(|v| v != Verdict::Skipped)
                    });
                    if finished {
                        out.push(Problem {
                            repetition: rep(m.repetition),
                            expectation: Some(e.text.clone()),
                            verdict: Verdict::Error,
                            message: "was not judged".to_string(),
                        });
                    }
                    continue;
                }
            };
            // A `contains` test's detail says what was measured.
            if e.is_membership()
                && m.value.is_some()
                && let Some(d) = &m.detail
            {
                out.push(Problem {
                    repetition: rep(m.repetition),
                    expectation: Some(e.text.clone()),
                    verdict,
                    message: format!("{}: {d}", verdict.as_str()),
                });
                continue;
            }
            let measured = match m.value {
                Some(x) => format!("measured {}", value_text(x, e.unit())),
                None => "not measured".to_string(),
            };
            let mut message = format!(
                "{}: {measured}, expected {}",
                verdict.as_str(),
                e.threshold_text()
            );
            if let Some(d) = &m.detail {
                message.push_str(&format!(" ({d})"));
            }
            out.push(Problem {
                repetition: rep(m.repetition),
                expectation: Some(e.text.clone()),
                verdict,
                message,
            });
        }
    }
    out
}

/// The run's facts, as `--json` and the report headers show them.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunFacts<'a> {
    pub id: i64,
    pub plan_name: &'a str,
    pub plan_path: &'a str,
    pub plan_hash: &'a str,
    pub summary: &'a str,
    pub status: RunStatus,
    pub status_note: Option<&'static str>,
    pub started: String,
    pub started_ns: i64,
    pub ended: Option<String>,
    pub ended_ns: Option<i64>,
    pub duration_s: Option<f64>,
    pub backend: &'a str,
    pub seed: u64,
    pub seed_source: &'a str,
    pub netproof_version: &'a str,
    pub command_line: &'a str,
    pub host: &'a HostFacts,
    pub topology: &'a Topology,
    pub database: Option<&'a str>,
}

impl<'a> RunFacts<'a> {
    pub fn new(data: &'a RunData, database: Option<&'a str>) -> RunFacts<'a> {
        let run = &data.run;
        let info = &run.info;
        RunFacts {
            id: run.id.0,
            plan_name: &info.plan_name,
            plan_path: &info.plan_path,
            plan_hash: &info.plan_hash,
            summary: &info.summary,
            status: run.status,
            status_note: status_note(run.status),
            started: time::rfc3339(info.started),
            started_ns: info.started.0,
            ended: run.ended.map(time::rfc3339),
            ended_ns: run.ended.map(|t| t.0),
            duration_s: run_duration(data),
            backend: &info.backend,
            seed: info.seed,
            seed_source: &info.seed_source,
            netproof_version: &info.netproof_version,
            command_line: &info.command_line,
            host: &info.host,
            topology: &info.topology,
            database,
        }
    }
}

/// The run's duration: to its end, or to its last record when it has none.
pub(crate) fn run_duration(data: &RunData) -> Option<f64> {
    let end = data.run.ended.or_else(|| last_record(data))?;
    let d = time::seconds_between(data.run.info.started, end);
    (d.is_finite() && d >= 0.0).then_some(d)
}

/// The time of the last thing recorded (for runs that never ended).
pub(crate) fn last_record(data: &RunData) -> Option<Timestamp> {
    let samples = data.samples.iter().map(|s| s.sample.time);
    let events = data.events.iter().map(|e| e.time);
    let cases = data
        .cases
        .iter()
        .flat_map(|c| [Some(c.info.started), c.ended])
        .flatten();
    samples.chain(events).chain(cases).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_orders_error_fail_pass_skipped() {
        use Verdict::*;
        assert_eq!(worst([Some(Pass), Some(Fail), Some(Pass)]), Fail);
        assert_eq!(worst([Some(Fail), Some(Error)]), Error);
        assert_eq!(worst([Some(Skipped), Some(Pass)]), Pass);
        assert_eq!(worst([Some(Skipped), Some(Skipped)]), Skipped);
        assert_eq!(worst([Some(Pass), None]), Error);
        assert_eq!(worst(std::iter::empty()), Skipped);
    }

    #[test]
    fn intervals_say_their_true_coverage() {
        let ci = Interval {
            low: 0.0039,
            high: 0.0056,
            confidence: 0.75,
            n: 3,
        };
        assert_eq!(
            ci.describe(Some(Unit::Seconds)),
            "[3.90 ms, 5.60 ms] (75 % CI, 3 reps)"
        );
        let ci = Interval {
            confidence: 0.978,
            n: 10,
            ..ci
        };
        assert!(
            ci.describe(Some(Unit::Seconds))
                .contains("(95 % CI, 10 reps)")
        );
        assert_eq!(percent(0.875), "87.5");
        assert_eq!(percent(0.9375), "93.8");
    }

    #[test]
    fn values_without_a_known_unit_are_plain_numbers() {
        assert_eq!(value_text(3.0, None), "3");
        assert_eq!(value_text(0.5, None), "0.5");
        assert_eq!(value_text(0.5, Some(Unit::Ratio)), "50.0 %");
    }
}
