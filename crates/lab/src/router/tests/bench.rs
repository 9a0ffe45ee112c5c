//! Bring-up to converged of an OSPF ring on BIRD and on FRR, measured.
//! A benchmark, not a test (it asserts only that the ring converges):
//! ignored by default; run it with
//! `flock /tmp/np-ns.lock cargo nextest run -p netproof-lab --run-ignored only bench_ospf_ring --no-capture`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use netproof_plan::Daemon;
use netproof_sample::MemorySink;

use super::{ospf_ring, ring_lab_with};
use crate::Cancel;

async fn measure(daemon: Daemon, n: usize) {
    let sink = Arc::new(MemorySink::new());
    let daemons = vec![daemon; n];
    let t0 = Instant::now();
    let mut lab = ring_lab_with(&daemons, sink.clone(), false).await;
    let built = t0.elapsed();
    let (specs, expect) = ospf_ring(&lab, &daemons);
    let cancel = Cancel::new();
    let t1 = Instant::now();
    let started = lab.start_routers(&specs, sink, &cancel).await;
    let start = t1.elapsed();
    let converged = match started {
        Ok(()) => {
            lab.wait_converged(&expect, Duration::from_secs(60), &cancel)
                .await
        }
        Err(e) => Err(e),
    };
    let t2 = Instant::now();
    lab.down().await;
    let down = t2.elapsed();
    let took = converged.unwrap_or_else(|e| panic!("{daemon:?} ring of {n}: {e}"));
    println!(
        "bench: {daemon:?} OSPF ring of {n}: lab {built:?}, daemons started {start:?}, converged {took:?} later; bring-up to converged {:?}; down {down:?}",
        built + start + took
    );
}

#[tokio::test]
#[ignore = "a benchmark: prints bring-up times (see docs/performance.md)"]
async fn netns_bench_ospf_ring_bring_up() {
    for n in [10, 20] {
        measure(Daemon::Bird, n).await;
        measure(Daemon::Frr, n).await;
    }
}
