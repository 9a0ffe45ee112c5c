//! HTTP byte ranges as a plan writes them (`range = "0-1023"`, parsed at
//! `check`) and `Content-Range` as a server answers them (read by the
//! HTTP probe from an untrusted server). Whatever the text, parsing
//! returns; a range that parses prints as a `Range` header that parses
//! back to itself; a `Content-Range` that parses is consistent (first <=
//! last, inside the complete length when one is given), and checking it
//! against the range asked never panics.
//!
//! Input: the range text, a 0xFF byte, then the `Content-Range` value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use netproof_proto::range::{ByteRange, ContentRange};

fuzz_target!(|data: &[u8]| {
    let (range, content) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let asked = std::str::from_utf8(range)
        .ok()
        .and_then(|t| ByteRange::parse(t).ok());
    if let Some(r) = &asked {
        let header = r.header();
        let value = header.strip_prefix("bytes=").expect("a bytes= header");
        assert_eq!(ByteRange::parse(value).as_ref(), Ok(r), "{header}");
        let _ = (r.len(), r.is_empty(), r.to_string());
    }
    if let Some(c) = ContentRange::parse(content) {
        assert!(
            c.first <= c.last && c.complete.is_none_or(|n| c.last < n),
            "{c:?}"
        );
        let _ = (c.len(), c.is_empty());
        if let Some(r) = &asked {
            let _ = c.answers(r);
        }
    }
});
