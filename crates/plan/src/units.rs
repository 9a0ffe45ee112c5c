//! Quantities written as people write them: durations, rates, sizes, ratios.
//!
//! Every parser takes the text of one TOML string (`"8ms"`, `"200Mbit"`,
//! `"0.1%"`) and returns the quantity in its canonical unit: a
//! [`Duration`], bits per second, bytes, or a ratio between 0 and 1. Numbers
//! are decimal (`1.5s`) and are converted exactly, in integer arithmetic, so
//! `1.5Gbps` is exactly 1 500 000 000 bit/s; a value finer than the unit can
//! hold (`0.5ns`, `0.1bit`) is an error rather than silently rounded.
//!
//! A bare number is an error for durations, rates and sizes: `delay = "8"`
//! could mean seconds or milliseconds, and guessing would change a result
//! without showing it. Ratios are the exception, because a fraction between
//! 0 and 1 has no unit to forget.
//!
//! Rates follow the project's rule (DESIGN "Units"): `Mbit`, `Mbit/s` and
//! `Mbps` all mean megabits (unlike tc, where `mbps` means megabytes), and
//! bytes need an upper-case `B` with `/s` (`12.5MB/s`). Rate prefixes are
//! case-insensitive (`mbit` is `Mbit`) because a milli-bit per second is
//! never what anyone means; size prefixes are not, because `mB` is nobody's
//! unit and `b` versus `B` is the bit/byte distinction.
//!
//! The `format_*` functions write a canonical value back in the shortest
//! exact form, so `parse(format(x)) == x` for every value.

use std::fmt;
use std::time::Duration;

/// The kind of quantity a parser reads, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// A duration (`8ms`).
    Duration,
    /// A rate in bits per second (`100Mbit`).
    Rate,
    /// A size in bytes (`1500B`, `4MiB`).
    Size,
    /// A ratio between 0 and 1 (`0.1%`, `0.001`).
    Ratio,
}

impl Quantity {
    /// The units this quantity accepts, as a sentence for hints.
    pub fn accepted(self) -> &'static str {
        match self {
            Quantity::Duration => "durations take `ns`, `us` (or `µs`), `ms`, `s`, `min` or `h`",
            Quantity::Rate => {
                "rates are bits per second: `bit`, `kbit`, `Mbit`, `Gbit`, `Tbit` (also written `Mbit/s` or `Mbps`); \
                 bytes per second only with `B`: `MB/s`, `MiB/s`"
            }
            Quantity::Size => {
                "sizes take `B`, `KB`, `MB`, `GB`, `TB` (powers of 1000) or `KiB`, `MiB`, `GiB`, `TiB` \
                 (powers of 1024)"
            }
            Quantity::Ratio => {
                "write a percentage like `0.1%` or a fraction between 0 and 1 like `0.001`"
            }
        }
    }

    /// A typical value, for hints.
    pub fn example(self) -> &'static str {
        match self {
            Quantity::Duration => "5s",
            Quantity::Rate => "100Mbit",
            Quantity::Size => "1500B",
            Quantity::Ratio => "0.1%",
        }
    }

    /// [`Quantity::accepted`] with an example.
    fn accepted_example(self) -> String {
        match self {
            Quantity::Ratio => self.accepted().to_string(),
            _ => format!("{}, e.g. `{}`", self.accepted(), self.example()),
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Quantity::Duration => "duration",
            Quantity::Rate => "rate",
            Quantity::Size => "size",
            Quantity::Ratio => "ratio",
        })
    }
}

/// Why a quantity could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Nothing was written.
    #[error("empty {quantity}")]
    Empty {
        /// What was expected.
        quantity: Quantity,
    },
    /// A number with no unit where a unit is required.
    #[error("{quantity} `{text}` has no unit")]
    MissingUnit {
        /// What was expected.
        quantity: Quantity,
        /// The text as written.
        text: String,
    },
    /// The text does not start with a number.
    #[error("{quantity} `{text}` does not start with a number")]
    NotANumber {
        /// What was expected.
        quantity: Quantity,
        /// The text as written.
        text: String,
    },
    /// The unit is not one this quantity accepts.
    #[error("unknown {quantity} unit `{unit}` in `{text}`")]
    UnknownUnit {
        /// What was expected.
        quantity: Quantity,
        /// The text as written.
        text: String,
        /// The unit part.
        unit: String,
    },
    /// The value is finer than the canonical unit can hold.
    #[error("{quantity} `{text}` is not a whole number of {smallest}")]
    NotWhole {
        /// What was expected.
        quantity: Quantity,
        /// The text as written.
        text: String,
        /// The canonical unit's name (`nanoseconds`, `bits per second`, `bytes`).
        smallest: &'static str,
    },
    /// The value does not fit.
    #[error("{quantity} `{text}` is too large")]
    TooLarge {
        /// What was expected.
        quantity: Quantity,
        /// The text as written.
        text: String,
    },
    /// A ratio above 1 (100 %).
    #[error("ratio `{text}` is more than 100%")]
    AboveOne {
        /// The text as written.
        text: String,
    },
}

