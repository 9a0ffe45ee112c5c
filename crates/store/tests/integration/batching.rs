//! Sinks commit in the background, without anyone calling `flush`, and a
//! failed background write is reported, not panicked on.

use std::time::{Duration, Instant};

use netproof_sample::{Event, Sample, Severity, Timestamp, metric};
use netproof_store::*;

use crate::backend::Backend;
use crate::new_run;

crate::on_both_backends!(
    sink_records_reach_the_database_without_flush,
    dropping_the_store_commits_what_sinks_queued,
    a_failed_background_write_is_reported_by_the_next_flush
);

/// How long a test waits for a background commit before failing. The store
/// commits within 100 ms; the rest is headroom for two busy cores.
const PATIENCE: Duration = Duration::from_secs(2);

fn lab_scope(run: RunId) -> Scope {
    Scope {
        run,
        case_run: None,
        step: None,
    }
}

fn sink_records_reach_the_database_without_flush(b: &dyn Backend) {
    let writer = b.open();
    let run = writer.begin_run(&new_run(Owner::current(), 1_000)).unwrap();
    let sink = writer.sink(lab_scope(run));

    // A second store on the same file, as `netproof report` in another
    // shell would open it while the run goes on.
    let reader = b.open();
    assert_eq!(reader.load_run(run).unwrap().samples.len(), 0);

    let sent = Instant::now();
    sink.sample(Sample::num(&metric::TCP_CONNECT_LATENCY, 0.001).at(Timestamp(2_000)));
    sink.event(Event::new("step.start", Severity::Info, "go"));
    let seen = loop {
        let data = reader.load_run(run).unwrap();
        if data.samples.len() == 1 && data.events.len() == 1 {
            break sent.elapsed();
        }
        assert!(
            sent.elapsed() < PATIENCE,
            "records not committed after {PATIENCE:?} without a flush"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    eprintln!("background commit visible to another connection after {seen:?}");
    // The run is still running: the writer's own store was never flushed.
    assert_eq!(reader.load_run(run).unwrap().run.status, RunStatus::Running);
}

fn dropping_the_store_commits_what_sinks_queued(b: &dyn Backend) {
    let store = b.open();
    let run = store.begin_run(&new_run(Owner::current(), 1_000)).unwrap();
    let sink = store.sink(lab_scope(run));
    for i in 0..1_000 {
        sink.sample(
            Sample::num(&metric::EXEC_DURATION, f64::from(i)).at(Timestamp(2_000 + i64::from(i))),
        );
    }
    drop(store);
    // The sink outlives the store: what it gets now is dropped, not a panic.
    sink.sample(Sample::num(&metric::EXEC_DURATION, -1.0));

    let again = b.open();
    let samples = again.load_run(run).unwrap().samples;
    assert_eq!(samples.len(), 1_000);
    assert_eq!(samples[999].sample.value.as_f64(), Some(999.0));
}

fn a_failed_background_write_is_reported_by_the_next_flush(b: &dyn Backend) {
    let store = b.open();
    let run = store.begin_run(&new_run(Owner::current(), 1_000)).unwrap();
    // A step that does not exist breaks the foreign key of every record.
    let broken = store.sink(Scope {
        run,
        case_run: None,
        step: Some(StepId(4711)),
    });
    let good = store.sink(lab_scope(run));
    good.sample(Sample::num(&metric::EXEC_DURATION, 1.0).at(Timestamp(10)));
    broken.sample(Sample::num(&metric::EXEC_DURATION, 2.0).at(Timestamp(11)));
    good.sample(Sample::num(&metric::EXEC_DURATION, 3.0).at(Timestamp(12)));

    match store.flush() {
        Err(StoreError::WriteFailed { path: p, message }) => {
            assert_eq!(p.display().to_string(), b.location());
            // The writer may have split the three into batches; either way
            // exactly the one broken record is named.
            assert!(
                message.contains("1 of ") && message.contains("not written"),
                "{message}"
            );
            assert!(message.contains("exec.duration"), "{message}");
        }
        other => panic!("expected WriteFailed, got {other:?}"),
    }
    // Reported once; the good records of the batch were kept.
    store.flush().unwrap();
    let values: Vec<_> = store
        .load_run(run)
        .unwrap()
        .samples
        .iter()
        .map(|r| r.sample.value.as_f64())
        .collect();
    assert_eq!(values, [Some(1.0), Some(3.0)]);

    // A failure nobody flushed surfaces at finish_run, after the run is
    // marked finished all the same.
    broken.event(Event::new("x", Severity::Info, "lost"));
    let err = store
        .finish_run(run, RunStatus::Passed, Timestamp(20))
        .unwrap_err();
    assert!(matches!(err, StoreError::WriteFailed { .. }), "{err}");
    assert_eq!(store.load_run(run).unwrap().run.status, RunStatus::Passed);
}
