//! The receiver's arithmetic, sans-IO: which frames of a trial arrived
//! (each counted once), how many arrived after a later-numbered one, when
//! the first and last arrived, and the one-way delay of an even sample of
//! frames (every `stride`-th, at most about 1000 a trial).

use super::wire::Header;

/// What a trial's receiver has seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Reception {
    flow: u16,
    frames: u64,
    stride: u64,
    seen: Vec<u64>,
    /// Distinct frames of the trial received.
    pub received: u64,
    /// Frames received again.
    pub duplicates: u64,
    /// Frames that arrived after a higher-numbered one.
    pub reordered: u64,
    /// Datagrams that were not this trial's frames.
    pub strays: u64,
    highest: Option<u32>,
    /// First and last arrival, ns since the epoch.
    pub first_ns: Option<u64>,
    /// Last arrival.
    pub last_ns: Option<u64>,
    /// (sequence, one-way delay in ns) of the sampled frames.
    pub delays: Vec<(u32, i64)>,
}

/// Delay samples a trial keeps at most (about).
pub const DELAY_SAMPLES: u64 = 1000;

impl Reception {
    /// A receiver for `frames` frames of flow `flow`.
    pub fn new(flow: u16, frames: u64) -> Reception {
        let words = usize::try_from(frames.div_ceil(64)).unwrap_or(0);
        Reception {
            flow,
            frames,
            stride: frames.div_ceil(DELAY_SAMPLES).max(1),
            seen: vec![0; words],
            received: 0,
            duplicates: 0,
            reordered: 0,
            strays: 0,
            highest: None,
            first_ns: None,
            last_ns: None,
            delays: Vec::new(),
        }
    }

    /// Records one datagram's payload that arrived at `recv_ns`.
    pub fn record(&mut self, payload: &[u8], recv_ns: u64) {
        let Some(h) = Header::parse(payload)
            .filter(|h| h.flow == self.flow && u64::from(h.seq) < self.frames)
        else {
            self.strays += 1;
            return;
        };
        let (word, bit) = ((h.seq / 64) as usize, h.seq % 64);
        let Some(w) = self.seen.get_mut(word) else {
            self.strays += 1;
            return;
        };
        if *w & (1 << bit) != 0 {
            self.duplicates += 1;
            return;
        }
        *w |= 1 << bit;
        self.received += 1;
        match self.highest {
            Some(top) if h.seq < top => self.reordered += 1,
            _ => self.highest = Some(h.seq),
        }
        self.first_ns.get_or_insert(recv_ns);
        self.last_ns = Some(recv_ns);
        if u64::from(h.seq) % self.stride == 0 {
            self.delays.push((h.seq, recv_ns as i64 - h.sent_ns as i64));
        }
    }

    /// Frames of the trial not received.
    pub fn lost(&self, sent: u64) -> u64 {
        sent.saturating_sub(self.received)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(flow: u16, seq: u32, sent_ns: u64) -> [u8; 18] {
        let mut b = [0u8; 18];
        Header { flow, seq, sent_ns }.emit(&mut b);
        b
    }

    #[test]
    fn counts_each_frame_once_and_notices_reordering() {
        let mut r = Reception::new(7, 10);
        for (seq, at) in [(0, 100), (2, 300), (1, 310), (2, 320), (3, 400)] {
            r.record(&frame(7, seq, u64::from(seq) * 100), at);
        }
        r.record(&frame(8, 4, 0), 500); // another flow
        r.record(&frame(7, 99, 0), 500); // beyond the trial
        r.record(b"junk", 500);
        assert_eq!(
            (r.received, r.duplicates, r.reordered, r.strays),
            (4, 1, 1, 3)
        );
        assert_eq!(r.lost(10), 6);
        assert_eq!((r.first_ns, r.last_ns), (Some(100), Some(400)));
        // Stride 1 for 10 frames: every frame's delay is kept.
        assert_eq!(r.delays, vec![(0, 100), (2, 100), (1, 210), (3, 100)]);
    }

    #[test]
    fn delays_are_sampled_evenly_in_a_long_trial() {
        let mut r = Reception::new(1, 100_000);
        for seq in 0..100_000u32 {
            r.record(&frame(1, seq, 0), 1000);
        }
        assert_eq!(r.delays.len(), 1000);
        assert_eq!(r.delays[1].0, 100);
        assert_eq!(r.received, 100_000);
    }
}