impl UnitError {
    /// What to write instead, when it can be guessed.
    pub fn hint(&self) -> Option<String> {
        match self {
            UnitError::Empty { quantity } | UnitError::NotANumber { quantity, .. } => {
                Some(quantity.accepted_example())
            }
            UnitError::MissingUnit { quantity, text } => Some(match quantity {
                Quantity::Duration => format!("write a unit, e.g. `5s`; {}", quantity.accepted()),
                Quantity::Rate => format!(
                    "write a unit, e.g. `{}Mbit`; {}",
                    text.trim(),
                    quantity.accepted()
                ),
                Quantity::Size => format!(
                    "write a unit, e.g. `{}B`; {}",
                    text.trim(),
                    quantity.accepted()
                ),
                Quantity::Ratio => quantity.accepted().to_string(),
            }),
            UnitError::UnknownUnit { quantity, unit, .. } => {
                Some(unknown_unit_hint(*quantity, unit))
            }
            UnitError::NotWhole { quantity, .. } => Some(match quantity {
                Quantity::Duration => "the smallest duration is `1ns`".to_string(),
                Quantity::Rate => "the smallest rate step is `1bit`".to_string(),
                Quantity::Size => "the smallest size step is `1B`".to_string(),
                Quantity::Ratio => quantity.accepted().to_string(),
            }),
            UnitError::TooLarge { .. } => None,
            UnitError::AboveOne { .. } => Some(Quantity::Ratio.accepted().to_string()),
        }
    }
}

/// A hint for a unit that was not recognised, naming the likely intent for
/// the confusions people actually make.
fn unknown_unit_hint(quantity: Quantity, unit: &str) -> String {
    let specific = match (quantity, unit) {
        (Quantity::Duration, "m") => Some("write `min` for minutes or `ms` for milliseconds"),
        (Quantity::Duration, "sec" | "secs" | "second" | "seconds") => {
            Some("write `s` for seconds")
        }
        (Quantity::Duration, "msec" | "msecs") => Some("write `ms` for milliseconds"),
        (Quantity::Duration, "usec" | "usecs") => Some("write `us` for microseconds"),
        (Quantity::Rate, u)
            if strip_prefix_ci(u).1.is_empty() || u.ends_with('B') || u.ends_with('b') =>
        {
            Some("a rate needs bits (`Mbit`, `Mbps`) or bytes per second (`MB/s`)")
        }
        (Quantity::Size, u) if u.ends_with('b') => {
            Some("sizes are bytes, written with an upper-case `B` (`KB`, `MiB`)")
        }
        (Quantity::Size, u) if u.ends_with("/s") || u.ends_with("ps") => {
            Some("this is a size, not a rate: drop the `/s`")
        }
        _ => None,
    };
    match specific {
        Some(s) => format!("{s}; {}", quantity.accepted()),
        None => quantity.accepted_example(),
    }
}

/// A non-negative decimal number read exactly: `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    mantissa: u128,
    scale: u32,
    /// Non-zero digits beyond [`MAX_SCALE`] were dropped: the value is not
    /// exactly `mantissa / 10^scale`.
    truncated: bool,
}

/// At most this many fraction digits are kept; more cannot matter to a
/// nanosecond, a bit or a byte, and would only risk overflow.
const MAX_SCALE: u32 = 18;

