//! What an emulated link does to the frames crossing it, per direction.
//!
//! The meanings and units follow netem's, which network engineers already
//! know: a delay with jitter drawn from a distribution, loss that is random
//! (with correlation) or follows a Gilbert-Elliott model, duplication,
//! corruption, reordering, a rate with per-packet overhead, a bottleneck
//! queue with a limit and optional CoDel, and Mahimahi's trace format for
//! recorded links.

use std::sync::Arc;
use std::time::Duration;

/// Which way a frame crosses a link: from the link's first end to its second
/// (`AtoB`) or back (`BtoA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the first end named in the plan to the second.
    AtoB,
    /// From the second end to the first.
    BtoA,
}

impl Direction {
    /// Both directions, `AtoB` first.
    pub const BOTH: [Direction; 2] = [Direction::AtoB, Direction::BtoA];

    /// Index 0 for `AtoB`, 1 for `BtoA`.
    pub fn index(self) -> usize {
        match self {
            Direction::AtoB => 0,
            Direction::BtoA => 1,
        }
    }
}

/// Whether a link carries traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkState {
    /// Frames flow, shaped by the impairments.
    #[default]
    Up,
    /// Carrier down on both ends (a cable pull: the kernel withdraws routes);
    /// anything still in flight is dropped.
    Down,
    /// Carrier up but every frame dropped (a failure routing does not see).
    Blackhole,
}

/// The distribution jitter is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Distribution {
    /// Uniform in `delay ± jitter` (jitter is the half-width).
    Uniform,
    /// Normal with standard deviation `jitter` (the default).
    #[default]
    Normal,
    /// Pareto with the given mean and standard deviation.
    Pareto,
    /// netem's mix: 25 % pareto, 75 % normal.
    ParetoNormal,
}

/// How segments are lost.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Loss {
    /// No loss.
    #[default]
    None,
    /// Each segment is lost with probability `p`; `correlation` in 0..=1
    /// ties each draw to the previous one, as netem does.
    Random {
        /// Loss probability, 0..=1.
        p: f64,
        /// Correlation with the previous draw, 0..=1.
        correlation: f64,
    },
    /// The Gilbert-Elliott model as netem's `loss gemodel p r 1-h 1-k`:
    /// a good and a bad state; `p` moves good to bad, `r` bad to good; a
    /// segment is lost with probability `1 - k` in the good state and `h`
    /// in the bad one. The simple Gilbert model is `h = 1, k = 1`.
    GilbertElliott {
        /// Probability of moving from the good state to the bad one.
        p: f64,
        /// Probability of moving from the bad state to the good one.
        r: f64,
        /// Loss probability in the bad state (netem's `1-h`).
        loss_bad: f64,
        /// Loss probability in the good state (netem's `1-k`).
        loss_good: f64,
    },
    /// netem's 4-state Markov model (`loss state p13 p31 p32 p23 p14`):
    /// states 1 (good reception), 2 (good, within a burst), 3 (burst loss)
    /// and 4 (isolated loss); segments are lost in states 3 and 4.
    FourState {
        /// Probability 1 → 3.
        p13: f64,
        /// Probability 3 → 1.
        p31: f64,
        /// Probability 3 → 2.
        p32: f64,
        /// Probability 2 → 3.
        p23: f64,
        /// Probability 1 → 4.
        p14: f64,
    },
}

/// A probability with netem's correlation to the previous draw.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Chance {
    /// Probability, 0..=1.
    pub p: f64,
    /// Correlation with the previous draw, 0..=1.
    pub correlation: f64,
}

/// netem's `reorder`: with probability `p` (every `gap`-th segment, when a
/// gap is given) a segment skips the delay line and is sent at once, so it
/// overtakes those delayed before it. Needs a delay to have an effect.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Reorder {
    /// Probability and correlation.
    pub chance: Chance,
    /// Only every `gap`-th segment may be reordered (0 or 1: any segment).
    pub gap: u32,
}

/// Serialization at a bit rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Bits per second, at least 1.
    pub bits_per_second: u64,
    /// Bytes added to every segment's size when its serialization time is
    /// computed (framing the link adds, e.g. 24 for Ethernet's preamble,
    /// FCS and gap); may be negative to remove headers.
    pub overhead: i32,
}

/// A bottleneck queue's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueLimit {
    /// At most this many segments wait.
    Packets(u32),
    /// At most this many bytes wait.
    Bytes(u64),
}

impl Default for QueueLimit {
    /// 1000 packets, as netem's default limit.
    fn default() -> Self {
        QueueLimit::Packets(1000)
    }
}

/// CoDel (RFC 8289) on the bottleneck queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Codel {
    /// Acceptable standing queue delay (RFC default 5 ms).
    pub target: Duration,
    /// Sliding window over which the minimum sojourn time is measured (RFC
    /// default 100 ms).
    pub interval: Duration,
    /// Mark ECN-capable segments with CE instead of dropping them.
    pub ecn: bool,
}

impl Default for Codel {
    fn default() -> Self {
        Codel {
            target: Duration::from_millis(5),
            interval: Duration::from_millis(100),
            ecn: true,
        }
    }
}

/// A recorded link in Mahimahi's format: each entry is a millisecond offset
/// at which one packet of up to [`Trace::OPPORTUNITY_BYTES`] may leave; when
/// the list ends it starts again, shifted by its last timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// Delivery opportunities in milliseconds, non-decreasing, the last one
    /// positive.
    pub opportunities_ms: Vec<u64>,
}

