//! A whole run written through the public API reads back exactly.

use netproof_sample::{Artifact, Event, Labels, Sample, Severity, Timestamp, Unit, Value};
use netproof_store::sqlite::SqliteStore;
use netproof_store::*;

use crate::backend::Backend;
use crate::new_run;

crate::on_both_backends!(
    full_run_reads_back_as_written,
    missing_rows_are_errors_naming_the_database,
    numbers_sqlite_cannot_hold_natively_keep_their_bits
);

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sample(time: i64, metric: &str, value: Value, unit: Unit, ok: bool, l: Labels) -> Sample {
    Sample {
        time: Timestamp(time),
        metric: metric.into(),
        value,
        unit,
        ok,
        labels: l,
    }
}

fn full_run_reads_back_as_written(b: &dyn Backend) {
    let store = b.open();
    let t0 = 1_700_000_000_000_000_000i64;

    let run_info = new_run(Owner::current(), t0);
    let run = store.begin_run(&run_info).unwrap();

    let case_info = NewCaseRun {
        case_id: "SF-01".into(),
        title: "Failover completes within 5 s".into(),
        purpose: Some("Stop edge-a and watch clients move".into()),
        repetition: 1,
        repetitions: 3,
        started: Timestamp(t0 + 10),
    };
    let case = store.begin_case(run, &case_info).unwrap();
    let step_info = NewStep {
        name: "fetch".into(),
        kind: "http".into(),
        phase: "timeline".into(),
        node: "client-a".into(),
        description: "GET /title/42/seg-1 every 100ms for 20s".into(),
        started: Timestamp(t0 + 20),
    };
    let step = store.begin_step(case, &step_info).unwrap();

    let step_scope = Scope {
        run,
        case_run: Some(case),
        step: Some(step),
    };
    let lab_scope = Scope {
        run,
        case_run: None,
        step: None,
    };
    let step_sink = store.sink(step_scope);
    let lab_sink = store.sink(lab_scope);

    // Every value kind, integers, negatives, tiny and huge numbers; written
    // out of time order to pin "time, then insertion order" on read.
    let step_samples = vec![
        sample(
            t0 + 300,
            "tcp_connect.latency",
            Value::Num(0.004_213),
            Unit::Seconds,
            true,
            labels(&[("to", "198.18.0.1:443")]),
        ),
        sample(
            t0 + 100,
            "exec.exit_code",
            Value::Num(0.0),
            Unit::Count,
            true,
            Labels::new(),
        ),
        sample(
            t0 + 100,
            "exec.exit_code",
            Value::Num(-2.0),
            Unit::Count,
            false,
            labels(&[("error", "killed")]),
        ),
        sample(
            t0 + 200,
            "exec.stdout_bytes",
            Value::Num(12_884_901_888.0),
            Unit::Bytes,
            true,
            Labels::new(),
        ),
        sample(
            t0 + 210,
            "link.loss",
            Value::Num(1e-9),
            Unit::Ratio,
            true,
            Labels::new(),
        ),
        sample(
            t0 + 220,
            "http.rate",
            Value::Num(957e6),
            Unit::BitsPerSecond,
            true,
            Labels::new(),
        ),
        sample(
            t0 + 230,
            "exec.stdout",
            Value::Text("hello, lab\nsecond line".into()),
            Unit::Text,
            true,
            Labels::new(),
        ),
        sample(
            t0 + 240,
            "dns.answer",
            Value::set(["198.18.4.2", "198.18.4.1"]),
            Unit::Text,
            true,
            labels(&[("name", "video.example"), ("qtype", "A")]),
        ),
        sample(
            t0 + 250,
            "tcp_connect.latency",
            Value::None,
            Unit::Seconds,
            false,
            labels(&[("error", "connection refused")]),
        ),
    ];
    for s in &step_samples {
        step_sink.sample(s.clone());
    }
    let lab_sample = sample(
        t0 + 150,
        "link.tx_bytes",
        Value::Num(1500.0),
        Unit::Bytes,
        true,
        labels(&[("link", "client-a~edge-a")]),
    );
    lab_sink.sample(lab_sample.clone());

    let ev_fault = Event {
        time: Timestamp(t0 + 260),
        kind: "fault.inject".into(),
        severity: Severity::Warning,
        message: "stopped edge-a".into(),
        labels: labels(&[("node", "edge-a")]),
    };
    let ev_start = Event {
        time: Timestamp(t0 + 30),
        kind: "step.start".into(),
        severity: Severity::Info,
        message: "fetch started".into(),
        labels: Labels::new(),
    };
    let ev_lab = Event {
        time: Timestamp(t0 + 5),
        kind: "lab.up".into(),
        severity: Severity::Error,
        message: "lab built".into(),
        labels: Labels::new(),
    };
    step_sink.event(ev_fault.clone());
    step_sink.event(ev_start.clone());
    lab_sink.event(ev_lab.clone());

    let stdout = Artifact {
        name: "stdout".into(),
        media_type: "text/plain".into(),
        content: b"hello, lab\n".to_vec(),
    };
    let binary = Artifact {
        name: "capture.pcap".into(),
        media_type: "application/vnd.tcpdump.pcap".into(),
        content: (0..=255u8).cycle().take(70_000).collect(),
    };
    step_sink.artifact(stdout.clone());
    lab_sink.artifact(binary.clone());

    let exp_pass = ExpectationResult {
        text: "p99(tcp_connect.latency) < 5ms".into(),
        metric: "tcp_connect.latency".into(),
        aggregate: "p99".into(),
        op: "<".into(),
        threshold: 0.005,
        measured: Some(0.004_213),
        unit: "s".into(),
        verdict: Verdict::Pass,
        detail: None,
        samples: 2,
    };
    let exp_error = ExpectationResult {
        text: "max(http.gap) <= 5s".into(),
        metric: "http.gap".into(),
        aggregate: "max".into(),
        op: "<=".into(),
        threshold: 5.0,
        measured: None,
        unit: "s".into(),
        verdict: Verdict::Error,
        detail: Some("metric `http.gap` was never measured".into()),
        samples: 0,
    };

    store
        .finish_step(
            step,
            Verdict::Fail,
            Timestamp(t0 + 400),
            Some("1 of 9 attempts failed"),
        )
        .unwrap();
    store.record_expectation(case, &exp_pass).unwrap();
    store.record_expectation(case, &exp_error).unwrap();
    store
        .finish_case(case, Verdict::Error, Timestamp(t0 + 500), None)
        .unwrap();
    store
        .finish_run(run, RunStatus::Error, Timestamp(t0 + 600))
        .unwrap();

    let data = store.load_run(run).unwrap();

    let at = |s: &Sample| SampleRow {
        case_run: Some(case),
        step: Some(step),
        sample: s.clone(),
    };
    let mut expected_samples: Vec<SampleRow> = step_samples.iter().map(at).collect();
    expected_samples.push(SampleRow {
        case_run: None,
        step: None,
        sample: lab_sample,
    });
    // Stable sort: equal times keep insertion order, as the store promises.
    expected_samples.sort_by_key(|r| r.sample.time);

    let ev = |e: &Event, scoped: bool| EventRow {
        case_run: scoped.then_some(case),
        step: scoped.then_some(step),
        time: e.time,
        kind: e.kind.clone(),
        severity: e.severity,
        message: e.message.clone(),
        labels: e.labels.clone(),
    };

    let expected = RunData {
        run: RunRow {
            id: run,
            info: run_info,
            status: RunStatus::Error,
            ended: Some(Timestamp(t0 + 600)),
        },
        cases: vec![CaseRunRow {
            id: case,
            run,
            info: case_info,
            verdict: Some(Verdict::Error),
            ended: Some(Timestamp(t0 + 500)),
            error: None,
        }],
        steps: vec![StepRow {
            id: step,
            case_run: case,
            info: step_info,
            verdict: Some(Verdict::Fail),
            ended: Some(Timestamp(t0 + 400)),
            error: Some("1 of 9 attempts failed".into()),
        }],
        expectations: vec![
            ExpectationRow {
                case_run: case,
                result: exp_pass,
            },
            ExpectationRow {
                case_run: case,
                result: exp_error,
            },
        ],
        samples: expected_samples,
        events: vec![ev(&ev_lab, false), ev(&ev_start, true), ev(&ev_fault, true)],
        artifacts: vec![
            ArtifactRow {
                id: data.artifacts[0].id,
                case_run: Some(case),
                step: Some(step),
                name: "stdout".into(),
                media_type: "text/plain".into(),
                size: 11,
            },
            ArtifactRow {
                id: data.artifacts[1].id,
                case_run: None,
                step: None,
                name: "capture.pcap".into(),
                media_type: "application/vnd.tcpdump.pcap".into(),
                size: 70_000,
            },
        ],
    };
    assert_eq!(data, expected);
    assert_eq!(
        store.artifact_content(data.artifacts[0].id).unwrap(),
        stdout.content
    );
    assert_eq!(
        store.artifact_content(data.artifacts[1].id).unwrap(),
        binary.content
    );

    // A second store on the same file reads the same run.
    drop(store);
    let again = b.open();
    assert_eq!(again.load_run(run).unwrap(), expected);
}

