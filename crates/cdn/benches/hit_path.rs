//! Hit-path benchmark (not a test): what a cache hit costs inside the
//! edge's store, without the HTTP front: `open` of a cached object plus
//! reading it, one task and two tasks at once (the store's one lock), and
//! reading a cached 1 MiB object in 64 KiB reads (shared slices of the
//! cached blocks: no copy). The objects are filled
//! once from an in-process upstream on 127.0.0.1; the timed part does no
//! network I/O.
//!
//! Run: `cargo bench -p netproof-cdn --bench hit_path`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netproof_cdn::fill::{FillConfig, FillSource, FillStore};
use netproof_cdn::object::{ObjectKey, Objects};

#[expect(dead_code, reason = "the benchmark uses the server, not every knob")]
#[path = "../tests/integration/upstream_server.rs"]
mod upstream_server;

const OBJECTS: u32 = 1000;
const ROUNDS: u32 = 200;

fn key(title: u32) -> ObjectKey {
    ObjectKey {
        site: "a.test".into(),
        path: format!("/t/{title}/f").into(),
    }
}

async fn store_of(size: u64) -> (FillStore, upstream_server::Upstream) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let origin = upstream_server::start(upstream_server::Knobs::new("origin", size, &log)).await;
    let source = FillSource::parse("origin", &origin.url(), "origin").expect("source");
    let store = FillStore::new(&FillConfig::new(vec![source], 4 << 30)).expect("store");
    (store, origin)
}

/// Opens and reads `rounds` times every object `0..objects`; returns the
/// number of hits done.
async fn hits(store: &FillStore, objects: u32, rounds: u32) -> u64 {
    let mut n = 0;
    for _ in 0..rounds {
        for t in 0..objects {
            let o = store.open(&key(t)).await.expect("open");
            let b = o.body.read_at(0, 64 * 1024).await.expect("read");
            assert_eq!(b.len() as u64, o.meta.len);
            n += 1;
        }
    }
    n
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (store, _origin) = store_of(1024).await;
        // Fill every object (and wait for each to be whole).
        hits(&store, OBJECTS, 1).await;
        while store.usage().2 < OBJECTS as usize {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let t = Instant::now();
        let n = hits(&store, OBJECTS, ROUNDS).await;
        let one = t.elapsed();
        println!(
            "hit + 1 KiB read, one task:   {:>6.0} ns each, {:>5.2} M/s",
            one.as_nanos() as f64 / n as f64,
            n as f64 / one.as_secs_f64() / 1e6
        );
        let t = Instant::now();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { hits(&store, OBJECTS, ROUNDS).await })
            })
            .collect();
        let mut n = 0;
        for task in tasks {
            n += task.await.expect("task");
        }
        let two = t.elapsed();
        println!(
            "hit + 1 KiB read, two tasks:  {:>6.0} ns each, {:>5.2} M/s in all",
            two.as_nanos() as f64 / n as f64 * 2.0,
            n as f64 / two.as_secs_f64() / 1e6
        );

        let (big, _origin) = store_of(1 << 20).await;
        let k = key(1);
        let o = big.open(&k).await.expect("open");
        o.body.read_at((1 << 20) - 1, 1).await.expect("whole");
        tokio::time::sleep(Duration::from_millis(50)).await; // blocks joined
        let t = Instant::now();
        for _ in 0..2000 {
            let o = big.open(&k).await.expect("open");
            let mut at = 0;
            while at < o.meta.len {
                let b = o.body.read_at(at, 64 * 1024).await.expect("read");
                at += b.len() as u64;
            }
            assert_eq!(at, 1 << 20);
        }
        let e = t.elapsed();
        // The reads hand out shared slices of the cached blocks (no
        // copy), so this is the cost of the reads, not a copy speed.
        println!(
            "1 MiB object in 64 KiB reads: {:>6.2} us per object (16 reads, {:.0} ns each)",
            e.as_nanos() as f64 / 2000.0 / 1000.0,
            e.as_nanos() as f64 / 2000.0 / 16.0
        );
    });
}
