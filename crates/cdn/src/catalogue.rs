//! The origin's synthetic catalogue: which paths exist, how long each file
//! is, its ETag and Last-Modified, all pure functions of the catalogue's
//! configuration, so an origin restarted (or a second origin) serves the
//! same files and any client can compute what it should have received.
//!
//! Paths are `/t/{title}/{kbps}k/{segment}.m4s`, e.g. `/t/7/1500k/0003.m4s`:
//! title and bitrate in decimal without leading zeros, the segment number
//! in at least four digits. Exactly one spelling of each path exists
//! (`/t/07/...` is not found), so a cache never holds one file twice. The
//! file's [`ContentKey`] name is the path after the title, `1500k/0003.m4s`.
//!
//! A segment's length is its nominal size (bitrate × duration / 8) varied
//! by ±1/8 with a hash of the file, as real encoders' segments vary, so file
//! ends fall at every offset modulo 8 and range tests meet them.

use std::time::{Duration, SystemTime};

use netproof_proto::cdn::Catalogue as CatalogueConfig;
use netproof_proto::content::ContentKey;
use netproof_proto::seed;

use crate::object::ObjectMeta;

/// 2024-01-01T00:00:00Z: every title's Last-Modified is this plus one hour
/// per title number, stable across runs.
const PUBLISHED: u64 = 1_704_067_200;

/// One file of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Its title.
    pub title: u32,
    /// Its bitrate in kbit/s.
    pub kbps: u32,
    /// Its segment number.
    pub segment: u32,
}

impl File {
    /// Its [`ContentKey`] file name, `1500k/0003.m4s`.
    pub fn name(&self) -> String {
        format!("{}k/{:04}.m4s", self.kbps, self.segment)
    }

    /// Its path on a site, `/t/7/1500k/0003.m4s`.
    pub fn path(&self) -> String {
        format!("/t/{}/{}", self.title, self.name())
    }
}

/// A catalogue: its shape and the seed of its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    config: CatalogueConfig,
}

impl Catalogue {
    /// The catalogue a validated config describes.
    pub fn new(config: CatalogueConfig) -> Catalogue {
        Catalogue { config }
    }

    /// Its configuration.
    pub fn config(&self) -> &CatalogueConfig {
        &self.config
    }

    /// The file at `path`, if the catalogue has it.
    pub fn file(&self, path: &str) -> Option<File> {
        let rest = path.strip_prefix("/t/")?;
        let (title, rest) = rest.split_once('/')?;
        let (kbps, rest) = rest.split_once("k/")?;
        let segment = rest.strip_suffix(".m4s")?;
        let num = |s: &str| -> Option<u32> {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let file = File {
            title: num(title)?,
            kbps: num(kbps)?,
            segment: num(segment)?,
        };
        let c = &self.config;
        let exists = file.title < c.titles
            && file.segment < c.segments
            && c.bitrates_kbps.contains(&file.kbps);
        // One spelling per file: `/t/07/...` or `0003` as `3` is not found.
        (exists && file.path() == path).then_some(file)
    }

    /// Every file of title `title`, by bitrate then segment.
    pub fn files(&self, title: u32) -> impl Iterator<Item = File> + '_ {
        self.config.bitrates_kbps.iter().flat_map(move |&kbps| {
            (0..self.config.segments).map(move |segment| File {
                title,
                kbps,
                segment,
            })
        })
    }

    /// The key of `file`'s bytes under `seed` (the site's, or the
    /// catalogue's).
    pub fn key(&self, seed: u64, file: &File) -> ContentKey {
        ContentKey::new(seed, file.title, &file.name())
    }

    /// `file`'s metadata under `seed`.
    pub fn meta(&self, seed: u64, file: &File) -> ObjectMeta {
        let nominal = u64::from(file.kbps) * u64::from(self.config.segment_ms) / 8;
        let h = seed::derive_named(seed, &file.name(), u64::from(file.title));
        let spread = nominal / 4 + 1;
        let len = (nominal - nominal / 8 + h % spread).max(1);
        ObjectMeta {
            len,
            etag: format!(
                "\"t{}-{}k-{}-{:08x}\"",
                file.title, file.kbps, file.segment, h as u32
            ),
            last_modified: SystemTime::UNIX_EPOCH
                + Duration::from_secs(PUBLISHED + 3600 * u64::from(file.title)),
            content_type: "video/iso.segment".into(),
        }
    }

    /// Title popularity by Zipf's law with the configured exponent:
    /// the share of requests for the title at `rank` (1 is the most
    /// popular, title 0), over all titles.
    pub fn popularity(&self, rank: u32) -> f64 {
        let s = self.config.zipf;
        let weight = |r: u32| 1.0 / f64::from(r).powf(s);
        let total: f64 = (1..=self.config.titles).map(weight).sum();
        if rank == 0 || rank > self.config.titles {
            return 0.0;
        }
        weight(rank) / total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue::new(CatalogueConfig {
            seed: 42,
            titles: 10,
            bitrates_kbps: vec![500, 1500],
            segments: 20,
            segment_ms: 2000,
            zipf: 1.0,
        })
    }

    #[test]
    fn paths_round_trip_and_have_one_spelling() {
        let c = catalogue();
        let f = c.file("/t/7/1500k/0003.m4s").expect("exists");
        assert_eq!(
            f,
            File {
                title: 7,
                kbps: 1500,
                segment: 3
            }
        );
        assert_eq!(f.path(), "/t/7/1500k/0003.m4s");
        for alias in [
            "/t/07/1500k/0003.m4s",
            "/t/7/1500k/3.m4s",
            "/t/7/1500k/00003.m4s",
            "/t/7/1500k/0003.m4s/",
            "/t/+7/1500k/0003.m4s",
        ] {
            assert_eq!(c.file(alias), None, "{alias}");
        }
    }

    #[test]
    fn files_outside_the_catalogue_are_not_found() {
        let c = catalogue();
        assert!(c.file("/t/10/500k/0000.m4s").is_none());
        assert!(c.file("/t/0/1000k/0000.m4s").is_none());
        assert!(c.file("/t/0/500k/0020.m4s").is_none());
        assert!(c.file("/").is_none());
        assert!(c.file("/t/0/500k/0019.m4s").is_some());
        assert_eq!(c.files(3).count(), 40);
        assert!(c.files(3).all(|f| c.file(&f.path()) == Some(f)));
    }

    #[test]
    fn metadata_is_stable_and_lengths_vary_around_the_nominal() {
        let c = catalogue();
        let f = c.file("/t/1/500k/0002.m4s").unwrap();
        assert_eq!(c.meta(42, &f), c.meta(42, &f));
        assert_ne!(c.meta(42, &f).etag, c.meta(43, &f).etag);
        let lens: Vec<u64> = c.files(1).map(|f| c.meta(42, &f).len).collect();
        for (f, &len) in c.files(1).zip(&lens) {
            let nominal = u64::from(f.kbps) * 2000 / 8;
            assert!(
                len >= nominal * 7 / 8 && len <= nominal * 9 / 8 + 1,
                "{f:?}: {len}"
            );
        }
        let residues: std::collections::HashSet<u64> = lens.iter().map(|l| l % 8).collect();
        assert!(residues.len() > 4, "file ends spread over offsets mod 8");
    }

    #[test]
    fn popularity_is_zipf_and_sums_to_one() {
        let c = catalogue();
        let total: f64 = (1..=10).map(|r| c.popularity(r)).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!((c.popularity(1) / c.popularity(2) - 2.0).abs() < 1e-9);
        assert_eq!(c.popularity(0), 0.0);
        assert_eq!(c.popularity(11), 0.0);
    }
}
