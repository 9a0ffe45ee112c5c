//! The client a fill fetches an object with: one HTTP/1.1 GET per attempt
//! (hyper's low-level client over a stream we connect ourselves), over
//! plain TCP or over rustls trusting a configured CA file (the lab CA).
//!
//! A peer is asked with `Cache-Control: only-if-cached` (RFC 9111
//! §5.2.1.7): a peer serves what it holds and never fills for another
//! edge, so two peers missing one object cannot wait on each other's
//! fills; its 504 means "not here".
//!
//! The request carries the *site* as its Host header and, over TLS, as
//! its SNI name, so a peer edge or a fill tier serving several sites on one
//! address picks the right site and certificate (an edge answers an SNI
//! and Host that disagree with 421). A resumed attempt asks for
//! `Range: bytes=FROM-` and the answer must carry the same length and
//! ETag as the bytes already held; a server that ignores the range and
//! answers 200 has its first FROM bytes skipped.
//!
//! Every wait is bounded: the connection and handshake by the connect
//! timeout, the response head and each body chunk by the stall timeout
//! (no byte for that long is a stall).
//!
//! Connections are kept alive and reused, per site (the site is the TLS
//! name): a miss on a small segment behind a 10 ms link would otherwise
//! pay two round trips (TCP and TLS) before its first byte, as every fill
//! of a real fill tier would. A connection goes back to the pool only
//! after a body read to its end; one that failed, stalled or was dropped
//! midway is closed. A reused connection the source closed while it sat
//! idle fails before any response head: the request is then sent once
//! more on a new connection (a GET is safe to repeat).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http1;
use hyper::header::{self, HeaderMap};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use netproof_proto::range::ContentRange;
use netproof_proto::url::{Host, Url};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use thiserror::Error;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::fill::plan::FailKind;
use crate::object::ObjectMeta;

/// How long a fetch may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For the TCP connection and the TLS handshake.
    pub connect: Duration,
    /// For the response head, and between body chunks.
    pub stall: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        // The config's defaults (`fill.timeouts`), kept in one place.
        use netproof_proto::cdn::FillTimeouts;
        Timeouts {
            connect: FillTimeouts::CONNECT,
            stall: FillTimeouts::STALL,
        }
    }
}

/// Trust for `https` sources that cannot be set up.
#[derive(Debug, Error)]
pub enum TlsSetupError {
    /// The CA file cannot be read.
    #[error(
        "cannot read the fill CA file `{path}`: {source}; hint: `netproof cdn certs` writes the lab CA"
    )]
    ReadCa {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The CA file holds no usable certificate.
    #[error("the fill CA file `{what}` holds no usable PEM certificate{detail}")]
    NoCa {
        /// The file.
        what: String,
        /// What was wrong with the ones it has.
        detail: String,
    },
    /// rustls refused the configuration.
    #[error("cannot set up TLS for fills: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A TLS client configuration trusting the CA certificates in `path`.
pub fn tls_trusting(path: &Path) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let pem = std::fs::read(path).map_err(|source| TlsSetupError::ReadCa {
        path: path.to_owned(),
        source,
    })?;
    tls_trusting_pem(&pem, &path.display().to_string())
}

