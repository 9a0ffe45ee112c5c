//! Range planning (RFC 9110 §14 and §13.1.5): from a request's `Range` and
//! `If-Range` and an object's length and validators, what to answer: the
//! whole object (200), one range (206 with `Content-Range`), several
//! (206 `multipart/byteranges`), or none (416 with `bytes */LEN`).
//!
//! Sans-IO: no sockets, no clock, never panics on what a client sends. The
//! answer is a list of [`Part`]s (literal text, or a span of the object)
//! that the front streams in order, reading spans through the body so an
//! object that is still filling is served as its bytes arrive.
//!
//! Choices, where RFC 9110 leaves them to the server:
//! - A `Range` that does not parse, or names a unit other than `bytes`, is
//!   ignored (200, §14.2). nginx answers 416 there; the RFC says ignore.
//! - Ranges that start at or past the end are dropped; if none is left the
//!   answer is 416. One left is a single-part answer, as nginx does.
//! - More than [`MAX_RANGES`] ranges, or ranges that together ask for more
//!   bytes than the object has (overlaps, many small ranges: the "Apache
//!   killer" shape), get the whole object instead, as nginx does.
//! - `If-Range` matches a strong ETag exactly, or a date equal to
//!   Last-Modified (§13.1.5); anything else, a weak tag included, sends
//!   the whole object.

use std::time::SystemTime;

use bytes::Bytes;

use crate::date;
use crate::object::ObjectMeta;

/// More ranges than this in one request get the whole object.
pub const MAX_RANGES: usize = 64;

/// One range as the client wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    /// `first-last`, inclusive.
    Closed(u64, u64),
    /// `first-`, to the end.
    From(u64),
    /// `-n`, the last `n` bytes.
    Suffix(u64),
}

/// Parses a `Range` value: `bytes=` and one or more comma-separated specs.
/// `None` when it is not a valid byte-range set (the server then ignores
/// it).
pub fn parse(value: &str) -> Option<Vec<Spec>> {
    let (unit, set) = value.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let mut specs = Vec::new();
    // `1#range-spec`: empty list elements are allowed and skipped
    // (RFC 9110 §5.6.1.2), but at least one spec must be there.
    for item in set.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (a, b) = item.split_once('-')?;
        let spec = match (a.trim(), b.trim()) {
            ("", n) => Spec::Suffix(num(n)?),
            (a, "") => Spec::From(num(a)?),
            (a, b) => {
                let (a, b) = (num(a)?, num(b)?);
                if b < a {
                    return None;
                }
                Spec::Closed(a, b)
            }
        };
        specs.push(spec);
        if specs.len() > MAX_RANGES {
            // Enough to decide: the answer will be the whole object.
            break;
        }
    }
    (!specs.is_empty()).then_some(specs)
}

/// A span of the object, `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The first byte.
    pub first: u64,
    /// The last byte, inclusive.
    pub last: u64,
}

impl Span {
    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Never true: a span has at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Where `spec` falls in an object of `len` bytes; `None` when it starts
/// at or past the end (or asks for the last zero bytes).
pub fn resolve(spec: Spec, len: u64) -> Option<Span> {
    let (first, last) = match spec {
        Spec::Closed(a, b) => (a, b.min(len.checked_sub(1)?)),
        Spec::From(a) => (a, len.checked_sub(1)?),
        Spec::Suffix(0) => return None,
        Spec::Suffix(n) => (len.saturating_sub(n), len.checked_sub(1)?),
    };
    (first < len).then_some(Span { first, last })
}

/// A piece of the response body, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal bytes (a multipart header or delimiter).
    Text(Bytes),
    /// A span of the object.
    Object(Span),
}

/// What to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// 200, 206 or 416.
    pub status: u16,
    /// The `Content-Range` header, for 206 single-part and 416.
    pub content_range: Option<String>,
    /// The `Content-Type`: the object's, or `multipart/byteranges; boundary=...`.
    pub content_type: String,
    /// The body's length (`Content-Length`).
    pub length: u64,
    /// The body, in order.
    pub parts: Vec<Part>,
}

/// The request headers that range planning reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ask<'a> {
    /// `Range`, if sent.
    pub range: Option<&'a str>,
    /// `If-Range`, if sent.
    pub if_range: Option<&'a str>,
}

