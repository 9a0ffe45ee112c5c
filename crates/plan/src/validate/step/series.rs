//! What the packet-series probes (`ping`, `udp_echo`) share: `packets`,
//! `interval`, `size` and `wait`, and a `timeout` that leaves the series
//! time to finish.

use std::time::Duration;

use crate::diagnostic::Finding;
use crate::tree::{Checker, Table};
use crate::units::format_duration;
use crate::validate::{optional, positive_duration};

/// What a probe that sends a series of packets (`ping`, `udp_echo`) reads.
pub(super) struct Series {
    pub(super) packets: u32,
    pub(super) interval: Duration,
    pub(super) size: usize,
    pub(super) wait: Duration,
}

/// A series kind's defaults and payload size range.
pub(super) struct SeriesDefaults {
    pub(super) packets: u32,
    pub(super) interval: Duration,
    pub(super) size: usize,
    pub(super) sizes: std::ops::RangeInclusive<i64>,
}

/// Reads `packets`, `interval`, `size` and `wait`, and checks that a
/// written `timeout` leaves the series time to finish.
pub(super) fn series(
    ck: &mut Checker<'_>,
    t: &Table<'_, '_>,
    label: &str,
    d: SeriesDefaults,
) -> Option<Series> {
    let packets = t.get("packets").map(|v| {
        v.int_in(ck, 1..=1_000_000, "packets")
            .and_then(|n| u32::try_from(n).ok())
    });
    let interval = t.get("interval").map(|v| positive_duration(ck, &v));
    let size = t.get("size").map(|v| {
        v.int_in(ck, d.sizes.clone(), "bytes")
            .and_then(|n| usize::try_from(n).ok())
    });
    let wait = t.get("wait").map(|v| positive_duration(ck, &v));
    let s = Series {
        packets: optional(packets)?.unwrap_or(d.packets),
        interval: optional(interval)?.unwrap_or(d.interval),
        size: optional(size)?.unwrap_or(d.size),
        wait: optional(wait)?.unwrap_or(Duration::from_secs(1)),
    };
    // Read quietly: a malformed `timeout` is reported by the common checks.
    if let Some(v) = t.get("timeout")
        && let Some(timeout) = v.duration(&mut crate::tree::Checker::new(ck.text))
    {
        let needed = s.interval.saturating_mul(s.packets) + s.wait;
        if timeout < needed {
            ck.report(
                Finding::new(v.key_span(), format!("step `{label}` cannot finish its series within its `timeout`"), "too short")
                    .hint(format!(
                        "{} packets every {} plus a wait of {} take {}; raise `timeout` or remove it (the default fits the series)",
                        s.packets,
                        format_duration(s.interval),
                        format_duration(s.wait),
                        format_duration(needed)
                    )),
            );
            return None;
        }
    }
    Some(s)
}
