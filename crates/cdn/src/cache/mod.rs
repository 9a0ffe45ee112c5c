//! An edge's object cache: complete objects under a byte budget, evicted
//! by a [`Policy`]. Sans-IO and synchronous: it holds values and counts
//! bytes, and the fill machinery ([`crate::fill`]) decides what goes in.
//!
//! A fill reserves its object's length before its first byte arrives
//! ([`Cache::reserve`]), evicting complete objects by policy until the
//! reservation fits; the reservation becomes an entry when the fill
//! completes ([`Cache::commit`]) or is given back when it fails
//! ([`Cache::release`]). So what is cached plus what is being filled never
//! exceeds the budget, and a filling object, which is only a reservation,
//! can never be evicted. An object larger than the budget left after the
//! other fills' reservations is refused (the caller serves it without
//! keeping it) rather than evicting everything for nothing.
//!
//! The cache is generic over what it holds: the edge keeps bodies in
//! memory with one, and indexes its disk tier ([`crate::fill::disk`])
//! with another.

mod list;
pub mod policy;

use std::collections::HashMap;
use std::hash::Hash;

use thiserror::Error;

pub use policy::{Lru, Policy, PolicyKind, Sieve};

/// Bytes set aside for an object being filled. Consume it with
/// [`Cache::commit`] or [`Cache::release`]; dropping it leaks the bytes
/// from the budget, so it is `must_use`.
#[must_use = "a reservation must be committed or released"]
#[derive(Debug, PartialEq, Eq)]
pub struct Reservation {
    size: u64,
}

impl Reservation {
    /// The bytes reserved.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// An object that cannot be cached now.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "an object of {size} bytes does not fit the cache's budget of {budget} bytes \
     ({reserved} bytes reserved by fills in progress); hint: it is served without \
     being kept, raise the budget to cache it"
)]
pub struct TooBig {
    /// The object's size.
    pub size: u64,
    /// The cache's budget.
    pub budget: u64,
    /// Bytes other fills hold.
    pub reserved: u64,
}

/// Complete objects under a byte budget.
pub struct Cache<K, V> {
    budget: u64,
    /// Bytes of complete objects.
    used: u64,
    /// Bytes reserved by fills in progress.
    reserved: u64,
    entries: HashMap<K, (V, u64)>,
    policy: Box<dyn Policy<K>>,
}

/// An object evicted to make room.
#[derive(Debug, PartialEq, Eq)]
pub struct Evicted<K, V> {
    /// Its key.
    pub key: K,
    /// Its value.
    pub value: V,
    /// Its size.
    pub size: u64,
}

impl<K: Hash + Eq + Clone, V> Cache<K, V> {
    /// An empty cache of `budget` bytes.
    pub fn new(budget: u64, policy: Box<dyn Policy<K>>) -> Cache<K, V> {
        Cache {
            budget,
            used: 0,
            reserved: 0,
            entries: HashMap::new(),
            policy,
        }
    }

