//! Byte ranges over real connections, byte-exact against the content
//! function: single, suffix, open, at file ends, multipart (parsed
//! strictly), 416, If-Range, HEAD, and a range served while the object is
//! still filling.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use netproof_cdn::front::Limits;
use netproof_cdn::object::{
    Body, BodyError, BodyReader, BoxFuture, CacheStatus, ObjectKey, ObjectMeta, Objects, OpenError,
    Opened,
};
use netproof_cdn::server;
use netproof_proto::cdn::{Listen, Site, Tls};
use netproof_proto::content::ContentKey;
use netproof_proto::range::ContentRange;

use crate::support::*;

/// The span a `Range` value should give on a file of `len` bytes.
fn expect(range: &str, len: u64) -> (u64, u64) {
    let spec = range.strip_prefix("bytes=").unwrap();
    let (a, b) = spec.split_once('-').unwrap();
    match (a, b) {
        ("", n) => (len.saturating_sub(n.parse().unwrap()), len - 1),
        (a, "") => (a.parse().unwrap(), len - 1),
        (a, b) => (a.parse().unwrap(), b.parse::<u64>().unwrap().min(len - 1)),
    }
}

#[tokio::test]
async fn every_single_range_form_is_byte_exact_at_both_ends_over_h1_h2_and_tls() {
    let lab = lab(None).await;
    for path in [SMALL, BIG] {
        let (key, len) = content(SEED, path);
        let ranges = [
            "bytes=0-0".to_string(),
            "bytes=0-99".into(),
            "bytes=1-8".into(),
            "bytes=7-9".into(),
            format!("bytes={}-{}", len / 2, len / 2 + 70_000),
            format!("bytes={}-", len - 1),
            format!("bytes={}-", len - 9),
            format!("bytes={}-{}", len - 1, len - 1),
            format!("bytes={}-{}", len - 5, len + 100),
            "bytes=-1".into(),
            "bytes=-7".into(),
            format!("bytes=-{}", len + 5),
            "bytes=0-".into(),
        ];
        for (via, addr) in [
            (Via::Plain, lab.http()),
            (Via::Tls(Some("a.test".into())), lab.https()),
        ] {
            for h2 in [false, true] {
                for range in &ranges {
                    let got =
                        fetch(addr, via.clone(), h2, "a.test", path, &[("range", range)]).await;
                    let ctx = format!("{path} {range} {via:?} h2={h2}");
                    assert_eq!(got.status, 206, "{ctx}");
                    let (first, last) = expect(range, len);
                    let cr = ContentRange::parse(got.header("content-range").unwrap().as_bytes())
                        .unwrap_or_else(|| panic!("{ctx}: Content-Range"));
                    assert_eq!(
                        (cr.first, cr.last, cr.complete),
                        (first, last, Some(len)),
                        "{ctx}"
                    );
                    assert_eq!(got.body.len() as u64, last - first + 1, "{ctx}");
                    assert_eq!(
                        got.header("content-length"),
                        Some((last - first + 1).to_string().as_str()),
                        "{ctx}"
                    );
                    assert_eq!(key.first_mismatch(first, &got.body), None, "{ctx}");
                }
            }
        }
    }
}

#[tokio::test]
async fn no_range_sends_the_whole_file_with_validators() {
    let lab = lab(None).await;
    let got = fetch(lab.http(), Via::Plain, false, "a.test", BIG, &[]).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, whole(SEED, BIG));
    assert_eq!(got.header("accept-ranges"), Some("bytes"));
    assert!(got.header("etag").unwrap().starts_with("\"t3-800k-1-"));
    assert_eq!(
        got.header("last-modified"),
        Some("Mon, 01 Jan 2024 03:00:00 GMT")
    );
    assert_eq!(got.header("x-cache"), Some("netproof; origin"));
    let again = fetch(lab.http(), Via::Plain, true, "a.test", BIG, &[]).await;
    assert_eq!(again.header("etag"), got.header("etag"), "stable ETag");
    let other = fetch(lab.http(), Via::Plain, false, "a.test", SMALL, &[]).await;
    assert_ne!(other.header("etag"), got.header("etag"));
    let missing = fetch(
        lab.http(),
        Via::Plain,
        false,
        "a.test",
        "/t/9/800k/0001.m4s",
        &[],
    )
    .await;
    assert_eq!(missing.status, 404);
}

