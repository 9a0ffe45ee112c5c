//! The HTTP front: one server for the origin and the edge, over any
//! [`Objects`] store. HTTPS (rustls, ALPN h2 and http/1.1) and plain HTTP
//! listeners, several sites on one address (certificate by SNI, site by
//! Host, 421 when they disagree), byte ranges, HEAD.
//!
//! Bad clients are bounded by hyper's own limits plus ours: a header-read
//! timeout against slowloris (HTTP/1.1; counted from a head's first byte,
//! so a kept-alive connection may idle for the longer idle timeout
//! between requests: [`keepalive`]), a TLS handshake timeout, a cap on
//! header bytes and on HTTP/2 header lists and streams, and a cap on open
//! connections (a connection over the cap is closed at once, so the
//! accept loop never stalls). Protocol errors end their connection only.
//!
//! Draining ([`Front::drain`]) stops accepting on every listener and asks
//! each open connection to finish what it is doing (HTTP/1.1: the
//! response in flight, then close; HTTP/2: GOAWAY, in-flight streams
//! finish), so in-flight transfers complete and no new session starts.
//!
//! - [`respond`]: one request's answer.
//! - [`body`]: the streamed response body.
//! - [`keepalive`]: an HTTP/1.1 connection's header-read and idle
//!   deadlines.
//! - [`sniff`]: HTTP/2 prior knowledge or HTTP/1.1, decided under the
//!   header-read deadline (hyper's own detection waits forever).

pub mod body;
pub mod keepalive;
pub mod respond;
pub mod sniff;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use netproof_proto::cdn::{Site, Tls};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::metrics::{AccessRecord, Metrics};
use crate::object::Objects;
use crate::sites::Names;
use crate::tls::{self, CertError, Resolver};
use respond::Conn;
use sniff::{Prefixed, Proto};

/// Limits on what clients may make the front hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at once (both listeners' together).
    pub max_connections: usize,
    /// Time for a client to send a whole request head (HTTP/1.1), from
    /// the connection's start or the head's first byte.
    pub header_read_timeout: Duration,
    /// Time a kept-alive HTTP/1.1 connection may sit idle between a
    /// response's end and the next request's first byte.
    pub idle_timeout: Duration,
    /// Time for a client to finish the TLS handshake.
    pub handshake_timeout: Duration,
    /// Bytes of request head buffered (HTTP/1.1) or of a header list
    /// (HTTP/2).
    pub max_header_bytes: usize,
    /// Streams at once per HTTP/2 connection.
    pub max_streams: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_streams: 128,
        }
    }
}

/// Where each request's access record goes (one JSON line on stdout, for
/// the CLI; a collector, in tests).
pub type AccessLog = Arc<dyn Fn(&AccessRecord) + Send + Sync>;

/// What the request path needs, shared by every connection.
pub struct Inner {
    names: Arc<Names>,
    site_names: Vec<Arc<str>>,
    /// `-`, the site of requests refused before one was chosen.
    no_site: Arc<str>,
    objects: Arc<dyn Objects>,
    tls: Option<(TlsAcceptor, Arc<Resolver>)>,
    limits: Limits,
    connections: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    log: Option<AccessLog>,
    /// True once the front drains.
    draining: watch::Sender<bool>,
}

/// A front, ready to serve listeners.
#[derive(Clone)]
pub struct Front {
    inner: Arc<Inner>,
}