/// A TLS client configuration trusting the CA certificates in `pem`
/// (`what` names it in errors).
pub fn tls_trusting_pem(pem: &[u8], what: &str) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    let mut problems = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        match cert.map_err(|e| e.to_string()) {
            Ok(c) => {
                if let Err(e) = roots.add(c) {
                    problems.push(e.to_string());
                }
            }
            Err(e) => problems.push(e),
        }
    }
    if roots.is_empty() {
        return Err(TlsSetupError::NoCa {
            what: what.to_owned(),
            detail: if problems.is_empty() {
                String::new()
            } else {
                format!(" ({})", problems.join("; "))
            },
        });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Why one fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{why}")]
pub struct FetchError {
    /// Its kind, for the counters and the fill's decision.
    pub kind: FailKind,
    /// What happened, as a sentence fragment (`connection refused`).
    pub why: String,
}

impl FetchError {
    fn new(kind: FailKind, why: impl Into<String>) -> FetchError {
        FetchError {
            kind,
            why: why.into(),
        }
    }
}

/// One fill source's client.
#[derive(Clone)]
pub struct Upstream {
    url: Url,
    tls: Option<Arc<ClientConfig>>,
    timeouts: Timeouts,
    pool: Arc<Pool>,
}

/// Idle connections to one source, by site.
#[derive(Default)]
struct Pool {
    idle: Mutex<Vec<Idle>>,
}

/// A kept-alive connection waiting for its next request.
struct Idle {
    site: String,
    sender: http1::SendRequest<Empty<Bytes>>,
    conn: JoinHandle<()>,
    since: Instant,
}

impl Pool {
    /// Idle connections kept per source (all sites together).
    const MAX_IDLE: usize = 32;
    /// An idle connection older than this is closed rather than reused:
    /// well under the idle timeouts servers use (nginx 75 s, our front
    /// 60 s), so the source rarely closes one under us.
    const MAX_AGE: Duration = Duration::from_secs(30);

    /// A live idle connection for `site`, if one is kept.
    fn take(&self, site: &str) -> Option<(http1::SendRequest<Empty<Bytes>>, JoinHandle<()>)> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        // Drop the dead and the old first, so they do not hold the slots.
        idle.retain(|c| {
            let keep = !c.sender.is_closed() && c.since.elapsed() < Self::MAX_AGE;
            if !keep {
                c.conn.abort();
            }
            keep
        });
        let i = idle
            .iter()
            .rposition(|c| c.site == site && c.sender.is_ready())?;
        let c = idle.swap_remove(i);
        Some((c.sender, c.conn))
    }

    /// Keeps a connection whose last response was read to its end.
    fn put(&self, site: String, sender: http1::SendRequest<Empty<Bytes>>, conn: JoinHandle<()>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() >= Self::MAX_IDLE {
            let oldest = idle.remove(0);
            oldest.conn.abort();
        }
        idle.push(Idle {
            site,
            sender,
            conn,
            since: Instant::now(),
        });
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let idle = self.idle.get_mut().unwrap_or_else(|p| p.into_inner());
        for c in idle.drain(..) {
            c.conn.abort();
        }
    }
}

/// What a source answered.
pub enum Answer {
    /// It has no such object (404 or 410).
    NotFound,
    /// The object's bytes from the offset asked for.
    Body(Box<Fetch>),
}

/// A response whose body is being read.
pub struct Fetch {
    /// The object's metadata (its whole length, even for a 206).
    pub meta: ObjectMeta,
    body: Incoming,
    /// Bytes of the body to drop (a 200 to a range request).
    skip: u64,
    stall: Duration,
    conn: Option<JoinHandle<()>>,
    /// The connection's sender and its pool, to give it back at the end.
    keep: Option<(http1::SendRequest<Empty<Bytes>>, Arc<Pool>, String)>,
    /// Whether this fetch rode a kept-alive connection.
    pub reused: bool,
}

impl Drop for Fetch {
    fn drop(&mut self) {
        // Closes the socket now, not when the server gives up on us
        // (unless the body was read whole and the pool took it).
        if let Some(conn) = self.conn.take() {
            conn.abort();
        }
    }
}

impl Fetch {
    /// The next bytes of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, FetchError> {
        loop {
            let frame = match timeout(self.stall, self.body.frame()).await {
                Err(_) => {
                    return Err(FetchError::new(
                        FailKind::Stall,
                        format!("no byte for {:?}", self.stall),
                    ));
                }
                Ok(None) => {
                    self.give_back();
                    return Ok(None);
                }
                Ok(Some(Err(e))) => {
                    return Err(FetchError::new(FailKind::Body, format!("body: {e}")));
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(mut data) = frame.into_data() else {
                continue; // trailers
            };
            if self.skip > 0 {
                let n = (self.skip as usize).min(data.len());
                self.skip -= n as u64;
                data = data.slice(n..);
            }
            if self.body.is_end_stream() {
                // The last bytes (the fill may not ask for more).
                self.give_back();
            }
            if !data.is_empty() {
                return Ok(Some(data));
            }
        }
    }

    /// Gives the connection to the pool once the body was read to its
    /// end: it can carry another request.
    fn give_back(&mut self) {
        if let (Some((sender, pool, site)), Some(conn)) = (self.keep.take(), self.conn.take()) {
            pool.put(site, sender, conn);
        }
    }
}

impl Upstream {
    /// A client for the source at `url` (scheme, address and a path
    /// prefix). An `https` URL needs `tls`.
    pub fn new(url: Url, tls: Option<Arc<ClientConfig>>, timeouts: Timeouts) -> Upstream {
        Upstream {
            url,
            tls,
            timeouts,
            pool: Arc::default(),
        }
    }

    /// The request path for `path`: the URL's path prefix, then `path`.
    pub fn target(&self, path: &str) -> String {
        let prefix = self.url.path.trim_end_matches('/');
        let path = path.trim_start_matches('/');
        format!("{prefix}/{path}")
    }

