//! The admin endpoint's wire format for proactive fill, sans-IO: a JSON
//! manifest in (`POST /prefill`), validated into a [`Manifest`] and a
//! [`Pace`]; a run's report out (`GET /prefill`) as JSON.
//!
//! ```json
//! { "rate": "50Mbit", "window": "10m", "burst": "1MiB",
//!   "sites": [
//!     { "site": "video.cdn.test", "paths": ["/t/7/1500k/0003.m4s"] },
//!     { "site": "video.cdn.test", "titles": [1, 2],
//!       "bitrates_kbps": [500, 1500], "segments": 30 } ] }
//! ```
//!
//! `rate` is bytes per second as a number, or a string with a unit
//! (`50Mbit`, `2.5Gbps`, `6MB/s`, `4MiB/s`); `window` a duration (`90s`,
//! `10m`); `burst` (optional, default a tenth of a second at the rate, at
//! least 64 KiB) a size. Titles expand with the catalogue's path scheme
//! (`/t/{title}/{kbps}k/{segment}.m4s`, segments `0..segments`), so no
//! catalogue config is needed here. Every problem is reported at once, at
//! its key path (`sites[1].paths[0]`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use netproof_proto::cdn::{ByteSize, Span};
use serde::Deserialize;
use serde_json::{Value, json};

use super::prefill::{ItemResult, Manifest, Pace, PrefillReport, SitePaths};
use crate::catalogue::File;

/// Objects one manifest may name: enough for a night's fill of a large
/// catalogue, few enough that a typo (`segments: 3000000`) is refused
/// rather than held in memory.
pub const MAX_OBJECTS: usize = 200_000;

/// The least burst a default gives: one fill read or two.
const MIN_BURST: u64 = 64 * 1024;

/// A manifest that cannot be used: every problem, each at its key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// `(key path, what is wrong)`, in document order.
    pub problems: Vec<(String, String)>,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the prefill manifest cannot be used:")?;
        for (at, why) in &self.problems {
            writeln!(f, "  `{at}`: {why}")?;
        }
        write!(
            f,
            "hint: send {{\"rate\": \"50Mbit\", \"window\": \"10m\", \"sites\": [{{\"site\": NAME, \"paths\": [\"/t/1/500k/0000.m4s\"]}}]}}"
        )
    }
}

impl std::error::Error for ManifestError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    rate: Option<Value>,
    window: Option<String>,
    burst: Option<Value>,
    sites: Option<Vec<RawSite>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    site: Option<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    titles: Vec<u32>,
    #[serde(default)]
    bitrates_kbps: Vec<u32>,
    segments: Option<u32>,
}