/// Splits a multipart/byteranges body strictly: each part's length comes
/// from its Content-Range, and every delimiter must be where RFC 2046 puts
/// it.
fn parts(content_type: &str, body: &[u8]) -> Vec<(ContentRange, Vec<u8>)> {
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .expect("a multipart content type");
    let mut rest = body
        .strip_prefix(format!("--{boundary}\r\n").as_bytes())
        .expect("the first delimiter opens the body");
    let mut out = Vec::new();
    loop {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("part headers end");
        let head = std::str::from_utf8(&rest[..end]).unwrap();
        let cr = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Range: "))
            .and_then(|v| ContentRange::parse(v.as_bytes()))
            .expect("a Content-Range per part");
        assert!(head.contains("Content-Type: video/iso.segment"), "{head}");
        let data_start = end + 4;
        let data = &rest[data_start..data_start + cr.len() as usize];
        out.push((cr, data.to_vec()));
        rest = rest[data_start + cr.len() as usize..]
            .strip_prefix(format!("\r\n--{boundary}").as_bytes())
            .expect("a delimiter after each part");
        if rest == b"--\r\n" {
            return out;
        }
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after a delimiter");
    }
}

#[tokio::test]
async fn several_ranges_are_multipart_and_each_part_is_exact() {
    let lab = lab(None).await;
    let (key, len) = content(SEED, BIG);
    let range = format!("bytes=0-9, 500-1000,{}-,-3", len - 20);
    for h2 in [false, true] {
        let got = fetch(
            lab.http(),
            Via::Plain,
            h2,
            "a.test",
            BIG,
            &[("range", &range)],
        )
        .await;
        assert_eq!(got.status, 206);
        assert!(got.header("content-range").is_none());
        assert_eq!(
            got.header("content-length"),
            Some(got.body.len().to_string().as_str())
        );
        let ps = parts(got.header("content-type").unwrap(), &got.body);
        let spans: Vec<(u64, u64)> = ps.iter().map(|(cr, _)| (cr.first, cr.last)).collect();
        assert_eq!(
            spans,
            [(0, 9), (500, 1000), (len - 20, len - 1), (len - 3, len - 1)]
        );
        for (cr, data) in &ps {
            assert_eq!(cr.complete, Some(len));
            assert_eq!(key.first_mismatch(cr.first, data), None, "{cr:?}");
        }
    }
}

#[tokio::test]
async fn unsatisfiable_ranges_get_416_with_the_length() {
    let lab = lab(None).await;
    let (_, len) = content(SEED, SMALL);
    for range in [
        format!("bytes={len}-"),
        format!("bytes={}-{}", len, len + 9),
        "bytes=-0".into(),
    ] {
        for h2 in [false, true] {
            let got = fetch(
                lab.http(),
                Via::Plain,
                h2,
                "a.test",
                SMALL,
                &[("range", &range)],
            )
            .await;
            assert_eq!(got.status, 416, "{range}");
            assert_eq!(
                got.header("content-range"),
                Some(format!("bytes */{len}").as_str())
            );
            assert!(got.body.is_empty());
        }
    }
    // A malformed Range is ignored: the whole file.
    let got = fetch(
        lab.http(),
        Via::Plain,
        false,
        "a.test",
        SMALL,
        &[("range", "bytes=9-3")],
    )
    .await;
    assert_eq!((got.status, got.body.len() as u64), (200, len));
}

#[tokio::test]
async fn rfc_9110_13_1_5_if_range_with_an_etag_or_a_date() {
    let lab = lab(None).await;
    let first = fetch(lab.http(), Via::Plain, false, "a.test", SMALL, &[]).await;
    let etag = first.header("etag").unwrap().to_string();
    let date = first.header("last-modified").unwrap().to_string();
    let (_, len) = content(SEED, SMALL);
    for (if_range, status) in [
        (etag.as_str(), 206),
        (date.as_str(), 206),
        ("\"something-else\"", 200),
        ("W/\"t0-100k-2-0\"", 200),
        ("Tue, 01 Jan 2030 00:00:00 GMT", 200),
    ] {
        let got = fetch(
            lab.http(),
            Via::Plain,
            false,
            "a.test",
            SMALL,
            &[("range", "bytes=10-19"), ("if-range", if_range)],
        )
        .await;
        assert_eq!(got.status, status, "If-Range {if_range}");
        let want = if status == 206 { 10 } else { len };
        assert_eq!(got.body.len() as u64, want, "If-Range {if_range}");
    }
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let lab = lab(None).await;
    let (_, len) = content(SEED, BIG);
    for h2 in [false, true] {
        let got = fetch_method(lab.http(), Via::Plain, h2, "HEAD", "a.test", BIG, &[]).await;
        assert_eq!(got.status, 200);
        assert_eq!(got.header("content-length"), Some(len.to_string().as_str()));
        assert!(got.body.is_empty());
        let got = fetch_method(
            lab.http(),
            Via::Plain,
            h2,
            "HEAD",
            "a.test",
            BIG,
            &[("range", "bytes=-10")],
        )
        .await;
        assert_eq!(got.status, 206);
        assert_eq!(
            got.header("content-range"),
            Some(format!("bytes {}-{}/{len}", len - 10, len - 1).as_str())
        );
        let got = fetch_method(lab.http(), Via::Plain, h2, "POST", "a.test", BIG, &[]).await;
        assert_eq!(got.status, 405);
        assert_eq!(got.header("allow"), Some("GET, HEAD"));
    }
}

