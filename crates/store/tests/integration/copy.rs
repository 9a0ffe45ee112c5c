//! `store copy`: a run survives SQLite -> PostgreSQL -> SQLite whole.

use netproof_sample::{Artifact, Event, Sample, Severity, Timestamp, Value, metric};
use netproof_store::copy::copy_runs;
use netproof_store::*;

use crate::backend::{Backend, Postgres, Sqlite};
use crate::new_run;

/// Writes a finished run with a case, a step, an unfinished step, samples
/// of every kind, events, an expectation and artifacts; and a second run
/// left `running`. Returns both ids.
fn write_runs(store: &dyn ResultStore) -> [RunId; 2] {
    let run = store.begin_run(&new_run(Owner::current(), 1_000)).unwrap();
    let case = store
        .begin_case(
            run,
            &NewCaseRun {
                case_id: "C-1".into(),
                title: "copy me".into(),
                purpose: Some("round trip".into()),
                repetition: 2,
                repetitions: 3,
                started: Timestamp(1_100),
            },
        )
        .unwrap();
    let step = |name: &str, at| NewStep {
        name: name.into(),
        kind: "exec".into(),
        phase: "timeline".into(),
        node: "client".into(),
        description: "true".into(),
        started: Timestamp(at),
    };
    let done = store.begin_step(case, &step("done", 1_200)).unwrap();
    let open_step = store.begin_step(case, &step("never ended", 1_300)).unwrap();
    let in_step = store.sink(Scope {
        run,
        case_run: Some(case),
        step: Some(done),
    });
    let in_open = store.sink(Scope {
        run,
        case_run: Some(case),
        step: Some(open_step),
    });
    let lab = store.sink(Scope {
        run,
        case_run: None,
        step: None,
    });
    for (i, v) in [
        Value::Num(-0.0),
        Value::Num(f64::NAN),
        Value::Num(0.25),
        Value::Text("out".into()),
        Value::set(["b", "a"]),
        Value::None,
    ]
    .into_iter()
    .enumerate()
    {
        let mut s = Sample::num(&metric::EXEC_DURATION, 0.0).at(Timestamp(1_400));
        s.value = v;
        s.labels.insert("i".into(), i.to_string());
        in_step.sample(s);
    }
    lab.sample(Sample::num(&metric::EXEC_DURATION, 7.0).at(Timestamp(1_250)));
    in_open.event(Event::new("x", Severity::Warning, "in the open step"));
    lab.event(Event::new("lab.up", Severity::Info, "up"));
    in_step.artifact(Artifact {
        name: "stdout".into(),
        media_type: "text/plain".into(),
        content: b"out\n".to_vec(),
    });
    lab.artifact(Artifact {
        name: "bin".into(),
        media_type: "application/octet-stream".into(),
        content: (0..=255u8).collect(),
    });
    store
        .finish_step(done, Verdict::Fail, Timestamp(1_500), Some("exit 1"))
        .unwrap();
    store
        .record_expectation(
            case,
            &ExpectationResult {
                text: "max(exec.duration) < 1s".into(),
                metric: "exec.duration".into(),
                aggregate: "max".into(),
                op: "<".into(),
                threshold: 1.0,
                measured: Some(7.0),
                unit: "s".into(),
                verdict: Verdict::Fail,
                detail: None,
                samples: 7,
            },
        )
        .unwrap();
    store
        .finish_case(case, Verdict::Fail, Timestamp(1_600), None)
        .unwrap();
    store
        .finish_run(run, RunStatus::Failed, Timestamp(1_700))
        .unwrap();
    let running = store.begin_run(&new_run(Owner::current(), 2_000)).unwrap();
    store.flush().unwrap();
    [run, running]
}

/// Every run of a store, with its artifacts' contents.
fn everything(store: &dyn ResultStore) -> Vec<(RunData, Vec<Vec<u8>>)> {
    let mut runs = store.runs(usize::MAX).unwrap();
    runs.reverse();
    runs.iter()
        .map(|r| {
            let data = store.load_run(r.id).unwrap();
            let contents = data
                .artifacts
                .iter()
                .map(|a| store.artifact_content(a.id).unwrap())
                .collect();
            (data, contents)
        })
        .collect()
}

#[test]
fn runs_round_trip_sqlite_to_postgres_to_sqlite() {
    let origin = Sqlite::new();
    let pg = Postgres::new();
    let back = Sqlite::new();
    let (a, p, b) = (origin.open(), pg.open(), back.open());
    let ids = write_runs(&*a);

    let there = copy_runs(&*a, &*p, &[]).unwrap();
    assert_eq!(there.iter().map(|c| c.from).collect::<Vec<_>>(), ids);
    let again = copy_runs(&*p, &*b, &[]).unwrap();
    assert_eq!(again.len(), 2);

    // Fresh databases number alike, so even the ids match; Debug output
    // compares NaN samples (which `==` never equals) by their spelling.
    let want = format!("{:?}", everything(&*a));
    assert_eq!(format!("{:?}", everything(&*p)), want, "in PostgreSQL");
    assert_eq!(format!("{:?}", everything(&*b)), want, "back in SQLite");
}

#[test]
fn copying_chosen_runs_into_a_used_database_renumbers_them() {
    let origin = Sqlite::new();
    let pg = Postgres::new();
    let (a, p) = (origin.open(), pg.open());
    let [finished, _] = write_runs(&*a);
    // The destination already has runs of its own.
    let [theirs, _] = write_runs(&*p);
    let copied = copy_runs(&*a, &*p, &[finished]).unwrap();
    assert_eq!(copied.len(), 1);
    assert_ne!(copied[0].to, theirs);
    let mut got = p.load_run(copied[0].to).unwrap();
    let want = a.load_run(finished).unwrap();
    assert_eq!(got.samples.len(), want.samples.len());
    assert_eq!(got.run.info, want.run.info);
    assert_eq!(got.run.status, RunStatus::Failed);
    assert!(got.cases.iter().all(|c| c.run == copied[0].to));
    got.run.id = want.run.id;
    assert_eq!(got.run, want.run);
}
