//! An edge's store against in-process upstreams: coalescing, no stampede
//! on failure or stall, ranked fill order, ranges during a fill, the byte
//! budget, keys by site, stale fill locks, TLS to a source.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use netproof_cdn::cache::PolicyKind;
use netproof_cdn::fill::plan::FailKind;
use netproof_cdn::fill::{FillConfig, FillSource, FillStore, Timeouts};
use netproof_cdn::object::{BodyError, CacheStatus, ObjectKey, Objects, OpenError, Opened};
use tokio::time::timeout;

use crate::upstream_server::{Knobs, Mode, Seen, Upstream, content_of, start};

/// Every wait in these tests is bounded by this.
const BOUND: Duration = Duration::from_secs(20);

fn key(site: &str, path: &str) -> ObjectKey {
    ObjectKey {
        site: site.into(),
        path: path.into(),
    }
}

fn source(name: &str, up: &Upstream, kind: &str) -> FillSource {
    FillSource::parse(name, &up.url(), kind).unwrap()
}

fn config(sources: Vec<FillSource>, budget: u64) -> FillConfig {
    let mut c = FillConfig::new(sources, budget);
    c.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        stall: Duration::from_millis(400),
    };
    c
}

fn log() -> Arc<Mutex<Vec<Seen>>> {
    Arc::new(Mutex::new(Vec::new()))
}

/// Reads the whole body from `from` and checks every byte against the
/// site's content function.
async fn read_all(o: &Opened, k: &ObjectKey, from: u64) -> Result<u64, BodyError> {
    let content = content_of(&k.site, &k.path);
    let mut at = from;
    while at < o.meta.len {
        let b = o.body.read_at(at, 64 * 1024).await?;
        assert!(!b.is_empty());
        assert_eq!(content.first_mismatch(at, &b), None, "{k:?} at {at}");
        at += b.len() as u64;
    }
    Ok(at - from)
}

