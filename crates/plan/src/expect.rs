//! The expectation language: `AGG(METRIC{labels}) OP THRESHOLD`.
//!
//! ```text
//! expectation := aggregate "(" metric [ "{" labels "}" ] ")" op threshold
//! aggregate   := "min" | "max" | "mean" | "sum" | "count" | "success_ratio"
//!              | "rate" | "p" NUMBER            (0..=100, e.g. p50, p99.9)
//! labels      := label { "," label } [ "," ]
//! label       := NAME "=" ( '"' TEXT '"' | "'" TEXT "'" )
//! op          := "<" | "<=" | ">" | ">=" | "==" | "!="
//! threshold   := a quantity in the unit of the aggregate's result
//! ```
//!
//! Whitespace is allowed between tokens. The metric must be in
//! [`netproof_sample::metric::CATALOG`]; the threshold is converted to the
//! canonical unit of the aggregate's result (seconds, bytes, bits per
//! second, a ratio 0..=1, or a plain number), so the judge compares plain
//! numbers. Errors carry byte ranges into the expectation text, which the
//! validator maps onto the plan's source.
//!
//! The parser stops at the first syntax error (what follows cannot be read
//! reliably) but reports every semantic problem it can see: an unknown
//! aggregate and an unknown metric in one expectation are two errors.

use std::ops::Range;

use netproof_sample::Unit;
use netproof_sample::metric::{self, CATALOG};

use crate::model::{Aggregate, Comparison, Expectation, Span};
use crate::spelling;
use crate::units::{self, UnitError};

/// A problem in an expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectError {
    /// Byte range in the expectation text.
    pub range: Range<usize>,
    /// The problem, as a sentence.
    pub message: String,
    /// A short label for the range.
    pub label: String,
    /// What to write instead, when guessable.
    pub hint: Option<String>,
}

