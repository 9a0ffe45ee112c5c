//! The pipeline on a virtual clock with fixed seeds: exact figures.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::params::{
    Chance, Codel as CodelParams, Distribution, Loss, QueueLimit, Rate, Reorder, Trace,
};

const US: Nanos = 1_000;
const MS: Nanos = 1_000_000;
const S: Nanos = 1_000_000_000;

/// What the tests push: an id and the push time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tag {
    id: u64,
    at: Nanos,
}

fn full(count: u32) -> Segments {
    Segments {
        count,
        size: 1514,
        last: 1514,
    }
}

/// Polls everything due at `now`.
fn drain(p: &mut Pipeline<Tag>, now: Nanos) -> Vec<Out<Tag>> {
    std::iter::from_fn(|| p.poll(now)).collect()
}

/// Releases everything still pending by jumping from deadline to deadline,
/// checking on the way that nothing is due a nanosecond earlier. Returns
/// each piece with its release time.
fn run_out(p: &mut Pipeline<Tag>, until: Nanos) -> Vec<(Nanos, Out<Tag>)> {
    let mut outs = Vec::new();
    while let Some(d) = p.next_deadline() {
        if d > until {
            break;
        }
        if d > 0 {
            assert!(p.poll(d - 1).is_none(), "released before its deadline {d}");
        }
        let got = drain(p, d);
        assert!(!got.is_empty(), "deadline {d} released nothing");
        outs.extend(got.into_iter().map(|o| (d, o)));
    }
    outs
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

#[test]
fn a_fixed_delay_is_exact_to_the_nanosecond_and_keeps_super_frames_whole() {
    let params = LinkParams {
        delay: Duration::from_nanos(20 * MS + 7),
        ..LinkParams::default()
    };
    let mut p = Pipeline::new(params, 1);
    let segs = Segments {
        count: 44,
        size: 1514,
        last: 700,
    };
    p.push(1_000, Tag { id: 1, at: 1_000 }, segs, false);
    p.push(1_500, Tag { id: 2, at: 1_500 }, Segments::single(60), false);
    assert_eq!(p.next_deadline(), Some(1_000 + 20 * MS + 7));
    assert!(p.poll(1_000 + 20 * MS + 6).is_none());
    let o = p.poll(1_000 + 20 * MS + 7).expect("due");
    assert_eq!((o.frame.id, o.first, o.count), (1, 0, 44));
    assert!(o.corrupt.is_none() && !o.ce);
    assert!(p.poll(1_000 + 20 * MS + 7).is_none());
    assert_eq!(p.next_deadline(), Some(1_500 + 20 * MS + 7));
    let o = p.poll(S).expect("due");
    assert_eq!((o.frame.id, o.count), (2, 1));
    let c = p.counters();
    assert_eq!((c.frames_in, c.segments_in, c.segments_out), (2, 45, 45));
    assert_eq!(c.bytes_out, 43 * 1514 + 700 + 60);
    assert_eq!(p.next_deadline(), None);
}

/// Delays of 20,000 frames pushed 10 µs apart.
fn delays(params: LinkParams) -> Vec<f64> {
    let mut p = Pipeline::new(params, 42);
    let n = 20_000;
    for i in 0..n {
        p.push(
            i * 10 * US,
            Tag {
                id: i,
                at: i * 10 * US,
            },
            full(1),
            false,
        );
    }
    let outs = run_out(&mut p, Nanos::MAX);
    assert_eq!(outs.len(), n as usize);
    outs.iter()
        .map(|(t, o)| {
            assert!(*t >= o.frame.at, "released before it was pushed");
            (*t - o.frame.at) as f64 / MS as f64
        })
        .collect()
}

#[test]
fn normal_jitter_has_the_configured_standard_deviation() {
    let d = delays(LinkParams {
        delay: Duration::from_millis(50),
        jitter: Duration::from_millis(5),
        distribution: Distribution::Normal,
        ..LinkParams::default()
    });
    let (mean, sd) = mean_sd(&d);
    assert!((mean - 50.0).abs() < 0.2, "mean {mean}");
    assert!((sd - 5.0).abs() < 0.5, "sd {sd}");
}

#[test]
fn uniform_jitter_is_a_half_width() {
    let d = delays(LinkParams {
        delay: Duration::from_millis(50),
        jitter: Duration::from_millis(6),
        distribution: Distribution::Uniform,
        ..LinkParams::default()
    });
    let (mean, sd) = mean_sd(&d);
    let want = 6.0 / 3f64.sqrt();
    assert!((mean - 50.0).abs() < 0.2, "mean {mean}");
    assert!((sd - want).abs() < 0.1 * want, "sd {sd} want {want}");
    assert!(d.iter().all(|x| (44.0..=56.0).contains(x)));
}

#[test]
fn correlated_jitter_keeps_its_standard_deviation() {
    let d = delays(LinkParams {
        delay: Duration::from_millis(50),
        jitter: Duration::from_millis(5),
        delay_correlation: 0.5,
        ..LinkParams::default()
    });
    let (_, sd) = mean_sd(&d);
    assert!((sd - 5.0).abs() < 0.5, "sd {sd}");
}

#[test]
fn pareto_jitter_has_the_configured_mean_and_is_never_negative() {
    for dist in [Distribution::Pareto, Distribution::ParetoNormal] {
        let d = delays(LinkParams {
            delay: Duration::from_millis(50),
            jitter: Duration::from_millis(5),
            distribution: dist,
            ..LinkParams::default()
        });
        let (mean, sd) = mean_sd(&d);
        assert!((mean - 50.0).abs() < 0.3, "{dist:?} mean {mean}");
        assert!((sd - 5.0).abs() < 1.0, "{dist:?} sd {sd}");
    }
    // Jitter larger than the delay: clamped at zero, never negative.
    let d = delays(LinkParams {
        delay: Duration::from_millis(1),
        jitter: Duration::from_millis(5),
        ..LinkParams::default()
    });
    assert!(d.iter().all(|&x| x >= 0.0));
    assert!(d.iter().filter(|&&x| x == 0.0).count() > 1000);
}

#[test]
fn nothing_is_released_before_its_time_and_deadlines_are_exact() {
    // Every stage at once; run_out checks each deadline both ways.
    let params = LinkParams {
        delay: Duration::from_millis(10),
        jitter: Duration::from_millis(2),
        loss: Loss::Random {
            p: 0.02,
            correlation: 0.0,
        },
        duplicate: Chance {
            p: 0.01,
            correlation: 0.0,
        },
        corrupt: Chance {
            p: 0.01,
            correlation: 0.0,
        },
        rate: Some(Rate {
            bits_per_second: 20_000_000,
            overhead: 24,
        }),
        queue: QueueLimit::Packets(200),
        codel: Some(CodelParams::default()),
        ..LinkParams::default()
    };
    let mut p = Pipeline::new(params, 9);
    let mut released = 0;
    let mut t = 0;
    for i in 0..2_000u64 {
        released += run_out(&mut p, t).len();
        p.push(t, Tag { id: i, at: t }, full(1 + (i % 7) as u32), false);
        t += 700 * US;
    }
    let rest = run_out(&mut p, Nanos::MAX);
    for (at, o) in &rest {
        // 10 ms of delay less 5 sd of jitter, plus one serialization.
        assert!(*at >= o.frame.at + 600 * US);
    }
    released += rest.len();
    assert!(released > 1000);
    let c = p.counters();
    assert!(c.dropped[DropReason::Aqm.index()] > 0);
    let dropped: u64 = c.dropped.iter().sum();
    assert_eq!(c.segments_in + c.duplicated, c.segments_out + dropped);
}

#[test]
fn keep_order_keeps_order_under_jitter() {
    let inversions = |keep_order| {
        let mut p = Pipeline::new(
            LinkParams {
                delay: Duration::from_millis(20),
                jitter: Duration::from_millis(10),
                keep_order,
                ..LinkParams::default()
            },
            5,
        );
        for i in 0..2_000 {
            p.push(i * 100 * US, Tag { id: i, at: 0 }, full(3), false);
        }
        let outs = run_out(&mut p, Nanos::MAX);
        assert_eq!(outs.len(), 2_000);
        outs.windows(2)
            .filter(|w| w[1].1.frame.id < w[0].1.frame.id)
            .count()
    };
    assert_eq!(inversions(true), 0);
    assert!(inversions(false) > 100);
}

#[test]
fn a_shorter_delay_does_not_let_new_frames_overtake() {
    let mut params = LinkParams {
        delay: Duration::from_millis(50),
        ..LinkParams::default()
    };
    let mut p = Pipeline::new(params.clone(), 1);
    p.push(0, Tag { id: 1, at: 0 }, full(2), false);
    params.delay = Duration::from_millis(10);
    p.set_params(MS, params);
    p.push(MS, Tag { id: 2, at: MS }, full(2), false);
    let outs = run_out(&mut p, Nanos::MAX);
    let ids: Vec<_> = outs.iter().map(|(t, o)| (*t, o.frame.id)).collect();
    assert_eq!(ids, vec![(50 * MS, 1), (50 * MS, 2)]);
    // Frames pushed later get the new delay.
    p.push(100 * MS, Tag { id: 3, at: 0 }, full(1), false);
    assert_eq!(p.next_deadline(), Some(110 * MS));
}

/// Pushes `frames` super-frames of `n` segments through a lossy link with
/// no delay and returns the pieces of each frame, in release order.
fn pieces_per_frame(params: LinkParams, seed: u64, frames: u64, n: u32) -> Vec<Vec<(u32, u32)>> {
    let mut p = Pipeline::new(params, seed);
    let mut per = vec![Vec::new(); frames as usize];
    for i in 0..frames {
        p.push(i * US, Tag { id: i, at: 0 }, full(n), false);
        for o in drain(&mut p, i * US) {
            per[o.frame.id as usize].push((o.first, o.count));
        }
    }
    per
}

#[test]
fn one_percent_loss_counts_segments_of_super_frames_and_cuts_around_them() {
    let params = LinkParams {
        loss: Loss::Random {
            p: 0.01,
            correlation: 0.0,
        },
        ..LinkParams::default()
    };
    let (frames, n) = (1_000, 20);
    let per = pieces_per_frame(params, 11, frames, n);
    let mut lost = 0;
    let (mut whole, mut one_cut) = (0, 0);
    for pieces in &per {
        // Pieces are maximal runs in order: a gap (a lost segment) between
        // any two, and every segment of a piece released once.
        let mut next = 0;
        for (k, &(first, count)) in pieces.iter().enumerate() {
            assert!(count >= 1);
            if k > 0 {
                assert!(
                    first > next,
                    "two pieces with no loss between them: {pieces:?}"
                );
            }
            lost += first - next;
            next = first + count;
        }
        lost += n - next;
        let missing = n - pieces.iter().map(|p| p.1).sum::<u32>();
        if missing == 0 {
            assert_eq!(pieces, &vec![(0, n)]);
            whole += 1;
        }
        if missing == 1 && pieces.len() == 2 {
            let k = pieces[0].1;
            assert_eq!(pieces, &vec![(0, k), (k + 1, n - k - 1)]);
            one_cut += 1;
        }
    }
    // Binomial(20,000, 0.01): mean 200, sd 14.07; 99 %: ±36.
    assert!((164..=236).contains(&lost), "lost {lost}");
    assert!(
        whole > 700 && one_cut > 50,
        "whole {whole} one cut {one_cut}"
    );
}

/// The fate of `n` single-segment frames: `true` where lost.
fn loss_pattern(loss: Loss, seed: u64, n: u64) -> Vec<bool> {
    let params = LinkParams {
        loss,
        ..LinkParams::default()
    };
    let mut p = Pipeline::new(params, seed);
    (0..n)
        .map(|i| {
            p.push(i, Tag { id: i, at: 0 }, full(1), false);
            p.poll(i).is_none()
        })
        .collect()
}

#[test]
fn gilbert_elliott_bursts_last_one_over_r() {
    let (p, r) = (0.01, 0.25);
    let lost = loss_pattern(
        Loss::GilbertElliott {
            p,
            r,
            loss_bad: 1.0,
            loss_good: 0.0,
        },
        3,
        400_000,
    );
    let mut bursts = Vec::new();
    let mut run = 0;
    for &l in &lost {
        if l {
            run += 1;
        } else if run > 0 {
            bursts.push(f64::from(run));
            run = 0;
        }
    }
    let (mean, _) = mean_sd(&bursts);
    assert!((mean - 1.0 / r).abs() < 0.1 / r, "mean burst {mean}");
    let rate = lost.iter().filter(|&&l| l).count() as f64 / lost.len() as f64;
    let want = p / (p + r);
    assert!(
        (rate - want).abs() < 0.1 * want,
        "loss rate {rate} want {want}"
    );
}

#[test]
fn the_four_state_model_loses_its_stationary_share() {
    let (p13, p31, p32, p23, p14) = (0.02, 0.3, 0.2, 0.1, 0.01);
    let lost = loss_pattern(
        Loss::FourState {
            p13,
            p31,
            p32,
            p23,
            p14,
        },
        4,
        400_000,
    );
    // Stationary distribution, relative to state 1: π3 = π1 p13 / p31,
    // π2 = π3 p32 / p23, π4 = π1 p14; segments are lost in 3 and 4.
    let (pi1, pi3) = (1.0, p13 / p31);
    let (pi2, pi4) = (pi3 * p32 / p23, p14);
    let want = (pi3 + pi4) / (pi1 + pi2 + pi3 + pi4);
    let rate = lost.iter().filter(|&&l| l).count() as f64 / lost.len() as f64;
    assert!(
        (rate - want).abs() < 0.05 * want,
        "loss rate {rate} want {want}"
    );
}

#[test]
fn the_same_seed_drops_the_same_segments() {
    let loss = Loss::Random {
        p: 0.05,
        correlation: 0.25,
    };
    let a = loss_pattern(loss.clone(), 7, 5_000);
    let b = loss_pattern(loss.clone(), 7, 5_000);
    let c = loss_pattern(loss, 8, 5_000);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.iter().any(|&l| l));
}

