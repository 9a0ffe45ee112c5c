//! Mahimahi trace files, as the plan reads them at `check` (`trace =
//! "file"` on a link), then served by the link emulator's pipeline. A
//! trace either fails with a line number, or parses into non-decreasing
//! opportunities with a positive period; the emulator then releases a
//! queue of full-size frames by it on a virtual clock without a panic
//! (no overflow in its nanosecond arithmetic), and a deadline it gives is
//! always in the future once everything due has been polled (a deadline
//! in the past would make the emulator's thread spin).

#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use netproof_link::core::{Pipeline, Segments};
use netproof_link::params::{LinkParams, Trace};

/// Frames pushed, and polls allowed before the target stops looking.
const FRAMES: u32 = 8;
const POLLS: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let trace = match Trace::parse(text) {
        Ok(t) => t,
        Err(e) => {
            assert!(e.line >= 1, "line numbers are 1-based: {e}");
            return;
        }
    };
    let ms = &trace.opportunities_ms;
    assert!(ms.windows(2).all(|w| w[0] <= w[1]), "decreasing: {ms:?}");
    assert!(trace.period_ms() > 0);
    assert!(trace.mean_rate() > 0.0);

    let params = LinkParams {
        trace: Some(Arc::new(trace)),
        ..LinkParams::default()
    };
    let mut p: Pipeline<u32> = Pipeline::new(params, 1);
    for i in 0..FRAMES {
        p.push(0, i, Segments::single(1514), false);
    }
    let mut now = 0;
    for _ in 0..POLLS {
        while let Some(out) = p.poll(now) {
            assert!(
                out.due <= now,
                "released at {now} before it was due at {}",
                out.due
            );
        }
        match p.next_deadline() {
            None => break,
            Some(d) => {
                assert!(d > now, "deadline {d} not after {now} with nothing due");
                now = d;
            }
        }
    }
});
