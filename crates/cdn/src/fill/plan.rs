//! The fill's decisions, sans-IO: which request leads a fill and which
//! join it (coalescing), when a fill's lock is stale, and which source a
//! fill asks next (ranking). Nothing here holds a socket or reads a
//! clock: callers pass `now`, so the tests run on a virtual clock.
//!
//! **Coalescing.** [`Flights`] maps an object to its one fill in
//! progress. The first open leads; later opens follow the same fill and
//! wait for its bytes. A fill's lock carries a deadline that its leader
//! extends whenever it makes progress (starts an attempt, receives bytes);
//! an open that finds the deadline passed replaces the fill with a new one
//! (pingora #931: a fill lock whose leader vanished blocked every later
//! request). A leader that finishes only clears its own fill: a stale
//! leader that wakes up late cannot remove its successor's.
//!
//! **Ranking.** [`Attempts`] walks the ranked sources once each: peers,
//! then tiers, then the origin (config order within a kind). Only the
//! fill's leader asks the next source; followers keep waiting on the same
//! fill, so a failed or stalled source never releases the waiters onto the
//! next source at once (no stampede). A fill that dies part-way resumes on
//! the next source from the byte it reached, so readers already streaming
//! keep streaming. A 404 from a peer or tier moves on (a peer may simply
//! not hold the object; peers are asked `only-if-cached` and their 504 is
//! read as a 404, see [`crate::upstream`]); a 404 from the origin, or from
//! every source, is *not found*.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::hash::Hash;
use std::str::FromStr;
use std::time::{Duration, Instant};

use thiserror::Error;

/// What a fill source is, which sets its rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// Another edge in the same site: asked first.
    Peer,
    /// The fill tier: asked second.
    Tier,
    /// The origin: asked last; its 404 is final.
    Origin,
}

impl SourceKind {
    /// Its name in configs.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Peer => "peer",
            SourceKind::Tier => "tier",
            SourceKind::Origin => "origin",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A source kind that is not one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown fill source kind `{0}`; hint: write `peer`, `tier` or `origin`")]
pub struct UnknownKind(pub String);

impl FromStr for SourceKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<SourceKind, UnknownKind> {
        match s {
            "peer" => Ok(SourceKind::Peer),
            "tier" => Ok(SourceKind::Tier),
            "origin" => Ok(SourceKind::Origin),
            other => Err(UnknownKind(other.to_owned())),
        }
    }
}

/// Source indices in the order a fill asks them: by kind, then as
/// configured.
pub fn rank(kinds: &[SourceKind]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..kinds.len()).collect();
    order.sort_by_key(|&i| kinds[i]);
    order
}

/// One fill of one object, told apart from the fills before and after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlightId(pub u64);

/// How an open joined the fills in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined<P> {
    /// No fill was in progress: the caller starts this one.
    Lead(FlightId, P),
    /// A fill is in progress: wait on it.
    Follow(FlightId, P),
    /// A fill was in progress but its lock went stale: the caller starts
    /// this one and fails the stale one's waiters.
    Replace {
        /// The new fill.
        id: FlightId,
        /// Its payload.
        payload: P,
        /// The stale fill's payload.
        stale: P,
    },
}

struct Flight<P> {
    id: FlightId,
    deadline: Instant,
    followers: u64,
    payload: P,
}

/// The fills in progress, one per object at most.
pub struct Flights<K, P> {
    flights: HashMap<K, Flight<P>>,
    next: u64,
    lock_timeout: Duration,
}

impl<K: Hash + Eq, P: Clone> Flights<K, P> {
    /// No fills; a fill's lock goes stale after `lock_timeout` without
    /// progress.
    pub fn new(lock_timeout: Duration) -> Flights<K, P> {
        Flights {
            flights: HashMap::new(),
            next: 0,
            lock_timeout,
        }
    }

