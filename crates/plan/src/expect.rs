//! The expectation language: `AGG(METRIC{labels}) OP THRESHOLD`, and
//! `all|any(METRIC{labels}) [!]contains "TEXT"` for text and set values.
//!
//! ```text
//! expectation := aggregate "(" metric [ "{" labels "}" ] ")" op threshold
//!              | ( "all" | "any" ) "(" metric [ "{" labels "}" ] ")"
//!                ( "contains" | "!contains" ) quoted
//! aggregate   := "min" | "max" | "mean" | "sum" | "count" | "success_ratio"
//!              | "rate" | "p" NUMBER            (0..=100, e.g. p50, p99.9)
//! labels      := label { "," label } [ "," ]
//! label       := NAME "=" quoted
//! quoted      := '"' TEXT '"' | "'" TEXT "'"
//! op          := "<" | "<=" | ">" | ">=" | "==" | "!="
//! threshold   := a quantity in the unit of the aggregate's result
//! ```
//!
//! The TEXT after `contains` may hold `{addr:NODE}` and `{addr6:NODE}`
//! placeholders (`{{` and `}}` are literal braces); this module splits
//! them out and reports where each node name is, and the validator checks
//! that the node exists. `contains` applies only to metrics whose
//! catalogue unit is text: the catalogue does not tell a text metric from
//! a set-valued one, so both may use it (a text value contains TEXT when
//! it equals it).
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

use crate::arg::NodeRef;
use crate::model::{Aggregate, Comparison, Contains, Expectation, Span, Template, TemplatePart};
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
    "all",
    "any",
];
const OPS_HINT: &str = "compare with `<`, `<=`, `>`, `>=`, `==` or `!=`";
const SHAPE_HINT: &str =
    "an expectation reads `AGGREGATE(METRIC) OP THRESHOLD`, e.g. `p99(tcp_connect.latency) < 5ms`";
const CONTAINS_HINT: &str = "write `all(METRIC) contains \"TEXT\"` (every sample contains it) or `any(METRIC) contains \"TEXT\"` (at least one does), e.g. `all(dns.answer) contains \"198.18.10.1\"`";
const PLACEHOLDER_HINT: &str =
    "the placeholders are `{addr:NODE}` and `{addr6:NODE}`; write `{{` and `}}` for literal braces";

/// Parses one expectation. The returned [`Expectation::span`] covers the
/// whole text; the caller replaces it with the span in the plan.
pub fn parse(text: &str) -> Result<Expectation, Vec<ExpectError>> {
    parse_with_refs(text).map(|(e, _)| e)
}

/// [`parse`], also returning the node names that placeholders in a
/// `contains` text refer to, with their byte ranges, for the validator.
pub(crate) fn parse_with_refs(text: &str) -> Result<(Expectation, Vec<NodeRef>), Vec<ExpectError>> {
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
    let own = metric.is_none() && metric::check_service_metric(metric_name).is_ok();
    if metric.is_none() && !own {
        errors.push(unknown_metric(metric_name, metric_range.clone()));
    }
    if own && let Some(aggregate) = aggregate {
        return service_metric(text, aggregate, syntax, errors);
    }
    let (Some(aggregate), Some(metric)) = (aggregate, metric) else {
        return Err(errors);
    };
    let quantifier = matches!(aggregate, Aggregate::All | Aggregate::Any);

    let (op, threshold_text, threshold_range) = match syntax.rhs {
        Rhs::Contains {
            negated,
            op,
            text: contains,
            refs,
        } => {
            if !quantifier {
                errors.push(
                    ExpectError::new(
                        syntax.aggregate.1.clone(),
                        format!(
                            "`{}` cannot be used with `{}`; only `all` and `any` can",
                            aggregate.name(),
                            &text[op.clone()]
                        ),
                        "not `all` or `any`",
                    )
                    .hint(CONTAINS_HINT),
                );
            }
            if metric.unit != Unit::Text {
                errors.push(
                    ExpectError::new(
                        metric_range.clone(),
                        format!(
                            "`{}` is a number ({}), so `{}` cannot test it",
                            metric.name,
                            metric.unit.as_str(),
                            &text[op]
                        ),
                        "a number, not text or a set",
                    )
                    .hint(format!(
                        "`contains` tests text and set metrics ({}); compare numbers with `<`, `<=`, `>`, `>=`, `==` or `!=`",
                        text_metrics()
                    )),
                );
            }
            if !errors.is_empty() {
                return Err(errors);
            }
            return Ok((
                Expectation {
                    text: text.to_string(),
                    aggregate,
                    metric: metric.name.to_string(),
                    labels: syntax.labels,
                    // Unused by a `contains` test.
                    op: Comparison::Eq,
                    threshold: 0.0,
                    unit: Unit::Text,
                    span: Span::new(0, text.len()),
                    contains: Some(Contains {
                        negated,
                        text: contains,
                    }),
                },
                refs,
            ));
        }
        Rhs::Compare { op, threshold } => (op, threshold.0, threshold.1),
    };
    if quantifier {
        errors.push(
            ExpectError::new(
                syntax.aggregate.1.clone(),
                format!(
                    "`{}` tests each sample with `contains` or `!contains`, not `{}`",
                    aggregate.name(),
                    op.as_str()
                ),
                "needs `contains`",
            )
            .hint(format!(
                "{CONTAINS_HINT}; to compare numbers use `min`, `max`, `count`, ..."
            )),
        );
        return Err(errors);
    }

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
            .hint("text metrics take `count`, `success_ratio`, `rate`, or `all`/`any` with `contains`"),
        );
        return Err(errors);
    }

    let unit = match aggregate {
        Aggregate::Count | Aggregate::Rate => Unit::Count,
        Aggregate::SuccessRatio => Unit::Ratio,
        _ => metric.unit,
    };
    let subject = format!("{}({})", aggregate.name(), metric.name);
    let (threshold_text, threshold_range) = (&threshold_text, &threshold_range);
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
    Ok((
        Expectation {
            text: text.to_string(),
            aggregate,
            metric: metric.name.to_string(),
            labels: syntax.labels,
            op,
            threshold,
            unit,
            span: Span::new(0, text.len()),
            contains: None,
        },
        Vec::new(),
    ))
}