    /// The object under `key`, counted as a hit by the policy.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        let (v, _) = self.entries.get(key)?;
        self.policy.hit(key);
        Some(v)
    }

    /// The object under `key`, without telling the policy.
    pub fn peek(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|(v, _)| v)
    }

    /// Every cached key, in no order, without telling the policy.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.keys()
    }

    /// Whether `key` is cached, without telling the policy.
    pub fn contains(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    /// Sets `size` bytes aside for a fill, evicting complete objects by
    /// policy until they fit. Nothing is evicted when they cannot fit.
    pub fn reserve(&mut self, size: u64) -> Result<(Reservation, Vec<Evicted<K, V>>), TooBig> {
        if self.reserved.saturating_add(size) > self.budget {
            return Err(TooBig {
                size,
                budget: self.budget,
                reserved: self.reserved,
            });
        }
        let mut evicted = Vec::new();
        while self.used + self.reserved + size > self.budget {
            // `used` > 0 here, so the policy tracks at least one object.
            let Some(key) = self.policy.evict() else {
                break;
            };
            if let Some((value, size)) = self.entries.remove(&key) {
                self.used -= size;
                evicted.push(Evicted { key, value, size });
            }
        }
        self.reserved += size;
        Ok((Reservation { size }, evicted))
    }

    /// Turns a reservation into a cached object (replacing any object
    /// already under `key`).
    pub fn commit(&mut self, key: K, value: V, reservation: Reservation) {
        self.reserved -= reservation.size;
        if let Some((_, old)) = self.entries.remove(&key) {
            self.used -= old;
            self.policy.remove(&key);
        }
        self.used += reservation.size;
        self.entries.insert(key.clone(), (value, reservation.size));
        self.policy.insert(key);
    }

    /// Gives a reservation's bytes back (its fill failed).
    pub fn release(&mut self, reservation: Reservation) {
        self.reserved -= reservation.size;
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let (v, size) = self.entries.remove(key)?;
        self.used -= size;
        self.policy.remove(key);
        Some(v)
    }

    /// Bytes of complete objects.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Bytes reserved by fills in progress.
    pub fn reserved(&self) -> u64 {
        self.reserved
    }

    /// The budget.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// How many complete objects it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The policy's name.
    pub fn policy_name(&self) -> &'static str {
        self.policy.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(c: &mut Cache<&'static str, ()>, key: &'static str, size: u64) -> Vec<&'static str> {
        let (r, ev) = c.reserve(size).unwrap();
        c.commit(key, (), r);
        ev.into_iter().map(|e| e.key).collect()
    }

    #[test]
    fn the_budget_is_never_exceeded_and_eviction_follows_the_policy() {
        let mut c = Cache::new(100, PolicyKind::Lru.build());
        assert!(fill(&mut c, "a", 40).is_empty());
        assert!(fill(&mut c, "b", 40).is_empty());
        assert!(c.get(&"a").is_some());
        // 40 + 40 + 30 > 100: LRU gives up b (a was hit since).
        assert_eq!(fill(&mut c, "c", 30), ["b"]);
        assert_eq!((c.used(), c.len()), (70, 2));
        // 70 + 100 needs everything out.
        let mut ev = fill(&mut c, "d", 100);
        ev.sort();
        assert_eq!(ev, ["a", "c"]);
        assert_eq!(c.used(), 100);
    }

    #[test]
    fn sieve_in_the_cache_keeps_the_hit_object() {
        let mut c = Cache::new(100, PolicyKind::Sieve.build());
        fill(&mut c, "a", 50);
        fill(&mut c, "b", 50);
        assert!(c.get(&"a").is_some());
        assert_eq!(fill(&mut c, "c", 50), ["b"]);
        assert!(c.contains(&"a"));
    }

    #[test]
    fn filling_objects_are_never_evicted_and_too_big_evicts_nothing() {
        let mut c = Cache::new(100, PolicyKind::Lru.build());
        fill(&mut c, "a", 30);
        let (filling, ev) = c.reserve(60).unwrap();
        assert!(ev.is_empty());
        // 60 reserved: only 40 can ever fit beside it; a 50 is refused and
        // a must not be evicted for it.
        let e = c.reserve(50).unwrap_err();
        assert_eq!((e.size, e.reserved), (50, 60));
        assert!(e.to_string().contains("hint:"), "{e}");
        assert!(c.contains(&"a"));
        // A 40 fits by evicting a, never the reservation.
        let (r, ev) = c.reserve(40).unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(c.used() + c.reserved(), 100);
        c.release(r);
        c.commit("f", (), filling);
        assert_eq!((c.used(), c.reserved()), (60, 0));
    }

    #[test]
    fn property_random_fills_never_exceed_the_budget_and_every_byte_is_accounted_for() {
        // Seeded random reserve/commit/release/hit/remove sequences, for
        // both policies, against a model of what should be held.
        for kind in PolicyKind::ALL {
            let mut rng = 7u64;
            let mut next = || netproof_proto::seed::splitmix64(&mut rng);
            let budget = 10_000;
            let mut c: Cache<u64, u64> = Cache::new(budget, kind.build());
            let mut model: HashMap<u64, u64> = HashMap::new();
            let mut open: Vec<Reservation> = Vec::new();
            for step in 0..20_000 {
                match next() % 5 {
                    0 | 1 => {
                        let size = 1 + next() % 3_000;
                        match c.reserve(size) {
                            Ok((r, evicted)) => {
                                for e in evicted {
                                    assert_eq!(model.remove(&e.key), Some(e.size), "step {step}");
                                    assert_eq!(e.value, e.size);
                                }
                                open.push(r);
                            }
                            Err(e) => assert!(e.reserved + size > budget, "step {step}"),
                        }
                    }
                    2 if !open.is_empty() => {
                        let r = open.swap_remove((next() as usize) % open.len());
                        let key = next() % 50;
                        let size = r.size();
                        c.commit(key, size, r);
                        model.insert(key, size);
                    }
                    3 if !open.is_empty() => {
                        c.release(open.swap_remove((next() as usize) % open.len()));
                    }
                    _ => {
                        let key = next() % 50;
                        if next() % 4 == 0 {
                            assert_eq!(c.remove(&key), model.remove(&key));
                        } else {
                            assert_eq!(c.get(&key).copied(), model.get(&key).copied());
                        }
                    }
                }
                let held: u64 = model.values().sum();
                let reserved: u64 = open.iter().map(Reservation::size).sum();
                assert_eq!(
                    (c.used(), c.reserved(), c.len()),
                    (held, reserved, model.len())
                );
                assert!(c.used() + c.reserved() <= budget, "step {step}");
            }
        }
    }

    #[test]
    fn committing_a_key_again_replaces_it() {
        let mut c: Cache<&str, u32> = Cache::new(100, PolicyKind::Sieve.build());
        let (r, _) = c.reserve(10).unwrap();
        c.commit("a", 1, r);
        let (r, _) = c.reserve(20).unwrap();
        c.commit("a", 2, r);
        assert_eq!((c.len(), c.used()), (1, 20));
        assert_eq!(c.get(&"a"), Some(&2));
        assert_eq!(c.remove(&"a"), Some(2));
        assert_eq!(c.used(), 0);
    }
}
