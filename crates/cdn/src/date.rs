//! HTTP dates (RFC 9110 §5.6.7): `Last-Modified` and `Date` written as
//! IMF-fixdate, and `If-Range` dates read back.
//!
//! Codec only. Only IMF-fixdate is read: the two obsolete forms (RFC 850,
//! asctime) are not, and an `If-Range` date that does not parse simply
//! does not match, which sends the whole object: the safe answer.

use std::time::{Duration, SystemTime};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `t` as IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT` (whole seconds;
/// times before 1970 are written as 1970).
pub fn format(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil(days as i64);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Reads an IMF-fixdate; `None` for anything else.
pub fn parse(text: &str) -> Option<SystemTime> {
    let b = text.trim().as_bytes();
    // "Sun, 06 Nov 1994 08:49:37 GMT" is exactly 29 bytes.
    // ASCII first, so the slices below never split a character.
    if !b.is_ascii() || b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let t = &s[r];
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let day = num(5..7)?;
    let month = MONTHS.iter().position(|m| *m == &s[8..11])? as u64 + 1;
    let year = num(12..16)?;
    let (h, mi, se) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if [&s[7..8], &s[11..12], &s[16..17]] != [" ", " ", " "]
        || &s[19..20] != ":"
        || &s[22..23] != ":"
    {
        return None;
    }
    if !(1..=31).contains(&day) || h > 23 || mi > 59 || se > 60 || year < 1970 {
        return None;
    }
    let days = days_from_civil(year as i64, month, day);
    if civil(days) != (year as i64, month, day) {
        return None; // 31 Feb and the like
    }
    let weekday = DAYS[(days.rem_euclid(7)) as usize];
    if weekday != &s[0..3] {
        return None;
    }
    Some(
        SystemTime::UNIX_EPOCH
            + Duration::from_secs(days as u64 * 86_400 + h * 3600 + mi * 60 + se),
    )
}

/// (year, month, day) of a count of days since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a civil date (`days_from_civil`).
fn days_from_civil(y: i64, m: u64, d: u64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_9110_example_round_trips() {
        let t = parse("Sun, 06 Nov 1994 08:49:37 GMT").expect("parses");
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            784_111_777
        );
        assert_eq!(format(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn every_day_for_decades_round_trips() {
        for day in (0..20_000u64).step_by(7) {
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(day * 86_400 + 3_661);
            assert_eq!(parse(&format(t)), Some(t), "{}", format(t));
        }
    }

    #[test]
    fn obsolete_forms_and_nonsense_do_not_parse() {
        for bad in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Mon, 06 Nov 1994 08:49:37 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
            "Sun, 0é Nov 1994 08:49:37 GMT",
            "Sun, é Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
