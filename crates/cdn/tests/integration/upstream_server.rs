//! A tiny upstream for the fill tests: an HTTP/1.1 server on 127.0.0.1:0
//! (optionally TLS) serving `/t/TITLE/FILE` with [`ContentKey`] bytes, the
//! catalogue seed taken from the Host header, so two sites serve different
//! bytes for one path. Knobs make it fail, stall, cut a body short or
//! answer slowly, and it records every request it gets.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Frame, Incoming};
use hyper::header;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use netproof_proto::content::ContentKey;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What the server does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Serves the object (and `bytes=N-` ranges).
    Serve,
    /// Answers this status with no body.
    Status(u16),
    /// Sends the head and this many body bytes, then nothing (the
    /// connection stays open).
    StallAfter(u64),
    /// Sends the head and this many body bytes, then breaks the
    /// connection.
    CutAfter(u64),
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The server's name.
    pub server: String,
    /// The Host header.
    pub host: String,
    /// The path.
    pub path: String,
    /// The Range header.
    pub range: Option<String>,
    /// The Cache-Control header.
    pub cache_control: Option<String>,
}

/// The knobs and the record.
pub struct Knobs {
    pub name: String,
    pub mode: Mutex<Mode>,
    /// The next this-many requests get no response head at all.
    pub stall_heads: AtomicUsize,
    /// Wait before the response head.
    pub head_delay: Mutex<Duration>,
    /// Body chunk size and the pause between chunks.
    pub chunk: usize,
    pub chunk_delay: Mutex<Duration>,
    /// Every object's length.
    pub size: u64,
    /// Requests received.
    pub requests: AtomicUsize,
    /// Connections accepted.
    pub connections: AtomicUsize,
    /// Whether a connection may carry more than one request (else the
    /// server answers `Connection: close` and closes it).
    pub keep_alive: AtomicBool,
    /// Every request, in arrival order, shared between servers.
    pub log: Arc<Mutex<Vec<Seen>>>,
    /// The SNI name of each TLS connection.
    pub sni: Mutex<Vec<Option<String>>>,
    /// Whether `Range: bytes=N-` gets a 206 (else the whole object, 200).
    pub ranges: AtomicBool,
    /// Added to every ETag (a server whose copy differs).
    pub etag_salt: Mutex<String>,
}

impl Knobs {
    pub fn new(name: &str, size: u64, log: &Arc<Mutex<Vec<Seen>>>) -> Knobs {
        Knobs {
            name: name.into(),
            mode: Mutex::new(Mode::Serve),
            stall_heads: AtomicUsize::new(0),
            head_delay: Mutex::new(Duration::ZERO),
            chunk: 16 * 1024,
            chunk_delay: Mutex::new(Duration::ZERO),
            size,
            requests: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            keep_alive: AtomicBool::new(true),
            log: log.clone(),
            sni: Mutex::new(Vec::new()),
            ranges: AtomicBool::new(true),
            etag_salt: Mutex::new(String::new()),
        }
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }
}

/// A running upstream; stops when dropped.
pub struct Upstream {
    pub addr: SocketAddr,
    pub knobs: Arc<Knobs>,
    task: JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The catalogue seed of a site (any fixed function of the name).
pub fn seed_of(site: &str) -> u64 {
    site.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The bytes `site` serves at `path` (`/t/TITLE/FILE`).
pub fn content_of(site: &str, path: &str) -> ContentKey {
    let rest = path.strip_prefix("/t/").expect("a /t/ path");
    let (title, file) = rest.split_once('/').expect("/t/TITLE/FILE");
    ContentKey::new(seed_of(site), title.parse().expect("a title number"), file)
}

/// Starts a plain HTTP upstream.
pub async fn start(knobs: Knobs) -> Upstream {
    start_with(knobs, None).await
}

/// Starts an upstream, over TLS when `tls` is given.
pub async fn start_with(knobs: Knobs, tls: Option<tokio_rustls::TlsAcceptor>) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let knobs = Arc::new(knobs);
    let k = knobs.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let k = k.clone();
            let tls = tls.clone();
            k.connections.fetch_add(1, Ordering::SeqCst);
            let keep_alive = k.keep_alive.load(Ordering::SeqCst);
            tokio::spawn(async move {
                let knobs = k.clone();
                let svc = service_fn(move |req| handle(k.clone(), req));
                match tls {
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(tcp).await {
                            let sni = s.get_ref().1.server_name().map(str::to_owned);
                            knobs.sni.lock().unwrap().push(sni);
                            let _ = http1::Builder::new()
                                .keep_alive(keep_alive)
                                .serve_connection(TokioIo::new(s), svc)
                                .await;
                        }
                    }
                    None => {
                        let _ = http1::Builder::new()
                            .keep_alive(keep_alive)
                            .serve_connection(TokioIo::new(tcp), svc)
                            .await;
                    }
                }
            });
        }
    });
    Upstream { addr, knobs, task }
}

