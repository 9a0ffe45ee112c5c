//! Typed access to the spanned TOML tree, reporting every misuse.
//!
//! The plan is first parsed into `toml`'s spanned document tree
//! ([`DeTable`]/[`DeValue`]), not into serde structs: serde stops at the
//! first error and its untagged and internally tagged enums drop spans.
//! Validators then read the tree through [`Table`] and [`Val`], whose
//! getters return `None` after recording a [`Finding`] in the [`Checker`]
//! (a wrong type, a missing key, a bad unit), so one pass reports every
//! problem and the caller simply skips what it could not read.
//!
//! Invariant: a getter that returns `None` for a value that is present has
//! reported why. Validators rely on it to build the model only when no
//! finding was recorded.

use std::cell::RefCell;
use std::ops::{Range, RangeInclusive};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::diagnostic::Finding;
use crate::model::Span;
use crate::spelling;
use crate::units::{self, UnitError};

/// Collects findings while validators walk the tree.
pub(crate) struct Checker<'s> {
    /// The plan text, for quoting values and locating string contents.
    pub text: &'s str,
    findings: Vec<Finding>,
}

impl<'s> Checker<'s> {
    pub(crate) fn new(text: &'s str) -> Self {
        Checker {
            text,
            findings: Vec::new(),
        }
    }

