//! One request's answer: route by Host (refusing misdirected and unknown
//! hosts), open the object, plan the ranges, build the response.
//!
//! Everything a client controls is checked here before the store is
//! asked: method, Host or `:authority`, path. Every failure is an HTTP
//! status with a short text body, never a panic. Every answer, refusals
//! included, is counted and logged when its body ends.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::Inner;
use super::body::ResponseBody;
use crate::date;
use crate::metrics::AccessRecord;
use crate::object::{CacheStatus, ObjectKey, OpenError};
use crate::range::{self, Ask};
use crate::sites::{self, Route, SiteId};

/// What the front knows about a connection when a request arrives.
#[derive(Debug, Clone)]
pub struct Conn {
    /// Whether it is TLS.
    pub tls: bool,
    /// The site whose certificate it got (TLS only).
    pub cert: Option<SiteId>,
    /// The server name the client sent (TLS only).
    pub sni: Option<Arc<str>>,
}

fn text(status: StatusCode, msg: String) -> Response<ResponseBody> {
    let mut r = Response::new(ResponseBody::text(msg + "\n"));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    // A repeated Range or If-Range is ambiguous: use none of them.
    let mut all = h.get_all(name).iter();
    let first = all.next()?;
    if all.next().is_some() {
        return None;
    }
    first.to_str().ok()
}

/// The request's authority: the URI's (HTTP/2 `:authority`, or an
/// HTTP/1.1 absolute-form target, whose Host RFC 9112 §3.2.2 says to
/// ignore), else the one Host header. An HTTP/2 request whose Host names
/// another host than its `:authority` has none (RFC 9113 §8.3.1: treat it
/// as malformed), so it cannot pick one site by one and be checked
/// against the certificate by the other.
fn authority<B>(req: &Request<B>) -> Option<&str> {
    let host = header_str(req.headers(), header::HOST);
    let Some(a) = req.uri().authority() else {
        return host;
    };
    let same = |h: &str| {
        let name =
            |x: &str| sites::host_name(x).map(|n| n.trim_end_matches('.').to_ascii_lowercase());
        name(h) == name(a.as_str())
    };
    if req.version() == hyper::Version::HTTP_2 && host.is_some_and(|h| !same(h)) {
        return None;
    }
    Some(a.as_str())
}

/// Whether the request's `Cache-Control` (every field line, each a comma
/// list) has the `only-if-cached` directive, in any case (RFC 9111 §5.2:
/// directive names are case-insensitive).
fn only_if_cached(h: &HeaderMap) -> bool {
    h.get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| d.trim().eq_ignore_ascii_case("only-if-cached"))
}

/// What the counters need of a request, learnt while answering it.
struct Seen {
    site: Arc<str>,
    cache: &'static str,
    source: Option<Arc<str>>,
}

/// Answers one request, counting it (and logging it, when the front has a
/// log) when its body ends. Without a log nothing is allocated for this.
pub async fn respond<B>(inner: Arc<Inner>, conn: Conn, req: Request<B>) -> Response<ResponseBody> {
    let started = Instant::now();
    let mut record = inner.log.is_some().then(|| AccessRecord {
        time: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
        sni: conn.sni.as_deref().map(str::to_string),
        method: req.method().as_str().to_string(),
        path: req.uri().path().to_string(),
        range: header_str(req.headers(), header::RANGE).map(str::to_string),
        cmcd: cmcd(&req),
        ..AccessRecord::default()
    });
    let mut seen = Seen {
        site: inner.no_site.clone(),
        cache: "-",
        source: None,
    };
    let mut r = answer(&inner, &conn, req, &mut seen).await;
    let status = r.status().as_u16();
    let observer = inner.clone();
    r.body_mut().on_finish(Box::new(move |sent, whole| {
        observer
            .metrics
            .record(&seen.site, status, seen.cache, sent, whole);
        if let (Some(log), Some(rec)) = (&observer.log, record.as_mut()) {
            rec.site = seen.site.to_string();
            rec.status = status;
            rec.cache = seen.cache;
            rec.source = seen.source.as_deref().map(str::to_string);
            rec.bytes = sent;
            rec.complete = whole;
            rec.duration = started.elapsed().as_secs_f64();
            log(rec);
        }
    }));
    r
}

