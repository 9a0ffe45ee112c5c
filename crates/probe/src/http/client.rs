//! The HTTP(S) client: one request per fresh connection, timed phase by
//! phase.
//!
//! The address connected to, the Host header (HTTP/2 `:authority`) and the
//! TLS server name are three independent settings, the way
//! `curl --connect-to` and `-H Host:` separate them, so a probe can ask a
//! multi-site server for one site's name in the handshake and another's in
//! the request. The TCP stream comes from a [`Connector`], so on the netns
//! backend it is made inside the node's namespace; the TLS handshake
//! (tokio-rustls) and the HTTP exchange (hyper's connection-level client,
//! HTTP/1.1 or HTTP/2 chosen by ALPN or, for `http`, prior knowledge) run
//! on it here.
//!
//! Every request ends as a [`RequestReport`]: a failure in any phase is a
//! recorded failure with its reason, never a panic and never a zero.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::{http1, http2};
use hyper::{Request, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
use netproof_sample::{Labels, Sink, Timestamp};
use thiserror::Error;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::report::{Failure, Phase, Proto, RequestReport};
use super::tls::{CertInfo, TlsSetup, TlsSetupError, Trust, handshake_reason, server_name};
use netproof_proto::range::{ByteRange, ContentRange};
use netproof_proto::url::{Host, Scheme, Url};

/// A future that connects a TCP stream.
pub type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// Makes TCP connections: a plain `connect()` here, a socket made inside a
/// node's namespace in a lab.
pub type Connector = Arc<dyn Fn(SocketAddr) -> ConnectFuture + Send + Sync>;

/// A [`Connector`] that connects from this process's own namespace.
pub fn direct() -> Connector {
    Arc::new(|addr| {
        Box::pin(async move {
            let s = TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            Ok(s)
        })
    })
}

/// Where to connect, when it is not the URL's host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// An address (like `curl --connect-to` or `--resolve`).
    Addr(SocketAddr),
    /// A name resolved at each request (timed as `http.dns`).
    Name(String, u16),
}

/// What goes in the TLS server_name extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sni {
    /// The URL's host when it is a name; none for an address.
    FromUrl,
    /// This name, whatever the URL and Host header say.
    Name(String),
    /// No server_name extension at all. The certificate is then checked
    /// against the Host header's name.
    Off,
}

/// Checks a response body as it arrives; `offset` is the position of
/// `chunk`'s first byte in the whole representation (the range's first
/// byte for a range request). Returns why the content is wrong.
pub trait BodyCheck: Send + Sync {
    /// Checks one chunk.
    fn check(&self, offset: u64, chunk: &[u8]) -> Result<(), String>;
}

impl<F: Fn(u64, &[u8]) -> Result<(), String> + Send + Sync> BodyCheck for F {
    fn check(&self, offset: u64, chunk: &[u8]) -> Result<(), String> {
        self(offset, chunk)
    }
}

/// One HTTP probe.
#[derive(Debug, Clone)]
pub struct Config {
    /// The URL: scheme, and (unless overridden) address, Host and SNI.
    pub url: Url,
    /// Where to connect instead of the URL's host and port.
    pub connect: Option<Endpoint>,
    /// The Host header (HTTP/2 `:authority`) instead of the URL's.
    pub host: Option<String>,
    /// The TLS server name.
    pub sni: Sni,
    /// How the certificate is judged (`https` only).
    pub trust: Trust,
    /// Speak HTTP/2: offered alone by ALPN for `https`, with prior
    /// knowledge for `http`. Otherwise HTTP/1.1.
    pub http2: bool,
    /// Ask for these bytes only (`Range: bytes=A-B`); the answer must be a
    /// 206 whose `Content-Range` and length agree.
    pub range: Option<ByteRange>,
    /// Requests to make, one after another, each on a fresh connection.
    pub requests: u32,
    /// Limit on each request, from its start to its last body byte.
    pub timeout: Duration,
    /// Which resolved or given addresses may be connected to.
    pub address_allowed: fn(IpAddr) -> bool,
    /// More request headers (the streaming client's CMCD), checked by
    /// [`Client::new`].
    pub headers: Vec<(String, String)>,
}

