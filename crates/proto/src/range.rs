//! Byte ranges (RFC 9110 §14): the `Range` a probe asks for, the
//! `Content-Range` a server answers with, and whether the two agree.
//!
//! Codec only: no I/O, no state, never panics on what a server sends.

use std::fmt;

use thiserror::Error;

/// One byte range, `first-last` (inclusive) or `first-` (to the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// Offset of the first byte.
    pub first: u64,
    /// Offset of the last byte, inclusive; `None` means to the end.
    pub last: Option<u64>,
}

/// A range written wrongly.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("byte range `{text}` {why}; write `FIRST-LAST` (inclusive) or `FIRST-`, e.g. `0-1023`")]
pub struct RangeError {
    /// The text as given.
    pub text: String,
    /// What is wrong with it.
    pub why: &'static str,
}

const BACKWARDS: &str = "ends before it starts";

impl RangeError {
    /// Whether the range is well formed but ends before it starts
    /// (`9-3`), rather than not a range at all.
    pub fn is_backwards(&self) -> bool {
        self.why == BACKWARDS
    }
}

impl ByteRange {
    /// Parses `A-B` or `A-` (offsets in bytes, `B >= A`).
    pub fn parse(text: &str) -> Result<ByteRange, RangeError> {
        let err = |why| RangeError {
            text: text.to_string(),
            why,
        };
        let (a, b) = text.split_once('-').ok_or_else(|| err("has no `-`"))?;
        let num = |s: &str| -> Option<u64> {
            (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let first = num(a).ok_or_else(|| err("does not start with an offset"))?;
        let last = match b {
            "" => None,
            b => Some(num(b).ok_or_else(|| err("does not end with an offset"))?),
        };
        if last.is_some_and(|l| l < first) {
            return Err(err(BACKWARDS));
        }
        // `0-18446744073709551615` is 2^64 bytes, one more than a length
        // can count.
        if last.is_some_and(|l| l - first == u64::MAX) {
            return Err(err("covers more bytes than a 64-bit length counts"));
        }
        Ok(ByteRange { first, last })
    }

    /// The `Range` request header's value, `bytes=A-B`.
    pub fn header(&self) -> String {
        format!("bytes={self}")
    }

    /// The number of bytes asked for, when the range is closed.
    pub fn len(&self) -> Option<u64> {
        self.last.map(|l| l - self.first + 1)
    }

    /// Never true: a range has at least one byte. (For clippy's `len`.)
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.last {
            Some(l) => write!(f, "{}-{l}", self.first),
            None => write!(f, "{}-", self.first),
        }
    }
}

/// A `Content-Range: bytes A-B/LEN` (or `/*`) response header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// Offset of the first byte sent.
    pub first: u64,
    /// Offset of the last byte sent, inclusive.
    pub last: u64,
    /// The whole representation's length, when the server says it.
    pub complete: Option<u64>,
}

impl ContentRange {
    /// Parses a `Content-Range` value; `None` when it is not a satisfied
    /// byte range (`bytes */LEN` included).
    pub fn parse(value: &[u8]) -> Option<ContentRange> {
        let text = std::str::from_utf8(value).ok()?.trim();
        let rest = text.strip_prefix("bytes ")?.trim_start();
        let (span, complete) = rest.split_once('/')?;
        let (a, b) = span.split_once('-')?;
        let num = |s: &str| -> Option<u64> {
            (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let (first, last) = (num(a)?, num(b)?);
        let complete = match complete {
            "*" => None,
            c => Some(num(c)?),
        };
        // A span of 2^64 bytes (`0-18446744073709551615/*`) has no length.
        if last < first || last - first == u64::MAX || complete.is_some_and(|c| last >= c) {
            return None;
        }
        Some(ContentRange {
            first,
            last,
            complete,
        })
    }

    /// Bytes the body must carry.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Never true: a satisfied range has at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Checks that the server sent what `asked` asked for: the same first
    /// byte, and no byte past the asked last one. (A server may send less
    /// than asked when the representation is shorter.)
    pub fn answers(&self, asked: &ByteRange) -> Result<(), String> {
        if self.first != asked.first {
            return Err(format!(
                "asked for bytes {asked} but the server sent bytes {}-{}",
                self.first, self.last
            ));
        }
        if asked.last.is_some_and(|l| self.last > l) {
            return Err(format!(
                "asked for bytes {asked} but the server sent bytes {}-{}",
                self.first, self.last
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_closed_and_open_ranges() {
        let r = ByteRange::parse("0-1023").unwrap();
        assert_eq!((r.first, r.last, r.len()), (0, Some(1023), Some(1024)));
        assert_eq!(r.header(), "bytes=0-1023");
        let r = ByteRange::parse("500-").unwrap();
        assert_eq!(
            (r.last, r.len(), r.header()),
            (None, None, "bytes=500-".into())
        );
        for bad in ["", "-5", "5", "a-b", "5-4", "1-2-3", "+1-2", "1- 2"] {
            assert!(ByteRange::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ByteRange::parse("9-3").unwrap_err().to_string(),
            "byte range `9-3` ends before it starts; write `FIRST-LAST` (inclusive) or `FIRST-`, e.g. `0-1023`"
        );
    }

    #[test]
    fn rfc9110_14_4_content_range_examples() {
        let c = ContentRange::parse(b"bytes 42-1233/1234").unwrap();
        assert_eq!(
            (c.first, c.last, c.complete, c.len()),
            (42, 1233, Some(1234), 1192)
        );
        let c = ContentRange::parse(b"bytes 42-1233/*").unwrap();
        assert_eq!(c.complete, None);
        for bad in [
            &b"bytes */1234"[..],
            b"bytes 5-4/10",
            b"bytes 0-10/10",
            b"items 0-1/2",
            b"bytes 0-1",
            b"bytes \xff-1/2",
            b"",
        ] {
            assert_eq!(ContentRange::parse(bad), None, "{bad:?}");
        }
    }

    /// Fuzz finding (http_range target): `0-18446744073709551615` parsed,
    /// then its length (2^64) overflowed; a `Content-Range` of the same
    /// span did too.
    #[test]
    fn fuzz_http_range_span_of_two_to_the_64_bytes_is_refused() {
        let e = ByteRange::parse("0000-18446744073709551615").unwrap_err();
        assert!(!e.is_backwards());
        assert!(e.to_string().contains("64-bit length"), "{e}");
        let r = ByteRange::parse("1-18446744073709551615").unwrap();
        assert_eq!(r.len(), Some(u64::MAX));
        assert_eq!(ContentRange::parse(b"bytes 0-18446744073709551615/*"), None);
        let c = ContentRange::parse(b"bytes 1-18446744073709551615/*").unwrap();
        assert_eq!(c.len(), u64::MAX);
    }

    #[test]
    fn a_content_range_must_answer_the_range_asked() {
        let asked = ByteRange::parse("100-199").unwrap();
        let ok = ContentRange::parse(b"bytes 100-199/1000").unwrap();
        assert!(ok.answers(&asked).is_ok());
        let shorter = ContentRange::parse(b"bytes 100-149/150").unwrap();
        assert!(shorter.answers(&asked).is_ok());
        let shifted = ContentRange::parse(b"bytes 0-99/1000").unwrap();
        assert_eq!(
            shifted.answers(&asked).unwrap_err(),
            "asked for bytes 100-199 but the server sent bytes 0-99"
        );
        let longer = ContentRange::parse(b"bytes 100-299/1000").unwrap();
        assert!(longer.answers(&asked).is_err());
    }
}