/// An expectation on a metric a service names itself (`svc.*`, see
/// [`metric::SERVICE_NAMESPACE`]): the catalogue does not know its unit,
/// so the threshold says it. A plain number is a count, `5ms` a duration,
/// `20MiB` a size, `100Mbit` a rate, `5%` a ratio; `contains` treats the
/// metric as text. The judge refuses samples in another unit.
fn service_metric(
    text: &str,
    aggregate: Aggregate,
    syntax: Syntax,
    mut errors: Vec<ExpectError>,
) -> Result<(Expectation, Vec<NodeRef>), Vec<ExpectError>> {
    let quantifier = matches!(aggregate, Aggregate::All | Aggregate::Any);
    let name = syntax.metric.0;
    let mut exp = Expectation {
        text: text.to_string(),
        aggregate,
        metric: name.clone(),
        labels: syntax.labels,
        op: Comparison::Eq,
        threshold: 0.0,
        unit: Unit::Text,
        span: Span::new(0, text.len()),
        contains: None,
    };
    match syntax.rhs {
        Rhs::Contains {
            negated,
            op,
            text: contains,
            refs,
        } => {
            if !quantifier {
                errors.push(
                    ExpectError::new(
                        syntax.aggregate.1,
                        format!(
                            "`{}` cannot be used with `{}`; only `all` and `any` can",
                            aggregate.name(),
                            &text[op]
                        ),
                        "not `all` or `any`",
                    )
                    .hint(CONTAINS_HINT),
                );
                return Err(errors);
            }
            exp.contains = Some(Contains {
                negated,
                text: contains,
            });
            if !errors.is_empty() {
                return Err(errors);
            }
            Ok((exp, refs))
        }
        Rhs::Compare { op, threshold } => {
            if quantifier {
                errors.push(
                    ExpectError::new(
                        syntax.aggregate.1,
                        format!(
                            "`{}` tests each sample with `contains` or `!contains`, not `{}`",
                            aggregate.name(),
                            op.as_str()
                        ),
                        "needs `contains`",
                    )
                    .hint(CONTAINS_HINT),
                );
                return Err(errors);
            }
            let (threshold_text, range) = threshold;
            let parsed = match aggregate {
                Aggregate::Count | Aggregate::Rate => {
                    threshold_value(aggregate, Unit::Count, &threshold_text)
                        .map(|v| (Unit::Count, v))
                        .ok()
                }
                Aggregate::SuccessRatio => units::parse_ratio(&threshold_text)
                    .map(|v| (Unit::Ratio, v))
                    .ok(),
                _ => infer_quantity(&threshold_text),
            };
            let Some((unit, value)) = parsed else {
                errors.push(
                    ExpectError::new(
                        range,
                        format!(
                            "threshold `{threshold_text}` of `{}({name})` is not a number, duration, size, rate or percentage",
                            aggregate.name()
                        ),
                        "expected a quantity",
                    )
                    .hint("a service's own metric takes its unit from the threshold: write e.g. `10`, `5ms`, `20MiB`, `100Mbit` or `5%`"),
                );
                return Err(errors);
            };
            if !errors.is_empty() {
                return Err(errors);
            }
            exp.op = op;
            exp.threshold = value;
            exp.unit = unit;
            Ok((exp, Vec::new()))
        }
    }
}

