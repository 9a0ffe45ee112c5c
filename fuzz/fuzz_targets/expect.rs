//! The small languages inside plan strings: expectations
//! (`p99(tcp_connect.latency{dir="up"}) < 5ms`, `all(dns.answer) contains
//! "{addr:edge}"`) and the quantities (durations, rates, sizes, ratios).
//! Whatever the text, they return; every error's range lies inside the
//! text on character boundaries (the validator shifts it onto the plan's
//! source); what parses formats again without a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use netproof_plan::{expect, units};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match expect::parse(text) {
        Ok(e) => {
            assert!(!e.threshold.is_nan(), "a NaN threshold from {text:?}");
            let _ = format!("{e:?}");
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "an error without a problem");
            for e in errors {
                let r = e.range;
                assert!(
                    r.start <= r.end && r.end <= text.len(),
                    "{:?} at {r:?} outside the text",
                    e.message
                );
                assert!(
                    text.is_char_boundary(r.start) && text.is_char_boundary(r.end),
                    "{:?} at {r:?} splits a character",
                    e.message
                );
            }
        }
    }
    if let Ok(d) = units::parse_duration(text) {
        let _ = units::format_duration(d);
    }
    if let Ok(r) = units::parse_rate(text) {
        let _ = units::format_rate(r);
    }
    if let Ok(s) = units::parse_size(text) {
        let _ = units::format_size(s);
    }
    if let Ok(r) = units::parse_ratio(text) {
        assert!((0.0..=1.0).contains(&r), "ratio {r} from {text:?}");
    }
});
