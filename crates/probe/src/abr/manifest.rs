//! What a player plays: a presentation of renditions (one per bitrate),
//! each a list of segments of equal nominal duration, every segment a path
//! and optionally a byte range of it.
//!
//! Three ways to get one, all ending in the same validated
//! [`Presentation`]: the reference CDN's catalogue layout
//! ([`Presentation::catalogue`], `/t/{title}/{kbps}k/{segment:04}.m4s`),
//! an explicit list a plan writes, and a small JSON manifest
//! ([`Presentation::parse`]) a plain web server such as nginx can serve
//! beside its files. Parsing does no I/O and never panics; an error says
//! where (line and column for JSON syntax, the rendition for a
//! structural problem) and what to write instead.

use std::time::Duration;

use netproof_proto::range::ByteRange;
use serde::Deserialize;
use thiserror::Error;

/// One segment: where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRef {
    /// Path (and query) on the server, starting with `/`.
    pub path: String,
    /// The bytes of `path` that make the segment; `None` for the whole
    /// file.
    pub range: Option<ByteRange>,
}

/// One bitrate's segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// The nominal bitrate in kbit/s.
    pub kbps: u32,
    /// The segments in playback order.
    pub segments: Vec<SegmentRef>,
}

/// A title as a player sees it: renditions sorted by bitrate, all with
/// the same number of segments of `segment_duration` each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presentation {
    /// Media time per segment.
    pub segment_duration: Duration,
    /// Renditions, lowest bitrate first.
    pub renditions: Vec<Rendition>,
}

/// A presentation that cannot be played.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ManifestError {
    /// The manifest is not JSON of the expected shape.
    #[error("the manifest is not readable at line {line}, column {column}: {reason}; hint: {HINT}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's words.
        reason: String,
    },
    /// The shape is right but the content cannot be played.
    #[error("the manifest {0}; hint: {HINT}")]
    Invalid(String),
}

const HINT: &str = "a manifest is JSON: {\"segment_ms\": 2000, \"renditions\": [{\"kbps\": 500, \"template\": \"/v/500/{segment:04}.m4s\", \"count\": 30}, {\"kbps\": 1500, \"segments\": [{\"path\": \"/v/1500.mp4\", \"range\": \"0-99999\"}]}]}";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    segment_ms: u64,
    renditions: Vec<RawRendition>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRendition {
    kbps: u32,
    template: Option<String>,
    count: Option<u32>,
    segments: Option<Vec<RawSegment>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSegment {
    path: String,
    range: Option<String>,
}

impl Presentation {
    /// The reference CDN's catalogue layout for `title`: one rendition per
    /// bitrate, segments `/t/{title}/{kbps}k/{segment:04}.m4s`, whole files.
    pub fn catalogue(
        title: u32,
        bitrates_kbps: &[u32],
        segments: u32,
        segment_duration: Duration,
    ) -> Result<Presentation, ManifestError> {
        let renditions = bitrates_kbps
            .iter()
            .map(|&kbps| Rendition {
                kbps,
                segments: (0..segments)
                    .map(|n| SegmentRef {
                        path: format!("/t/{title}/{kbps}k/{n:04}.m4s"),
                        range: None,
                    })
                    .collect(),
            })
            .collect();
        Presentation::new(segment_duration, renditions)
    }

    /// Checks and sorts `renditions`.
    pub fn new(
        segment_duration: Duration,
        mut renditions: Vec<Rendition>,
    ) -> Result<Presentation, ManifestError> {
        let bad = |m: String| Err(ManifestError::Invalid(m));
        if segment_duration.is_zero() {
            return bad("gives segments no duration".into());
        }
        if renditions.is_empty() {
            return bad("has no renditions".into());
        }
        renditions.sort_by_key(|r| r.kbps);
        for pair in renditions.windows(2) {
            if pair[0].kbps == pair[1].kbps {
                return bad(format!("has two renditions of {} kbit/s", pair[0].kbps));
            }
        }
        let n = renditions[0].segments.len();
        for r in &renditions {
            if r.kbps == 0 {
                return bad("has a rendition of 0 kbit/s".into());
            }
            if r.segments.is_empty() {
                return bad(format!("gives the {} kbit/s rendition no segments", r.kbps));
            }
            if r.segments.len() != n {
                return bad(format!(
                    "gives the {} kbit/s rendition {} segments but the {} kbit/s one {n}; every rendition needs the same number",
                    r.kbps,
                    r.segments.len(),
                    renditions[0].kbps
                ));
            }
            if let Some(s) = r.segments.iter().find(|s| !s.path.starts_with('/')) {
                return bad(format!(
                    "has a segment path `{}` (at {} kbit/s) that does not start with `/`",
                    s.path, r.kbps
                ));
            }
        }
        Ok(Presentation {
            segment_duration,
            renditions,
        })
    }

    /// Parses a JSON manifest (see [`ManifestError`]'s hint for the shape).
    pub fn parse(text: &str) -> Result<Presentation, ManifestError> {
        let raw: RawManifest = serde_json::from_str(text).map_err(|e| ManifestError::Syntax {
            line: e.line(),
            column: e.column(),
            reason: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or("")
                .to_string(),
        })?;
        let mut renditions = Vec::with_capacity(raw.renditions.len());
        for r in raw.renditions {
            let segments = match (r.template, r.count, r.segments) {
                (Some(t), Some(count), None) => (0..count)
                    .map(|n| expand(&t, n).map(|path| SegmentRef { path, range: None }))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|why| {
                        ManifestError::Invalid(format!(
                            "has a template `{t}` (at {} kbit/s) that {why}",
                            r.kbps
                        ))
                    })?,
                (None, None, Some(list)) => list
                    .into_iter()
                    .map(|s| {
                        let range = s
                            .range
                            .as_deref()
                            .map(ByteRange::parse)
                            .transpose()
                            .map_err(|e| {
                                ManifestError::Invalid(format!(
                                    "has a segment of {} at {} kbit/s whose {e}",
                                    s.path, r.kbps
                                ))
                            })?;
                        Ok(SegmentRef {
                            path: s.path,
                            range,
                        })
                    })
                    .collect::<Result<Vec<_>, ManifestError>>()?,
                _ => {
                    return Err(ManifestError::Invalid(format!(
                        "describes the {} kbit/s rendition with neither `template` and `count` nor `segments` alone",
                        r.kbps
                    )));
                }
            };
            renditions.push(Rendition {
                kbps: r.kbps,
                segments,
            });
        }
        Presentation::new(Duration::from_millis(raw.segment_ms), renditions)
    }

    /// Segments per rendition.
    pub fn segments(&self) -> usize {
        self.renditions[0].segments.len()
    }

    /// The renditions' bitrates in kbit/s, lowest first.
    pub fn bitrates(&self) -> Vec<u32> {
        self.renditions.iter().map(|r| r.kbps).collect()
    }
}