impl Decimal {
    /// `mantissa * factor / 10^scale` if that is a whole number that fits.
    fn times(self, factor: u128) -> Result<u128, Inexact> {
        let product = self.mantissa.checked_mul(factor).ok_or(Inexact::TooLarge)?;
        let divisor = 10u128.pow(self.scale);
        if product % divisor != 0 || self.truncated {
            return Err(Inexact::NotWhole);
        }
        Ok(product / divisor)
    }

    /// The nearest `f64` to `mantissa / 10^(scale + extra)`, correctly
    /// rounded (via the standard library's decimal parser).
    fn to_f64_scaled(self, extra: u32) -> f64 {
        format!("{}e-{}", self.mantissa, self.scale + extra)
            .parse()
            .unwrap_or(f64::NAN)
    }
}

/// Why a number could not be read or converted exactly.
enum Inexact {
    TooLarge,
    NotWhole,
    Malformed,
}

/// Splits `s` (already trimmed) into a decimal number and the rest (its
/// unit; spaces between number and unit are allowed).
fn split_number(s: &str) -> Result<(Decimal, &str), Inexact> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut mantissa: u128 = 0;
    let mut scale = 0u32;
    let mut truncated = false;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(u128::from(bytes[i] - b'0')))
            .ok_or(Inexact::TooLarge)?;
        i += 1;
    }
    if i == 0 {
        return Err(Inexact::Malformed);
    }
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            if scale < MAX_SCALE {
                mantissa = mantissa
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(u128::from(bytes[i] - b'0')))
                    .ok_or(Inexact::TooLarge)?;
                scale += 1;
            } else if bytes[i] != b'0' {
                truncated = true;
            }
            i += 1;
        }
        if i == start {
            // `5.` is a typo more often than a number.
            return Err(Inexact::Malformed);
        }
    }
    let number = Decimal {
        mantissa,
        scale,
        truncated,
    };
    Ok((number, s[i..].trim_start()))
}

/// [`split_number`] with its failure turned into the error for `quantity`.
fn number_and_unit(quantity: Quantity, text: &str) -> Result<(Decimal, &str), UnitError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(UnitError::Empty { quantity });
    }
    split_number(s).map_err(|e| match e {
        Inexact::TooLarge => UnitError::TooLarge {
            quantity,
            text: text.to_string(),
        },
        Inexact::NotWhole | Inexact::Malformed => UnitError::NotANumber {
            quantity,
            text: text.to_string(),
        },
    })
}

/// Parses a duration: `8ms`, `1.5s`, `250us`, `250µs`, `10ns`, `2min`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let q = Quantity::Duration;
    let (number, unit) = number_and_unit(q, text)?;
    let nanos_per_unit: u128 = match unit {
        "" => {
            return Err(UnitError::MissingUnit {
                quantity: q,
                text: text.to_string(),
            });
        }
        "ns" => 1,
        // U+00B5 MICRO SIGN and U+03BC GREEK SMALL LETTER MU look the same;
        // keyboards produce either.
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "min" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        other => {
            return Err(UnitError::UnknownUnit {
                quantity: q,
                text: text.to_string(),
                unit: other.to_string(),
            });
        }
    };
    let nanos = number
        .times(nanos_per_unit)
        .map_err(|e| inexact(e, q, text, "nanoseconds"))?;
    let nanos = u64::try_from(nanos).map_err(|_| UnitError::TooLarge {
        quantity: q,
        text: text.to_string(),
    })?;
    Ok(Duration::from_nanos(nanos))
}

fn inexact(e: Inexact, quantity: Quantity, text: &str, smallest: &'static str) -> UnitError {
    match e {
        Inexact::TooLarge => UnitError::TooLarge {
            quantity,
            text: text.to_string(),
        },
        Inexact::NotWhole => UnitError::NotWhole {
            quantity,
            text: text.to_string(),
            smallest,
        },
        Inexact::Malformed => UnitError::NotANumber {
            quantity,
            text: text.to_string(),
        },
    }
}

/// Splits a unit into its SI or binary prefix multiplier and the rest,
/// ignoring the prefix letter's case (for rates).
fn strip_prefix_ci(unit: &str) -> (u128, &str) {
    let mut chars = unit.chars();
    let Some(first) = chars.next() else {
        return (1, unit);
    };
    let power = match first.to_ascii_lowercase() {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        _ => return (1, unit),
    };
    let rest = chars.as_str();
    if let Some(after_i) = rest.strip_prefix('i') {
        // `Mibit`, `MiB/s`: binary prefixes. `i` never starts a base unit
        // here, so this cannot misread anything.
        (1024u128.pow(power), after_i)
    } else {
        (1000u128.pow(power), rest)
    }
}

