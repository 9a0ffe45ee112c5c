//! The sans-IO bookkeeping of one echo series: RTT, loss, duplicates,
//! reordering and RFC 3550 jitter.
//!
//! The [`Tracker`] owns no socket and reads no clock: the caller tells it
//! when each request left and when each reply came back, as offsets on one
//! monotonic clock of its choosing. The client drives it with real time;
//! the tests below drive it on a virtual clock, so every number they check
//! is exact.
//!
//! Its memory grows with the number of [`Tracker::sent`] calls and nothing
//! else: replies for sequences never sent are counted, not stored.
//!
//! [`Tracker::convergence`] derives the data-plane convergence of a steady
//! stream across a failure the way RFC 6413 (section 3.5, the loss-derived
//! method) and RFC 7747 measure it: the packets lost divided by the offered
//! rate, beside the loss period and the number of loss episodes.

use std::collections::BTreeMap;
use std::time::Duration;

/// What one reply turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reception {
    /// The first reply for its sequence.
    Reply {
        /// Receive time minus send time.
        rtt: Duration,
        /// A reply to a later-sent packet had already arrived.
        reordered: bool,
    },
    /// A second (or later) reply for a sequence already answered.
    Duplicate,
    /// A reply for a sequence never sent, or whose echoed send time is not
    /// the one recorded: a stray, a corrupted or a forged packet. Ignored
    /// for every statistic except [`Summary::stray`].
    Stray,
}

/// The result of a series.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// Requests sent.
    pub sent: u64,
    /// Distinct sequences answered.
    pub received: u64,
    /// Requests with no reply within the timeout.
    pub lost: u64,
    /// Replies beyond the first for a sequence.
    pub duplicates: u64,
    /// Replies that arrived after a reply to a later-sent request.
    pub reordered: u64,
    /// Datagrams that were not a reply to this series (see
    /// [`Reception::Stray`]; the client adds the undecodable ones).
    pub stray: u64,
    /// RFC 3550 interarrival jitter after the last reply.
    pub jitter: Duration,
    /// The smallest RTT, if any reply came back.
    pub rtt_min: Option<Duration>,
    /// The mean RTT, if any reply came back.
    pub rtt_avg: Option<Duration>,
    /// The largest RTT, if any reply came back.
    pub rtt_max: Option<Duration>,
}

impl Summary {
    /// The share of decided requests that were lost, or `None` when no
    /// request has been decided yet (nothing sent).
    pub fn loss_ratio(&self) -> Option<f64> {
        let decided = self.received + self.lost;
        (decided > 0).then(|| self.lost as f64 / decided as f64)
    }
}

/// What [`Tracker::finish`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The statistics.
    pub summary: Summary,
    /// The lost sequences with their send offsets, in sequence order.
    pub lost: Vec<(u64, Duration)>,
    /// Sequences with no reply whose timeout had not yet run out at `now`:
    /// neither received nor lost. Empty when `now` is at least the last
    /// send plus the timeout, as it is for the client.
    pub pending: Vec<u64>,
}

/// Data-plane convergence of a series sent at a fixed rate, after RFC 6413
/// (loss-derived convergence time) and RFC 6412 (loss episodes).
///
/// A request counts as lost here when no reply came back within `wait` of
/// its send: a reply later than that arrived after the application had
/// given up on it, which for a flow across a failure is the same as lost.
/// Duplicates and reordered replies are not loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Convergence {
    /// Requests lost (no reply within `wait`).
    pub lost: u64,
    /// Loss-derived convergence time: `lost × interval`, i.e. lost packets
    /// divided by the offered rate (RFC 6413 section 3.5).
    pub loss_time: Duration,
    /// From the send time of the first lost request to one interval after
    /// the send time of the last, so one lost packet is one interval and a
    /// single unbroken outage has `loss_period == loss_time`. A longer
    /// period says the loss was partial (some flows still got through) or
    /// came in several episodes.
    pub loss_period: Duration,
    /// Runs of consecutive lost sequence numbers (RFC 6412's loss
    /// episodes); 0 without loss.
    pub episodes: u64,
    /// Send offset of the first lost request, if any was lost.
    pub first_lost_at: Option<Duration>,
}

