//! Proactive fill, as Open Connect appliances fill nightly: pre-position a
//! manifest's objects from the ranked sources within a window, the fill's
//! bytes paced by a token bucket to a rate cap, and report what was
//! filled, from where, and at what rate.
//!
//! Objects are filled one after another through the store's own fill
//! path, so a prefill coalesces with client misses like any other open
//! (and a client that joins a paced fill is paced with it). Objects
//! already cached are skipped without counting a hit. When the window
//! ends, the report stops waiting: an object part-way is reported
//! unfinished (its fill goes on at the capped rate, since readers may
//! share it) and the rest are not started.
//!
//! The achieved rate counts the bytes of fills this prefill started over
//! its whole run; the bucket guarantees they never exceed
//! `burst + cap * elapsed`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{Instant, timeout_at};

use super::FillStore;
use super::bucket::TokenBucket;
use crate::object::{CacheStatus, ObjectKey, OpenError};

/// What to pre-position: paths per site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Each site and its paths, in fill order.
    pub sites: Vec<SitePaths>,
}

/// One site's paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePaths {
    /// The site's configured name.
    pub site: String,
    /// Object paths on it.
    pub paths: Vec<String>,
}

impl Manifest {
    /// Its objects, in fill order.
    pub fn keys(&self) -> Vec<ObjectKey> {
        self.sites
            .iter()
            .flat_map(|s| {
                let site: Arc<str> = s.site.as_str().into();
                s.paths.iter().map(move |p| ObjectKey {
                    site: site.clone(),
                    path: p.as_str().into(),
                })
            })
            .collect()
    }
}

/// How fast and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// The rate cap, bytes per second.
    pub rate: u64,
    /// How far ahead of the rate a burst may go, bytes.
    pub burst: u64,
    /// How long the prefill may run.
    pub window: Duration,
}

/// What became of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemResult {
    /// Filled by this prefill.
    Filled {
        /// The source its bytes came from.
        source: Arc<str>,
        /// Its bytes.
        bytes: u64,
    },
    /// Filled by a client's fill this prefill waited on (not paced).
    Joined {
        /// The source.
        source: Arc<str>,
        /// Its bytes.
        bytes: u64,
    },
    /// Already cached.
    Present,
    /// No source has it.
    NotFound,
    /// Every source failed.
    Failed(String),
    /// The window ended part-way, at this many bytes.
    Unfinished {
        /// Bytes filled when the window ended.
        bytes: u64,
    },
    /// The window ended before it was started.
    NotStarted,
}

/// One object's line in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemReport {
    /// The object.
    pub key: ObjectKey,
    /// What became of it.
    pub result: ItemResult,
    /// How long it took.
    pub elapsed: Duration,
}

/// What a prefill did.
#[derive(Debug, Clone, PartialEq)]
pub struct PrefillReport {
    /// Per object, in manifest order.
    pub items: Vec<ItemReport>,
    /// Bytes of the fills this prefill started (paced).
    pub bytes: u64,
    /// From start to the last object's end (or the window's end).
    pub elapsed: Duration,
    /// `bytes / elapsed`, bytes per second.
    pub rate: f64,
    /// The cap it ran under, bytes per second.
    pub cap: u64,
}

impl PrefillReport {
    /// Bytes filled per source (paced and joined), in first-seen order.
    pub fn by_source(&self) -> Vec<(Arc<str>, u64)> {
        let mut out: Vec<(Arc<str>, u64)> = Vec::new();
        for item in &self.items {
            if let ItemResult::Filled { source, bytes } | ItemResult::Joined { source, bytes } =
                &item.result
            {
                match out.iter_mut().find(|(s, _)| s == source) {
                    Some((_, n)) => *n += bytes,
                    None => out.push((source.clone(), *bytes)),
                }
            }
        }
        out
    }
}