/// Parses a rate into bits per second: `100Mbit`, `100Mbit/s`, `100Mbps`,
/// `1.5Gbps`, `500kbit`, `64000bit`, `12.5MB/s` (bytes), `1MiB/s`.
pub fn parse_rate(text: &str) -> Result<u64, UnitError> {
    let q = Quantity::Rate;
    let (number, unit) = number_and_unit(q, text)?;
    if unit.is_empty() {
        return Err(UnitError::MissingUnit {
            quantity: q,
            text: text.to_string(),
        });
    }
    let (prefix, base) = strip_prefix_ci(unit);
    let bits_per_unit: u128 = match base {
        "bit" | "bits" | "bit/s" | "bits/s" | "bps" | "b/s" => 1,
        "B/s" | "Bps" => 8,
        _ => {
            return Err(UnitError::UnknownUnit {
                quantity: q,
                text: text.to_string(),
                unit: unit.to_string(),
            });
        }
    };
    let bits = number
        .times(prefix * bits_per_unit)
        .map_err(|e| inexact(e, q, text, "bits per second"))?;
    u64::try_from(bits).map_err(|_| UnitError::TooLarge {
        quantity: q,
        text: text.to_string(),
    })
}

/// Parses a size into bytes: `1500B`, `64KB` (decimal), `4MiB` (binary).
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let q = Quantity::Size;
    let (number, unit) = number_and_unit(q, text)?;
    let bytes_per_unit: u128 = match unit {
        "" => {
            return Err(UnitError::MissingUnit {
                quantity: q,
                text: text.to_string(),
            });
        }
        "B" => 1,
        // `kB` is the SI spelling, `KB` the common one; both are 1000.
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        other => {
            return Err(UnitError::UnknownUnit {
                quantity: q,
                text: text.to_string(),
                unit: other.to_string(),
            });
        }
    };
    let bytes = number
        .times(bytes_per_unit)
        .map_err(|e| inexact(e, q, text, "bytes"))?;
    u64::try_from(bytes).map_err(|_| UnitError::TooLarge {
        quantity: q,
        text: text.to_string(),
    })
}

/// Parses a ratio between 0 and 1: `0.1%` (0.001), `5%`, or a bare
/// fraction such as `0.001`.
pub fn parse_ratio(text: &str) -> Result<f64, UnitError> {
    let q = Quantity::Ratio;
    let (number, unit) = number_and_unit(q, text)?;
    let ratio = match unit {
        "%" => number.to_f64_scaled(2),
        "" => number.to_f64_scaled(0),
        other => {
            return Err(UnitError::UnknownUnit {
                quantity: q,
                text: text.to_string(),
                unit: other.to_string(),
            });
        }
    };
    check_ratio(ratio, text)
}

/// Checks that a ratio given as a TOML number lies in 0..=1.
pub fn ratio_from_number(value: f64, text: &str) -> Result<f64, UnitError> {
    if value.is_nan() || value < 0.0 {
        return Err(UnitError::NotANumber {
            quantity: Quantity::Ratio,
            text: text.to_string(),
        });
    }
    check_ratio(value, text)
}

fn check_ratio(ratio: f64, text: &str) -> Result<f64, UnitError> {
    if ratio > 1.0 || ratio.is_nan() {
        return Err(UnitError::AboveOne {
            text: text.to_string(),
        });
    }
    Ok(ratio)
}

/// Writes a duration in the largest unit that holds it exactly (`8ms`,
/// `1500ms`, `2min`); `parse_duration` reads it back unchanged.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    const UNITS: [(u128, &str); 6] = [
        (3_600_000_000_000, "h"),
        (60_000_000_000, "min"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    if nanos == 0 {
        return "0s".to_string();
    }
    for (per, name) in UNITS {
        if nanos.is_multiple_of(per) {
            return format!("{}{name}", nanos / per);
        }
    }
    format!("{nanos}ns")
}