#[derive(Debug, Clone, Copy)]
struct Request {
    sent_at: Duration,
    replied: bool,
    /// When the first reply came back.
    replied_at: Option<Duration>,
}

/// The state of one echo series; see the [module docs](self).
#[derive(Debug, Default)]
pub struct Tracker {
    requests: BTreeMap<u64, Request>,
    highest_received: Option<u64>,
    /// (send, receive) offsets of the previous first reply, in arrival order.
    previous: Option<(Duration, Duration)>,
    /// Jitter in nanoseconds; a float because RFC 3550's 1/16 gain keeps
    /// fractions a rounding integer would lose over a long series.
    jitter_ns: f64,
    duplicates: u64,
    reordered: u64,
    stray: u64,
    rtt_min: Option<Duration>,
    rtt_max: Option<Duration>,
    rtt_sum: Duration,
    received: u64,
}

impl Tracker {
    /// An empty series.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that request `seq` left at offset `at`. Sequences are meant
    /// to be unique; sending one again restarts its record.
    pub fn sent(&mut self, seq: u64, at: Duration) {
        self.requests.insert(
            seq,
            Request {
                sent_at: at,
                replied: false,
                replied_at: None,
            },
        );
    }

    /// Records a reply for `seq` carrying the echoed send time `sent_stamp`,
    /// received at offset `at`.
    pub fn received(&mut self, seq: u64, sent_stamp: Duration, at: Duration) -> Reception {
        let Some(request) = self.requests.get_mut(&seq) else {
            self.stray += 1;
            return Reception::Stray;
        };
        // The stamp is echoed by the peer, so it is untrusted: a reply whose
        // stamp differs from what we sent is not an answer to our request.
        if request.sent_at != sent_stamp {
            self.stray += 1;
            return Reception::Stray;
        }
        if request.replied {
            self.duplicates += 1;
            return Reception::Duplicate;
        }
        request.replied = true;
        request.replied_at = Some(at);
        let sent_at = request.sent_at;
        let rtt = at.saturating_sub(sent_at);

        let reordered = self.highest_received.is_some_and(|h| seq < h);
        if reordered {
            self.reordered += 1;
        }
        self.highest_received = Some(self.highest_received.map_or(seq, |h| h.max(seq)));

        // RFC 3550 section 6.4.1 over consecutive replies in arrival order:
        // D = (R_i - R_{i-1}) - (S_i - S_{i-1}); J += (|D| - J) / 16.
        // Both S and R are on our clock, so D is exact even though it
        // estimates one-way transit variation from round trips.
        if let Some((prev_s, prev_r)) = self.previous {
            let d = (nanos(at) - nanos(prev_r)) - (nanos(sent_at) - nanos(prev_s));
            self.jitter_ns += (d.unsigned_abs() as f64 - self.jitter_ns) / 16.0;
        }
        self.previous = Some((sent_at, at));

        self.received += 1;
        self.rtt_sum = self.rtt_sum.saturating_add(rtt);
        self.rtt_min = Some(self.rtt_min.map_or(rtt, |m| m.min(rtt)));
        self.rtt_max = Some(self.rtt_max.map_or(rtt, |m| m.max(rtt)));
        Reception::Reply { rtt, reordered }
    }

    /// Whether every request sent so far has been answered.
    pub fn all_replied(&self) -> bool {
        self.requests.values().all(|r| r.replied)
    }