/// `template` with `{segment}` (decimal) or `{segment:0N}` (N digits,
/// zero-padded) replaced by `n`.
fn expand(template: &str, n: u32) -> Result<String, &'static str> {
    let start = template
        .find("{segment")
        .ok_or("has no `{segment}` or `{segment:04}` placeholder")?;
    let end = start
        + template[start..]
            .find('}')
            .ok_or("has an unclosed placeholder")?;
    let spec = &template[start + "{segment".len()..end];
    let num = match spec {
        "" => n.to_string(),
        s => {
            let width = s
                .strip_prefix(":0")
                .and_then(|w| w.parse::<usize>().ok())
                .filter(|w| (1..=9).contains(w))
                .ok_or("has a placeholder other than `{segment}` or `{segment:0N}` (N 1 to 9)")?;
            format!("{n:0width$}")
        }
    };
    Ok(format!(
        "{}{num}{}",
        &template[..start],
        &template[end + 1..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_layout_matches_the_cdn_paths() {
        let p = Presentation::catalogue(7, &[1500, 500], 3, Duration::from_secs(2)).unwrap();
        assert_eq!(p.bitrates(), vec![500, 1500]);
        assert_eq!(p.renditions[1].segments[2].path, "/t/7/1500k/0002.m4s");
        assert_eq!(p.segments(), 3);
    }

    #[test]
    fn a_manifest_with_a_template_and_a_ranged_list() {
        let p = Presentation::parse(
            r#"{"segment_ms": 4000, "renditions": [
                {"kbps": 1500, "segments": [{"path": "/v/1500.mp4", "range": "0-99"}, {"path": "/v/1500.mp4", "range": "100-199"}]},
                {"kbps": 500, "template": "/v/500/{segment:04}.m4s?x=1", "count": 2}
            ]}"#,
        )
        .unwrap();
        assert_eq!(p.segment_duration, Duration::from_secs(4));
        assert_eq!(p.renditions[0].segments[1].path, "/v/500/0001.m4s?x=1");
        assert_eq!(
            p.renditions[1].segments[1].range,
            Some(ByteRange {
                first: 100,
                last: Some(199)
            })
        );
    }

    #[test]
    fn a_manifest_that_cannot_be_played_says_where_and_why() {
        let e = Presentation::parse("{\"segment_ms\": 2000,\n \"renditions\": [}").unwrap_err();
        assert!(matches!(e, ManifestError::Syntax { line: 2, .. }), "{e}");
        assert!(e.to_string().contains("hint:"), "{e}");
        let e = Presentation::parse(r#"{"segment_ms": 2000, "renditions": [{"kbps": 5, "template": "/a/{n}", "count": 2}]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("placeholder"), "{e}");
        let e = Presentation::parse(
            r#"{"segment_ms": 2000, "renditions": [{"kbps": 5, "template": "/{segment}", "count": 2}, {"kbps": 9, "template": "/{segment}", "count": 3}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("same number"), "{e}");
        let e = Presentation::parse(r#"{"segment_ms": 2000, "renditions": [], "extra": 1}"#)
            .unwrap_err();
        assert!(e.to_string().contains("unknown field `extra`"), "{e}");
        let e = Presentation::parse(r#"{"segment_ms": 2000, "renditions": [{"kbps": 5, "segments": [{"path": "/a", "range": "9-3"}]}]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("ends before it starts"), "{e}");
    }
}