    /// Records a problem.
    pub(crate) fn report(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Whether a problem was reported at exactly `span`.
    pub(crate) fn has_finding_at(&self, span: Span) -> bool {
        self.findings.iter().any(|f| f.span() == span)
    }

    /// Whether a problem was reported anywhere inside `span`.
    pub(crate) fn has_finding_within(&self, span: Span) -> bool {
        self.findings
            .iter()
            .any(|f| span.start <= f.span().start && f.span().end <= span.end)
    }

    /// Whether anything has been reported.
    pub(crate) fn clean(&self) -> bool {
        self.findings.is_empty()
    }

    pub(crate) fn into_findings(self) -> Vec<Finding> {
        self.findings
    }

    /// The source text of `span`, shortened for a message.
    pub(crate) fn quote(&self, span: Span) -> String {
        let raw = self.text.get(span.start..span.end).unwrap_or("");
        shorten(raw)
    }
}

/// Keeps quoted values to one short line in messages; the label shows the
/// full value in context anyway.
fn shorten(raw: &str) -> String {
    const MAX: usize = 40;
    let first_line = raw.lines().next().unwrap_or("");
    if first_line.chars().count() > MAX || first_line.len() < raw.trim_end().len() {
        let cut: String = first_line.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        first_line.to_string()
    }
}

/// The span of a spanned TOML item.
pub(crate) fn span_of<T>(s: &Spanned<T>) -> Span {
    let r = s.span();
    Span::new(r.start, r.end)
}

/// "a string", "an integer": a TOML type with its article, for messages.
fn describe(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// A TOML table, with how messages name it (`` `[plan]` ``, `` `exec` step ``).
#[derive(Clone)]
pub(crate) struct Table<'a, 'i> {
    raw: &'a DeTable<'i>,
    span: Span,
    what: String,
    /// The keys [`Table::reject_unknown`] accepted, once it has run: only
    /// then does `require` know that a misspelt key has been reported.
    allowed: RefCell<Option<Vec<String>>>,
    /// Keys [`Table::get`] and [`Table::has`] act as if absent: a step's
    /// keys that a step reference or a search sets at run time.
    hidden: Vec<String>,
}

impl<'a, 'i> Table<'a, 'i> {
    /// The same table with `keys` treated as absent by `get` and `has`
    /// (they stay known to [`Table::reject_unknown`]).
    pub(crate) fn hiding(&self, keys: &[String]) -> Self {
        let mut t = self.clone();
        t.hidden.extend(keys.iter().cloned());
        t
    }

    pub(crate) fn new(raw: &'a DeTable<'i>, span: Span, what: impl Into<String>) -> Self {
        Table {
            raw,
            span,
            what: what.into(),
            allowed: RefCell::new(None),
            hidden: Vec::new(),
        }
    }

    /// The same table under another name in messages.
    pub(crate) fn new_like(other: &Self, what: impl Into<String>) -> Self {
        Table {
            raw: other.raw,
            span: other.span,
            what: what.into(),
            allowed: RefCell::new(None),
            hidden: other.hidden.clone(),
        }
    }

    /// Where the table is defined (its header, or its inline `{ ... }`).
    pub(crate) fn span(&self) -> Span {
        self.span
    }

    /// Keys present in the table, with their spans.
    pub(crate) fn keys(&self) -> impl Iterator<Item = (&'a str, Span)> + 'a {
        self.raw
            .iter()
            .map(|(k, _)| (k.get_ref().as_ref(), span_of(k)))
    }

    /// Whether `key` is hidden by [`Table::hiding`] (set at run time).
    pub(crate) fn hides(&self, key: &str) -> bool {
        self.hidden.iter().any(|h| h == key)
    }

    /// Whether `key` is present.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.raw.contains_key(key) && !self.hidden.iter().any(|h| h == key)
    }

    /// The value of `key`, if present, even when [`Table::hiding`] hides
    /// it (for messages about the key itself).
    pub(crate) fn get_any(&self, key: &str) -> Option<Val<'a, 'i>> {
        Table {
            hidden: Vec::new(),
            ..self.clone()
        }
        .get(key)
    }

    /// The value of `key`, if present.
    pub(crate) fn get(&self, key: &str) -> Option<Val<'a, 'i>> {
        if self.hidden.iter().any(|h| h == key) {
            return None;
        }
        let (k, v): (&'a Spanned<DeString<'i>>, &'a Spanned<DeValue<'i>>) =
            self.raw.get_key_value(key)?;
        Some(Val {
            name: key.to_string(),
            key_span: span_of(k),
            raw: v.get_ref(),
            span: span_of(v),
        })
    }

    /// A key of this table that looks like a misspelling of `key`.
    pub(crate) fn misspelling_of(&self, key: &str) -> Option<&'a str> {
        self.keys()
            .map(|(k, _)| k)
            .find(|k| *k != key && spelling::closest(k, [key]).is_some())
    }

    /// The value of `key`, reporting its absence; `help` says what to add.
    ///
    /// When [`Table::reject_unknown`] has already reported an unknown key
    /// that looks like a misspelling of `key` (`nmae`), the absence is not
    /// reported again: that finding's "did you mean" says it all, and one
    /// typo should make one finding.
    pub(crate) fn require(
        &self,
        ck: &mut Checker<'_>,
        key: &str,
        help: &str,
    ) -> Option<Val<'a, 'i>> {
        let v = self.get(key);
        let reported_typo = self.allowed.borrow().as_ref().is_some_and(|allowed| {
            self.keys().any(|(k, _)| {
                !allowed.iter().any(|a| a == k) && spelling::closest(k, [key]).is_some()
            })
        });
        if v.is_none() && !reported_typo {
            ck.report(
                Finding::new(
                    self.span,
                    format!("{} is missing the required key `{key}`", self.what),
                    format!("this {} has no `{key}`", self.noun()),
                )
                .hint(help.to_string()),
            );
        }
        v
    }

    /// "table" or "step", for labels.
    fn noun(&self) -> &'static str {
        if self.what.ends_with("step") {
            "step"
        } else {
            "table"
        }
    }

    /// Reports every key not in `allowed`, with a spelling suggestion or the
    /// list of allowed keys. `extra` can explain a key that belongs
    /// elsewhere (a `tcp_connect` key in an `exec` step).
    pub(crate) fn reject_unknown(
        &self,
        ck: &mut Checker<'_>,
        allowed: &[&str],
        extra: &dyn Fn(&str) -> Option<String>,
    ) {
        *self.allowed.borrow_mut() = Some(allowed.iter().map(|k| k.to_string()).collect());
        for (key, span) in self.keys() {
            if allowed.contains(&key) {
                continue;
            }
            let hint = extra(key)
                .or_else(|| spelling::did_you_mean(key, allowed.iter().copied()))
                .unwrap_or_else(|| format!("{} takes {}", self.what, spelling::one_of(allowed)));
            ck.report(
                Finding::new(
                    span,
                    format!("unknown key `{key}` in {}", self.what),
                    "unknown key",
                )
                .hint(hint),
            );
        }
    }
}

