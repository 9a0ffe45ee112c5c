//! The origin: an [`Objects`] store over the synthetic [`Catalogue`], with
//! knobs that make it slow or failing so edges can be tested against it.
//!
//! Each site serves the catalogue under its own seed (the site's `seed`,
//! else the catalogue's), so the same path on two sites has different
//! bytes and a response from the wrong site is caught by any client that
//! checks the body. Bytes are computed on read; nothing is stored.
//!
//! Knobs: `latency` delays every open (the time to first byte), an
//! `error_rate` share of opens fails with [`OpenError::Busy`] (503), and a
//! `stall` stops every body at byte `after` for a while. Which requests
//! fail is drawn from the catalogue seed and the request's sequence
//! number, so a run that sends the same requests in the same order sees
//! the same failures.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use netproof_proto::cdn::{OriginKnobs, Site};
use netproof_proto::content::ContentKey;
use netproof_proto::seed;

use crate::catalogue::Catalogue;
use crate::object::{
    Body, BodyError, BodyReader, BoxFuture, CacheStatus, ObjectKey, Objects, OpenError, Opened,
};

/// The origin's store.
pub struct Origin {
    catalogue: Catalogue,
    /// Each site's seed, by site name.
    seeds: HashMap<Arc<str>, u64>,
    knobs: OriginKnobs,
    /// Opens so far, to draw injected errors from.
    opens: AtomicU64,
}

impl Origin {
    /// An origin serving `catalogue` on `sites` with `knobs`.
    pub fn new(catalogue: Catalogue, sites: &[Site], knobs: OriginKnobs) -> Origin {
        let base = catalogue.config().seed;
        let seeds = sites
            .iter()
            .map(|s| (Arc::from(s.name.as_str()), s.seed.unwrap_or(base)))
            .collect();
        Origin {
            catalogue,
            seeds,
            knobs,
            opens: AtomicU64::new(0),
        }
    }

    /// The key of `path`'s bytes on `site`, when both exist: what a client
    /// checks a body against.
    pub fn content_key(&self, site: &str, path: &str) -> Option<ContentKey> {
        let seed = *self.seeds.get(site)?;
        let file = self.catalogue.file(path)?;
        Some(self.catalogue.key(seed, &file))
    }

    /// Whether the `n`th open (from 0) is one the error rate fails.
    fn fails(&self, n: u64) -> bool {
        let rate = self.knobs.error_rate;
        if rate <= 0.0 {
            return false;
        }
        let draw = seed::derive(self.catalogue.config().seed ^ 0x6f72_6967_696e, n);
        // The top 53 bits as a uniform number in [0, 1).
        ((draw >> 11) as f64 / (1u64 << 53) as f64) < rate
    }
}

impl Objects for Origin {
    fn open<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<Opened, OpenError>> {
        Box::pin(async move {
            let not_found = || OpenError::NotFound {
                site: key.site.clone(),
                path: key.path.clone(),
            };
            let seed = *self.seeds.get(&key.site).ok_or_else(not_found)?;
            let file = self.catalogue.file(&key.path).ok_or_else(not_found)?;
            let n = self.opens.fetch_add(1, Ordering::Relaxed);
            if !self.knobs.latency.0.is_zero() {
                tokio::time::sleep(self.knobs.latency.0).await;
            }
            if self.fails(n) {
                return Err(OpenError::Busy(format!(
                    "the origin failed request {n} on purpose (knobs.error_rate = {})",
                    self.knobs.error_rate
                )));
            }
            let meta = self.catalogue.meta(seed, &file);
            let body = Synthetic {
                key: self.catalogue.key(seed, &file),
                len: meta.len,
                stall: self.knobs.stall.map(|s| (s.after.0, s.duration.0)),
                stalled: AtomicBool::new(false),
            };
            Ok(Opened {
                meta,
                body: Arc::new(body) as Body,
                status: CacheStatus::Origin,
                source: None,
            })
        })
    }
}

/// A catalogue file's bytes, computed on read.
pub struct Synthetic {
    key: ContentKey,
    len: u64,
    /// Stop at this byte for this long, once per body.
    stall: Option<(u64, Duration)>,
    stalled: AtomicBool,
}

impl Synthetic {
    /// A body of `len` bytes of `key`, with no stall.
    pub fn new(key: ContentKey, len: u64) -> Synthetic {
        Synthetic {
            key,
            len,
            stall: None,
            stalled: AtomicBool::new(false),
        }
    }
}