/// Writes a rate in bits per second with the largest decimal prefix that
/// holds it exactly (`100Mbit`, `64000bit` stays `64kbit`).
pub fn format_rate(bits_per_second: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1_000_000_000_000, "Tbit"),
        (1_000_000_000, "Gbit"),
        (1_000_000, "Mbit"),
        (1_000, "kbit"),
    ];
    if bits_per_second != 0 {
        for (per, name) in UNITS {
            if bits_per_second.is_multiple_of(per) {
                return format!("{}{name}", bits_per_second / per);
            }
        }
    }
    format!("{bits_per_second}bit")
}

/// Writes a size with the largest prefix (binary or decimal) that holds it
/// exactly (`4MiB`, `64KB`, `1500B`).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 8] = [
        (1 << 40, "TiB"),
        (1_000_000_000_000, "TB"),
        (1 << 30, "GiB"),
        (1_000_000_000, "GB"),
        (1 << 20, "MiB"),
        (1_000_000, "MB"),
        (1 << 10, "KiB"),
        (1_000, "KB"),
    ];
    if bytes != 0 {
        for (per, name) in UNITS {
            if bytes.is_multiple_of(per) {
                return format!("{}{name}", bytes / per);
            }
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations_as_people_write_them() {
        assert_eq!(parse_duration("8ms"), Ok(ms(8)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("250μs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("10ns"), Ok(Duration::from_nanos(10)));
        assert_eq!(parse_duration("2min"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration(" 5 s "), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("0.000000001s"), Ok(Duration::from_nanos(1)));
    }

    #[test]
    fn bare_number_duration_asks_for_a_unit() {
        let e = parse_duration("8").unwrap_err();
        assert!(matches!(e, UnitError::MissingUnit { .. }));
        assert!(e.hint().unwrap().starts_with("write a unit, e.g. `5s`"));
    }

    #[test]
    fn bad_durations_say_which_units_exist() {
        for bad in [
            "",
            "ms",
            "8m",
            "8 parsecs",
            "-1s",
            "1.s",
            ".5s",
            "8MS",
            "1e3ms",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.hint().is_some(), "{bad}: {e}");
        }
        assert!(
            parse_duration("8m")
                .unwrap_err()
                .hint()
                .unwrap()
                .contains("`min`")
        );
        assert!(matches!(
            parse_duration("0.5ns"),
            Err(UnitError::NotWhole { .. })
        ));
        assert!(matches!(
            parse_duration("99999999999h"),
            Err(UnitError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_duration("999999999999999999999999999999999999999999s"),
            Err(UnitError::TooLarge { .. })
        ));
        let many = format!("1.{}1s", "0".repeat(100));
        assert!(matches!(
            parse_duration(&many),
            Err(UnitError::NotWhole { .. })
        ));
    }

    #[test]
    fn rates_are_bits_unless_written_with_big_b() {
        let m = 1_000_000;
        assert_eq!(parse_rate("100Mbit"), Ok(100 * m));
        assert_eq!(parse_rate("100Mbit/s"), Ok(100 * m));
        assert_eq!(parse_rate("100Mbps"), Ok(100 * m));
        // Unlike tc, `mbps` is megabits.
        assert_eq!(parse_rate("100mbps"), Ok(100 * m));
        assert_eq!(parse_rate("1Gbit"), Ok(1000 * m));
        assert_eq!(parse_rate("1.5Gbps"), Ok(1500 * m));
        assert_eq!(parse_rate("500kbit"), Ok(500_000));
        assert_eq!(parse_rate("500Kbit"), Ok(500_000));
        assert_eq!(parse_rate("64000bit"), Ok(64_000));
        assert_eq!(parse_rate("12.5MB/s"), Ok(100 * m));
        assert_eq!(parse_rate("12.5MBps"), Ok(100 * m));
        assert_eq!(parse_rate("1MiB/s"), Ok(8 * 1024 * 1024));
        assert_eq!(parse_rate("1Mibit"), Ok(1024 * 1024));
        assert_eq!(parse_rate("2Tbit"), Ok(2_000_000 * m));
    }

    #[test]
    fn bad_rates() {
        assert!(matches!(
            parse_rate("100"),
            Err(UnitError::MissingUnit { .. })
        ));
        assert!(matches!(
            parse_rate("100M"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_rate("12.5MB"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_rate("0.1bit"),
            Err(UnitError::NotWhole { .. })
        ));
        assert!(matches!(
            parse_rate("99999999Tbit"),
            Err(UnitError::TooLarge { .. })
        ));
        assert!(
            parse_rate("100Mb")
                .unwrap_err()
                .hint()
                .unwrap()
                .contains("bits")
        );
    }

    #[test]
    fn sizes_decimal_and_binary() {
        assert_eq!(parse_size("1500B"), Ok(1500));
        assert_eq!(parse_size("64KB"), Ok(64_000));
        assert_eq!(parse_size("64kB"), Ok(64_000));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2TB"), Ok(2_000_000_000_000));
        assert_eq!(parse_size("1TiB"), Ok(1 << 40));
        assert!(matches!(
            parse_size("1500"),
            Err(UnitError::MissingUnit { .. })
        ));
        assert!(matches!(
            parse_size("0.3KiB"),
            Err(UnitError::NotWhole { .. })
        ));
        assert!(
            parse_size("4mb")
                .unwrap_err()
                .hint()
                .unwrap()
                .contains("upper-case")
        );
        assert!(
            parse_size("4MB/s")
                .unwrap_err()
                .hint()
                .unwrap()
                .contains("not a rate")
        );
    }

    #[test]
    fn ratios_percent_or_fraction() {
        assert_eq!(parse_ratio("0.1%"), Ok(0.001));
        assert_eq!(parse_ratio("5%"), Ok(0.05));
        assert_eq!(parse_ratio("100%"), Ok(1.0));
        assert_eq!(parse_ratio("0.001"), Ok(0.001));
        assert_eq!(parse_ratio("1"), Ok(1.0));
        assert_eq!(parse_ratio("0"), Ok(0.0));
        assert!(matches!(
            parse_ratio("150%"),
            Err(UnitError::AboveOne { .. })
        ));
        assert!(matches!(
            parse_ratio("1.5"),
            Err(UnitError::AboveOne { .. })
        ));
        assert!(matches!(
            parse_ratio("-1%"),
            Err(UnitError::NotANumber { .. })
        ));
        assert!(matches!(
            parse_ratio("5 percent"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert_eq!(ratio_from_number(0.25, "0.25"), Ok(0.25));
        assert!(ratio_from_number(-0.25, "-0.25").is_err());
        assert!(ratio_from_number(2.0, "2.0").is_err());
    }

    /// A fixed-seed xorshift so the round trips cover many values without
    /// a dependency and without unseeded randomness.
    fn values(seed: u64, n: usize) -> impl Iterator<Item = u64> {
        let mut x = seed;
        (0..n).map(move |i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mix magnitudes: small, round and large values.
            match i % 4 {
                0 => x % 1000,
                1 => (x % 1000) * 1_000_000,
                2 => (x % 97) << 20,
                _ => x >> (x % 40),
            }
        })
    }

    #[test]
    fn duration_round_trips() {
        for v in values(0x9e37_79b9_7f4a_7c15, 2000) {
            let d = Duration::from_nanos(v);
            let s = format_duration(d);
            assert_eq!(parse_duration(&s), Ok(d), "{s}");
        }
    }

    #[test]
    fn rate_round_trips() {
        for v in values(0x1234_5678_9abc_def1, 2000) {
            let s = format_rate(v);
            assert_eq!(parse_rate(&s), Ok(v), "{s}");
        }
        assert_eq!(format_rate(100_000_000), "100Mbit");
        assert_eq!(format_rate(64_000), "64kbit");
    }

    #[test]
    fn size_round_trips() {
        for v in values(0x0fed_cba9_8765_4321, 2000) {
            let s = format_size(v);
            assert_eq!(parse_size(&s), Ok(v), "{s}");
        }
        assert_eq!(format_size(4 << 20), "4MiB");
        assert_eq!(format_size(1500), "1500B");
    }

    #[test]
    fn decimal_round_trips_through_text() {
        // Every `a.bcd` with up to three decimals reads back exactly in
        // milliseconds, whatever the spelling.
        for v in values(42, 500).map(|v| v % 10_000_000) {
            let text = format!("{}.{:03}s", v / 1000, v % 1000);
            assert_eq!(parse_duration(&text), Ok(ms(v)), "{text}");
            let percent = format!("{}%", v % 101);
            let r = parse_ratio(&percent).unwrap();
            assert!((r - (v % 101) as f64 / 100.0).abs() < 1e-15, "{percent}");
        }
    }
}