/// A value of the tree with the key it was found under.
#[derive(Clone)]
pub(crate) struct Val<'a, 'i> {
    /// The key as messages name it (`delay`, `command[2]`).
    name: String,
    key_span: Span,
    raw: &'a DeValue<'i>,
    span: Span,
}

/// A string value with its span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Str<'a> {
    pub value: &'a str,
    pub span: Span,
    /// The span of the characters between the quotes, when they map one to
    /// one onto `value` (no escapes, no trimmed leading newline).
    pub literal: Option<Span>,
}

impl Str<'_> {
    /// The span of `range` (byte offsets into `value`) in the source, or of
    /// the whole string when the source text does not map one to one.
    pub(crate) fn sub(&self, range: Range<usize>) -> Span {
        match self.literal {
            Some(lit) if range.start <= range.end && range.end <= self.value.len() => {
                Span::new(lit.start + range.start, lit.start + range.end)
            }
            _ => self.span,
        }
    }
}

impl<'a, 'i> Val<'a, 'i> {
    /// Where the value is.
    pub(crate) fn span(&self) -> Span {
        self.span
    }

    /// Where the key is (for problems about the key's presence).
    pub(crate) fn key_span(&self) -> Span {
        self.key_span
    }

    /// From the key to the end of the value.
    pub(crate) fn entry_span(&self) -> Span {
        Span::new(
            self.key_span.start.min(self.span.start),
            self.span.end.max(self.key_span.end),
        )
    }

    /// The key as messages name it.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Reports that the value has the wrong type.
    pub(crate) fn wrong_type(&self, ck: &mut Checker<'_>, expected: &str, hint: Option<String>) {
        let found = describe(self.raw);
        ck.report(
            Finding::new(
                self.span,
                format!(
                    "`{}` must be {expected}, found {found} `{}`",
                    self.name,
                    ck.quote(self.span)
                ),
                format!("expected {expected}"),
            )
            .maybe_hint(hint),
        );
    }

    /// Reports a problem with the value itself.
    pub(crate) fn invalid(
        &self,
        ck: &mut Checker<'_>,
        message: String,
        label: &str,
        hint: Option<String>,
    ) {
        ck.report(Finding::new(self.span, message, label).maybe_hint(hint));
    }

