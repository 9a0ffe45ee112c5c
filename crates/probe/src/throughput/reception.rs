//! What the receiver of a UDP stream learns from the packet numbers and
//! send stamps: loss, out-of-order packets and RFC 3550 jitter.
//!
//! Sans-IO: arrival times are arguments, so tests are exact. The counting
//! follows iperf3's, so both sides of an interop test report the same
//! figures: a packet number beyond the next expected one counts the gap
//! as lost; a packet number at or below the highest seen is out of order
//! and takes one back from the lost count (it was counted in a gap).
//! Duplicates look like out-of-order packets here, as in iperf3.

/// A UDP stream's reception, as the receiver counts it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reception {
    /// Datagrams received (with a readable header).
    pub received: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// The highest packet number seen (iperf3's `packets` for a receiver).
    pub highest: u64,
    /// Packets missing below `highest` (iperf3's `errors`).
    pub lost: i64,
    /// Packets that arrived after a higher-numbered one.
    pub out_of_order: u64,
    /// RFC 3550 interarrival jitter, seconds.
    pub jitter: f64,
    prev_transit: Option<f64>,
}

impl Reception {
    /// A stream with nothing received yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one datagram: its packet number, its send time and arrival
    /// time (seconds; the two clocks need not agree, only tick alike) and
    /// its length.
    pub fn record(&mut self, count: u64, sent: f64, arrived: f64, len: usize) {
        self.received += 1;
        self.bytes += len as u64;
        if count > self.highest {
            let gap = count - self.highest - 1;
            self.lost = self
                .lost
                .saturating_add(i64::try_from(gap).unwrap_or(i64::MAX));
            self.highest = count;
        } else {
            self.out_of_order += 1;
            if self.lost > 0 {
                self.lost -= 1;
            }
        }
        // RFC 3550 §6.4.1: J += (|D(i-1, i)| - J) / 16, where D is the
        // change in transit time between consecutive arrivals.
        let transit = arrived - sent;
        if let Some(prev) = self.prev_transit {
            let d = (transit - prev).abs();
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.prev_transit = Some(transit);
    }

    /// Packets lost out of `sent`, counting the tail the receiver never
    /// saw (iperf3's own count stops at the highest number received).
    pub fn lost_of(&self, sent: u64) -> u64 {
        let tail = sent.saturating_sub(self.highest);
        u64::try_from(self.lost.max(0)).unwrap_or(0) + tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_stream_has_no_loss_and_steady_jitter_is_zero() {
        let mut r = Reception::new();
        for i in 1..=10u64 {
            let t = i as f64 * 0.001;
            r.record(i, t, t + 0.0005, 100);
        }
        assert_eq!(r.received, 10);
        assert_eq!(r.bytes, 1000);
        assert_eq!((r.highest, r.lost, r.out_of_order), (10, 0, 0));
        assert!(r.jitter.abs() < 1e-12);
        assert_eq!(r.lost_of(10), 0);
        assert_eq!(r.lost_of(12), 2, "the unseen tail is lost");
    }

    #[test]
    fn a_gap_is_loss_until_the_late_packet_arrives() {
        let mut r = Reception::new();
        for c in [1, 2, 5] {
            r.record(c, 0.0, 0.0, 10);
        }
        assert_eq!((r.lost, r.out_of_order), (2, 0));
        r.record(3, 0.0, 0.0, 10);
        assert_eq!((r.lost, r.out_of_order, r.highest), (1, 1, 5));
        assert_eq!(r.lost_of(5), 1);
    }

    /// RFC 3550 §6.4.1 on a virtual clock: transit alternates by 1 ms, so
    /// every |D| is 1 ms and J approaches it by 1/16 per packet.
    #[test]
    fn rfc3550_jitter_converges_to_the_transit_swing() {
        let mut r = Reception::new();
        r.record(1, 0.0, 0.010, 1);
        r.record(2, 0.1, 0.111, 1);
        assert!((r.jitter - 0.001 / 16.0).abs() < 1e-12);
        for i in 3..200u64 {
            let sent = i as f64 * 0.1;
            let transit = if i % 2 == 0 { 0.011 } else { 0.010 };
            r.record(i, sent, sent + transit, 1);
        }
        assert!((r.jitter - 0.001).abs() < 1e-6, "{}", r.jitter);
    }
}
