//! A token bucket, sans-IO: how long to wait before passing `n` more bytes
//! so that a stream keeps to a rate. Proactive fill paces its bytes with
//! one ([`super::prefill`]).
//!
//! A take larger than the tokens at hand is allowed and goes into debt:
//! the caller waits until the debt is paid. So any chunk size works (a
//! fill cannot choose how many bytes a read returns) and, counting each
//! chunk at the time the bucket lets it pass, the bytes passed by time `t`
//! never exceed `burst + rate * t`.

use std::time::{Duration, Instant};

/// A rate in bytes per second with a burst allowance.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket: `rate` bytes per second (at least 1), at most
    /// `burst` bytes ahead of it.
    pub fn new(rate: u64, burst: u64, now: Instant) -> TokenBucket {
        TokenBucket {
            rate: rate.max(1) as f64,
            burst: burst as f64,
            tokens: burst as f64,
            last: now,
        }
    }

    /// Takes `n` bytes' worth at `now`; returns how long to wait before
    /// passing them (zero when the bucket held enough).
    pub fn take(&mut self, now: Instant, n: u64) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= n as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_passes_its_burst_then_paces_at_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1000, 500, t0);
        assert_eq!(b.take(t0, 500), Duration::ZERO);
        // 250 more with none left: a quarter second of debt.
        assert_eq!(b.take(t0, 250), Duration::from_millis(250));
        // At 0.25 s the debt is paid; 100 more need 0.1 s.
        let d = b.take(t0 + Duration::from_millis(250), 100);
        assert!((d.as_secs_f64() - 0.1).abs() < 1e-9, "{d:?}");
    }

    #[test]
    fn on_a_virtual_clock_a_sender_never_beats_burst_plus_rate_times_time() {
        let t0 = Instant::now();
        let (rate, burst) = (1_000_000u64, 64 * 1024u64);
        let mut b = TokenBucket::new(rate, burst, t0);
        let mut now = t0;
        let mut sent = 0u64;
        // Chunks of odd sizes, some larger than the burst.
        for i in 0..2_000u64 {
            let n = 1 + (i * 7919) % 100_000;
            now += b.take(now, n);
            sent += n;
            let allowed = burst as f64 + rate as f64 * (now - t0).as_secs_f64();
            assert!(
                sent as f64 <= allowed + 1.0,
                "chunk {i}: {sent} > {allowed}"
            );
        }
        // And it is not slower than the rate either (within one chunk).
        let achieved = sent as f64 / (now - t0).as_secs_f64();
        assert!(achieved > rate as f64 * 0.99, "{achieved}");
    }
}