/// Why a front cannot start.
#[derive(Debug, thiserror::Error)]
pub enum FrontError {
    /// HTTPS is configured but no site has a usable certificate.
    #[error("no site has a usable certificate, so HTTPS cannot serve anyone:\n{}", list(.0))]
    NoCertificate(Vec<CertError>),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

fn list(errors: &[CertError]) -> String {
    errors
        .iter()
        .map(|e| format!("  {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Front {
    /// A front for `sites` serving from `objects`. With `https`, loads
    /// every site's certificate: the ones that fail are returned beside the
    /// front (report them; their sites refuse TLS), and the front fails
    /// only when none loads.
    pub fn new(
        sites: &[Site],
        tls_policy: &Tls,
        https: bool,
        objects: Arc<dyn Objects>,
        limits: Limits,
        log: Option<AccessLog>,
    ) -> Result<(Front, Vec<CertError>), FrontError> {
        let names = Arc::new(Names::new(sites.iter().map(Site::all_names)));
        let site_names = sites.iter().map(|s| Arc::from(s.name.as_str())).collect();
        let mut broken = Vec::new();
        let tls = if https {
            let keys: Vec<_> = tls::load(sites)
                .into_iter()
                .map(|k| match k {
                    Some(Ok(k)) => Some(k),
                    Some(Err(e)) => {
                        broken.push(e);
                        None
                    }
                    None => None,
                })
                .collect();
            if keys.iter().all(Option::is_none) {
                return Err(FrontError::NoCertificate(broken));
            }
            let default = tls_policy
                .default_site
                .as_ref()
                .and_then(|d| sites.iter().position(|s| &s.name == d));
            let resolver = Arc::new(Resolver::new(names.clone(), keys, default));
            let config = tls::server_config(resolver.clone())?;
            Some((TlsAcceptor::from(config), resolver))
        } else {
            None
        };
        let inner = Inner {
            names,
            site_names,
            no_site: Arc::from("-"),
            objects,
            tls,
            limits,
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            metrics: Arc::new(Metrics::default()),
            log,
            draining: watch::Sender::new(false),
        };
        Ok((
            Front {
                inner: Arc::new(inner),
            },
            broken,
        ))
    }

    /// The configured sites' names, in config order.
    pub fn site_names(&self) -> &[Arc<str>] {
        &self.inner.site_names
    }

    /// What the front counted so far.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Starts draining: listeners close, open connections finish what is
    /// in flight and close. The serve futures return when all have.
    pub fn drain(&self) {
        self.inner.draining.send_replace(true);
    }

    /// Whether the front is draining.
    pub fn is_draining(&self) -> bool {
        *self.inner.draining.borrow()
    }

    /// Serves HTTPS on `listener` until the future is dropped or the
    /// front has drained. (A front
    /// built without `https` closes every connection.)
    pub async fn serve_https(self, listener: TcpListener) {
        self.serve(listener, true).await;
    }

    /// Serves plain HTTP on `listener` until the future is dropped or the
    /// front has drained.
    pub async fn serve_http(self, listener: TcpListener) {
        self.serve(listener, false).await;
    }

    /// Serves one plain-HTTP connection over any byte stream (HTTP/1.1,
    /// or HTTP/2 with prior knowledge), as a plain listener's connection is
    /// served, until it ends: for in-memory clients (the fuzz targets).
    pub async fn serve_stream<I>(&self, io: I)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let inner = self.inner.clone();
        let started = tokio::time::Instant::now();
        let conn = Conn {
            tls: false,
            cert: None,
            sni: None,
        };
        let peer = SocketAddr::from(([0, 0, 0, 0], 0));
        let mut io = io;
        let Some((prefix, proto)) = first_bytes(&inner, &mut io, peer).await else {
            return;
        };
        let served = serve_io(
            inner.clone(),
            Prefixed::new(prefix, io),
            conn,
            proto,
            started,
        );
        if served.await.is_err() {
            inner
                .metrics
                .protocol_errors
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn serve(self, listener: TcpListener, tls: bool) {
        // Connection tasks live in a JoinSet so dropping the accept loop
        // (the front stopping) ends them too.
        let mut tasks = tokio::task::JoinSet::new();
        let mut draining = self.inner.draining.subscribe();
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
                _ = draining.wait_for(|d| *d) => break,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and the like: wait a little rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = self.inner.connections.clone().try_acquire_owned() else {
                self.inner
                    .metrics
                    .refused_connections
                    .fetch_add(1, Ordering::Relaxed);
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let inner = self.inner.clone();
            tasks.spawn(async move {
                let _permit = permit;
                connection(inner, stream, peer, tls).await;
            });
        }
        // Draining: no new connections (the listener closes here); the
        // open ones finish.
        drop(listener);
        while tasks.join_next().await.is_some() {}
    }
}

fn builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        // Ours instead ([`keepalive`]): hyper's starts when a response
        // ends, which cuts idle kept-alive connections at this timeout.
        .header_read_timeout(None)
        // hyper's floor for the read buffer is 8 KiB.
        .max_buf_size(limits.max_header_bytes.max(8192));
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(limits.max_header_bytes as u32)
        .max_concurrent_streams(limits.max_streams)
        .max_pending_accept_reset_streams(64)
        .max_local_error_reset_streams(64);
    b
}

/// Counts a connection open while it lives.
struct Open(Arc<Metrics>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn connection(inner: Arc<Inner>, stream: tokio::net::TcpStream, peer: SocketAddr, tls: bool) {
    inner
        .metrics
        .open_connections
        .fetch_add(1, Ordering::Relaxed);
    let _open = Open(inner.metrics.clone());
    let limits = inner.limits;
    // A plain connection's first head is due a header-read timeout from
    // here; a TLS one's from the handshake's end.
    let started = tokio::time::Instant::now();
    let result = if tls {
        let Some((acceptor, resolver)) = inner.tls.as_ref() else {
            return;
        };
        let accepted =
            tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await;
        let stream = match accepted {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                inner
                    .metrics
                    .failed_handshakes
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!("TLS handshake with {peer} failed: {e}");
                return;
            }
            Err(_) => {
                inner
                    .metrics
                    .failed_handshakes
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!("TLS handshake with {peer} timed out");
                return;
            }
        };
        let started = tokio::time::Instant::now();
        // The same choice the resolver made during the handshake.
        let sni = stream.get_ref().1.server_name();
        let conn = Conn {
            tls: true,
            cert: resolver.choice().choose(&inner.names, sni),
            sni: sni.map(Arc::from),
        };
        // Over TLS, ALPN says which protocol (RFC 9113 §3.2: h2 over TLS
        // is only by ALPN); HTTP/2's preface is still read under the
        // deadline, as HTTP/1.1's head is by hyper's own timer.
        if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
            let mut stream = stream;
            match first_bytes(&inner, &mut stream, peer).await {
                Some((prefix, Proto::H2)) => {
                    serve_io(
                        inner.clone(),
                        Prefixed::new(prefix, stream),
                        conn,
                        Proto::H2,
                        started,
                    )
                    .await
                }
                // Not the preface after agreeing on h2: hyper's HTTP/2
                // server answers it with a connection error.
                Some((prefix, Proto::H1)) => {
                    serve_io(
                        inner.clone(),
                        Prefixed::new(prefix, stream),
                        conn,
                        Proto::H2,
                        started,
                    )
                    .await
                }
                None => return,
            }
        } else {
            serve_io(
                inner.clone(),
                Prefixed::new(Bytes::new(), stream),
                conn,
                Proto::H1,
                started,
            )
            .await
        }
    } else {
        let conn = Conn {
            tls: false,
            cert: None,
            sni: None,
        };
        let mut stream = stream;
        let Some((prefix, proto)) = first_bytes(&inner, &mut stream, peer).await else {
            return;
        };
        serve_io(
            inner.clone(),
            Prefixed::new(prefix, stream),
            conn,
            proto,
            started,
        )
        .await
    };
    if let Err(e) = result {
        inner
            .metrics
            .protocol_errors
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!("connection from {peer} ended: {e}");
    }
}

/// The first bytes of a connection and the protocol they show, read under
/// the header-read deadline; `None` (counted) when the client sent too
/// little in time or the read failed.
async fn first_bytes<I: tokio::io::AsyncRead + Unpin>(
    inner: &Inner,
    io: &mut I,
    peer: SocketAddr,
) -> Option<(Bytes, Proto)> {
    match tokio::time::timeout(inner.limits.header_read_timeout, sniff::sniff(io)).await {
        Ok(Ok(first)) => Some(first),
        Ok(Err(e)) => {
            inner
                .metrics
                .protocol_errors
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!("reading from {peer} failed: {e}");
            None
        }
        Err(_) => {
            inner
                .metrics
                .header_timeouts
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!("{peer} sent no request in time");
            None
        }
    }
}

/// Serves one connection's requests in `proto` until it ends, or until the
/// front drains and what was in flight has finished. An HTTP/1.1
/// connection is under the header-read and idle deadlines ([`keepalive`])
/// from `since`; a head that came too late is counted as a header timeout,
/// not a protocol error.
async fn serve_io<I>(
    inner: Arc<Inner>,
    io: I,
    conn: Conn,
    proto: Proto,
    since: tokio::time::Instant,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    match proto {
        Proto::H2 => serve_proto(inner, io, conn, proto, None).await,
        Proto::H1 => {
            let limits = inner.limits;
            let phases = keepalive::Shared::new(keepalive::Phases::new(
                limits.header_read_timeout,
                limits.idle_timeout,
                since,
            ));
            let io = keepalive::Timed::new(io, phases.clone());
            let served = serve_proto(inner.clone(), io, conn, proto, Some(phases.clone())).await;
            match served {
                Err(_) if phases.lock().expired() == Some(keepalive::Expired::Head) => {
                    inner
                        .metrics
                        .header_timeouts
                        .fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                other => other,
            }
        }
    }
}

async fn serve_proto<I>(
    inner: Arc<Inner>,
    io: I,
    conn: Conn,
    proto: Proto,
    phases: Option<keepalive::Shared>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let http = match proto {
        Proto::H1 => builder(&inner.limits).http1_only(),
        Proto::H2 => builder(&inner.limits).http2_only(),
    };
    let io = TokioIo::new(io);
    let mut draining = inner.draining.subscribe();
    let service_inner = inner.clone();
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let (inner, conn, phases) = (service_inner.clone(), conn.clone(), phases.clone());
        async move {
            if let Some(p) = &phases {
                p.lock().request();
            }
            let mut r = respond::respond(inner, conn, req).await;
            if let Some(p) = phases {
                r.body_mut().on_finish(Box::new(move |_, _| {
                    p.lock().response_end(tokio::time::Instant::now());
                }));
            }
            Ok::<_, std::convert::Infallible>(r)
        }
    });
    let served = http.serve_connection(io, service);
    tokio::pin!(served);
    let early = tokio::select! {
        r = served.as_mut() => Some(r),
        _ = draining.wait_for(|d| *d) => None,
    };
    match early {
        Some(r) => r,
        None => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    }
}
