//! CoDel (RFC 8289) as a decision per dequeued segment.
//!
//! The RFC's `dequeue()` may drop several packets in one call; here the
//! bottleneck asks about one segment at a time, at the virtual time it
//! leaves the queue (when the link is free to send it), and [`Codel::judge`]
//! carries across calls what the RFC keeps in its loop: whether the previous
//! segment was dropped within the same dequeue, so the control law is
//! applied exactly where the RFC applies it. With ECN, an ECN-capable
//! segment that would be dropped is marked Congestion Experienced and sent,
//! as Linux's codel does (the marked segment ends that dequeue).
//!
//! The state is `Copy`, so [`super::Pipeline::next_deadline`] can run the
//! same decisions ahead on a copy without changing anything.

use super::Nanos;
use crate::params::Codel as CodelParams;

/// What becomes of a dequeued segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    Drop,
    Mark,
}

/// What the previous judgement left pending within the same dequeue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum After {
    #[default]
    Nothing,
    /// The segment before was the drop that entered the dropping state: the
    /// RFC returns the next one whatever it is.
    EntryDrop,
    /// The segment before was dropped in the dropping state: the RFC
    /// advances the control law before deciding about this one.
    LoopDrop,
}

/// CoDel's variables.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Codel {
    first_above_time: Option<Nanos>,
    dropping: bool,
    count: u32,
    lastcount: u32,
    drop_next: Nanos,
    after: After,
}

fn control_law(t: Nanos, interval: Nanos, count: u32) -> Nanos {
    t + (interval as f64 / f64::from(count.max(1)).sqrt()) as Nanos
}

impl Codel {
    /// The RFC's `dodequeue` test: whether the sojourn has stayed above
    /// target for an interval. `backlog` is what is left queued after this
    /// segment; a queue holding less than one more segment (`mtu`) is never
    /// dropped from.
    fn ok_to_drop(
        &mut self,
        p: &CodelParams,
        t: Nanos,
        sojourn: Nanos,
        backlog: u64,
        mtu: u64,
    ) -> bool {
        if sojourn < p.target.as_nanos() as Nanos || backlog <= mtu {
            self.first_above_time = None;
            return false;
        }
        match self.first_above_time {
            None => {
                self.first_above_time = Some(t + p.interval.as_nanos() as Nanos);
                false
            }
            Some(f) => t >= f,
        }
    }

    /// Decides about a segment dequeued at `t` after `sojourn` in the
    /// queue, leaving `backlog` bytes behind it.
    pub(crate) fn judge(
        &mut self,
        p: &CodelParams,
        t: Nanos,
        sojourn: Nanos,
        backlog: u64,
        len: u32,
        ect: bool,
    ) -> Verdict {
        let interval = p.interval.as_nanos() as Nanos;
        let ok = self.ok_to_drop(p, t, sojourn, backlog, u64::from(len));
        let mark = p.ecn && ect;
        match std::mem::take(&mut self.after) {
            After::EntryDrop => return Verdict::Pass,
            After::LoopDrop => {
                if !ok {
                    self.dropping = false;
                    return Verdict::Pass;
                }
                self.drop_next = control_law(self.drop_next, interval, self.count);
                return if t >= self.drop_next {
                    self.drop_again(interval, mark)
                } else {
                    Verdict::Pass
                };
            }
            After::Nothing => {}
        }
        if self.dropping {
            if !ok {
                self.dropping = false;
                Verdict::Pass
            } else if t >= self.drop_next {
                self.drop_again(interval, mark)
            } else {
                Verdict::Pass
            }
        } else if ok {
            self.dropping = true;
            let delta = self.count.wrapping_sub(self.lastcount);
            // The RFC's `now - drop_next < 16 * interval`, in signed time.
            self.count = if delta > 1 && delta < u32::MAX / 2 && t < self.drop_next + 16 * interval
            {
                delta
            } else {
                1
            };
            self.lastcount = self.count;
            self.drop_next = control_law(t, interval, self.count);
            if mark {
                Verdict::Mark
            } else {
                self.after = After::EntryDrop;
                Verdict::Drop
            }
        } else {
            Verdict::Pass
        }
    }