/// Saturates a link with super-frames of `n` full segments every `every`
/// for `secs` seconds, polling every `step`, and returns (release time,
/// piece) pairs and the pipeline.
fn saturate(
    params: LinkParams,
    n: u32,
    every: Nanos,
    until: Nanos,
    step: Nanos,
    check: impl Fn(&Counters),
) -> (Vec<(Nanos, Out<Tag>)>, Pipeline<Tag>) {
    let mut p = Pipeline::new(params, 1);
    let mut outs = Vec::new();
    let mut next_push = 0;
    let mut id = 0;
    let mut t = 0;
    while t < until {
        while next_push <= t {
            p.push(next_push, Tag { id, at: next_push }, full(n), false);
            check(p.counters());
            id += 1;
            next_push += every;
        }
        outs.extend(drain(&mut p, t).into_iter().map(|o| (t, o)));
        check(p.counters());
        t += step;
    }
    (outs, p)
}

#[test]
fn fifty_megabits_release_fifty_megabits() {
    let params = LinkParams {
        rate: Some(Rate {
            bits_per_second: 50_000_000,
            overhead: 0,
        }),
        ..LinkParams::default()
    };
    // 44 × 1514 B every 5 ms is 106 Mbit/s of input.
    let (outs, p) = saturate(params, 44, 5 * MS, 2 * S, MS, |_| {});
    let bytes: u64 = outs
        .iter()
        .filter(|(t, _)| (S / 2..3 * S / 2).contains(t))
        .map(|(_, o)| u64::from(o.count) * 1514)
        .sum();
    let want = 50_000_000 / 8;
    assert!(
        bytes.abs_diff(want) * 200 <= want,
        "{bytes} bytes in a second, want {want}"
    );
    // Polled every millisecond, about four segments leave together.
    assert!(outs.iter().any(|(_, o)| o.count >= 4));
    assert!(p.counters().dropped[DropReason::Queue.index()] > 0);
}

