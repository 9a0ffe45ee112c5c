//! How many wire segments a second one pipeline direction handles, on a
//! virtual clock (the pipeline's own cost, no I/O): delay only, 1 % loss,
//! and a rate with CoDel. Run with `cargo bench -p netproof-link --bench core`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use netproof_link::core::{Nanos, Pipeline, Segments};
use netproof_link::params::{Codel, LinkParams, Loss, QueueLimit, Rate};

/// Pushes 64 KiB super-frames (44 segments) arriving at 20 Gbit/s of
/// virtual time and polls after each; returns segments per second of CPU.
fn run(name: &str, params: LinkParams) {
    let segs = Segments {
        count: 44,
        size: 1514,
        last: 1514,
    };
    let gap: Nanos = 44 * 1514 * 8 / 20; // ns per frame at 20 Gbit/s
    let frames = 300_000u64;
    let mut p: Pipeline<u64> = Pipeline::new(params, 1);
    let start = Instant::now();
    let mut out = 0u64;
    for i in 0..frames {
        let now = i * gap;
        p.push(now, i, segs, true);
        while let Some(o) = p.poll(now) {
            out += u64::from(o.count);
            black_box(&o);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let segments = frames * 44;
    println!(
        "{name:<14} {:>8.2} M segments/s  ({:>6.1} ns/segment, {out} released)",
        segments as f64 / secs / 1e6,
        secs * 1e9 / segments as f64
    );
}

fn main() {
    run(
        "delay only",
        LinkParams {
            delay: Duration::from_millis(10),
            ..LinkParams::default()
        },
    );
    run(
        "loss 1%",
        LinkParams {
            delay: Duration::from_millis(10),
            loss: Loss::Random {
                p: 0.01,
                correlation: 0.0,
            },
            ..LinkParams::default()
        },
    );
    run(
        "rate+codel",
        LinkParams {
            delay: Duration::from_millis(10),
            rate: Some(Rate {
                bits_per_second: 10_000_000_000,
                overhead: 24,
            }),
            queue: QueueLimit::Packets(10_000),
            codel: Some(Codel::default()),
            ..LinkParams::default()
        },
    );
}
