//! Eviction policies: which complete object leaves the cache when a new
//! one needs room. Sans-IO: a policy sees only keys (inserted, hit,
//! removed) and names a victim; the byte budget is the cache's business.
//!
//! - [`Lru`], the baseline: a hit moves the object to the head, the
//!   victim is the tail.
//! - [`Sieve`] (Zhang et al., "SIEVE is Simpler than LRU", NSDI '24): one
//!   FIFO queue, one visited bit per object and a hand that walks from the
//!   tail towards the head. A hit only sets the bit (no list move, so a
//!   hit costs no write to shared order, "lazy promotion"); the hand
//!   clears set bits as it passes and evicts the first object whose bit is
//!   clear, so new objects that are never hit again leave quickly ("quick
//!   demotion"), which is what one-hit-wonder-heavy web and CDN traces
//!   reward. We chose it over S3-FIFO, the other modern candidate, because
//!   it reaches a similar miss ratio on the paper's CDN traces with one
//!   queue and no ghost queue, so there is less to get wrong and no extra
//!   tuning knob (S3-FIFO's small-queue share).
//!
//! Objects being filled are never in a policy: the cache adds an object
//! once its fill completes, so a policy can never name a filling object.

use std::hash::Hash;
use std::str::FromStr;

use thiserror::Error;

use super::list::{List, NIL};

/// An eviction policy over keys.
pub trait Policy<K>: Send {
    /// The policy's name as configured (`lru`, `sieve`).
    fn name(&self) -> &'static str;
    /// A new object, not yet hit.
    fn insert(&mut self, key: K);
    /// The object was served from the cache.
    fn hit(&mut self, key: &K);
    /// The object left the cache for another reason; false when unknown.
    fn remove(&mut self, key: &K) -> bool;
    /// Names and forgets the next object to evict; `None` when empty.
    fn evict(&mut self) -> Option<K>;
    /// How many objects it tracks.
    fn len(&self) -> usize;
    /// Whether it tracks none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The policies a config can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyKind {
    /// Least recently used (the baseline).
    Lru,
    /// SIEVE (the default).
    #[default]
    Sieve,
}

impl PolicyKind {
    /// Every policy, for benchmarks.
    pub const ALL: [PolicyKind; 2] = [PolicyKind::Lru, PolicyKind::Sieve];

    /// Its configured name.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Lru => "lru",
            PolicyKind::Sieve => "sieve",
        }
    }

    /// A new, empty policy of this kind.
    pub fn build<K: Hash + Eq + Clone + Send + 'static>(self) -> Box<dyn Policy<K>> {
        match self {
            PolicyKind::Lru => Box::new(Lru::new()),
            PolicyKind::Sieve => Box::new(Sieve::new()),
        }
    }
}

/// A policy name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown eviction policy `{0}`; hint: write `lru` or `sieve`")]
pub struct UnknownPolicy(pub String);

impl FromStr for PolicyKind {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<PolicyKind, UnknownPolicy> {
        match s {
            "lru" => Ok(PolicyKind::Lru),
            "sieve" => Ok(PolicyKind::Sieve),
            other => Err(UnknownPolicy(other.to_owned())),
        }
    }
}

/// Least recently used.
pub struct Lru<K> {
    list: List<K>,
}

impl<K: Hash + Eq + Clone> Lru<K> {
    /// An empty LRU.
    pub fn new() -> Lru<K> {
        Lru { list: List::new() }
    }
}

impl<K: Hash + Eq + Clone> Default for Lru<K> {
    fn default() -> Self {
        Lru::new()
    }
}

impl<K: Hash + Eq + Clone + Send> Policy<K> for Lru<K> {
    fn name(&self) -> &'static str {
        "lru"
    }

    fn insert(&mut self, key: K) {
        let at = self.list.push_head(key);
        self.list.move_to_head(at);
    }

    fn hit(&mut self, key: &K) {
        if let Some(at) = self.list.find(key) {
            self.list.move_to_head(at);
        }
    }

    fn remove(&mut self, key: &K) -> bool {
        match self.list.find(key) {
            Some(at) => {
                self.list.unlink(at);
                true
            }
            None => false,
        }
    }

    fn evict(&mut self) -> Option<K> {
        (self.list.tail != NIL).then(|| self.list.unlink(self.list.tail))
    }

    fn len(&self) -> usize {
        self.list.len()
    }
}

/// SIEVE.
pub struct Sieve<K> {
    list: List<K>,
    /// The next node the hand looks at; `NIL` means start at the tail.
    hand: usize,
}

impl<K: Hash + Eq + Clone> Sieve<K> {
    /// An empty SIEVE.
    pub fn new() -> Sieve<K> {
        Sieve {
            list: List::new(),
            hand: NIL,
        }
    }
}

