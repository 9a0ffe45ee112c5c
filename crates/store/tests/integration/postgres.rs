//! What only the PostgreSQL backend must show: a newer schema refused
//! untouched, and a server that goes away mid-run.

use std::time::{Duration, Instant};

use netproof_sample::{Sample, Timestamp, metric};
use netproof_store::postgres::schema::SCHEMA_VERSION;
use netproof_store::*;

use crate::backend::{Backend, Postgres};
use crate::new_run;
use crate::recovery::LiveChild;

/// The tables of the `public` schema and the recorded version, as a
/// snapshot to compare before and after.
fn snapshot(url: &str) -> (Vec<String>, Vec<i64>) {
    let mut c = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
    let tables = c
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let versions = c
        .query("SELECT version FROM netproof_schema ORDER BY 1", &[])
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default();
    (tables, versions)
}

#[test]
fn a_newer_schema_is_refused_and_the_database_left_untouched() {
    let pg = Postgres::new();
    let url = pg.location();
    ::postgres::Client::connect(&url, ::postgres::NoTls)
        .unwrap()
        .batch_execute(
            "CREATE TABLE netproof_schema (version BIGINT NOT NULL);
             INSERT INTO netproof_schema VALUES (999);
             CREATE TABLE from_the_future (x BIGINT);",
        )
        .unwrap();
    let before = snapshot(&url);
    match open(&url).err() {
        Some(e @ StoreError::SchemaTooNew { .. }) => {
            let StoreError::SchemaTooNew { found, known, .. } = &e else {
                unreachable!()
            };
            assert_eq!((*found, *known), (999, SCHEMA_VERSION));
            let msg = e.to_string();
            assert!(msg.contains(&url) && msg.contains("hint:"), "{msg}");
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert_eq!(snapshot(&url), before, "refusing changed the database");
}

#[test]
fn a_fresh_database_is_migrated_once() {
    let pg = Postgres::new();
    drop(pg.open());
    drop(pg.open());
    let (tables, versions) = snapshot(&pg.location());
    assert_eq!(versions, [SCHEMA_VERSION]);
    for t in [
        "runs",
        "case_runs",
        "steps",
        "expectations",
        "samples",
        "events",
        "artifacts",
    ] {
        assert!(tables.iter().any(|x| x == t), "no table {t}: {tables:?}");
    }
}

fn scope(run: RunId) -> Scope {
    Scope {
        run,
        case_run: None,
        step: None,
    }
}

fn numbered(i: i64) -> Sample {
    Sample::num(&metric::EXEC_DURATION, i as f64).at(Timestamp(2_000 + i))
}

fn sample_count(store: &dyn ResultStore, run: RunId) -> usize {
    store.load_run(run).unwrap().samples.len()
}

/// Waits (bounded) until the writer thread has tried, and failed, to
/// commit: `flush` then reports the outage.
fn outage_reported(store: &dyn ResultStore) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.flush() {
            Err(e @ StoreError::WriteFailed { .. }) => return e.to_string(),
            Err(other) => panic!("expected WriteFailed, got {other:?}"),
            Ok(()) => {
                assert!(Instant::now() < deadline, "the outage was never reported");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

#[test]
fn a_server_that_goes_away_mid_run_loses_nothing_committed_and_the_run_reads_aborted() {
    let pg = Postgres::new();
    // The run's owner stands in for the netproof process that runs it: it
    // exits (with code 3) after the store's error.
    let owner = LiveChild::spawn();
    let store = pg.open();
    let run = store.begin_run(&new_run(owner.owner(), 1_000)).unwrap();
    let sink = store.sink(scope(run));
    for i in 0..100 {
        sink.sample(numbered(i));
    }
    store.flush().unwrap();

    pg.cluster.stop();
    for i in 100..300 {
        sink.sample(numbered(i));
    }
    let msg = outage_reported(&*store);
    assert!(msg.contains(&pg.location()), "{msg}");
    assert!(
        msg.contains("unreachable") && msg.contains("200 records held in memory"),
        "{msg}"
    );
    // The runner's next statement fails, naming the database; that error is
    // what the CLI exits 3 with.
    let case = NewCaseRun {
        case_id: "C-1".into(),
        title: "after the outage".into(),
        purpose: None,
        repetition: 1,
        repetitions: 1,
        started: Timestamp(3_000),
    };
    match store.begin_case(run, &case) {
        Err(e @ StoreError::Postgres { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&pg.location()) && msg.contains("hint:"),
                "{msg}"
            );
            assert!(msg.contains("200 samples, events and artifacts"), "{msg}");
        }
        other => panic!("expected a PostgreSQL error, got {other:?}"),
    }
    drop(store);
    drop(owner);

    pg.cluster.restart();
    let store = pg.open();
    let data = store.load_run(run).unwrap();
    assert_eq!(data.run.status, RunStatus::Aborted);
    assert_eq!(data.samples.len(), 100, "what was committed is all there");
    assert_eq!(
        data.run.ended,
        Some(Timestamp(2_099)),
        "ended at its last sample"
    );
}

#[test]
fn a_server_that_comes_back_in_time_gets_the_held_records() {
    let pg = Postgres::new();
    let store = pg.open();
    let run = store.begin_run(&new_run(Owner::current(), 1_000)).unwrap();
    let sink = store.sink(scope(run));
    for i in 0..50 {
        sink.sample(numbered(i));
    }
    store.flush().unwrap();
    pg.cluster.stop();
    for i in 50..120 {
        sink.sample(numbered(i));
    }
    let msg = outage_reported(&*store);
    assert!(msg.contains("70 records held in memory"), "{msg}");
    pg.cluster.restart();
    // The outage was reported once; now everything held is written.
    store.flush().unwrap();
    assert_eq!(sample_count(&*store, run), 120);
    let values: Vec<_> = store
        .load_run(run)
        .unwrap()
        .samples
        .iter()
        .map(|r| r.sample.value.as_f64())
        .collect();
    let want: Vec<_> = (0..120).map(|i| Some(f64::from(i))).collect();
    assert_eq!(values, want, "in order, none twice");
}

#[test]
fn another_hosts_running_run_is_never_aborted_from_here() {
    let pg = Postgres::new();
    let store = pg.open();
    let mut owner = Owner::current();
    owner.hostname = format!("{}-elsewhere", owner.hostname);
    owner.pid = 1;
    owner.start_time = 1;
    let run = store.begin_run(&new_run(owner, 1_000)).unwrap();
    drop(store);
    let store = pg.open();
    assert_eq!(store.load_run(run).unwrap().run.status, RunStatus::Running);
}

#[test]
fn the_store_works_from_inside_an_async_runtime() {
    // The runner calls the store from tokio tasks; rust-postgres' sync
    // client panics if it blocks on such a thread, so the store must not.
    let pg = Postgres::new();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let url = pg.location();
    let (run, loaded) = rt.block_on(async move {
        let store = open(&url).unwrap();
        let run = store.begin_run(&new_run(Owner::current(), 1_000)).unwrap();
        store.sink(scope(run)).sample(numbered(1));
        store.flush().unwrap();
        let loaded = store.load_run(run).unwrap();
        store
            .finish_run(run, RunStatus::Passed, Timestamp(5_000))
            .unwrap();
        drop(store);
        (run, loaded)
    });
    assert_eq!(loaded.samples.len(), 1);
    let store = pg.open();
    assert_eq!(store.load_run(run).unwrap().run.status, RunStatus::Passed);
}

#[test]
fn a_password_in_the_url_never_shows() {
    // The private cluster trusts its socket, so any password connects; the
    // store must still never repeat it.
    let pg = Postgres::new();
    let url = pg.location();
    let with_password = url.replacen("postgres@", "postgres:hunter2@", 1) + "?password=hunter3";
    let store = open(&with_password).unwrap();
    assert_eq!(store.location(), url);
    let err = store.resolve("latest").unwrap_err().to_string();
    assert!(err.contains(&url) && !err.contains("hunter"), "{err}");
}