#[test]
fn at_low_rates_segments_leave_one_by_one_each_at_its_time() {
    let params = LinkParams {
        rate: Some(Rate {
            bits_per_second: 1_000_000,
            overhead: 24,
        }),
        ..LinkParams::default()
    };
    let mut p = Pipeline::new(params, 1);
    p.push(0, Tag { id: 0, at: 0 }, full(5), false);
    let outs = run_out(&mut p, Nanos::MAX);
    // (1514 + 24) × 8 bits at 1 Mbit/s: 12.304 ms each.
    let got: Vec<_> = outs.iter().map(|(t, o)| (*t, o.first, o.count)).collect();
    let want: Vec<_> = (1..=5)
        .map(|k| (k * 12_304 * US, k as u32 - 1, 1))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_new_rate_applies_to_the_queue_from_now() {
    let mut params = LinkParams {
        rate: Some(Rate {
            bits_per_second: 1_000_000,
            overhead: 0,
        }),
        ..LinkParams::default()
    };
    let mut p = Pipeline::new(params.clone(), 1);
    p.push(0, Tag { id: 0, at: 0 }, full(3), false);
    // The first segment is on the wire until 12.112 ms; the rest go at
    // 10 Mbit/s, 1.2112 ms each.
    params.rate = Some(Rate {
        bits_per_second: 10_000_000,
        overhead: 0,
    });
    p.set_params(MS, params);
    let times: Vec<_> = run_out(&mut p, Nanos::MAX)
        .iter()
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(times, vec![12_112 * US, 13_323_200, 14_534_400]);
}

#[test]
fn a_drop_tail_queue_never_holds_more_than_its_limit() {
    let rate = Some(Rate {
        bits_per_second: 10_000_000,
        overhead: 0,
    });
    let params = LinkParams {
        rate,
        queue: QueueLimit::Packets(20),
        ..LinkParams::default()
    };
    let (_, p) = saturate(params, 44, MS, S / 2, MS, |c| {
        assert!(c.queue_segments <= 20)
    });
    assert_eq!(p.counters().queue_segments, 20);
    assert!(p.counters().dropped[DropReason::Queue.index()] > 10_000);

    let params = LinkParams {
        rate,
        queue: QueueLimit::Bytes(30_000),
        ..LinkParams::default()
    };
    let (_, p) = saturate(params, 44, MS, S / 2, MS, |c| {
        assert!(c.queue_bytes <= 30_000)
    });
    assert!(p.counters().queue_bytes > 30_000 - 1514);
    assert!(p.counters().dropped[DropReason::Queue.index()] > 10_000);
}

/// A 10 Mbit/s link with CoDel fed with single full segments for 10 s.
/// `responsive`: the source halves its rate on a drop or mark (at most once
/// per 100 ms) and adds 2 Mbit/s per 100 ms otherwise, as a congestion
/// control would; else it sends a constant 11 Mbit/s. Returns the (release
/// time, sojourn) of each segment and the pipeline.
fn codel_run(ecn: bool, ect: bool, responsive: bool) -> (Vec<(Nanos, Nanos)>, Pipeline<Tag>) {
    let params = LinkParams {
        rate: Some(Rate {
            bits_per_second: 10_000_000,
            overhead: 0,
        }),
        queue: QueueLimit::Packets(10_000),
        codel: Some(CodelParams {
            ecn,
            ..CodelParams::default()
        }),
        ..LinkParams::default()
    };
    let mut p = Pipeline::new(params, 1);
    let tx = 1514 * 8 * S / 10_000_000;
    let mut rate = 11_000_000.0_f64;
    let (mut signals, mut last_cut) = (0, 0);
    let mut sojourns = Vec::new();
    let mut t = 0;
    let mut id = 0;
    while t < 10 * S {
        for (at, o) in run_out(&mut p, t) {
            sojourns.push((at, at - o.frame.at - tx));
        }
        p.push(t, Tag { id, at: t }, full(1), ect);
        id += 1;
        let every = (1514.0 * 8.0 * S as f64 / rate) as Nanos;
        if responsive {
            let c = p.counters();
            let now_signals = c.dropped[DropReason::Aqm.index()] + c.ce_marked;
            if now_signals > signals && t - last_cut > 100 * MS {
                rate /= 2.0;
                last_cut = t;
            } else {
                rate += 2_000_000.0 * every as f64 / (100 * MS) as f64;
            }
            signals = now_signals;
        }
        t += every;
    }
    (sojourns, p)
}

#[test]
fn codel_keeps_the_sojourn_of_a_saturating_flow_near_its_target() {
    let (sojourns, p) = codel_run(false, false, true);
    let mut after: Vec<_> = sojourns
        .iter()
        .filter(|(at, _)| *at > S)
        .map(|x| x.1)
        .collect();
    after.sort_unstable();
    let median = after[after.len() / 2];
    // Target 5 ms.
    assert!(median < 10 * MS, "median sojourn {median} ns");
    let c = p.counters();
    assert!(c.dropped[DropReason::Aqm.index()] > 20, "{c:?}");
    assert_eq!(c.ce_marked, 0);
    // The same flow through a drop-tail queue stands far above the target.
    let (sojourns, _) = codel_run_without_codel();
    let mut after: Vec<_> = sojourns
        .iter()
        .filter(|(at, _)| *at > S)
        .map(|x| x.1)
        .collect();
    after.sort_unstable();
    assert!(after[after.len() / 2] > 100 * MS);
}

/// The unresponsive 11 Mbit/s source through a drop-tail queue.
fn codel_run_without_codel() -> (Vec<(Nanos, Nanos)>, Pipeline<Tag>) {
    let params = LinkParams {
        rate: Some(Rate {
            bits_per_second: 10_000_000,
            overhead: 0,
        }),
        queue: QueueLimit::Packets(10_000),
        ..LinkParams::default()
    };
    let mut p = Pipeline::new(params, 1);
    let tx = 1514 * 8 * S / 10_000_000;
    let every = 1514 * 8 * S / 11_000_000;
    let mut sojourns = Vec::new();
    let mut t = 0;
    while t < 10 * S {
        for (at, o) in run_out(&mut p, t) {
            sojourns.push((at, at - o.frame.at - tx));
        }
        p.push(t, Tag { id: 0, at: t }, full(1), false);
        t += every;
    }
    (sojourns, p)
}

#[test]
fn codel_bounds_the_sojourn_of_an_unresponsive_overload() {
    let (sojourns, p) = codel_run(false, false, false);
    let worst = sojourns
        .iter()
        .filter(|(at, _)| *at > 3 * S)
        .map(|x| x.1)
        .max();
    assert!(worst.is_some_and(|w| w < 50 * MS), "{worst:?}");
    assert!(p.counters().dropped[DropReason::Aqm.index()] > 500);
    assert!(p.counters().queue_segments < 50);
}

#[test]
fn codel_marks_ecn_capable_segments_instead_of_dropping() {
    let (_, p) = codel_run(true, true, true);
    let c = p.counters();
    assert_eq!(c.dropped[DropReason::Aqm.index()], 0);
    assert!(c.ce_marked > 20, "{c:?}");
    // Segments that are not ECN-capable are dropped even with ECN on.
    let (_, p) = codel_run(true, false, true);
    assert!(p.counters().dropped[DropReason::Aqm.index()] > 20);
    assert_eq!(p.counters().ce_marked, 0);
}

#[test]
fn a_trace_replays_its_opportunities_per_second_and_loops() {
    let trace = Arc::new(Trace::parse("0\n0\n5\n10\n").unwrap());
    let params = LinkParams {
        trace: Some(trace),
        queue: QueueLimit::Packets(100),
        ..LinkParams::default()
    };
    // 10 full segments a millisecond against 400 a second.
    let mut p = Pipeline::new(params, 1);
    let mut outs = Vec::new();
    for ms in 0..3_000 {
        outs.extend(run_out(&mut p, ms * MS));
        p.push(ms * MS, Tag { id: ms, at: 0 }, full(10), false);
    }
    for second in 1..=2 {
        let n: u32 = outs
            .iter()
            .filter(|(t, _)| (second * S..(second + 1) * S).contains(t))
            .map(|(_, o)| o.count)
            .sum();
        assert_eq!(n, 400, "second {second}");
    }
    // Three opportunities at every multiple of 10 ms (the last of one loop
    // and the first two of the next), one at 5 ms past it.
    let at_1s = outs
        .iter()
        .filter(|(t, _)| *t == S)
        .map(|(_, o)| o.count)
        .sum::<u32>();
    assert_eq!(at_1s, 3);
}

#[test]
fn unused_opportunities_are_lost() {
    let trace = Arc::new(Trace::parse("3\n7\n").unwrap());
    let mut p = Pipeline::new(
        LinkParams {
            trace: Some(trace),
            ..LinkParams::default()
        },
        1,
    );
    p.push(0, Tag { id: 0, at: 0 }, full(3), false);
    let times: Vec<_> = run_out(&mut p, Nanos::MAX)
        .iter()
        .map(|(t, _)| *t / MS)
        .collect();
    assert_eq!(times, vec![3, 7, 10]);
    // Idle until 100 ms: the opportunities in between are gone.
    p.push(100 * MS, Tag { id: 1, at: 0 }, full(2), false);
    let times: Vec<_> = run_out(&mut p, Nanos::MAX)
        .iter()
        .map(|(t, _)| *t / MS)
        .collect();
    assert_eq!(times, vec![101, 105]);
}

#[test]
fn an_opportunity_carries_bytes_like_mahimahi() {
    let trace = Arc::new(Trace::parse("1\n").unwrap());
    let mut p = Pipeline::new(
        LinkParams {
            trace: Some(trace),
            ..LinkParams::default()
        },
        1,
    );
    // Eight segments that use 512 bytes of an opportunity each: 2 finish
    // in the first (480 bytes go to the third), 3 in the second, 3 in the
    // third.
    let small = Segments {
        count: 8,
        size: 522,
        last: 522,
    };
    p.push(0, Tag { id: 0, at: 0 }, small, false);
    // A jumbo segment needing two opportunities.
    p.push(0, Tag { id: 1, at: 0 }, Segments::single(3_010), false);
    let got: Vec<_> = run_out(&mut p, Nanos::MAX)
        .iter()
        .map(|(t, o)| (*t / MS, o.frame.id, o.first, o.count))
        .collect();
    assert_eq!(
        got,
        vec![(1, 0, 0, 2), (2, 0, 2, 3), (3, 0, 5, 3), (5, 1, 0, 1)]
    );
}

#[test]
fn duplicates_and_corruption_produce_their_own_pieces() {
    let params = LinkParams {
        duplicate: Chance {
            p: 1.0,
            correlation: 0.0,
        },
        ..LinkParams::default()
    };
    let mut p = Pipeline::new(params, 1);
    p.push(0, Tag { id: 0, at: 0 }, full(5), false);
    let mut seen = [0; 5];
    for o in drain(&mut p, 0) {
        for s in o.first..o.first + o.count {
            seen[s as usize] += 1;
        }
    }
    assert_eq!(seen, [2; 5]);
    assert_eq!(p.counters().duplicated, 5);
    assert_eq!(p.counters().segments_out, 10);

    let params = LinkParams {
        corrupt: Chance {
            p: 0.3,
            correlation: 0.0,
        },
        ..LinkParams::default()
    };
    let mut p = Pipeline::new(params, 1);
    let mut corrupted = 0;
    for i in 0..100 {
        p.push(i, Tag { id: i, at: 0 }, full(20), false);
        let mut next = 0;
        for o in drain(&mut p, i) {
            assert_eq!(o.first, next, "every segment once, in order");
            next += o.count;
            if o.corrupt.is_some() {
                assert_eq!(o.count, 1);
                corrupted += 1;
            }
        }
        assert_eq!(next, 20);
    }
    assert_eq!(p.counters().corrupted, corrupted);
    // 2,000 segments at 30 %: 600 ± 4 sd (20.5).
    assert!((518..=682).contains(&corrupted), "{corrupted}");
}

#[test]
fn reorder_sends_every_gap_th_segment_ahead_of_the_delay() {
    let params = LinkParams {
        delay: Duration::from_millis(10),
        reorder: Some(Reorder {
            chance: Chance {
                p: 1.0,
                correlation: 0.0,
            },
            gap: 5,
        }),
        ..LinkParams::default()
    };
    let mut p = Pipeline::new(params, 1);
    let mut early = Vec::new();
    for i in 0..20 {
        p.push(i * US, Tag { id: i, at: 0 }, full(1), false);
        early.extend(drain(&mut p, i * US).iter().map(|o| o.frame.id));
    }
    assert_eq!(early, vec![4, 9, 14, 19]);
    let late: Vec<_> = run_out(&mut p, Nanos::MAX)
        .iter()
        .map(|(t, o)| (*t - o.frame.id * US, o.frame.id))
        .collect();
    assert_eq!(late.len(), 16);
    assert!(late.iter().all(|(d, id)| *d == 10 * MS && id % 5 != 4));
}

#[test]
fn link_down_drops_what_is_in_flight_and_what_comes() {
    let params = LinkParams {
        delay: Duration::from_millis(10),
        rate: Some(Rate {
            bits_per_second: 1_000_000,
            overhead: 0,
        }),
        ..LinkParams::default()
    };
    let mut p = Pipeline::new(params, 1);
    for i in 0..3 {
        p.push(i * MS, Tag { id: i, at: 0 }, full(4), false);
    }
    assert!(p.counters().queue_segments > 0);
    p.set_state(5 * MS, LinkState::Down);
    let c = p.counters();
    assert_eq!(c.dropped[DropReason::Down.index()], 12);
    assert_eq!((c.queue_segments, c.queue_bytes), (0, 0));
    assert!(p.poll(S).is_none());
    assert_eq!(p.next_deadline(), None);
    p.push(S, Tag { id: 9, at: 0 }, full(2), false);
    assert_eq!(p.counters().dropped[DropReason::Down.index()], 14);
    p.set_state(2 * S, LinkState::Up);
    p.push(2 * S, Tag { id: 10, at: 0 }, full(1), false);
    let outs = run_out(&mut p, Nanos::MAX);
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0].0, 2 * S + 12_112 * US + 10 * MS);
}
