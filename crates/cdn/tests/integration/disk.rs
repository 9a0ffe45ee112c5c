//! The disk tier behind the memory cache: objects evicted from memory are
//! served from disk without a refetch, within the disk's own budget.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netproof_cdn::fill::disk::DiskConfig;
use netproof_cdn::fill::{FillConfig, FillSource, FillStore};
use netproof_cdn::object::{CacheStatus, ObjectKey, Objects};
use tokio::time::timeout;

use crate::upstream_server::{Knobs, content_of, start};

const BOUND: Duration = Duration::from_secs(20);

fn key(path: &str) -> ObjectKey {
    ObjectKey {
        site: "a.test".into(),
        path: path.into(),
    }
}

/// Opens `path`, reads it whole and checks its bytes; returns the status.
async fn fetch(store: &FillStore, path: &str) -> CacheStatus {
    let k = key(path);
    let o = timeout(BOUND, store.open(&k)).await.unwrap().unwrap();
    let content = content_of("a.test", path);
    let mut at = 0;
    while at < o.meta.len {
        let b = timeout(BOUND, o.body.read_at(at, 1 << 20))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(content.first_mismatch(at, &b), None, "{path} at {at}");
        at += b.len() as u64;
    }
    o.status
}

/// The numbered object files in `dir` (written in the background: waits,
/// bounded, until there are `n`).
async fn files(dir: &Path, n: usize) -> Vec<String> {
    let list = || {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".obj"))
            .collect();
        v.sort();
        v
    };
    timeout(BOUND, async {
        while list().len() != n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("expected {n} files, found {:?}", list()));
    list()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_evicted_from_memory_are_served_from_disk_within_its_budget() {
    let size = 100_000u64;
    let origin = start(Knobs::new(
        "origin",
        size,
        &Arc::new(Mutex::new(Vec::new())),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = FillConfig::new(
        vec![FillSource::parse("origin", &origin.url(), "origin").unwrap()],
        size + size / 2,
    );
    c.disk = Some(DiskConfig {
        dir: dir.path().to_owned(),
        budget: 2 * size + size / 2,
    });
    let store = FillStore::new(&c).unwrap();

    assert_eq!(fetch(&store, "/t/1/f").await, CacheStatus::Miss);
    assert_eq!(fetch(&store, "/t/2/f").await, CacheStatus::Miss);
    // 1 went to disk; it is a hit there, bytes exact, no refetch.
    assert!(store.on_disk(&key("/t/1/f")) && !store.contains(&key("/t/1/f")));
    assert_eq!(files(dir.path(), 1).await, ["1.obj"]);
    assert_eq!(fetch(&store, "/t/1/f").await, CacheStatus::Hit);
    assert_eq!(origin.knobs.requests(), 2);

    // 3 pushes 2 to disk (1 and 2 fit); 4 pushes 3, and the disk's SIEVE
    // gives up 2, the one not hit there.
    fetch(&store, "/t/3/f").await;
    fetch(&store, "/t/4/f").await;
    assert!(store.on_disk(&key("/t/1/f")) && store.on_disk(&key("/t/3/f")));
    assert!(!store.on_disk(&key("/t/2/f")));
    assert_eq!(files(dir.path(), 2).await, ["1.obj", "3.obj"]);
    assert_eq!(store.disk_usage(), (2 * size, 2));
    let s = store.counters().snapshot();
    assert_eq!((s.demoted, s.disk_evictions, s.disk_hits), (3, 1, 1));
    assert_eq!(s.disk_write_failures, 0);
    // 2 is gone from both tiers: fetched again. That pushes 4 to disk,
    // where 1 goes now (its visited bit was spent sparing it last time).
    assert_eq!(fetch(&store, "/t/2/f").await, CacheStatus::Miss);
    assert!(store.on_disk(&key("/t/3/f")) && store.on_disk(&key("/t/4/f")));
    assert!(!store.on_disk(&key("/t/1/f")));
    assert_eq!(files(dir.path(), 2).await, ["3.obj", "4.obj"]);
    assert_eq!(origin.knobs.requests(), 5);
}