    /// Decides the series at offset `now`: a request with no reply is lost
    /// once `timeout` has passed since it was sent, and pending before.
    ///
    /// A reply that arrived later than `timeout` but before `finish` still
    /// counts as received: it did come back, and its RTT says how late.
    pub fn finish(&self, now: Duration, timeout: Duration) -> Outcome {
        let mut lost = Vec::new();
        let mut pending = Vec::new();
        for (&seq, r) in &self.requests {
            if r.replied {
                continue;
            }
            if r.sent_at.saturating_add(timeout) <= now {
                lost.push((seq, r.sent_at));
            } else {
                pending.push(seq);
            }
        }
        let rtt_avg = (self.received > 0).then(|| {
            // Duration / u32 only; divide the nanosecond total instead so a
            // series longer than u32::MAX replies still averages correctly.
            let avg = self.rtt_sum.as_nanos() / u128::from(self.received);
            Duration::from_nanos(u64::try_from(avg).unwrap_or(u64::MAX))
        });
        Outcome {
            summary: Summary {
                sent: self.requests.len() as u64,
                received: self.received,
                lost: lost.len() as u64,
                duplicates: self.duplicates,
                reordered: self.reordered,
                stray: self.stray,
                jitter: Duration::from_nanos(self.jitter_ns.round() as u64),
                rtt_min: self.rtt_min,
                rtt_avg,
                rtt_max: self.rtt_max,
            },
            lost,
            pending,
        }
    }
}

impl Tracker {
    /// The series' convergence at offset `now`, for requests sent every
    /// `interval`: a request is lost when its reply did not come back
    /// within `wait` of its send; requests whose `wait` has not run out by
    /// `now` are not judged yet.
    pub fn convergence(&self, now: Duration, interval: Duration, wait: Duration) -> Convergence {
        let mut c = Convergence::default();
        let mut previous: Option<u64> = None;
        let mut last_lost_at = Duration::ZERO;
        for (&seq, r) in &self.requests {
            let deadline = r.sent_at.saturating_add(wait);
            let in_time = r.replied_at.is_some_and(|at| at <= deadline);
            if in_time || (!r.replied && deadline > now) {
                continue;
            }
            c.lost += 1;
            // A new episode unless the previous lost request was the one
            // sent just before (sequence numbers are consecutive sends).
            if previous.is_none_or(|p| p + 1 != seq) {
                c.episodes += 1;
            }
            previous = Some(seq);
            c.first_lost_at.get_or_insert(r.sent_at);
            last_lost_at = r.sent_at;
        }
        c.loss_time = interval.saturating_mul(u32::try_from(c.lost).unwrap_or(u32::MAX));
        if let Some(first) = c.first_lost_at {
            c.loss_period = last_lost_at.saturating_sub(first).saturating_add(interval);
        }
        c
    }
}

