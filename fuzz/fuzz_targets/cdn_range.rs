//! The Range planner on any `Range` and `If-Range` text and any object
//! length: it never panics, and what it plans is consistent: a 206's spans
//! lie inside the object and add up to its `Content-Length` (single part),
//! a 416 says `bytes */LEN`, a 200 is the whole object.
//!
//! Input: 8 bytes of length (little-endian; the low bits pick small, near
//! u64::MAX or any lengths), then the `Range`
//! value, a 0xFF byte, and the `If-Range` value (absent without the 0xFF).

#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use netproof_cdn::object::ObjectMeta;
use netproof_cdn::range::{Ask, Part, plan};

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let raw = u64::from_le_bytes(data[..8].try_into().unwrap());
    // Small objects half the time (file ends are met), near u64::MAX a
    // quarter (an upstream may claim any length: sums must not overflow),
    // else anything below 2^62.
    let small = (raw >> 2) & 0xffff;
    let len = match raw & 3 {
        0 | 1 => small,
        2 => u64::MAX - small,
        _ => raw >> 2,
    };
    let rest = &data[8..];
    let (range, if_range) = match rest.iter().position(|&b| b == 0xff) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (Ok(range), Ok(if_range)) = (
        std::str::from_utf8(range),
        if_range.map(std::str::from_utf8).transpose(),
    ) else {
        return;
    };
    let meta = ObjectMeta {
        len,
        etag: "\"t1-f1-abcd\"".into(),
        last_modified: SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200),
        content_type: "video/iso.segment".into(),
    };
    let a = plan(
        Ask {
            range: Some(range),
            if_range,
        },
        &meta,
    );
    let spans = a.parts.iter().filter_map(|p| match p {
        Part::Object(s) => Some(*s),
        Part::Text(_) => None,
    });
    let mut body = 0u64;
    for p in &a.parts {
        match p {
            Part::Object(s) => {
                assert!(s.first <= s.last && s.last < len, "{s:?} outside {len}");
                body = body.checked_add(s.len()).expect("a body length that fits");
            }
            Part::Text(t) => body = body.checked_add(t.len() as u64).expect("fits"),
        }
    }
    assert_eq!(body, a.length, "parts and Content-Length disagree");
    match a.status {
        200 => assert_eq!(a.length, len),
        206 => assert!(spans.count() >= 1),
        416 => assert_eq!(a.content_range.as_deref(), Some(&*format!("bytes */{len}"))),
        other => panic!("status {other}"),
    }
});