impl Config {
    /// A probe of `url` with every override off: HTTP/1.1, SNI from the
    /// URL, insecure TLS, one request, 10 s.
    pub fn new(url: Url) -> Config {
        Config {
            url,
            connect: None,
            host: None,
            sni: Sni::FromUrl,
            trust: Trust::Insecure,
            http2: false,
            range: None,
            requests: 1,
            timeout: Duration::from_secs(10),
            address_allowed: |_| true,
            headers: Vec::new(),
        }
    }

    /// The Host header value.
    pub fn host_header(&self) -> String {
        self.host.clone().unwrap_or_else(|| self.url.authority())
    }

    /// The SNI name sent, if any.
    pub fn sni_name(&self) -> Option<String> {
        match (&self.sni, &self.url.host) {
            (Sni::Name(n), _) => Some(n.clone()),
            (Sni::FromUrl, Host::Name(n)) => Some(n.clone()),
            (Sni::FromUrl, Host::Addr(_)) | (Sni::Off, _) => None,
        }
    }

    /// The name rustls is given: the SNI name, else the Host header's
    /// host (the certificate is verified against it).
    fn tls_name(&self) -> String {
        if let Some(n) = self.sni_name() {
            return n;
        }
        match (&self.sni, &self.url.host) {
            (Sni::FromUrl, Host::Addr(a)) => a.to_string(),
            _ => host_part(&self.host_header()),
        }
    }

    /// Where the request connects.
    pub fn endpoint(&self) -> Endpoint {
        match (&self.connect, &self.url.host) {
            (Some(e), _) => e.clone(),
            (None, Host::Addr(a)) => Endpoint::Addr(SocketAddr::new(*a, self.url.port)),
            (None, Host::Name(n)) => Endpoint::Name(n.clone(), self.url.port),
        }
    }
}

/// `name` from `name:port`, `::1` from `[::1]:443`.
fn host_part(authority: &str) -> String {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_string();
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h.to_string(),
        _ => authority.to_string(),
    }
}

/// A probe that cannot start (before any traffic).
#[derive(Debug, Error)]
pub enum SetupError {
    /// The TLS settings cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// No request to make.
    #[error("an HTTP probe needs at least one request, but `requests` is 0")]
    NoRequests,
    /// The TLS name is not a DNS name or address.
    #[error("TLS server name: {0}")]
    Name(String),
    /// The Host header cannot be sent.
    #[error("the Host header `{0}` is not a valid header value or authority")]
    HostHeader(String),
    /// A zero timeout.
    #[error("the request timeout must be greater than zero")]
    ZeroTimeout,
    /// An extra request header that cannot be sent.
    #[error("the request header `{0}` is not a valid header name and value")]
    Header(String),
}

/// The requests of one [`Client::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// One report per request, in order.
    pub requests: Vec<RequestReport>,
}

impl Summary {
    /// Requests that failed.
    pub fn failed(&self) -> usize {
        self.requests.iter().filter(|r| !r.ok()).count()
    }
}

/// A configured probe, ready to run against a connector.
#[derive(Clone)]
pub struct Client {
    pub(crate) cfg: Config,
    tls: Option<TlsSetup>,
    pub(crate) connector: Connector,
    check: Option<Arc<dyn BodyCheck>>,
    host_header: header::HeaderValue,
    uri: hyper::Uri,
    extra: Vec<(header::HeaderName, header::HeaderValue)>,
}

