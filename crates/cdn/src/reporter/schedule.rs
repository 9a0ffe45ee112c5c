//! When an edge sends its next report to one steering service: sans-IO,
//! on a clock it is given.
//!
//! A report goes out at start, then every `interval`, and at once when
//! something changed (routes, health); reports are whole, so a change
//! that arrives while one is being sent makes one more report right after
//! it, however many changes there were (coalesced). A report that failed
//! is not hurried: the next is due an interval later, like any other, so
//! a steering service that is down costs one bounded attempt per interval
//! and never a storm.

use std::time::{Duration, Instant};

/// One steering service's schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    interval: Duration,
    due: Instant,
    changed: bool,
}

impl Schedule {
    /// A schedule whose first report is due at `now`.
    pub fn new(now: Instant, interval: Duration) -> Schedule {
        Schedule {
            interval,
            due: now,
            changed: false,
        }
    }

    /// Something the report carries changed.
    pub fn change(&mut self) {
        self.changed = true;
    }

    /// Whether a report should go now.
    pub fn ready(&self, now: Instant) -> bool {
        self.changed || now >= self.due
    }

    /// When to look again if nothing changes meanwhile.
    pub fn next(&self) -> Instant {
        self.due
    }

    /// A report is being sent now: it carries every change so far, and
    /// the next is due an interval after it started (sent or not).
    pub fn sending(&mut self, now: Instant) {
        self.changed = false;
        self.due = now + self.interval;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_first_report_goes_at_once_then_every_interval() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, SECOND);
        assert!(s.ready(t0));
        s.sending(t0);
        assert!(!s.ready(t0 + SECOND / 2));
        assert_eq!(s.next(), t0 + SECOND);
        assert!(s.ready(t0 + SECOND));
    }

    #[test]
    fn a_change_sends_at_once_and_changes_coalesce() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, SECOND);
        s.sending(t0);
        let t = t0 + Duration::from_millis(300);
        s.change();
        s.change();
        assert!(s.ready(t));
        s.sending(t);
        // Both changes rode that one report; the interval restarts there.
        assert!(!s.ready(t + Duration::from_millis(10)));
        assert_eq!(s.next(), t + SECOND);
    }

    #[test]
    fn a_change_during_a_send_makes_one_more_report_after_it() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, SECOND);
        s.sending(t0);
        // Changed while the report was on its way (the send is awaited).
        s.change();
        assert!(s.ready(t0 + Duration::from_millis(5)));
    }
}
