//! How fast each backend takes one run's samples, and loads them back.
//!
//! `cargo run -p netproof-store --example store_bench [SAMPLES]` (default
//! 1,000,000): one run's sink is fed SAMPLES samples as fast as one thread
//! can (far faster than any probe), the store is flushed, and the run is
//! loaded back whole (what `netproof report` does). SQLite writes a
//! temporary file; PostgreSQL a private cluster (scripts/pg-test-cluster.sh)
//! on a Unix socket. Prints samples/s sustained into each, the load time,
//! and PostgreSQL's figures as a ratio of SQLite's. Numbers for
//! docs/performance.md.

use std::time::Instant;

use netproof_sample::{Sample, Timestamp, metric};
use netproof_store::postgres::cluster::TestCluster;
use netproof_store::*;

/// (samples/s into the store, seconds to load the run back).
fn measure(url: &str, n: usize) -> (f64, f64) {
    let store = open(url).expect("open store");
    let owner = Owner::current();
    let run = store
        .begin_run(&NewRun {
            plan_name: "bench".into(),
            plan_path: "bench.toml".into(),
            plan_text: String::new(),
            plan_hash: String::new(),
            summary: String::new(),
            backend: "local".into(),
            seed: 1,
            seed_source: "plan".into(),
            netproof_version: env!("CARGO_PKG_VERSION").into(),
            command_line: "store_bench".into(),
            host: Default::default(),
            started: Timestamp(0),
            owner,
            topology: Default::default(),
        })
        .expect("begin run");
    let sink = store.sink(Scope {
        run,
        case_run: None,
        step: None,
    });
    let start = Instant::now();
    for i in 0..n {
        let mut s = Sample::num(
            &metric::TCP_CONNECT_LATENCY,
            0.000_04 + (i % 97) as f64 * 1e-6,
        )
        .at(Timestamp(i as i64 * 1_000_000));
        s.labels.insert("to".into(), "198.18.0.1:443".into());
        sink.sample(s);
    }
    store.flush().expect("flush");
    let write_s = start.elapsed().as_secs_f64();
    store
        .finish_run(run, RunStatus::Passed, Timestamp(n as i64 * 1_000_000))
        .expect("finish run");
    drop(store);

    let store = open(url).expect("reopen store");
    let start = Instant::now();
    let data = store.load_run(run).expect("load run");
    let load_s = start.elapsed().as_secs_f64();
    assert_eq!(data.samples.len(), n, "every sample read back");
    (n as f64 / write_s, load_s)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("SAMPLES is a number"))
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("bench.db");
    let (sq_rate, sq_load) = measure(db.to_str().expect("UTF-8 path"), n);
    println!("sqlite:     {sq_rate:>10.0} samples/s written, {n} samples loaded in {sq_load:.2} s");

    let pg_dir = tempfile::tempdir().expect("temporary directory");
    let cluster = TestCluster::start(pg_dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let (pg_rate, pg_load) = measure(cluster.url(), n);
    println!("postgresql: {pg_rate:>10.0} samples/s written, {n} samples loaded in {pg_load:.2} s");
    println!(
        "postgresql / sqlite: write rate {:.2}x, load time {:.2}x",
        pg_rate / sq_rate,
        pg_load / sq_load
    );
}