/// An open connection, ready for requests.
pub(crate) struct Conn {
    sender: Sender,
    /// The connection's driver; `None` on a [`Conn::share`]d handle,
    /// which does not own it.
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Conn {
    /// Whether the server (or an error) has closed the connection.
    pub(crate) fn is_closed(&self) -> bool {
        match &self.sender {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }
}

impl Conn {
    /// Another handle on an HTTP/2 connection, for a request beside the
    /// ones in flight (the responsiveness test's probes on its
    /// load-generating connections); `None` for HTTP/1.1, which cannot
    /// multiplex. The owner's drop still closes the connection.
    pub(crate) fn share(&self) -> Option<Conn> {
        match &self.sender {
            Sender::H2(s) => Some(Conn {
                sender: Sender::H2(s.clone()),
                task: None,
            }),
            Sender::H1(_) => None,
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

enum Sender {
    H1(http1::SendRequest<Empty<Bytes>>),
    H2(http2::SendRequest<Empty<Bytes>>),
}

impl Client {
    /// Checks `cfg` and loads its trust anchors.
    pub fn new(cfg: Config, connector: Connector) -> Result<Client, SetupError> {
        if cfg.requests == 0 {
            return Err(SetupError::NoRequests);
        }
        if cfg.timeout.is_zero() {
            return Err(SetupError::ZeroTimeout);
        }
        let tls = match cfg.url.scheme {
            Scheme::Https => {
                server_name(&cfg.tls_name()).map_err(SetupError::Name)?;
                let alpn: &[&[u8]] = if cfg.http2 { &[b"h2"] } else { &[b"http/1.1"] };
                Some(TlsSetup::new(&cfg.trust, alpn)?)
            }
            Scheme::Http => None,
        };
        let host = cfg.host_header();
        let host_header = header::HeaderValue::from_str(&host)
            .map_err(|_| SetupError::HostHeader(host.clone()))?;
        // HTTP/1.1 sends the path and a Host header; HTTP/2 an absolute URI
        // whose authority becomes `:authority`.
        let uri = if cfg.http2 {
            format!("{}://{host}{}", cfg.url.scheme.as_str(), cfg.url.path)
        } else {
            cfg.url.path.clone()
        };
        let uri = uri
            .parse::<hyper::Uri>()
            .map_err(|_| SetupError::HostHeader(host.clone()))?;
        let extra = cfg
            .headers
            .iter()
            .map(|(n, v)| {
                let bad = || SetupError::Header(format!("{n}: {v}"));
                Ok((
                    header::HeaderName::from_bytes(n.as_bytes()).map_err(|_| bad())?,
                    header::HeaderValue::from_str(v).map_err(|_| bad())?,
                ))
            })
            .collect::<Result<Vec<_>, SetupError>>()?;
        Ok(Client {
            cfg,
            tls,
            connector,
            check: None,
            host_header,
            uri,
            extra,
        })
    }

    /// Checks every body with `check` (a failure is a `verify` failure).
    pub fn with_body_check(mut self, check: Arc<dyn BodyCheck>) -> Client {
        self.check = Some(check);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Makes `requests` requests, one after another, each on a fresh
    /// connection, and records each one's samples into `sink` as it ends.
    ///
    /// Labels added to `labels`: `host`, `sni` (`none` when not sent),
    /// `addr` (the address connected to), `proto`, and on failures `error`
    /// and `phase`; the certificate's fields on `http.tls`.
    pub async fn run(&self, sink: &dyn Sink, labels: &Labels) -> Summary {
        let labels = self.labels(labels);
        let mut requests = Vec::new();
        for _ in 0..self.cfg.requests {
            let report = self.request().await;
            for s in report.samples(&labels, self.tls.is_some(), unix_now()) {
                sink.sample(s);
            }
            requests.push(report);
        }
        Summary { requests }
    }

    /// The caller's labels plus `host` and `sni`.
    pub(crate) fn labels(&self, labels: &Labels) -> Labels {
        let mut l = labels.clone();
        l.entry("host".into()).or_insert(self.cfg.host_header());
        if self.tls.is_some() {
            l.entry("sni".into())
                .or_insert(self.cfg.sni_name().unwrap_or_else(|| "none".into()));
        }
        l
    }

    /// One request on a fresh connection.
    pub async fn request(&self) -> RequestReport {
        let start = Instant::now();
        let mut r = RequestReport::new(Timestamp::now());
        let deadline = start + self.cfg.timeout;
        let result = match self.open(&mut r, deadline).await {
            Ok(mut conn) => self.exchange(&mut conn, &mut r, deadline).await,
            Err(f) => Err(f),
        };
        match result {
            Ok(()) => r.total = Some(start.elapsed()),
            Err(f) => r.failure = Some(f),
        }
        r
    }

    /// Resolves, connects, runs the TLS handshake and the HTTP handshake,
    /// filling `r`'s setup phases.
    pub(crate) async fn open(
        &self,
        r: &mut RequestReport,
        deadline: Instant,
    ) -> Result<Conn, Failure> {
        let addr = match self.cfg.endpoint() {
            Endpoint::Addr(a) => a,
            Endpoint::Name(name, port) => {
                let t = Instant::now();
                let a = within(deadline, Phase::Dns, self.resolve(&name, port)).await??;
                r.dns = Some(t.elapsed());
                a
            }
        };
        r.addr = Some(addr);
        if !(self.cfg.address_allowed)(addr.ip()) {
            return Err(Failure {
                phase: Phase::Connect,
                reason: format!("`{}` is outside the allowed addresses", addr.ip()),
            });
        }
        let t = Instant::now();
        let tcp = within(deadline, Phase::Connect, (self.connector)(addr))
            .await?
            .map_err(|e| Failure {
                phase: Phase::Connect,
                reason: connect_reason(&e),
            })?;
        r.connect = Some(t.elapsed());
        match &self.tls {
            None => {
                let proto = if self.cfg.http2 {
                    Proto::Http2
                } else {
                    Proto::Http1
                };
                r.proto = Some(proto);
                within(deadline, Phase::Response, handshake(tcp, proto)).await?
            }
            Some(setup) => {
                let t = Instant::now();
                let sni = self.cfg.sni_name().is_some();
                let (config, seen) = setup.for_connection(sni);
                let name = server_name(&self.cfg.tls_name()).map_err(|reason| Failure {
                    phase: Phase::Tls,
                    reason,
                })?;
                let connector = tokio_rustls::TlsConnector::from(config);
                let res = within(deadline, Phase::Tls, connector.connect(name, tcp)).await;
                let cert = seen.lock().ok().and_then(|mut s| s.take());
                r.cert = cert.map(|c| CertInfo::from_der(&c).unwrap_or_else(CertInfo::unreadable));
                let stream = res?.map_err(|e| Failure {
                    phase: Phase::Tls,
                    reason: handshake_reason(&e),
                })?;
                let alpn = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                let proto = match (self.cfg.http2, alpn.as_deref()) {
                    (true, Some(b"h2")) => Proto::Http2,
                    (true, other) => {
                        return Err(Failure {
                            phase: Phase::Tls,
                            reason: format!(
                                "the server did not agree to HTTP/2 by ALPN (it chose {})",
                                other.map_or("nothing".into(), |p| format!(
                                    "`{}`",
                                    String::from_utf8_lossy(p)
                                ))
                            ),
                        });
                    }
                    (false, _) => Proto::Http1,
                };
                r.tls = Some(t.elapsed());
                r.proto = Some(proto);
                within(deadline, Phase::Response, handshake(stream, proto)).await?
            }
        }
    }

    async fn resolve(&self, name: &str, port: u16) -> Result<SocketAddr, Failure> {
        let fail = |reason: String| Failure {
            phase: Phase::Dns,
            reason,
        };
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
            .await
            .map_err(|e| fail(format!("cannot resolve `{name}`: {e}")))?
            .collect();
        addrs
            .iter()
            .copied()
            .find(|a| (self.cfg.address_allowed)(a.ip()))
            .ok_or_else(|| match addrs.first() {
                None => fail(format!("`{name}` resolves to no address")),
                Some(a) => fail(format!(
                    "`{name}` resolves only to addresses outside the allowed ranges (first: {})",
                    a.ip()
                )),
            })
    }

    /// Sends one request on `conn` and reads the whole response into `r`.
    pub(crate) async fn exchange(
        &self,
        conn: &mut Conn,
        r: &mut RequestReport,
        deadline: Instant,
    ) -> Result<(), Failure> {
        let mut req = Request::get(self.uri.clone());
        if matches!(conn.sender, Sender::H1(_)) {
            req = req.header(header::HOST, self.host_header.clone());
        }
        req = req.header(header::USER_AGENT, "netproof");
        if let Some(range) = &self.cfg.range {
            req = req.header(header::RANGE, range.header());
        }
        for (name, value) in &self.extra {
            req = req.header(name, value);
        }
        let req = req.body(Empty::<Bytes>::new()).map_err(|e| Failure {
            phase: Phase::Response,
            reason: format!("cannot build the request: {e}"),
        })?;
        let resp_fail = |e: hyper::Error| Failure {
            phase: Phase::Response,
            reason: hyper_reason(&e),
        };
        let t = Instant::now();
        let resp = within(deadline, Phase::Response, async {
            match &mut conn.sender {
                Sender::H1(s) => {
                    s.ready().await.map_err(resp_fail)?;
                    s.send_request(req).await.map_err(resp_fail)
                }
                Sender::H2(s) => {
                    s.ready().await.map_err(resp_fail)?;
                    s.send_request(req).await.map_err(resp_fail)
                }
            }
        })
        .await??;
        r.ttfb = Some(t.elapsed());
        r.status = Some(resp.status().as_u16());
        r.headers = resp
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let content_range = resp
            .headers()
            .get(header::CONTENT_RANGE)
            .map(|v| v.as_bytes().to_vec());
        let verify = |reason: String| Failure {
            phase: Phase::Verify,
            reason,
        };
        // A range request must get a 206 for the asked bytes; checked
        // before the body so a wrong answer is not read to its end.
        let mut expect_len = None;
        let mut offset = 0;
        if let Some(asked) = &self.cfg.range {
            let status = resp.status().as_u16();
            if status != 206 {
                return Err(verify(format!(
                    "asked for bytes {asked} but the server answered {status} instead of 206 Partial Content"
                )));
            }
            let cr = content_range
                .as_deref()
                .and_then(ContentRange::parse)
                .ok_or_else(|| {
                    verify(match &content_range {
                        None => "a 206 answer without a Content-Range header".into(),
                        Some(v) => format!(
                            "a 206 answer with an unreadable Content-Range `{}`",
                            String::from_utf8_lossy(v)
                        ),
                    })
                })?;
            cr.answers(asked).map_err(verify)?;
            expect_len = Some(cr.len());
            offset = cr.first;
        }
        let t = Instant::now();
        let mut body = resp.into_body();
        let check = self.check.clone();
        let bytes = &mut r.bytes;
        within(deadline, Phase::Body, async {
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| Failure {
                    phase: Phase::Body,
                    reason: hyper_reason(&e),
                })?;
                if let Some(data) = frame.data_ref() {
                    if let Some(c) = &check {
                        c.check(offset + *bytes, data).map_err(verify)?;
                    }
                    *bytes += data.len() as u64;
                }
            }
            Ok::<(), Failure>(())
        })
        .await??;
        r.transfer = Some(t.elapsed());
        if let Some(want) = expect_len
            && want != r.bytes
        {
            return Err(verify(format!(
                "Content-Range announced {want} bytes but the body had {}",
                r.bytes
            )));
        }
        Ok(())
    }
}

/// Runs hyper's client handshake for `proto` on `io` and spawns the
/// connection's driver.
async fn handshake<T>(io: T, proto: Proto) -> Result<Conn, Failure>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let fail = |e: hyper::Error| Failure {
        phase: Phase::Response,
        reason: hyper_reason(&e),
    };
    let io = TokioIo::new(io);
    Ok(match proto {
        Proto::Http1 => {
            let (sender, conn) = http1::handshake(io).await.map_err(fail)?;
            // The driver's own error reaches the request's future too, so
            // it is not reported twice.
            let task = tokio::spawn(async move {
                let _ = conn.await;
            });
            Conn {
                sender: Sender::H1(sender),
                task: Some(task),
            }
        }
        Proto::Http2 => {
            let (sender, conn) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(fail)?;
            let task = tokio::spawn(async move {
                let _ = conn.await;
            });
            Conn {
                sender: Sender::H2(sender),
                task: Some(task),
            }
        }
    })
}

/// Bounds `f` by `deadline`; running past it fails `phase`.
async fn within<F: Future>(deadline: Instant, phase: Phase, f: F) -> Result<F::Output, Failure> {
    tokio::time::timeout_at(deadline, f)
        .await
        .map_err(|_| Failure {
            phase,
            reason: "timed out (the request's time limit ran out in this phase)".into(),
        })
}

/// hyper's error with its causes: `error parsing HTTP/1.1 response ... :
/// invalid HTTP version parsed`.
pub(crate) fn hyper_reason(e: &hyper::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        src = c.source();
    }
    if e.is_incomplete_message() {
        s.push_str(" (the server closed the connection before a whole response)");
    }
    s
}

/// A short reason for a failed connect.
fn connect_reason(e: &io::Error) -> String {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        TimedOut => "connect timed out".into(),
        HostUnreachable => "host unreachable".into(),
        NetworkUnreachable => "network unreachable".into(),
        _ => e.to_string(),
    }
}

fn unix_now() -> i64 {
    Timestamp::now().0 / 1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str) -> Config {
        Config::new(Url::parse(url).unwrap())
    }