/// Plans the answer to `ask` for an object with `meta`.
pub fn plan(ask: Ask<'_>, meta: &ObjectMeta) -> Answer {
    let len = meta.len;
    let whole = || Answer {
        status: 200,
        content_range: None,
        content_type: meta.content_type.clone(),
        length: len,
        parts: if len == 0 {
            Vec::new()
        } else {
            vec![Part::Object(Span {
                first: 0,
                last: len - 1,
            })]
        },
    };
    let Some(specs) = ask.range.and_then(parse) else {
        return whole();
    };
    if let Some(v) = ask.if_range
        && !if_range_matches(v, &meta.etag, meta.last_modified)
    {
        return whole();
    }
    if specs.len() > MAX_RANGES {
        return whole();
    }
    let spans: Vec<Span> = specs.iter().filter_map(|&s| resolve(s, len)).collect();
    match spans.as_slice() {
        [] => Answer {
            status: 416,
            content_range: Some(format!("bytes */{len}")),
            content_type: "text/plain".into(),
            length: 0,
            parts: Vec::new(),
        },
        [one] => Answer {
            status: 206,
            content_range: Some(format!("bytes {}-{}/{len}", one.first, one.last)),
            content_type: meta.content_type.clone(),
            length: one.len(),
            parts: vec![Part::Object(*one)],
        },
        many => {
            // Checked: an object's length is whatever its source said, up
            // to u64::MAX, and more bytes than that is "more than the file".
            let asked = many.iter().try_fold(0u64, |n, s| n.checked_add(s.len()));
            match asked {
                Some(asked) if asked <= len => multipart(many, meta).unwrap_or_else(whole),
                _ => whole(),
            }
        }
    }
}

/// Whether an `If-Range` value lets the ranges through.
pub fn if_range_matches(value: &str, etag: &str, last_modified: SystemTime) -> bool {
    let v = value.trim();
    if v.starts_with('"') {
        // Strong comparison: byte for byte, and the stored tag is strong.
        return v == etag && !etag.starts_with("W/");
    }
    if v.starts_with("W/") {
        return false;
    }
    date::parse(v).is_some_and(|t| t == truncate(last_modified))
}