impl BodyReader for Synthetic {
    fn read_at(&self, offset: u64, max: usize) -> BoxFuture<'_, Result<Bytes, BodyError>> {
        Box::pin(async move {
            if offset >= self.len {
                return Err(BodyError::OutOfRange {
                    offset,
                    len: self.len,
                });
            }
            let mut n = (self.len - offset).min(max.max(1) as u64);
            if let Some((after, pause)) = self.stall {
                if offset < after {
                    // Stop exactly at `after`, so the client has that many
                    // bytes when the stall begins.
                    n = n.min(after - offset);
                } else if !self.stalled.swap(true, Ordering::Relaxed) {
                    tokio::time::sleep(pause).await;
                }
            }
            let mut buf = BytesMut::zeroed(n as usize);
            self.key.fill(offset, &mut buf);
            Ok(buf.freeze())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netproof_proto::cdn::{ByteSize, Catalogue as CatalogueConfig, Span, Stall};

    fn origin(knobs: OriginKnobs) -> Origin {
        let catalogue = Catalogue::new(CatalogueConfig {
            seed: 9,
            titles: 3,
            bitrates_kbps: vec![100],
            segments: 4,
            segment_ms: 1000,
            zipf: 0.8,
        });
        let site = |name: &str, seed| Site {
            name: name.into(),
            names: vec![],
            cert: None,
            key: None,
            seed,
        };
        Origin::new(
            catalogue,
            &[site("a.test", None), site("b.test", Some(5))],
            knobs,
        )
    }

    fn key(site: &str, path: &str) -> ObjectKey {
        ObjectKey {
            site: site.into(),
            path: path.into(),
        }
    }

    async fn read_all(body: &Body, len: u64) -> Vec<u8> {
        let mut out = Vec::new();
        while (out.len() as u64) < len {
            out.extend_from_slice(&body.read_at(out.len() as u64, 1000).await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn bodies_are_the_content_function_per_site() {
        let o = origin(OriginKnobs::default());
        let path = "/t/1/100k/0002.m4s";
        let a = o.open(&key("a.test", path)).await.unwrap();
        assert_eq!(a.status, CacheStatus::Origin);
        let bytes = read_all(&a.body, a.meta.len).await;
        assert_eq!(bytes.len() as u64, a.meta.len);
        let ka = o.content_key("a.test", path).unwrap();
        assert_eq!(ka.first_mismatch(0, &bytes), None);
        let kb = o.content_key("b.test", path).unwrap();
        assert!(kb.first_mismatch(0, &bytes).is_some(), "sites differ");
        assert_eq!(
            a.body.read_at(a.meta.len, 10).await,
            Err(BodyError::OutOfRange {
                offset: a.meta.len,
                len: a.meta.len
            })
        );
    }

    #[tokio::test]
    async fn unknown_sites_and_paths_are_not_found() {
        let o = origin(OriginKnobs::default());
        for k in [
            key("c.test", "/t/1/100k/0002.m4s"),
            key("a.test", "/t/9/100k/0002.m4s"),
        ] {
            assert!(matches!(o.open(&k).await, Err(OpenError::NotFound { .. })));
        }
    }

    #[tokio::test]
    async fn the_error_rate_fails_about_that_share_the_same_way_each_time() {
        let o = origin(OriginKnobs {
            error_rate: 0.25,
            ..OriginKnobs::default()
        });
        let failed: Vec<bool> = (0..400).map(|n| o.fails(n)).collect();
        let share = failed.iter().filter(|&&f| f).count();
        assert!((70..130).contains(&share), "{share} of 400");
        let again = origin(OriginKnobs {
            error_rate: 0.25,
            ..OriginKnobs::default()
        });
        assert!((0..400).all(|n| again.fails(n) == failed[n as usize]));
        let o = origin(OriginKnobs {
            error_rate: 1.0,
            ..OriginKnobs::default()
        });
        assert!(matches!(
            o.open(&key("a.test", "/t/0/100k/0000.m4s")).await,
            Err(OpenError::Busy(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn latency_delays_the_open_and_a_stall_stops_the_body_at_its_byte() {
        let o = origin(OriginKnobs {
            latency: Span(Duration::from_millis(40)),
            error_rate: 0.0,
            stall: Some(Stall {
                after: ByteSize(1000),
                duration: Span(Duration::from_secs(3)),
            }),
        });
        let start = tokio::time::Instant::now();
        let opened = o.open(&key("a.test", "/t/0/100k/0001.m4s")).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(40));
        let first = opened.body.read_at(900, 500).await.unwrap();
        assert_eq!(first.len(), 100, "the read stops at the stall's byte");
        assert_eq!(start.elapsed(), Duration::from_millis(40));
        let after = opened.body.read_at(1000, 10).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(3040));
        let k = o.content_key("a.test", "/t/0/100k/0001.m4s").unwrap();
        assert_eq!(k.first_mismatch(1000, &after), None);
        opened.body.read_at(1010, 10).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(3040), "stalls once");
    }
}