fn nanos(d: Duration) -> i128 {
    // i128 holds any Duration's nanoseconds, so differences cannot overflow.
    d.as_nanos() as i128
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    const TIMEOUT: Duration = Duration::from_secs(1);

    #[test]
    fn no_loss_exact_rtts() {
        let mut t = Tracker::new();
        for seq in 0..3 {
            t.sent(seq, ms(10 * seq));
        }
        for (seq, rtt) in [(0, 5), (1, 7), (2, 6)] {
            let r = t.received(seq, ms(10 * seq), ms(10 * seq + rtt));
            assert_eq!(
                r,
                Reception::Reply {
                    rtt: ms(rtt),
                    reordered: false
                }
            );
        }
        assert!(t.all_replied());
        let o = t.finish(ms(2000), TIMEOUT);
        assert!(o.lost.is_empty() && o.pending.is_empty());
        let s = o.summary;
        assert_eq!((s.sent, s.received, s.lost), (3, 3, 0));
        assert_eq!(
            (s.rtt_min, s.rtt_avg, s.rtt_max),
            (Some(ms(5)), Some(ms(6)), Some(ms(7)))
        );
        assert_eq!(s.loss_ratio(), Some(0.0));
    }

    #[test]
    fn unanswered_request_is_lost_after_timeout_pending_before() {
        let mut t = Tracker::new();
        t.sent(0, ms(0));
        t.sent(1, ms(10));
        t.sent(2, ms(20));
        t.received(0, ms(0), ms(3));
        t.received(2, ms(20), ms(23));
        assert!(!t.all_replied());

        let early = t.finish(ms(500), TIMEOUT);
        assert_eq!(early.pending, vec![1]);
        assert_eq!(early.summary.lost, 0);

        let o = t.finish(ms(1010), TIMEOUT);
        assert_eq!(o.lost, vec![(1, ms(10))]);
        assert!(o.pending.is_empty());
        assert_eq!(o.summary.lost, 1);
        let ratio = o.summary.loss_ratio().unwrap();
        assert!((ratio - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn duplicate_is_counted_once_and_not_as_reply() {
        let mut t = Tracker::new();
        t.sent(0, ms(0));
        t.received(0, ms(0), ms(4));
        assert_eq!(t.received(0, ms(0), ms(5)), Reception::Duplicate);
        let s = t.finish(ms(2000), TIMEOUT).summary;
        assert_eq!((s.received, s.duplicates, s.reordered), (1, 1, 0));
        assert_eq!(s.rtt_max, Some(ms(4)));
    }

    #[test]
    fn reordered_pair() {
        let mut t = Tracker::new();
        t.sent(0, ms(0));
        t.sent(1, ms(10));
        assert_eq!(
            t.received(1, ms(10), ms(12)),
            Reception::Reply {
                rtt: ms(2),
                reordered: false
            }
        );
        assert_eq!(
            t.received(0, ms(0), ms(13)),
            Reception::Reply {
                rtt: ms(13),
                reordered: true
            }
        );
        let s = t.finish(ms(2000), TIMEOUT).summary;
        assert_eq!((s.received, s.reordered, s.duplicates), (2, 1, 0));
    }

    #[test]
    fn stray_and_forged_replies_are_ignored() {
        let mut t = Tracker::new();
        t.sent(0, ms(0));
        assert_eq!(t.received(9, ms(0), ms(1)), Reception::Stray);
        assert_eq!(t.received(0, ms(7), ms(1)), Reception::Stray);
        let s = t.finish(ms(2000), TIMEOUT).summary;
        assert_eq!((s.received, s.lost, s.stray), (0, 1, 2));
        assert_eq!(s.rtt_min, None);
    }

    #[test]
    fn rfc3550_jitter_of_constant_delay_is_zero() {
        let mut t = Tracker::new();
        for seq in 0..100 {
            t.sent(seq, ms(10 * seq));
            t.received(seq, ms(10 * seq), ms(10 * seq + 25));
        }
        assert_eq!(t.finish(ms(5000), TIMEOUT).summary.jitter, Duration::ZERO);
    }

    #[test]
    fn rfc3550_jitter_of_alternating_delay() {
        // Delay alternates 10 ms, 12 ms: every |D| is 2 ms, so after n
        // differences J = 2 ms * (1 - (15/16)^n).
        let mut t = Tracker::new();
        let delay = |seq: u64| {
            if seq.is_multiple_of(2) {
                ms(10)
            } else {
                ms(12)
            }
        };
        for seq in 0..3 {
            t.sent(seq, ms(20 * seq));
            t.received(seq, ms(20 * seq), ms(20 * seq) + delay(seq));
        }
        // n = 2: 2 ms * (1 - 225/256) = 2 ms * 31/256 = 242_187.5 ns.
        assert_eq!(
            t.finish(ms(5000), TIMEOUT).summary.jitter,
            Duration::from_nanos(242_188)
        );

        for seq in 3..201 {
            t.sent(seq, ms(20 * seq));
            t.received(seq, ms(20 * seq), ms(20 * seq) + delay(seq));
        }
        // n = 200: (15/16)^200 is about 2.5e-6, so J is within 10 ns of 2 ms.
        let j = t.finish(ms(10_000), TIMEOUT).summary.jitter;
        assert!(ms(2) - j < Duration::from_nanos(10), "jitter {j:?}");
    }

    /// Sends `packets` every `interval` from t = 0, answering each after
    /// `rtt` unless `lost(seq)`.
    fn stream(
        packets: u64,
        interval: Duration,
        rtt: Duration,
        lost: impl Fn(u64) -> bool,
    ) -> Tracker {
        let mut t = Tracker::new();
        for seq in 0..packets {
            let at = interval * u32::try_from(seq).unwrap();
            t.sent(seq, at);
            if !lost(seq) {
                t.received(seq, at, at + rtt);
            }
        }
        t
    }

    #[test]
    fn rfc6413_loss_derived_time_is_lost_packets_over_rate() {
        // 1000 pps; packets 1000..1250 lost: 250 packets / 1000 pps = 250 ms.
        let t = stream(3000, ms(1), ms(2), |s| (1000..1250).contains(&s));
        let c = t.convergence(ms(10_000), ms(1), TIMEOUT);
        assert_eq!(c.lost, 250);
        assert_eq!(c.loss_time, ms(250));
        // One unbroken outage: the period equals the loss-derived time.
        assert_eq!(c.loss_period, ms(250));
        assert_eq!(c.episodes, 1);
        assert_eq!(c.first_lost_at, Some(ms(1000)));
    }

    #[test]
    fn partial_loss_has_a_period_longer_than_its_loss_time() {
        // Every other packet lost from 100 to 199 (one ECMP path of two
        // dead): 50 lost at 10 ms = 500 ms of loss over a 990 ms period.
        let t = stream(300, ms(10), ms(1), |s| {
            (100..200).contains(&s) && s % 2 == 0
        });
        let c = t.convergence(ms(10_000), ms(10), TIMEOUT);
        assert_eq!(c.lost, 50);
        assert_eq!(c.loss_time, ms(500));
        assert_eq!(c.loss_period, ms(1980 - 1000 + 10));
        assert_eq!(c.episodes, 50);
    }

    #[test]
    fn two_outages_are_two_episodes() {
        let t = stream(100, ms(1), ms(1), |s| {
            (10..13).contains(&s) || (50..55).contains(&s)
        });
        let c = t.convergence(ms(5000), ms(1), TIMEOUT);
        assert_eq!((c.lost, c.episodes), (8, 2));
        assert_eq!(c.loss_time, ms(8));
        assert_eq!(c.loss_period, ms(55 - 10));
    }

    #[test]
    fn no_loss_converges_in_zero() {
        let t = stream(100, ms(1), ms(1), |_| false);
        assert_eq!(
            t.convergence(ms(5000), ms(1), TIMEOUT),
            Convergence::default()
        );
    }

    #[test]
    fn reordering_and_duplicates_are_not_loss() {
        let mut t = Tracker::new();
        for seq in 0..4 {
            t.sent(seq, ms(seq));
        }
        // 1 overtakes 0, 2 comes twice, 3 in order.
        t.received(1, ms(1), ms(5));
        t.received(0, ms(0), ms(6));
        t.received(2, ms(2), ms(7));
        t.received(2, ms(2), ms(8));
        t.received(3, ms(3), ms(9));
        let c = t.convergence(ms(5000), ms(1), TIMEOUT);
        assert_eq!(c, Convergence::default());
    }

    #[test]
    fn a_reply_later_than_wait_is_lost_for_convergence() {
        let mut t = Tracker::new();
        t.sent(0, ms(0));
        t.sent(1, ms(1));
        t.sent(2, ms(2));
        t.received(0, ms(0), ms(3));
        // Back 1.5 s after it left, with wait = 1 s: the flow gave up on it.
        t.received(1, ms(1), ms(1501));
        t.received(2, ms(2), ms(1000 + 2));
        let c = t.convergence(ms(5000), ms(1), TIMEOUT);
        assert_eq!((c.lost, c.episodes), (1, 1));
        assert_eq!(c.first_lost_at, Some(ms(1)));
        // The ordinary statistics still count it as received.
        assert_eq!(t.finish(ms(5000), TIMEOUT).summary.lost, 0);
    }

    #[test]
    fn unanswered_requests_within_wait_are_not_judged_yet() {
        let t = stream(10, ms(100), ms(1), |s| s >= 8);
        // At 1.5 s, 8 (sent at 0.8 s) is past its wait, 9 (0.9 s) is not.
        let c = t.convergence(ms(1850), ms(100), TIMEOUT);
        assert_eq!(c.lost, 1);
        assert_eq!(t.convergence(ms(1900), ms(100), TIMEOUT).lost, 2);
    }
}
