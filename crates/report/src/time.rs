//! Timestamps and durations as reports show them.
//!
//! Every time comes from the store (nanoseconds since the epoch), never from
//! the wall clock, so a report of a run reads the same every time it is
//! made.

use std::time::{Duration, UNIX_EPOCH};

use netproof_sample::Timestamp;

/// RFC 3339 in UTC with milliseconds, e.g. `2023-11-14T22:13:20.000Z`.
pub(crate) fn rfc3339(t: Timestamp) -> String {
    // Times before the epoch clamp to it; i64 nanoseconds end in 2262,
    // well inside what humantime formats.
    let ns = u64::try_from(t.0).unwrap_or(0);
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_nanos(ns)).to_string()
}

/// Seconds from `from` to `to` (negative when `to` is earlier).
pub(crate) fn seconds_between(from: Timestamp, to: Timestamp) -> f64 {
    (to.0 as f64 - from.0 as f64) / 1e9
}

/// A duration as a person reads it: `850 ms`, `12.3 s`, `2 min 05 s`,
/// `1 h 02 min 05 s`.
pub(crate) fn duration_text(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "unknown".to_string();
    }
    if secs < 60.0 {
        return netproof_sample::Unit::Seconds.format(secs);
    }
    let total = secs.round() as u64;
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 {
        format!("{h} h {m:02} min {s:02} s")
    } else {
        format!("{m} min {s:02} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_and_clamped() {
        assert_eq!(
            rfc3339(Timestamp(1_700_000_000_000_000_000)),
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(rfc3339(Timestamp(-5)), "1970-01-01T00:00:00.000Z");
        assert!(rfc3339(Timestamp(i64::MAX)).starts_with("2262-"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(0.85), "850 ms");
        assert_eq!(duration_text(12.34), "12.3 s");
        assert_eq!(duration_text(125.0), "2 min 05 s");
        assert_eq!(duration_text(3725.0), "1 h 02 min 05 s");
        assert_eq!(duration_text(f64::NAN), "unknown");
    }
}