impl Trace {
    /// Bytes one delivery opportunity carries (Mahimahi's packet size).
    pub const OPPORTUNITY_BYTES: u32 = 1504;

    /// The latest timestamp a trace may hold: one day. Recorded traces
    /// last minutes; the bound keeps the emulator's nanosecond clock
    /// (milliseconds times 10^6, plus whole periods as a run goes on) far
    /// from overflowing, whatever a trace file says.
    pub const MAX_MS: u64 = 24 * 60 * 60 * 1000;

    /// Parses Mahimahi's text format: one non-negative integer per line
    /// (milliseconds), non-decreasing, at least one line, the last
    /// positive. Errors name the 1-based line.
    pub fn parse(text: &str) -> Result<Trace, TraceError> {
        let mut opportunities_ms = Vec::new();
        let mut last_line = 0;
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let t = line.trim();
            if t.is_empty() {
                continue;
            }
            let ms: u64 = t.parse().map_err(|_| TraceError {
                line: line_no,
                message: format!("`{t}` is not a whole number of milliseconds"),
            })?;
            if ms > Self::MAX_MS {
                return Err(TraceError {
                    line: line_no,
                    message: format!(
                        "{ms} ms is later than a trace may reach ({} ms, one day)",
                        Self::MAX_MS
                    ),
                });
            }
            if let Some(&prev) = opportunities_ms.last()
                && ms < prev
            {
                return Err(TraceError {
                    line: line_no,
                    message: format!("{ms} comes after {prev}: timestamps must not decrease"),
                });
            }
            opportunities_ms.push(ms);
            last_line = line_no;
        }
        match opportunities_ms.last() {
            None => Err(TraceError {
                line: 1,
                message: "the trace has no delivery opportunities".into(),
            }),
            Some(0) => Err(TraceError {
                line: last_line,
                message: "the last timestamp must be positive (it is the trace's period)".into(),
            }),
            Some(_) => Ok(Trace { opportunities_ms }),
        }
    }

    /// The trace's period: its last timestamp, in milliseconds.
    pub fn period_ms(&self) -> u64 {
        self.opportunities_ms.last().copied().unwrap_or(1)
    }

    /// The mean capacity in bits per second over one period.
    pub fn mean_rate(&self) -> f64 {
        let bits = self.opportunities_ms.len() as f64 * f64::from(Self::OPPORTUNITY_BYTES) * 8.0;
        bits / (self.period_ms() as f64 / 1000.0)
    }
}

/// A malformed trace file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct TraceError {
    /// 1-based line of the problem.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Everything one direction of an emulated link does. The default passes
/// every frame untouched and at once.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinkParams {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Delay variation: a standard deviation, or the half-width for
    /// [`Distribution::Uniform`].
    pub jitter: Duration,
    /// The distribution jitter is drawn from.
    pub distribution: Distribution,
    /// Correlation of each delay draw with the previous one, 0..=1.
    pub delay_correlation: f64,
    /// Never let jitter reorder segments: a segment leaves no earlier than
    /// the one before it.
    pub keep_order: bool,
    /// The loss model.
    pub loss: Loss,
    /// Duplicate a segment with this chance.
    pub duplicate: Chance,
    /// Flip one bit of a segment's payload with this chance.
    pub corrupt: Chance,
    /// Send some segments ahead of the delay line.
    pub reorder: Option<Reorder>,
    /// Serialize at a rate (exclusive with `trace`).
    pub rate: Option<Rate>,
    /// Serve the bottleneck queue by a recorded trace (exclusive with `rate`).
    pub trace: Option<Arc<Trace>>,
    /// The bottleneck queue's limit (applies when `rate` or `trace` is set).
    pub queue: QueueLimit,
    /// CoDel on the bottleneck queue.
    pub codel: Option<Codel>,
}

impl LinkParams {
    /// Whether this direction only delays (no per-segment decisions), so
    /// super-frames pass whole.
    pub fn delay_only(&self) -> bool {
        self.jitter.is_zero()
            && self.loss == Loss::None
            && self.duplicate.p == 0.0
            && self.corrupt.p == 0.0
            && self.reorder.is_none()
            && self.rate.is_none()
            && self.trace.is_none()
            && self.codel.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_parses_and_loops_on_its_last_timestamp() {
        let t = Trace::parse("0\n0\n5\n\n10\n").unwrap();
        assert_eq!(t.opportunities_ms, vec![0, 0, 5, 10]);
        assert_eq!(t.period_ms(), 10);
        // Four opportunities of 1504 bytes per 10 ms.
        assert!((t.mean_rate() - 4.0 * 1504.0 * 8.0 * 100.0).abs() < 1e-6);
    }

    #[test]
    fn trace_errors_name_the_line() {
        assert_eq!(Trace::parse("1\nx\n").unwrap_err().line, 2);
        assert_eq!(Trace::parse("5\n3\n").unwrap_err().line, 2);
        assert!(Trace::parse("\n\n").is_err());
        assert_eq!(Trace::parse("0\n0\n").unwrap_err().line, 2);
    }

    /// Fuzz finding (trace target): a timestamp of 44,444,444,444,444 ms
    /// parsed, then overflowed the emulator's nanosecond arithmetic.
    #[test]
    fn fuzz_trace_timestamp_beyond_a_day_is_refused() {
        let e = Trace::parse("044444444444444").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("later than a trace may reach"), "{e}");
        assert_eq!(
            Trace::parse("1\n86400001\n").unwrap_err().line,
            2,
            "one past the bound"
        );
        assert_eq!(
            Trace::parse("86400000\n").unwrap().period_ms(),
            Trace::MAX_MS
        );
    }
}