    /// An open of `key` at `now`: lead a new fill (with the payload
    /// `make` builds) or follow the one in progress.
    pub fn join(&mut self, key: K, now: Instant, make: impl FnOnce(FlightId) -> P) -> Joined<P> {
        let id = FlightId(self.next);
        let deadline = now + self.lock_timeout;
        match self.flights.entry(key) {
            Entry::Occupied(mut e) => {
                let f = e.get_mut();
                if now < f.deadline {
                    f.followers += 1;
                    return Joined::Follow(f.id, f.payload.clone());
                }
                self.next += 1;
                let payload = make(id);
                let stale = std::mem::replace(
                    f,
                    Flight {
                        id,
                        deadline,
                        followers: 0,
                        payload: payload.clone(),
                    },
                );
                Joined::Replace {
                    id,
                    payload,
                    stale: stale.payload,
                }
            }
            Entry::Vacant(e) => {
                self.next += 1;
                let payload = make(id);
                e.insert(Flight {
                    id,
                    deadline,
                    followers: 0,
                    payload: payload.clone(),
                });
                Joined::Lead(id, payload)
            }
        }
    }

    /// The leader of `id` made progress at `now`; false when `id` is no
    /// longer `key`'s fill (it went stale and was replaced, or finished).
    pub fn progress(&mut self, key: &K, id: FlightId, now: Instant) -> bool {
        match self.flights.get_mut(key) {
            Some(f) if f.id == id => {
                f.deadline = now + self.lock_timeout;
                true
            }
            _ => false,
        }
    }

    /// Ends fill `id` of `key`; true when it was still the current fill
    /// (so its result may be stored), false when it had been replaced.
    pub fn finish(&mut self, key: &K, id: FlightId) -> bool {
        match self.flights.get(key) {
            Some(f) if f.id == id => {
                self.flights.remove(key);
                true
            }
            _ => false,
        }
    }

    /// How many opens followed fill `id` of `key`.
    pub fn followers(&self, key: &K, id: FlightId) -> Option<u64> {
        self.flights
            .get(key)
            .filter(|f| f.id == id)
            .map(|f| f.followers)
    }

    /// Fills in progress.
    pub fn len(&self) -> usize {
        self.flights.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.flights.is_empty()
    }
}

/// Why one attempt on one source did not complete the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailKind {
    /// No connection (refused, unreachable, connect timeout).
    Connect,
    /// The TLS handshake failed (untrusted certificate, wrong name).
    Tls,
    /// An error status (5xx, or any other than 200/206/404).
    Status,
    /// No byte for the stall time (before or during the body).
    Stall,
    /// The body ended early or the connection broke.
    Body,
    /// A response we cannot use: no length, a different ETag or length
    /// than the bytes already held, a Content-Range that is not ours.
    Protocol,
}

impl FailKind {
    /// Every kind, in counter order.
    pub const ALL: [FailKind; 6] = [
        FailKind::Connect,
        FailKind::Tls,
        FailKind::Status,
        FailKind::Stall,
        FailKind::Body,
        FailKind::Protocol,
    ];

    /// Its label in metrics.
    pub fn name(self) -> &'static str {
        match self {
            FailKind::Connect => "connect",
            FailKind::Tls => "tls",
            FailKind::Status => "status",
            FailKind::Stall => "stall",
            FailKind::Body => "body",
            FailKind::Protocol => "protocol",
        }
    }

    /// Its index in [`FailKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The object is whole.
    Complete,
    /// The source has no such object.
    NotFound,
    /// The source failed.
    Failed(FailKind),
}

/// What the leader does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Ask source `source` (a configured index) for the bytes from `from`.
    Fetch {
        /// The source.
        source: usize,
        /// The first byte wanted (0, or where a failed attempt stopped).
        from: u64,
    },
    /// The object is whole, from `source` (the source of its last bytes).
    Done {
        /// The source.
        source: usize,
    },
    /// No source has the object.
    NotFound,
    /// Every source failed; `timed_out` when the last failure was a stall.
    GiveUp {
        /// Whether the last failure was a stall (504 rather than 502).
        timed_out: bool,
    },
}