    /// GETs `path` of `site` from byte `from` on. With `only_if_cached`
    /// (asking a peer) the request says `Cache-Control: only-if-cached`
    /// and the 504 a cache answers when it does not hold the object
    /// (RFC 9111 §5.2.1.7) is [`Answer::NotFound`].
    pub async fn get(
        &self,
        site: &str,
        path: &str,
        from: u64,
        only_if_cached: bool,
    ) -> Result<Answer, FetchError> {
        let t = self.timeouts;
        let target = self.target(path);
        let request = || {
            let mut req = Request::get(&target)
                .header(header::HOST, site)
                .header(header::USER_AGENT, "netproof-cdn-fill");
            if from > 0 {
                req = req.header(header::RANGE, format!("bytes={from}-"));
            }
            if only_if_cached {
                req = req.header(header::CACHE_CONTROL, "only-if-cached");
            }
            req.body(Empty::<Bytes>::new()).map_err(|e| {
                FetchError::new(FailKind::Protocol, format!("request for `{target}`: {e}"))
            })
        };
        // A kept connection first; if the source closed it while it was
        // idle, the request fails before any head and goes once more on a
        // new connection.
        let mut pooled = self.pool.take(site);
        let reused = pooled.is_some();
        let (sender, conn, resp) = loop {
            let fresh = pooled.is_none();
            let (mut sender, conn) = match pooled.take() {
                Some(kept) => kept,
                None => self.open(site).await?,
            };
            let req = request()?;
            // The request and its response head, in one stall bound.
            let exchange = async {
                sender.ready().await?;
                sender.send_request(req).await
            };
            match timeout(t.stall, exchange).await {
                Err(_) => {
                    conn.abort();
                    return Err(FetchError::new(
                        FailKind::Stall,
                        format!("no response head within {:?}", t.stall),
                    ));
                }
                Ok(Err(e)) => {
                    conn.abort();
                    if fresh {
                        return Err(FetchError::new(FailKind::Body, format!("request: {e}")));
                    }
                }
                Ok(Ok(r)) => break (sender, conn, r),
            }
        };
        let status = resp.status();
        let (parts, body) = resp.into_parts();
        let bad = |why: String| {
            conn.abort();
            FetchError::new(FailKind::Protocol, why)
        };
        let (len, skip) = match status {
            StatusCode::NOT_FOUND | StatusCode::GONE => {
                conn.abort();
                return Ok(Answer::NotFound);
            }
            StatusCode::GATEWAY_TIMEOUT if only_if_cached => {
                conn.abort();
                return Ok(Answer::NotFound);
            }
            StatusCode::OK => {
                let len = content_length(&parts.headers)
                    .ok_or_else(|| bad("a 200 without a Content-Length".into()))?;
                (len, from)
            }
            StatusCode::PARTIAL_CONTENT if from > 0 => {
                let range = parts
                    .headers
                    .get(header::CONTENT_RANGE)
                    .and_then(|v| ContentRange::parse(v.as_bytes()));
                match range {
                    Some(ContentRange {
                        first,
                        last,
                        complete: Some(len),
                    }) if first == from && last + 1 == len => (len, 0),
                    _ => {
                        return Err(bad(format!(
                            "a 206 whose Content-Range is not `bytes {from}-LAST/LEN` to the end"
                        )));
                    }
                }
            }
            other => {
                conn.abort();
                return Err(FetchError::new(FailKind::Status, format!("status {other}")));
            }
        };
        let meta = meta(&parts.headers, len).map_err(bad)?;
        Ok(Answer::Body(Box::new(Fetch {
            meta,
            body,
            skip,
            stall: t.stall,
            conn: Some(conn),
            keep: Some((sender, self.pool.clone(), site.to_owned())),
            reused,
        })))
    }

    /// A new connection to the source for `site`: TCP, then TLS with the
    /// site as its name when the source is `https`, then HTTP/1.1.
    async fn open(&self, site: &str) -> Result<Handshake, FetchError> {
        let t = self.timeouts;
        let tcp = timeout(t.connect, self.connect()).await.map_err(|_| {
            FetchError::new(
                FailKind::Connect,
                format!(
                    "no connection to {} within {:?}",
                    self.url.authority(),
                    t.connect
                ),
            )
        })??;
        let _ = tcp.set_nodelay(true);
        if self.url.is_https() {
            let Some(tls) = &self.tls else {
                return Err(FetchError::new(
                    FailKind::Tls,
                    "an https source without a CA file; hint: set the fill CA file",
                ));
            };
            let name = ServerName::try_from(site.to_owned()).map_err(|_| {
                FetchError::new(FailKind::Tls, format!("site `{site}` is not a DNS name"))
            })?;
            let stream = timeout(
                t.connect,
                tokio_rustls::TlsConnector::from(tls.clone()).connect(name, tcp),
            )
            .await
            .map_err(|_| FetchError::new(FailKind::Tls, "TLS handshake timed out"))?
            .map_err(|e| {
                FetchError::new(FailKind::Tls, format!("TLS handshake: {}", tls_reason(&e)))
            })?;
            handshake(stream).await
        } else {
            handshake(tcp).await
        }
    }

