//! The health-poll state machine of one edge, sans-IO: it says when to
//! poll, takes each poll's outcome (or its timeout) with the time, and says
//! when the edge's standing changes. The poller ([`crate::poller`]) does
//! the HTTP; tests drive the machine on a virtual clock.
//!
//! Rules:
//! - a poll starts every `interval` (from the start of the last one);
//!   one that has not answered `timeout` after it started has failed;
//! - `failures` failed polls in a row make the edge [`Polled::Down`], so an
//!   edge that dies without a word is dropped within
//!   `failures x interval + timeout` of its last good answer (the
//!   [`Machine::detection_bound`]);
//! - an answer of `draining` or `unhealthy` is the edge's own word, taken
//!   at once;
//! - from any of those, `recoveries` good answers in a row bring it back
//!   up (hysteresis, so a flapping edge is not handed out between flaps);
//! - the first good answer of an edge never seen before counts at once.

use std::time::Duration;

use netproof_proto::steering::HealthPolling;

use crate::decision::Polled;

/// The interval when the config names none.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// Failed polls before down, when the config names no count.
pub const DEFAULT_FAILURES: u32 = 3;
/// Good polls before up again, when the config names no count.
pub const DEFAULT_RECOVERIES: u32 = 2;

/// What one poll found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `200 ok`.
    Ok,
    /// `draining` (a 503 with that word).
    Draining,
    /// `unhealthy` (a 503 with that word).
    Unhealthy,
    /// No answer in time, a refused connection, or any other answer.
    Failed,
}

/// The polling parameters, defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Time between poll starts.
    pub interval: Duration,
    /// Time one poll may take.
    pub timeout: Duration,
    /// Failed polls in a row before down.
    pub failures: u32,
    /// Good polls in a row before up again.
    pub recoveries: u32,
}

impl Params {
    /// The config's parameters with defaults for what it leaves out (the
    /// timeout defaults to the interval).
    pub fn from_config(c: &HealthPolling) -> Params {
        let interval = c.interval.map_or(DEFAULT_INTERVAL, |s| s.0);
        Params {
            interval,
            timeout: c.timeout.map_or(interval, |s| s.0),
            failures: c.failures.unwrap_or(DEFAULT_FAILURES).max(1),
            recoveries: c.recoveries.unwrap_or(DEFAULT_RECOVERIES).max(1),
        }
    }
}

/// A change of standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// What it was.
    pub from: Polled,
    /// What it is now.
    pub to: Polled,
}

/// One edge's polling state.
#[derive(Debug, Clone)]
pub struct Machine {
    params: Params,
    standing: Polled,
    /// When the poll in flight started.
    in_flight: Option<Duration>,
    /// When the next poll is due.
    next: Duration,
    failed_in_a_row: u32,
    good_in_a_row: u32,
}

impl Machine {
    /// A machine whose first poll is due at `now`.
    pub fn new(params: Params, now: Duration) -> Machine {
        Machine {
            params,
            standing: Polled::Unknown,
            in_flight: None,
            next: now,
            failed_in_a_row: 0,
            good_in_a_row: 0,
        }
    }

    /// The edge's standing.
    pub fn standing(&self) -> Polled {
        self.standing
    }

    /// The longest an edge that stops answering stays up after its last
    /// good answer: `failures x interval + timeout`.
    pub fn detection_bound(&self) -> Duration {
        self.params.interval * self.params.failures + self.params.timeout
    }

    /// When the machine next needs the caller: the next poll's start, or
    /// the timeout of the one in flight.
    pub fn wake_at(&self) -> Duration {
        match self.in_flight {
            Some(start) => start + self.params.timeout,
            None => self.next,
        }
    }

    /// Whether a poll should start at `now`; if so, it is in flight from
    /// `now`.
    pub fn start(&mut self, now: Duration) -> bool {
        if self.in_flight.is_some() || now < self.next {
            return false;
        }
        self.in_flight = Some(now);
        self.next = now + self.params.interval;
        true
    }

    /// The poll in flight timed out if `now` is past its deadline: counts
    /// it as failed.
    pub fn check(&mut self, now: Duration) -> Option<Transition> {
        match self.in_flight {
            Some(start) if now >= start + self.params.timeout => self.finish(now, Outcome::Failed),
            _ => None,
        }
    }