fn missing_rows_are_errors_naming_the_database(b: &dyn Backend) {
    let store = b.open();
    let err = store.artifact_content(4711).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("no artifact with id 4711") && msg.contains(&b.location()),
        "{msg}"
    );
    let err = store
        .finish_case(CaseRunId(9), Verdict::Pass, Timestamp(1), None)
        .unwrap_err();
    assert!(err.to_string().contains("no case run with id 9"), "{err}");
    assert!(matches!(
        store.finish_run(RunId(9), RunStatus::Passed, Timestamp(1)),
        Err(StoreError::NoSuchRun { .. })
    ));
    assert!(matches!(
        store.load_run(RunId(9)),
        Err(StoreError::NoSuchRun { .. })
    ));
}

#[test]
fn the_store_and_its_sinks_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SqliteStore>();
    send_sync::<netproof_store::postgres::PostgresStore>();
    send_sync::<Box<dyn ResultStore>>();
}

fn numbers_sqlite_cannot_hold_natively_keep_their_bits(b: &dyn Backend) {
    let store = b.open();
    let run = store.begin_run(&new_run(Owner::current(), 1)).unwrap();
    let sink = store.sink(Scope {
        run,
        case_run: None,
        step: None,
    });
    let numbers = [
        -0.0,
        0.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        5e-324, // the smallest subnormal
        -1.0,
        9_007_199_254_740_993.0, // above 2^53: not every integer is exact
        -9.223_372_036_854_776e18,
        f64::MAX,
        0.1,
    ];
    for (i, v) in numbers.iter().enumerate() {
        sink.sample(sample(
            i as i64,
            "x.y",
            Value::Num(*v),
            Unit::Count,
            true,
            Labels::new(),
        ));
    }
    let got: Vec<u64> = store
        .load_run(run)
        .unwrap()
        .samples
        .iter()
        .map(|r| match r.sample.value {
            Value::Num(v) => v.to_bits(),
            ref other => panic!("not a number: {other:?}"),
        })
        .collect();
    let want: Vec<u64> = numbers.iter().map(|v| v.to_bits()).collect();
    assert_eq!(got, want);
}