/// Parses and validates a manifest for an edge whose sites are `known`.
pub fn parse(body: &[u8], known: &[Arc<str>]) -> Result<(Manifest, Pace), ManifestError> {
    let raw: Raw = serde_json::from_slice(body).map_err(|e| ManifestError {
        problems: vec![(
            format!("line {} column {}", e.line(), e.column()),
            format!("not a manifest: {e}"),
        )],
    })?;
    let mut problems = Vec::new();
    let mut bad = |at: &str, why: String| problems.push((at.to_string(), why));
    let rate = match &raw.rate {
        None => {
            bad(
                "rate",
                "missing; the fill-rate cap, e.g. `\"50Mbit\"`".into(),
            );
            None
        }
        Some(v) => match parse_rate(v) {
            Ok(r) => Some(r),
            Err(why) => {
                bad("rate", why);
                None
            }
        },
    };
    let window = match raw.window.as_deref().map(Span::parse) {
        None => {
            bad(
                "window",
                "missing; how long the fill may run, e.g. `\"10m\"`".into(),
            );
            None
        }
        Some(Err(why)) => {
            bad("window", why);
            None
        }
        Some(Ok(Span(d))) if d.is_zero() => {
            bad(
                "window",
                "a zero window fills nothing; give a duration above zero".into(),
            );
            None
        }
        Some(Ok(Span(d))) => Some(d),
    };
    let burst = match &raw.burst {
        None => None,
        Some(v) => match serde_json::from_value::<ByteSize>(v.clone()) {
            Ok(b) => Some(b.0),
            Err(e) => {
                bad("burst", e.to_string());
                None
            }
        },
    };
    let mut sites = Vec::new();
    let mut count = 0usize;
    match &raw.sites {
        None => bad(
            "sites",
            "missing; a list of `{ site, paths }` or `{ site, titles, bitrates_kbps, segments }`"
                .into(),
        ),
        Some(list) if list.is_empty() => bad("sites", "empty: nothing to fill".into()),
        Some(list) => {
            for (i, s) in list.iter().enumerate() {
                let at = |key: &str| format!("sites[{i}].{key}");
                let name = match &s.site {
                    None => {
                        bad(&at("site"), "missing; the configured site name".into());
                        continue;
                    }
                    Some(n) if !known.iter().any(|k| **k == **n) => {
                        let names: Vec<&str> = known.iter().map(|k| &**k).collect();
                        bad(
                            &at("site"),
                            format!("no site `{n}` on this edge (it has: {})", names.join(", ")),
                        );
                        continue;
                    }
                    Some(n) => n.clone(),
                };
                let mut paths = Vec::new();
                for (j, p) in s.paths.iter().enumerate() {
                    match check_path(p) {
                        Ok(()) => paths.push(p.clone()),
                        Err(why) => bad(&format!("sites[{i}].paths[{j}]"), why),
                    }
                }
                let titled =
                    !s.titles.is_empty() || !s.bitrates_kbps.is_empty() || s.segments.is_some();
                if titled {
                    let segments = s.segments.unwrap_or(0);
                    if s.titles.is_empty() {
                        bad(
                            &at("titles"),
                            "missing or empty beside `bitrates_kbps`/`segments`".into(),
                        );
                    }
                    if s.bitrates_kbps.is_empty() {
                        bad(
                            &at("bitrates_kbps"),
                            "missing or empty: titles expand to one file per bitrate and segment"
                                .into(),
                        );
                    }
                    if segments == 0 {
                        bad(
                            &at("segments"),
                            "missing or zero: titles expand to segments `0..segments`".into(),
                        );
                    }
                    let n =
                        s.titles.len() as u64 * s.bitrates_kbps.len() as u64 * u64::from(segments);
                    if count as u64 + paths.len() as u64 + n > MAX_OBJECTS as u64 {
                        bad(
                            &at("titles"),
                            format!(
                                "expands to {n} objects; a manifest may name at most {MAX_OBJECTS}"
                            ),
                        );
                    } else {
                        for &title in &s.titles {
                            for &kbps in &s.bitrates_kbps {
                                for segment in 0..segments {
                                    paths.push(
                                        File {
                                            title,
                                            kbps,
                                            segment,
                                        }
                                        .path(),
                                    );
                                }
                            }
                        }
                    }
                } else if s.paths.is_empty() {
                    bad(
                        &at("paths"),
                        "no `paths` and no `titles`: nothing to fill".into(),
                    );
                }
                count += paths.len();
                if count > MAX_OBJECTS {
                    bad(
                        &at("paths"),
                        format!("more than {MAX_OBJECTS} objects in the manifest"),
                    );
                    break;
                }
                sites.push(SitePaths { site: name, paths });
            }
        }
    }
    match (rate, window) {
        (Some(rate), Some(window)) if problems.is_empty() => Ok((
            Manifest { sites },
            Pace {
                rate,
                burst: burst.unwrap_or((rate / 10).max(MIN_BURST)),
                window,
            },
        )),
        _ => Err(ManifestError { problems }),
    }
}

/// A request path a fill may ask for: absolute, no query, no spaces or
/// control characters (a source would refuse them, or read another path).
fn check_path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!("`{p}` is not a path; start it with `/`"));
    }
    if let Some(c) = p
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || *c == '?' || *c == '#')
    {
        return Err(format!(
            "`{}` has {c:?}, which a path may not",
            p.escape_debug()
        ));
    }
    Ok(())
}

/// A fill-rate cap in bytes per second: a number of bytes per second, or
/// a string with a bit or byte rate unit.
pub fn parse_rate(v: &Value) -> Result<u64, String> {
    let bad = || {
        format!(
            "`{v}` is not a rate; write bytes per second as a number, or e.g. `\"50Mbit\"`, `\"2.5Gbps\"`, `\"6MB/s\"`, `\"4MiB/s\"`"
        )
    };
    let bytes = match v {
        Value::Number(n) => n.as_f64().ok_or_else(bad)?,
        Value::String(s) => {
            let t = s.trim();
            let split = t
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(t.len());
            let (num, unit) = t.split_at(split);
            let n: f64 = num.parse().map_err(|_| bad())?;
            let unit = unit.trim();
            let unit = unit
                .strip_suffix("/s")
                .or_else(|| unit.strip_suffix("ps"))
                .unwrap_or(unit);
            let per: f64 = match unit {
                "" | "B" => 1.0,
                "bit" | "b" => 1.0 / 8.0,
                "kbit" | "Kbit" | "kb" | "Kb" => 1e3 / 8.0,
                "Mbit" | "Mb" => 1e6 / 8.0,
                "Gbit" | "Gb" => 1e9 / 8.0,
                "kB" | "KB" => 1e3,
                "MB" => 1e6,
                "GB" => 1e9,
                "KiB" => 1024.0,
                "MiB" => 1024.0 * 1024.0,
                "GiB" => 1024.0 * 1024.0 * 1024.0,
                _ => return Err(bad()),
            };
            n * per
        }
        _ => return Err(bad()),
    };
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(format!(
            "`{v}` is below one byte per second; give a cap above zero"
        ));
    }
    if bytes > u64::MAX as f64 / 2.0 {
        return Err(format!("`{v}` is too large"));
    }
    Ok(bytes as u64)
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What `GET /prefill` says about a run still going.
pub fn running_json(started: SystemTime, objects: usize, pace: Pace, elapsed: Duration) -> Value {
    json!({
        "state": "running",
        "started": unix(started),
        "objects": objects,
        "cap_bytes_per_second": pace.rate,
        "window_seconds": pace.window.as_secs_f64(),
        "elapsed_seconds": elapsed.as_secs_f64(),
    })
}