/// Pre-positions `manifest`'s objects in `store` at `pace`.
pub async fn prefill(store: &FillStore, manifest: &Manifest, pace: Pace) -> PrefillReport {
    let start = Instant::now();
    let deadline = start + pace.window;
    let limiter = Arc::new(Mutex::new(TokenBucket::new(
        pace.rate,
        pace.burst,
        start.into_std(),
    )));
    let mut items = Vec::new();
    let mut bytes = 0;
    for key in manifest.keys() {
        let t = Instant::now();
        let result = if t >= deadline {
            ItemResult::NotStarted
        } else if store.contains(&key) {
            ItemResult::Present
        } else {
            let (result, paced) = one(store, &key, &limiter, deadline).await;
            bytes += paced;
            result
        };
        items.push(ItemReport {
            key,
            result,
            elapsed: t.elapsed(),
        });
    }
    let elapsed = start.elapsed().min(pace.window);
    PrefillReport {
        items,
        bytes,
        elapsed,
        rate: bytes as f64 / elapsed.as_secs_f64().max(1e-9),
        cap: pace.rate,
    }
}

/// Fills one object; returns the result and the paced bytes.
async fn one(
    store: &FillStore,
    key: &ObjectKey,
    limiter: &Arc<Mutex<TokenBucket>>,
    deadline: Instant,
) -> (ItemResult, u64) {
    let opened = timeout_at(deadline, store.open_fill(key, Some(limiter.clone()))).await;
    let (opened, body) = match opened {
        Err(_) => return (ItemResult::Unfinished { bytes: 0 }, 0),
        Ok(Err(OpenError::NotFound { .. })) => return (ItemResult::NotFound, 0),
        Ok(Err(e)) => return (ItemResult::Failed(e.to_string()), 0),
        Ok(Ok(o)) => o,
    };
    let Some(body) = body else {
        // A disk tier hit: already held.
        return (ItemResult::Present, 0);
    };
    let paced = opened.status == CacheStatus::Miss;
    let finished = timeout_at(deadline, body.finished()).await;
    let filled = body.filled();
    let counted = if paced { filled } else { 0 };
    let source = opened.source.unwrap_or_else(|| "".into());
    let result = match finished {
        Err(_) => ItemResult::Unfinished { bytes: filled },
        Ok(false) => ItemResult::Failed(format!(
            "the fill failed at byte {filled} of {}",
            body.len()
        )),
        Ok(true) if opened.status == CacheStatus::Hit => ItemResult::Present,
        Ok(true) if paced => ItemResult::Filled {
            source,
            bytes: filled,
        },
        Ok(true) => ItemResult::Joined {
            source,
            bytes: filled,
        },
    };
    (result, counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_lists_its_objects_site_by_site_in_order() {
        let m = Manifest {
            sites: vec![
                SitePaths {
                    site: "a.test".into(),
                    paths: vec!["/t/1/x".into(), "/t/2/x".into()],
                },
                SitePaths {
                    site: "b.test".into(),
                    paths: vec!["/t/1/x".into()],
                },
            ],
        };
        let keys: Vec<String> = m
            .keys()
            .iter()
            .map(|k| format!("{}{}", k.site, k.path))
            .collect();
        assert_eq!(keys, ["a.test/t/1/x", "a.test/t/2/x", "b.test/t/1/x"]);
    }

    #[test]
    fn the_report_sums_bytes_by_source() {
        let item = |result| ItemReport {
            key: ObjectKey {
                site: "a".into(),
                path: "/".into(),
            },
            result,
            elapsed: Duration::ZERO,
        };
        let r = PrefillReport {
            items: vec![
                item(ItemResult::Filled {
                    source: "peer".into(),
                    bytes: 10,
                }),
                item(ItemResult::Present),
                item(ItemResult::Joined {
                    source: "origin".into(),
                    bytes: 5,
                }),
                item(ItemResult::Filled {
                    source: "peer".into(),
                    bytes: 7,
                }),
            ],
            bytes: 17,
            elapsed: Duration::from_secs(1),
            rate: 17.0,
            cap: 100,
        };
        assert_eq!(r.by_source(), [("peer".into(), 17), ("origin".into(), 5)]);
    }
}