    fn drop_again(&mut self, interval: Nanos, mark: bool) -> Verdict {
        self.count = self.count.saturating_add(1);
        if mark {
            self.drop_next = control_law(self.drop_next, interval, self.count);
            Verdict::Mark
        } else {
            self.after = After::LoopDrop;
            Verdict::Drop
        }
    }

    /// The queue was found empty when the link was free to send (the RFC's
    /// dequeue of nothing): leave the dropping state.
    pub(crate) fn on_empty(&mut self) {
        self.first_above_time = None;
        self.dropping = false;
        self.after = After::Nothing;
    }

    /// A drop emptied the queue within a dequeue.
    pub(crate) fn on_empty_after_drop(&mut self) {
        self.first_above_time = None;
        if self.after == After::LoopDrop {
            self.dropping = false;
        }
        self.after = After::Nothing;
    }

    /// Whether CoDel is in its dropping state.
    #[cfg(test)]
    pub(crate) fn dropping(&self) -> bool {
        self.dropping
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MS: Nanos = 1_000_000;

    fn params(ecn: bool) -> CodelParams {
        CodelParams {
            target: Duration::from_millis(5),
            interval: Duration::from_millis(100),
            ecn,
        }
    }

    #[test]
    fn rfc8289_waits_an_interval_above_target_then_drops_at_the_control_law() {
        let p = params(false);
        let mut c = Codel::default();
        // Sojourn 10 ms, a big backlog: the first time above target starts
        // the interval; nothing is dropped before it ends.
        assert_eq!(c.judge(&p, 0, 10 * MS, 100_000, 1500, false), Verdict::Pass);
        assert_eq!(
            c.judge(&p, 99 * MS, 10 * MS, 100_000, 1500, false),
            Verdict::Pass
        );
        // At 100 ms: entry drop; the next segment of that dequeue passes.
        assert_eq!(
            c.judge(&p, 100 * MS, 10 * MS, 100_000, 1500, false),
            Verdict::Drop
        );
        assert!(c.dropping());
        assert_eq!(
            c.judge(&p, 100 * MS, 10 * MS, 100_000, 1500, false),
            Verdict::Pass
        );
        // The next drop is an interval later (count 1), then interval/sqrt(2).
        assert_eq!(
            c.judge(&p, 199 * MS, 10 * MS, 100_000, 1500, false),
            Verdict::Pass
        );
        assert_eq!(
            c.judge(&p, 200 * MS, 10 * MS, 100_000, 1500, false),
            Verdict::Drop
        );
        // Within the same dequeue the law moves drop_next to 270.7 ms: pass.
        assert_eq!(
            c.judge(&p, 200 * MS, 10 * MS, 100_000, 1500, false),
            Verdict::Pass
        );
        assert_eq!(
            c.judge(&p, 270 * MS, 10 * MS, 100_000, 1500, false),
            Verdict::Pass
        );
        assert_eq!(
            c.judge(&p, 271 * MS, 10 * MS, 100_000, 1500, false),
            Verdict::Drop
        );
        // Sojourn below target leaves the dropping state.
        assert_eq!(
            c.judge(&p, 272 * MS, MS, 100_000, 1500, false),
            Verdict::Pass
        );
        assert!(!c.dropping());
    }

    #[test]
    fn ecn_capable_segments_are_marked_instead() {
        let p = params(true);
        let mut c = Codel::default();
        c.judge(&p, 0, 10 * MS, 100_000, 1500, true);
        assert_eq!(
            c.judge(&p, 100 * MS, 10 * MS, 100_000, 1500, true),
            Verdict::Mark
        );
        assert_eq!(
            c.judge(&p, 200 * MS, 10 * MS, 100_000, 1500, true),
            Verdict::Mark
        );
        // A segment that is not ECN-capable is dropped all the same.
        assert_eq!(
            c.judge(&p, 300 * MS, 10 * MS, 100_000, 1500, false),
            Verdict::Drop
        );
    }

    #[test]
    fn a_queue_of_less_than_one_segment_is_never_dropped_from() {
        let p = params(false);
        let mut c = Codel::default();
        for t in 0..50 {
            assert_eq!(
                c.judge(&p, t * 10 * MS, 50 * MS, 1000, 1500, false),
                Verdict::Pass
            );
        }
    }
}
