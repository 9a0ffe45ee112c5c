//! How record values map onto SQLite columns, and back.
//!
//! Every conversion here is exact: what a writer stores is what a reader gets
//! back, bit for bit, or the read fails with a typed conversion error naming
//! the column (never a silent default). Nothing in this module touches a
//! connection.
//!
//! - A sample value is three columns: `value_kind` (`num`, `text`, `set`,
//!   `none`), `value_num` (REAL, so reports can aggregate in SQL) and
//!   `value_text` (the text, a set as a JSON array, or the exact spelling of
//!   a number SQLite cannot hold, see [`encode_value`]).
//! - Labels, host facts and topology are JSON text.
//! - `u64`s (seed, start time, counts) are stored as the `i64` with the same
//!   bits, because SQLite integers are signed 64-bit and a drawn seed uses
//!   all 64 bits.

use std::fmt;

use netproof_sample::{Labels, Severity, Unit, Value};
use rusqlite::types::Type;

use crate::records::{RunStatus, Verdict};

/// A column held a value this binary cannot turn back into its type.
#[derive(Debug)]
pub struct BadColumn {
    /// The column.
    pub column: &'static str,
    /// What was wrong, as a sentence fragment.
    pub reason: String,
}

impl fmt::Display for BadColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column `{}`: {}", self.column, self.reason)
    }
}

impl std::error::Error for BadColumn {}

/// Wraps a [`BadColumn`] as the error rusqlite uses for failed reads, so a
/// corrupt row surfaces as [`crate::StoreError::Sqlite`] with the path.
pub fn bad(column: &'static str, reason: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        // rusqlite's "unknown column" index: the message then shows only our
        // reason, which names the column itself.
        usize::MAX,
        Type::Text,
        Box::new(BadColumn {
            column,
            reason: reason.into(),
        }),
    )
}

/// A row that a statement needed was not there (finishing a case that was
/// never begun, reading an artifact that does not exist).
#[derive(Debug)]
pub struct MissingRow {
    /// What was looked for, e.g. `case run`.
    pub what: &'static str,
    /// Its id.
    pub id: i64,
}

impl fmt::Display for MissingRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no {} with id {}", self.what, self.id)
    }
}

impl std::error::Error for MissingRow {}

/// Wraps a [`MissingRow`] as a rusqlite error (shown as just its message),
/// so it reaches the caller as [`crate::StoreError::Sqlite`] with the path.
pub fn missing(what: &'static str, id: i64) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        usize::MAX,
        Type::Null,
        Box::new(MissingRow { what, id }),
    )
}

/// A value ready to bind into the three value columns.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueColumns {
    /// `num`, `text`, `set` or `none`.
    pub kind: &'static str,
    /// The number, for `num` (NULL for NaN, which SQLite cannot store).
    pub num: Option<f64>,
    /// The text, a set's JSON array, or a number's exact spelling.
    pub text: Option<String>,
}

/// Splits a sample value into its columns.
///
/// SQLite turns a bound NaN into NULL and, in a REAL column, stores an
/// integral float as an integer, which loses the sign of `-0.0`. For those
/// two values (and only those, so ordinary numbers stay one column) the exact
/// Rust spelling also goes into `value_text`, and the reader prefers it.
pub fn encode_value(value: &Value) -> Result<ValueColumns, rusqlite::Error> {
    Ok(match value {
        Value::Num(v) => {
            let irregular = v.is_nan() || (*v == 0.0 && v.is_sign_negative());
            ValueColumns {
                kind: "num",
                num: (!v.is_nan()).then_some(*v),
                text: irregular.then(|| format!("{v:?}")),
            }
        }
        Value::Text(s) => ValueColumns {
            kind: "text",
            num: None,
            text: Some(s.clone()),
        },
        Value::Set(items) => ValueColumns {
            kind: "set",
            num: None,
            text: Some(to_json(items)?),
        },
        Value::None => ValueColumns {
            kind: "none",
            num: None,
            text: None,
        },
    })
}

/// Rebuilds a sample value from its columns.
pub fn decode_value(
    kind: &str,
    num: Option<f64>,
    text: Option<String>,
) -> Result<Value, rusqlite::Error> {
    match (kind, num, text) {
        ("num", _, Some(exact)) => exact
            .parse::<f64>()
            .map(Value::Num)
            .map_err(|_| bad("value_text", format!("`{exact}` is not a number"))),
        ("num", Some(v), None) => Ok(Value::Num(v)),
        ("num", None, None) => Err(bad("value_num", "a numeric sample has no number")),
        ("text", _, Some(s)) => Ok(Value::Text(s)),
        ("set", _, Some(json)) => Ok(Value::Set(from_json("value_text", &json)?)),
        ("text" | "set", _, None) => {
            Err(bad("value_text", format!("a `{kind}` sample has no text")))
        }
        ("none", _, _) => Ok(Value::None),
        (other, _, _) => Err(bad("value_kind", format!("unknown value kind `{other}`"))),
    }
}

