//! What an edge's store counts, as plain atomics a metrics exporter reads
//! at any time: opens by cache result, fill bytes and fetches per source,
//! failed attempts by kind, evictions, stale fill locks cleared, the disk
//! tier's hits, demotions, evictions and write failures.
//!
//! Counters only grow. Relaxed ordering: each is read on its own, and a
//! snapshot taken while requests run may be a few events apart between
//! counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::plan::FailKind;

/// One fill source's counters.
#[derive(Debug)]
pub struct SourceCounters {
    /// The source's configured name.
    pub name: Arc<str>,
    /// Body bytes received from it.
    pub bytes: AtomicU64,
    /// Requests sent to it.
    pub fetches: AtomicU64,
    /// Objects it completed.
    pub completed: AtomicU64,
}

/// An edge store's counters.
#[derive(Debug)]
pub struct Counters {
    /// Opens served from a complete cached object.
    pub hits: AtomicU64,
    /// Opens that started a fill.
    pub misses: AtomicU64,
    /// Opens that joined a fill already under way.
    pub coalesced: AtomicU64,
    /// Opens answered "not found".
    pub not_found: AtomicU64,
    /// Opens answered with an upstream failure (every source failed).
    pub upstream_errors: AtomicU64,
    /// Objects evicted, and their bytes.
    pub evictions: AtomicU64,
    /// Bytes of the objects evicted.
    pub evicted_bytes: AtomicU64,
    /// Objects served without being kept (larger than the free budget).
    pub uncacheable: AtomicU64,
    /// Fill locks found stale and replaced (pingora #931's case).
    pub stale_locks: AtomicU64,
    /// Hits served from the disk tier (also counted in `hits`).
    pub disk_hits: AtomicU64,
    /// Objects moved from memory to the disk tier.
    pub demoted: AtomicU64,
    /// Objects evicted from the disk tier.
    pub disk_evictions: AtomicU64,
    /// Disk tier files that could not be written.
    pub disk_write_failures: AtomicU64,
    /// `only-if-cached` opens (a peer's) for objects not held.
    pub not_cached: AtomicU64,
    /// Opens by a proactive fill (`POST /prefill`) that started or joined
    /// a fill: counted here, not as misses or coalesced, so the hit ratio
    /// is the clients' own.
    pub prefills: AtomicU64,
    /// Per source, in configured order.
    pub sources: Vec<SourceCounters>,
    /// Failed attempts, indexed by [`FailKind::index`].
    pub failures: [AtomicU64; FailKind::ALL.len()],
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// See [`Counters::hits`].
    pub hits: u64,
    /// See [`Counters::misses`].
    pub misses: u64,
    /// See [`Counters::coalesced`].
    pub coalesced: u64,
    /// See [`Counters::not_found`].
    pub not_found: u64,
    /// See [`Counters::upstream_errors`].
    pub upstream_errors: u64,
    /// See [`Counters::evictions`].
    pub evictions: u64,
    /// See [`Counters::evicted_bytes`].
    pub evicted_bytes: u64,
    /// See [`Counters::uncacheable`].
    pub uncacheable: u64,
    /// See [`Counters::stale_locks`].
    pub stale_locks: u64,
    /// See [`Counters::disk_hits`].
    pub disk_hits: u64,
    /// See [`Counters::demoted`].
    pub demoted: u64,
    /// See [`Counters::disk_evictions`].
    pub disk_evictions: u64,
    /// See [`Counters::disk_write_failures`].
    pub disk_write_failures: u64,
    /// See [`Counters::not_cached`].
    pub not_cached: u64,
    /// See [`Counters::prefills`].
    pub prefills: u64,
    /// Per source: name, bytes, fetches, completed.
    pub sources: Vec<(Arc<str>, u64, u64, u64)>,
    /// Failed attempts by kind (every kind, zero included).
    pub failures: Vec<(FailKind, u64)>,
}

impl Snapshot {
    /// Failed attempts of one kind.
    pub fn failed(&self, kind: FailKind) -> u64 {
        self.failures
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }

    /// Body bytes from the source named `name`.
    pub fn bytes_from(&self, name: &str) -> u64 {
        self.sources
            .iter()
            .find(|s| &*s.0 == name)
            .map_or(0, |s| s.1)
    }

    /// Requests sent to the source named `name`.
    pub fn fetches_from(&self, name: &str) -> u64 {
        self.sources
            .iter()
            .find(|s| &*s.0 == name)
            .map_or(0, |s| s.2)
    }
}

impl Counters {
    /// Zeroed counters for sources with these names (configured order).
    pub fn new(sources: impl IntoIterator<Item = Arc<str>>) -> Counters {
        Counters {
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
            not_found: AtomicU64::new(0),
            upstream_errors: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            evicted_bytes: AtomicU64::new(0),
            uncacheable: AtomicU64::new(0),
            stale_locks: AtomicU64::new(0),
            disk_hits: AtomicU64::new(0),
            demoted: AtomicU64::new(0),
            disk_evictions: AtomicU64::new(0),
            disk_write_failures: AtomicU64::new(0),
            not_cached: AtomicU64::new(0),
            prefills: AtomicU64::new(0),
            sources: sources
                .into_iter()
                .map(|name| SourceCounters {
                    name,
                    bytes: AtomicU64::new(0),
                    fetches: AtomicU64::new(0),
                    completed: AtomicU64::new(0),
                })
                .collect(),
            failures: Default::default(),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn failed(&self, kind: FailKind) {
        Counters::add(&self.failures[kind.index()], 1);
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            hits: get(&self.hits),
            misses: get(&self.misses),
            coalesced: get(&self.coalesced),
            not_found: get(&self.not_found),
            upstream_errors: get(&self.upstream_errors),
            evictions: get(&self.evictions),
            evicted_bytes: get(&self.evicted_bytes),
            uncacheable: get(&self.uncacheable),
            stale_locks: get(&self.stale_locks),
            disk_hits: get(&self.disk_hits),
            demoted: get(&self.demoted),
            disk_evictions: get(&self.disk_evictions),
            disk_write_failures: get(&self.disk_write_failures),
            not_cached: get(&self.not_cached),
            prefills: get(&self.prefills),
            sources: self
                .sources
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        get(&s.bytes),
                        get(&s.fetches),
                        get(&s.completed),
                    )
                })
                .collect(),
            failures: FailKind::ALL
                .iter()
                .map(|&k| (k, get(&self.failures[k.index()])))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_reads_every_counter_by_name_and_kind() {
        let c = Counters::new(["peer-a".into(), "origin".into()]);
        Counters::add(&c.hits, 3);
        Counters::add(&c.sources[1].bytes, 100);
        Counters::add(&c.sources[1].fetches, 2);
        c.failed(FailKind::Stall);
        c.failed(FailKind::Stall);
        let s = c.snapshot();
        assert_eq!(s.hits, 3);
        assert_eq!((s.bytes_from("origin"), s.fetches_from("origin")), (100, 2));
        assert_eq!(s.bytes_from("peer-a"), 0);
        assert_eq!(s.failed(FailKind::Stall), 2);
        assert_eq!(s.failed(FailKind::Tls), 0);
        assert_eq!(s.failures.len(), FailKind::ALL.len());
    }
}