async fn answer<B>(
    inner: &Arc<Inner>,
    conn: &Conn,
    req: Request<B>,
    seen: &mut Seen,
) -> Response<ResponseBody> {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "method `{}` is not served here; use GET or HEAD",
                req.method()
            ),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let auth = authority(&req);
    let site = match sites::route(&inner.names, auth, conn.cert, conn.tls) {
        Route::Site(s) => {
            seen.site = inner.site_names[s].clone();
            s
        }
        Route::BadHost => {
            return text(
                StatusCode::BAD_REQUEST,
                "the request has no usable Host (or :authority); send the site's name".into(),
            );
        }
        Route::UnknownHost => {
            return text(
                StatusCode::NOT_FOUND,
                format!(
                    "no site `{}` on this server",
                    auth.and_then(sites::host_name).unwrap_or("")
                ),
            );
        }
        Route::Misdirected { host, cert } => {
            let cert_site = cert.map_or("(none)", |c| &*inner.site_names[c]);
            return text(
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "Host `{}` is site `{}` but this connection's certificate is site `{cert_site}`'s; open a connection with SNI `{}`",
                    auth.unwrap_or(""),
                    inner.site_names[host],
                    inner.site_names[host],
                ),
            );
        }
    };
    let path = req.uri().path();
    if !path.starts_with('/') {
        return text(
            StatusCode::BAD_REQUEST,
            "the request target is not a path".into(),
        );
    }
    let key = ObjectKey {
        site: inner.site_names[site].clone(),
        path: Arc::from(path),
    };
    // A peer edge asks `only-if-cached`: answer from what is held, never
    // fill (two peers missing an object would otherwise fill it for each
    // other), and a miss is 504 (RFC 9111 §5.2.1.7).
    let only_cached = only_if_cached(req.headers());
    let opened = if only_cached {
        inner.objects.open_cached(&key).await
    } else {
        inner.objects.open(&key).await
    };
    let upstream_failed = matches!(opened, Err(OpenError::Upstream { .. }));
    // An `only-if-cached` miss says nothing of the fill sources' health
    // (and its hit must not heal a store whose fills fail).
    if !only_cached {
        inner.metrics.opened(upstream_failed);
    }
    let opened = match opened {
        Ok(o) => o,
        Err(e) => {
            let status = match &e {
                OpenError::NotFound { .. } => StatusCode::NOT_FOUND,
                OpenError::Upstream {
                    timed_out: true, ..
                } => StatusCode::GATEWAY_TIMEOUT,
                OpenError::Upstream { .. } => StatusCode::BAD_GATEWAY,
                OpenError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            return text(status, e.to_string());
        }
    };
    let h = req.headers();
    let answer = range::plan(
        Ask {
            range: header_str(h, header::RANGE),
            if_range: header_str(h, header::IF_RANGE),
        },
        &opened.meta,
    );
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let body = if head || answer.parts.is_empty() {
        ResponseBody::empty()
    } else {
        ResponseBody::parts(opened.body.clone(), answer.parts, answer.length)
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    // Built as header values directly (no string formatted per response
    // where a static or a memo does): a 1 KiB hit over HTTP/2 spent a
    // twentieth of its instructions formatting Last-Modified.
    let hs = r.headers_mut();
    let mut put = |name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            hs.insert(name, v);
        }
    };
    put(header::CONTENT_TYPE, &answer.content_type);
    if status != StatusCode::RANGE_NOT_SATISFIABLE {
        put(header::ETAG, &opened.meta.etag);
    }
    if let Some(cr) = &answer.content_range {
        put(header::CONTENT_RANGE, cr);
    }
    hs.insert(header::CONTENT_LENGTH, HeaderValue::from(answer.length));
    hs.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status != StatusCode::RANGE_NOT_SATISFIABLE
        && let Some(v) = last_modified(opened.meta.last_modified)
    {
        hs.insert(header::LAST_MODIFIED, v);
    }
    let cache = match opened.status {
        CacheStatus::Hit => "hit",
        CacheStatus::Miss => "miss",
        CacheStatus::Filling => "filling",
        CacheStatus::Origin => "origin",
    };
    seen.cache = cache;
    seen.source = opened.source.clone();
    let x_cache = match &opened.source {
        None => HeaderValue::from_static(match opened.status {
            CacheStatus::Hit => "netproof; hit",
            CacheStatus::Miss => "netproof; miss",
            CacheStatus::Filling => "netproof; filling",
            CacheStatus::Origin => "netproof; origin",
        }),
        Some(src) => {
            let mut v = String::with_capacity(24 + src.len());
            for part in ["netproof; ", cache, "; source=", src] {
                v.push_str(part);
            }
            match HeaderValue::from_str(&v) {
                Ok(v) => v,
                Err(_) => return r,
            }
        }
    };
    hs.insert(header::HeaderName::from_static("x-cache"), x_cache);
    r
}