/// A threshold's unit and value in it, read as whichever quantity it is.
fn infer_quantity(text: &str) -> Option<(Unit, f64)> {
    if let Ok(v) = plain_number(text, true) {
        return Some((Unit::Count, v));
    }
    if let Ok(d) = units::parse_duration(text) {
        return Some((Unit::Seconds, d.as_secs_f64()));
    }
    if let Ok(b) = units::parse_size(text) {
        return Some((Unit::Bytes, b as f64));
    }
    if let Ok(r) = units::parse_rate(text) {
        return Some((Unit::BitsPerSecond, r as f64));
    }
    if text.trim_end().ends_with('%') {
        return units::parse_ratio(text).ok().map(|r| (Unit::Ratio, r));
    }
    None
}

/// The parts of an expectation as written, before meaning is checked.
struct Syntax {
    aggregate: (String, Range<usize>),
    metric: (String, Range<usize>),
    labels: Vec<(String, String)>,
    /// Byte offset just past `)`.
    close: usize,
    rhs: Rhs,
}

/// What follows the `)`.
enum Rhs {
    /// `OP THRESHOLD`.
    Compare {
        op: Comparison,
        threshold: (String, Range<usize>),
    },
    /// `contains "TEXT"` or `!contains "TEXT"`.
    Contains {
        negated: bool,
        /// Where `contains` or `!contains` is written.
        op: Range<usize>,
        text: Template,
        refs: Vec<NodeRef>,
    },
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
    if let Some(len) = contains_keyword(rest) {
        let op = op_start..op_start + len;
        cur.pos += len;
        cur.skip_ws();
        let (text, refs) = contains_text(cur, &op)?;
        return Ok(Syntax {
            aggregate: (cur.text[agg.clone()].to_string(), agg),
            metric: (cur.text[metric.clone()].to_string(), metric),
            labels,
            close,
            rhs: Rhs::Contains {
                negated: len > "contains".len(),
                op,
                text,
                refs,
            },
        });
    }
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
        rhs: Rhs::Compare {
            op,
            threshold: (
                threshold.to_string(),
                threshold_start..threshold_start + threshold.len(),
            ),
        },
    })
}

