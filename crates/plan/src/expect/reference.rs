//! Step references: `{result:STEP.AGG(METRIC{labels})}`, optionally
//! followed by `* FACTOR`, the value of a key taken from what an earlier
//! step of the case measured.
//!
//! ```text
//! reference := "{result:" step "." aggregate "(" metric [ "{" labels "}" ] ")" "}" [ "*" number ]
//! ```
//!
//! The summary part is the expectation grammar's left-hand side
//! (`p50(ping.rtt)`), so a reference reads like the expectation that
//! would check the same number. Step names may hold dots: the aggregate
//! is the last dot-separated part before `(` that names one (`base.p99.9`
//! is step `base`, aggregate `p99.9`). `all` and `any` and text metrics
//! give no number and are refused. Ranges in errors index the text given.

use netproof_sample::Unit;
use netproof_sample::metric;

use super::{Cursor, ExpectError, aggregate, parse_labels, unknown_metric};
use crate::model::Aggregate;

/// A reference as written, read but not yet checked against the case.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reference {
    /// The step named.
    pub step: String,
    /// Where the step's name is.
    pub step_range: std::ops::Range<usize>,
    /// The summary.
    pub aggregate: Aggregate,
    /// The metric (in the catalogue).
    pub metric: String,
    /// Where the metric is.
    pub metric_range: std::ops::Range<usize>,
    /// Label filters.
    pub labels: Vec<(String, String)>,
    /// The unit of the summary.
    pub unit: Unit,
    /// `* FACTOR`, 1 when absent.
    pub factor: f64,
}

const PREFIX: &str = "{result:";
const SHAPE: &str = "a step reference reads `{result:STEP.AGG(METRIC)}`, e.g. `{result:baseline.p50(ping.rtt)}`, optionally followed by `* 0.9`";

/// Whether a string value is meant as a step reference.
pub(crate) fn is_reference(text: &str) -> bool {
    text.trim_start().starts_with(PREFIX)
}