    #[test]
    fn address_host_and_sni_are_independent() {
        let mut c = cfg("https://a.test:8443/x");
        assert_eq!(c.host_header(), "a.test:8443");
        assert_eq!(c.sni_name().as_deref(), Some("a.test"));
        assert_eq!(c.endpoint(), Endpoint::Name("a.test".into(), 8443));
        c.connect = Some(Endpoint::Addr("[::1]:9443".parse().unwrap()));
        c.host = Some("b.test".into());
        c.sni = Sni::Name("c.test".into());
        assert_eq!(c.host_header(), "b.test");
        assert_eq!(c.sni_name().as_deref(), Some("c.test"));
        assert_eq!(c.tls_name(), "c.test");
        assert_eq!(c.endpoint(), Endpoint::Addr("[::1]:9443".parse().unwrap()));
        c.sni = Sni::Off;
        assert_eq!(c.sni_name(), None);
        // Without SNI the certificate is checked against the Host's name.
        assert_eq!(c.tls_name(), "b.test");
    }

    #[test]
    fn an_address_url_sends_no_sni() {
        let c = cfg("https://127.0.0.1:8443/");
        assert_eq!(c.sni_name(), None);
        assert_eq!(c.tls_name(), "127.0.0.1");
        assert_eq!(host_part("[::1]:443"), "::1");
        assert_eq!(host_part("b.test:80"), "b.test");
    }

    #[test]
    fn setup_refuses_what_cannot_run() {
        let e = Client::new(
            Config {
                requests: 0,
                ..cfg("http://127.0.0.1/")
            },
            direct(),
        )
        .err()
        .unwrap();
        assert!(matches!(e, SetupError::NoRequests));
        let e = Client::new(
            Config {
                host: Some("bad\nhost".into()),
                ..cfg("http://127.0.0.1/")
            },
            direct(),
        )
        .err()
        .unwrap();
        assert!(matches!(e, SetupError::HostHeader(_)), "{e}");
        let e = Client::new(
            Config {
                sni: Sni::Name("not a name".into()),
                ..cfg("https://127.0.0.1/")
            },
            direct(),
        )
        .err()
        .unwrap();
        assert!(matches!(e, SetupError::Name(_)), "{e}");
    }
}