    async fn connect(&self) -> Result<TcpStream, FetchError> {
        let port = self.url.port;
        let result = match &self.url.host {
            Host::Addr(a) => TcpStream::connect((*a, port)).await,
            Host::Name(n) => TcpStream::connect((n.as_str(), port)).await,
        };
        result.map_err(|e| {
            FetchError::new(
                FailKind::Connect,
                format!("connect to {}: {e}", self.url.authority()),
            )
        })
    }
}

type Handshake = (http1::SendRequest<Empty<Bytes>>, JoinHandle<()>);

async fn handshake<T>(io: T) -> Result<Handshake, FetchError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| FetchError::new(FailKind::Connect, format!("HTTP handshake: {e}")))?;
    let conn = tokio::spawn(async move {
        // Its error reaches the body reader; nothing to add here.
        let _ = conn.await;
    });
    Ok((sender, conn))
}

fn tls_reason(e: &std::io::Error) -> String {
    if let Some(inner) = e.get_ref()
        && let Some(r) = inner.downcast_ref::<rustls::Error>()
    {
        return r.to_string();
    }
    e.to_string()
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The metadata of an object of `len` bytes from its response headers.
/// An ETag is required (resuming on another source is checked against
/// it); a missing Last-Modified becomes the time of the fetch; a missing
/// Content-Type is `application/octet-stream`, as RFC 9110 §8.3 lets a
/// recipient assume.
fn meta(headers: &HeaderMap, len: u64) -> Result<ObjectMeta, String> {
    let text = |name: header::HeaderName| -> Result<Option<String>, String> {
        headers
            .get(&name)
            .map(|v| {
                v.to_str()
                    .map(str::to_owned)
                    .map_err(|_| format!("a {name} header that is not text"))
            })
            .transpose()
    };
    let etag = text(header::ETAG)?.ok_or_else(|| {
        "no ETag; hint: a fill source must send one so a fill can resume on another".to_owned()
    })?;
    let last_modified = match text(header::LAST_MODIFIED)? {
        Some(t) => {
            parse_http_date(&t).ok_or_else(|| format!("Last-Modified `{t}` is not an HTTP date"))?
        }
        None => SystemTime::now(),
    };
    let content_type =
        text(header::CONTENT_TYPE)?.unwrap_or_else(|| "application/octet-stream".to_owned());
    Ok(ObjectMeta {
        len,
        etag,
        last_modified,
        content_type,
    })
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110
/// §5.6.7), the only form a server may send.
pub fn parse_http_date(text: &str) -> Option<SystemTime> {
    let rest = text.trim();
    let (_, rest) = rest.split_once(", ")?;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || parts.next().is_some() || hms.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 || year < 1970 {
        return None;
    }
    let days = days_from_civil(year, month, day as i64);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9110_5_6_7_imf_fixdate_parses_and_other_forms_do_not() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 784_111_777);
        let t = parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT").unwrap();
        assert_eq!(t, UNIX_EPOCH);
        let t = parse_http_date("Tue, 29 Feb 2028 23:59:59 GMT").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_835_481_599
        );
        for bad in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn meta_needs_an_etag_and_defaults_the_media_type() {
        let mut h = HeaderMap::new();
        let e = meta(&h, 5).unwrap_err();
        assert!(e.contains("ETag") && e.contains("hint:"), "{e}");
        h.insert(header::ETAG, "\"x\"".parse().unwrap());
        h.insert(
            header::LAST_MODIFIED,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        let m = meta(&h, 5).unwrap();
        assert_eq!((m.len, m.etag.as_str()), (5, "\"x\""));
        assert_eq!(m.content_type, "application/octet-stream");
        h.insert(header::LAST_MODIFIED, "yesterday".parse().unwrap());
        assert!(meta(&h, 5).unwrap_err().contains("`yesterday`"));
    }

    #[test]
    fn the_target_joins_the_url_prefix_and_the_object_path() {
        let u = |s: &str| Upstream::new(Url::parse(s).unwrap(), None, Timeouts::default());
        assert_eq!(u("http://127.0.0.1:8080").target("/t/1/a"), "/t/1/a");
        assert_eq!(u("http://127.0.0.1/fill/").target("/t/1/a"), "/fill/t/1/a");
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused_with_its_name() {
        let e = tls_trusting_pem(b"not pem", "lab-ca.pem")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`lab-ca.pem`"), "{e}");
        let e = tls_trusting(Path::new("/nonexistent/ca.pem"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("hint:"), "{e}");
    }
}