/// Reads a reference (the whole value of a key).
pub(crate) fn parse(text: &str) -> Result<Reference, ExpectError> {
    let start = text.len() - text.trim_start().len();
    if !text[start..].starts_with(PREFIX) {
        return Err(
            ExpectError::new(0..text.len(), "not a step reference", "expected `{result:`")
                .hint(SHAPE),
        );
    }
    let body = start + PREFIX.len();
    let Some(open) = text[body..].find('(').map(|i| body + i) else {
        return Err(ExpectError::new(
            body..text.len(),
            "a step reference needs `AGG(METRIC)` after the step's name",
            "expected `(`",
        )
        .hint(SHAPE));
    };
    let head = &text[body..open];
    // The aggregate is the last dot-separated part that names one.
    let mut split = None;
    for (i, c) in head.char_indices().rev() {
        if c == '.' && aggregate(head[i + 1..].trim()).is_ok() {
            split = Some(i);
            break;
        }
    }
    let Some(dot) = split else {
        let (range, message) = match head.rfind('.') {
            Some(i) => (
                body + i + 1..open,
                format!("unknown aggregate `{}`", head[i + 1..].trim()),
            ),
            None => (body..open, format!("`{head}` names no step and aggregate")),
        };
        let hint = head
            .rfind('.')
            .and_then(|i| aggregate(head[i + 1..].trim()).err())
            .unwrap_or_else(|| SHAPE.to_string());
        return Err(ExpectError::new(range, message, "expected `STEP.AGGREGATE`").hint(hint));
    };
    let step = head[..dot].trim().to_string();
    if step.is_empty() {
        return Err(ExpectError::new(
            body..body + dot,
            "a step reference names no step",
            "no step",
        )
        .hint(SHAPE));
    }
    let agg = aggregate(head[dot + 1..].trim()).map_err(|h| {
        ExpectError::new(
            body + dot + 1..open,
            "unknown aggregate",
            "unknown aggregate",
        )
        .hint(h)
    })?;
    let mut cur = Cursor {
        text,
        pos: open + 1,
    };
    cur.skip_ws();
    let metric_range =
        cur.take_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    if metric_range.is_empty() {
        return Err(ExpectError::new(
            cur.here(),
            format!("expected a metric name, found {}", cur.found()),
            "expected a metric",
        )
        .hint(SHAPE));
    }
    cur.skip_ws();
    let labels = if cur.eat('{') {
        parse_labels(&mut cur)?
    } else {
        Vec::new()
    };
    cur.skip_ws();
    if !cur.eat(')') {
        return Err(ExpectError::new(
            cur.here(),
            format!("expected `)` after the metric, found {}", cur.found()),
            "expected `)`",
        )
        .hint(SHAPE));
    }
    cur.skip_ws();
    if !cur.eat('}') {
        return Err(ExpectError::new(
            cur.here(),
            format!(
                "expected `}}` to close the reference, found {}",
                cur.found()
            ),
            "expected `}`",
        )
        .hint(SHAPE));
    }
    cur.skip_ws();
    let mut factor = 1.0;
    if cur.eat('*') {
        cur.skip_ws();
        let number = cur.take_while(|c| c.is_ascii_digit() || c == '.' || c == 'e' || c == '-');
        factor = match text[number.clone()].parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 => f,
            _ => {
                return Err(ExpectError::new(
                    number.start..text.len().max(number.start),
                    "the factor after `*` must be a number above 0",
                    "expected a factor",
                )
                .hint("e.g. `{result:tput.max(search.rate)} * 0.9` for 90 % of the throughput"));
            }
        };
        cur.skip_ws();
    }
    if cur.peek().is_some() {
        return Err(ExpectError::new(
            cur.pos..text.len(),
            format!(
                "unexpected `{}` after the reference",
                text[cur.pos..].trim_end()
            ),
            "unexpected text",
        )
        .hint(SHAPE));
    }
    let name = &text[metric_range.clone()];
    let Some(m) = metric::lookup(name) else {
        return Err(unknown_metric(name, metric_range));
    };
    if matches!(agg, Aggregate::All | Aggregate::Any) {
        return Err(ExpectError::new(
            body + dot + 1..open,
            format!("`{}` tests samples and gives no number to use", agg.name()),
            "not a number",
        )
        .hint(
            "use `min`, `max`, `mean`, `sum`, `count`, `success_ratio`, `rate` or a percentile",
        ));
    }
    if m.unit == Unit::Text
        && !matches!(
            agg,
            Aggregate::Count | Aggregate::SuccessRatio | Aggregate::Rate
        )
    {
        return Err(ExpectError::new(
            metric_range,
            format!(
                "`{}` is text, so `{}` of it is not a number",
                m.name,
                agg.name()
            ),
            "text metric",
        )
        .hint("a text metric gives a number only through `count`, `success_ratio` or `rate`"));
    }
    let unit = match agg {
        Aggregate::Count | Aggregate::Rate => Unit::Count,
        Aggregate::SuccessRatio => Unit::Ratio,
        _ => m.unit,
    };
    Ok(Reference {
        step,
        step_range: body..body + dot,
        aggregate: agg,
        metric: m.name.to_string(),
        metric_range,
        labels,
        unit,
        factor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_reads_like_an_expectation_summary() {
        let r = parse("{result:baseline.p50(ping.rtt)}").unwrap();
        assert_eq!(r.step, "baseline");
        assert_eq!(r.aggregate, Aggregate::Percentile(50.0));
        assert_eq!(r.metric, "ping.rtt");
        assert_eq!(r.unit, Unit::Seconds);
        assert_eq!(r.factor, 1.0);
        assert_eq!(r.step_range, 8..16);
    }

    #[test]
    fn dotted_step_names_labels_and_factors() {
        let r = parse("{result:rfc.2544.tput.p99.9(pktgen.delay{to=\"b\"})} * 0.9").unwrap();
        assert_eq!(r.step, "rfc.2544.tput");
        assert_eq!(r.aggregate, Aggregate::Percentile(99.9));
        assert_eq!(r.labels, vec![("to".to_string(), "b".to_string())]);
        assert!((r.factor - 0.9).abs() < 1e-12);
        let r = parse("{result:x.count(pktgen.sent)}").unwrap();
        assert_eq!(r.unit, Unit::Count);
    }

    #[test]
    fn mistakes_point_at_their_place() {
        let e = parse("{result:base.median(ping.rtt)}").unwrap_err();
        assert_eq!(e.range, 13..19);
        assert!(e.hint.unwrap().contains("p50"));
        let e = parse("{result:base.p50(ping.rt)}").unwrap_err();
        assert_eq!(e.range, 17..24);
        let e = parse("{result:base.p50(ping.rtt)} * 0").unwrap_err();
        assert!(e.message.contains("factor"), "{}", e.message);
        let e = parse("{result:base.any(dns.answer)}").unwrap_err();
        assert!(e.message.contains("no number"), "{}", e.message);
        let e = parse("{result:base.p50(ping.rtt) ").unwrap_err();
        assert!(e.message.contains("close the reference"), "{}", e.message);
        assert!(is_reference(" {result:x"));
        assert!(!is_reference("100Mbit"));
    }
}
