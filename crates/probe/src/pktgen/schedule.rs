//! Pacing by absolute deadlines, sans-IO: frame `i` is due at
//! `i × frame_bits × 10⁹ / rate` nanoseconds after the start, computed in
//! 128-bit integers, so the offered rate is exact over any trial length
//! however the sender's wake-ups jitter. A sender that wakes late sends
//! every frame already due at once (the count stays exact; the lateness
//! is reported so a trial the host could not hold can be told apart).

/// The schedule of one trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Bits per frame (frame size × 8).
    frame_bits: u64,
    /// Bits per second; 0: as fast as possible (a burst).
    rate: u64,
    /// Frames in the trial.
    frames: u64,
    next: u64,
    /// The latest a frame left behind its due time, in ns.
    max_late_ns: u64,
}

impl Schedule {
    /// `frames` frames of `frame_bytes` at `rate` bits/s (0: no pacing).
    pub fn new(frame_bytes: u32, rate: u64, frames: u64) -> Schedule {
        Schedule {
            frame_bits: u64::from(frame_bytes) * 8,
            rate,
            frames,
            next: 0,
            max_late_ns: 0,
        }
    }

    /// Frames a constant-rate trial of `duration_ns` sends: the frames due
    /// strictly before its end.
    pub fn frames_in(frame_bytes: u32, rate: u64, duration_ns: u64) -> u64 {
        let bits = u128::from(frame_bytes) * 8;
        if rate == 0 || bits == 0 {
            return 0;
        }
        // Frame i is due at i × bits × 1e9 / rate < duration.
        let n = (u128::from(duration_ns) * u128::from(rate)).div_ceil(bits * 1_000_000_000);
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    /// When frame `i` is due, ns after the start.
    pub fn due_ns(&self, i: u64) -> u64 {
        if self.rate == 0 {
            return 0;
        }
        let ns =
            u128::from(i) * u128::from(self.frame_bits) * 1_000_000_000 / u128::from(self.rate);
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// The next frame's number and due time, or `None` when all are sent.
    pub fn next_due(&self) -> Option<(u64, u64)> {
        (self.next < self.frames).then(|| (self.next, self.due_ns(self.next)))
    }

    /// At `now_ns` after the start: how many frames are due now (at most
    /// `max`), marking them sent; 0 when the next is not yet due.
    pub fn take_due(&mut self, now_ns: u64, max: u64) -> u64 {
        let mut n = 0;
        while n < max
            && let Some((_, due)) = self.next_due()
            && due <= now_ns
        {
            self.max_late_ns = self.max_late_ns.max(now_ns - due);
            self.next += 1;
            n += 1;
        }
        n
    }

    /// Frames handed out so far.
    pub fn sent(&self) -> u64 {
        self.next
    }

    /// The latest any frame left behind its due time, in ns.
    pub fn max_late_ns(&self) -> u64 {
        self.max_late_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_exact_and_do_not_drift() {
        // 64-byte frames at 1 Mbit/s: one every 512 µs.
        let s = Schedule::new(64, 1_000_000, 10);
        assert_eq!(s.due_ns(1), 512_000);
        assert_eq!(s.due_ns(1_000_000), 512_000_000_000);
        // 1518-byte frames at 7 Mbit/s: 1734.857... µs, never rounded
        // per frame: the millionth frame is due at exactly
        // 1e6 × 12144 / 7e6 s.
        let s = Schedule::new(1518, 7_000_000, 10);
        assert_eq!(s.due_ns(1_000_000), 1_734_857_142_857);
    }

    #[test]
    fn a_trial_counts_the_frames_due_before_its_end() {
        // 1 s at 512 µs per frame: frames 0..=1953 are due before 1 s.
        assert_eq!(Schedule::frames_in(64, 1_000_000, 1_000_000_000), 1954);
        assert_eq!(Schedule::frames_in(125, 1_000_000, 1_000_000_000), 1000);
        assert_eq!(Schedule::frames_in(64, 0, 1_000_000_000), 0);
    }

    #[test]
    fn a_late_sender_catches_up_and_the_lateness_is_kept() {
        let mut s = Schedule::new(125, 1_000_000, 5); // one per ms
        assert_eq!(s.take_due(0, 64), 1);
        assert_eq!(s.take_due(500_000, 64), 0);
        // Woken 2.5 ms late: frames 1, 2 and 3 go at once.
        assert_eq!(s.take_due(3_500_000, 64), 3);
        assert_eq!(s.max_late_ns(), 2_500_000);
        assert_eq!(s.take_due(10_000_000, 64), 1);
        assert_eq!(s.next_due(), None);
        assert_eq!(s.sent(), 5);
    }

    #[test]
    fn a_burst_is_all_due_at_once_in_batches() {
        let mut s = Schedule::new(64, 0, 100);
        assert_eq!(s.take_due(0, 64), 64);
        assert_eq!(s.take_due(0, 64), 36);
        assert_eq!(s.max_late_ns(), 0);
    }
}