impl<K: Hash + Eq + Clone> Default for Sieve<K> {
    fn default() -> Self {
        Sieve::new()
    }
}

impl<K: Hash + Eq + Clone + Send> Policy<K> for Sieve<K> {
    fn name(&self) -> &'static str {
        "sieve"
    }

    fn insert(&mut self, key: K) {
        self.list.push_head(key);
    }

    fn hit(&mut self, key: &K) {
        if let Some(at) = self.list.find(key) {
            self.list.node_mut(at).visited = true;
        }
    }

    fn remove(&mut self, key: &K) -> bool {
        let Some(at) = self.list.find(key) else {
            return false;
        };
        if self.hand == at {
            // The slot is reused after the unlink: move the hand first.
            self.hand = self.list.node(at).prev;
        }
        self.list.unlink(at);
        true
    }

    fn evict(&mut self) -> Option<K> {
        if self.list.len() == 0 {
            return None;
        }
        let mut at = if self.hand == NIL {
            self.list.tail
        } else {
            self.hand
        };
        // At most one full lap clears every bit, so this ends within two.
        loop {
            let node = self.list.node_mut(at);
            if node.visited {
                node.visited = false;
                at = if node.prev == NIL {
                    self.list.tail
                } else {
                    node.prev
                };
            } else {
                self.hand = node.prev;
                return Some(self.list.unlink(at));
            }
        }
    }

    fn len(&self) -> usize {
        self.list.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `ops` ("+k" insert, "*k" hit, "-k" remove, "!" evict) and
    /// returns the evicted keys in order.
    fn run(policy: &mut dyn Policy<char>, ops: &str) -> String {
        let mut out = String::new();
        for op in ops.split_whitespace() {
            let mut c = op.chars();
            match (c.next(), c.next()) {
                (Some('+'), Some(k)) => policy.insert(k),
                (Some('*'), Some(k)) => policy.hit(&k),
                (Some('-'), Some(k)) => assert!(policy.remove(&k), "{op}"),
                (Some('!'), None) => out.push(policy.evict().unwrap_or('_')),
                _ => panic!("bad op {op}"),
            }
        }
        out
    }

    #[test]
    fn lru_evicts_least_recently_used_first() {
        let mut p = Lru::new();
        assert_eq!(run(&mut p, "+a +b +c +d *a *c ! ! ! ! !"), "bdac_");
        assert!(p.is_empty());
    }

    #[test]
    fn lru_a_removed_key_is_never_named() {
        let mut p = Lru::new();
        assert_eq!(run(&mut p, "+a +b +c -a *b ! !"), "cb");
    }

    #[test]
    fn sieve_keeps_visited_objects_and_evicts_the_first_unvisited_from_the_tail() {
        let mut p = Sieve::new();
        // Queue (head..tail): d c b a; a and c visited. The hand clears a,
        // evicts b; next time starts after b at c: clears c, evicts d; then
        // wraps to the tail: a (bit cleared) goes, then c.
        assert_eq!(run(&mut p, "+a +b +c +d *a *c ! ! ! !"), "bdac");
    }

    #[test]
    fn sieve_new_objects_go_before_old_hit_ones_unlike_lru() {
        // The paper's point: a popular object hit now and then survives a
        // stream of one-hit wonders; LRU evicts it whenever a newer
        // wonder arrived after its last hit.
        let ops = "+p *p +x ! *p +y ! *p +z !";
        assert_eq!(run(&mut Sieve::new(), ops), "xyz");
        assert_eq!(run(&mut Lru::new(), ops), "pxy");
    }

    #[test]
    fn sieve_the_hand_stays_in_place_across_inserts() {
        let mut p = Sieve::new();
        // a b c in, all hit; the first eviction clears all three bits and
        // evicts a (a full lap); the hand rests at b; new d goes to the
        // head; b is next, then c, then d.
        assert_eq!(run(&mut p, "+a +b +c *a *b *c ! +d ! ! !"), "abcd");
    }

    #[test]
    fn sieve_removing_the_node_under_the_hand_moves_the_hand() {
        let mut p = Sieve::new();
        // After evicting a, the hand rests at b; removing b must not leave
        // it on a freed slot that e then reuses.
        assert_eq!(run(&mut p, "+a +b +c ! -b +e *c !"), "ae");
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn policy_names_parse_and_unknown_ones_say_what_to_write() {
        assert_eq!("lru".parse::<PolicyKind>(), Ok(PolicyKind::Lru));
        assert_eq!("sieve".parse::<PolicyKind>(), Ok(PolicyKind::Sieve));
        let e = "arc".parse::<PolicyKind>().unwrap_err().to_string();
        assert!(e.contains("`arc`") && e.contains("hint:"), "{e}");
        for k in PolicyKind::ALL {
            assert_eq!(k.build::<u32>().name(), k.name());
        }
    }
}