impl ExpectError {
    fn new(range: Range<usize>, message: impl Into<String>, label: impl Into<String>) -> Self {
        ExpectError {
            range,
            message: message.into(),
            label: label.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    fn maybe_hint(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }
}

const AGGREGATES: &[&str] = &[
    "min",
    "max",
    "mean",
    "sum",
    "count",
    "success_ratio",
    "rate",
    "p50",
    "p99",
];
const OPS_HINT: &str = "compare with `<`, `<=`, `>`, `>=`, `==` or `!=`";
const SHAPE_HINT: &str =
    "an expectation reads `AGGREGATE(METRIC) OP THRESHOLD`, e.g. `p99(tcp_connect.latency) < 5ms`";

/// Parses one expectation. The returned [`Expectation::span`] covers the
/// whole text; the caller replaces it with the span in the plan.
pub fn parse(text: &str) -> Result<Expectation, Vec<ExpectError>> {
    let mut errors = Vec::new();
    let mut cur = Cursor { text, pos: 0 };
    let syntax = parse_syntax(&mut cur);
    let syntax = match syntax {
        Ok(s) => s,
        Err(e) => return Err(vec![e]),
    };

    let aggregate = match aggregate(&syntax.aggregate.0) {
        Ok(a) => Some(a),
        Err(hint) => {
            errors.push(
                ExpectError::new(
                    syntax.aggregate.1.clone(),
                    format!("unknown aggregate `{}`", syntax.aggregate.0),
                    "unknown aggregate",
                )
                .hint(hint),
            );
            None
        }
    };
    let (metric_name, metric_range) = &syntax.metric;
    let metric = metric::lookup(metric_name);
    if metric.is_none() {
        errors.push(unknown_metric(metric_name, metric_range.clone()));
    }
    let (Some(aggregate), Some(metric)) = (aggregate, metric) else {
        return Err(errors);
    };

    let numeric = matches!(
        aggregate,
        Aggregate::Min
            | Aggregate::Max
            | Aggregate::Mean
            | Aggregate::Sum
            | Aggregate::Percentile(_)
    );
    if numeric && metric.unit == Unit::Text {
        errors.push(
            ExpectError::new(
                syntax.aggregate.1.start..syntax.close,
                format!(
                    "`{}` needs numbers, but `{}` is text",
                    aggregate.name(),
                    metric.name
                ),
                "numeric aggregate of a text metric",
            )
            .hint("text metrics take `count`, `success_ratio` or `rate`"),
        );
        return Err(errors);
    }

    let unit = match aggregate {
        Aggregate::Count | Aggregate::Rate => Unit::Count,
        Aggregate::SuccessRatio => Unit::Ratio,
        _ => metric.unit,
    };
    let subject = format!("{}({})", aggregate.name(), metric.name);
    let (threshold_text, threshold_range) = &syntax.threshold;
    let threshold = match threshold_value(aggregate, unit, threshold_text) {
        Ok(v) => v,
        Err(e) => {
            errors.push(threshold_error(
                &subject,
                aggregate,
                unit,
                threshold_text,
                threshold_range,
                e,
            ));
            return Err(errors);
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Expectation {
        text: text.to_string(),
        aggregate,
        metric: metric.name.to_string(),
        labels: syntax.labels,
        op: syntax.op,
        threshold,
        unit,
        span: Span::new(0, text.len()),
    })
}

/// The parts of an expectation as written, before meaning is checked.
struct Syntax {
    aggregate: (String, Range<usize>),
    metric: (String, Range<usize>),
    labels: Vec<(String, String)>,
    /// Byte offset just past `)`.
    close: usize,
    op: Comparison,
    threshold: (String, Range<usize>),
}

struct Cursor<'t> {
    text: &'t str,
    pos: usize,
}

impl Cursor<'_> {
    fn skip_ws(&mut self) {
        let rest = &self.text[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// Takes characters while `f` holds; returns the range taken.
    fn take_while(&mut self, f: impl Fn(char) -> bool) -> Range<usize> {
        let start = self.pos;
        let rest = &self.text[start..];
        let len = rest.find(|c: char| !f(c)).unwrap_or(rest.len());
        self.pos += len;
        start..self.pos
    }

    /// The range of the next character (or an empty range at the end).
    fn here(&self) -> Range<usize> {
        let len = self.peek().map_or(0, char::len_utf8);
        self.pos..self.pos + len
    }

    /// What is next, for "found ..." in messages.
    fn found(&self) -> String {
        match self.peek() {
            None => "the end".to_string(),
            Some(c) => format!("`{c}`"),
        }
    }
}

fn parse_syntax(cur: &mut Cursor<'_>) -> Result<Syntax, ExpectError> {
    let text = cur.text;
    cur.skip_ws();
    if cur.peek().is_none() {
        return Err(ExpectError::new(0..text.len(), "empty expectation", "empty").hint(SHAPE_HINT));
    }
    let agg = cur.take_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if agg.is_empty() {
        return Err(ExpectError::new(
            cur.here(),
            format!("expected an aggregate, found {}", cur.found()),
            "expected an aggregate",
        )
        .hint(SHAPE_HINT));
    }
    cur.skip_ws();
    if !cur.eat('(') {
        let name = &text[agg.clone()];
        let hint = if metric::lookup(name).is_some() {
            format!(
                "wrap the metric in an aggregate, e.g. `p99({name})` or `success_ratio({name})`"
            )
        } else {
            SHAPE_HINT.to_string()
        };
        return Err(ExpectError::new(
            cur.here(),
            format!("expected `(` after `{name}`, found {}", cur.found()),
            "expected `(`",
        )
        .hint(hint));
    }
    cur.skip_ws();
    let metric = cur.take_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    if metric.is_empty() {
        return Err(ExpectError::new(
            cur.here(),
            format!("expected a metric name, found {}", cur.found()),
            "expected a metric",
        )
        .hint(format!("known metrics: {}", metric_list())));
    }
    cur.skip_ws();
    let mut labels = Vec::new();
    if cur.eat('{') {
        labels = parse_labels(cur)?;
        cur.skip_ws();
    }
    if !cur.eat(')') {
        return Err(ExpectError::new(
            cur.here(),
            format!("expected `)` after the metric, found {}", cur.found()),
            "expected `)`",
        )
        .hint(SHAPE_HINT));
    }
    let close = cur.pos;
    cur.skip_ws();
    let op_start = cur.pos;
    let rest = &text[cur.pos..];
    let (op, len) = if rest.starts_with("<=") {
        (Comparison::Le, 2)
    } else if rest.starts_with(">=") {
        (Comparison::Ge, 2)
    } else if rest.starts_with("==") {
        (Comparison::Eq, 2)
    } else if rest.starts_with("!=") {
        (Comparison::Ne, 2)
    } else if rest.starts_with("=<") || rest.starts_with("=>") {
        let fixed: String = rest[..2].chars().rev().collect();
        return Err(ExpectError::new(
            op_start..op_start + 2,
            format!("unknown comparison `{}`", &rest[..2]),
            "unknown comparison",
        )
        .hint(format!("write `{fixed}`")));
    } else if rest.starts_with('<') {
        (Comparison::Lt, 1)
    } else if rest.starts_with('>') {
        (Comparison::Gt, 1)
    } else if rest.starts_with('=') {
        return Err(ExpectError::new(
            op_start..op_start + 1,
            "`=` is not a comparison",
            "expected `==`",
        )
        .hint("write `==` to compare for equality"));
    } else {
        return Err(ExpectError::new(
            cur.here(),
            format!("expected a comparison after `)`, found {}", cur.found()),
            "expected a comparison",
        )
        .hint(OPS_HINT));
    };
    cur.pos += len;
    cur.skip_ws();
    let threshold_start = cur.pos;
    let threshold = text[threshold_start..].trim_end();
    if threshold.is_empty() {
        return Err(ExpectError::new(
            op_start..op_start + len,
            format!("expected a threshold after `{}`", op.as_str()),
            "no threshold",
        )
        .hint(SHAPE_HINT));
    }
    Ok(Syntax {
        aggregate: (text[agg.clone()].to_string(), agg),
        metric: (text[metric.clone()].to_string(), metric),
        labels,
        close,
        op,
        threshold: (
            threshold.to_string(),
            threshold_start..threshold_start + threshold.len(),
        ),
    })
}

/// Parses `key="value", ...}` after the opening brace, consuming the `}`.
fn parse_labels(cur: &mut Cursor<'_>) -> Result<Vec<(String, String)>, ExpectError> {
    let mut labels: Vec<(String, String)> = Vec::new();
    loop {
        cur.skip_ws();
        if cur.eat('}') {
            return Ok(labels);
        }
        let key_range = cur.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
        if key_range.is_empty() {
            return Err(ExpectError::new(
                cur.here(),
                format!("expected a label name, found {}", cur.found()),
                "expected a label name",
            )
            .hint("label filters read `{step=\"ping\", to=\"server\"}`"));
        }
        let key = cur.text[key_range.clone()].to_string();
        cur.skip_ws();
        if !cur.eat('=') {
            return Err(ExpectError::new(
                cur.here(),
                format!("expected `=` after label `{key}`, found {}", cur.found()),
                "expected `=`",
            )
            .hint(format!("write `{key}=\"value\"`")));
        }
        cur.skip_ws();
        let quote = match cur.peek() {
            Some(q @ ('"' | '\'')) => q,
            _ => {
                return Err(ExpectError::new(
                    cur.here(),
                    format!(
                        "expected a quoted value for label `{key}`, found {}",
                        cur.found()
                    ),
                    "expected a quoted value",
                )
                .hint(format!("label values are quoted: `{key}=\"value\"`")));
            }
        };
        let open = cur.pos;
        cur.pos += 1;
        let mut value = String::new();
        loop {
            match cur.peek() {
                None => {
                    return Err(ExpectError::new(
                        open..cur.text.len(),
                        format!("unclosed value for label `{key}`"),
                        "unclosed quote",
                    )
                    .hint(format!("close it with {quote}")));
                }
                Some(c) if c == quote => {
                    cur.pos += 1;
                    break;
                }
                Some('\\') => {
                    cur.pos += 1;
                    match cur.peek() {
                        Some(c @ ('\\' | '"' | '\'')) => {
                            value.push(c);
                            cur.pos += 1;
                        }
                        _ => {
                            return Err(ExpectError::new(
                                cur.pos - 1..cur.pos + cur.peek().map_or(0, char::len_utf8),
                                "unknown escape in a label value",
                                "unknown escape",
                            )
                            .hint("only `\\\\`, `\\\"` and `\\'` are escapes"));
                        }
                    }
                }
                Some(c) => {
                    value.push(c);
                    cur.pos += c.len_utf8();
                }
            }
        }
        if labels.iter().any(|(k, _)| *k == key) {
            return Err(ExpectError::new(
                key_range,
                format!("label `{key}` is given twice"),
                "duplicate label",
            )
            .hint("a sample has one value per label; keep one filter"));
        }
        labels.push((key, value));
        cur.skip_ws();
        if cur.eat(',') {
            continue;
        }
        if cur.eat('}') {
            return Ok(labels);
        }
        return Err(ExpectError::new(
            cur.here(),
            format!("expected `,` or `}}` after a label, found {}", cur.found()),
            "expected `,` or `}`",
        ));
    }
}

/// The aggregate named `name`, or a hint for an unknown one.
fn aggregate(name: &str) -> Result<Aggregate, String> {
    Ok(match name {
        "min" => Aggregate::Min,
        "max" => Aggregate::Max,
        "mean" => Aggregate::Mean,
        "sum" => Aggregate::Sum,
        "count" => Aggregate::Count,
        "success_ratio" => Aggregate::SuccessRatio,
        "rate" => Aggregate::Rate,
        "avg" | "average" => return Err("write `mean` for the arithmetic mean".to_string()),
        "median" => return Err("write `p50` for the median".to_string()),
        _ => match name.strip_prefix('p') {
            Some(p) if is_plain_number(p) => match p.parse::<f64>() {
                Ok(v) if (0.0..=100.0).contains(&v) => Aggregate::Percentile(v),
                _ => {
                    return Err(format!(
                        "percentiles run from `p0` to `p100`; `{name}` is outside"
                    ));
                }
            },
            _ => {
                return Err(spelling::did_you_mean(name, AGGREGATES.iter().copied()).unwrap_or_else(|| {
                    "aggregates are `min`, `max`, `mean`, `sum`, `count`, `success_ratio`, `rate` and \
                     percentiles `p0`..`p100` (e.g. `p99`, `p99.9`)"
                        .to_string()
                }));
            }
        },
    })
}

/// Digits with an optional fraction: `99`, `99.9` (no sign, no exponent).
fn is_plain_number(s: &str) -> bool {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

fn metric_list() -> String {
    let names: Vec<&str> = CATALOG.iter().map(|m| m.name).collect();
    spelling::one_of(&names)
}

fn unknown_metric(name: &str, range: Range<usize>) -> ExpectError {
    let names = CATALOG.iter().map(|m| m.name);
    // Also match on the part after the dot, so `tcp.latency` finds
    // `tcp_connect.latency`.
    let near = spelling::closest(name, names.clone()).or_else(|| {
        let tail = name.rsplit('.').next().unwrap_or(name);
        let head = name.split(['.', '_']).next().unwrap_or(name);
        CATALOG
            .iter()
            .map(|m| m.name)
            .find(|m| m.ends_with(&format!(".{tail}")) && m.starts_with(head))
    });
    let list = format!("known metrics: {}", metric_list());
    let hint = match near {
        Some(n) => format!("did you mean `{n}`? {list}"),
        None => list,
    };
    ExpectError::new(range, format!("unknown metric `{name}`"), "unknown metric").hint(hint)
}

/// What went wrong reading a threshold.
enum ThresholdError {
    Unit(UnitError),
    NotPlain,
}

fn threshold_value(aggregate: Aggregate, unit: Unit, text: &str) -> Result<f64, ThresholdError> {
    match (aggregate, unit) {
        (Aggregate::Rate, _) => {
            let n = text.strip_suffix("/s").unwrap_or(text).trim_end();
            plain_number(n, false)
        }
        (Aggregate::Count, _) => plain_number(text, false),
        (_, Unit::Seconds) => units::parse_duration(text)
            .map(|d| d.as_secs_f64())
            .map_err(ThresholdError::Unit),
        (_, Unit::Bytes) => units::parse_size(text)
            .map(|b| b as f64)
            .map_err(ThresholdError::Unit),
        (_, Unit::BitsPerSecond) => units::parse_rate(text)
            .map(|b| b as f64)
            .map_err(ThresholdError::Unit),
        (_, Unit::Ratio) => units::parse_ratio(text).map_err(ThresholdError::Unit),
        // Exit codes and other counts may be compared with negative
        // numbers (`!= -1`); `count` and `rate` cannot be negative.
        (_, Unit::Count | Unit::Text) => plain_number(text, true),
    }
}

fn plain_number(text: &str, signed: bool) -> Result<f64, ThresholdError> {
    let digits = if signed {
        text.strip_prefix('-').unwrap_or(text)
    } else {
        text
    };
    if !is_plain_number(digits) {
        return Err(ThresholdError::NotPlain);
    }
    text.parse::<f64>().map_err(|_| ThresholdError::NotPlain)
}

fn threshold_error(
    subject: &str,
    aggregate: Aggregate,
    unit: Unit,
    text: &str,
    range: &Range<usize>,
    e: ThresholdError,
) -> ExpectError {
    let range = range.clone();
    match e {
        ThresholdError::NotPlain => {
            let (what, hint) = match aggregate {
                Aggregate::Rate => (
                    "a number of successful samples per second",
                    "write a plain number, optionally with `/s`, e.g. `9/s`".to_string(),
                ),
                Aggregate::Count => (
                    "a plain number of samples",
                    "write a plain number, e.g. `10`".to_string(),
                ),
                _ => (
                    "a plain number",
                    "write a plain number without a unit, e.g. `0`".to_string(),
                ),
            };
            ExpectError::new(
                range,
                format!("threshold `{text}` does not fit `{subject}`, which is {what}"),
                "expected a plain number",
            )
            .hint(hint)
        }
        ThresholdError::Unit(e) => {
            let quantity = match unit {
                Unit::Seconds => "a duration",
                Unit::Bytes => "a size",
                Unit::BitsPerSecond => "a rate",
                Unit::Ratio => "a ratio",
                Unit::Count | Unit::Text => "a number",
            };
            let message = match &e {
                UnitError::MissingUnit { .. } => {
                    format!("threshold `{text}` has no unit, but `{subject}` is {quantity}")
                }
                UnitError::UnknownUnit { .. }
                | UnitError::NotANumber { .. }
                | UnitError::Empty { .. } => {
                    format!("threshold `{text}` does not fit `{subject}`, which is {quantity}")
                }
                other => format!("threshold `{text}` for `{subject}`: {other}"),
            };
            ExpectError::new(range, message, format!("expected {quantity}")).maybe_hint(e.hint())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Expectation {
        match parse(text) {
            Ok(e) => e,
            Err(errors) => panic!("{text}: {errors:?}"),
        }
    }

    fn err(text: &str) -> Vec<ExpectError> {
        parse(text).expect_err(text)
    }

    #[test]
    fn percentile_with_duration() {
        let e = ok("p99(tcp_connect.latency) < 5ms");
        assert_eq!(e.aggregate, Aggregate::Percentile(99.0));
        assert_eq!(e.metric, "tcp_connect.latency");
        assert_eq!(e.op, Comparison::Lt);
        assert!((e.threshold - 0.005).abs() < 1e-12);
        assert_eq!(e.unit, Unit::Seconds);
        assert_eq!(
            ok("p99.9(tcp_connect.latency)<=1s").aggregate,
            Aggregate::Percentile(99.9)
        );
        assert_eq!(
            ok("p0(exec.duration) >= 0s").aggregate,
            Aggregate::Percentile(0.0)
        );
        assert_eq!(ok("p100(exec.duration) >= 0s").aggregate.name(), "p100");
    }

    #[test]
    fn labels_and_whitespace() {
        let e = ok(r#"  mean ( tcp_connect.latency { step = "probe", to='server' , } ) != 1.5s "#);
        assert_eq!(
            e.labels,
            vec![
                ("step".into(), "probe".into()),
                ("to".into(), "server".into())
            ]
        );
        assert_eq!(e.op, Comparison::Ne);
        assert_eq!(e.threshold, 1.5);
        let e = ok(r#"count(exec.stdout{error="a \"b\""}) == 0"#);
        assert_eq!(e.labels[0].1, "a \"b\"");
    }

    #[test]
    fn units_per_aggregate() {
        let e = ok("success_ratio(tcp_connect.latency) >= 99%");
        assert_eq!((e.unit, e.threshold), (Unit::Ratio, 0.99));
        assert_eq!(ok("success_ratio(exec.exit_code) >= 0.5").threshold, 0.5);
        let e = ok("count(exec.stdout) > 3");
        assert_eq!((e.unit, e.threshold), (Unit::Count, 3.0));
        let e = ok("rate(tcp_connect.latency) >= 9.5/s");
        assert_eq!((e.unit, e.threshold), (Unit::Count, 9.5));
        assert_eq!(ok("rate(tcp_connect.latency) >= 9").threshold, 9.0);
        let e = ok("max(exec.stdout_bytes) <= 1KiB");
        assert_eq!((e.unit, e.threshold), (Unit::Bytes, 1024.0));
        assert_eq!(ok("max(exec.exit_code) == 0").threshold, 0.0);
        assert_eq!(ok("min(exec.exit_code) != -1").threshold, -1.0);
        assert_eq!(ok("rate(exec.stdout) > 1/s").unit, Unit::Count);
    }

    #[test]
    fn unknown_metric_points_at_the_name() {
        // (`tcp.latency` would now be nearer `http.latency`.)
        let text = "p99(tcp_conect.latency) < 5ms";
        let errors = err(text);
        assert_eq!(errors.len(), 1);
        assert_eq!(&text[errors[0].range.clone()], "tcp_conect.latency");
        let hint = errors[0].hint.as_deref().unwrap();
        assert!(
            hint.contains("did you mean `tcp_connect.latency`?"),
            "{hint}"
        );
        assert!(hint.contains("exec.exit_code"), "{hint}");
    }

    #[test]
    fn unit_mismatch_points_at_the_threshold() {
        let text = "p99(tcp_connect.latency) < 5Mbit";
        let errors = err(text);
        assert_eq!(&text[errors[0].range.clone()], "5Mbit");
        assert!(errors[0].message.contains("a duration"), "{:?}", errors[0]);
        let errors = err("p99(tcp_connect.latency) < 5");
        assert!(errors[0].message.contains("has no unit"));
        assert!(
            err("success_ratio(exec.exit_code) > 99")[0]
                .message
                .contains("100%")
        );
        assert!(
            err("count(exec.exit_code) > 5ms")[0]
                .message
                .contains("plain number")
        );
        assert!(
            err("count(exec.exit_code) > -1")[0]
                .message
                .contains("plain number")
        );
        assert!(
            err("max(exec.exit_code) > 1s")[0]
                .message
                .contains("plain number")
        );
    }

    #[test]
    fn numeric_aggregate_of_text_is_an_error() {
        let errors = err("mean(exec.stdout) > 1");
        assert!(errors[0].message.contains("is text"));
        assert!(errors[0].hint.as_deref().unwrap().contains("count"));
    }

    #[test]
    fn semantic_errors_are_all_reported() {
        let errors = err("avg(tcp.latency) < 5ms");
        assert_eq!(errors.len(), 2);
        assert!(errors[0].hint.as_deref().unwrap().contains("mean"));
    }

    #[test]
    fn syntax_errors_point_at_the_spot() {
        for (text, at) in [
            ("", 0),
            ("p99", 3),
            ("p99(", 4),
            ("p99(tcp_connect.latency", 23),
            ("p99(tcp_connect.latency) 5ms", 25),
            ("p99(tcp_connect.latency) <", 25),
            ("p99(tcp_connect.latency) = 5ms", 25),
            ("p99(tcp_connect.latency) => 5ms", 25),
            ("p99(tcp_connect.latency{step}) < 5ms", 28),
            ("p99(tcp_connect.latency{step=x}) < 5ms", 29),
            ("p99(tcp_connect.latency{step=\"x) < 5ms", 29),
            ("p99(tcp_connect.latency{a=\"1\",a=\"2\"}) < 5ms", 30),
            ("(x) < 1", 0),
        ] {
            let errors = err(text);
            assert_eq!(errors.len(), 1, "{text}");
            assert_eq!(errors[0].range.start, at, "{text}: {:?}", errors[0]);
        }
    }

    #[test]
    fn percentile_bounds() {
        assert!(
            err("p101(exec.duration) < 1s")[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("p100")
        );
        assert!(parse("p99.(exec.duration) < 1s").is_err());
        assert!(parse("p-1(exec.duration) < 1s").is_err());
        assert!(
            err("median(exec.duration) < 1s")[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("p50")
        );
    }

    #[test]
    fn never_panics_on_prefixes() {
        let text = r#"p99.9(tcp_connect.latency{step="µ-probe", to='b'}) <= 5ms"#;
        for (i, _) in text.char_indices() {
            let _ = parse(&text[..i]);
            let _ = parse(&text[i..]);
        }
    }
}