/// Opens `k` `n` times at once and reads each body whole; returns the
/// statuses.
async fn open_many(store: &FillStore, k: &ObjectKey, n: usize) -> Vec<CacheStatus> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (store, k) = (store.clone(), k.clone());
            tokio::spawn(async move {
                let o = store.open(&k).await.expect("open");
                assert_eq!(read_all(&o, &k, 0).await.expect("body"), o.meta.len);
                o.status
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(timeout(BOUND, t).await.expect("bounded").expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_misses_cause_exactly_one_upstream_fetch() {
    let origin = start(Knobs::new("origin", 300_000, &log())).await;
    *origin.knobs.head_delay.lock().unwrap() = Duration::from_millis(200);
    let store =
        FillStore::new(&config(vec![source("origin", &origin, "origin")], 10 << 20)).unwrap();
    let k = key("a.test", "/t/7/1080p/0001.m4s");
    let statuses = open_many(&store, &k, 100).await;
    assert_eq!(origin.knobs.requests(), 1);
    let s = store.counters().snapshot();
    // One miss; the others joined the fill (or, on a very busy machine,
    // arrived after it finished and hit).
    assert_eq!((s.misses, s.coalesced + s.hits), (1, 99), "{statuses:?}");
    assert!(s.coalesced > 0);
    assert_eq!(
        statuses.iter().filter(|&&s| s == CacheStatus::Miss).count(),
        1
    );
    assert_eq!(s.bytes_from("origin"), 300_000);
    // Now it is cached: a hit, no new request.
    let o = store.open(&k).await.unwrap();
    assert_eq!(
        (o.status, o.source.as_deref()),
        (CacheStatus::Hit, Some("origin"))
    );
    assert_eq!(origin.knobs.requests(), 1);
    assert_eq!(store.usage(), (300_000, 0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fill_does_not_stampede_the_next_source() {
    let l = log();
    let peer = start(Knobs::new("peer", 100_000, &l)).await;
    peer.knobs.set_mode(Mode::Status(503));
    *peer.knobs.head_delay.lock().unwrap() = Duration::from_millis(200);
    let origin = start(Knobs::new("origin", 100_000, &l)).await;
    let store = FillStore::new(&config(
        vec![
            source("origin", &origin, "origin"),
            source("peer", &peer, "peer"),
        ],
        10 << 20,
    ))
    .unwrap();
    let k = key("a.test", "/t/1/f");
    open_many(&store, &k, 100).await;
    assert_eq!((peer.knobs.requests(), origin.knobs.requests()), (1, 1));
    let s = store.counters().snapshot();
    assert_eq!(s.failed(FailKind::Status), 1);
    assert_eq!((s.fetches_from("peer"), s.fetches_from("origin")), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_fill_does_not_stampede_and_resumes_on_the_next_source_where_it_stopped() {
    let l = log();
    let size = 200_000;
    let tier = start(Knobs::new("tier", size, &l)).await;
    tier.knobs.set_mode(Mode::StallAfter(64 * 1024));
    let origin = start(Knobs::new("origin", size, &l)).await;
    let store = FillStore::new(&config(
        vec![
            source("tier", &tier, "tier"),
            source("origin", &origin, "origin"),
        ],
        10 << 20,
    ))
    .unwrap();
    let k = key("a.test", "/t/2/f");
    // Every reader is already streaming the tier's bytes when it stalls.
    open_many(&store, &k, 100).await;
    assert_eq!((tier.knobs.requests(), origin.knobs.requests()), (1, 1));
    let seen = l.lock().unwrap().clone();
    assert_eq!(seen[1].server, "origin");
    assert_eq!(seen[1].range.as_deref(), Some("bytes=65536-"));
    let s = store.counters().snapshot();
    assert_eq!(s.failed(FailKind::Stall), 1);
    assert_eq!(s.bytes_from("tier") + s.bytes_from("origin"), size);
    assert_eq!(s.bytes_from("origin"), size - 65_536);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fill_follows_peer_then_tier_then_origin_and_only_the_origin_404_is_final() {
    let l = log();
    let peer = start(Knobs::new("peer", 10_000, &l)).await;
    let tier = start(Knobs::new("tier", 10_000, &l)).await;
    let origin = start(Knobs::new("origin", 10_000, &l)).await;
    peer.knobs.set_mode(Mode::Status(404));
    tier.knobs.set_mode(Mode::Status(404));
    // Configured out of rank order: the store ranks them.
    let store = FillStore::new(&config(
        vec![
            source("origin", &origin, "origin"),
            source("tier", &tier, "tier"),
            source("peer", &peer, "peer"),
        ],
        10 << 20,
    ))
    .unwrap();
    let k = key("a.test", "/t/3/f");
    let o = timeout(BOUND, store.open(&k)).await.unwrap().unwrap();
    assert_eq!(o.source.as_deref(), Some("origin"));
    read_all(&o, &k, 0).await.unwrap();
    let order: Vec<String> = l.lock().unwrap().iter().map(|s| s.server.clone()).collect();
    assert_eq!(order, ["peer", "tier", "origin"]);
    // A peer that has it serves it alone.
    peer.knobs.set_mode(Mode::Serve);
    let o = timeout(BOUND, store.open(&key("a.test", "/t/4/f")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.source.as_deref(), Some("peer"));
    assert_eq!(l.lock().unwrap().len(), 4);
    // The origin's 404 is final: not found, not a 502.
    peer.knobs.set_mode(Mode::Status(404));
    origin.knobs.set_mode(Mode::Status(404));
    let e = timeout(BOUND, store.open(&key("a.test", "/t/5/f")))
        .await
        .unwrap()
        .err()
        .unwrap();
    assert!(matches!(e, OpenError::NotFound { .. }), "{e}");
    assert_eq!(store.counters().snapshot().not_found, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_read_during_a_fill_gets_exact_bytes_from_one_fetch() {
    let size = 512 * 1024;
    let origin = start(Knobs::new("origin", size, &log())).await;
    *origin.knobs.chunk_delay.lock().unwrap() = Duration::from_millis(20);
    let store =
        FillStore::new(&config(vec![source("origin", &origin, "origin")], 10 << 20)).unwrap();
    let k = key("a.test", "/t/9/seg");
    let content = content_of("a.test", "/t/9/seg");
    let first = timeout(BOUND, store.open(&k)).await.unwrap().unwrap();
    assert_eq!(first.status, CacheStatus::Miss);
    // A second client asks for a range near the end while the fill is
    // about a tenth of the way.
    let second = timeout(BOUND, store.open(&k)).await.unwrap().unwrap();
    assert_eq!(second.status, CacheStatus::Filling);
    assert!(
        store.usage().1 == size,
        "the object is reserved, not yet cached"
    );
    let (at, want) = (size - 1000, 900usize);
    let mut got = Vec::new();
    while got.len() < want {
        let b = timeout(
            BOUND,
            second.body.read_at(at + got.len() as u64, want - got.len()),
        )
        .await
        .unwrap()
        .unwrap();
        got.extend_from_slice(&b);
    }
    assert_eq!(content.first_mismatch(at, &got), None);
    // The first byte too, and the last one exactly at the file's end.
    assert_eq!(first.body.read_at(0, 1).await.unwrap().len(), 1);
    let last = first.body.read_at(size - 1, 100).await.unwrap();
    assert_eq!(
        (last.len(), content.first_mismatch(size - 1, &last)),
        (1, None)
    );
    assert_eq!(origin.knobs.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_is_respected_and_eviction_follows_the_policy() {
    for (policy, victim) in [(PolicyKind::Sieve, "/t/2/f"), (PolicyKind::Lru, "/t/2/f")] {
        let size = 50_000;
        let origin = start(Knobs::new("origin", size, &log())).await;
        let mut c = config(
            vec![source("origin", &origin, "origin")],
            3 * size + size / 2,
        );
        c.policy = policy;
        let store = FillStore::new(&c).unwrap();
        for p in ["/t/1/f", "/t/2/f", "/t/3/f"] {
            open_many(&store, &key("a.test", p), 1).await;
        }
        // 1 is hit again; 4 needs room: 2 goes under either policy.
        assert_eq!(
            open_many(&store, &key("a.test", "/t/1/f"), 1).await,
            [CacheStatus::Hit]
        );
        open_many(&store, &key("a.test", "/t/4/f"), 1).await;
        let (used, reserved, objects) = store.usage();
        assert!(used + reserved <= 3 * size + size / 2);
        assert_eq!(objects, 3);
        assert!(!store.contains(&key("a.test", victim)), "{policy:?}");
        let s = store.counters().snapshot();
        assert_eq!((s.evictions, s.evicted_bytes), (1, size));
        // The victim is fetched again; the others are hits.
        assert_eq!(
            open_many(&store, &key("a.test", "/t/3/f"), 1).await,
            [CacheStatus::Hit]
        );
        assert_eq!(origin.knobs.requests(), 4);
    }
    // Where the two part: 1 is hit before 2 arrives; when 3 needs room,
    // SIEVE keeps the hit 1 and evicts the unhit 2, LRU evicts 1 (2 is
    // more recent than 1's last hit).
    let size = 50_000;
    for (policy, gone, kept) in [
        (PolicyKind::Sieve, "/t/2/f", "/t/1/f"),
        (PolicyKind::Lru, "/t/1/f", "/t/2/f"),
    ] {
        let origin = start(Knobs::new("origin", size, &log())).await;
        let mut c = config(vec![source("origin", &origin, "origin")], 2 * size);
        c.policy = policy;
        let store = FillStore::new(&c).unwrap();
        for p in ["/t/1/f", "/t/1/f", "/t/2/f", "/t/3/f"] {
            open_many(&store, &key("a.test", p), 1).await;
        }
        assert!(
            !store.contains(&key("a.test", gone)),
            "{policy:?} kept {gone}"
        );
        assert!(
            store.contains(&key("a.test", kept)),
            "{policy:?} evicted {kept}"
        );
        assert_eq!(store.usage().2, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_path_on_two_sites_is_two_objects_never_cross_served() {
    let l = log();
    let origin = start(Knobs::new("origin", 20_000, &l)).await;
    let store =
        FillStore::new(&config(vec![source("origin", &origin, "origin")], 10 << 20)).unwrap();
    let (a, b) = (key("a.test", "/t/1/f"), key("b.test", "/t/1/f"));
    open_many(&store, &a, 3).await;
    open_many(&store, &b, 3).await;
    assert_eq!(origin.knobs.requests(), 2);
    let hosts: Vec<String> = l.lock().unwrap().iter().map(|s| s.host.clone()).collect();
    assert_eq!(hosts, ["a.test", "b.test"]);
    // read_all checked each against its own site's bytes; they differ.
    let (oa, ob) = (store.open(&a).await.unwrap(), store.open(&b).await.unwrap());
    assert_ne!(
        oa.body.read_at(0, 64).await.unwrap(),
        ob.body.read_at(0, 64).await.unwrap()
    );
    assert_eq!(store.usage().2, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pingora_931_a_stale_fill_lock_never_blocks_later_requests() {
    let origin = start(Knobs::new("origin", 20_000, &log())).await;
    // The first request never gets a head; the fill's stall timeout is
    // long, so only the lock timeout can free the object.
    origin
        .knobs
        .stall_heads
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let mut c = config(vec![source("origin", &origin, "origin")], 10 << 20);
    c.timeouts.stall = Duration::from_secs(60);
    c.lock_timeout = Duration::from_millis(300);
    let store = FillStore::new(&c).unwrap();
    let k = key("a.test", "/t/1/f");
    let stuck = {
        let (store, k) = (store.clone(), k.clone());
        tokio::spawn(async move { store.open(&k).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let o = timeout(BOUND, store.open(&k))
        .await
        .expect("not blocked")
        .unwrap();
    assert_eq!(o.status, CacheStatus::Miss);
    read_all(&o, &k, 0).await.unwrap();
    // The stale fill's waiter is released with an error, not left hanging.
    let e = timeout(BOUND, stuck).await.unwrap().unwrap().err().unwrap();
    assert!(e.to_string().contains("lock timeout"), "{e}");
    let s = store.counters().snapshot();
    assert_eq!((s.stale_locks, s.misses), (1, 2));
    assert_eq!(origin.knobs.requests(), 2);
    assert!(store.contains(&k));
    // The stale fill was stopped, and its drop guard left nothing
    // reserved.
    assert_eq!(store.usage(), (20_000, 0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_short_with_no_other_source_fails_its_readers_instead_of_truncating() {
    let origin = start(Knobs::new("origin", 100_000, &log())).await;
    origin.knobs.set_mode(Mode::CutAfter(32 * 1024));
    let store =
        FillStore::new(&config(vec![source("origin", &origin, "origin")], 10 << 20)).unwrap();
    let k = key("a.test", "/t/1/f");
    let o = timeout(BOUND, store.open(&k)).await.unwrap().unwrap();
    let e = timeout(BOUND, read_all(&o, &k, 0))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, BodyError::FillFailed { at: 32768, .. }), "{e}");
    assert!(!store.contains(&k));
    assert_eq!(store.usage(), (0, 0, 0), "the reservation is given back");
    assert_eq!(store.counters().snapshot().failed(FailKind::Body), 1);
    // The next open tries again.
    origin.knobs.set_mode(Mode::Serve);
    let o = timeout(BOUND, store.open(&k)).await.unwrap().unwrap();
    assert_eq!(o.status, CacheStatus::Miss);
    read_all(&o, &k, 0).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_on_a_source_that_ignores_ranges_skips_the_bytes_already_held() {
    let l = log();
    let size = 150_000;
    let peer = start(Knobs::new("peer", size, &l)).await;
    peer.knobs.set_mode(Mode::StallAfter(48 * 1024));
    let origin = start(Knobs::new("origin", size, &l)).await;
    origin
        .knobs
        .ranges
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let store = FillStore::new(&config(
        vec![
            source("peer", &peer, "peer"),
            source("origin", &origin, "origin"),
        ],
        10 << 20,
    ))
    .unwrap();
    let k = key("a.test", "/t/6/f");
    open_many(&store, &k, 10).await;
    assert_eq!((peer.knobs.requests(), origin.knobs.requests()), (1, 1));
    let s = store.counters().snapshot();
    // The origin sent everything; the fill kept what it lacked.
    assert_eq!(s.bytes_from("origin"), size - 48 * 1024);
    assert!(store.contains(&k));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_on_a_source_with_another_etag_fails_the_readers_instead_of_mixing_copies() {
    let l = log();
    let size = 150_000;
    let peer = start(Knobs::new("peer", size, &l)).await;
    peer.knobs.set_mode(Mode::StallAfter(48 * 1024));
    let origin = start(Knobs::new("origin", size, &l)).await;
    *origin.knobs.etag_salt.lock().unwrap() = "-v2".into();
    let store = FillStore::new(&config(
        vec![
            source("peer", &peer, "peer"),
            source("origin", &origin, "origin"),
        ],
        10 << 20,
    ))
    .unwrap();
    let k = key("a.test", "/t/6/f");
    let o = timeout(BOUND, store.open(&k)).await.unwrap().unwrap();
    let e = timeout(BOUND, read_all(&o, &k, 0))
        .await
        .unwrap()
        .unwrap_err();
    match e {
        BodyError::FillFailed { at, why } => {
            assert_eq!(at, 48 * 1024);
            assert!(why.contains("ETag"), "{why}");
        }
        other => panic!("{other}"),
    }
    let s = store.counters().snapshot();
    assert_eq!(
        (s.failed(FailKind::Stall), s.failed(FailKind::Protocol)),
        (1, 1)
    );
    assert_eq!(store.usage(), (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_larger_than_the_budget_is_served_whole_but_not_kept() {
    let origin = start(Knobs::new("origin", 200_000, &log())).await;
    let store =
        FillStore::new(&config(vec![source("origin", &origin, "origin")], 100_000)).unwrap();
    let k = key("a.test", "/t/1/f");
    assert_eq!(open_many(&store, &k, 1).await, [CacheStatus::Miss]);
    assert!(!store.contains(&k));
    assert_eq!(store.usage(), (0, 0, 0));
    assert_eq!(store.counters().snapshot().uncacheable, 1);
    assert_eq!(open_many(&store, &k, 1).await, [CacheStatus::Miss]);
    assert_eq!(origin.knobs.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_are_asked_only_if_cached_and_their_504_means_not_here() {
    let l = log();
    let peer = start(Knobs::new("peer", 10_000, &l)).await;
    peer.knobs.set_mode(Mode::Status(504));
    let tier = start(Knobs::new("tier", 10_000, &l)).await;
    let store = FillStore::new(&config(
        vec![source("peer", &peer, "peer"), source("tier", &tier, "tier")],
        10 << 20,
    ))
    .unwrap();
    let k = key("a.test", "/t/1/f");
    let o = timeout(BOUND, store.open(&k)).await.unwrap().unwrap();
    assert_eq!(o.source.as_deref(), Some("tier"));
    let seen = l.lock().unwrap().clone();
    assert_eq!(seen[0].cache_control.as_deref(), Some("only-if-cached"));
    assert_eq!(seen[1].cache_control, None, "a tier fills on a miss");
    // Not a failure: a peer that lacks an object is the normal case.
    assert_eq!(store.counters().snapshot().failed(FailKind::Status), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9111_5_2_1_7_only_if_cached_serves_what_is_held_and_never_fills() {
    let origin = start(Knobs::new("origin", 10_000, &log())).await;
    let store =
        FillStore::new(&config(vec![source("origin", &origin, "origin")], 10 << 20)).unwrap();
    let (a, b) = (key("a.test", "/t/1/f"), key("a.test", "/t/2/f"));
    open_many(&store, &a, 1).await;
    let o = timeout(BOUND, store.open_cached(&a))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.status, CacheStatus::Hit);
    assert_eq!(read_all(&o, &a, 0).await.unwrap(), 10_000);
    let e = timeout(BOUND, store.open_cached(&b))
        .await
        .unwrap()
        .err()
        .unwrap();
    assert!(
        matches!(
            e,
            OpenError::Upstream {
                timed_out: true,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(origin.knobs.requests(), 1);
    assert_eq!(store.counters().snapshot().not_cached, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_many_clients_over_many_objects_with_a_small_budget_stay_exact_and_settle() {
    // 16 clients, 40 opens each, over 30 objects of which the budget
    // holds 4 (and the disk 6): constant eviction, coalescing and
    // demotion. Every byte read is checked; afterwards nothing is left
    // reserved and the budgets hold.
    let size = 40_000u64;
    let l = log();
    let origin = start(Knobs::new("origin", size, &l)).await;
    *origin.knobs.chunk_delay.lock().unwrap() = Duration::from_millis(1);
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(vec![source("origin", &origin, "origin")], 4 * size);
    c.disk = Some(netproof_cdn::fill::disk::DiskConfig {
        dir: dir.path().to_owned(),
        budget: 6 * size,
    });
    let store = FillStore::new(&c).unwrap();
    let clients: Vec<_> = (0..16u64)
        .map(|client| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut rng = client + 1;
                for _ in 0..40 {
                    let n = netproof_proto::seed::splitmix64(&mut rng);
                    // Skewed: low titles far more often.
                    let title = (n % 30).min(n % 7 + n % 5);
                    let k = key("a.test", &format!("/t/{title}/f"));
                    let o = store.open(&k).await.expect("open");
                    let from = (n >> 32) % size;
                    assert_eq!(read_all(&o, &k, from).await.expect("body"), size - from);
                }
            })
        })
        .collect();
    for t in clients {
        timeout(Duration::from_secs(60), t)
            .await
            .expect("bounded")
            .expect("client");
    }
    let (used, reserved, objects) = store.usage();
    assert_eq!(reserved, 0);
    assert!(used <= 4 * size && objects <= 4, "{used} {objects}");
    let (disk_bytes, disk_objects) = store.disk_usage();
    assert!(disk_bytes <= 6 * size);
    // Demoted files are written and evicted ones removed in the
    // background: they settle to exactly the disk tier's objects.
    let count = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                let name = name.to_string_lossy();
                name.ends_with(".obj") || name.ends_with(".tmp")
            })
            .count()
    };
    timeout(BOUND, async {
        while count() != disk_objects {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{} files for {disk_objects} objects", count()));
    let s = store.counters().snapshot();
    assert_eq!(s.hits + s.misses + s.coalesced, 16 * 40);
    assert_eq!(s.upstream_errors + s.not_found, 0);
    assert_eq!(origin.knobs.requests() as u64, s.misses);
    assert!(s.evictions > 0 && s.demoted > 0 && s.disk_hits > 0, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misses_one_after_another_reuse_one_upstream_connection() {
    let origin = start(Knobs::new("origin", 50_000, &log())).await;
    let store =
        FillStore::new(&config(vec![source("origin", &origin, "origin")], 10 << 20)).unwrap();
    for i in 0..5 {
        let k = key("a.test", &format!("/t/{i}/1080p/0001.m4s"));
        let o = timeout(BOUND, store.open(&k)).await.unwrap().unwrap();
        assert_eq!(o.status, CacheStatus::Miss);
        assert_eq!(read_all(&o, &k, 0).await.unwrap(), 50_000);
    }
    assert_eq!(
        origin.knobs.connections(),
        1,
        "five fills of whole bodies, one after another, ride one kept-alive connection"
    );
    // Another site is another TLS name: its own connection.
    let k = key("b.test", "/t/0/1080p/0001.m4s");
    let o = timeout(BOUND, store.open(&k)).await.unwrap().unwrap();
    assert_eq!(read_all(&o, &k, 0).await.unwrap(), 50_000);
    assert_eq!(origin.knobs.requests(), 6);
    assert_eq!(origin.knobs.connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_closes_its_connections_still_fills_every_miss() {
    let origin = start(Knobs::new("origin", 20_000, &log())).await;
    origin
        .knobs
        .keep_alive
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let store =
        FillStore::new(&config(vec![source("origin", &origin, "origin")], 10 << 20)).unwrap();
    for i in 0..5 {
        let k = key("a.test", &format!("/t/{i}/1080p/0001.m4s"));
        let o = timeout(BOUND, store.open(&k)).await.unwrap().unwrap();
        assert_eq!(read_all(&o, &k, 0).await.unwrap(), 20_000);
    }
    let s = store.counters().snapshot();
    assert_eq!((s.misses, s.bytes_from("origin")), (5, 100_000));
    assert_eq!(origin.knobs.connections(), 5);
}
