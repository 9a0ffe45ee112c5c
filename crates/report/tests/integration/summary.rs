//! Verdicts, medians and confidence intervals.

use netproof_report::Report;
use netproof_store::{RunStatus, Verdict};

use crate::fixture;

#[test]
fn repeated_case_reports_median_and_true_coverage() {
    let s = fixture::report().summary();
    let lat = &s.cases[0];
    assert_eq!(lat.id, "LAT-01");
    assert_eq!(lat.repetitions, 3);
    assert_eq!(lat.verdict, Verdict::Fail, "the worst repetition");
    let p99 = &lat.expectations[0];
    assert_eq!(p99.text, "p99(tcp_connect.latency) < 5ms");
    let values: Vec<_> = p99.measured.iter().map(|m| m.value).collect();
    assert_eq!(values, fixture::P99.map(Some).to_vec());
    assert_eq!(p99.median, Some(0.0042));
    let ci = p99.ci.expect("an interval from three values");
    assert_eq!((ci.low, ci.high, ci.n), (0.0039, 0.0056, 3));
    assert!((ci.confidence - 0.75).abs() < 1e-12);
    assert_eq!(
        p99.figure(),
        "median 4.20 ms [3.90 ms, 5.60 ms] (75 % CI, 3 reps)"
    );
    // Failed in one repetition: failed for the case.
    assert_eq!(p99.verdict, Verdict::Fail);
    assert_eq!(lat.expectations[1].verdict, Verdict::Pass);
}

#[test]
fn unmeasured_expectation_is_an_error_with_its_reason() {
    let s = fixture::report().summary();
    let exec = &s.cases[1];
    assert_eq!(exec.verdict, Verdict::Error);
    assert_eq!(exec.repetitions, 1);
    let e = &exec.expectations[1];
    assert_eq!(e.verdict, Verdict::Error);
    assert_eq!(e.median, None);
    assert_eq!(e.ci, None);
    assert_eq!(e.figure(), "not measured");
    assert_eq!(
        e.detail.as_deref(),
        Some("metric `http.latency` was never measured")
    );
    // One repetition: its value, no interval.
    assert_eq!(exec.expectations[0].figure(), "0");
    assert_eq!(exec.expectations[0].ci, None);
}

#[test]
fn counts_and_status() {
    let s = fixture::report().summary();
    assert_eq!(s.status, RunStatus::Failed);
    assert_eq!(s.status_note, None);
    assert_eq!(
        (
            s.counts.cases,
            s.counts.passed,
            s.counts.failed,
            s.counts.errored
        ),
        (2, 0, 1, 1)
    );
}

#[test]
fn unfinished_repetition_is_never_a_pass() {
    let s = Report::from_data(fixture::aborted_run(), Default::default()).summary();
    let lat = &s.cases[0];
    assert_eq!(lat.repetitions, 3);
    assert_eq!(lat.reps[2].verdict, None);
    assert_eq!(lat.verdict, Verdict::Error);
    // The success-ratio expectation passed in reps 1 and 2 but was never
    // judged in rep 3.
    assert_eq!(lat.expectations[1].verdict, Verdict::Error);
    assert!(s.status_note.unwrap().contains("last 100 ms"));
}

#[test]
fn json_has_facts_and_summary() {
    let j = fixture::report().json();
    assert_eq!(j["run"]["id"], 7);
    assert_eq!(j["run"]["seed"], 42);
    assert_eq!(j["run"]["seed_source"], "plan");
    assert_eq!(j["run"]["backend"], "netns");
    assert_eq!(j["run"]["started"], "2023-11-14T22:13:20.000Z");
    assert_eq!(j["run"]["duration_s"], 20.0);
    assert_eq!(j["run"]["database"], "lab.db");
    assert_eq!(j["summary"]["counts"]["failed"], 1);
    assert_eq!(
        j["summary"]["cases"][0]["expectations"][0]["median"],
        0.0042
    );
    assert_eq!(
        j["summary"]["cases"][0]["expectations"][0]["ci"]["confidence"],
        0.75
    );
}

/// A `contains` test reads in words in every format, not as a bare count.
#[test]
fn contains_expectation_says_what_it_found() {
    use netproof_store::{CaseRunId, ExpectationResult, ExpectationRow};
    let mut data = fixture::run();
    for (text, measured, verdict, detail) in [
        (
            r#"all(exec.stdout) contains "ok""#,
            1.0,
            Verdict::Pass,
            "1 of 1 output contains ok",
        ),
        (
            r#"any(exec.stdout) contains "{addr:b}""#,
            0.0,
            Verdict::Fail,
            "0 of 1 output contain 198.18.0.2; the first: \"ok\" in step `hello`",
        ),
    ] {
        data.expectations.push(ExpectationRow {
            case_run: CaseRunId(4),
            result: ExpectationResult {
                text: text.to_string(),
                metric: "exec.stdout".to_string(),
                aggregate: text[..3].to_string(),
                op: "contains".to_string(),
                threshold: 1.0,
                measured: Some(measured),
                unit: "text".to_string(),
                verdict,
                detail: Some(detail.to_string()),
                samples: 1,
            },
        });
    }
    let r = Report::from_data(data, Default::default());
    let exec = r
        .summary()
        .cases
        .into_iter()
        .find(|c| c.id == "EXEC-01")
        .unwrap();
    let e = exec
        .expectations
        .iter()
        .find(|e| e.text.starts_with("all("))
        .unwrap();
    assert!(e.is_membership());
    assert_eq!(e.figure(), "1 of 1 output contains ok");
    assert_eq!(e.threshold_text(), "contains");
    assert_eq!(e.rep_text(&e.measured[0]).as_deref(), Some("1 of 1"));

    let t = r.terminal(false);
    assert!(t.contains("1 of 1 output contains ok"), "{t}");
    assert!(
        t.contains("fail: 0 of 1 output contain 198.18.0.2; the first: \"ok\" in step `hello`"),
        "{t}"
    );
    assert!(!t.contains("measured 0"), "{t}");
    let md = r.markdown();
    assert!(md.contains("| 1 of 1 |"), "{md}");
    assert!(md.contains("1 of 1 output contains ok"), "{md}");
}