/// A store whose one object fills at a set pace, as an edge's cache does
/// while a fill is under way: `read_at` waits for the bytes.
struct Filling {
    key: ContentKey,
    len: u64,
    filled: tokio::sync::watch::Receiver<u64>,
    opens: std::sync::atomic::AtomicU64,
}

struct FillingBody {
    key: ContentKey,
    len: u64,
    filled: tokio::sync::watch::Receiver<u64>,
}

impl BodyReader for FillingBody {
    fn read_at(&self, offset: u64, max: usize) -> BoxFuture<'_, Result<Bytes, BodyError>> {
        Box::pin(async move {
            if offset >= self.len {
                return Err(BodyError::OutOfRange {
                    offset,
                    len: self.len,
                });
            }
            let mut rx = self.filled.clone();
            let have = *rx
                .wait_for(|&n| n > offset)
                .await
                .map_err(|_| BodyError::FillFailed {
                    at: offset,
                    why: "fill ended".into(),
                })?;
            let n = (have - offset).min(max as u64) as usize;
            let mut b = BytesMut::zeroed(n);
            self.key.fill(offset, &mut b);
            Ok(b.freeze())
        })
    }
}

impl Objects for Filling {
    fn open<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<Opened, OpenError>> {
        Box::pin(async move {
            if &*key.path != "/f" {
                return Err(OpenError::NotFound {
                    site: key.site.clone(),
                    path: key.path.clone(),
                });
            }
            self.opens
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(Opened {
                meta: ObjectMeta {
                    len: self.len,
                    etag: "\"f\"".into(),
                    last_modified: SystemTime::UNIX_EPOCH,
                    content_type: "application/octet-stream".into(),
                },
                body: Arc::new(FillingBody {
                    key: self.key,
                    len: self.len,
                    filled: self.filled.clone(),
                }) as Body,
                status: CacheStatus::Filling,
                source: Some("tier".into()),
            })
        })
    }
}

#[tokio::test]
async fn ranges_of_an_object_still_filling_stream_as_its_bytes_arrive() {
    let key = ContentKey::new(1, 2, "f");
    let len = 300_000u64;
    let (tx, rx) = tokio::sync::watch::channel(0u64);
    let store = Arc::new(Filling {
        key,
        len,
        filled: rx,
        opens: Default::default(),
    });
    let site = Site {
        name: "a.test".into(),
        names: vec![],
        cert: None,
        key: None,
        seed: None,
    };
    let listen = Listen {
        https: vec![],
        http: vec!["127.0.0.1:0".parse().unwrap()],
    };
    let running = server::start(
        &listen,
        None,
        &Tls::default(),
        &[site],
        store.clone(),
        Limits::default(),
        None,
    )
    .await
    .unwrap();
    let addr = running.http[0];
    tx.send(1000).unwrap();
    // A range inside what has arrived is answered at once.
    let early = fetch(
        addr,
        Via::Plain,
        false,
        "a.test",
        "/f",
        &[("range", "bytes=0-999")],
    )
    .await;
    assert_eq!(early.status, 206);
    assert_eq!(key.first_mismatch(0, &early.body), None);
    // Ranges past the fill wait for it, then come out exact.
    let tail = tokio::spawn(fetch(
        addr,
        Via::Plain,
        true,
        "a.test",
        "/f",
        &[("range", "bytes=-100")],
    ));
    let mid = tokio::spawn(fetch(
        addr,
        Via::Plain,
        false,
        "a.test",
        "/f",
        &[("range", "bytes=500-200499")],
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !tail.is_finished() && !mid.is_finished(),
        "they wait for the fill"
    );
    for at in (1000..=len).step_by(50_000).chain([len]) {
        tx.send(at).unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let tail = tail.await.unwrap();
    assert_eq!(tail.status, 206);
    assert_eq!(
        tail.header("x-cache"),
        Some("netproof; filling; source=tier")
    );
    assert_eq!(key.first_mismatch(len - 100, &tail.body), None);
    assert_eq!(tail.body.len(), 100);
    let mid = mid.await.unwrap();
    assert_eq!(mid.body.len(), 200_000);
    assert_eq!(key.first_mismatch(500, &mid.body), None);
    assert_eq!(
        store.opens.load(std::sync::atomic::Ordering::Relaxed),
        3,
        "one open per request"
    );
}
