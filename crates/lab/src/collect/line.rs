//! The sample line format services write on `NETPROOF_SAMPLES_FD`.
//!
//! One JSON object per line, close to [`netproof_sample::Sample`]:
//!
//! ```json
//! {"metric": "svc.edge.cache_hits", "value": 12, "unit": "count",
//!  "labels": {"site": "video.example"}, "time": 1764950400.25, "ok": true}
//! ```
//!
//! - `metric` (required): a name under `svc.` (see
//!   [`netproof_sample::metric::check_service_metric`]), or a catalogued
//!   metric in its canonical unit. `service.*` is netproof's own (the
//!   resource collector's) and refused.
//! - `value` (required): a number, a string, a list of strings (a set), or
//!   `null` (a failed attempt that measured nothing).
//! - `unit` (required): `s`, `B`, `bit/s`, `ratio`, `count` or `text`
//!   ([`Unit::as_str`]); a number needs a numeric unit, a string or a list
//!   `text`.
//! - `labels` (optional): string values only; `service` and `node` are set
//!   by netproof and may not be written.
//! - `time` (optional): Unix seconds as a number; else when netproof read
//!   the line.
//! - `ok` (optional): whether the attempt succeeded; `true` unless the
//!   value is `null`.
//!
//! Unknown keys are errors, so a misspelt key is seen rather than ignored.
//! This module is the codec only: bytes in, a [`Sample`] or a [`LineError`]
//! out, no I/O and no panics on any input.

use std::collections::BTreeMap;

use netproof_sample::metric;
use netproof_sample::{Sample, Timestamp, Unit, Value};
use serde::Deserialize;

/// The longest line read, in bytes; a longer one is malformed.
pub(crate) const LINE_LIMIT: usize = 64 * 1024;

/// Why a line is not a sample.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum LineError {
    /// Longer than [`LINE_LIMIT`].
    #[error("the line is longer than {LINE_LIMIT} bytes")]
    TooLong,
    /// Not UTF-8.
    #[error("the line is not UTF-8")]
    NotUtf8,
    /// Not a JSON object of the expected keys.
    #[error("not a sample object: {0}")]
    Json(String),
    /// The metric is neither catalogued nor a service's own.
    #[error("metric `{name}` {why}; a service's own metrics are named `svc.NAME`")]
    Metric {
        /// The name as written.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The metric is netproof's own.
    #[error("metric `{0}` is recorded by netproof itself, not by services")]
    Reserved(String),
    /// The unit is not one of the canonical units.
    #[error("unknown unit `{0}`; write one of s, B, bit/s, ratio, count, text")]
    Unit(String),
    /// A catalogued metric in another unit.
    #[error("metric `{metric}` is in `{canonical}`, not `{unit}`")]
    UnitMismatch {
        /// The metric.
        metric: String,
        /// The unit written.
        unit: &'static str,
        /// The catalogue's unit.
        canonical: &'static str,
    },
    /// The value's type does not fit the unit, or is no value at all.
    #[error("{0}")]
    Value(String),
    /// A label netproof sets.
    #[error("label `{0}` is set by netproof")]
    ReservedLabel(String),
    /// A time that is not a plausible Unix time.
    #[error("time `{0}` is not Unix seconds between 0 and 1e10")]
    Time(f64),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    metric: String,
    value: serde_json::Value,
    unit: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    time: Option<f64>,
    #[serde(default)]
    ok: Option<bool>,
}