/// The length of `contains` or `!contains` at the start of `rest`, when it
/// is the whole word.
fn contains_keyword(rest: &str) -> Option<usize> {
    let len = if rest.starts_with("!contains") {
        "!contains".len()
    } else if rest.starts_with("contains") {
        "contains".len()
    } else {
        return None;
    };
    let next = rest[len..].chars().next();
    (!next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(len)
}

/// The quoted TEXT after `contains` (`op` is where that word is), which
/// must end the expectation, split into text and placeholders.
fn contains_text(
    cur: &mut Cursor<'_>,
    op: &Range<usize>,
) -> Result<(Template, Vec<NodeRef>), ExpectError> {
    let word = &cur.text[op.clone()];
    if !matches!(cur.peek(), Some('"' | '\'')) {
        let range = if cur.peek().is_none() {
            op.clone()
        } else {
            cur.here()
        };
        return Err(ExpectError::new(
            range,
            format!(
                "expected a quoted text after `{word}`, found {}",
                cur.found()
            ),
            "expected a quoted text",
        )
        .hint(CONTAINS_HINT));
    }
    let open = cur.pos;
    let (value, escaped) = quoted(cur, &format!("`{word}`"))?;
    let close = cur.pos;
    cur.skip_ws();
    if cur.peek().is_some() {
        return Err(ExpectError::new(
            cur.pos..cur.text.trim_end().len().max(cur.pos),
            format!(
                "unexpected `{}` after the quoted text",
                cur.text[cur.pos..].trim_end()
            ),
            "unexpected text",
        )
        .hint("the quoted text ends the expectation; put quotes inside it as `\\\"`"));
    }
    // Placeholder ranges map one to one onto the expectation only when the
    // quoted text has no escapes; otherwise point at the whole of it.
    let at = |r: Range<usize>| {
        if escaped {
            open..close
        } else {
            open + 1 + r.start..open + 1 + r.end
        }
    };
    template(&value)
        .map_err(|mut e| {
            e.range = at(e.range);
            e
        })
        .map(|(t, refs)| {
            let refs = refs
                .into_iter()
                .map(|r| NodeRef {
                    range: at(r.range),
                    name: r.name,
                })
                .collect();
            (t, refs)
        })
}

/// Splits `s` into literal text and `{addr:NODE}`/`{addr6:NODE}`
/// placeholders; ranges are byte offsets into `s`.
fn template(s: &str) -> Result<(Template, Vec<NodeRef>), ExpectError> {
    let mut parts = Vec::new();
    let mut refs = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if rest.starts_with("{{") || rest.starts_with("}}") {
            lit.push_str(&rest[..1]);
            i += 2;
        } else if rest.starts_with('{') {
            let Some(len) = rest.find('}') else {
                return Err(ExpectError::new(
                    i..s.len(),
                    format!("unclosed `{{` in `{s}`"),
                    "unclosed `{`",
                )
                .hint(PLACEHOLDER_HINT));
            };
            let inner = &rest[1..len];
            let (part, prefix): (fn(String) -> TemplatePart, &str) = if inner.starts_with("addr6:")
            {
                (TemplatePart::Addr6, "addr6:")
            } else {
                (TemplatePart::Addr, "addr:")
            };
            match inner.strip_prefix(prefix) {
                Some(node) if !node.is_empty() => {
                    if !lit.is_empty() {
                        parts.push(TemplatePart::Text(std::mem::take(&mut lit)));
                    }
                    parts.push(part(node.to_string()));
                    let start = i + 1 + prefix.len();
                    refs.push(NodeRef {
                        name: node.to_string(),
                        range: start..start + node.len(),
                    });
                }
                _ => {
                    return Err(ExpectError::new(
                        i..i + len + 1,
                        format!("unknown placeholder `{{{inner}}}`"),
                        "unknown placeholder",
                    )
                    .hint(PLACEHOLDER_HINT));
                }
            }
            i += len + 1;
        } else if rest.starts_with('}') {
            return Err(ExpectError::new(
                i..i + 1,
                format!("unmatched `}}` in `{s}`"),
                "unmatched `}`",
            )
            .hint(PLACEHOLDER_HINT));
        } else {
            let next = rest.find(['{', '}']).unwrap_or(rest.len());
            lit.push_str(&rest[..next]);
            i += next;
        }
    }
    if !lit.is_empty() || parts.is_empty() {
        parts.push(TemplatePart::Text(lit));
    }
    Ok((Template(parts), refs))
}

/// Reads a quoted string at the cursor (which is on the quote), with `\\`,
/// `\"` and `\'` escapes; `what` names it in messages. Returns the value
/// and whether it had escapes.
fn quoted(cur: &mut Cursor<'_>, what: &str) -> Result<(String, bool), ExpectError> {
    let Some(quote @ ('"' | '\'')) = cur.peek() else {
        return Err(ExpectError::new(
            cur.here(),
            format!("expected a quoted value for {what}, found {}", cur.found()),
            "expected a quoted value",
        ));
    };
    let open = cur.pos;
    cur.pos += quote.len_utf8();
    let mut value = String::new();
    let mut escaped = false;
    loop {
        match cur.peek() {
            None => {
                return Err(ExpectError::new(
                    open..cur.text.len(),
                    format!("unclosed value for {what}"),
                    "unclosed quote",
                )
                .hint(format!("close it with {quote}")));
            }
            Some(c) if c == quote => {
                cur.pos += 1;
                return Ok((value, escaped));
            }
            Some('\\') => {
                escaped = true;
                cur.pos += 1;
                match cur.peek() {
                    Some(c @ ('\\' | '"' | '\'')) => {
                        value.push(c);
                        cur.pos += 1;
                    }
                    _ => {
                        return Err(ExpectError::new(
                            cur.pos - 1..cur.pos + cur.peek().map_or(0, char::len_utf8),
                            format!("unknown escape in the value for {what}"),
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
        match cur.peek() {
            Some('"' | '\'') => {}
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
        }
        let (value, _) = quoted(cur, &format!("label `{key}`"))?;
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
        "all" => Aggregate::All,
        "any" => Aggregate::Any,
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
                    "aggregates are `min`, `max`, `mean`, `sum`, `count`, `success_ratio`, `rate`, \
                     percentiles `p0`..`p100` (e.g. `p99`, `p99.9`), and `all` and `any` with `contains`"
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

/// The metrics `contains` may test: those whose unit is text.
fn text_metrics() -> String {
    let names: Vec<String> = CATALOG
        .iter()
        .filter(|m| m.unit == Unit::Text)
        .map(|m| format!("`{}`", m.name))
        .collect();
    names.join(", ")
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
    let list = format!(
        "known metrics: {}; a service's own metrics are named `svc.NAME`",
        metric_list()
    );
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

pub(crate) mod reference;

#[cfg(test)]
mod tests;