/// Whole seconds, as HTTP dates carry.
fn truncate(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

/// The multipart boundary of an object: from its ETag, so a response is
/// reproducible, with a prefix no catalogue byte sequence is likely to
/// contain by chance (62 bits of hash).
pub fn boundary(etag: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in etag.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("netproof-{h:016x}")
}

/// The multipart answer for `spans`; `None` when its length, headers
/// included, does not fit a u64 (then the caller sends the whole object).
fn multipart(spans: &[Span], meta: &ObjectMeta) -> Option<Answer> {
    let b = boundary(&meta.etag);
    let mut parts = Vec::with_capacity(spans.len() * 2 + 1);
    let mut length = 0u64;
    for (i, s) in spans.iter().enumerate() {
        // RFC 2046 §5.1.1: the CRLF before a delimiter belongs to it.
        let head = format!(
            "{}--{b}\r\nContent-Type: {}\r\nContent-Range: bytes {}-{}/{}\r\n\r\n",
            if i == 0 { "" } else { "\r\n" },
            meta.content_type,
            s.first,
            s.last,
            meta.len
        );
        length = length
            .checked_add(head.len() as u64)?
            .checked_add(s.len())?;
        parts.push(Part::Text(Bytes::from(head)));
        parts.push(Part::Object(*s));
    }
    let tail = format!("\r\n--{b}--\r\n");
    length = length.checked_add(tail.len() as u64)?;
    parts.push(Part::Text(Bytes::from(tail)));
    Some(Answer {
        status: 206,
        content_range: None,
        content_type: format!("multipart/byteranges; boundary={b}"),
        length,
        parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn meta(len: u64) -> ObjectMeta {
        ObjectMeta {
            len,
            etag: "\"abc\"".into(),
            last_modified: SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777),
            content_type: "video/mp4".into(),
        }
    }

    fn ranged(range: &str, len: u64) -> Answer {
        plan(
            Ask {
                range: Some(range),
                if_range: None,
            },
            &meta(len),
        )
    }

    fn span(first: u64, last: u64) -> Part {
        Part::Object(Span { first, last })
    }

    #[test]
    fn ranges_of_an_object_near_u64_max_never_overflow_the_length() {
        // Found while writing the `range` fuzz target: several ranges of
        // a huge object (an upstream may claim any Content-Length) summed
        // past u64::MAX, and the multipart headers on top of spans that
        // fit did too; both panicked (debug) or wrapped (release).
        let huge = u64::MAX - 10;
        let a = ranged("bytes=0-,0-,0-,0-,0-", (1 << 62) - 1);
        assert_eq!((a.status, a.length), (200, (1 << 62) - 1));
        let a = ranged(&format!("bytes=0-{},-{}", huge / 2, huge / 2 - 100), huge);
        assert_eq!((a.status, a.length), (200, huge));
        // Two ranges whose bodies fit are still multipart.
        let a = ranged("bytes=0-9,-10", huge);
        assert_eq!(a.status, 206);
        assert!(a.length > 20 && a.length < 1000, "{}", a.length);
    }

    #[test]
    fn rfc_9110_14_1_2_examples_parse() {
        assert_eq!(parse("bytes=0-499"), Some(vec![Spec::Closed(0, 499)]));
        assert_eq!(parse("bytes=500-999"), Some(vec![Spec::Closed(500, 999)]));
        assert_eq!(parse("bytes=-500"), Some(vec![Spec::Suffix(500)]));
        assert_eq!(parse("bytes=9500-"), Some(vec![Spec::From(9500)]));
        assert_eq!(
            parse("bytes=0-0,-1"),
            Some(vec![Spec::Closed(0, 0), Spec::Suffix(1)])
        );
        assert_eq!(
            parse("bytes= 500-600 , 601-999 ,"),
            Some(vec![Spec::Closed(500, 600), Spec::Closed(601, 999)])
        );
        assert_eq!(parse("Bytes=1-2"), Some(vec![Spec::Closed(1, 2)]));
    }

    #[test]
    fn malformed_ranges_do_not_parse() {
        for bad in [
            "",
            "bytes",
            "bytes=",
            "bytes=,",
            "bytes=-",
            "bytes=a-b",
            "bytes=5-3",
            "bytes=1-2-3",
            "bytes=+1-2",
            "bytes=1--2",
            "items=0-1",
            "bytes=99999999999999999999-",
            "bytes=0-1,x",
            "bytes=é-1",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn specs_resolve_against_the_length_at_the_file_end() {
        assert_eq!(
            resolve(Spec::Closed(0, 9), 10),
            Some(Span { first: 0, last: 9 })
        );
        assert_eq!(
            resolve(Spec::Closed(5, 100), 10),
            Some(Span { first: 5, last: 9 })
        );
        assert_eq!(resolve(Spec::Closed(10, 12), 10), None);
        assert_eq!(resolve(Spec::From(9), 10), Some(Span { first: 9, last: 9 }));
        assert_eq!(resolve(Spec::From(10), 10), None);
        assert_eq!(
            resolve(Spec::Suffix(3), 10),
            Some(Span { first: 7, last: 9 })
        );
        assert_eq!(
            resolve(Spec::Suffix(30), 10),
            Some(Span { first: 0, last: 9 })
        );
        assert_eq!(resolve(Spec::Suffix(0), 10), None);
        assert_eq!(resolve(Spec::From(0), 0), None);
        assert_eq!(resolve(Spec::Suffix(5), 0), None);
    }

    #[test]
    fn no_range_or_an_ignored_one_sends_the_whole_object() {
        let whole = plan(Ask::default(), &meta(10));
        assert_eq!(whole.status, 200);
        assert_eq!(whole.length, 10);
        assert_eq!(whole.parts, vec![span(0, 9)]);
        assert_eq!(ranged("bytes=zz", 10), whole);
        assert_eq!(ranged("lines=1-2", 10), whole);
        let empty = plan(Ask::default(), &meta(0));
        assert_eq!((empty.status, empty.length, empty.parts.len()), (200, 0, 0));
    }

    #[test]
    fn single_ranges_get_206_with_content_range() {
        for (range, first, last) in [
            ("bytes=0-0", 0, 0),
            ("bytes=2-5", 2, 5),
            ("bytes=-3", 7, 9),
            ("bytes=8-", 8, 9),
            ("bytes=9-9", 9, 9),
            ("bytes=4-1000", 4, 9),
            ("bytes=-1000", 0, 9),
        ] {
            let a = ranged(range, 10);
            assert_eq!(a.status, 206, "{range}");
            assert_eq!(
                a.content_range.as_deref(),
                Some(format!("bytes {first}-{last}/10").as_str())
            );
            assert_eq!(a.length, last - first + 1);
            assert_eq!(a.parts, vec![span(first, last)]);
            assert_eq!(a.content_type, "video/mp4");
        }
    }

    #[test]
    fn unsatisfiable_ranges_get_416_with_the_length() {
        for range in ["bytes=10-", "bytes=10-20", "bytes=-0", "bytes=10-11,12-"] {
            let a = ranged(range, 10);
            assert_eq!(a.status, 416, "{range}");
            assert_eq!(a.content_range.as_deref(), Some("bytes */10"));
            assert_eq!((a.length, a.parts.len()), (0, 0));
        }
        assert_eq!(ranged("bytes=0-", 0).status, 416);
    }

    #[test]
    fn one_satisfiable_range_of_several_is_single_part() {
        let a = ranged("bytes=20-30,2-3", 10);
        assert_eq!(a.status, 206);
        assert_eq!(a.content_range.as_deref(), Some("bytes 2-3/10"));
    }

    #[test]
    fn several_ranges_are_multipart_with_exact_lengths() {
        let a = ranged("bytes=0-1,-2", 10);
        assert_eq!(a.status, 206);
        assert_eq!(a.content_range, None);
        let b = boundary("\"abc\"");
        assert_eq!(
            a.content_type,
            format!("multipart/byteranges; boundary={b}")
        );
        assert_eq!(
            a.parts,
            vec![
                Part::Text(Bytes::from(format!(
                    "--{b}\r\nContent-Type: video/mp4\r\nContent-Range: bytes 0-1/10\r\n\r\n"
                ))),
                span(0, 1),
                Part::Text(Bytes::from(format!(
                    "\r\n--{b}\r\nContent-Type: video/mp4\r\nContent-Range: bytes 8-9/10\r\n\r\n"
                ))),
                span(8, 9),
                Part::Text(Bytes::from(format!("\r\n--{b}--\r\n"))),
            ]
        );
        let total: u64 = a
            .parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.len() as u64,
                Part::Object(s) => s.len(),
            })
            .sum();
        assert_eq!(a.length, total);
    }

    #[test]
    fn overlapping_or_too_many_ranges_get_the_whole_object() {
        // Asks for 12 bytes of 10: overlap.
        assert_eq!(ranged("bytes=0-5,0-5", 10).status, 200);
        let many: Vec<String> = (0..=MAX_RANGES as u64)
            .map(|i| format!("{i}-{i}"))
            .collect();
        let a = ranged(&format!("bytes={}", many.join(",")), 1000);
        assert_eq!(a.status, 200);
        let ok: Vec<String> = (0..MAX_RANGES as u64).map(|i| format!("{i}-{i}")).collect();
        assert_eq!(ranged(&format!("bytes={}", ok.join(",")), 1000).status, 206);
    }

    #[test]
    fn rfc_9110_13_1_5_if_range() {
        let m = meta(10);
        let with = |if_range| {
            plan(
                Ask {
                    range: Some("bytes=1-2"),
                    if_range: Some(if_range),
                },
                &m,
            )
            .status
        };
        assert_eq!(with("\"abc\""), 206);
        assert_eq!(with("\"abd\""), 200);
        assert_eq!(with("W/\"abc\""), 200, "weak tags never match");
        assert_eq!(with("Sun, 06 Nov 1994 08:49:37 GMT"), 206);
        assert_eq!(with("Sun, 06 Nov 1994 08:49:38 GMT"), 200);
        assert_eq!(with("yesterday"), 200);
        let mut weak = meta(10);
        weak.etag = "W/\"abc\"".into();
        assert!(!if_range_matches(
            "W/\"abc\"",
            &weak.etag,
            weak.last_modified
        ));
    }

    /// Seeded random Range values from the characters that matter: the
    /// planner never panics, and every answer is self-consistent (the
    /// length is the sum of the parts, every span lies inside the object,
    /// a 206 single part says its span in Content-Range).
    #[test]
    fn random_ranges_never_panic_and_answers_add_up() {
        const ALPHABET: &[u8] = b"bytes=-0123456789, 9-";
        let mut state = 0x5eed_u64;
        for _ in 0..50_000 {
            let r = netproof_proto::seed::splitmix64(&mut state);
            let n = (r % 24) as usize;
            let text: String = (0..n)
                .map(|i| {
                    let x = netproof_proto::seed::splitmix64(&mut state) >> (i % 8);
                    ALPHABET[(x % ALPHABET.len() as u64) as usize] as char
                })
                .collect();
            let text = if r & 1 == 0 {
                format!("bytes={text}")
            } else {
                text
            };
            let len = netproof_proto::seed::splitmix64(&mut state) % 40;
            let a = ranged(&text, len);
            let total: u64 = a
                .parts
                .iter()
                .map(|p| match p {
                    Part::Text(t) => t.len() as u64,
                    Part::Object(s) => {
                        assert!(s.first <= s.last && s.last < len, "{text:?} {len}: {s:?}");
                        s.len()
                    }
                })
                .sum();
            assert_eq!(a.length, total, "{text:?} {len}");
            match a.status {
                200 => assert_eq!(a.length, len),
                206 => {
                    if let Some(cr) = &a.content_range {
                        let [Part::Object(s)] = a.parts.as_slice() else {
                            panic!("{text:?}: single part expected")
                        };
                        assert_eq!(cr, &format!("bytes {}-{}/{len}", s.first, s.last));
                    }
                }
                416 => assert_eq!(a.content_range, Some(format!("bytes */{len}"))),
                other => panic!("{text:?}: status {other}"),
            }
        }
    }
}