/// Parses one line (without its newline) written by service `service` on
/// node `node`; `now` stamps a sample that carries no `time`.
pub(crate) fn parse(
    line: &[u8],
    service: &str,
    node: &str,
    now: Timestamp,
) -> Result<Sample, LineError> {
    if line.len() > LINE_LIMIT {
        return Err(LineError::TooLong);
    }
    let text = std::str::from_utf8(line).map_err(|_| LineError::NotUtf8)?;
    let raw: Raw = serde_json::from_str(text).map_err(|e| LineError::Json(e.to_string()))?;

    let unit = Unit::from_name(&raw.unit).ok_or_else(|| LineError::Unit(raw.unit.clone()))?;
    match metric::lookup(&raw.metric) {
        Some(m) if m.name.starts_with("service.") => {
            return Err(LineError::Reserved(raw.metric));
        }
        Some(m) if m.unit != unit => {
            return Err(LineError::UnitMismatch {
                metric: raw.metric,
                unit: unit.as_str(),
                canonical: m.unit.as_str(),
            });
        }
        Some(_) => {}
        None => metric::check_service_metric(&raw.metric).map_err(|why| LineError::Metric {
            name: raw.metric.clone(),
            why,
        })?,
    }

    let value = match raw.value {
        serde_json::Value::Null => Value::None,
        serde_json::Value::Number(n) if unit != Unit::Text => match n.as_f64() {
            Some(v) if v.is_finite() => Value::Num(v),
            _ => {
                return Err(LineError::Value(format!(
                    "value `{n}` is not a finite number"
                )));
            }
        },
        serde_json::Value::String(s) if unit == Unit::Text => Value::Text(s),
        serde_json::Value::Array(items) if unit == Unit::Text => {
            let mut set = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    serde_json::Value::String(s) => set.push(s),
                    other => {
                        return Err(LineError::Value(format!(
                            "a set holds strings only, not `{other}`"
                        )));
                    }
                }
            }
            Value::set(set)
        }
        serde_json::Value::Number(_) => {
            return Err(LineError::Value(
                "a number needs a numeric unit, not `text`".into(),
            ));
        }
        serde_json::Value::String(_) | serde_json::Value::Array(_) => {
            return Err(LineError::Value(format!(
                "a string or a list needs unit `text`, not `{}`",
                unit.as_str()
            )));
        }
        other => {
            return Err(LineError::Value(format!(
                "value `{other}` is not a number, a string, a list of strings or null"
            )));
        }
    };

    for reserved in ["service", "node"] {
        if raw.labels.contains_key(reserved) {
            return Err(LineError::ReservedLabel(reserved.into()));
        }
    }
    let time = match raw.time {
        None => now,
        Some(t) if t.is_finite() && (0.0..=1e10).contains(&t) => {
            // Whole seconds and the fraction apart: `t * 1e9` alone would
            // round away the nanoseconds a float of this size still holds.
            let whole = t.trunc();
            Timestamp(whole as i64 * 1_000_000_000 + ((t - whole) * 1e9).round() as i64)
        }
        Some(t) => return Err(LineError::Time(t)),
    };
    let ok = raw.ok.unwrap_or(!matches!(value, Value::None));
    let mut labels = raw.labels;
    labels.insert("service".into(), service.into());
    labels.insert("node".into(), node.into());
    Ok(Sample {
        time,
        metric: raw.metric,
        value,
        unit,
        ok,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_000_000_000);

    fn ok(line: &str) -> Sample {
        parse(line.as_bytes(), "edge", "n1", NOW).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn err(line: &str) -> LineError {
        parse(line.as_bytes(), "edge", "n1", NOW).expect_err(line)
    }

    #[test]
    fn a_number_with_labels_and_time() {
        let s = ok(
            r#"{"metric":"svc.hits","value":12,"unit":"count","labels":{"site":"v"},"time":1764950400.25}"#,
        );
        assert_eq!(s.metric, "svc.hits");
        assert_eq!(s.value, Value::Num(12.0));
        assert_eq!(s.unit, Unit::Count);
        assert!(s.ok);
        assert_eq!(s.time, Timestamp(1_764_950_400_250_000_000));
        assert_eq!(s.labels["site"], "v");
        assert_eq!(s.labels["service"], "edge");
        assert_eq!(s.labels["node"], "n1");
    }

    #[test]
    fn text_sets_and_failures() {
        let s = ok(r#"{"metric":"svc.answer","value":["b","a","a"],"unit":"text"}"#);
        assert_eq!(s.value, Value::Set(vec!["a".into(), "b".into()]));
        assert_eq!(s.time, NOW);
        let s = ok(r#"{"metric":"svc.state","value":"draining","unit":"text"}"#);
        assert_eq!(s.value, Value::Text("draining".into()));
        let s = ok(r#"{"metric":"svc.fill","value":null,"unit":"s"}"#);
        assert_eq!(s.value, Value::None);
        assert!(!s.ok);
        let s = ok(r#"{"metric":"svc.fill","value":0.2,"unit":"s","ok":false}"#);
        assert!(!s.ok);
    }

    #[test]
    fn catalogued_metrics_keep_their_unit() {
        let s = ok(r#"{"metric":"http.status","value":200,"unit":"count"}"#);
        assert_eq!(s.metric, "http.status");
        assert_eq!(
            err(r#"{"metric":"http.ttfb","value":3,"unit":"ms"}"#),
            LineError::Unit("ms".into())
        );
        assert!(matches!(
            err(r#"{"metric":"http.ttfb","value":3,"unit":"B"}"#),
            LineError::UnitMismatch { canonical: "s", .. }
        ));
        assert_eq!(
            err(r#"{"metric":"service.rss","value":3,"unit":"B"}"#),
            LineError::Reserved("service.rss".into())
        );
    }

    #[test]
    fn malformed_lines_say_why() {
        assert!(matches!(err("not json"), LineError::Json(_)));
        assert!(matches!(
            err(r#"{"metric":"svc.a","value":1,"unit":"count","colour":"red"}"#),
            LineError::Json(m) if m.contains("colour")
        ));
        assert!(matches!(
            err(r#"{"metric":"hits","value":1,"unit":"count"}"#),
            LineError::Metric { .. }
        ));
        assert!(matches!(
            err(r#"{"metric":"svc.a","value":"x","unit":"count"}"#),
            LineError::Value(_)
        ));
        assert!(matches!(
            err(r#"{"metric":"svc.a","value":1,"unit":"text"}"#),
            LineError::Value(_)
        ));
        assert!(matches!(
            err(r#"{"metric":"svc.a","value":[1],"unit":"text"}"#),
            LineError::Value(_)
        ));
        assert!(matches!(
            err(r#"{"metric":"svc.a","value":{},"unit":"count"}"#),
            LineError::Value(_)
        ));
        assert!(matches!(
            err(r#"{"metric":"svc.a","value":1,"unit":"count","labels":{"n":1}}"#),
            LineError::Json(_)
        ));
        assert_eq!(
            err(r#"{"metric":"svc.a","value":1,"unit":"count","labels":{"service":"x"}}"#),
            LineError::ReservedLabel("service".into())
        );
        assert_eq!(
            err(r#"{"metric":"svc.a","value":1,"unit":"count","time":-1}"#),
            LineError::Time(-1.0)
        );
        let long = format!(
            r#"{{"metric":"svc.a","value":1,"unit":"count","labels":{{"x":"{}"}}}}"#,
            "y".repeat(LINE_LIMIT)
        );
        assert_eq!(err(&long), LineError::TooLong);
        assert_eq!(
            parse(b"\xff\xfe", "edge", "n1", NOW),
            Err(LineError::NotUtf8)
        );
    }

    #[test]
    fn seeded_mutations_never_panic() {
        // Byte flips, insertions and deletions of valid lines, from a fixed
        // seed so a failure repeats.
        let seeds: [&[u8]; 3] = [
            br#"{"metric":"svc.a","value":["x","y"],"unit":"text","labels":{"k":"v"},"time":1.5}"#,
            br#"{"metric":"http.status","value":200,"unit":"count","ok":false}"#,
            br#"{"metric":"svc.b","value":null,"unit":"s"}"#,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"{}[]\":,.-0123456789eE nulltruefalsesvc";
        let mut parsed = 0;
        for i in 0..20_000 {
            let mut line = seeds[i % seeds.len()].to_vec();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % (line.len() + 1);
                let byte = alphabet[(next() as usize) % alphabet.len()];
                match next() % 3 {
                    0 if at < line.len() => line[at] = byte,
                    1 => line.insert(at, byte),
                    _ if at < line.len() => {
                        line.remove(at);
                    }
                    _ => line.push(byte),
                }
            }
            if parse(&line, "s", "n", NOW).is_ok() {
                parsed += 1;
            }
        }
        // Some mutations keep a line valid (a digit for a digit); most do not.
        assert!(parsed > 0 && parsed < 20_000, "{parsed}");
    }

    #[test]
    fn no_input_panics() {
        // Truncations of a valid line at every byte are errors, never panics.
        let line =
            r#"{"metric":"svc.a","value":["x"],"unit":"text","labels":{"k":"v"},"time":1.5}"#;
        for end in 0..line.len() {
            assert!(parse(&line.as_bytes()[..end], "s", "n", NOW).is_err());
        }
    }
}