/// Serialises labels, host facts or topology as JSON text.
pub fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, rusqlite::Error> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Parses JSON text written by [`to_json`].
pub fn from_json<T: serde::de::DeserializeOwned>(
    column: &'static str,
    json: &str,
) -> Result<T, rusqlite::Error> {
    serde_json::from_str(json).map_err(|e| bad(column, format!("invalid JSON: {e}")))
}

/// Labels from their JSON column.
pub fn decode_labels(json: &str) -> Result<Labels, rusqlite::Error> {
    from_json("labels", json)
}

/// A `u64` as the SQLite integer with the same bits.
pub fn u64_to_sql(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

/// The inverse of [`u64_to_sql`].
pub fn u64_from_sql(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

/// A `u32` column (pids, repetitions) read back.
pub fn u32_from_sql(column: &'static str, v: i64) -> Result<u32, rusqlite::Error> {
    u32::try_from(v).map_err(|_| bad(column, format!("{v} does not fit in 32 bits")))
}

/// A unit from its stored name.
pub fn decode_unit(name: &str) -> Result<Unit, rusqlite::Error> {
    Unit::from_name(name).ok_or_else(|| bad("unit", format!("unknown unit `{name}`")))
}

/// A severity from its stored name ([`Severity::as_str`]).
pub fn decode_severity(name: &str) -> Result<Severity, rusqlite::Error> {
    match name {
        "info" => Ok(Severity::Info),
        "warning" => Ok(Severity::Warning),
        "error" => Ok(Severity::Error),
        other => Err(bad("severity", format!("unknown severity `{other}`"))),
    }
}

/// A run status from its stored name.
pub fn decode_status(name: &str) -> Result<RunStatus, rusqlite::Error> {
    RunStatus::from_name(name).ok_or_else(|| bad("status", format!("unknown run status `{name}`")))
}

/// An optional verdict from its stored name.
pub fn decode_verdict(name: Option<String>) -> Result<Option<Verdict>, rusqlite::Error> {
    name.map(|n| {
        Verdict::from_name(&n).ok_or_else(|| bad("verdict", format!("unknown verdict `{n}`")))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: &Value) -> Value {
        let c = encode_value(v).expect("encodes");
        decode_value(c.kind, c.num, c.text).expect("decodes")
    }

    #[test]
    fn every_value_kind_round_trips() {
        for v in [
            Value::Num(0.004_213),
            Value::Num(-17.0),
            Value::Num(1e-300),
            Value::Num(f64::MAX),
            Value::Num(f64::INFINITY),
            Value::Text(String::new()),
            Value::Text("connection refused: `198.18.0.1:80`".into()),
            Value::set(["198.18.4.2", "198.18.4.1"]),
            Value::Set(vec![]),
            Value::None,
        ] {
            assert_eq!(round_trip(&v), v);
        }
    }

    #[test]
    fn ordinary_numbers_use_only_the_real_column() {
        let c = encode_value(&Value::Num(2.5)).unwrap();
        assert_eq!((c.kind, c.num, c.text), ("num", Some(2.5), None));
    }

    #[test]
    fn nan_and_negative_zero_keep_their_bits() {
        let Value::Num(z) = round_trip(&Value::Num(-0.0)) else {
            panic!("not a number")
        };
        assert_eq!(z.to_bits(), (-0.0f64).to_bits());
        let Value::Num(n) = round_trip(&Value::Num(f64::NAN)) else {
            panic!("not a number")
        };
        assert!(n.is_nan());
    }

    #[test]
    fn unknown_kind_is_an_error_not_a_default() {
        let e = decode_value("complex", None, None).unwrap_err();
        assert!(
            e.to_string().contains("unknown value kind `complex`"),
            "{e}"
        );
        assert!(decode_value("num", None, None).is_err());
        assert!(decode_value("set", None, Some("[1]".into())).is_err());
    }

    #[test]
    fn u64_survives_the_signed_column() {
        for v in [0, 1, u64::from(u32::MAX), u64::MAX, 1 << 63] {
            assert_eq!(u64_from_sql(u64_to_sql(v)), v);
        }
    }

    #[test]
    fn stored_names_round_trip() {
        for s in [Severity::Info, Severity::Warning, Severity::Error] {
            assert_eq!(decode_severity(s.as_str()).unwrap(), s);
        }
        for s in [RunStatus::Running, RunStatus::Aborted, RunStatus::Passed] {
            assert_eq!(decode_status(s.as_str()).unwrap(), s);
        }
        assert_eq!(
            decode_verdict(Some("pass".into())).unwrap(),
            Some(Verdict::Pass)
        );
        assert_eq!(decode_verdict(None).unwrap(), None);
        assert!(decode_verdict(Some("maybe".into())).is_err());
    }
}
