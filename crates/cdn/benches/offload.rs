//! Offload benchmark (not a test): replays Zipf-popular requests over a
//! catalogue larger than the cache through the edge's cache (no network)
//! and prints the hit ratio and byte hit ratio of each eviction policy.
//!
//! Two workloads: a fixed Zipf popularity, and the same with churn (every
//! `SHIFT` requests a block of new titles becomes the most popular, as
//! new releases do on a streaming service). Objects are segments of 256
//! KiB to 2 MiB. Seeded, so two runs print the same numbers.
//!
//! Run: `cargo bench -p netproof-cdn --bench offload`.

use std::time::Instant;

use netproof_cdn::cache::{Cache, PolicyKind};
use netproof_proto::seed::splitmix64;

const OBJECTS: usize = 50_000;
const REQUESTS: usize = 2_000_000;
const SHIFT: usize = 100_000;
const SEED: u64 = 18;

/// Inverse-CDF sampling of ranks 0..n with weight 1 / (rank + 1)^alpha.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, alpha: f64) -> Zipf {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|r| {
                acc += 1.0 / (r as f64).powf(alpha);
                acc
            })
            .collect();
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut u64) -> usize {
        let u = (splitmix64(rng) >> 11) as f64 / (1u64 << 53) as f64;
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

struct Ratios {
    hits: f64,
    bytes: f64,
}

fn replay(policy: PolicyKind, budget: u64, sizes: &[u64], requests: &[usize]) -> Ratios {
    let mut cache: Cache<usize, ()> = Cache::new(budget, policy.build());
    let (mut hits, mut hit_bytes, mut all_bytes) = (0u64, 0u64, 0u64);
    for &obj in requests {
        let size = sizes[obj];
        all_bytes += size;
        if cache.get(&obj).is_some() {
            hits += 1;
            hit_bytes += size;
            continue;
        }
        // A miss fills the object whole, as the edge does.
        if let Ok((r, _evicted)) = cache.reserve(size) {
            cache.commit(obj, (), r);
        }
    }
    Ratios {
        hits: hits as f64 / requests.len() as f64,
        bytes: hit_bytes as f64 / all_bytes as f64,
    }
}

fn main() {
    let mut rng = SEED;
    let sizes: Vec<u64> = (0..OBJECTS)
        .map(|_| 256 * 1024 + splitmix64(&mut rng) % (1792 * 1024))
        .collect();
    let catalogue: u64 = sizes.iter().sum();
    println!(
        "offload: {OBJECTS} objects, {:.1} GiB catalogue, {REQUESTS} requests, seed {SEED}",
        catalogue as f64 / (1u64 << 30) as f64
    );
    println!(
        "{:<22} {:>6} {:>7} {:>10} {:>10} {:>12} {:>8}",
        "workload", "alpha", "cache", "lru hit", "sieve hit", "sieve/lru", "ms"
    );
    for alpha in [0.8, 1.0] {
        let zipf = Zipf::new(OBJECTS, alpha);
        for churn in [false, true] {
            let mut rng = SEED ^ alpha.to_bits();
            let requests: Vec<usize> = (0..REQUESTS)
                .map(|i| {
                    let rank = zipf.sample(&mut rng);
                    // With churn, rank 0 moves to a new block of titles
                    // every SHIFT requests.
                    let offset = if churn { (i / SHIFT) * 500 } else { 0 };
                    (rank + offset) % OBJECTS
                })
                .collect();
            for share in [0.01, 0.05, 0.10, 0.20] {
                let budget = (catalogue as f64 * share) as u64;
                let t = Instant::now();
                let [lru, sieve] = PolicyKind::ALL.map(|p| replay(p, budget, &sizes, &requests));
                println!(
                    "{:<22} {:>6.1} {:>6.0}% {:>9.2}% {:>9.2}% {:>11.3}x {:>8}",
                    if churn { "zipf + new titles" } else { "zipf" },
                    alpha,
                    share * 100.0,
                    lru.hits * 100.0,
                    sieve.hits * 100.0,
                    sieve.hits / lru.hits,
                    t.elapsed().as_millis(),
                );
                println!(
                    "{:<22} {:>6} {:>7} {:>9.2}% {:>9.2}%   (byte hit ratio)",
                    "",
                    "",
                    "",
                    lru.bytes * 100.0,
                    sieve.bytes * 100.0
                );
            }
        }
    }
}