/// A body fed by a channel (so the server can pause, stall or break it).
pub struct ChanBody(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl hyper::body::Body for ChanBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data)))
    }
}

async fn handle(k: Arc<Knobs>, req: Request<Incoming>) -> Result<Response<ChanBody>, Infallible> {
    // The knobs as they are when the request arrives, read before it is
    // counted, so a test that changes them after seeing the count never
    // races this request.
    let mode = *k.mode.lock().unwrap();
    let delay = *k.head_delay.lock().unwrap();
    let pause = *k.chunk_delay.lock().unwrap();
    k.requests.fetch_add(1, Ordering::SeqCst);
    let text = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &hyper::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let host = text(header::HOST).unwrap_or_default();
    let range = text(header::RANGE);
    let cache_control = text(header::CACHE_CONTROL);
    let path = req.uri().path().to_owned();
    k.log.lock().unwrap().push(Seen {
        server: k.name.clone(),
        host: host.clone(),
        path: path.clone(),
        range: range.clone(),
        cache_control,
    });
    let (tx, rx) = mpsc::channel(4);
    let empty = |status: u16| {
        let (_, rx) = mpsc::channel(1);
        Response::builder()
            .status(status)
            .header(header::CONTENT_LENGTH, 0)
            .body(ChanBody(rx))
            .unwrap()
    };
    if k.stall_heads
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    tokio::time::sleep(delay).await;
    if let Mode::Status(s) = mode {
        return Ok(empty(s));
    }
    if !path.starts_with("/t/") {
        return Ok(empty(404));
    }
    let content = content_of(&host, &path);
    let from = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|r| r.parse::<u64>().ok())
        .filter(|&f| f < k.size && k.ranges.load(Ordering::SeqCst));
    let salt = k.etag_salt.lock().unwrap().clone();
    let mut resp = Response::builder()
        .header(
            header::ETAG,
            format!("\"{}-{}{salt}\"", seed_of(&host) % 1000, path.len()),
        )
        .header(header::LAST_MODIFIED, "Sun, 06 Nov 1994 08:49:37 GMT")
        .header(header::CONTENT_TYPE, "video/mp4");
    let start = from.unwrap_or(0);
    resp = match from {
        Some(f) => resp.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            format!("bytes {f}-{}/{}", k.size - 1, k.size),
        ),
        None => resp.status(StatusCode::OK),
    }
    .header(header::CONTENT_LENGTH, k.size - start);
    let chunk = k.chunk as u64;
    let size = k.size;
    tokio::spawn(async move {
        let mut at = start;
        let mut sent = 0u64;
        while at < size {
            match mode {
                Mode::StallAfter(n) if sent >= n => {
                    tx.closed().await;
                    return;
                }
                Mode::CutAfter(n) if sent >= n => {
                    // Let hyper flush what it has before the break.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let _ = tx.send(Err(std::io::Error::other("cut"))).await;
                    return;
                }
                _ => {}
            }
            let n = chunk.min(size - at);
            let mut buf = vec![0u8; n as usize];
            content.fill(at, &mut buf);
            if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                return;
            }
            at += n;
            sent += n;
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    });
    Ok(resp.body(ChanBody(rx)).unwrap())
}
