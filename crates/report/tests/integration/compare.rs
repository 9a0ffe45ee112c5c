//! Run comparison.

use netproof_report::{Report, compare};
use netproof_sample::Value;
use netproof_store::{RunId, Verdict};

use crate::fixture;

/// The fixture as a later run whose connect latencies are 50 % higher.
fn slower() -> Report {
    let mut data = fixture::run();
    data.run.id = RunId(8);
    for s in &mut data.samples {
        if s.sample.metric == "tcp_connect.latency"
            && let Value::Num(v) = &mut s.sample.value
        {
            *v *= 1.5;
        }
    }
    for e in &mut data.expectations {
        if e.result.text.starts_with("p99") {
            e.result.measured = e.result.measured.map(|m| m * 1.5);
            e.result.verdict = Verdict::Fail;
        }
    }
    for c in &mut data.cases[..3] {
        c.verdict = Some(Verdict::Fail);
    }
    Report::from_data(data, fixture::artifacts())
}

#[test]
fn a_clear_latency_regression_is_flagged() {
    let c = compare(&fixture::report(), &slower());
    let m = c
        .metrics
        .iter()
        .find(|m| m.id.metric == "tcp_connect.latency")
        .expect("latency compared");
    assert_eq!(
        (m.id.case.as_str(), m.id.step.as_str()),
        ("LAT-01", "connect")
    );
    assert_eq!((m.n_a, m.n_b), (29, 29));
    let change = m.change.unwrap();
    assert!((change - 0.5).abs() < 1e-9, "{change}");
    assert!(m.p_value.unwrap() < 0.001, "{m:?}");
    assert!(m.regression && !m.improvement);
    assert!(!m.success.regression, "same success ratio");
    assert!(c.has_regressions());
    // The p99 expectation went from fail (one rep) to fail: no change; rep
    // verdicts all fail now but the case was already failing.
    assert!(c.verdict_changes.is_empty(), "{:?}", c.verdict_changes);
    // The other way round it is an improvement.
    let back = compare(&slower(), &fixture::report());
    assert!(!back.has_regressions());
    assert_eq!(back.improvements(), 1);
    let t = c.terminal(false);
    assert!(t.contains("REGRESSION"), "{t}");
    assert!(t.contains("+50.0 %"), "{t}");
    let md = c.markdown();
    assert!(md.contains("❌ regression"), "{md}");
}

#[test]
fn identical_runs_flag_nothing() {
    let c = compare(&fixture::report(), &fixture::report());
    assert!(!c.has_regressions());
    assert_eq!(c.improvements(), 0);
    assert!(c.metrics.iter().all(|m| !m.regression && !m.improvement));
    assert!(c.only_in_a.is_empty() && c.only_in_b.is_empty());
    assert!(c.verdict_changes.is_empty());
    assert!(c.same_plan);
    assert!(
        c.terminal(false)
            .contains("0 regression(s), 0 improvement(s)")
    );
}

#[test]
fn a_small_significant_shift_is_not_flagged() {
    // Tight latencies (4 ms ± 1.5 µs), then the same 2 % higher: clearly
    // significant, but below the 5 % floor.
    let tight = |factor: f64| {
        let mut data = fixture::run();
        for (k, s) in data.samples.iter_mut().enumerate() {
            if let Value::Num(v) = &mut s.sample.value
                && s.sample.metric == "tcp_connect.latency"
            {
                *v = (0.004 + (k % 30) as f64 * 1e-7) * factor;
            }
        }
        Report::from_data(data, Default::default())
    };
    let c = compare(&tight(1.0), &tight(1.02));
    let m = c
        .metrics
        .iter()
        .find(|m| m.id.metric == "tcp_connect.latency")
        .unwrap();
    assert!(m.p_value.unwrap() < 0.001, "{m:?}");
    assert!((m.change.unwrap() - 0.02).abs() < 1e-3, "{m:?}");
    assert!(!m.regression && !m.improvement, "{m:?}");
    assert!(!c.has_regressions());
}

#[test]
fn success_ratio_drops_and_verdict_changes_are_reported() {
    let mut data = fixture::run();
    // Half of every repetition's attempts fail.
    for s in &mut data.samples {
        if s.sample.metric == "tcp_connect.latency" && s.sample.time.0 % 200_000_000 == 0 {
            s.sample.value = Value::None;
            s.sample.ok = false;
        }
    }
    data.expectations[1].result.verdict = Verdict::Fail;
    // EXEC-01 gains a metric and loses one.
    for s in &mut data.samples {
        if s.sample.metric == "exec.duration" {
            s.sample.metric = "exec.stdout_bytes".to_string();
        }
    }
    let c = compare(
        &fixture::report(),
        &Report::from_data(data, Default::default()),
    );
    let m = c
        .metrics
        .iter()
        .find(|m| m.id.metric == "tcp_connect.latency")
        .unwrap();
    assert!(m.success.regression, "{m:?}");
    assert!(m.success.ratio_b.unwrap() < 0.6);
    assert!(c.has_regressions());
    assert_eq!(c.only_in_a.len(), 1);
    assert_eq!(c.only_in_a[0].metric, "exec.duration");
    assert_eq!(c.only_in_b[0].metric, "exec.stdout_bytes");
    let change = c
        .verdict_changes
        .iter()
        .find(|v| v.expectation.as_deref() == Some("success_ratio(tcp_connect.latency) >= 0.9"))
        .expect("verdict change listed");
    assert_eq!(
        (change.before, change.after, change.worse),
        (Verdict::Pass, Verdict::Fail, true)
    );
    let t = c.terminal(false);
    assert!(t.contains("SUCCESS REGRESSION"), "{t}");
    assert!(t.contains("only in run 7"), "{t}");
    assert!(t.contains("pass → fail"), "{t}");
}