    /// The poll in flight answered `outcome` at `now` (an answer after its
    /// timeout already counted as failed is ignored).
    pub fn finish(&mut self, now: Duration, outcome: Outcome) -> Option<Transition> {
        let start = self.in_flight.take()?;
        let outcome = if now > start + self.params.timeout {
            Outcome::Failed
        } else {
            outcome
        };
        let from = self.standing;
        let to = match outcome {
            Outcome::Failed => {
                self.good_in_a_row = 0;
                self.failed_in_a_row += 1;
                if self.failed_in_a_row >= self.params.failures {
                    Polled::Down
                } else {
                    from
                }
            }
            Outcome::Draining | Outcome::Unhealthy => {
                self.good_in_a_row = 0;
                self.failed_in_a_row = 0;
                if outcome == Outcome::Draining {
                    Polled::Draining
                } else {
                    Polled::Unhealthy
                }
            }
            Outcome::Ok => {
                self.failed_in_a_row = 0;
                self.good_in_a_row += 1;
                match from {
                    Polled::Unknown | Polled::Up => Polled::Up,
                    _ if self.good_in_a_row >= self.params.recoveries => Polled::Up,
                    _ => from,
                }
            }
        };
        self.standing = to;
        (to != from).then_some(Transition { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn params() -> Params {
        Params {
            interval: 500 * MS,
            timeout: 400 * MS,
            failures: 3,
            recoveries: 2,
        }
    }

    /// Runs the machine on a virtual clock in 10 ms steps until `until`,
    /// answering each poll with `answer(start)` after 5 ms (or never, for
    /// `None`); returns the transitions with their times.
    fn drive(
        m: &mut Machine,
        from: Duration,
        until: Duration,
        answer: impl Fn(Duration) -> Option<Outcome>,
    ) -> Vec<(Duration, Polled)> {
        let mut seen = Vec::new();
        let mut pending: Option<(Duration, Outcome)> = None;
        let mut now = from;
        while now <= until {
            if let Some(t) = m.check(now) {
                seen.push((now, t.to));
            }
            if let Some((at, o)) = pending
                && now >= at
            {
                pending = None;
                if let Some(t) = m.finish(now, o) {
                    seen.push((now, t.to));
                }
            }
            if m.start(now) {
                pending = answer(now).map(|o| (now + 5 * MS, o));
            }
            now += 10 * MS;
        }
        seen
    }

    #[test]
    fn defaults_fill_what_the_config_leaves_out() {
        let p = Params::from_config(&HealthPolling::default());
        assert_eq!(
            p,
            Params {
                interval: DEFAULT_INTERVAL,
                timeout: DEFAULT_INTERVAL,
                failures: 3,
                recoveries: 2
            }
        );
    }

    #[test]
    fn an_edge_that_dies_silently_is_down_within_failures_times_interval_plus_timeout() {
        let mut m = Machine::new(params(), Duration::ZERO);
        let dies = 2000 * MS;
        let seen = drive(&mut m, Duration::ZERO, 6000 * MS, |t| {
            (t < dies).then_some(Outcome::Ok)
        });
        assert_eq!(
            seen[0],
            (10 * MS, Polled::Up),
            "the first good answer counts at once"
        );
        let (at, to) = seen[1];
        assert_eq!(to, Polled::Down);
        // The last good answer came from the poll at 1500 ms.
        let last_good = 1500 * MS + 5 * MS;
        assert!(
            at - last_good <= m.detection_bound(),
            "down at {at:?}, bound {:?}",
            m.detection_bound()
        );
        // Exactly: polls at 2000, 2500, 3000 time out at +400 ms.
        assert_eq!(at, 3400 * MS);
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn recovery_needs_good_answers_in_a_row() {
        let mut m = Machine::new(params(), Duration::ZERO);
        // Down from the start: three timeouts.
        let seen = drive(&mut m, Duration::ZERO, 1490 * MS, |_| None);
        assert_eq!(seen, [(1400 * MS, Polled::Down)]);
        // Then it answers again: up after the second good answer, not the first.
        let seen = drive(&mut m, 1500 * MS, 3000 * MS, |_| Some(Outcome::Ok));
        assert_eq!(seen, [(2010 * MS, Polled::Up)]);
    }

    #[test]
    fn a_flapping_edge_stays_out_until_it_holds() {
        let mut m = Machine::new(params(), Duration::ZERO);
        drive(&mut m, Duration::ZERO, 1490 * MS, |_| None);
        // Alternating good and failed answers never make two in a row.
        let seen = drive(&mut m, 1500 * MS, 6000 * MS, |t| {
            Some(if (t.as_millis() / 500) % 2 == 0 {
                Outcome::Ok
            } else {
                Outcome::Failed
            })
        });
        assert!(seen.is_empty(), "{seen:?}");
        assert_eq!(m.standing(), Polled::Down);
    }

    #[test]
    fn draining_is_taken_at_once_and_ok_brings_the_edge_back_with_hysteresis() {
        let mut m = Machine::new(params(), Duration::ZERO);
        let seen = drive(&mut m, Duration::ZERO, 2400 * MS, |t| {
            Some(if t < 1000 * MS {
                Outcome::Ok
            } else {
                Outcome::Draining
            })
        });
        assert_eq!(seen, [(10 * MS, Polled::Up), (1010 * MS, Polled::Draining)]);
        let seen = drive(&mut m, 2500 * MS, 4000 * MS, |_| Some(Outcome::Ok));
        assert_eq!(seen, [(3010 * MS, Polled::Up)]);
    }

    #[test]
    fn a_late_answer_counts_as_failed() {
        let mut m = Machine::new(params(), Duration::ZERO);
        assert!(m.start(Duration::ZERO));
        assert_eq!(m.wake_at(), 400 * MS);
        assert_eq!(m.finish(450 * MS, Outcome::Ok), None);
        assert_eq!(m.standing(), Polled::Unknown);
        // No second poll before the interval.
        assert!(!m.start(450 * MS));
        assert!(m.start(500 * MS));
    }
}