    pub(crate) fn str(&self, ck: &mut Checker<'_>) -> Option<Str<'a>> {
        match self.raw {
            DeValue::String(s) => Some(Str {
                value: s.as_ref(),
                span: self.span,
                literal: literal_span(ck.text, self.span, s.as_ref()),
            }),
            _ => {
                self.wrong_type(ck, "a string", None);
                None
            }
        }
    }

    /// A string that must not be empty or blank.
    pub(crate) fn text(&self, ck: &mut Checker<'_>) -> Option<Str<'a>> {
        let s = self.str(ck)?;
        if s.value.trim().is_empty() {
            self.invalid(
                ck,
                format!("`{}` must not be empty", self.name),
                "empty",
                None,
            );
            return None;
        }
        Some(s)
    }

    /// An integer; `unit` names what it counts in messages.
    pub(crate) fn integer(&self, ck: &mut Checker<'_>, unit: &str) -> Option<i64> {
        let DeValue::Integer(i) = self.raw else {
            let hint = match self.raw {
                DeValue::String(s) if s.trim().parse::<i64>().is_ok() => Some(format!(
                    "write the number without quotes: `{} = {}`",
                    self.name,
                    s.trim()
                )),
                _ => None,
            };
            self.wrong_type(ck, &format!("an integer ({unit})"), hint);
            return None;
        };
        // TOML integers are i64; the parser has already rejected larger ones.
        let value = i64::from_str_radix(i.as_str(), i.radix()).ok();
        if value.is_none() {
            self.invalid(
                ck,
                format!("`{}` is too large", self.name),
                "too large",
                None,
            );
        }
        value
    }

    /// An integer within `range`; `unit` names what it counts in messages.
    pub(crate) fn int_in(
        &self,
        ck: &mut Checker<'_>,
        range: RangeInclusive<i64>,
        unit: &str,
    ) -> Option<i64> {
        let v = self.integer(ck, unit)?;
        if range.contains(&v) {
            return Some(v);
        }
        self.invalid(
            ck,
            format!(
                "`{}` is {v}, outside {}..={}",
                self.name,
                range.start(),
                range.end()
            ),
            "out of range",
            Some(format!(
                "`{}` must be between {} and {} {unit}",
                self.name,
                range.start(),
                range.end()
            )),
        );
        None
    }

    /// An array; elements are named `name[i]` in messages.
    pub(crate) fn array(&self, ck: &mut Checker<'_>, expected: &str) -> Option<Vec<Val<'a, 'i>>> {
        let DeValue::Array(a) = self.raw else {
            self.wrong_type(ck, expected, None);
            return None;
        };
        Some(
            a.iter()
                .enumerate()
                .map(|(i, v)| Val {
                    name: format!("{}[{i}]", self.name),
                    key_span: self.key_span,
                    raw: v.get_ref(),
                    span: span_of(v),
                })
                .collect(),
        )
    }

    /// A table, named `what` in messages.
    pub(crate) fn table(
        &self,
        ck: &mut Checker<'_>,
        what: impl Into<String>,
        expected: &str,
    ) -> Option<Table<'a, 'i>> {
        match self.raw {
            DeValue::Table(t) => Some(Table::new(t, self.span, what)),
            _ => {
                self.wrong_type(ck, expected, None);
                None
            }
        }
    }

    /// An array of strings; `None` if the value or any element is not a
    /// string (each bad element is reported).
    pub(crate) fn strings(&self, ck: &mut Checker<'_>) -> Option<Vec<Str<'a>>> {
        let items = self.array(ck, "an array of strings")?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in &items {
            match item.str(ck) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A table of string values (an environment).
    pub(crate) fn string_table(&self, ck: &mut Checker<'_>) -> Option<Vec<(String, String)>> {
        let DeValue::Table(t) = self.raw else {
            self.wrong_type(
                ck,
                "a table of strings",
                Some(format!("write `{} = {{ NAME = \"value\" }}`", self.name)),
            );
            return None;
        };
        let mut out = Vec::with_capacity(t.len());
        let mut ok = true;
        for (k, v) in t.iter() {
            let key: &str = k.get_ref().as_ref();
            let val = Val {
                name: format!("{}.{key}", self.name),
                key_span: span_of(k),
                raw: v.get_ref(),
                span: span_of(v),
            };
            if !is_env_name(key) {
                ck.report(
                    Finding::new(
                        span_of(k),
                        format!("`{key}` is not a valid environment variable name"),
                        "invalid name",
                    )
                    .hint("names are letters, digits and `_`, not starting with a digit"),
                );
                ok = false;
            }
            match val.str(ck) {
                Some(s) => out.push((key.to_string(), s.value.to_string())),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A duration string (`8ms`).
    pub(crate) fn duration(&self, ck: &mut Checker<'_>) -> Option<Duration> {
        self.quantity(
            ck,
            "a duration such as `\"8ms\"`",
            units::parse_duration,
            "5s",
        )
    }

    /// A rate string (`100Mbit`), in bits per second.
    pub(crate) fn rate(&self, ck: &mut Checker<'_>) -> Option<u64> {
        self.quantity(
            ck,
            "a rate such as `\"100Mbit\"`",
            units::parse_rate,
            "100Mbit",
        )
    }

    /// The value as a table, if it is one (nothing is reported otherwise).
    pub(crate) fn as_table(&self) -> Option<Table<'a, 'i>> {
        match self.raw {
            DeValue::Table(t) => Some(Table::new(t, self.span, self.name.clone())),
            _ => None,
        }
    }

    /// The value as `toml` parsed it, for walking a tree whose shape the
    /// plan does not fix (a CDN service's `config`).
    pub(crate) fn raw(&self) -> &'a DeValue<'i> {
        self.raw
    }

    /// Whether the value is a TOML integer.
    pub(crate) fn is_integer(&self) -> bool {
        matches!(self.raw, DeValue::Integer(_))
    }

    /// Whether the value is a TOML boolean.
    pub(crate) fn is_bool(&self) -> bool {
        matches!(self.raw, DeValue::Boolean(_))
    }

    /// A size string (`64KiB`, `1500B`), in bytes.
    pub(crate) fn size(&self, ck: &mut Checker<'_>) -> Option<u64> {
        self.quantity(ck, "a size such as `\"64KiB\"`", units::parse_size, "64KiB")
    }

    /// `true` or `false`.
    pub(crate) fn boolean(&self, ck: &mut Checker<'_>) -> Option<bool> {
        match self.raw {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(ck, "`true` or `false`", None);
                None
            }
        }
    }

    /// A ratio: a string (`0.1%`, `0.001`) or a TOML number in 0..=1.
    pub(crate) fn ratio(&self, ck: &mut Checker<'_>) -> Option<f64> {
        let number = match self.raw {
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|v| v as f64),
            _ => None,
        };
        if let Some(n) = number {
            let quoted = ck.quote(self.span);
            return match units::ratio_from_number(n, &quoted) {
                Ok(r) => Some(r),
                Err(e) => {
                    self.unit_error(ck, &e);
                    None
                }
            };
        }
        self.quantity(ck, "a ratio such as `\"0.1%\"`", units::parse_ratio, "0.1%")
    }

    fn quantity<T>(
        &self,
        ck: &mut Checker<'_>,
        expected: &str,
        parse: fn(&str) -> Result<T, UnitError>,
        example: &str,
    ) -> Option<T> {
        let DeValue::String(s) = self.raw else {
            let hint = match self.raw {
                DeValue::Integer(_) | DeValue::Float(_) => Some(format!(
                    "write the value as a string with a unit, e.g. `{} = \"{example}\"`",
                    self.name
                )),
                _ => None,
            };
            self.wrong_type(ck, expected, hint);
            return None;
        };
        match parse(s) {
            Ok(v) => Some(v),
            Err(e) => {
                self.unit_error(ck, &e);
                None
            }
        }
    }

    fn unit_error(&self, ck: &mut Checker<'_>, e: &UnitError) {
        ck.report(
            Finding::new(self.span, format!("`{}`: {e}", self.name), "invalid value")
                .maybe_hint(e.hint()),
        );
    }
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The span of a string's characters inside its quotes, when the source
/// text between the quotes is exactly the value (so byte offsets into the
/// value are byte offsets into the source).
fn literal_span(text: &str, span: Span, value: &str) -> Option<Span> {
    let raw = text.get(span.start..span.end)?;
    let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        3
    } else if raw.starts_with('"') || raw.starts_with('\'') {
        1
    } else {
        return None;
    };
    let inner = raw.get(quote..raw.len().checked_sub(quote)?)?;
    (inner == value).then(|| Span::new(span.start + quote, span.end - quote))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_spans_only_without_escapes() {
        let text = r#"a = "x y" b = "x\ty" c = 'lit' d = """ml""""#;
        let at = |needle: &str| {
            let start = text.find(needle).unwrap();
            Span::new(start, start + needle.len())
        };
        assert_eq!(
            literal_span(text, at("\"x y\""), "x y"),
            Some(Span::new(5, 8))
        );
        assert_eq!(literal_span(text, at(r#""x\ty""#), "x\ty"), None);
        assert!(literal_span(text, at("'lit'"), "lit").is_some());
        assert!(literal_span(text, at(r#""""ml""""#), "ml").is_some());
        assert_eq!(literal_span(text, Span::new(500, 600), "x"), None);
    }

    #[test]
    fn long_values_are_shortened() {
        assert_eq!(shorten("abc"), "abc");
        assert_eq!(shorten("a\nb"), "a…");
        assert_eq!(shorten(&"x".repeat(50)).chars().count(), 41);
    }
}