/// `t` as a Last-Modified value, remembered per thread: the objects an
/// edge serves share a handful of times, and formatting one costs more
/// than the rest of the headers together.
fn last_modified(t: SystemTime) -> Option<HeaderValue> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(SystemTime, HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| {
        if let Some((at, v)) = last
            && *at == t
        {
            return Some(v.clone());
        }
        let v = HeaderValue::from_str(&date::format(t)).ok()?;
        *last = Some((t, v.clone()));
        Some(v)
    })
}

/// A request's CMCD (CTA-5004): the `CMCD` query argument
/// (percent-decoded), else its `CMCD-*` headers joined by commas.
fn cmcd<B>(req: &Request<B>) -> Option<String> {
    if let Some(q) = req.uri().query() {
        for pair in q.split('&') {
            if let Some(v) = pair.strip_prefix("CMCD=") {
                return Some(percent_decode(v));
            }
        }
    }
    let parts: Vec<&str> = ["cmcd-object", "cmcd-request", "cmcd-session", "cmcd-status"]
        .iter()
        .filter_map(|h| req.headers().get(*h)?.to_str().ok())
        .filter(|v| !v.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

/// `%XX` decoded (invalid escapes kept as written).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_if_cached_is_found_in_any_field_line_and_case_and_nowhere_else() {
        let with = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(header::CACHE_CONTROL, HeaderValue::from_str(v).unwrap());
            }
            only_if_cached(&h)
        };
        assert!(with(&["only-if-cached"]));
        assert!(with(&["max-age=0, Only-If-Cached"]));
        assert!(with(&["no-store", " only-if-cached "]));
        assert!(!with(&[]));
        assert!(!with(&["no-cache"]));
        assert!(!with(&["only-if-cached-not", "x=only-if-cached"]));
    }

    #[test]
    fn cmcd_comes_from_the_query_or_the_headers() {
        let q = Request::get("/t/1/750k/0000.m4s?x=1&CMCD=br%3D750%2Cbl%3D2100%2Csid%3D%22a%22")
            .body(())
            .unwrap();
        assert_eq!(cmcd(&q).as_deref(), Some("br=750,bl=2100,sid=\"a\""));
        let h = Request::get("/t/1/750k/0000.m4s")
            .header("CMCD-Object", "br=750,d=2000")
            .header("CMCD-Session", "sid=\"a\"")
            .body(())
            .unwrap();
        assert_eq!(cmcd(&h).as_deref(), Some("br=750,d=2000,sid=\"a\""));
        assert_eq!(cmcd(&Request::get("/x").body(()).unwrap()), None);
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