/// One fill's walk over the ranked sources.
#[derive(Debug, Clone)]
pub struct Attempts {
    order: Vec<usize>,
    kinds: Vec<SourceKind>,
    /// The next position in `order` to ask.
    next: usize,
    /// The attempts made: source, outcome, bytes the object had reached.
    log: Vec<(usize, Outcome, u64)>,
}

impl Attempts {
    /// A walk over sources of these kinds (configured order).
    pub fn new(kinds: &[SourceKind]) -> Attempts {
        Attempts {
            order: rank(kinds),
            kinds: kinds.to_vec(),
            next: 0,
            log: Vec::new(),
        }
    }

    /// The first step.
    pub fn start(&mut self) -> Step {
        self.ask(0)
    }

    /// The attempt on `source` ended with `outcome`, the object's bytes
    /// having reached `reached`.
    pub fn on(&mut self, source: usize, outcome: Outcome, reached: u64) -> Step {
        self.log.push((source, outcome, reached));
        match outcome {
            Outcome::Complete => Step::Done { source },
            // A 404 after bytes arrived is a source contradicting another:
            // treat it as a failure, not as an answer.
            Outcome::NotFound if reached == 0 && self.kinds[source] == SourceKind::Origin => {
                Step::NotFound
            }
            Outcome::NotFound | Outcome::Failed(_) => self.ask(reached),
        }
    }

    fn ask(&mut self, from: u64) -> Step {
        if let Some(&source) = self.order.get(self.next) {
            self.next += 1;
            return Step::Fetch { source, from };
        }
        let all_not_found = !self.log.is_empty()
            && self
                .log
                .iter()
                .all(|&(_, o, reached)| o == Outcome::NotFound && reached == 0);
        if all_not_found {
            return Step::NotFound;
        }
        let timed_out = matches!(
            self.log.last(),
            Some((_, Outcome::Failed(FailKind::Stall), _))
        );
        Step::GiveUp { timed_out }
    }