/// What `GET /prefill` says about a finished run: totals, bytes by
/// source, the achieved rate beside the cap, and each object's outcome.
pub fn report_json(started: SystemTime, pace: Pace, r: &PrefillReport) -> Value {
    let items: Vec<Value> = r
        .items
        .iter()
        .map(|i| {
            let mut v = json!({
                "site": &*i.key.site,
                "path": &*i.key.path,
                "seconds": i.elapsed.as_secs_f64(),
            });
            let (result, source, bytes, error) = match &i.result {
                ItemResult::Filled { source, bytes } => {
                    ("filled", Some(source), Some(*bytes), None)
                }
                ItemResult::Joined { source, bytes } => {
                    ("joined", Some(source), Some(*bytes), None)
                }
                ItemResult::Present => ("present", None, None, None),
                ItemResult::NotFound => ("not_found", None, None, None),
                ItemResult::Failed(why) => ("failed", None, None, Some(why)),
                ItemResult::Unfinished { bytes } => ("unfinished", None, Some(*bytes), None),
                ItemResult::NotStarted => ("not_started", None, None, None),
            };
            v["result"] = json!(result);
            if let Some(s) = source {
                v["source"] = json!(&**s);
            }
            if let Some(b) = bytes {
                v["bytes"] = json!(b);
            }
            if let Some(e) = error {
                v["error"] = json!(e);
            }
            v
        })
        .collect();
    let mut outcomes = serde_json::Map::new();
    for i in &items {
        let k = i["result"].as_str().unwrap_or_default().to_string();
        let n = outcomes.get(&k).and_then(Value::as_u64).unwrap_or(0);
        outcomes.insert(k, json!(n + 1));
    }
    let by_source: serde_json::Map<String, Value> = r
        .by_source()
        .into_iter()
        .map(|(s, b)| (s.to_string(), json!(b)))
        .collect();
    json!({
        "state": "done",
        "started": unix(started),
        "objects": r.items.len(),
        "outcomes": outcomes,
        "bytes": r.bytes,
        "by_source": by_source,
        "elapsed_seconds": r.elapsed.as_secs_f64(),
        "rate_bytes_per_second": r.rate,
        "cap_bytes_per_second": r.cap,
        "burst_bytes": pace.burst,
        "window_seconds": pace.window.as_secs_f64(),
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fill::prefill::ItemReport;
    use crate::object::ObjectKey;

    fn known() -> Vec<Arc<str>> {
        vec!["a.test".into(), "b.test".into()]
    }

    fn problems(body: &str) -> Vec<(String, String)> {
        parse(body.as_bytes(), &known()).unwrap_err().problems
    }

    #[test]
    fn paths_and_titles_expand_in_order_with_the_catalogue_scheme() {
        let (m, pace) = parse(
            br#"{"rate": "8Mbit", "window": "90s", "sites": [
                {"site": "a.test", "paths": ["/x/1"]},
                {"site": "b.test", "titles": [3, 4], "bitrates_kbps": [800], "segments": 2}]}"#,
            &known(),
        )
        .unwrap();
        let keys: Vec<String> = m
            .keys()
            .iter()
            .map(|k| format!("{}{}", k.site, k.path))
            .collect();
        assert_eq!(
            keys,
            [
                "a.test/x/1",
                "b.test/t/3/800k/0000.m4s",
                "b.test/t/3/800k/0001.m4s",
                "b.test/t/4/800k/0000.m4s",
                "b.test/t/4/800k/0001.m4s"
            ]
        );
        assert_eq!(
            pace,
            Pace {
                rate: 1_000_000,
                burst: 100_000,
                window: Duration::from_secs(90)
            }
        );
    }

    #[test]
    fn rates_read_bits_bytes_and_bare_numbers() {
        let r = |v: Value| parse_rate(&v);
        assert_eq!(r(json!("50Mbit")), Ok(6_250_000));
        assert_eq!(r(json!("50Mbit/s")), Ok(6_250_000));
        assert_eq!(r(json!("2.5Gbps")), Ok(312_500_000));
        assert_eq!(r(json!("6MB/s")), Ok(6_000_000));
        assert_eq!(r(json!("4MiB/s")), Ok(4 << 20));
        assert_eq!(r(json!(12345)), Ok(12345));
        assert_eq!(r(json!("12345")), Ok(12345));
        for wrong in [
            json!("fast"),
            json!("5 furlongs"),
            json!(0),
            json!("0.1bit"),
            json!(-3),
            json!(true),
            json!("1e999"),
        ] {
            assert!(r(wrong.clone()).is_err(), "{wrong} was taken");
        }
    }

    #[test]
    fn every_problem_is_reported_at_its_key_path() {
        let p = problems(
            r#"{"rate": "lots", "window": "0s", "burst": "huge", "sites": [
                {"site": "nope.test", "paths": ["/a"]},
                {"site": "a.test", "paths": ["relative", "/ok", "/sp ace"]},
                {"site": "a.test", "titles": [1]},
                {"site": "b.test"}]}"#,
        );
        let at: Vec<&str> = p.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(
            at,
            [
                "rate",
                "window",
                "burst",
                "sites[0].site",
                "sites[1].paths[0]",
                "sites[1].paths[2]",
                "sites[2].bitrates_kbps",
                "sites[2].segments",
                "sites[3].paths"
            ],
            "{p:?}"
        );
        assert!(p[3].1.contains("a.test, b.test"), "{}", p[3].1);
        let text = ManifestError { problems: p }.to_string();
        assert!(
            text.contains("`sites[1].paths[0]`: `relative` is not a path"),
            "{text}"
        );
        assert!(text.contains("hint:"), "{text}");
    }

    #[test]
    fn missing_keys_unknown_keys_and_bad_json_are_refused() {
        let at: Vec<String> = problems("{}").into_iter().map(|(a, _)| a).collect();
        assert_eq!(at, ["rate", "window", "sites"]);
        let p = problems(r#"{"rate": 1, "window": "1s", "sites": [], "speed": 3}"#);
        assert!(p[0].1.contains("unknown field `speed`"), "{p:?}");
        let p = problems("{\"rate\": ");
        assert!(p[0].0.starts_with("line 1 column"), "{p:?}");
        assert_eq!(
            problems(r#"{"rate": 1, "window": "1s", "sites": []}"#)[0].0,
            "sites"
        );
    }

    #[test]
    fn a_manifest_expanding_past_the_limit_is_refused_before_it_is_built() {
        let p = problems(
            r#"{"rate": 1, "window": "1s", "sites": [
                {"site": "a.test", "titles": [1, 2, 3, 4], "bitrates_kbps": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "segments": 4000000000}]}"#,
        );
        assert_eq!(p[0].0, "sites[0].titles");
        assert!(p[0].1.contains("at most"), "{p:?}");
    }

    #[test]
    fn the_report_names_each_outcome_source_and_the_rate_beside_the_cap() {
        let key = |p: &str| ObjectKey {
            site: "a.test".into(),
            path: p.into(),
        };
        let item = |p: &str, result| ItemReport {
            key: key(p),
            result,
            elapsed: Duration::from_millis(500),
        };
        let r = PrefillReport {
            items: vec![
                item(
                    "/1",
                    ItemResult::Filled {
                        source: "origin".into(),
                        bytes: 100,
                    },
                ),
                item("/2", ItemResult::Present),
                item("/3", ItemResult::Failed("every source failed".into())),
            ],
            bytes: 100,
            elapsed: Duration::from_secs(2),
            rate: 50.0,
            cap: 60,
        };
        let pace = Pace {
            rate: 60,
            burst: 10,
            window: Duration::from_secs(5),
        };
        let v = report_json(SystemTime::UNIX_EPOCH, pace, &r);
        assert_eq!(v["state"], "done");
        assert_eq!(v["by_source"]["origin"], 100);
        assert_eq!(v["rate_bytes_per_second"], 50.0);
        assert_eq!(v["cap_bytes_per_second"], 60);
        assert_eq!(v["outcomes"]["filled"], 1);
        assert_eq!(v["items"][0]["source"], "origin");
        assert_eq!(v["items"][1]["result"], "present");
        assert_eq!(v["items"][2]["error"], "every source failed");
    }
}
