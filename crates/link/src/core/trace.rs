//! Mahimahi's delivery opportunities.
//!
//! A trace lists millisecond offsets; at each, up to
//! [`Trace::OPPORTUNITY_BYTES`] may leave the queue. When the list ends it
//! starts again, shifted by its last timestamp (so a trace ending in `10`
//! whose first entry is `0` has two opportunities at 10 ms). As in
//! Mahimahi's `LinkQueue::rationalize`, an opportunity's bytes go to the
//! head of the queue: several small segments may finish within one, and a
//! segment larger than what is left continues in the next opportunities and
//! leaves when its last byte is sent. An opportunity nothing uses is lost;
//! opportunities do not accumulate while the queue is empty.

use std::sync::Arc;

use super::Nanos;
use crate::params::Trace;

const MS: Nanos = 1_000_000;

/// Bytes of an opportunity a segment of `len` wire bytes uses. Mahimahi
/// counts an IP packet plus the 4-byte TUN header, so its 1504-byte
/// opportunity carries one 1500-byte packet; our segments are Ethernet
/// frames (14-byte header), so 10 bytes come off and a full-size 1514-byte
/// frame uses exactly one opportunity, as the trace's authors meant.
pub(crate) fn charge(len: u32) -> u64 {
    u64::from(len.saturating_sub(10).max(1))
}

/// Where a pipeline is in its trace.
#[derive(Debug, Clone)]
pub(crate) struct TraceClock {
    trace: Arc<Trace>,
    base: Nanos,
    idx: usize,
}

impl TraceClock {
    /// The trace, its first period starting at `start`.
    pub(crate) fn new(trace: Arc<Trace>, start: Nanos) -> TraceClock {
        TraceClock {
            trace,
            base: start,
            idx: 0,
        }
    }

    /// Whether this clock follows `trace`.
    pub(crate) fn follows(&self, trace: &Arc<Trace>) -> bool {
        Arc::ptr_eq(&self.trace, trace)
    }

    fn period(&self) -> Nanos {
        self.trace.period_ms().max(1) * MS
    }

    fn at(&self, idx: usize) -> Nanos {
        self.base + self.trace.opportunities_ms.get(idx).copied().unwrap_or(0) * MS
    }

    /// When the next opportunity comes.
    pub(crate) fn next(&self) -> Nanos {
        self.at(self.idx)
    }

    /// Uses up the next opportunity.
    pub(crate) fn advance(&mut self) {
        self.idx += 1;
        if self.idx >= self.trace.opportunities_ms.len() {
            self.idx = 0;
            self.base += self.period();
        }
    }

    /// Loses every opportunity up to and including `now`, in O(log n).
    pub(crate) fn skip_through(&mut self, now: Nanos) {
        if self.next() > now {
            return;
        }
        let period = self.period();
        if self.idx > 0 && self.base + period <= now {
            self.idx = 0;
            self.base += period;
        }
        if self.base + period <= now {
            self.base += (now - self.base) / period * period;
        }
        let base = self.base;
        let ms = &self.trace.opportunities_ms;
        let from = self.idx;
        self.idx = from + ms[from..].partition_point(|&m| base + m * MS <= now);
        if self.idx >= ms.len() {
            self.idx = 0;
            self.base += period;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(text: &str) -> TraceClock {
        TraceClock::new(Arc::new(Trace::parse(text).unwrap()), 0)
    }

    #[test]
    fn opportunities_loop_on_the_last_timestamp() {
        let mut c = clock("0\n5\n10\n");
        let mut seen = Vec::new();
        for _ in 0..7 {
            seen.push(c.next() / MS);
            c.advance();
        }
        assert_eq!(seen, vec![0, 5, 10, 10, 15, 20, 20]);
    }

    #[test]
    fn skipping_loses_every_opportunity_up_to_now() {
        let mut c = clock("3\n7\n");
        c.skip_through(7 * MS);
        assert_eq!(c.next(), 10 * MS);
        c.skip_through(1_000 * MS + 1);
        // Opportunities at 7k+3 and 7k+7: after 1000 ms comes 1001 (7·143).
        assert_eq!(c.next(), 1_001 * MS);
        let mut d = clock("3\n7\n");
        d.skip_through(2 * MS);
        assert_eq!(d.next(), 3 * MS);
    }

    #[test]
    fn full_size_ethernet_frames_use_one_opportunity() {
        assert_eq!(charge(1514), u64::from(Trace::OPPORTUNITY_BYTES));
        assert_eq!(charge(5), 1);
    }
}