    /// The attempts made: source, outcome, bytes reached.
    pub fn log(&self) -> &[(usize, Outcome, u64)] {
        &self.log
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SourceKind::*;

    const LOCK: Duration = Duration::from_secs(10);

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn concurrent_opens_coalesce_into_one_leader() {
        let t0 = Instant::now();
        let mut f: Flights<&str, u64> = Flights::new(LOCK);
        let mut made = 0;
        let mut leads = 0;
        for i in 0..100 {
            match f.join("k", at(t0, i), |id| {
                made += 1;
                id.0
            }) {
                Joined::Lead(..) => leads += 1,
                Joined::Follow(id, p) => assert_eq!((id, p), (FlightId(0), 0)),
                Joined::Replace { .. } => panic!("no lock went stale"),
            }
        }
        assert_eq!((leads, made), (1, 1));
        assert_eq!(f.followers(&"k", FlightId(0)), Some(99));
        // Another object gets its own fill.
        assert!(matches!(
            f.join("j", t0, |id| id.0),
            Joined::Lead(FlightId(1), 1)
        ));
        assert!(f.finish(&"k", FlightId(0)));
        assert!(matches!(
            f.join("k", t0, |id| id.0),
            Joined::Lead(FlightId(2), 2)
        ));
    }

    #[test]
    fn pingora_931_a_stale_fill_lock_does_not_block_later_opens() {
        let t0 = Instant::now();
        let mut f: Flights<&str, &str> = Flights::new(LOCK);
        assert!(matches!(f.join("k", t0, |_| "first"), Joined::Lead(..)));
        // Progress keeps the lock: an open 9 s after the last byte follows.
        assert!(f.progress(&"k", FlightId(0), at(t0, 5_000)));
        assert!(matches!(
            f.join("k", at(t0, 14_999), |_| "x"),
            Joined::Follow(FlightId(0), "first")
        ));
        // The leader vanished: 10 s without progress, the next open leads.
        match f.join("k", at(t0, 15_000), |_| "second") {
            Joined::Replace { id, payload, stale } => {
                assert_eq!((id, payload, stale), (FlightId(1), "second", "first"));
            }
            other => panic!("expected a replacement, got {other:?}"),
        }
        // The stale leader waking up late neither extends nor clears its
        // successor's fill.
        assert!(!f.progress(&"k", FlightId(0), at(t0, 15_001)));
        assert!(!f.finish(&"k", FlightId(0)));
        assert!(matches!(
            f.join("k", at(t0, 15_002), |_| "y"),
            Joined::Follow(FlightId(1), "second")
        ));
        assert!(f.finish(&"k", FlightId(1)));
        assert!(f.is_empty());
    }

    #[test]
    fn ranking_is_peer_then_tier_then_origin_in_config_order() {
        assert_eq!(rank(&[Origin, Tier, Peer, Peer, Tier]), [2, 3, 1, 4, 0]);
    }

    #[test]
    fn failures_walk_the_ranked_sources_once_each_resuming_where_bytes_stopped() {
        let mut a = Attempts::new(&[Origin, Tier, Peer]);
        assert_eq!(a.start(), Step::Fetch { source: 2, from: 0 });
        // The peer lacks it: the tier is next.
        assert_eq!(
            a.on(2, Outcome::NotFound, 0),
            Step::Fetch { source: 1, from: 0 }
        );
        // The tier stalls after 4096 bytes: the origin resumes from there.
        assert_eq!(
            a.on(1, Outcome::Failed(FailKind::Stall), 4096),
            Step::Fetch {
                source: 0,
                from: 4096
            }
        );
        assert_eq!(a.on(0, Outcome::Complete, 10_000), Step::Done { source: 0 });
        assert_eq!(a.log().len(), 3);
    }

    #[test]
    fn a_404_from_the_origin_is_not_found_and_from_a_peer_moves_on() {
        let mut a = Attempts::new(&[Peer, Origin]);
        a.start();
        assert_eq!(
            a.on(0, Outcome::NotFound, 0),
            Step::Fetch { source: 1, from: 0 }
        );
        assert_eq!(a.on(1, Outcome::NotFound, 0), Step::NotFound);
        // Without an origin, every source saying 404 is also not found.
        let mut a = Attempts::new(&[Peer, Tier]);
        a.start();
        a.on(0, Outcome::NotFound, 0);
        assert_eq!(a.on(1, Outcome::NotFound, 0), Step::NotFound);
    }

    #[test]
    fn failures_give_up_after_the_last_source_and_say_whether_it_timed_out() {
        let mut a = Attempts::new(&[Peer, Origin]);
        a.start();
        a.on(0, Outcome::NotFound, 0);
        assert_eq!(
            a.on(1, Outcome::Failed(FailKind::Stall), 0),
            Step::GiveUp { timed_out: true }
        );
        let mut a = Attempts::new(&[Tier]);
        a.start();
        assert_eq!(
            a.on(0, Outcome::Failed(FailKind::Connect), 0),
            Step::GiveUp { timed_out: false }
        );
        // A 404 after bytes arrived is a contradiction, not an answer.
        let mut a = Attempts::new(&[Peer, Origin]);
        a.start();
        a.on(0, Outcome::Failed(FailKind::Body), 100);
        assert_eq!(
            a.on(1, Outcome::NotFound, 100),
            Step::GiveUp { timed_out: false }
        );
        // No sources at all: give up at once.
        assert_eq!(
            Attempts::new(&[]).start(),
            Step::GiveUp { timed_out: false }
        );
    }

    #[test]
    fn kinds_parse_and_unknown_ones_say_what_to_write() {
        assert_eq!("tier".parse::<SourceKind>(), Ok(Tier));
        let e = "cdn".parse::<SourceKind>().unwrap_err().to_string();
        assert!(e.contains("`cdn`") && e.contains("hint:"), "{e}");
    }
}
